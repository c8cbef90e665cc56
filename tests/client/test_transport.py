"""The blocking client's own transport: keep-alive, stale connections, bodies of every framing.

A small raw-socket server that speaks keep-alive HTTP/1.1 shows what crosses the wire: how many
connections the client opened, the requests' heads and bodies as they arrived.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import socketserver
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from mskclient import Client, Pacer, ProtocolError, TransportError
from mskclient.client import DeadlineTransport, Request

_HEALTH = b'{"ok": true, "db": "ok", "redis": "absent"}'


@dataclass
class Seen:
    head: bytes
    body: bytes


@dataclass
class KeepAliveServer:
    """Answers every request of a connection in turn with `answer(seen)`; `close_after` ends a connection."""

    answer: Callable[[Seen], bytes] = lambda _: _ok(_HEALTH)
    close_after: int | None = None
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)

    def serve(self, sock: socket.socket) -> None:
        self.connections += 1
        reader = sock.makefile("rb")
        served = 0
        while self.close_after is None or served < self.close_after:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return
                head += line
            body = _read_body(reader, head)
            seen = Seen(head, body)
            self.requests.append(seen)
            sock.sendall(self.answer(seen))
            served += 1


def _read_body(reader: socket.SocketIO | object, head: bytes) -> bytes:
    lines = head.decode("latin-1").lower().split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines if line.startswith("content-length:")), None)
    read = reader.read  # type: ignore[attr-defined]
    readline = reader.readline  # type: ignore[attr-defined]
    if length is not None:
        data: bytes = read(length)
        return data
    if "transfer-encoding: chunked" not in lines:
        return b""
    body = b""
    while size := int(readline().strip(), 16):
        body += read(size)
        readline()
    readline()
    return body


def _ok(body: bytes, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra, "", ""]
    return "\r\n".join(lines).encode() + body


@pytest.fixture
def server() -> Iterator[tuple[KeepAliveServer, str]]:
    state = KeepAliveServer()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError):
                state.serve(self.request)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as tcp:
        tcp.daemon_threads = True
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = tcp.server_address[:2]
            yield state, f"http://{host!s}:{port}"
        finally:
            tcp.shutdown()


def test_requests_share_one_kept_alive_connection(server: tuple[KeepAliveServer, str]) -> None:
    state, url = server
    with Client(url, pacer=Pacer.unlimited()) as client:
        for _ in range(5):
            assert client.health().ok
    assert state.connections == 1
    assert len(state.requests) == 5
    first = state.requests[0].head.decode()
    assert first.startswith("GET /api/health HTTP/1.1\r\n")
    assert "\r\nUser-Agent: mskclient/" in first


def test_a_connection_the_server_closed_while_idle_is_replaced(server: tuple[KeepAliveServer, str]) -> None:
    state, url = server
    state.answer = lambda _: _ok(_HEALTH, "Connection: keep-alive")
    state.close_after = 1  # the server hangs up after each answer although it promised to keep the line
    with Client(url, pacer=Pacer.unlimited()) as client:
        for _ in range(3):
            assert client.health().ok
    assert state.connections == 3


def _connections_for_two_requests(
    server: tuple[KeepAliveServer, str], answer: Callable[[Seen], bytes], close_after: int | None = None
) -> int:
    """The connections two health checks opened, each answered with `answer` (and read as healthy)."""
    state, url = server
    state.answer, state.close_after = answer, close_after
    with Client(url, pacer=Pacer.unlimited()) as client:
        assert client.health().ok
        assert client.health().ok
    return state.connections


def test_an_answer_that_says_close_is_not_reused(server: tuple[KeepAliveServer, str]) -> None:
    assert _connections_for_two_requests(server, lambda _: _ok(_HEALTH, "Connection: close")) == 2


def test_json_bodies_arrive_whole_and_answers_of_every_framing_are_read(server: tuple[KeepAliveServer, str]) -> None:
    state, url = server
    chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (b'{"echo": "', b"x" * 70000, b'"}'))
    chunked += b"0\r\n\r\n"
    answers = iter([_ok(b'{"n": 1}'), chunked, _ok(b'{"n": 3}')])
    state.answer = lambda _: next(answers)
    big = {"text": "é" * 40_000}  # over 64 KiB once encoded
    with Client(url, pacer=Pacer.unlimited()) as client:
        assert client.run(_post("/echo", {"n": 1})).json() == {"n": 1}
        assert client.run(_post("/echo", big)).json() == {"echo": "x" * 70000}
        assert client.run(_post("/echo", {"n": 3})).json() == {"n": 3}
    assert [json.loads(seen.body) for seen in state.requests] == [{"n": 1}, big, {"n": 3}]
    assert state.connections == 1


def test_an_answer_cut_short_is_a_transport_error_and_the_line_is_not_reused(
    server: tuple[KeepAliveServer, str],
) -> None:
    state, url = server
    answers = iter([_ok(_HEALTH)[:-5], _ok(_HEALTH)])
    state.answer = lambda _: next(answers)
    state.close_after = 1
    with Client(url, pacer=Pacer.unlimited()) as client:
        with pytest.raises(TransportError, match="GET /api/health"):
            client.health()
        assert client.health().ok
    assert state.connections == 2


def test_a_garbled_status_line_is_a_protocol_failure_not_a_traceback(server: tuple[KeepAliveServer, str]) -> None:
    state, url = server
    state.answer = lambda _: b"HTTP/1.1 OK-ish\r\n\r\n"
    with Client(url, pacer=Pacer.unlimited()) as client, pytest.raises((TransportError, ProtocolError)) as caught:
        client.health()
    assert "GET /api/health" in str(caught.value)


def _post(path: str, body: object) -> Iterator[Request]:
    response = yield Request("POST", path, json=body)
    return response


def test_gzip_and_deflate_answers_are_decoded_and_another_encoding_is_refused(
    server: tuple[KeepAliveServer, str],
) -> None:
    state, url = server
    body = json.dumps({"text": "x" * 100_000}).encode()
    answers = iter([
        _ok(gzip.compress(body), "Content-Encoding: gzip"),
        _ok(zlib.compress(body), "Content-Encoding: deflate"),
        _ok(body, "Content-Encoding: br"),
    ])  # fmt: skip
    state.answer = lambda _: next(answers)
    with Client(url, pacer=Pacer.unlimited()) as client:
        assert client.run(_post("/echo", {})).json() == {"text": "x" * 100_000}
        assert client.run(_post("/echo", {})).json() == {"text": "x" * 100_000}
        with pytest.raises(TransportError, match="encoding that was not asked for: 'br'"):
            client.run(_post("/echo", {}))
    assert b"Accept-Encoding: gzip, deflate" in state.requests[0].head


def test_an_interim_answer_is_passed_over(server: tuple[KeepAliveServer, str]) -> None:
    assert _connections_for_two_requests(server, lambda _: b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(_HEALTH)) == 1


def test_a_head_over_its_bounds_is_refused(server: tuple[KeepAliveServer, str]) -> None:
    state, url = server
    state.answer = lambda _: _ok(_HEALTH, *(f"X-Filler-{i}: {'y' * 100}" for i in range(101)))
    with Client(url, pacer=Pacer.unlimited()) as client, pytest.raises(TransportError, match="over its bounds"):
        client.health()


def test_a_body_framed_by_the_end_of_the_connection_is_read_whole(server: tuple[KeepAliveServer, str]) -> None:
    unframed = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + _HEALTH
    assert _connections_for_two_requests(server, lambda _: unframed, close_after=1) == 2


def test_bytes_after_an_answer_keep_its_connection_out_of_the_pool(server: tuple[KeepAliveServer, str]) -> None:
    stray = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"  # the second check must not read it as its answer
    assert _connections_for_two_requests(server, lambda _: _ok(_HEALTH) + stray) == 2


def test_a_line_break_in_a_request_header_never_reaches_the_wire(server: tuple[KeepAliveServer, str]) -> None:
    state, url = server
    transport = DeadlineTransport()
    with pytest.raises(httpx.LocalProtocolError, match="line break"):
        transport.exchange("GET", url, "/x", headers={"X-Note": "a\r\nInjected: yes"}, timeouts={})
    transport.close()
    assert state.requests == []


def test_httpx_sends_through_it_with_bodies_of_every_framing(server: tuple[KeepAliveServer, str]) -> None:
    state, url = server
    state.answer = lambda seen: _ok(json.dumps({"got": len(seen.body)}).encode())
    with httpx.Client(transport=DeadlineTransport()) as http:
        assert http.get(f"{url}/a", params={"q": "é x"}).json() == {"got": 0}
        assert http.post(f"{url}/b", content=b"z" * 100_000).json() == {"got": 100_000}
        assert http.post(f"{url}/c", content=iter([b"ab", b"cd"])).json() == {"got": 4}  # chunked
    assert state.requests[0].head.startswith(b"GET /a?q=%C3%A9+x HTTP/1.1\r\n")
    assert state.requests[2].body == b"abcd"
    assert state.connections == 1
