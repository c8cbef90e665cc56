"""Live board ticks over Server-Sent Events (profile §8).

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
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .._profile import SSE_HEARTBEAT_SECONDS
from ._webhooks import event_payload, retry_async

__all__ = ["LiveFeed"]

#: Wall-clock seconds between two looks at the events table when nothing woke a stream
#: (events written by another process sharing the database).
POLL_SECONDS = 1.0
#: Events sent in one chunk before the stream looks again.
_PAGE = 500
_MAX_EVENT_ID_CHARS = 18


class LiveFeed:
    """The SSE streams of one sandbox, woken by `notify(board_id)` on the event loop."""

    def __init__(self, heartbeat_seconds: float = SSE_HEARTBEAT_SECONDS) -> None:
        #: Wall-clock seconds without output after which a stream sends a comment line.
        self.heartbeat_seconds = heartbeat_seconds
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._stopping = False

    def notify(self, board_id: str) -> None:
        """Wake the streams of a board (call on the event loop)."""
        for waiter in self._waiters.get(board_id, ()):
            waiter.set()

    def stop(self) -> None:
        """End every stream so the server can shut down."""
        self._stopping = True
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.set()

    async def response(self, conn: sqlite3.Connection, request: Request, board_id: str) -> Response:
        """The `text/event-stream` answer for a board the caller may read."""
        header = request.headers.get("last-event-id")
        if header is None:
            last_id = await retry_async(partial(_newest, conn, board_id))
        elif header.strip().isdecimal() and header.strip().isascii() and len(header.strip()) <= _MAX_EVENT_ID_CHARS:
            last_id = int(header.strip())
        else:
            return JSONResponse(
                {"error": {"code": "BAD_REQUEST", "message": "Last-Event-ID must be an event id"}}, status_code=400
            )
        return StreamingResponse(
            self._stream(conn, board_id, last_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, conn: sqlite3.Connection, board_id: str, last_id: int) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        waiter = asyncio.Event()
        self._waiters.setdefault(board_id, set()).add(waiter)
        last_output = loop.time()
        try:
            while not self._stopping:
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
            waiters = self._waiters.get(board_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[board_id]


def _newest(conn: sqlite3.Connection, board_id: str) -> int:
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events WHERE board_id = ?", (board_id,)).fetchone()
    return int(row[0])


def _page(conn: sqlite3.Connection, board_id: str, after: int) -> list[Sequence[Any]]:
    rows: list[Sequence[Any]] = conn.execute(
        "SELECT id, board_id, verb, card_id, actor_id, timestamp, metadata FROM events"
        " WHERE board_id = ? AND id > ? ORDER BY id LIMIT ?",
        (board_id, after, _PAGE),
    ).fetchall()
    return rows


def _frame(row: Sequence[Any]) -> str:
    data = json.dumps(event_payload(row), separators=(",", ":"))
    return f"id: {row[0]}\nevent: tick\ndata: {data}\n\n"
