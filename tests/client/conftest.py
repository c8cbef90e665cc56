"""A real sandbox (limits lifted) and logged-in accounts, shared per module (the KDF is slow)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from mskclient import Client, Pacer
from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig

PASSWORD = "correct horse battery staple ✓"
_counter = itertools.count()


def fresh_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}-{time.time_ns()}@example.test"


def totp_now(secret: str, *, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s) for the tests; the client never computes codes."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        yield url


@pytest.fixture(scope="module")
def clocked() -> Iterator[tuple[str, ManualClock]]:
    """A sandbox on a manual clock, so TOTP steps advance without waiting."""
    clock = ManualClock()
    with Sandbox(SandboxConfig(clock=clock).lift_limits()) as url:
        yield url, clock


@dataclass
class Account:
    email: str
    client: Client
    recovery_key: str


def register(url: str, prefix: str = "user", transport: httpx.BaseTransport | None = None) -> Account:
    client = Client(url, pacer=Pacer.unlimited(), transport=transport)
    email = fresh_email(prefix)
    registration = client.register(email, PASSWORD)
    return Account(email, client, registration.recovery_key)


@pytest.fixture(scope="module")
def alice(sandbox_url: str) -> Iterator[Account]:
    account = register(sandbox_url, "alice")
    yield account
    account.client.close()


@pytest.fixture(scope="module")
def bob(sandbox_url: str) -> Iterator[Account]:
    account = register(sandbox_url, "bob")
    yield account
    account.client.close()


class HostileTransport(httpx.BaseTransport):
    """A proxy in front of the real sandbox that edits real answers (a hostile or broken server).

    `edit(request, response) -> bytes | None` returns a replacement body, or None to pass through.
    """

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()
        self.edit: Callable[[httpx.Request, httpx.Response, bytes], bytes | None] | None = None
        self.seen: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        response = self._real.handle_request(request)
        if self.edit is None:
            return response
        body = response.read()
        replaced = self.edit(request, response, body)
        if replaced is None:
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        headers = [
            (k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx.Response(response.status_code, headers=headers, content=replaced)

    def close(self) -> None:
        self._real.close()


def json_edit(route_suffix: str, change: Callable[[Any], Any], method: str = "GET") -> Callable[..., bytes | None]:
    """An edit that rewrites the JSON answer of requests whose path ends with `route_suffix`."""
    import json

    def edit(request: httpx.Request, response: httpx.Response, body: bytes) -> bytes | None:
        if request.method != method or not request.url.path.endswith(route_suffix) or response.status_code >= 300:
            return None
        return json.dumps(change(json.loads(body))).encode()

    return edit
