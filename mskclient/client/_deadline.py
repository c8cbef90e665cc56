"""A blocking HTTP/1.1 transport whose every socket wait ends at the current request's deadline.

httpx's timeouts bound each wait for the socket, never a whole exchange: a server that
sends one byte every few seconds (headers included) keeps a request alive for ever.  The
async driver wraps each exchange in `asyncio.timeout`; a blocking call cannot be cancelled
from outside, so here each connect, send and receive waits at most until the deadline the
driver set for the request this thread is running (`DeadlineTransport.until`), and fails
with a timeout once it has passed.

The exchange is written here over a plain socket: a request goes out as one `sendall` of
its head and (small) body, and the answer is parsed by llhttp, Node's HTTP parser, through
`httptools` (status line, headers, chunked and sized bodies), within this module's bounds on
the head.  Connections are kept alive in a small pool like httpx's own (20 idle, each kept
4 s).  `exchange` is the blocking client's own way in, taking the request as plain values:
building an `httpx.Request` (URL parsing and validation, header normalisation) and parsing
the answer's head with `http.client` (the `email` package) cost a bulk import more CPU than
everything else it does per request (`bench/import.py`).  `handle_request` is the same
exchange for httpx, for the import sources' readers and for uploads whose multipart body
httpx encodes.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import SplitResult, quote, urlencode, urlsplit

import httptools
import httpx

from .._version import __version__

__all__ = ["REQUEST_HEADERS", "AnswerHeaders", "DeadlineTransport", "Received"]

_READ_SIZE = 65536
_IDLE_CONNECTIONS = 20  # as httpx's default pool
#: below the 5 s after which uvicorn and Node close an idle connection, so the pool rarely
#: picks a connection the server is closing at that moment
_IDLE_SECONDS = 4.0
#: methods a server may get twice: resent once when a kept-alive connection turns out closed
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: bounds on an answer's head, as http.client's (a hostile server's endless head stops here)
_MAX_HEAD_BYTES = 65536
_MAX_HEADERS = 100
#: a body up to this size goes out in the same send as the head; a larger or unsized one chunk by chunk
_SMALL_BODY = 65536
#: characters a request target keeps as they are (RFC 3986 pchar, "/", "?" and "%" of an encoded one)
_TARGET_SAFE = "/?%:@!$&'()*+,;=-._~"
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9/?%:@!$&'()*+,;=._~-]*")
#: base URLs kept split, at most (a client has one; a source reader's downloads may add more)
_KNOWN_ORIGINS = 64
#: the answer encodings this transport asks for, and the zlib window that reads each
_DECODERS = {"gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
#: what every request of this client and of its import sources' readers says of itself: its
#: name and version, and the answer encodings it reads (those this transport decodes)
REQUEST_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {"Accept-Encoding": ", ".join(_DECODERS), "User-Agent": f"mskclient/{__version__}"}
)

#: a JSON body as httpx writes one (built once: `json.dumps` with options builds an encoder at every call)
_JSON_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

Origin = tuple[str, str, int]


class _Clock:
    """The deadline (time.monotonic) of the httpx requests running on each thread, or None."""

    def __init__(self) -> None:
        self._local = threading.local()

    def set(self, until: float | None) -> None:
        self._local.until = until

    def get(self) -> float | None:
        until: float | None = getattr(self._local, "until", None)
        return until


def _bound(timeout: float | None, until: float | None, expired: type[httpx.TimeoutException]) -> float | None:
    """`timeout`, shortened to what is left before `until` (`expired` once it has passed)."""
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


_TIMEOUTS: dict[type[httpx.TransportError], type[httpx.TimeoutException]] = {
    httpx.ConnectError: httpx.ConnectTimeout,
    httpx.WriteError: httpx.WriteTimeout,
    httpx.ReadError: httpx.ReadTimeout,
}


def _as_httpx(exc: OSError | ValueError, failure: type[httpx.TransportError]) -> httpx.TransportError:
    """A socket's failure as the httpx exception the drivers translate (`failure`, or its timeout)."""
    if isinstance(exc, TimeoutError):
        return _TIMEOUTS[failure](str(exc) or "timed out")
    return failure(str(exc) or type(exc).__name__)


