"""The WebSocket relay (docs/protocol.md#relay): one room per connection, binary frames to the other sockets.

The relay never looks inside a frame and stores none.  Each socket has one writer task fed by
a queue, so a slow peer never holds up the sender or the rest of the room, and closing a
socket (revocation, oversized frame) is ordered after the frames already queued for it.
Frames of a read-only member (an observer) go out as text, base64url of the same bytes, so
receivers know them for what they are (`_profile.RELAY_READ_ONLY_ROLES`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial

from starlette.websockets import WebSocket, WebSocketDisconnect

from .._profile import (
    RELAY_CLOSE_BAD_TICKET,
    RELAY_CLOSE_FORBIDDEN,
    RELAY_CLOSE_TOO_BIG,
    RELAY_CLOSE_UNSUPPORTED,
    RELAY_MAX_FRAME,
    RELAY_READ_ONLY_ROLES,
    is_valid_id,
)
from ..crypto import b64u_encode
from ._security import ticket_hash
from ._webhooks import retry_async

__all__ = ["MAX_QUEUED_FRAMES", "Relay", "is_member", "member_role", "room_board", "session_alive"]

_log = logging.getLogger("mskclient.sandbox")

#: Frames queued for one socket before the relay gives up on it (1013: try again later).
MAX_QUEUED_FRAMES = 1024
_CLOSE_OVERLOADED = 1013
_CLOSE_GOING_AWAY = 1001
_MAX_TICKET_CHARS = 512


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


@dataclass(eq=False)
class _Peer:
    ws: WebSocket
    user_id: str
    room: str
    board_id: str
    #: The session that asked for the ticket (None: a ticket made without one).
    session_hash: str | None
    #: Whether the user's role may not edit: their frames are delivered marked (as text).
    read_only: bool
    queue: asyncio.Queue[bytes | str | _Close | None] = field(default_factory=asyncio.Queue)
    closing: bool = False


def room_board(conn: sqlite3.Connection, room: str) -> str | None:
    """The board a `board:<id>` or `card:<id>` room belongs to, or None if there is none."""
    kind, _, entity_id = room.partition(":")
    if not is_valid_id(entity_id):
        return None
    if kind == "board":
        row = conn.execute("SELECT id FROM boards WHERE id = ?", (entity_id,)).fetchone()
    elif kind == "card":
        row = conn.execute("SELECT board_id FROM cards WHERE id = ?", (entity_id,)).fetchone()
    else:
        return None
    return None if row is None else str(row[0])


def member_role(conn: sqlite3.Connection, user_id: str, board_id: str) -> str | None:
    """The user's role in the workspace holding the board, or None if not a member."""
    row = conn.execute(
        "SELECT memberships.role FROM boards JOIN memberships ON memberships.workspace_id = boards.workspace_id"
        " WHERE boards.id = ? AND memberships.user_id = ?",
        (board_id, user_id),
    ).fetchone()
    return None if row is None else str(row[0])


def is_member(conn: sqlite3.Connection, user_id: str, board_id: str) -> bool:
    """Whether the user is a member (any role) of the workspace holding the board."""
    return member_role(conn, user_id, board_id) is not None


def session_alive(conn: sqlite3.Connection, session_hash: str | None, now: float) -> bool:
    """Whether the session is still logged in (True for a stream opened without one)."""
    if session_hash is None:
        return True
    row = conn.execute("SELECT 1 FROM sessions WHERE token_hash = ? AND expires_at > ?", (session_hash, now)).fetchone()
    return row is not None


def _still_admitted(conn: sqlite3.Connection, peer: _Peer, now: float) -> _Close | str:
    """The close a socket gets now, or the user's current role while it may stay."""
    if not session_alive(conn, peer.session_hash, now):
        return _Close(RELAY_CLOSE_BAD_TICKET, "session ended")
    role = member_role(conn, peer.user_id, peer.board_id)
    if room_board(conn, peer.room) != peer.board_id or role is None:
        return _Close(RELAY_CLOSE_FORBIDDEN, "membership revoked")
    return role


