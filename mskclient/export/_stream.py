"""Read a `/me/export` document as it arrives, handing out each part as soon as it is complete.

The document is one JSON object (docs/protocol.md#export) whose bulk sits in three nested arrays:
`workspaces`, each workspace's `boards` and each board's `cards`.  Those are walked element
by element; every other value, and each card, is decoded whole by the standard library's C
decoder (`JSONDecoder.raw_decode`) once its last byte is in.  So the caller can decrypt the
first cards while the server is still sending the rest, and only the part being read is
buffered.  A value cut by a chunk boundary is retried only once twice as much text is
pending, which keeps the work linear however the body is chunked.  The document as a whole
has no size bound, but each value held whole does (`EXPORT_MAX_VALUE`), and so does its
nesting (`JSON_MAX_DEPTH`).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Generator
from typing import Literal, Protocol

from .._errors import ProtocolError
from .._json import check_depth
from .._profile import EXPORT_MAX_VALUE, JSON_MAX_DEPTH

__all__ = ["ExportParser", "ExportSink", "Level", "replay"]

#: "export" is the document itself; workspaces and boards are the walked arrays' objects.
Level = Literal["export", "workspace", "board"]
_Steps = Generator[None, None, object]

_SPACE = re.compile(r"[ \t\n\r]*")
_decode = json.JSONDecoder().raw_decode
#: Keys whose array is walked element by element, and what its elements are.
_WALKED: dict[tuple[str, str], Literal["workspace", "board", "card"]] = {
    ("export", "workspaces"): "workspace",
    ("workspace", "boards"): "board",
    ("board", "cards"): "card",
}
#: Consumed text is dropped once it is this long and more than half of the buffer.
_COMPACT_AT = 1 << 16


class ExportSink(Protocol):
    """What the parser reports, in document order."""

    def begin(self, level: Level) -> None:
        """A workspace or board object starts."""

    def field(self, level: Level, key: str, value: object) -> None:
        """A member of the document, a workspace or a board (other than the walked arrays)."""

    def card(self, card: object) -> None:
        """One element of the current board's `cards`."""

    def end(self, level: Level) -> None:
        """The workspace or board object that began last is complete."""


