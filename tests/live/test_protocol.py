"""y-protocols messages against bytes the JavaScript packages produced (yjs 13.6, y-protocols 1.0.7).

The hex below was printed by a Node script using `y-protocols/awareness`,
`y-protocols/sync` and `lib0/encoding` for a doc with clientID 123456789 whose
Y.Text `description` holds "Zoë 😀 é", and an awareness state with a non-ASCII
name (varString lengths are UTF-8 byte counts).
"""

from __future__ import annotations

import pytest

from mskclient import _description as ydesc
from mskclient._errors import ProtocolError
from mskclient.live import (
    AwarenessEntry,
    AwarenessMessage,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    encode_message,
)
from mskclient.live._protocol import read_var_uint, write_var_uint

CLIENT = 123456789
JS_STATE = bytes.fromhex("0101959aef3a0004010b6465736372697074696f6e0c5a6fc3ab20f09f988020c3a900")
JS_AWARENESS = bytes.fromhex(
    "014701959aef3a01407b2275736572223a7b226964223a22636162633132333435222c226e616d65223a22"
    "5a6fc3ab20f09f9880222c22636f6c6f72223a2223666630303030227d7d"
)
JS_STEP1 = bytes.fromhex("00000601959aef3a08")
JS_STEP2 = bytes.fromhex("000123") + JS_STATE
JS_UPDATE = bytes.fromhex("000223") + JS_STATE
JS_LEAVE = bytes.fromhex("010b01959aef3a02046e756c6c")
USER = {"user": {"id": "cabc12345", "name": "Zoë 😀", "color": "#ff0000"}}


def test_js_state_reads_as_text() -> None:
    assert ydesc.text_of(JS_STATE) == "Zoë 😀 é"
    assert ydesc.state_vector(JS_STATE) == {CLIENT: 8}  # 8 UTF-16 units


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (AwarenessMessage((AwarenessEntry(CLIENT, 1, USER),)), JS_AWARENESS),
        (AwarenessMessage((AwarenessEntry(CLIENT, 2, None),)), JS_LEAVE),
        (SyncStep1(bytes.fromhex("01959aef3a08")), JS_STEP1),
        (SyncStep2(JS_STATE), JS_STEP2),
        (SyncUpdate(JS_STATE), JS_UPDATE),
        (QueryAwareness(), b"\x03"),
    ],
)
def test_messages_match_the_javascript_bytes(message: object, wire: bytes) -> None:
    assert encode_message(message) == wire  # type: ignore[arg-type]
    assert decode_message(wire) == message


def test_step1_from_pycrdt_matches_yjs_state_vector() -> None:
    doc = ydesc.load(JS_STATE)
    assert ydesc.decode_state_vector(SyncStep1(doc.get_state()).state_vector) == {CLIENT: 8}


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**53])
def test_var_uint_round_trip(value: int) -> None:
    assert read_var_uint(write_var_uint(value), 0) == (value, len(write_var_uint(value)))


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x00",  # sync without a step
        b"\x00\x05\x00",  # unknown sync step
        b"\x00\x02\x05ab",  # payload shorter than its length
        b"\x02\x00",  # auth messages are not used by the relay
        b"\x03\x00",  # trailing byte after queryAwareness
        b"\x01\x04\x01\x01\x01\x00",  # awareness entry without a state string
        b"\x01\x06\x01\x01\x01\x02[]",  # awareness state that is not an object
        b"\x01\x05\x01\x01\x01\x01\xff",  # state string that is not UTF-8
        b"\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # varUint beyond 2**53
    ],
)
def test_malformed_messages_are_protocol_errors(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_message(bad)


@pytest.mark.parametrize(
    ("wire", "update"),
    [
        (b"\x00\x02\x01\x00", b"\x00"),  # the shortest update message
        (b"\x00\x02\x7f" + bytes(range(127)), bytes(range(127))),  # the longest one-byte length
        (b"\x00\x02\x80\x01" + bytes(128), bytes(128)),  # the shortest two-byte length
        # a length of 5 spelled in 129 bytes: its first byte must not be read as the length (133)
        (b"\x00\x02\x85" + b"\x80" * 127 + b"\x00" + b"abcde", b"abcde"),
    ],
)
def test_update_lengths_are_read_as_varuints_whatever_their_spelling(wire: bytes, update: bytes) -> None:
    assert decode_message(wire) == SyncUpdate(update)


@pytest.mark.parametrize("wire", [b"\x00\x02\x03ab", b"\x00\x02\x01ab", b"\x00\x02\x7f" + bytes(126)])
def test_update_lengths_that_do_not_fill_the_message_exactly_are_refused(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_message(wire)
