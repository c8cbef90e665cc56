"""The request machinery shared by every route family: a route registry whose wrapper reads
the body (bounded), opens the transaction, authenticates, rate-limits, authorises and turns
errors into the profile's error shape; plus access checks and row serialisation."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from .._profile import SESSION_COOKIE, is_valid_delivery_id, is_valid_id
from ._config import SandboxConfig
from ._db import readable
from ._http import HttpError, check_id, error_response, read_body, read_json
from ._security import RateLimiter, hash_secret, iso

__all__ = [
    "MANAGERS",
    "WRITERS",
    "Api",
    "Ctx",
    "Later",
    "RealtimeEngine",
    "Shared",
    "out",
    "snake",
]

log = logging.getLogger("mskclient.sandbox")

WRITERS = frozenset({"owner", "admin", "member"})
MANAGERS = frozenset({"owner", "admin"})

#: Columns never sent to clients (verifiers, secrets, blobs, internal links).
_HIDDEN = frozenset(
    {
        "content",
        "secret",
        "salt",
        "verifier",
        "verifier_salt",
        "totp_secret",
        "totp_pending",
        "totp_last_step",
        "token_hash",
    }
)
_BOOLEANS = frozenset({"archived", "done", "enabled", "active", "read", "used"})
_JSON_COLUMNS = frozenset({"trigger", "action", "events", "custom_fields", "metadata", "payload"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snake(name: str) -> str:
    """camelCase (body fields, path parameters) to the snake_case of the columns."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def out(row: sqlite3.Row | dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A database row as the profile's JSON (camelCase, booleans, decoded JSON columns)."""
    data: dict[str, Any] = {}
    items = row.items() if isinstance(row, dict) else zip(row.keys(), tuple(row), strict=True)
    for key, value in items:
        if key.startswith("_") or key in _HIDDEN:
            continue
        if key in _BOOLEANS:
            value = bool(value)
        elif key in _JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        data[_camel(key)] = value
    data.update(extra)
    return data


