"""The relay over real sockets: forwarding, rooms, tickets, close codes, revocation."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mskclient._profile import (
    RELAY_CLOSE_BAD_TICKET,
    RELAY_CLOSE_FORBIDDEN,
    RELAY_CLOSE_TOO_BIG,
    RELAY_CLOSE_UNSUPPORTED,
    RELAY_MAX_FRAME,
    TICKET_TTL_SECONDS,
)
from mskclient.crypto import b64u_decode
from mskclient.sandbox import _relay

from ._harness import Engine

TIMEOUT = 5.0
ALICE, BOB, CAROL, MALLORY = "cuseralice1", "cuserbob001", "cusercarol1", "cusermallory"


@dataclass
class Board:
    workspace: str
    board: str
    card: str
    other_card: str

    @property
    def card_room(self) -> str:
        return f"card:{self.card}"

    @property
    def board_room(self) -> str:
        return f"board:{self.board}"


@pytest.fixture
def board(engine: Engine) -> Board:
    ws_id = engine.workspace({ALICE: "owner", BOB: "member", CAROL: "observer"})
    board_id = engine.board(ws_id)
    return Board(ws_id, board_id, engine.card(board_id), engine.card(board_id))


async def join(engine: Engine, user: str, room: str, **extra: str) -> ClientConnection:
    return await connect(engine.ws_url(engine.ticket(user, room), **extra), max_size=None, open_timeout=TIMEOUT)


async def recv(ws: ClientConnection) -> bytes:
    async with asyncio.timeout(TIMEOUT):
        frame = await ws.recv()
    assert isinstance(frame, bytes)
    return frame


async def recv_marked(ws: ClientConnection) -> bytes:
    """A frame the relay marked as a read-only member's: text, the base64url of the frame."""
    async with asyncio.timeout(TIMEOUT):
        frame = await ws.recv()
    assert isinstance(frame, str)
    return b64u_decode(frame)


