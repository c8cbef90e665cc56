"""The one way text from the server or another member reaches the terminal.

Every card title, comment, name, email, attachment type and server message was written by
someone else.  Printed as is, an ESC or CSI (0x9b) starts a terminal command (OSC 0
window titles, OSC 8 links, CSI screen clears), a bidi override (U+202E) reverses what the
reader sees, and in rich output `[link=…]` or `[/dim]` is markup.  So every such string
goes through this module first:

* `visible` shows control and invisible format characters as escapes (`\\x1b`, `\\x9b`,
  `<U+202E>`), never leaving one to be interpreted; newlines stay only where a multi-line
  value is shown on purpose (descriptions, comment bodies);
* `rich_text` makes a rich `Text` of it (never parsed as markup or emoji codes);
* `markup` escapes it for a rich markup string built around it;
* `json_text` dumps JSON with the characters JSON leaves raw (C1 controls, bidi and other
  format characters) escaped as `\\uXXXX`, so `--json` on a terminal is safe too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from rich.markup import escape
from rich.text import Text

__all__ = ["json_text", "markup", "rich_text", "visible"]

#: Format characters that only join or separate letters (emoji sequences, Persian and Indic
#: scripts); they neither move text nor talk to the terminal, so they stay as they are.
_HARMLESS_FORMAT = frozenset({"\u200c", "\u200d"})

#: Unicode categories that are never shown as what they are: controls, format characters
#: (bidi embeddings, overrides and isolates, invisible marks), line and paragraph separators,
#: surrogates and private-use characters.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co"})

_MULTILINE_KEPT = frozenset({"\n", "\t"})


def _hidden(char: str) -> bool:
    return char not in _HARMLESS_FORMAT and unicodedata.category(char) in _HIDDEN_CATEGORIES


def _shown(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{code:02x}")
    return f"<U+{code:04X}>"


def visible(value: object, *, multiline: bool = False) -> str:
    """`value` as text whose every control and format character is shown, not interpreted.

    `multiline=True` keeps newlines and tabs (a description shown as a block); otherwise they
    are shown as `\\n` and `\\t` too, so a value cannot forge extra lines in a table or a log.
    """
    text = "" if value is None else str(value)
    if multiline:
        text = text.replace("\r\n", "\n")
    # the common case, checked in C: nothing but printable characters (and line ends if kept)
    if all(line.isprintable() for line in (text.split("\n") if multiline else (text,))):
        return text
    kept = _MULTILINE_KEPT if multiline else frozenset()
    return "".join(c if c.isprintable() or c in kept or not _hidden(c) else _shown(c) for c in text)


def rich_text(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """A rich `Text` of `value` made `visible`: rich prints it literally (no markup, no emoji codes)."""
    return Text(visible(value, multiline=multiline), style=style)


def markup(value: object, *, multiline: bool = False) -> str:
    """`value` made `visible` and escaped, to sit inside a rich markup string (printed by a console
    made with `emoji=False`, as `CliContext`'s are: markup escaping leaves `:name:` codes alone)."""
    return escape(visible(value, multiline=multiline))


_JSON_RAW = re.compile(
    "[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON spells astral characters as a UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """`data` as JSON, readable non-ASCII text kept, but no character left that a terminal acts on.

    `json.dumps` escapes C0 controls already; C1 controls (0x9b is CSI) and bidi or
    invisible format characters pass through raw with `ensure_ascii=False`.  They can only
    occur inside JSON strings, where `\\uXXXX` is the same character to any JSON reader.
    """
    return _JSON_RAW.sub(_json_escape, json.dumps(data, indent=indent, ensure_ascii=False, default=str))
