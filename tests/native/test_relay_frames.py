"""open_relay_frame on both paths (the extension's single-message open and PyNaCl): the same answers."""

from __future__ import annotations

import pytest

from mskclient._errors import ProtocolError
from mskclient._profile import RELAY_MAX_FRAME
from mskclient.crypto import RELAY_FRAME_OVERHEAD, BoardKey, open_relay_frame, seal_relay_frame

KEY = BoardKey(bytes(range(32)))
ROOM = "card:ckv9x2m3p0000abcd"


@pytest.mark.usefixtures("path")
@pytest.mark.parametrize(
    "size",
    # empty, a typing update, and past the size above which the extension releases the GIL, up to the limit
    [0, 31, 65_536, RELAY_MAX_FRAME - RELAY_FRAME_OVERHEAD],
)
def test_a_sealed_frame_opens_to_its_message(size: int) -> None:
    message = bytes(i % 251 for i in range(size))
    assert open_relay_frame(KEY, ROOM, seal_relay_frame(KEY, ROOM, message)) == message


@pytest.mark.usefixtures("path")
def test_any_flipped_bit_or_other_room_or_key_is_refused() -> None:
    frame = seal_relay_frame(KEY, ROOM, b"\x00\x02\x03abc")
    for index in range(len(frame)):
        tampered = bytearray(frame)
        tampered[index] ^= 0x01
        with pytest.raises(ProtocolError, match="does not authenticate"):
            open_relay_frame(KEY, ROOM, bytes(tampered))
    with pytest.raises(ProtocolError, match="does not authenticate"):
        open_relay_frame(KEY, "card:ckv9x2m3p0000abce", frame)
    with pytest.raises(ProtocolError, match="does not authenticate"):
        open_relay_frame(BoardKey(bytes(range(1, 33))), ROOM, frame)


@pytest.mark.usefixtures("path")
def test_frames_too_short_or_too_long_are_refused_before_any_crypto() -> None:
    with pytest.raises(ProtocolError, match="too short"):
        open_relay_frame(KEY, ROOM, bytes(RELAY_FRAME_OVERHEAD - 1))
    with pytest.raises(ProtocolError, match="over 1 MiB"):
        open_relay_frame(KEY, ROOM, bytes(RELAY_MAX_FRAME + 1))
    with pytest.raises(ProtocolError, match="does not authenticate"):
        open_relay_frame(KEY, ROOM, bytes(RELAY_FRAME_OVERHEAD))
