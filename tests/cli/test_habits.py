"""Habits from gh: $EDITOR for text, --remove/--clear to undo, cards found by title anywhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ._run import Ran, msk
from .conftest import User

_n = iter(range(1000))


def _with(user: User, extra: dict[str, str], *args: str) -> Ran:
    """`msk ARGS` as `user` with more environment (the editor)."""
    return msk(*args, env={**user.env, **extra})


def _board(user: User) -> str:
    ws = user.json("workspaces", "create", f"Habits {next(_n)}")
    title = f"Gewohnheiten {next(_n)} ✓"
    user("boards", "create", title, "--workspace", ws["id"])
    user("columns", "create", "Zuerst", "--board", title)
    user("columns", "create", "Danach", "--board", title)
    return title


@pytest.fixture
def editor(tmp_path: Path) -> dict[str, str]:
    """An $EDITOR that replaces the file with its old text plus a marked line, as a person would."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text('utf-8') + 'im Editor geschrieben ✍\\n', 'utf-8')\n",
        "utf-8",
    )
    return {"EDITOR": f"{sys.executable} {script}", "VISUAL": ""}


def test_create_and_edit_in_the_editor(ana: User, editor: dict[str, str]) -> None:
    title = _board(ana)
    card = json.loads(_with(ana, editor, "cards", "create", "Notiz", "--board", title, "--edit", "--json").out)
    assert card["description"] == "im Editor geschrieben ✍\n"
    edited = json.loads(_with(ana, editor, "cards", "edit", card["id"], "--edit", "--json").out)
    assert edited["description"] == "im Editor geschrieben ✍\nim Editor geschrieben ✍\n"
    replaced = ana.json("cards", "edit", card["id"], "--description", "neu")
    assert replaced["description"] == "neu"
    cleared = ana.json("cards", "edit", card["id"], "--clear", "description", "--clear", "due")
    assert cleared["description"] == "" and cleared["dueAt"] is None


def test_an_editor_that_saves_nothing_changes_nothing(ana: User) -> None:
    title = _board(ana)
    card = ana.json("cards", "create", "Unberührt", "--board", title, "--description", "alt")
    ran = _with(ana, {"EDITOR": "true", "VISUAL": ""}, "cards", "edit", card["id"], "--edit")
    assert ran.code == 2 and "was not saved in the editor" in ran.err
    assert ana.json("cards", "show", card["id"])["description"] == "alt"


def test_a_card_without_column_goes_to_the_first(ana: User) -> None:
    title = _board(ana)
    card = ana.json("cards", "create", "Ohne Spalte", "--board", title)
    first = ana.json("columns", "list", "--board", title)[0]
    assert card["columnId"] == first["id"]


def test_a_unique_title_needs_no_board(ana: User) -> None:
    title = _board(ana)
    unique = f"Einzigartig {next(_n)}"
    ana("cards", "create", unique, "--board", title)
    assert ana.json("cards", "show", unique)["title"] == unique
    assert ana.json("cards", "edit", unique, "--title", unique + "!")["title"] == unique + "!"
    other = _board(ana)
    ana("cards", "create", "Doppelt", "--board", title)
    ana("cards", "create", "Doppelt", "--board", other)
    ran = ana("cards", "show", "Doppelt", ok=False)
    assert ran.code == 2 and "on several boards" in ran.err and title in ran.err and other in ran.err
    missing = ana("cards", "show", "Gibt es nicht", ok=False)
    assert missing.code == 2 and "no card titled" in missing.err


def test_remove_undoes_relations_and_the_old_spelling_still_works(ana: User) -> None:
    title = _board(ana)
    card = ana.json("cards", "create", "Meilenstein", "--board", title)
    ana("milestones", "create", "v1", "--board", title)
    ana("cards", "milestone", card["id"], "v1")
    ana("cards", "milestone", card["id"], "--remove")
    assert ana.json("cards", "show", card["id"])["milestoneId"] is None
    ana("cards", "milestone", card["id"], "v1")
    ana("cards", "milestone", card["id"], "--clear")  # the old spelling, hidden from --help
    assert ana.json("cards", "show", card["id"])["milestoneId"] is None
    assert "--clear" not in ana("cards", "milestone", "--help").out


def test_comment_without_text_off_a_terminal_says_how(ana: User) -> None:
    title = _board(ana)
    card = ana.json("cards", "create", "Kommentarlos", "--board", title)
    ran = ana("cards", "comment", card["id"], ok=False)
    assert ran.code == 2 and "'-' to read it from stdin" in ran.err
