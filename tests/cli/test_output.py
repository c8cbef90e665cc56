"""What `cards show`, `cards list`, `boards show` and `workspaces list` print for people."""

from __future__ import annotations

import re

from .conftest import User

_n = iter(range(1000))


def _board(user: User) -> str:
    ws = user.json("workspaces", "create", f"Output {next(_n)}")
    title = f"Ausgabe {next(_n)} ✓"
    user("boards", "create", title, "--workspace", ws["id"])
    user("columns", "create", "Offen", "--board", title, "--wip-limit", "1")
    user("columns", "create", "Fertig", "--board", title)
    return title


def test_cards_show_has_the_column_fields_state_and_line_breaks(ana: User) -> None:
    title = _board(ana)
    card = ana.json("cards", "create", "Karte", "--board", title, "--column", "Fertig",
                    "--description", "erste Zeile\nzweite Zeile\n\n```\ncode  bleibt\n```")  # fmt: skip
    ana("fields", "create", "Schätzung", "--board", title, "--type", "number")
    ana("cards", "field", card["id"], "Schätzung", "5")
    shown = ana("cards", "show", card["id"]).out
    assert "column: Fertig" in shown
    assert "Schätzung: 5" in shown
    lines = [line.strip(" │") for line in shown.splitlines()]
    assert "erste Zeile" in lines and "zweite Zeile" in lines  # kept apart, not joined into one line
    assert "ARCHIVED" not in shown
    ana("cards", "archive", card["id"])
    assert "ARCHIVED" in ana("cards", "show", card["id"]).out


def test_cards_list_marks_archived_cards(ana: User) -> None:
    title = _board(ana)
    ana("cards", "create", "Bleibt", "--board", title, "--column", "Fertig")
    gone = ana.json("cards", "create", "Archiviert", "--board", title, "--column", "Fertig")
    ana("cards", "archive", gone["id"])
    assert "Archiviert" not in ana("cards", "list", "--board", title).out
    listed = ana("cards", "list", "--board", title, "--archived").out.splitlines()
    assert "archived" in next(line for line in listed if "Archiviert" in line)
    assert "archived" not in next(line for line in listed if "Bleibt" in line)


def test_boards_show_counts_live_cards_and_the_wip_limit(ana: User) -> None:
    title = _board(ana)
    for name in ("Eins", "Zwei"):
        ana("cards", "create", name, "--board", title, "--column", "Offen")
    old = ana.json("cards", "create", "Alt", "--board", title, "--column", "Fertig")
    ana("cards", "archive", old["id"])
    shown = ana("boards", "show", title).out
    assert "Offen [2/1 over the WIP limit]" in shown
    assert "Fertig [0]" in shown
    assert "1 archived card(s) not shown" in shown


def test_workspaces_list_shows_the_owner_by_email(ana: User) -> None:
    ana.json("workspaces", "create", f"Owned {next(_n)}")
    listed = ana("workspaces", "list").out
    assert ana.email in listed
    assert not re.search(r"│ c[a-z0-9]{20,} *│\s*$", listed, re.M)  # no bare user id in the owner column
