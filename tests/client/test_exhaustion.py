"""A server that tries to exhaust or hang the client: each attempt ends early in a one-line error.

The hostile server is a raw socket (`_hostile_server`), so the client's real transport reads
what it sends: endless bodies are generated lazily and `server.sent` shows how little of them
the client took before it gave up.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from itertools import chain

import pytest
from websockets.asyncio.server import ServerConnection, serve

from mskclient import ApiError, AsyncClient, Client, Pacer, ProtocolError, TransportError
from mskclient._profile import ANSWER_MAX_OBJECT, JSON_MAX_DEPTH, RELAY_MAX_FRAME, SSE_MAX_EVENT_CHARS
from mskclient.live import WebSocketChannel, watch
from mskclient.live._watch import _bounded_lines

from ._hostile_server import HostileServer, chunked, dripping, endless, head

_MiB = 2**20
_600_MB = 600 * 1000 * 1000
_BOARD = "cboard0000001"
_HEALTH = b'{"ok": true, "db": "ok", "redis": "absent"}'


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


def _client(server: HostileServer, **kwargs: float) -> Client:
    return Client(server.url, pacer=Pacer.unlimited(), **kwargs)


def test_an_endless_answer_is_cut_at_the_route_bound(server: HostileServer) -> None:
    """600 MB of chunked body on a small route: once sent, the client's memory grew to 1.9 GB."""
    server.answer = lambda _: chain([head()], chunked(endless(b" " * 65536, _600_MB)))
    with _client(server) as client, pytest.raises(ProtocolError, match="over 16 MiB, more than this route"):
        client.health()
    assert server.sent < ANSWER_MAX_OBJECT + 16 * _MiB  # the bound, and what the socket buffers held


def test_a_declared_600_mb_answer_is_refused_unread(server: HostileServer) -> None:
    server.answer = lambda _: chain([head(length=_600_MB)], endless(b" " * 65536, _600_MB))
    with _client(server) as client, pytest.raises(ProtocolError, match="over 16 MiB"):
        client.health()
    assert server.sent < 16 * _MiB


def test_an_endless_error_answer_is_cut_at_the_object_bound(server: HostileServer) -> None:
    server.answer = lambda _: chain([head("500 Internal Server Error")], chunked(endless(b" " * 65536, _600_MB)))
    with _client(server) as client, pytest.raises(ProtocolError, match="over 16 MiB"):
        client.health()


def test_a_slowloris_body_ends_at_the_deadline(server: HostileServer) -> None:
    """One byte at a time, each well within the read timeout: only the deadline ends it."""
    server.answer = lambda _: chain([head(length=len(_HEALTH))], dripping(_HEALTH, 0.2))
    started = time.monotonic()
    with _client(server, deadline=1.0) as client, pytest.raises(TransportError) as caught:
        client.health()
    assert str(caught.value) == "GET /api/health: no complete answer within 1 s (the server is stalling)"
    assert time.monotonic() - started < 4


def test_slowloris_headers_end_at_the_deadline(server: HostileServer) -> None:
    server.answer = lambda _: dripping(head(length=len(_HEALTH)) + _HEALTH, 0.2)
    started = time.monotonic()
    with _client(server, deadline=1.0) as client, pytest.raises(TransportError, match="no complete answer within 1 s"):
        client.health()
    assert time.monotonic() - started < 4


async def test_the_async_client_keeps_the_deadline_too(server: HostileServer) -> None:
    server.answer = lambda _: dripping(head(length=len(_HEALTH)) + _HEALTH, 0.2)
    async with AsyncClient(server.url, pacer=Pacer.unlimited(), deadline=1.0) as client:
        with pytest.raises(TransportError, match="no complete answer within 1 s"):
            await client.health()


def test_an_honest_slow_answer_within_the_deadline_is_read(server: HostileServer) -> None:
    server.answer = lambda _: chain([head(length=len(_HEALTH))], dripping(_HEALTH, 0.005))
    with _client(server, deadline=30.0) as client:
        assert client.health().ok


def test_deeply_nested_json_is_a_protocol_error(server: HostileServer) -> None:
    """Once a RecursionError traceback; now refused past the nesting limit, as any other bad shape."""
    nested = b"[" * 100_000 + b"]" * 100_000
    server.answer = lambda _: [head(length=len(nested)), nested]
    with _client(server) as client, pytest.raises(ProtocolError) as caught:
        client.health()
    assert str(caught.value) == f"the server's 200 answer nests deeper than {JSON_MAX_DEPTH} levels"


def test_a_deeply_nested_error_answer_is_an_error_without_the_error_shape(server: HostileServer) -> None:
    nested = b"{" + b'"error": {' * 100_000 + b"}" * 100_001
    server.answer = lambda _: [head("500 Internal Server Error", length=len(nested)), nested]
    with _client(server) as client, pytest.raises(ApiError, match="error answer without the error shape"):
        client.health()


def test_json_just_within_the_nesting_limit_is_read(server: HostileServer) -> None:
    deep = b'{"ok": true, "db": ' + b"[" * (JSON_MAX_DEPTH - 1) + b"]" * (JSON_MAX_DEPTH - 1) + b', "redis": "x"}'
    server.answer = lambda _: [head(length=len(deep)), deep]
    with _client(server) as client:
        assert client.health().ok


def _sse(body: Iterator[bytes]) -> list[bytes]:
    return chain([head(content_type="text/event-stream")], chunked(body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda: endless(b"a" * 65536, _600_MB), "SSE line over"),  # one line that never ends
        (lambda: chain([b"data: "], endless(b"a" * 65536, _600_MB)), "SSE line over"),
        (lambda: endless((b"data: " + b"a" * 1000 + b"\n") * 64, _600_MB), "SSE event data over"),  # never ends
    ],
)
async def test_an_endless_sse_line_or_event_is_refused(server: HostileServer, body: object, message: str) -> None:
    """Once an endless line grew to 9 GB; now the stream ends with a ProtocolError at 64 KiB of text."""
    assert callable(body)
    server.answer = lambda _: _sse(body())
    async with AsyncClient(server.url, pacer=Pacer.unlimited()) as client:
        with pytest.raises(ProtocolError, match=message):
            async for _ in watch(client, _BOARD):
                pass
    assert server.sent < SSE_MAX_EVENT_CHARS + 16 * _MiB


async def test_a_relay_frame_over_the_relays_limit_is_refused() -> None:
    async def oversize(connection: ServerConnection) -> None:
        await connection.send(bytes(RELAY_MAX_FRAME + 1))
        await connection.wait_closed()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with serve(oversize, "127.0.0.1", port, max_size=None):
        channel = await WebSocketChannel.open(f"ws://127.0.0.1:{port}/api/ws?t=x")
        with pytest.raises(ProtocolError, match="relay sent a frame over 1,048,576 bytes"):
            await asyncio.wait_for(channel.recv(), 10)
        await channel.close()


async def test_bounded_sse_lines_split_like_the_spec_however_chunked() -> None:
    """CRLF, LF and CR end lines, a CRLF cut between two chunks ends one line, not two."""
    text = "data: a\r\ndata: b\n\rdata: c\r\r\n: beat\n"
    expected = ["data: a", "data: b", "", "data: c", "", ": beat"]
    for cut in range(1, len(text)):

        async def chunks(cut: int = cut) -> AsyncIterator[str]:
            yield text[:cut]
            yield text[cut:]

        assert [line async for line in _bounded_lines(chunks())] == expected, cut
