"""Webhook deliveries of the sandbox: signed POSTs, retries on the profile's schedule, dead letter.

Every timestamp comes from the sandbox clock, so tests drive the whole retry schedule by
advancing a `ManualClock` and calling `Deliveries.run_due()`; no schedule waits on the wall
clock.  Rows are claimed with a lease (an UPDATE guarded on `next_attempt_at`) so two sandbox
processes sharing one database never send the same attempt twice.

Also home of the engine's small SQLite helpers (transactions, waiting out contention).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx

from .._errors import NotFoundError, UsageError
from .._profile import WEBHOOK_RETRY_SCHEDULE
from ..crypto import sign_webhook
from ._security import iso

__all__ = [
    "DELIVERY_LEASE_SECONDS",
    "EVENT_COLUMNS",
    "Deliveries",
    "event_payload",
    "loop_connection",
    "new_ulid",
    "retry_async",
    "retry_sync",
    "transaction",
]

_log = logging.getLogger("mskclient.sandbox")

#: Clock seconds a claimed attempt stays invisible to other workers; if the process dies
#: mid-attempt, the delivery becomes due again after this.
DELIVERY_LEASE_SECONDS = 300.0
#: Wall-clock budget of one POST (connect + send + answer).
DELIVERY_TIMEOUT_SECONDS = 5.0
#: Attempts run at once by one worker.
_CONCURRENCY = 8
#: Seconds a statement is retried while the database is contended before the error stands.
CONTENTION_TIMEOUT = 15.0
_FIRST_PAUSE = 0.002
_LONGEST_PAUSE = 0.05
_T = TypeVar("_T")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EVENT_COLUMNS = "id, board_id, verb, card_id, actor_id, timestamp, metadata"


def new_ulid(t: float) -> str:
    """A ULID (48-bit millisecond time, 80 random bits, Crockford base32) for clock time t."""
    value = ((int(t * 1000) & ((1 << 48) - 1)) << 80) | int.from_bytes(secrets.token_bytes(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _contended(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY (another writer, file database) or SQLITE_LOCKED (a table another connection
    of a shared-cache in-memory database is writing; SQLite does not wait for those)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def retry_sync(work: Callable[[], _T]) -> _T:
    """Run `work`, again after a short pause while the database is contended (blocking; for
    calls made from the app's threads)."""
    deadline, pause = time.monotonic() + CONTENTION_TIMEOUT, _FIRST_PAUSE
    while True:
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if not _contended(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


async def retry_async(work: Callable[[], _T]) -> _T:
    """`retry_sync` for the event loop: pauses without blocking it."""
    deadline, pause = time.monotonic() + CONTENTION_TIMEOUT, _FIRST_PAUSE
    while True:
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if not _contended(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


def loop_connection(connect: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
    """A connection for the event loop: it never waits inside SQLite (busy_timeout 0), so a
    busy database makes `retry_async` pause instead of blocking every socket and stream."""
    conn = connect()
    conn.execute("PRAGMA busy_timeout = 0")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction (BEGIN IMMEDIATE) committed on success, rolled back on any error."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def event_payload(row: Sequence[Any]) -> dict[str, Any]:
    """The webhook-shaped JSON object of an `events` row (selected as `EVENT_COLUMNS`)."""
    return {
        "verb": row[2],
        "boardId": row[1],
        "cardId": row[3],
        "actorId": row[4],
        "timestamp": row[5],
        "metadata": json.loads(row[6]),
    }


def _select_event(conn: sqlite3.Connection, event_id: int) -> Sequence[Any] | None:
    """The `events` row with that id, columns as `event_payload` expects."""
    row: Sequence[Any] | None = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?",  # noqa: S608 - constant column list
        (event_id,),
    ).fetchone()
    return row


@dataclass(frozen=True)
class _Claimed:
    id: str
    verb: str
    payload: str
    attempts: int
    url: str | None
    secret: str | None
    active: bool


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    error: str | None
    retryable: bool

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Deliveries:
    """Creates delivery rows for events and attempts the due ones."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], clock_time: Callable[[], float]) -> None:
        self._connect = connect
        self._now = clock_time
        self._lock: asyncio.Lock | None = None
        self._client: httpx.AsyncClient | None = None
        self._conn: sqlite3.Connection | None = None

    async def start(self) -> None:
        """Open the worker's connection and HTTP client (on the loop that will run deliveries)."""
        self._lock = asyncio.Lock()
        self._conn = loop_connection(self._connect)
        self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_SECONDS, follow_redirects=False)

    async def stop(self) -> None:
        """Wait for running attempts, then close the HTTP client and the connection."""
        if self._lock is None:
            return
        async with self._lock:
            if self._client is not None:
                await self._client.aclose()
                self._client = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def create(self, conn: sqlite3.Connection, event_id: int) -> tuple[str, int]:
        """Insert one pending delivery per active webhook of the event's board subscribed to
        its verb; returns (board_id, number of deliveries created)."""
        event = _select_event(conn, event_id)
        if event is None:
            raise UsageError(f"no event {event_id} to publish")
        board_id, verb = str(event[1]), str(event[2])
        body = json.dumps(event_payload(event), separators=(",", ":"))
        now = self._now()
        stamp = iso(now)
        created = 0
        with transaction(conn):
            hooks = conn.execute("SELECT id, events FROM webhooks WHERE board_id = ? AND active = 1", (board_id,))
            for hook_id, events in hooks.fetchall():
                if verb not in _verbs(events):
                    continue
                conn.execute(
                    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, verb, payload, status, attempts,"
                    " next_attempt_at, last_status, last_error, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, NULL, NULL, ?, ?)",
                    (new_ulid(now), hook_id, event_id, verb, body, now, stamp, stamp),
                )
                created += 1
        return board_id, created

    def requeue(self, conn: sqlite3.Connection, delivery_id: str) -> None:
        """Make a delivery pending and due now, with a fresh retry schedule (attempts reset)."""
        now = self._now()
        with transaction(conn):
            cursor = conn.execute(
                "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                " updated_at = ? WHERE id = ?",
                (now, iso(now), delivery_id),
            )
            if cursor.rowcount != 1:
                raise NotFoundError(404, "NOT_FOUND", "delivery not found")

    async def run_due(self) -> int:
        """Attempt every delivery due at the current clock time; returns how many were tried.

        Runs are serialised, so when this returns every delivery that was due when it was
        called has been attempted (by this run or by one that was already going)."""
        if self._lock is None:
            raise UsageError("the realtime engine is not started")
        async with self._lock:
            if self._conn is None or self._client is None:
                raise UsageError("the realtime engine is not started")
            conn = self._conn
            claimed = await retry_async(partial(self._claim, conn, self._now()))
            if not claimed:
                return 0
            gate = asyncio.Semaphore(_CONCURRENCY)

            async def attempt(item: _Claimed) -> tuple[_Claimed, _Outcome]:
                async with gate:
                    return item, await self._attempt(item)

            started = self._now()
            for item, outcome in await asyncio.gather(*(attempt(item) for item in claimed)):
                await retry_async(partial(self._record, conn, item, outcome, started))
            return len(claimed)

    def _claim(self, conn: sqlite3.Connection, now: float) -> list[_Claimed]:
        with transaction(conn):
            rows = conn.execute(
                "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE status = 'pending'"
                " AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?"
                " RETURNING id, webhook_id, verb, payload, attempts",
                (now + DELIVERY_LEASE_SECONDS, now),
            ).fetchall()
            claimed = []
            for delivery_id, webhook_id, verb, payload, attempts in rows:
                hook = conn.execute("SELECT url, secret, active FROM webhooks WHERE id = ?", (webhook_id,)).fetchone()
                claimed.append(
                    _Claimed(
                        id=delivery_id,
                        verb=verb,
                        payload=payload,
                        attempts=attempts,
                        url=None if hook is None else hook[0],
                        secret=None if hook is None else hook[1],
                        active=hook is not None and bool(hook[2]),
                    )
                )
        return sorted(claimed, key=lambda item: item.id)

    async def _attempt(self, item: _Claimed) -> _Outcome:
        if item.url is None or item.secret is None:
            return _Outcome(None, "webhook deleted", retryable=False)
        if not item.active:
            return _Outcome(None, "webhook inactive", retryable=False)
        assert self._client is not None
        body = item.payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-MSKanban-Event": item.verb,
            "X-MSKanban-Delivery-Id": item.id,
            "X-MSKanban-Signature": sign_webhook(item.secret, int(self._now()), body),
        }
        try:
            response = await self._client.post(item.url, content=body, headers=headers)
        except httpx.InvalidURL as exc:
            return _Outcome(None, f"invalid URL: {exc}", retryable=False)
        except httpx.UnsupportedProtocol as exc:
            return _Outcome(None, f"unsupported URL: {exc}", retryable=False)
        except httpx.HTTPError as exc:
            return _Outcome(None, f"{type(exc).__name__}: {exc}"[:500], retryable=True)
        # Profile choice: only 5xx (and network errors) are retried; any other non-2xx answer
        # means the receiver refuses the delivery, so it goes straight to the dead letter.
        return _Outcome(response.status_code, None, retryable=response.status_code >= 500)

    def _record(self, conn: sqlite3.Connection, item: _Claimed, outcome: _Outcome, started: float) -> None:
        attempts = item.attempts + 1
        if outcome.delivered:
            status, due = "delivered", None
        elif outcome.retryable and attempts <= len(WEBHOOK_RETRY_SCHEDULE):
            status, due = "pending", started + WEBHOOK_RETRY_SCHEDULE[attempts - 1]
        else:
            status, due = "dead", None
        if not outcome.delivered:
            _log.info("webhook delivery %s attempt %d failed: %s", item.id, attempts, outcome.error or outcome.status)
        with transaction(conn):
            conn.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?,"
                " last_error = ?, updated_at = ? WHERE id = ?",
                (status, attempts, due, outcome.status, outcome.error, iso(self._now()), item.id),
            )


def _verbs(events: str) -> frozenset[str]:
    """The verbs a webhook subscribes to (its `events` JSON list); malformed lists match nothing."""
    try:
        value = json.loads(events)
    except ValueError:
        return frozenset()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(item for item in value if isinstance(item, str))