async def close_code(ws: ClientConnection) -> int:
    """Read until the server closes the socket; the code it closed with."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(TIMEOUT):
            while True:
                await ws.recv()
    assert info.value.rcvd is not None, "the server closed without a close frame"
    return info.value.rcvd.code


async def test_frames_go_to_every_other_socket_and_never_back(engine: Engine, board: Board) -> None:
    alice = await join(engine, ALICE, board.card_room)
    bob = await join(engine, BOB, board.card_room)
    carol = await join(engine, CAROL, board.card_room)
    first, second = secrets.token_bytes(100), secrets.token_bytes(3000)
    await alice.send(first)
    assert await recv(bob) == first
    assert await recv(carol) == first
    await bob.send(second)
    # Alice's next frame is Bob's: her own was not echoed back to her.
    assert await recv(alice) == second
    assert await recv(carol) == second
    for ws in (alice, bob, carol):
        await ws.close()


async def test_frames_stay_in_their_room(engine: Engine, board: Board) -> None:
    alice = await join(engine, ALICE, board.card_room)
    bob = await join(engine, BOB, board.card_room)
    other_a = await join(engine, ALICE, f"card:{board.other_card}")
    other_b = await join(engine, BOB, f"card:{board.other_card}")
    presence_a = await join(engine, ALICE, board.board_room)
    presence_b = await join(engine, BOB, board.board_room)
    await alice.send(b"in card room")
    assert await recv(bob) == b"in card room"
    await other_b.send(b"in other card room")
    await presence_b.send(b"in board room")
    assert await recv(other_a) == b"in other card room"
    assert await recv(presence_a) == b"in board room"
    for ws in (alice, bob, other_a, other_b, presence_a, presence_b):
        await ws.close()


async def test_a_ticket_opens_one_connection_only(engine: Engine, board: Board) -> None:
    ticket = engine.ticket(ALICE, board.card_room)
    first = await connect(engine.ws_url(ticket), open_timeout=TIMEOUT)
    await first.close()
    again = await connect(engine.ws_url(ticket), open_timeout=TIMEOUT)
    assert await close_code(again) == RELAY_CLOSE_BAD_TICKET


async def test_a_ticket_expires_after_its_ttl(engine: Engine, board: Board) -> None:
    fresh = engine.ticket(ALICE, board.card_room)
    stale = engine.ticket(ALICE, board.card_room)
    engine.clock.advance(TICKET_TTL_SECONDS - 1)
    ok = await connect(engine.ws_url(fresh), open_timeout=TIMEOUT)
    engine.clock.advance(2)
    late = await connect(engine.ws_url(stale), open_timeout=TIMEOUT)
    assert await close_code(late) == RELAY_CLOSE_BAD_TICKET
    peer = await join(engine, BOB, board.card_room)
    await peer.send(b"still open")
    assert await recv(ok) == b"still open"
    await ok.close()
    await peer.close()


@pytest.mark.parametrize("ticket", ["", "x" * 600, "not-a-ticket", "%00"])
async def test_unknown_or_malformed_tickets_get_4401(engine: Engine, board: Board, ticket: str) -> None:
    ws = await connect(engine.ws_url(ticket), open_timeout=TIMEOUT)
    assert await close_code(ws) == RELAY_CLOSE_BAD_TICKET


async def test_a_ticket_for_another_room_gets_4401(engine: Engine, board: Board) -> None:
    ticket = engine.ticket(ALICE, board.card_room)
    ws = await connect(engine.ws_url(ticket, room=board.board_room), open_timeout=TIMEOUT)
    assert await close_code(ws) == RELAY_CLOSE_BAD_TICKET


async def test_a_non_member_is_refused_with_4403(engine: Engine, board: Board) -> None:
    ws = await join(engine, MALLORY, board.card_room)
    assert await close_code(ws) == RELAY_CLOSE_FORBIDDEN
    gone = await join(engine, ALICE, "card:cnosuchcard1")
    assert await close_code(gone) == RELAY_CLOSE_FORBIDDEN


async def test_frames_over_one_mib_close_with_1009(engine: Engine, board: Board) -> None:
    alice = await join(engine, ALICE, board.card_room)
    bob = await join(engine, BOB, board.card_room)
    largest = secrets.token_bytes(RELAY_MAX_FRAME)
    await alice.send(largest)
    assert await recv(bob) == largest
    await alice.send(largest + b"!")
    assert await close_code(alice) == RELAY_CLOSE_TOO_BIG
    await bob.close()


async def test_text_frames_are_refused(engine: Engine, board: Board) -> None:
    alice = await join(engine, ALICE, board.card_room)
    bob = await join(engine, BOB, board.card_room)
    await alice.send("plain text")
    assert await close_code(alice) == RELAY_CLOSE_UNSUPPORTED
    await bob.send(b"after")
    await bob.close()


async def test_revoke_closes_the_users_sockets_on_that_board_with_4403(engine: Engine, board: Board) -> None:
    alice = await join(engine, ALICE, board.card_room)
    bob_card = await join(engine, BOB, board.card_room)
    bob_board = await join(engine, BOB, board.board_room)
    elsewhere_ws = engine.workspace({BOB: "owner", ALICE: "member"})
    elsewhere = engine.board(elsewhere_ws)
    bob_elsewhere = await join(engine, BOB, f"board:{elsewhere}")
    alice_elsewhere = await join(engine, ALICE, f"board:{elsewhere}")
    engine.remove_member(board.workspace, BOB)
    engine.realtime.revoke(BOB, [board.board])
    assert await close_code(bob_card) == RELAY_CLOSE_FORBIDDEN
    assert await close_code(bob_board) == RELAY_CLOSE_FORBIDDEN
    # Bob's socket on his other board and Alice's sockets live on.
    await alice_elsewhere.send(b"hello")
    assert await recv(bob_elsewhere) == b"hello"
    carol = await join(engine, CAROL, board.card_room)
    await carol.send(b"still here")
    assert await recv_marked(alice) == b"still here"  # carol observes: her frames come marked
    for ws in (alice, carol, bob_elsewhere, alice_elsewhere):
        await ws.close()


async def test_membership_removed_elsewhere_is_noticed(engine: Engine, board: Board) -> None:
    """Another process on the same database removed Bob: the periodic re-check closes him."""
    bob = await join(engine, BOB, board.card_room)
    carol = await join(engine, CAROL, board.card_room)
    engine.remove_member(board.workspace, BOB)
    assert await close_code(bob) == RELAY_CLOSE_FORBIDDEN
    engine.execute("DELETE FROM cards WHERE id = ?", (board.card,))
    assert await close_code(carol) == RELAY_CLOSE_FORBIDDEN


async def test_the_re_check_closes_every_socket_of_a_session_in_a_room_and_spares_the_others(
    engine: Engine, board: Board
) -> None:
    """Sockets of one session in one room share the re-check's verdict: all of them go, and only them."""
    session, other = engine.session(BOB), engine.session(BOB)

    async def join_as(session_hash: str, room: str) -> ClientConnection:
        ticket = engine.ticket(BOB, room, session_hash)
        return await connect(engine.ws_url(ticket), max_size=None, open_timeout=TIMEOUT)

    windows = [await join_as(session, board.card_room) for _ in range(3)]
    on_board = await join_as(session, board.board_room)
    kept = await join_as(other, board.card_room)
    engine.execute("DELETE FROM sessions WHERE token_hash = ?", (session,))
    for ws in (*windows, on_board):
        assert await close_code(ws) == RELAY_CLOSE_BAD_TICKET
    alice = await join(engine, ALICE, board.card_room)
    await alice.send(b"still here")
    assert await recv(kept) == b"still here"
    for ws in (alice, kept):
        await ws.close()


