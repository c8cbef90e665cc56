"""Live board ticks over Server-Sent Events (docs/protocol.md#sse).

The `events` table is the single source: a stream sends every row of its board with an id
above the last one it sent, so `Last-Event-ID` resumption, events committed by another
sandbox process and events published here all take the same path.  Publishing only wakes the
streams early; a slow poll catches the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .._profile import SSE_HEARTBEAT_SECONDS
from ._http import HttpError, error_response
from ._relay import is_member, session_alive
from ._webhooks import EVENT_COLUMNS, event_payload, retry_async

__all__ = ["LiveFeed"]

#: Wall-clock seconds between two looks at the events table when nothing woke a stream
#: (events written by another process sharing the database).
POLL_SECONDS = 1.0
#: Events sent in one chunk before the stream looks again.
_PAGE = 500
_MAX_EVENT_ID_CHARS = 18


@dataclass(eq=False)
class _Subscriber:
    board_id: str
    user_id: str | None
    session_hash: str | None
    waiter: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False

    def end(self) -> None:
        self.ended = True
        self.waiter.set()


class LiveFeed:
    """The SSE streams of one sandbox, woken by `notify(board_id)` on the event loop."""

    def __init__(self, heartbeat_seconds: float = SSE_HEARTBEAT_SECONDS) -> None:
        #: Wall-clock seconds without output after which a stream sends a comment line.
        self.heartbeat_seconds = heartbeat_seconds
        self._subscribers: dict[str, set[_Subscriber]] = {}

    def notify(self, board_id: str) -> None:
        """Wake the streams of a board (call on the event loop)."""
        for subscriber in self._subscribers.get(board_id, ()):
            subscriber.waiter.set()

    def revoke(self, user_id: str, board_ids: Collection[str]) -> None:
        """End the user's streams of those boards."""
        for subscriber in self._all():
            if subscriber.user_id == user_id and subscriber.board_id in board_ids:
                subscriber.end()

    def end_sessions(self, session_hashes: Collection[str]) -> None:
        """End the streams opened under those sessions (they ended)."""
        for subscriber in self._all():
            if subscriber.session_hash in session_hashes:
                subscriber.end()

    async def recheck(self, conn: sqlite3.Connection, now: float) -> None:
        """End the streams whose session ended or whose user is no longer a member of the board."""
        for subscriber in self._all():
            user_id = subscriber.user_id
            if not await retry_async(partial(session_alive, conn, subscriber.session_hash, now)) or (
                user_id is not None and not await retry_async(partial(is_member, conn, user_id, subscriber.board_id))
            ):
                subscriber.end()

    def stop(self) -> None:
        """End every stream so the server can shut down."""
        for subscriber in self._all():
            subscriber.end()

    async def response(
        self, conn: sqlite3.Connection, request: Request, board_id: str, user_id: str | None, session_hash: str | None
    ) -> Response:
        """The `text/event-stream` answer for a board the caller may read; a stream with a
        `user_id` ends when that user stops being a member, one with a `session_hash` when
        that session ends."""
        header = request.headers.get("last-event-id")
        if header is None:
            last_id = await retry_async(partial(_newest, conn, board_id))
        elif (wanted := header.strip()).isdecimal() and wanted.isascii() and len(wanted) <= _MAX_EVENT_ID_CHARS:
            last_id = int(wanted)
        else:
            return error_response(HttpError("BAD_REQUEST", "Last-Event-ID must be an event id"))
        subscriber = _Subscriber(board_id, user_id, session_hash)
        self._subscribers.setdefault(board_id, set()).add(subscriber)
        return StreamingResponse(
            self._stream(conn, subscriber, last_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def _all(self) -> list[_Subscriber]:
        return [subscriber for subscribers in self._subscribers.values() for subscriber in subscribers]

    async def _stream(self, conn: sqlite3.Connection, subscriber: _Subscriber, last_id: int) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        waiter, board_id = subscriber.waiter, subscriber.board_id
        last_output = loop.time()
        try:
            while not subscriber.ended:
                waiter.clear()
                rows = await retry_async(partial(_page, conn, board_id, last_id))
                if rows:
                    last_id = int(rows[-1][0])
                    yield "".join(_frame(row) for row in rows)
                    last_output = loop.time()
                    if len(rows) == _PAGE:
                        continue
                quiet = loop.time() - last_output
                if quiet >= self.heartbeat_seconds:
                    yield ": heartbeat\n\n"
                    last_output = loop.time()
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), min(self.heartbeat_seconds - quiet, POLL_SECONDS))
        finally:
            subscribers = self._subscribers.get(board_id)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[board_id]


def _newest(conn: sqlite3.Connection, board_id: str) -> int:
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events WHERE board_id = ?", (board_id,)).fetchone()
    return int(row[0])


def _page(conn: sqlite3.Connection, board_id: str, after: int) -> list[Sequence[Any]]:
    rows: list[Sequence[Any]] = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE board_id = ? AND id > ? ORDER BY id LIMIT ?",  # noqa: S608
        (board_id, after, _PAGE),
    ).fetchall()
    return rows


def _frame(row: Sequence[Any]) -> str:
    data = json.dumps(event_payload(row), separators=(",", ":"))
    return f"id: {row[0]}\nevent: tick\ndata: {data}\n\n"