class RealtimeEngine(Protocol):
    """What the HTTP app needs of the realtime engine (`_realtime.Realtime`)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def publish(self, event_id: int) -> None: ...
    async def live(
        self, request: Request, board_id: str, user_id: str | None = None, session_hash: str | None = None
    ) -> Response: ...
    async def websocket(self, ws: WebSocket) -> None: ...
    def revoke(self, user_id: str, board_ids: Collection[str]) -> None: ...
    def end_sessions(self, session_hashes: Collection[str]) -> None: ...
    def role_changed(self, user_id: str, board_ids: Collection[str], role: str) -> None: ...
    def requeue(self, delivery_id: str) -> None: ...


@dataclass
class Shared:
    """State of one app instance: configuration, server secret, limiter, realtime engine."""

    config: SandboxConfig
    conn: sqlite3.Connection
    secret: bytes
    limiter: RateLimiter
    realtime: RealtimeEngine

    def now(self) -> float:
        return self.config.clock.time()


@dataclass
class Later:
    """A response produced after the transaction committed (SSE streams)."""

    make: Callable[[], Awaitable[Response]]


@dataclass
class Ctx:
    """One request: its connection (inside the route's transaction), caller and pending events."""

    request: Request
    shared: Shared
    now: float
    body: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""
    form: FormData | None = None
    user_id: str = ""
    #: Keyed hash of the caller's session token (sessions.token_hash), once authenticated.
    session_hash: str = ""
    events: list[int] = field(default_factory=list)
    #: Whether this request already counted against its rate limit.
    counted: bool = False
    #: Callbacks to run once the transaction committed (closing revoked sockets).
    after: list[Callable[[], None]] = field(default_factory=list)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.shared.conn

    @property
    def ts(self) -> str:
        return iso(self.now)

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return cast("sqlite3.Row | None", self.conn.execute(sql, args).fetchone())

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def run(self, sql: str, *args: Any) -> None:
        self.conn.execute(sql, args)

    def insert(self, table: str, values: dict[str, Any]) -> sqlite3.Row:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(values.values()))  # noqa: S608
        row = self.one(f"SELECT {readable(table)} FROM {table} WHERE id = ?", values["id"])  # noqa: S608
        assert row is not None
        return row

    def update(self, table: str, row_id: str, values: dict[str, Any]) -> sqlite3.Row:
        values = {**values, "updated_at": self.ts}
        sets = ", ".join(f"{name} = ?" for name in values)
        self.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*values.values(), row_id))  # noqa: S608
        row = self.one(f"SELECT {readable(table)} FROM {table} WHERE id = ?", row_id)  # noqa: S608
        assert row is not None
        return row

    def emit(
        self, board_id: str, verb: str, card_id: str | None, metadata: dict[str, Any], *, actor: str | None = ""
    ) -> None:
        """Log one board event (activity feed, SSE, webhooks); published after COMMIT."""
        actor_id = self.user_id if actor == "" else actor
        cursor = self.conn.execute(
            "INSERT INTO events (board_id, verb, card_id, actor_id, timestamp, metadata) VALUES (?, ?, ?, ?, ?, ?)",
            (board_id, verb, card_id, actor_id, self.ts, json.dumps(metadata, separators=(",", ":"))),
        )
        assert cursor.lastrowid is not None
        self.events.append(cursor.lastrowid)

    # --- access ------------------------------------------------------------------------

    def role(self, workspace_id: str, user_id: str | None = None) -> str | None:
        row = self.one(
            "SELECT role FROM memberships WHERE workspace_id = ? AND user_id = ?", workspace_id, user_id or self.user_id
        )
        return None if row is None else str(row["role"])

    def workspace(self, workspace_id: str, roles: Iterable[str] | None = None) -> sqlite3.Row:
        """The workspace if the caller is a member (else 404) with one of `roles` (else 403)."""
        check_id(workspace_id, "workspace")
        row = self.one("SELECT * FROM workspaces WHERE id = ?", workspace_id)
        role = self.role(workspace_id) if row is not None else None
        if row is None or role is None:
            raise HttpError("NOT_FOUND", "no such workspace")
        if roles is not None and role not in roles:
            raise HttpError("FORBIDDEN", f"the {role} role may not do this")
        return row

    def board(self, board_id: str, *, write: bool = False, roles: Iterable[str] | None = None) -> sqlite3.Row:
        """The board if the caller may read it (404 otherwise); write needs a writer role (403)."""
        check_id(board_id, "board")
        row = self.one("SELECT * FROM boards WHERE id = ?", board_id)
        role = self.role(row["workspace_id"]) if row is not None else None
        if row is None or role is None:
            raise HttpError("NOT_FOUND", "no such board")
        allowed = roles if roles is not None else (WRITERS if write else None)
        if allowed is not None and role not in allowed:
            raise HttpError("FORBIDDEN", f"the {role} role may not do this")
        return row

    def load(self, table: str, row_id: str, *, write: bool = False, roles: Iterable[str] | None = None) -> sqlite3.Row:
        """A board-scoped row by id after the board access check; `_board` holds its board id."""
        if table == "webhook_deliveries":
            what, valid = "webhook delivery", is_valid_delivery_id(row_id)
        else:
            what, valid = table.rstrip("s").replace("_", " "), is_valid_id(row_id)
        row = self.one(_BOARD_OF[table], row_id) if valid else None
        if row is None:
            raise HttpError("NOT_FOUND", f"no such {what}")
        try:
            self.board(row["_board"], write=write, roles=roles)
        except HttpError as exc:
            if exc.status == 404:
                raise HttpError("NOT_FOUND", f"no such {what}") from None
            raise
        return row


_BOARD_OF: dict[str, str] = {
    **{
        table: f"SELECT t.*, t.board_id AS _board FROM {table} t WHERE t.id = ?"  # noqa: S608
        for table in (
            "columns",
            "cards",
            "labels",
            "milestones",
            "card_templates",
            "custom_fields",
            "automations",
            "webhooks",
        )
    },
    **{
        table: f"SELECT {readable(table, 't')}, c.board_id AS _board FROM {table} t "  # noqa: S608
        "JOIN cards c ON c.id = t.card_id WHERE t.id = ?"
        for table in ("comments", "checklists", "attachments")
    },
    "checklist_items": "SELECT t.*, c.board_id AS _board, l.card_id AS _card FROM checklist_items t "
    "JOIN checklists l ON l.id = t.checklist_id JOIN cards c ON c.id = l.card_id WHERE t.id = ?",
    "webhook_deliveries": "SELECT t.*, w.board_id AS _board FROM webhook_deliveries t "
    "JOIN webhooks w ON w.id = t.webhook_id WHERE t.id = ?",
}

Handler = Callable[..., Any]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    auth: bool
    group: str | None
    body: str  # "json", "json?" (optional), "none", "multipart"