class _Stale(httpx.ReadError):
    """A kept-alive connection turned out closed before any byte of the answer came."""


class _Head:
    """The parser's callbacks for the answer being read on a connection: its head, its body
    pieces, and where it ends.  One per connection, its parser going on from one answer to
    the next (`start`), as llhttp parses a keep-alive connection's stream.

    Interim (1xx) answers before it are passed over, as http.client does."""

    __slots__ = ("body", "complete", "extra", "head_done", "headers", "keep_alive", "parser")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.start()

    def start(self) -> None:
        """Ready for the next answer (new lists: an earlier `Received` keeps its own)."""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_done = False
        self.complete = False
        #: bytes came after the answer's end: the connection is out of step, never reused
        self.extra = False
        #: the answer lets the connection serve another request (known at its end: the parser
        #: forgets it when it starts over for the next answer)
        self.keep_alive = False

    # once the answer is complete, what follows is no part of it: only noted
    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if not self.complete:
            self.head_done = self.parser.get_status_code() >= 200

    def on_body(self, piece: bytes) -> None:
        if not self.complete:
            self.body.append(piece)

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if self.head_done:
            self.complete = True
            self.keep_alive = self.parser.should_keep_alive()
        else:  # an interim answer: the real one follows
            self.headers = []


class _Connection:
    """One keep-alive HTTP/1.1 connection of the pool, and when it became idle."""

    def __init__(self, sock: socket.socket, origin: Origin) -> None:
        self.sock = sock
        self.origin = origin
        self.idle_since = 0.0
        #: only a connection whose every answer was read to its end is reused, so the parser
        #: is always between answers when a request goes out
        self.head = _Head()
        self._readable = select.poll()
        self._readable.register(sock, select.POLLIN)

    def reusable(self, now: float) -> bool:
        """Idle for less than the expiry and not readable: a readable idle socket was closed by the server."""
        return now - self.idle_since <= _IDLE_SECONDS and not self._readable.poll(0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class AnswerHeaders(Mapping[str, str]):
    """An answer's headers, looked up by name in any case; a repeated header's values joined by
    ", " (`get_list` keeps them apart, as Set-Cookie needs).  What the drivers read of
    `httpx.Headers`, built without its per-lookup normalisation: the lines stay as they came
    until one is asked for (an answer is read for two or three of them)."""

    __slots__ = ("_joined", "_raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._joined: dict[str, str] | None = None

    def _by_name(self) -> dict[str, str]:
        if self._joined is None:
            joined: dict[str, str] = {}
            for raw_name, raw_value in self._raw:
                name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
                joined[name] = f"{joined[name]}, {value}" if name in joined else value
            self._joined = joined
        return self._joined

    def __getitem__(self, name: str) -> str:
        return self._by_name()[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        # Mapping.get would raise and catch a KeyError for every header an answer lacks
        return self._by_name().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name()

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name())

    def __len__(self) -> int:
        return len(self._by_name())

    def get_list(self, name: str) -> list[str]:
        """Every value of the header `name`, one per line it came in."""
        key = name.lower().encode("latin-1")
        return [value.decode("latin-1") for line, value in self._raw if line.lower() == key]


class Received:
    """An answer whose body is read as it arrives, its connection back in the pool at the end.

    What the blocking client reads of an `httpx.Response` (`status_code`, `headers`,
    `iter_bytes()` decoded as Content-Encoding says, `close()`), without building one."""

    __slots__ = ("_connection", "_head", "_read_timeout", "_transport", "headers", "raw_headers", "status_code")

    def __init__(
        self,
        transport: DeadlineTransport,
        connection: _Connection,
        head: _Head,
        read_timeout: float | None,
        method: str,
    ) -> None:
        self._transport = transport
        self._connection: _Connection | None = connection
        self._head = head
        self._read_timeout = read_timeout
        self.status_code = head.parser.get_status_code()
        self.raw_headers = head.headers
        self.headers = AnswerHeaders(head.headers)
        if method == "HEAD":
            head.complete = True

    def whole(self) -> bytes | None:
        """The body, when it came complete with the head and in no Content-Encoding (the
        connection then back in the pool); else None, and `iter_bytes` reads it."""
        head = self._head
        if not head.complete or self._connection is None or "content-encoding" in self.headers:
            return None
        pieces = head.body
        self._finish()
        return b"".join(pieces) if len(pieces) != 1 else pieces[0]

    def iter_raw(self) -> Iterator[bytes]:
        """The body as it came (chunked framing taken off, still in its Content-Encoding)."""
        connection, head = self._connection, self._head
        if connection is None:
            return
        while True:
            if head.body:
                pieces, head.body = head.body, []
                yield b"".join(pieces) if len(pieces) > 1 else pieces[0]
            if head.complete:
                break
            data = self._transport._receive(connection, self._read_timeout)
            if not data:
                # a body framed by a length or by chunks was cut short; one framed by neither
                # ends with the connection
                if "content-length" in self.headers or "chunked" in self.headers.get("transfer-encoding", ""):
                    self.close()
                    raise httpx.RemoteProtocolError("the connection closed before the answer's end")
                head.extra = True  # the end of the body is the end of the connection
                break
            self._feed(data)
        self._finish()

    def _finish(self) -> None:
        """The answer was read to its end: its connection back in the pool, or closed if it cannot serve again."""
        connection, head = self._connection, self._head
        self._connection = None
        head.body = []
        if connection is None:
            return
        if head.extra or not head.keep_alive:
            connection.close()
        else:
            self._transport._release(connection)

    def iter_bytes(self) -> Iterator[bytes]:
        """The body decoded as its Content-Encoding says (gzip or deflate, what the request asked for)."""
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            yield from self.iter_raw()
            return
        if encoding not in _DECODERS:
            self.close()
            raise httpx.DecodingError(f"the answer came in an encoding that was not asked for: {encoding!r}")
        decoder = zlib.decompressobj(_DECODERS[encoding])
        try:
            for piece in self.iter_raw():
                # bounded output per step, so a small bomb reaches the caller's size bound piece by piece
                while piece:
                    out = decoder.decompress(piece, _READ_SIZE)
                    piece = decoder.unconsumed_tail
                    if out:
                        yield out
            if tail := decoder.flush():
                yield tail
        except zlib.error as exc:
            self.close()
            raise httpx.DecodingError(f"the {encoding} answer does not decode: {exc}") from None

    def _feed(self, data: bytes) -> None:
        head = self._head
        try:
            head.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not head.complete:
                self.close()
                raise httpx.RemoteProtocolError(f"malformed answer: {exc}") from None
            head.extra = True  # garbage after the answer's end: this line is not reused

    def close(self) -> None:
        """Give the answer up: a connection whose answer was not read to its end is not reused."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class _ReceivedStream(httpx.SyncByteStream):
    """A `Received` body as the stream of an httpx.Response (which decodes it itself)."""

    def __init__(self, received: Received) -> None:
        self._received = received

    def __iter__(self) -> Iterator[bytes]:
        yield from self._received.iter_raw()

    def close(self) -> None:
        self._received.close()


class DeadlineTransport(httpx.BaseTransport):
    """Keep-alive HTTP/1.1 (TLS verified as httpx does) over deadline-bounded sockets.

    Outside `until` it is a plain keep-alive transport, each wait bounded by httpx's timeouts:
    the import sources' readers use it so for its lower cost per request."""

    def __init__(self) -> None:
        self._clock = _Clock()
        self._ssl_context: ssl.SSLContext | None = None
        self._idle: dict[Origin, list[_Connection]] = {}
        self._lock = threading.Lock()
        #: base URLs already split (a client sends every request below one)
        self._origins: dict[str, tuple[Origin, str, str]] = {}

    @contextlib.contextmanager
    def until(self, deadline: float) -> Iterator[None]:
        """Bound every socket wait of this thread's requests by `deadline` (time.monotonic)."""
        self._clock.set(deadline)
        try:
            yield
        finally:
            self._clock.set(None)

    # --- the blocking client's way in ---------------------------------------------------------------
    def exchange(
        self,
        method: str,
        base_url: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str],
        json_body: Any = None,
        timeouts: Mapping[str, float | None],
        until: float | None = None,
    ) -> Received:
        """Send `method base_url+path` (a JSON body if `json_body` is not None) and read the answer's
        head, every wait ending by `until` (time.monotonic) if given."""
        origin, host, prefix = self._origin(base_url)
        target = prefix + path
        if not _PLAIN_TARGET.fullmatch(target):
            target = quote(target, safe=_TARGET_SAFE)
        if params:
            target += "?" + urlencode(params, quote_via=quote)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        body = b""
        if json_body is not None:
            body = _JSON_BODY.encode(json_body).encode()
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return self._send(method, origin, _head(lines) + body, (), timeouts, until)

    def _origin(self, base_url: str) -> tuple[Origin, str, str]:
        known = self._origins.get(base_url)
        if known is None:
            if len(self._origins) >= _KNOWN_ORIGINS:  # a source's files may lie on many hosts
                self._origins.clear()
            try:
                known = self._origins[base_url] = _split_origin(urlsplit(base_url))
            except ValueError as exc:
                raise httpx.UnsupportedProtocol(f"not a URL this transport can reach: {base_url!r} ({exc})") from None
        return known

    # --- httpx's way in -------------------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        url = request.url
        origin, host, _ = self._origin(f"{url.scheme}://{url.netloc.decode('ascii')}")
        raw = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        lines = [f"{request.method} {url.raw_path.decode('ascii')} HTTP/1.1"]
        if not any(name.lower() == "host" for name, _ in raw):
            lines.append(f"Host: {host}")
        lines += [f"{name}: {value}" for name, value in raw]
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        length = request.headers.get("content-length")
        stream: Iterable[bytes] = request.stream
        rest: Iterable[bytes]
        head = _head(lines)
        if not chunked and length is not None and int(length) <= _SMALL_BODY:
            data, rest = head + b"".join(stream), ()
        else:
            data, rest = head, (_chunked(stream) if chunked else stream)
        timeouts = request.extensions.get("timeout", {})
        received = self._send(request.method, origin, data, rest, timeouts, self._clock.get())
        return httpx.Response(
            received.status_code,
            headers=received.raw_headers,
            stream=_ReceivedStream(received),
            extensions={"http_version": b"HTTP/1.1"},
        )

    # --- the exchange -----------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        origin: Origin,
        data: bytes,
        rest: Iterable[bytes],
        timeouts: Mapping[str, float | None],
        until: float | None,
    ) -> Received:
        """Write `data` then `rest` on a pooled (or new) connection and read the answer's head,
        every wait ending by `until` (time.monotonic) if given."""
        connection = self._idle_connection(origin)
        if connection is not None:
            try:
                return self._over(connection, method, data, rest, timeouts, until)
            except (_Stale, httpx.WriteError) as exc:
                # the server closed the kept-alive connection just as the request went out: an
                # idempotent request goes again on a new one; a POST's failure stands (it may have
                # landed), and so does one whose streamed body was already read from its source
                stale = isinstance(exc, _Stale) or isinstance(exc.__cause__, BrokenPipeError | ConnectionResetError)
                if method not in _IDEMPOTENT or not stale or rest != ():
                    raise
        connection = self._connect(origin, timeouts.get("connect"), until)
        return self._over(connection, method, data, rest, timeouts, until)

    def _over(
        self,
        connection: _Connection,
        method: str,
        data: bytes,
        rest: Iterable[bytes],
        timeouts: Mapping[str, float | None],
        until: float | None,
    ) -> Received:
        read_timeout = timeouts.get("read")
        try:
            write, sock = timeouts.get("write"), connection.sock
            try:
                _set_timeout(sock, _bound(write, until, httpx.WriteTimeout))
                sock.sendall(data)
                for piece in rest:
                    _set_timeout(sock, _bound(write, until, httpx.WriteTimeout))
                    sock.sendall(piece)
            except (OSError, ValueError) as exc:
                raise _as_httpx(exc, httpx.WriteError) from exc
            head = connection.head
            head.start()
            received = 0
            while not head.head_done:
                try:
                    piece = self._receive(connection, _bound(read_timeout, until, httpx.ReadTimeout))
                except httpx.ReadError as exc:
                    if received == 0 and isinstance(exc.__cause__, ConnectionResetError):
                        raise _Stale("the server reset the connection before answering") from exc
                    raise
                if not piece:
                    if received == 0:
                        raise _Stale("the server closed the connection before answering")
                    raise httpx.RemoteProtocolError("the connection closed within the answer's head")
                received += len(piece)
                try:
                    head.parser.feed_data(piece)
                except httptools.HttpParserError as exc:
                    raise httpx.RemoteProtocolError(f"malformed answer: {exc}") from None
                if len(head.headers) > _MAX_HEADERS or (not head.head_done and received > _MAX_HEAD_BYTES):
                    raise httpx.RemoteProtocolError("the answer's head is over its bounds (65,536 bytes, 100 lines)")
            return Received(self, connection, head, read_timeout, method)
        except BaseException:
            connection.close()
            raise

    def _receive(self, connection: _Connection, timeout: float | None) -> bytes:
        try:
            _set_timeout(connection.sock, timeout)
            return connection.sock.recv(_READ_SIZE)
        except (OSError, ValueError) as exc:
            raise _as_httpx(exc, httpx.ReadError) from exc

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(origin, [])
            while idle:
                connection = idle.pop()
                if connection.reusable(now):
                    return connection
                connection.close()
        return None

    def _connect(self, origin: Origin, timeout: float | None, until: float | None) -> _Connection:
        scheme, host, port = origin
        bounded = _bound(timeout, until, httpx.ConnectTimeout)
        try:
            sock = socket.create_connection((host, port), timeout=bounded)
        except (OSError, ValueError) as exc:
            raise _as_httpx(exc, httpx.ConnectError) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if self._ssl_context is None:
                    self._ssl_context = httpx.create_ssl_context()
                sock = self._ssl_context.wrap_socket(sock, server_hostname=host)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, OSError | ValueError):
                raise _as_httpx(exc, httpx.ConnectError) from exc
            raise
        return _Connection(sock, origin)

    def _release(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault(connection.origin, [])
            if sum(map(len, self._idle.values())) < _IDLE_CONNECTIONS:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            connections = [connection for idle in self._idle.values() for connection in idle]
            self._idle.clear()
        for connection in connections:
            connection.close()


def _set_timeout(sock: socket.socket, timeout: float | None) -> None:
    """`sock.settimeout`, skipped when it would change nothing (it is a system call each time)."""
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)


def _split_origin(url: SplitResult) -> tuple[Origin, str, str]:
    """(scheme, host, port), the Host header and the path below which requests go, of a base URL."""
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError("an http(s) URL with a host is needed")
    port = url.port or (443 if url.scheme == "https" else 80)
    return (url.scheme, url.hostname, port), url.netloc.rpartition("@")[2], url.path


def _head(lines: Sequence[str]) -> bytes:
    """A request head from its lines, refusing a line break inside one (header injection)."""
    for line in lines:
        if "\r" in line or "\n" in line or "\0" in line:
            raise httpx.LocalProtocolError("a request header holds a line break or NUL")
    try:
        return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
    except UnicodeEncodeError:
        raise httpx.LocalProtocolError("a request header holds a character HTTP/1.1 cannot carry") from None


def _chunked(stream: Iterable[bytes]) -> Iterator[bytes]:
    """A body of unknown length in HTTP/1.1 chunks."""
    for piece in stream:
        if piece:
            yield b"%x\r\n%b\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"
