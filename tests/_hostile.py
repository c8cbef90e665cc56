"""A hostile or broken server: a proxy transport in front of the real sandbox that edits its answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from mskclient.crypto import b64u_encode


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

    def edit(request: httpx.Request, response: httpx.Response, body: bytes) -> bytes | None:
        if request.method != method or not request.url.path.endswith(route_suffix) or response.status_code >= 300:
            return None
        return json.dumps(change(json.loads(body))).encode()

    return edit


def substitute_lookup_key(attacker: bytes) -> Callable[..., bytes | None]:
    """The lookup answers with the server's own key; the invite answer stays the real member row."""

    def substitute(answer: dict[str, Any]) -> dict[str, Any]:
        answer["publicKey"] = b64u_encode(attacker)
        return answer

    return json_edit("/users/lookup", substitute)
