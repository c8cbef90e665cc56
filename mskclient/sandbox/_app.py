"""The sandbox ASGI app: every route of the public page and the profile under /api."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from .._profile import API_PREFIX
from ._config import SandboxConfig
from ._core import Api, RealtimeEngine, Shared, endpoint
from ._db import connect
from ._export import api as export_api
from ._http import HttpError, error_response, json_response
from ._realtime import Realtime
from ._routes_account import api as account_api
from ._routes_automations import api as automation_api
from ._routes_board_items import api as board_item_api
from ._routes_boards import api as board_api
from ._routes_card_content import api as card_content_api
from ._routes_card_links import api as card_link_api
from ._routes_cards import api as card_api
from ._routes_workspaces import api as workspace_api
from ._security import RateLimiter

__all__ = ["ROUTE_FAMILIES", "create_app", "end_streams", "openapi_text"]

log = logging.getLogger("mskclient.sandbox")

#: Every family of routes the app serves under /api (besides health, openapi.yaml and /ws).
ROUTE_FAMILIES: tuple[Api, ...] = (
    account_api,
    export_api,
    workspace_api,
    board_api,
    card_api,
    card_link_api,
    card_content_api,
    board_item_api,
    automation_api,
)

_ERROR_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE"}


def openapi_text() -> str:
    """The OpenAPI 3.1 document shipped with the package (docs/api/openapi.yaml is a copy)."""
    return resources.files(__package__).joinpath("openapi.yaml").read_text("utf-8")


def _server_secret(conn: sqlite3.Connection, configured: bytes | None) -> bytes:
    """The configured secret, else the database's own (made once, shared by every process)."""
    if configured is not None:
        return configured
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('server_secret', ?)", (secrets.token_bytes(32),))
        row = conn.execute("SELECT value FROM meta WHERE key = 'server_secret'").fetchone()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return bytes(row[0])


class _AccessLog:
    """One line per request (method, path without query, status, milliseconds) to a file."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {scope['method']} {scope['path']} {status} "
            line += f"{(time.monotonic() - started) * 1000:.1f}ms\n"
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)


def end_streams(app: Starlette, timeout: float = 10.0) -> None:
    """Stop the realtime engine of a running app from another thread, so open SSE streams and
    relay sockets end and the HTTP server can shut down gracefully (it waits for them)."""
    loop: asyncio.AbstractEventLoop | None = getattr(app.state, "loop", None)
    if loop is None or loop.is_closed():
        return
    with contextlib.suppress(RuntimeError, TimeoutError):  # the loop is already gone or stuck
        asyncio.run_coroutine_threadsafe(app.state.realtime.stop(), loop).result(timeout)


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """A sandbox app over `config` (default: in-memory database, public-page rate limits)."""
    config = config or SandboxConfig()
    conn = connect(config)
    realtime: RealtimeEngine = Realtime(config)
    shared = Shared(config, conn, _server_secret(conn, config.server_secret), RateLimiter(config.rate_limits), realtime)

    routes: list[Route | WebSocketRoute] = []
    for api in ROUTE_FAMILIES:
        for spec in api.routes:
            routes.append(Route(API_PREFIX + spec.path, endpoint(spec, shared), methods=[spec.method]))

    async def health(request: Request) -> Response:
        try:
            conn.execute("SELECT 1").fetchone()
            db = "ok"
        except sqlite3.Error:
            db = "error"
        return json_response({"ok": db == "ok", "db": db, "redis": "absent"}, 200 if db == "ok" else 503)

    async def openapi(request: Request) -> Response:
        return Response(openapi_text(), media_type="application/yaml")

    async def websocket(ws: WebSocket) -> None:
        await realtime.websocket(ws)

    routes += [
        Route(API_PREFIX + "/health", health, methods=["GET"]),
        Route(API_PREFIX + "/openapi.yaml", openapi, methods=["GET"]),
        WebSocketRoute(API_PREFIX + "/ws", websocket),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error_response(HttpError("METHOD_NOT_ALLOWED", "method not allowed"))
        code = _ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
        return error_response(HttpError(code, str(exc.detail), status=exc.status_code))

    async def crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error_response(HttpError("INTERNAL", "internal error"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.loop = asyncio.get_running_loop()
        await realtime.start()
        try:
            yield
        finally:
            await realtime.stop()
            conn.close()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: crash},
        lifespan=lifespan,
    )
    if config.log_path is not None:
        app.add_middleware(_AccessLog, path=config.log_path)
    app.state.shared = shared
    app.state.realtime = realtime
    return app
