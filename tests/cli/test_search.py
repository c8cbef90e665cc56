"""`msk cards list --all`: search across boards, decrypted and filtered locally."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import User

_n = iter(range(1000))


@pytest.fixture(scope="module")
def world(ana: User) -> dict[str, Any]:
    """Two workspaces; on each a board with a label "Dringend", cards due early or late,
    assigned to ana or to no one, with words in the title, description or only a comment."""
    made: dict[str, Any] = {"workspaces": []}
    for space in ("Suche A", "Suche B"):
        ws = ana.json("workspaces", "create", f"{space} {next(_n)}")
        made["workspaces"].append(ws["id"])
        board = f"Brett {space} {next(_n)}"
        ana("boards", "create", board, "--workspace", ws["id"])
        ana("columns", "create", "Offen", "--board", board)
        ana("labels", "create", "Dringend", "--board", board)
        early = ana.json("cards", "create", f"Früh {space}", "--board", board, "--due", "2026-01-10")
        ana.json("cards", "create", f"Spät {space}", "--board", board, "--due", "2030-01-10", "--description", "Café")
        plain = ana.json("cards", "create", f"Ohne {space}", "--board", board)
        ana("cards", "label", early["id"], "dringend", "--board", board)
        ana("cards", "assign", early["id"], ana.email)
        ana("cards", "comment", plain["id"], "nur im KOMMENTAR: Zitrone")
        made[space] = {"board": board, "early": early["id"], "plain": plain["id"]}
    return made


def _titles(rows: list[dict[str, Any]], world: dict[str, Any]) -> set[str]:
    """The titles found on this test's boards (the module's other tests add boards too)."""
    boards = {world[s]["board"] for s in ("Suche A", "Suche B")}
    return {r["title"] for r in rows if r["boardTitle"] in boards}


def test_filters_combine_across_boards(ana: User, world: dict[str, Any]) -> None:
    found = ana.json("cards", "list", "--all", "--label", "DRINGEND", "--assignee", "me", "--due-before", "2027-01-01")
    assert _titles(found, world) == {"Früh Suche A", "Früh Suche B"}
    assert {r["columnTitle"] for r in found} == {"Offen"}
    by_email = ana.json("cards", "list", "--all", "--assignee", ana.email.upper())
    assert _titles(by_email, world) == {"Früh Suche A", "Früh Suche B"}
    assert _titles(ana.json("cards", "list", "--all", "--due-before", "2026-01-09"), world) == set()


def test_text_matches_title_description_and_comments_in_any_case_and_normal_form(
    ana: User, world: dict[str, Any]
) -> None:
    nfd_cafe = "cafe\u0301"  # as typed on macOS
    assert _titles(ana.json("cards", "list", "--all", "--text", nfd_cafe), world) == {"Spät Suche A", "Spät Suche B"}
    assert _titles(ana.json("cards", "list", "--all", "--text", "zitrone kommentar"), world) == {
        "Ohne Suche A",
        "Ohne Suche B",
    }
    assert _titles(ana.json("cards", "list", "--all", "--text", "zitrone früh"), world) == set()


def test_workspace_limits_the_search_and_the_table_names_the_board(ana: User, world: dict[str, Any]) -> None:
    one = ana.json("cards", "list", "--all", "--workspace", world["workspaces"][0], "--text", "früh")
    assert [r["title"] for r in one] == ["Früh Suche A"]
    shown = ana("cards", "list", "--all", "--workspace", world["workspaces"][1], "--label", "Dringend").out
    assert world["Suche B"]["board"] in shown and "Früh Suche B" in shown and "Ohne" not in shown


def test_filters_on_one_board_and_bad_input(ana: User, world: dict[str, Any]) -> None:
    board = world["Suche A"]["board"]
    assert [c["title"] for c in ana.json("cards", "list", "--board", board, "--text", "zitrone")] == ["Ohne Suche A"]
    ran = ana("cards", "list", "--all", "--due-before", "next friday", ok=False)
    assert ran.code == 2 and "not a date" in ran.err and "e.g." in ran.err
    ran = ana("cards", "list", "--all", "--board", board, ok=False)
    assert ran.code == 2 and "--all searches every board" in ran.err
