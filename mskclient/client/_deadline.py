"""A blocking httpx transport whose every socket wait ends at the current request's deadline.

httpx's timeouts bound each wait for the socket, never a whole exchange: a server that
sends one byte every few seconds (headers included) keeps a request alive for ever.  The
async driver wraps each exchange in `asyncio.timeout`; a blocking call cannot be cancelled
from outside, so here each connect, send and receive waits at most until the deadline the
driver set for the request this thread is running (`DeadlineTransport.until`), and fails
with a timeout once it has passed.

The HTTP/1.1 exchange itself is the standard library's `http.client` (keep-alive
connections, chunked bodies, its bounds on status and header lines), kept in a small pool
like httpx's own (20 idle connections, each kept 4 s).  httpx's default transport (httpcore
over h11) spends about 0.6 ms of CPU per request on this machine against 0.2 ms for
`http.client`: for a bulk import paced only by the server, that difference was most of
the client's CPU (`bench/import.py`).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

__all__ = ["DeadlineTransport"]

_READ_SIZE = 65536
_IDLE_CONNECTIONS = 20  # as httpx's default pool
#: below the 5 s after which uvicorn and Node close an idle connection, so the pool rarely
#: picks a connection the server is closing at that moment
_IDLE_SECONDS = 4.0
#: methods a server may get twice: resent once when a kept-alive connection turns out closed
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: what a kept-alive connection the server had closed raises at the next request
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_Response = http.client.HTTPResponse
_SMALL_BODY = 65536  # sent with the head; a larger or unsized body goes chunk by chunk, each bounded


class _Clock:
    """The deadline (time.monotonic) of the request running on each thread, or None."""

    def __init__(self) -> None:
        self._local = threading.local()

    def set(self, until: float | None) -> None:
        self._local.until = until

    def bound(self, timeout: float | None, expired: type[httpx.TimeoutException]) -> float | None:
        """`timeout`, shortened to what is left before the deadline (`expired` once it has passed)."""
        until: float | None = getattr(self._local, "until", None)
        if until is None:
            return timeout
        left = until - time.monotonic()
        if left <= 0:
            raise expired("the request's deadline has passed")
        return left if timeout is None else min(timeout, left)


class _BoundedReader(io.RawIOBase):
    """The socket as the answer's raw stream: each receive waits at most until the deadline."""

    def __init__(self, sock: socket.socket, clock: _Clock, timeout: float | None, holder: io.IOBase) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock
        self._timeout = timeout
        #: the socket file http.client opened: it keeps the socket open after http.client
        #: hands a closing connection's socket over to its answer, until the answer is closed
        self._holder = holder

    def close(self) -> None:
        self._holder.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._clock.bound(self._timeout, httpx.ReadTimeout))
        return self._sock.recv_into(buffer)


def _bounded_answer_class(clock: _Clock, timeouts: threading.local) -> type[http.client.HTTPResponse]:
    """`http.client`'s answer, reading its head and body through `_BoundedReader`."""

    class BoundedAnswer(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None):
            super().__init__(sock, debuglevel, method, url)
            self.fp = io.BufferedReader(_BoundedReader(sock, clock, timeouts.read, self.fp), _READ_SIZE)

    return BoundedAnswer


class _Connection:
    """One HTTP/1.1 connection of the pool, and when it became idle."""

    def __init__(self, wire: http.client.HTTPConnection) -> None:
        self.http = wire
        self.idle_since = 0.0

    def reusable(self, now: float) -> bool:
        """Idle for less than the expiry and not readable: a readable idle socket was closed by the server."""
        sock = self.http.sock
        if sock is None or now - self.idle_since > _IDLE_SECONDS:
            return False
        poll = select.poll()
        poll.register(sock, select.POLLIN)
        return not poll.poll(0)

    def close(self) -> None:
        self.http.close()


class _Answer(httpx.SyncByteStream):
    """The body as it arrives; the connection goes back to the pool once the body was read to its end."""

    def __init__(self, transport: DeadlineTransport, key: tuple[str, str, int], connection: _Connection,
                 answer: http.client.HTTPResponse) -> None:  # fmt: skip
        self._transport = transport
        self._key = key
        self._connection: _Connection | None = connection
        self._answer = answer

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx(httpx.ReadError):
            while chunk := self._answer.read1(_READ_SIZE):
                yield chunk
        if self._answer.length:  # what Content-Length promised and never came: read1 says nothing of it
            self.close()
            raise httpx.RemoteProtocolError(f"the connection closed {self._answer.length} bytes short of the answer")
        self._answer.close()  # at its end; http.client's read1 leaves an answer of known length open
        connection, self._connection = self._connection, None
        if connection is not None:
            if self._answer.will_close:
                connection.close()
            else:
                self._transport._release(self._key, connection)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:  # not read to its end: the rest would be the next answer's start
            self._answer.close()
            connection.close()


