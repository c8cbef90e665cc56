"""Real servers for the realtime tests: uvicorn on a free port in a thread, a webhook receiver,
and a minimal app that mounts only the realtime engine over a seeded database."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from mskclient._profile import TICKET_TTL_SECONDS
from mskclient.sandbox._config import ManualClock, SandboxConfig
from mskclient.sandbox._db import connect, release
from mskclient.sandbox._realtime import Realtime
from mskclient.sandbox._security import iso
from mskclient.sandbox._webhooks import retry_sync

START_TIMEOUT = 10.0


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(START_TIMEOUT)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint answering with the queued statuses (then 200), recording each POST."""

    statuses: list[int] = field(default_factory=list)
    received: queue.Queue[Received] = field(default_factory=queue.Queue)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.received.put(Received({k.lower(): v for k, v in request.headers.items()}, body))
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])

    def drain(self) -> list[Received]:
        items = []
        while True:
            try:
                items.append(self.received.get_nowait())
            except queue.Empty:
                return items


@contextlib.contextmanager
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with ServerThread(hook.app()) as server:
        yield hook, f"{server.url}/hook"


class Engine:
    """The realtime engine mounted on a bare Starlette app over a seeded database."""

    def __init__(self, db_path: str, **realtime: Any) -> None:
        self.clock = ManualClock()
        self.config = SandboxConfig(db_path=db_path, clock=self.clock)
        self.realtime = Realtime(self.config, **realtime)
        self.conn = connect(self.config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: ServerThread | None = None

    def app(self) -> Starlette:
        async def live(request: Request) -> Response:
            # The sandbox passes the session's user and token hash; here the test names them in the query.
            user, session = request.query_params.get("user"), request.query_params.get("session")
            return await self.realtime.live(request, request.path_params["board_id"], user, session)

        async def ws(websocket: WebSocket) -> None:
            await self.realtime.websocket(websocket)

        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self.loop = asyncio.get_running_loop()
            await self.realtime.start()
            yield
            await self.realtime.stop()

        return Starlette(
            routes=[Route("/api/boards/{board_id}/live", live), WebSocketRoute("/api/ws", ws)], lifespan=lifespan
        )

    def __enter__(self) -> Engine:
        self.server = ServerThread(self.app()).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None and self.loop is not None
        # Streams end only when the engine stops; stop it before uvicorn drains connections.
        asyncio.run_coroutine_threadsafe(self.realtime.stop(), self.loop).result(START_TIMEOUT)
        self.server.__exit__(*exc)
        self.conn.close()
        release(self.config)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def ws_url(self, ticket: str, **extra: str) -> str:
        query = "".join(f"&{k}={v}" for k, v in extra.items())
        return f"ws://127.0.0.1:{self.server.port if self.server else 0}/api/ws?t={ticket}{query}"

    # --- seeding (the HTTP app does this for real; here rows go in directly) -------------
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Run one statement, waiting out the engine's writes (in-memory databases do not wait)."""
        return retry_sync(lambda: self.conn.execute(sql, params))

    def workspace(self, members: dict[str, str]) -> str:
        ws_id = new_id()
        now = iso(self.clock.time())
        self.execute("INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)", (ws_id, "v1.a.b", next(iter(members)), now, now))
        for user_id, role in members.items():
            self.add_member(ws_id, user_id, role)
        return ws_id

    def add_member(self, ws_id: str, user_id: str, role: str = "member") -> None:
        now = iso(self.clock.time())
        self.execute("INSERT INTO memberships VALUES (?, ?, ?, ?, ?, ?)", (ws_id, user_id, role, "v1.a.b", now, now))

    def remove_member(self, ws_id: str, user_id: str) -> None:
        self.execute("DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", (ws_id, user_id))

    def board(self, ws_id: str) -> str:
        board_id = new_id()
        now = iso(self.clock.time())
        self.execute(
            "INSERT INTO boards (id, workspace_id, enc_title, enc_board_key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (board_id, ws_id, "v1.a.b", "v1.a.b", now, now),
        )
        return board_id

    def card(self, board_id: str) -> str:
        card_id = new_id()
        now = iso(self.clock.time())
        self.execute(
            "INSERT INTO cards (id, board_id, column_id, position, enc_title, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (card_id, board_id, new_id(), 1.0, "v1.a.b", now, now),
        )
        return card_id

    def ticket(self, user_id: str, room: str, session_hash: str | None = None) -> str:
        ticket = secrets.token_urlsafe(32)
        self.execute(
            "INSERT INTO ws_tickets (ticket_hash, user_id, room, expires_at, session_hash) VALUES (?, ?, ?, ?, ?)",
            (
                hashlib.sha256(ticket.encode()).hexdigest(),
                user_id,
                room,
                self.clock.time() + TICKET_TTL_SECONDS,
                session_hash,
            ),
        )
        return ticket

    def session(self, user_id: str, ttl: float = 3600) -> str:
        """A logged-in session of the user (as another process made it); its token hash."""
        token_hash = secrets.token_hex(32)
        self.execute(
            "INSERT INTO sessions (token_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
            (token_hash, user_id, self.clock.time() + ttl, iso(self.clock.time())),
        )
        return token_hash

    def event(self, board_id: str, verb: str, card_id: str | None = None, **metadata: str) -> int:
        cursor = self.execute(
            "INSERT INTO events (board_id, verb, card_id, actor_id, timestamp, metadata) VALUES (?, ?, ?, ?, ?, ?)",
            (board_id, verb, card_id, "cactor0001", iso(self.clock.time()), json.dumps(metadata)),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def card_moved(self, board_id: str) -> tuple[int, dict[str, Any]]:
        """A CARD_MOVED event at the clock's start, and the JSON its SSE tick data and webhook
        body must both be (ids only, the webhook shape)."""
        event_id = self.event(board_id, "CARD_MOVED", "ccard00001", fromColumnId="ccolumn001", toColumnId="ccolumn002")
        return event_id, {
            "verb": "CARD_MOVED",
            "boardId": board_id,
            "cardId": "ccard00001",
            "actorId": "cactor0001",
            "timestamp": "2026-05-28T20:26:40.000Z",
            "metadata": {"fromColumnId": "ccolumn001", "toColumnId": "ccolumn002"},
        }

    def webhook(self, board_id: str, url: str, events: list[str], *, active: bool = True) -> tuple[str, str]:
        hook_id, secret = new_id(), secrets.token_hex(32)
        now = iso(self.clock.time())
        self.execute(
            "INSERT INTO webhooks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (hook_id, board_id, url, secret, json.dumps(events), int(active), now, now),
        )
        return hook_id, secret

    def deliveries(self, hook_id: str) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = retry_sync(
            lambda: self.conn.execute(
                "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id", (hook_id,)
            ).fetchall()
        )
        return rows


def new_id() -> str:
    return "c" + secrets.token_hex(12)
