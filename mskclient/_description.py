"""Card descriptions as Yjs documents (docs/protocol.md#card-documents), through pycrdt.

A card description is one Y.Doc whose Y.Text named ``description`` holds
Markdown; ``encDescription`` stores its full state (update format v1).
Scripted edits must merge with people typing in a browser at the same moment,
so a new text is turned into the *smallest* text operations against the
current document (a diff), never delete-all-and-insert: a concurrent edit to
a part of the text the script did not touch then survives the merge.

pycrdt counts text positions in UTF-8 bytes (Yjs counts UTF-16 units); the diff
runs on code points and converts to UTF-8 byte offsets here, so no caller does
index arithmetic.  State vectors are compared decoded (Yjs sorts entries,
pycrdt does not, so equal vectors can differ as bytes).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from pycrdt import Doc, Text, get_state, merge_updates

from ._errors import ProtocolError

__all__ = [
    "EMPTY_UPDATE",
    "MERGE_CHUNK",
    "TEXT_NAME",
    "apply_text",
    "apply_updates",
    "covers",
    "decode_state_vector",
    "diff_update",
    "edit_to",
    "empty_state",
    "load",
    "merge",
    "state_vector",
    "text_of",
]

#: Name of the shared Y.Text in a card document (docs/protocol.md#card-documents).
TEXT_NAME = "description"
#: An update that changes nothing (also the state of a document with no edits).
EMPTY_UPDATE = b"\x00\x00"
#: Queued updates are merged this many at a time before applying.  Measured
#: (bench/live.py, 40,000 typing updates): one by one 0.42 s and superlinear,
#: all merged at once 9.7 s, in chunks of 64 about 0.05 s (yjs: 0.32 s).
MERGE_CHUNK = 64


def empty_state() -> bytes:
    """The state of a document with no edits (what a new card stores)."""
    return EMPTY_UPDATE


def load(state: bytes, doc: Doc[Text] | None = None) -> Doc[Text]:
    """A Doc holding `state` (applied to `doc` when given); ProtocolError if it is not an update."""
    if doc is None:
        doc = Doc()
    if state and state != EMPTY_UPDATE:
        try:
            doc.apply_update(state)
        except ValueError as exc:
            raise ProtocolError(f"card description is not a Yjs update: {exc}") from None
    return doc


def _text(doc: Doc[Text]) -> Text:
    return doc.get(TEXT_NAME, type=Text)


def text_of(state: bytes) -> str:
    """The Markdown a description state holds."""
    if not state or state == EMPTY_UPDATE:
        return ""
    return str(_text(load(state)))


def _opcodes(old: str, new: str) -> list[tuple[int, int, str]]:
    """Edits turning `old` into `new` as (code point start, code point end, insert), ascending.

    The common prefix and suffix are cut first, so the usual edit (typing,
    appending, one replacement) costs linear time even on a long text.
    """
    if old == new:
        return []
    lo = 0
    limit = min(len(old), len(new))
    while lo < limit and old[lo] == new[lo]:
        lo += 1
    hi = 0
    while hi < limit - lo and old[len(old) - 1 - hi] == new[len(new) - 1 - hi]:
        hi += 1
    a, b = old[lo : len(old) - hi], new[lo : len(new) - hi]
    if not a or not b:
        return [(lo, lo + len(a), b)]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(lo + i1, lo + i2, b[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def apply_text(doc: Doc[Text], new_text: str) -> None:
    """Change the description text of `doc` into `new_text` with the smallest operations.

    Operations are applied from the end backwards so every UTF-8 byte offset,
    computed once against the old text, stays valid.
    """
    text = _text(doc)
    old = str(text)
    ops = _opcodes(old, new_text)
    if not ops:
        return
    offsets: list[int] = []
    pos = byte = 0
    for start, end, _insert in ops:
        byte += len(old[pos:start].encode("utf-8"))
        begin = byte
        byte += len(old[start:end].encode("utf-8"))
        offsets.append(begin)
        offsets.append(byte)
        pos = end
    with doc.transaction():
        for index in range(len(ops) - 1, -1, -1):
            begin, stop = offsets[2 * index], offsets[2 * index + 1]
            insert = ops[index][2]
            if stop > begin:
                del text[begin:stop]
            if insert:
                text.insert(begin, insert)


def diff_update(state: bytes, new_text: str) -> bytes:
    """Only the update that turns the text of `state` into `new_text` (to send or merge)."""
    doc = load(state)
    before = doc.get_state()
    apply_text(doc, new_text)
    return doc.get_update(before)


def edit_to(state: bytes, new_text: str) -> bytes:
    """The new full state after changing the text of `state` into `new_text` by a diff."""
    doc = load(state)
    apply_text(doc, new_text)
    return doc.get_update()


def merge(*states: bytes) -> bytes:
    """One update holding every given state or update (order does not matter)."""
    parts = [s for s in states if s and s != EMPTY_UPDATE]
    if not parts:
        return empty_state()
    if len(parts) == 1:
        load(parts[0])  # validate even when nothing needs merging
        return parts[0]
    try:
        return merge_updates(*parts)
    except ValueError:
        raise ProtocolError("cannot merge description states: one is not a Yjs update") from None


def apply_updates(doc: Doc[Text], updates: list[bytes]) -> None:
    """Apply many updates fast: merged MERGE_CHUNK at a time, then applied (ProtocolError if one is bad)."""
    try:
        for start in range(0, len(updates), MERGE_CHUNK):
            chunk = updates[start : start + MERGE_CHUNK]
            doc.apply_update(chunk[0] if len(chunk) == 1 else merge_updates(*chunk))
    except ValueError:
        raise ProtocolError("a queued description update is not a Yjs update") from None


def _read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtocolError("truncated or oversized varUint in a state vector")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def decode_state_vector(vector: bytes) -> dict[int, int]:
    """An encoded state vector as {client id: clock}; ProtocolError if malformed."""
    count, pos = _read_var_uint(vector, 0)
    result: dict[int, int] = {}
    for _ in range(count):
        client, pos = _read_var_uint(vector, pos)
        clock, pos = _read_var_uint(vector, pos)
        result[client] = clock
    if pos != len(vector):
        raise ProtocolError("trailing bytes after a state vector")
    return result


def state_vector(state: bytes) -> dict[int, int]:
    """The decoded state vector of a state or update."""
    if not state or state == EMPTY_UPDATE:
        return {}
    try:
        return decode_state_vector(get_state(state))
    except ValueError:
        raise ProtocolError("card description is not a Yjs update") from None


def covers(have: Mapping[int, int], other: Mapping[int, int]) -> bool:
    """True when state vector `have` includes everything in `other`."""
    return all(have.get(client, 0) >= clock for client, clock in other.items())