_TIMEOUTS: dict[type[httpx.TransportError], type[httpx.TimeoutException]] = {
    httpx.ConnectError: httpx.ConnectTimeout,
    httpx.WriteError: httpx.WriteTimeout,
    httpx.ReadError: httpx.ReadTimeout,
}


@contextlib.contextmanager
def _as_httpx(failure: type[httpx.TransportError]) -> Iterator[None]:
    """The socket's and http.client's failures as the httpx exceptions the driver translates."""
    try:
        yield
    except httpx.TransportError:
        raise
    except TimeoutError as exc:
        raise _TIMEOUTS[failure](str(exc) or "timed out") from exc
    except http.client.HTTPException as exc:
        raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise failure(str(exc) or type(exc).__name__) from exc


class DeadlineTransport(httpx.BaseTransport):
    """Keep-alive HTTP/1.1 (TLS verified as httpx does) over deadline-bounded sockets.

    Outside `until` it is a plain keep-alive transport, each wait bounded by httpx's timeouts:
    the import sources' readers use it so for its lower cost per request."""

    def __init__(self) -> None:
        self._clock = _Clock()
        self._timeouts = threading.local()
        self._answer_class = _bounded_answer_class(self._clock, self._timeouts)
        self._ssl_context: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def until(self, deadline: float) -> Iterator[None]:
        """Bound every socket wait of this thread's requests by `deadline` (time.monotonic)."""
        self._clock.set(deadline)
        try:
            yield
        finally:
            self._clock.set(None)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        timeouts = request.extensions.get("timeout", {})
        self._timeouts.read = timeouts.get("read")
        key = (request.url.scheme, request.url.raw_host.decode("ascii"), request.url.port or _default_port(request))
        connection = self._idle_connection(key)
        if connection is not None:
            try:
                answer = self._exchange(connection, request, timeouts)
            except httpx.TransportError as exc:
                # the server closed the kept-alive connection just as the request went out: an
                # idempotent request goes again on a new one; a POST's failure stands (it may have landed)
                if request.method not in _IDEMPOTENT or not isinstance(exc.__cause__, _STALE):
                    raise
                connection = None
        if connection is None:
            connection = self._connect(key, timeouts.get("connect"))
            answer = self._exchange(connection, request, timeouts)
        return httpx.Response(
            answer.status,
            headers=answer.getheaders(),
            stream=_Answer(self, key, connection, answer),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.encode("latin-1")},
        )

    def _exchange(self, connection: _Connection, request: httpx.Request, timeouts: dict[str, Any]) -> _Response:
        try:
            with _as_httpx(httpx.WriteError):
                self._send(connection.http, request, timeouts.get("write"))
            with _as_httpx(httpx.ReadError):
                return connection.http.getresponse()
        except BaseException:
            connection.close()
            raise

    def _send(self, wire: http.client.HTTPConnection, request: httpx.Request, timeout: float | None) -> None:
        assert wire.sock is not None
        sock: socket.socket = wire.sock
        wire.putrequest(request.method, request.url.raw_path.decode("ascii"), skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers.raw:
            wire.putheader(name, value)
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        length = request.headers.get("content-length")
        stream: Iterable[bytes] = request.stream  # type: ignore[assignment]
        if not chunked and length is not None and int(length) <= _SMALL_BODY:
            sock.settimeout(self._clock.bound(timeout, httpx.WriteTimeout))
            wire.endheaders(b"".join(stream) or None)
            return
        sock.settimeout(self._clock.bound(timeout, httpx.WriteTimeout))
        wire.endheaders(self._bounded_chunks(sock, stream, timeout), encode_chunked=chunked)

    def _bounded_chunks(self, sock: socket.socket, stream: Iterable[bytes], timeout: float | None) -> Iterator[bytes]:
        for chunk in stream:
            sock.settimeout(self._clock.bound(timeout, httpx.WriteTimeout))
            yield chunk

    def _idle_connection(self, key: tuple[str, str, int]) -> _Connection | None:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                if connection.reusable(now):
                    return connection
                connection.close()
        return None

    def _connect(self, key: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = key
        bounded = self._clock.bound(timeout, httpx.ConnectTimeout)
        wire: http.client.HTTPConnection
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            wire = http.client.HTTPSConnection(host, port, timeout=bounded, context=self._ssl_context)
        elif scheme == "http":
            wire = http.client.HTTPConnection(host, port, timeout=bounded)
        else:
            raise httpx.UnsupportedProtocol(f"the URL scheme {scheme!r} is not supported")
        wire.response_class = self._answer_class
        with _as_httpx(httpx.ConnectError):
            wire.connect()
        return _Connection(wire)

    def _release(self, key: tuple[str, str, int], connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if sum(len(connections) for connections in self._idle.values()) < _IDLE_CONNECTIONS:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            connections = [connection for idle in self._idle.values() for connection in idle]
            self._idle.clear()
        for connection in connections:
            connection.close()


def _default_port(request: httpx.Request) -> int:
    return 443 if request.url.scheme == "https" else 80
