"""The WebSocket relay (docs/protocol.md#relay): one room per connection, binary frames to the other sockets.

The relay never looks inside a frame and stores none.  Each socket has one writer task fed by
a queue, so a slow peer never holds up the sender or the rest of the room, and closing a
socket (revocation, oversized frame) is ordered after the frames already queued for it.
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
    is_valid_id,
)
from ._security import ticket_hash
from ._webhooks import retry_async

__all__ = ["MAX_QUEUED_FRAMES", "Relay", "is_member", "room_board"]

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
    queue: asyncio.Queue[bytes | _Close | None] = field(default_factory=asyncio.Queue)
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


def is_member(conn: sqlite3.Connection, user_id: str, board_id: str) -> bool:
    """Whether the user is a member (any role) of the workspace holding the board."""
    row = conn.execute(
        "SELECT 1 FROM boards JOIN memberships ON memberships.workspace_id = boards.workspace_id"
        " WHERE boards.id = ? AND memberships.user_id = ?",
        (board_id, user_id),
    ).fetchone()
    return row is not None


def _still_admitted(conn: sqlite3.Connection, peer: _Peer) -> bool:
    return room_board(conn, peer.room) == peer.board_id and is_member(conn, peer.user_id, peer.board_id)


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
        user_id, room = claimed
        asked = ws.query_params.get("room")
        if asked is not None and asked != room:
            return _Close(RELAY_CLOSE_BAD_TICKET, "ticket is for another room")
        conn = self._conn()
        board_id = await retry_async(partial(room_board, conn, room))
        if board_id is None or not await retry_async(partial(is_member, conn, user_id, board_id)):
            return _Close(RELAY_CLOSE_FORBIDDEN, "not a member of this board")
        return _Peer(ws, user_id, room, board_id)

    def revoke(self, user_id: str, board_ids: Collection[str]) -> None:
        """Close the user's sockets in rooms of those boards with 4403."""
        boards = set(board_ids)
        for peer in self._peers():
            if peer.user_id == user_id and peer.board_id in boards:
                self._close(peer, RELAY_CLOSE_FORBIDDEN, "membership revoked")

    async def recheck(self) -> None:
        """Close (4403) every socket whose user is no longer a member of its room's board."""
        conn = self._conn()
        for peer in self._peers():
            if not await retry_async(partial(_still_admitted, conn, peer)):
                self._close(peer, RELAY_CLOSE_FORBIDDEN, "membership revoked")

    def close_all(self) -> None:
        """Close every socket (1001) because the sandbox is stopping."""
        for peer in self._peers():
            self._close(peer, _CLOSE_GOING_AWAY, "sandbox stopping")

    def _peers(self) -> list[_Peer]:
        return [peer for peers in self._rooms.values() for peer in peers]

    def _consume_ticket(self, ticket: str) -> tuple[str, str] | None:
        """Mark the ticket used in one statement; (user_id, room) if it was valid, unused and fresh."""
        conn = self._conn()
        # fetchall() runs the statement to completion, which commits it (autocommit connection).
        rows = conn.execute(
            "UPDATE ws_tickets SET used = 1 WHERE ticket_hash = ? AND used = 0 AND expires_at > ?"
            " RETURNING user_id, room",
            (ticket_hash(ticket), self._now()),
        ).fetchall()
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

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
            for other in list(self._rooms.get(peer.room, ())):
                if other is peer:
                    continue
                if other.queue.qsize() >= MAX_QUEUED_FRAMES:
                    self._close(other, _CLOSE_OVERLOADED, "too far behind")
                else:
                    other.queue.put_nowait(data)

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
