"""Yjs description helpers: diffs are minimal, merges keep concurrent edits, text is exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from mskclient import _description as d
from mskclient._errors import ProtocolError


def test_empty_state_has_empty_text() -> None:
    assert d.text_of(d.empty_state()) == ""
    assert d.state_vector(d.empty_state()) == {}


def test_edit_to_round_trips_text() -> None:
    state = d.edit_to(d.empty_state(), "# Fix login\n\nsteps…")
    assert d.text_of(state) == "# Fix login\n\nsteps…"
    state = d.edit_to(state, "# Fix login now\n\nsteps…")
    assert d.text_of(state) == "# Fix login now\n\nsteps…"


def test_append_is_a_small_update_not_a_rewrite() -> None:
    base = d.edit_to(d.empty_state(), "x" * 20_000)
    update = d.diff_update(base, "x" * 20_000 + "tail")
    assert len(update) < 100
    assert d.text_of(d.merge(base, update)) == "x" * 20_000 + "tail"


def test_unchanged_text_gives_an_empty_update() -> None:
    base = d.edit_to(d.empty_state(), "same")
    assert d.text_of(d.merge(base, d.diff_update(base, "same"))) == "same"
    assert d.state_vector(d.merge(base, d.diff_update(base, "same"))) == d.state_vector(base)


def test_concurrent_edits_in_different_places_both_survive() -> None:
    base = d.edit_to(d.empty_state(), "alpha\nbeta\ngamma\n")
    mine = d.diff_update(base, "ALPHA\nbeta\ngamma\n")
    theirs = d.diff_update(base, "alpha\nbeta\ngamma\ndelta\n")
    merged = d.merge(base, mine, theirs)
    assert d.text_of(merged) == "ALPHA\nbeta\ngamma\ndelta\n"
    assert d.text_of(d.merge(theirs, base, mine)) == d.text_of(merged)


def test_multibyte_text_edits_at_the_right_place() -> None:
    # é is 2 UTF-8 bytes, 😀 is 4 bytes / 2 UTF-16 units, 漢 is 3 bytes.
    base = d.edit_to(d.empty_state(), "é😀漢 end")
    state = d.edit_to(base, "é😀!漢 énd😀")
    assert d.text_of(state) == "é😀!漢 énd😀"


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab é😀漢\n"), max_size=40),
    st.text(alphabet=st.sampled_from("ab é😀漢\n"), max_size=40),
)
def test_any_edit_reaches_exactly_the_new_text(old: str, new: str) -> None:
    base = d.edit_to(d.empty_state(), old)
    assert d.text_of(base) == old
    assert d.text_of(d.edit_to(base, new)) == new
    assert d.text_of(d.merge(base, d.diff_update(base, new))) == new


def test_apply_text_on_a_live_doc_emits_one_transaction() -> None:
    doc = d.load(d.edit_to(d.empty_state(), "one two three"))
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    d.apply_text(doc, "one 2 three four")
    assert len(updates) == 1
    assert str(doc.get(d.TEXT_NAME, type=Text)) == "one 2 three four"


def test_state_vectors_compare_decoded_not_as_bytes() -> None:
    a = Doc()
    a.get(d.TEXT_NAME, type=Text).insert(0, "a")
    b = Doc()
    b.get(d.TEXT_NAME, type=Text).insert(0, "b")
    merged = d.merge(a.get_update(), b.get_update())
    vector = d.state_vector(merged)
    assert vector == {a.client_id: 1, b.client_id: 1}
    # The same two entries in the other order are the same vector.
    first, second = sorted(vector.items())
    swapped = bytes([2]) + _uint(second[0]) + _uint(second[1]) + _uint(first[0]) + _uint(first[1])
    assert d.decode_state_vector(swapped) == vector
    assert d.covers(vector, d.state_vector(a.get_update()))
    assert not d.covers(d.state_vector(a.get_update()), vector)


def _uint(n: int) -> bytes:
    out = bytearray()
    while n > 127:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


@pytest.mark.parametrize("bad", [b"\xff\xff", b"garbage!", b"\x01"])
def test_bad_state_is_a_protocol_error(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        d.text_of(bad)
    with pytest.raises(ProtocolError):
        d.merge(d.edit_to(d.empty_state(), "x"), bad)
    with pytest.raises(ProtocolError):
        d.state_vector(bad)


def test_bad_state_vector_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        d.decode_state_vector(b"\x02\x01")
    with pytest.raises(ProtocolError):
        d.decode_state_vector(b"\x01\x01\x01\x00")


def test_apply_updates_in_chunks_equals_one_by_one() -> None:
    doc: Doc[Text] = Doc()
    text = doc.get(d.TEXT_NAME, type=Text)
    updates = []
    for i in range(3 * d.MERGE_CHUNK + 5):
        before = doc.get_state()
        text += "é😀x"[i % 3]
        updates.append(doc.get_update(before))
    target = d.load(b"")
    d.apply_updates(target, updates)
    assert str(target.get(d.TEXT_NAME, type=Text)) == str(text)
    with pytest.raises(ProtocolError):
        d.apply_updates(d.load(b""), [updates[0], b"\xff\xff"])