async def test_a_session_ended_or_expired_elsewhere_closes_its_sockets_with_4401(engine: Engine, board: Board) -> None:
    """Another process logged the session out, or it expired: the re-check closes its sockets."""

    async def join_as(session_hash: str) -> ClientConnection:
        ticket = engine.ticket(BOB, board.card_room, session_hash)
        return await connect(engine.ws_url(ticket), max_size=None, open_timeout=TIMEOUT)

    logged_out, expiring, staying = engine.session(BOB), engine.session(BOB, ttl=60), engine.session(BOB)
    first, second, third = await join_as(logged_out), await join_as(expiring), await join_as(staying)
    engine.execute("DELETE FROM sessions WHERE token_hash = ?", (logged_out,))
    assert await close_code(first) == RELAY_CLOSE_BAD_TICKET
    engine.clock.advance(61)
    assert await close_code(second) == RELAY_CLOSE_BAD_TICKET
    alice = await join(engine, ALICE, board.card_room)
    await alice.send(b"still here")
    assert await recv(third) == b"still here"
    ended = engine.session(BOB)
    ticket = engine.ticket(BOB, board.card_room, ended)
    engine.execute("DELETE FROM sessions WHERE token_hash = ?", (ended,))
    refused = await connect(engine.ws_url(ticket), open_timeout=TIMEOUT)  # a ticket of an ended session
    assert await close_code(refused) == RELAY_CLOSE_BAD_TICKET
    for ws in (alice, third):
        await ws.close()


async def test_an_observers_frames_are_delivered_marked_and_role_changes_apply(engine: Engine, board: Board) -> None:
    """The relay cannot read frames, but tells receivers which came from a read-only member."""
    alice = await join(engine, ALICE, board.card_room)
    bob = await join(engine, BOB, board.card_room)
    carol = await join(engine, CAROL, board.card_room)  # an observer
    frame = secrets.token_bytes(RELAY_MAX_FRAME)  # the largest frame still fits the marking
    await carol.send(frame)
    assert await recv_marked(alice) == frame and await recv_marked(bob) == frame
    await bob.send(b"from a member")
    assert await recv(alice) == b"from a member" and await recv(carol) == b"from a member"
    await bob.close()
    engine.execute("UPDATE memberships SET role = 'member' WHERE user_id = ?", (CAROL,))
    engine.realtime.role_changed(CAROL, [board.board], "member")
    await carol.send(b"now a member")
    assert await recv(alice) == b"now a member"
    engine.execute("UPDATE memberships SET role = 'observer' WHERE user_id = ?", (CAROL,))  # another process
    async with asyncio.timeout(TIMEOUT):
        while True:  # the periodic re-check takes the role up
            await carol.send(b"observer again?")
            if isinstance(await alice.recv(), str):
                break
    for ws in (alice, carol):
        await ws.close()


async def test_frames_arrive_in_the_order_they_were_sent(engine: Engine, board: Board) -> None:
    alice = await join(engine, ALICE, board.card_room)
    bob = await join(engine, BOB, board.card_room)
    frames = [secrets.token_bytes(64) for _ in range(50)]
    for frame in frames:
        await alice.send(frame)
    received = [await recv(bob) for _ in frames]
    assert received == frames
    await alice.close()
    await bob.close()


@pytest.mark.parametrize("engine", ["file"], indirect=True)  # the database plays no part here
async def test_a_peer_that_stops_reading_is_dropped_without_holding_up_the_room(
    engine: Engine, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_relay, "MAX_QUEUED_FRAMES", 8)
    sender = await join(engine, ALICE, board.card_room)
    reader = await join(engine, BOB, board.card_room)
    url = engine.ws_url(engine.ticket(CAROL, board.card_room))
    stalled = await connect(url, max_size=None, max_queue=1, open_timeout=TIMEOUT)
    for _ in range(100):  # 25 MiB: more than the socket buffers of the peer that stopped reading
        frame = secrets.token_bytes(256 * 1024)
        await sender.send(frame)
        assert await recv(reader) == frame
    assert await close_code(stalled) == _relay._CLOSE_OVERLOADED
    await sender.close()
    await reader.close()