class ExportParser:
    """Push parser: `feed` it the body's chunks, then `close` it; errors are ProtocolErrors."""

    def __init__(self, sink: ExportSink) -> None:
        self._sink = sink
        self._text = ""
        self._pos = 0
        self._eof = False
        #: Pending text needed before an incomplete value is decoded again.
        self._wanted = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._steps: _Steps | None = self._document()

    def feed(self, data: bytes) -> None:
        self._take(data, final=False)

    def close(self) -> None:
        """The body ended: finish the document, or raise if it is incomplete."""
        self._eof = True
        self._take(b"", final=True)
        assert self._steps is None  # at the end of input every step either finishes or raises

    def _take(self, data: bytes, *, final: bool) -> None:
        if self._steps is None:
            raise ProtocolError("export: data after the end of the document")
        try:
            self._text += self._utf8.decode(data, final)
        except UnicodeDecodeError:
            raise ProtocolError("export: the document is not UTF-8") from None
        if self._pos >= _COMPACT_AT and 2 * self._pos > len(self._text):
            self._text, self._pos = self._text[self._pos :], 0
        try:
            next(self._steps)
        except StopIteration:
            self._steps = None

    def _document(self) -> _Steps:
        yield from self._object("export", "export")
        if (yield from self._skip()) != "":
            raise ProtocolError("export: data after the end of the document")
        return None

    def _object(self, level: Level, what: str) -> _Steps:
        yield from self._expect("{", what)
        if (yield from self._skip()) == "}":
            self._pos += 1
            return None
        seen: set[str] = set()
        while True:
            key = yield from self._value(f"{what} key")
            if type(key) is not str:
                raise ProtocolError(f"{what} has a key that is not a string")
            if key in seen:
                raise ProtocolError(f"{what} has the key {key!r} twice")
            seen.add(key)
            yield from self._expect(":", what)
            inner = _WALKED.get((level, key))
            if inner is None:
                self._sink.field(level, key, (yield from self._value(f"{what}.{key}")))
            else:
                yield from self._array(inner, f"{what}.{key}")
            if (yield from self._expect(",}", what)) == "}":
                return None

    def _array(self, level: Literal["workspace", "board", "card"], what: str) -> _Steps:
        yield from self._expect("[", f"{what} (an array)")
        if (yield from self._skip()) == "]":
            self._pos += 1
            return None
        while True:
            if level == "card":
                self._sink.card((yield from self._value(f"{what}[]")))
            else:
                self._sink.begin(level)
                yield from self._object(level, f"{what}[]")
                self._sink.end(level)
            if (yield from self._expect(",]", what)) == "]":
                return None

    def _skip(self) -> Generator[None, None, str]:
        """Skip whitespace; the next character, or "" at the end of the document."""
        while True:
            match = _SPACE.match(self._text, self._pos)
            assert match is not None  # the pattern matches the empty string
            self._pos = match.end()
            if self._pos < len(self._text):
                return self._text[self._pos]
            if self._eof:
                return ""
            yield

    def _expect(self, chars: str, what: str) -> Generator[None, None, str]:
        char = yield from self._skip()
        if not char or char not in chars:
            wanted = " or ".join(repr(c) for c in chars)
            raise ProtocolError(f"{what}: expected {wanted}, found {repr(char) if char else 'the end of the document'}")
        self._pos += 1
        return char

    def _value(self, what: str) -> _Steps:
        yield from self._skip()
        while True:
            pending = len(self._text) - self._pos
            if pending >= self._wanted or self._eof or pending > EXPORT_MAX_VALUE:
                try:
                    value, end = _decode(self._text, self._pos)
                except json.JSONDecodeError as exc:
                    if self._eof:
                        raise ProtocolError(f"{what} is not valid JSON: {exc.msg}") from None
                except RecursionError:
                    raise ProtocolError(f"{what} nests deeper than {JSON_MAX_DEPTH} levels") from None
                else:
                    # A number may go on in the next chunk: a value is taken once text follows it.
                    if end < len(self._text) or self._eof:
                        start, self._pos, self._wanted = self._pos, end, 0
                        return self._shallow(value, start, end, what)
                if pending > EXPORT_MAX_VALUE:
                    # still incomplete: an honest server never sends one value this large
                    raise ProtocolError(f"{what} is over {EXPORT_MAX_VALUE / 2**20:g} MiB; stopped reading")
                self._wanted = 2 * pending
            yield

    def _shallow(self, value: object, start: int, end: int, what: str) -> object:
        """`value` (decoded from `_text[start:end]`) once it is known to nest at most `JSON_MAX_DEPTH` deep.

        Each level opens with a bracket, so a text with no more brackets than that (a card
        holds a few dozen) cannot nest deeper: counting them runs at C speed, where the walk
        of `check_depth` took about as long as decoding the value.  Brackets inside strings
        only add to the count, so the walk still runs whenever the count cannot rule it out.
        """
        text = self._text
        if text.count("{", start, end) + text.count("[", start, end) <= JSON_MAX_DEPTH:
            return value
        return check_depth(value, what)


def replay(document: object, sink: ExportSink) -> None:
    """Tell `sink` about an already parsed document what `ExportParser` would tell it."""
    if not isinstance(document, dict):
        raise ProtocolError("export: expected '{'")
    _replay_object(document, "export", "export", sink)


def _replay_object(value: dict[str, object], level: Level, what: str, sink: ExportSink) -> None:
    for key, member in value.items():
        inner = _WALKED.get((level, key))
        if inner is None:
            sink.field(level, key, member)
            continue
        if not isinstance(member, list):
            raise ProtocolError(f"{what}.{key} (an array): expected '['")
        for element in member:
            if inner == "card":
                sink.card(element)
                continue
            if not isinstance(element, dict):
                raise ProtocolError(f"{what}.{key}[]: expected '{{'")
            sink.begin(inner)
            _replay_object(element, inner, f"{what}.{key}[]", sink)
            sink.end(inner)