class Api:
    """Registry of the sandbox routes; `endpoint(spec, shared)` makes the Starlette endpoint."""

    def __init__(self) -> None:
        self.routes: list[RouteSpec] = []

    def route(
        self, method: str, path: str, *, auth: bool = True, group: str | None = None, body: str | None = None
    ) -> Callable[[Handler], Handler]:
        if group is None:
            group = "read" if method == "GET" else "mutation"
        if body is None:
            body = "json" if method in ("POST", "PATCH", "PUT") else "none"

        def register(handler: Handler) -> Handler:
            assert not inspect.iscoroutinefunction(handler), "handlers run inside a transaction: no awaits"
            self.routes.append(RouteSpec(method, path, handler, auth, group, body))
            return handler

        return register


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _authenticate(ctx: Ctx) -> None:
    token = ctx.request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        raise HttpError("UNAUTHORIZED", "not logged in")
    session_hash = hash_secret(ctx.shared.secret, "session", token)
    row = ctx.one(
        "SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?",
        session_hash,
        ctx.now,
    )
    if row is None:
        raise HttpError("UNAUTHORIZED", "session expired or invalid")
    ctx.user_id = row["user_id"]
    ctx.session_hash = session_hash


def _limit(ctx: Ctx, group: str | None, key: str) -> None:
    if group is None:
        return
    wait = ctx.shared.limiter.hit(group, key, ctx.now)
    if wait is not None:
        raise HttpError("RATE_LIMITED", f"too many {group} requests", retry_after=wait)


async def _read(ctx: Ctx, spec: RouteSpec) -> None:
    request, config = ctx.request, ctx.shared.config
    if spec.body == "json":
        ctx.body = await read_json(request, config.max_json_body)
    elif spec.body == "json?":
        if request.headers.get("content-length", "0") not in ("0", "") or "transfer-encoding" in request.headers:
            ctx.body = await read_json(request, config.max_json_body)
    elif spec.body == "multipart":
        ctype = request.headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            raise HttpError("BAD_REQUEST", "Content-Type must be multipart/form-data")
        raw = await read_body(request, config.max_attachment + 1024 * 1024)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        try:
            ctx.form = await Request(request.scope, replay).form(max_files=1, max_fields=2)
        except Exception as exc:  # python-multipart and starlette raise several kinds
            raise HttpError("BAD_REQUEST", "malformed multipart body") from exc


#: Attempts and pause (seconds) when a shared-cache in-memory database reports SQLITE_LOCKED.
_LOCKED_RETRIES = 2000
_LOCKED_PAUSE = 0.005


def _rollback(ctx: Ctx) -> None:
    """Undo the transaction, and forget the events and callbacks it would have caused."""
    ctx.events.clear()
    ctx.after.clear()
    if ctx.conn.in_transaction:
        ctx.conn.execute("ROLLBACK")


def endpoint(spec: RouteSpec, shared: Shared) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint running `spec.handler` with all the checks around it."""

    async def run(request: Request) -> Response:
        ctx = Ctx(request, shared, shared.now())
        try:
            return await guarded(ctx)
        finally:
            if ctx.form is not None:
                await ctx.form.close()

    async def guarded(ctx: Ctx) -> Response:
        try:
            if spec.group in ("login", "register"):
                _limit(ctx, spec.group, _client_ip(ctx.request))
            await _read(ctx, spec)
        except HttpError as exc:
            return error_response(exc)
        for _ in range(_LOCKED_RETRIES):
            result = transact(ctx)
            if result is not None:
                break
            # Another connection of a shared-cache memory database holds the table: let it finish.
            await asyncio.sleep(_LOCKED_PAUSE)
        else:
            log.error("database stayed locked on %s %s", spec.method, spec.path)
            return error_response(HttpError("INTERNAL", "database busy"))
        for event_id in ctx.events:
            shared.realtime.publish(event_id)
        for callback in ctx.after:
            callback()
        if isinstance(result, Later):
            return await result.make()
        return result

    def transact(ctx: Ctx) -> Response | Later | None:
        """Run the handler in one transaction; None when SQLite reported a shared-cache lock."""
        conn = shared.conn
        ctx.now = shared.now()
        try:
            conn.execute("BEGIN" if spec.method == "GET" else "BEGIN IMMEDIATE")
            if spec.auth:
                _authenticate(ctx)
            if spec.group not in ("login", "register") and not ctx.counted:
                _limit(ctx, spec.group, ctx.user_id if spec.auth else "ip:" + _client_ip(ctx.request))
                ctx.counted = True  # once per request, even when a locked transaction reruns
            params = {snake(k): v for k, v in ctx.request.path_params.items()}
            result = spec.handler(ctx, **params)
            conn.execute("COMMIT")
        except HttpError as exc:
            _rollback(ctx)
            return error_response(exc)
        except sqlite3.OperationalError as exc:
            _rollback(ctx)
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_LOCKED:
                return None
            log.exception("database error on %s %s", spec.method, spec.path)
            return error_response(HttpError("INTERNAL", "internal error"))
        except Exception:
            _rollback(ctx)
            log.exception("internal error on %s %s", spec.method, spec.path)
            return error_response(HttpError("INTERNAL", "internal error"))
        assert isinstance(result, Response | Later)
        return result

    return run
