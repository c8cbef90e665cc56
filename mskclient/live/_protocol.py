"""y-protocols messages (sync and awareness), byte-compatible with the JavaScript package.

lib0 encodings: varUint is little-endian base-128; varUint8Array is a varUint
length then the bytes; varString is a varUint count of *UTF-8 bytes* then the
bytes.  pycrdt's own ``Encoder.write_var_string`` counts code points, which is
wrong for any non-ASCII name, so this module carries its own small codec.
Awareness JSON is written like ``JSON.stringify`` (no spaces, no ASCII escaping).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from .._errors import ProtocolError
from .._json import loads

__all__ = [
    "MSG_AWARENESS",
    "MSG_QUERY_AWARENESS",
    "MSG_SYNC",
    "AwarenessEntry",
    "AwarenessMessage",
    "Message",
    "QueryAwareness",
    "SyncStep1",
    "SyncStep2",
    "SyncUpdate",
    "decode_awareness_update",
    "decode_message",
    "encode_awareness_update",
    "encode_message",
    "read_var_uint",
    "write_var_uint",
]

MSG_SYNC: Final = 0
MSG_AWARENESS: Final = 1
MSG_QUERY_AWARENESS: Final = 3
_STEP1, _STEP2, _UPDATE = 0, 1, 2
#: JavaScript numbers are exact up to 2**53; a longer varUint is not from a y-protocols peer.
_MAX_UINT: Final = 2**53


def write_var_uint(value: int) -> bytes:
    """lib0 ``writeVarUint``."""
    if value < 0 or value > _MAX_UINT:
        raise ProtocolError(f"varUint out of range: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    """lib0 ``readVarUint`` at `pos`: (value, next position)."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtocolError("y-protocols message ends inside a varUint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if value > _MAX_UINT:
            raise ProtocolError("varUint larger than 2**53 in a y-protocols message")
        if byte < 0x80:
            return value, pos


def _write_bytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def _read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = read_var_uint(data, pos)
    end = pos + length
    if end > len(data):
        raise ProtocolError("y-protocols message ends inside a byte array")
    return data[pos:end], end


def _write_string(text: str) -> bytes:
    return _write_bytes(text.encode("utf-8"))


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    raw, pos = _read_bytes(data, pos)
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError:
        raise ProtocolError("varString in a y-protocols message is not UTF-8") from None


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """Sync step 1: the sender's encoded state vector."""

    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """Sync step 2: every change the asker lacks (an update)."""

    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    """An incremental document update."""

    update: bytes


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    """One client's awareness state at a clock; ``state`` None means the client left."""

    client_id: int
    clock: int
    state: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    """An awareness update holding one or more entries."""

    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    """A request that peers send all the awareness states they hold (type 3, no payload)."""


Message: TypeAlias = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessMessage | QueryAwareness


def encode_awareness_update(entries: tuple[AwarenessEntry, ...] | list[AwarenessEntry]) -> bytes:
    """y-protocols ``encodeAwarenessUpdate`` for the given entries."""
    out = bytearray(write_var_uint(len(entries)))
    for entry in entries:
        out += write_var_uint(entry.client_id)
        out += write_var_uint(entry.clock)
        out += _write_string(json.dumps(entry.state, separators=(",", ":"), ensure_ascii=False))
    return bytes(out)


def decode_awareness_update(data: bytes) -> tuple[AwarenessEntry, ...]:
    """Entries of an awareness update; ProtocolError when malformed."""
    count, pos = read_var_uint(data, 0)
    entries: list[AwarenessEntry] = []
    for _ in range(count):
        client_id, pos = read_var_uint(data, pos)
        clock, pos = read_var_uint(data, pos)
        text, pos = _read_string(data, pos)
        state = loads(text, "awareness state")
        if state is not None and not isinstance(state, dict):
            raise ProtocolError("awareness state is neither an object nor null")
        entries.append(AwarenessEntry(client_id, clock, state))
    if pos != len(data):
        raise ProtocolError("trailing bytes after an awareness update")
    return tuple(entries)


def encode_message(message: Message) -> bytes:
    """The wire bytes of one y-protocols message."""
    if isinstance(message, SyncStep1):
        return bytes([MSG_SYNC, _STEP1]) + _write_bytes(message.state_vector)
    if isinstance(message, SyncStep2):
        return bytes([MSG_SYNC, _STEP2]) + _write_bytes(message.update)
    if isinstance(message, SyncUpdate):
        return bytes([MSG_SYNC, _UPDATE]) + _write_bytes(message.update)
    if isinstance(message, AwarenessMessage):
        return bytes([MSG_AWARENESS]) + _write_bytes(encode_awareness_update(message.entries))
    return bytes([MSG_QUERY_AWARENESS])


def decode_message(data: bytes) -> Message:
    """Parse one y-protocols message; ProtocolError for anything malformed or unknown."""
    if len(data) > 3 and data[0] == MSG_SYNC and data[1] == _UPDATE and data[2] < 0x80 and len(data) == 3 + data[2]:
        # The message every keystroke sends, with its one-byte length (under 128) exactly filling
        # the rest: the general parse below would accept it the same, only slower.
        return SyncUpdate(data[3:])
    kind, pos = read_var_uint(data, 0)
    message: Message
    if kind == MSG_SYNC:
        step, pos = read_var_uint(data, pos)
        payload, pos = _read_bytes(data, pos)
        if step == _STEP1:
            message = SyncStep1(payload)
        elif step == _STEP2:
            message = SyncStep2(payload)
        elif step == _UPDATE:
            message = SyncUpdate(payload)
        else:
            raise ProtocolError(f"unknown y-protocols sync step {step}")
    elif kind == MSG_AWARENESS:
        payload, pos = _read_bytes(data, pos)
        message = AwarenessMessage(decode_awareness_update(payload))
    elif kind == MSG_QUERY_AWARENESS:
        message = QueryAwareness()
    else:
        raise ProtocolError(f"unknown y-protocols message type {kind}")
    if pos != len(data):
        raise ProtocolError("trailing bytes after a y-protocols message")
    return message
