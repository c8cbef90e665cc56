"""The sandbox's realtime engine: WebSocket relay, SSE live ticks and webhook delivery.

The HTTP app owns one `Realtime`: it calls `publish(event_id)` after committing each
`events` row, `revoke()` when a member goes, `requeue()` for the requeue route, and mounts
`websocket()` and `live()`.  The engine keeps its mutable state on the event loop that
called `start()`; the methods the app may call from worker threads (`publish`, `revoke`,
`requeue`) hand their loop work over with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from .._errors import UsageError
from .._profile import SSE_HEARTBEAT_SECONDS
from ._config import ManualClock, SandboxConfig
from ._db import connect
from ._relay import Relay
from ._sse import LiveFeed
from ._webhooks import Deliveries, loop_connection, retry_sync

__all__ = ["Realtime"]

_log = logging.getLogger("mskclient.sandbox")
_T = TypeVar("_T")

#: Wall-clock seconds between two looks for due deliveries when nothing woke the worker.
WORKER_POLL_SECONDS = 1.0
#: Wall-clock seconds between two membership and session checks of every relay socket and
#: SSE stream (catches removals and logouts made by another process on the same database, and
#: expired sessions; removals and logouts here call `revoke` / `end_sessions` at once).
RECHECK_SECONDS = 5.0


class Realtime:
    """Relay, live feed and webhook worker of one sandbox server."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        heartbeat_seconds: float = SSE_HEARTBEAT_SECONDS,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self._config = config
        #: Wall-clock seconds between two membership checks of every relay socket.
        self.recheck_seconds = recheck_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._side_conn: sqlite3.Connection | None = None
        self._side_lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._feed = LiveFeed(heartbeat_seconds)
        self._relay = Relay(self._connection, config.clock.time)
        self._deliveries = Deliveries(lambda: connect(config), config.clock.time)
        if isinstance(config.clock, ManualClock):
            config.clock.on_advance(self._clock_advanced)

    @property
    def heartbeat_seconds(self) -> float:
        """Seconds of silence after which an SSE stream sends a comment line."""
        return self._feed.heartbeat_seconds

    @heartbeat_seconds.setter
    def heartbeat_seconds(self, seconds: float) -> None:
        self._feed.heartbeat_seconds = seconds

    async def start(self) -> None:
        """Open the engine's connections and start the delivery/recheck worker on this loop."""
        if self._loop is not None:
            raise UsageError("the realtime engine is already started")
        self._loop = asyncio.get_running_loop()
        self._conn = loop_connection(lambda: connect(self._config))
        await self._deliveries.start()
        self._wake = asyncio.Event()
        self._wake.set()  # deliveries left pending by an earlier run
        self._worker = asyncio.create_task(self._work(), name="msk-realtime-worker")
        self._worker.add_done_callback(_report_crash)

    async def stop(self) -> None:
        """End the SSE streams, close the sockets (1001), stop the worker, close everything.

        Call it before stopping the HTTP server too: open SSE streams otherwise hold up a
        graceful shutdown.  Calling it again is harmless."""
        if self._loop is None:
            return
        self._feed.stop()
        self._relay.close_all()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await self._deliveries.stop()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        with self._side_lock:
            if self._side_conn is not None:
                self._side_conn.close()
                self._side_conn = None
        self._loop = None

    def publish(self, event_id: int) -> None:
        """Fan an `events` row out (call after its COMMIT, from any thread): deliveries for the
        board's subscribed webhooks are created before this returns; streams and the
        delivery worker are woken."""
        board_id, created = self._side(lambda conn: self._deliveries.create(conn, event_id))
        self._soon(self._published, board_id, created)

    def requeue(self, delivery_id: str) -> None:
        """Make a delivery pending and due now (any thread); NotFoundError if there is none."""
        self._side(lambda conn: self._deliveries.requeue(conn, delivery_id))
        self._soon(self._wake_worker)

    def revoke(self, user_id: str, board_ids: Collection[str]) -> None:
        """Close the user's relay sockets in rooms of those boards with 4403 and end their
        SSE streams of those boards (any thread)."""
        self._soon(self._revoke, user_id, frozenset(board_ids))

    def role_changed(self, user_id: str, board_ids: Collection[str], role: str) -> None:
        """Take up the user's new role in the relay rooms of those boards (any thread): an
        observer's frames are delivered marked, a writer's as they are."""
        self._soon(self._relay.role_changed, user_id, frozenset(board_ids), role)

    def end_sessions(self, session_hashes: Collection[str]) -> None:
        """Close the relay sockets (4401) and end the SSE streams opened under those sessions,
        which just ended (logout, recovery; any thread)."""
        self._soon(self._end_sessions, frozenset(session_hashes))

    async def live(
        self, request: Request, board_id: str, user_id: str | None = None, session_hash: str | None = None
    ) -> Response:
        """The SSE stream of a board; the caller has already authorised the request.  Given
        the caller's `user_id`, the stream ends once that user is no longer a member; given
        its `session_hash`, once that session ends."""
        return await self._feed.response(self._connection(), request, board_id, user_id, session_hash)

    async def websocket(self, ws: WebSocket) -> None:
        """Serve one relay connection (`/api/ws?t=<ticket>`); the ticket alone authorises, for
        as long as the session that asked for it lasts."""
        await self._relay.serve(ws)

    async def run_due_deliveries(self) -> int:
        """Attempt every delivery due now on the engine's loop, from any loop; returns how
        many were attempted.  Tests call it after advancing a ManualClock."""
        loop = self._loop
        if loop is None:
            raise UsageError("the realtime engine is not started")
        if asyncio.get_running_loop() is loop:
            return await self._deliveries.run_due()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._deliveries.run_due(), loop))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise UsageError("the realtime engine is not started")
        return self._conn

    def _side(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` on the connection used by calls from outside the loop, one at a time,
        again while the database is contended."""
        with self._side_lock:
            if self._side_conn is None:
                self._side_conn = connect(self._config)
            conn = self._side_conn
            return retry_sync(lambda: work(conn))

    def _soon(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed under us: nothing to wake
            loop.call_soon_threadsafe(callback, *args)

    def _revoke(self, user_id: str, board_ids: frozenset[str]) -> None:
        self._relay.revoke(user_id, board_ids)
        self._feed.revoke(user_id, board_ids)

    def _end_sessions(self, session_hashes: frozenset[str]) -> None:
        self._relay.end_sessions(session_hashes)
        self._feed.end_sessions(session_hashes)

    def _published(self, board_id: str, created: int) -> None:
        self._feed.notify(board_id)
        if created:
            self._wake_worker()

    def _wake_worker(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _clock_advanced(self, _now: float) -> None:
        self._soon(self._wake_worker)

    async def _work(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        recheck_at = loop.time() + self.recheck_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(WORKER_POLL_SECONDS, recheck_at - loop.time()))
            self._wake.clear()
            try:
                await self._deliveries.run_due()
                if loop.time() >= recheck_at:
                    recheck_at = loop.time() + self.recheck_seconds
                    await self._relay.recheck()
                    await self._feed.recheck(self._connection(), self._config.clock.time())
            except (sqlite3.Error, UsageError) as exc:
                # A busy or vanished database must not kill the worker; the next round retries.
                _log.warning("realtime worker round failed: %s", exc)


def _report_crash(task: asyncio.Task[None]) -> None:
    """Say at once (not at garbage collection) that the worker died of an unexpected error."""
    if not task.cancelled() and task.exception() is not None:
        _log.error("realtime worker stopped: %r; webhooks are no longer delivered", task.exception())
