"""The one path of untrusted text to the terminal: nothing a terminal or rich would act on survives."""

from __future__ import annotations

import json
import unicodedata

import pytest
from rich.console import Console

from mskclient.cli._untrusted import json_text, markup, rich_text, visible

#: One of every kind: OSC 0 title, OSC 8 link, CSI clear, 8-bit CSI, BEL, CR, backspace, DEL,
#: bidi override, embedding, isolate and marks, Arabic letter mark, zero-width space, BOM,
#: line separator and a tag character.
HOSTILE = (
    "\x1b]0;pwned\x07 \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ \x1b[2J \x9b31m \x07\r\x08\x7f"
    " \u202egnp.exe \u202a\u202b\u202c\u202d \u2066\u2067\u2068\u2069 \u200e\u200f \u061c \u200b \ufeff"
    " \u2028 \U000e0041"
)
MARKUP = "[link=https://evil.example]x[/link] [/dim] [b]bold[/b] :warning:"


def _acted_on(text: str) -> list[str]:
    """The characters of `text` (but line ends) a terminal would act on or that would move text around."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"}]


def test_visible_shows_every_control_and_format_character() -> None:
    shown = visible(HOSTILE)
    assert _acted_on(shown) == []
    for literal in ("\\x1b]0;pwned\\x07", "\\x1b[2J", "\\x9b31m", "\\r", "\\x08", "\\x7f", "<U+202E>gnp.exe"):
        assert literal in shown
    for code in ("202A", "202B", "202C", "202D", "2066", "2067", "2068", "2069", "200E", "200F", "061C"):
        assert f"<U+{code}>" in shown
    assert "<U+200B>" in shown and "<U+FEFF>" in shown and "<U+2028>" in shown and "<U+E0041>" in shown


def test_newlines_only_where_a_multiline_value_is_meant() -> None:
    assert visible("title\nforged line\tx") == "title\\nforged line\\tx"
    assert visible("line 1\r\nline 2\n\tindented\x1b[2J", multiline=True) == "line 1\nline 2\n\tindented\\x1b[2J"
    assert visible("a\rb", multiline=True) == "a\\rb"  # a bare CR would overwrite the line


def test_text_stays_as_it_is() -> None:
    text = "Ünïcode ✓ — 日本語 👨\u200d👩\u200d👧 فارسی\u200cها"  # ZWJ and ZWNJ join letters, they stay
    assert visible(text) == text
    assert visible(None) == "" and visible(3) == "3"


@pytest.mark.parametrize("render", [lambda v: rich_text(v), lambda v: markup(v)])
def test_rich_prints_markup_literally(render: object) -> None:
    console = Console(force_terminal=True, width=300, color_system="truecolor", record=True, emoji=False)
    console.print(render(MARKUP + " " + HOSTILE))  # type: ignore[operator]
    out = console.export_text(styles=True, clear=False)
    assert "\x1b]" not in out  # no OSC 8 link, no title
    plain = console.export_text()
    assert MARKUP in plain  # shown as typed, emoji code included
    assert _acted_on(plain) == []


def test_json_text_escapes_what_json_leaves_raw() -> None:
    data = {"title": HOSTILE, "name": "Ünïcode ✓"}
    dumped = json_text(data)
    assert json.loads(dumped) == data  # the same data for any JSON reader
    assert _acted_on(dumped) == []
    assert "Ünïcode ✓" in dumped and "\\u202e" in dumped and "\\u009b" in dumped
    assert "\\udb40\\udc41" in dumped  # an astral format character as a surrogate pair
    assert "\n" not in json_text(data, indent=None)