class Relay:
    """Rooms of connected sockets; all methods run on the sandbox's event loop."""

    def __init__(self, conn: Callable[[], sqlite3.Connection], clock_time: Callable[[], float]) -> None:
        self._conn = conn
        self._now = clock_time
        self._rooms: dict[str, set[_Peer]] = {}

    async def serve(self, ws: WebSocket) -> None:
        """Run one relay connection from upgrade to close."""
        admitted = await self._admit(ws)
        if isinstance(admitted, _Close):
            # Accept, then close: a close before the handshake would be an HTTP 403 and the
            # client would never see the code that says why.
            await ws.accept()
            await ws.close(admitted.code, admitted.reason)
            return
        peer = admitted
        # Join the room before completing the handshake, so a client may send (and be sent
        # to) as soon as its connection is open; frames wait in its queue meanwhile.
        self._rooms.setdefault(peer.room, set()).add(peer)
        try:
            await ws.accept()
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._leave(peer)
            return
        writer = asyncio.create_task(self._write(peer))
        try:
            await self._read(peer)
        finally:
            self._leave(peer)
            peer.queue.put_nowait(None)
            await writer

    async def _admit(self, ws: WebSocket) -> _Peer | _Close:
        """The peer a connection's ticket admits, or the close that refuses it."""
        ticket = ws.query_params.get("t", "")
        claimed = None
        if 0 < len(ticket) <= _MAX_TICKET_CHARS:
            claimed = await retry_async(partial(self._consume_ticket, ticket))
        if claimed is None:
            return _Close(RELAY_CLOSE_BAD_TICKET, "bad, expired or reused ticket")
        user_id, room, session_hash = claimed
        asked = ws.query_params.get("room")
        if asked is not None and asked != room:
            return _Close(RELAY_CLOSE_BAD_TICKET, "ticket is for another room")
        conn = self._conn()
        board_id = await retry_async(partial(room_board, conn, room))
        role = None if board_id is None else await retry_async(partial(member_role, conn, user_id, board_id))
        if board_id is None or role is None:
            return _Close(RELAY_CLOSE_FORBIDDEN, "not a member of this board")
        return _Peer(ws, user_id, room, board_id, session_hash, role in RELAY_READ_ONLY_ROLES)

    def revoke(self, user_id: str, board_ids: Collection[str]) -> None:
        """Close the user's sockets in rooms of those boards with 4403."""
        boards = set(board_ids)
        for peer in self._peers():
            if peer.user_id == user_id and peer.board_id in boards:
                self._close(peer, RELAY_CLOSE_FORBIDDEN, "membership revoked")

    def role_changed(self, user_id: str, board_ids: Collection[str], role: str) -> None:
        """Mark (or stop marking) the frames the user sends from now on in rooms of those boards."""
        for peer in self._peers():
            if peer.user_id == user_id and peer.board_id in board_ids:
                peer.read_only = role in RELAY_READ_ONLY_ROLES

    def end_sessions(self, session_hashes: Collection[str]) -> None:
        """Close (4401) the sockets whose tickets those sessions asked for: they ended."""
        for peer in self._peers():
            if peer.session_hash in session_hashes:
                self._close(peer, RELAY_CLOSE_BAD_TICKET, "session ended")

    async def recheck(self) -> None:
        """Close every socket whose session ended (4401) or whose user is no longer a member
        of its room's board (4403); take up role changes made by another process."""
        conn = self._conn()
        now = self._now()
        # Sockets of one session in one room (a board open in many windows) share one verdict:
        # the queries run on the event loop, so every socket's frames wait for them.
        verdicts: dict[tuple[str | None, str, str, str], _Close | str] = {}
        for peer in self._peers():
            same = (peer.session_hash, peer.user_id, peer.board_id, peer.room)
            admitted = verdicts.get(same)
            if admitted is None:
                admitted = verdicts[same] = await retry_async(partial(_still_admitted, conn, peer, now))
            if isinstance(admitted, _Close):
                self._close(peer, admitted.code, admitted.reason)
            else:
                peer.read_only = admitted in RELAY_READ_ONLY_ROLES

    def close_all(self) -> None:
        """Close every socket (1001) because the sandbox is stopping."""
        for peer in self._peers():
            self._close(peer, _CLOSE_GOING_AWAY, "sandbox stopping")

    def _peers(self) -> list[_Peer]:
        return [peer for peers in self._rooms.values() for peer in peers]

    def _consume_ticket(self, ticket: str) -> tuple[str, str, str | None] | None:
        """Mark the ticket used in one statement; (user_id, room, session_hash) if it was valid,
        unused and fresh, and its session is still logged in."""
        conn = self._conn()
        # fetchall() runs the statement to completion, which commits it (autocommit connection).
        rows = conn.execute(
            "UPDATE ws_tickets SET used = 1 WHERE ticket_hash = ? AND used = 0 AND expires_at > ?"
            " RETURNING user_id, room, session_hash",
            (ticket_hash(ticket), self._now()),
        ).fetchall()
        if not rows or not session_alive(conn, rows[0][2], self._now()):
            return None
        return str(rows[0][0]), str(rows[0][1]), rows[0][2]

    async def _read(self, peer: _Peer) -> None:
        while True:
            message = await peer.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                self._close(peer, RELAY_CLOSE_UNSUPPORTED, "binary frames only")
                return
            if len(data) > RELAY_MAX_FRAME:
                self._close(peer, RELAY_CLOSE_TOO_BIG, "frame over 1 MiB")
                return
            if peer.closing:
                continue
            outgoing: bytes | str = b64u_encode(data) if peer.read_only else data
            for other in list(self._rooms.get(peer.room, ())):
                if other is peer:
                    continue
                if other.queue.qsize() >= MAX_QUEUED_FRAMES:
                    self._close(other, _CLOSE_OVERLOADED, "too far behind")
                else:
                    other.queue.put_nowait(outgoing)

    async def _write(self, peer: _Peer) -> None:
        """Send queued frames, then the close if one was queued; stops at None or a dead socket."""
        try:
            while True:
                item = await peer.queue.get()
                if item is None:
                    return
                if isinstance(item, _Close):
                    await peer.ws.close(item.code, item.reason)
                    return
                if isinstance(item, str):
                    await peer.ws.send_text(item)  # a read-only member's frame, marked
                else:
                    await peer.ws.send_bytes(item)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            _log.debug("relay socket in %s went away: %s", peer.room, type(exc).__name__)

    def _close(self, peer: _Peer, code: int, reason: str) -> None:
        """Take the peer out of its room and queue its close after the frames already queued."""
        if peer.closing:
            return
        peer.closing = True
        self._leave(peer)
        peer.queue.put_nowait(_Close(code, reason))

    def _leave(self, peer: _Peer) -> None:
        peers = self._rooms.get(peer.room)
        if peers is not None:
            peers.discard(peer)
            if not peers:
                del self._rooms[peer.room]
