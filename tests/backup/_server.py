"""A small HTTP server playing a (mis)behaving MSKanban server: a skewed clock, rate-limit
headers, weak KDF parameters, an export cut off in the middle."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mskclient.crypto import b64u_encode


@dataclass
class Behaviour:
    #: seconds the server's clock is ahead of ours
    skew: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    kdf: dict[str, object] = field(
        default_factory=lambda: {
            "algorithm": "argon2id",
            "memoryKiB": 65536,
            "iterations": 3,
            "parallelism": 4,
            "version": 19,
        }
    )
    #: bytes of `/me/export` sent before the connection is dropped
    export_cut_at: int = 100
    #: every Cookie header received
    cookies: list[str] = field(default_factory=list)


USER = {"id": "cfixtureuser1", "email": "fix@example.test", "displayName": "fix", "publicKey": b64u_encode(bytes(32))}


class _Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(time.time() + self.behaviour.skew, usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in self.behaviour.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._note_cookie()
        if self.path == "/api/health":
            self._answer(200, json.dumps({"ok": True, "db": "ok", "redis": "absent"}).encode())
        elif self.path == "/api/openapi.yaml":
            self._answer(200, b"openapi: 3.1.0\ninfo: {title: fixture}\n", "application/yaml")
        elif self.path == "/api/me":
            self._answer(200, json.dumps({"user": USER, "memberships": []}).encode())
        elif self.path == "/api/me/export":
            body = b'{"exportedAt":"2026-01-01T00:00:00Z","user":' + b" " * 10_000
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: self.behaviour.export_cut_at])
            self.wfile.flush()
            self.close_connection = True
        else:
            self._answer(404, json.dumps({"error": {"code": "NOT_FOUND", "message": "no such route"}}).encode())

    def _note_cookie(self) -> None:
        cookie = self.headers.get("Cookie")
        if cookie is not None:
            self.behaviour.cookies.append(cookie)

    def do_POST(self) -> None:
        self._note_cookie()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/api/auth/login-init":
            self._answer(200, json.dumps({"salt": b64u_encode(bytes(16)), "kdf": self.behaviour.kdf}).encode())
        else:
            self._answer(404, json.dumps({"error": {"code": "NOT_FOUND", "message": "no such route"}}).encode())


@contextmanager
def fixture_server(behaviour: Behaviour) -> Iterator[str]:
    """The server's URL while the block runs."""
    handler = type("Handler", (_Handler,), {"behaviour": behaviour})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
