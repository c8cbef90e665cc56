"""--jq EXPR on every --json read, as gh has it: strings raw, one result per line."""

from __future__ import annotations

import json
import sys

import pytest

from .conftest import User

_n = iter(range(1000))


def _workspace_with_boards(user: User, *titles: str) -> str:
    ws = user.json("workspaces", "create", f"Jq {next(_n)}")
    for title in titles:
        user("boards", "create", title, "--workspace", ws["id"])
    return str(ws["id"])


def test_jq_prints_strings_raw_one_per_line_and_implies_json(ana: User) -> None:
    ws = _workspace_with_boards(ana, "Erstes ✓", "Zweites")
    ran = ana("boards", "list", "--workspace", ws, "--jq", ".[].title")
    assert ran.out.splitlines() == ["Erstes ✓", "Zweites"]
    counted = ana("boards", "list", "--workspace", ws, "--jq", "[.[] | {t: .title}] | length")
    assert counted.out == "2\n"
    objects = ana("boards", "list", "--workspace", ws, "--jq", '.[] | select(.title == "Zweites")')
    assert json.loads(objects.out)["title"] == "Zweites"


def test_jq_before_the_command_and_on_a_change(ana: User) -> None:
    ws = _workspace_with_boards(ana, "Vorne")
    assert ana("--jq", ".[0].title", "boards", "list", "--workspace", ws).out == "Vorne\n"
    created = ana("boards", "create", "Neu", "--workspace", ws, "--jq", ".title")
    assert created.out == "Neu\n"


def test_a_raw_string_from_another_member_cannot_drive_the_terminal(ana: User) -> None:
    ws = _workspace_with_boards(ana, "harmlos\x1b]0;pwned\x07\u202e")
    shown = ana("boards", "list", "--workspace", ws, "--jq", ".[].title").out
    assert "\x1b" not in shown and "\u202e" not in shown and "harmlos\\x1b]0;pwned\\x07<U+202E>" in shown


def test_a_bad_expression_is_one_line_exit_2(ana: User) -> None:
    ws = _workspace_with_boards(ana, "Fehler")
    ran = ana("boards", "list", "--workspace", ws, "--jq", ".[", ok=False)
    assert ran.code == 2 and ran.err.startswith("msk: error: --jq: ") and len(ran.err.splitlines()) == 1
    ran = ana("boards", "list", "--workspace", ws, "--jq", ".a", ok=False)
    assert ran.code == 2 and "Cannot index array" in ran.err


def test_without_the_extra_jq_names_it(ana: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jq", None)  # what `import jq` meets when the extra is not installed
    ran = ana("boards", "list", "--jq", ".[]", ok=False)
    assert ran.code == 2 and ran.err == "msk: error: --jq needs the jq extra: pip install 'mskclient[jq]'\n"
