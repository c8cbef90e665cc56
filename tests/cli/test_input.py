"""Input checked before anything is sent: dates, colours, custom-field values, WIP limits, NFC names."""

from __future__ import annotations

import os
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from mskclient.cli._params import checkbox_value, color, due_date, field_value, same_name

from .conftest import User

NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _berlin() -> Iterator[None]:
    """A fixed local time zone (UTC+1 in December), so "local" has a known meaning."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("2026-12-24T17:00:00+01:00", "2026-12-24T16:00:00.000Z"),
        ("2026-12-24T17:00:00.123Z", "2026-12-24T17:00:00.123Z"),
        ("2026-12-24T17:00", "2026-12-24T16:00:00.000Z"),  # no offset: local time
        ("2026-12-24", "2026-12-24T22:59:59.999Z"),  # a day: its end, local time
        ("today", "2026-12-06T22:59:59.999Z"),
        ("Tomorrow", "2026-12-07T22:59:59.999Z"),
        ("+3d", "2026-12-09T22:59:59.999Z"),
        ("+1w", "2026-12-13T22:59:59.999Z"),
    ],
)
def test_due_dates(typed: str, stored: str) -> None:
    assert due_date(typed, now=NOW) == stored


@pytest.mark.parametrize("typed", ["next friday", "24.12.2026", "2026-13-01", "+3", "3d", "", "2026-12-24T25:00"])
def test_bad_due_dates_are_refused_with_an_example(typed: str) -> None:
    with pytest.raises(ValueError, match=r"not a date.*e\.g\. 2026-12-24"):
        due_date(typed, now=NOW)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("#FF8800", "#ff8800"), ("#f80", "#ff8800"), (" Teal ", "#008080"), ("red", "#ff0000")],
)
def test_colours_are_normalised(typed: str, stored: str) -> None:
    assert color(typed) == stored


@pytest.mark.parametrize("typed", ["#ff88", "ff8800", "#gggggg", "reddish", "rgb(1,2,3)"])
def test_bad_colours_are_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="not a colour"):
        color(typed)


def test_custom_field_values_follow_the_field_type() -> None:
    assert field_value("number", " 3.5 ") == "3.5"
    assert field_value("checkbox", "Yes") == "true" and checkbox_value("off") == "false"
    assert field_value("date", "2026-12-24T10:00:00Z") == "2026-12-24T10:00:00.000Z"
    assert field_value("select", "Hoch", ("Niedrig", "Hoch")) == "Hoch"
    assert field_value("text", "anything at all") == "anything at all"
    for kind, value in (("number", "many"), ("number", "nan"), ("checkbox", "maybe"), ("date", "soon")):
        with pytest.raises(ValueError):
            field_value(kind, value)
    with pytest.raises(ValueError, match="not an option"):
        field_value("select", "Mittel", ("Niedrig", "Hoch"))


def test_names_compare_in_nfc() -> None:
    assert same_name("Café", unicodedata.normalize("NFD", "Café"))


_boards = iter(range(1000))


def _board(user: User) -> str:
    ws = user.json("workspaces", "create", "Input checks")
    title = f"Eingaben {next(_boards)} ✓"
    user("boards", "create", title, "--workspace", ws["id"])
    user("columns", "create", "Offen", "--board", title)
    return title


def test_bad_values_never_reach_the_server(ana: User) -> None:
    title = _board(ana)
    for args in (
        ("cards", "create", "Karte", "--board", title, "--column", "Offen", "--due", "next friday"),
        ("milestones", "create", "v1", "--board", title, "--due", "24.12.2026"),
        ("labels", "create", "rot", "--board", title, "--color", "reddish"),
        ("columns", "create", "Voll", "--board", title, "--wip-limit", "0"),
    ):
        ran = ana(*args, ok=False)
        assert ran.code == 2, (args, ran.err)
        assert "Invalid value" in ran.err
    assert ana.json("cards", "list", "--board", title) == []
    assert ana.json("labels", "list", "--board", title) == []


def test_good_values_are_normalised_before_sending(ana: User) -> None:
    title = _board(ana)
    label = ana.json("labels", "create", "türkis", "--board", title, "--color", "Teal")
    assert label["color"] == "#008080"
    card = ana.json("cards", "create", "Karte", "--board", title, "--column", "Offen", "--due", "2026-12-24")
    assert card["dueAt"] == "2026-12-24T22:59:59.999Z"
    ana("fields", "create", "Schätzung", "--board", title, "--type", "number")
    bad = ana("cards", "field", card["id"], "Schätzung", "viel", ok=False)
    assert bad.code == 2 and "not a number" in bad.err
    ana("cards", "field", card["id"], "Schätzung", "3")


def test_a_decomposed_title_names_the_composed_card(ana: User) -> None:
    title = _board(ana)
    ana("cards", "create", "Café", "--board", title, "--column", "Offen")
    shown = ana.json("cards", "show", unicodedata.normalize("NFD", "Café"), "--board", title)
    assert shown["title"] == "Café"
