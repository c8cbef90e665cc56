"""A raw-socket HTTP server that answers as a hostile server would: endless, slow or absurd.

Each connection's request is read up to its blank line, then `answer(socket)` writes whatever
the test wants, byte by byte if it likes; `sent` counts the bytes the server got out before the
client hung up, which tells how much of an endless answer the client read.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator

Answer = Callable[[socket.socket], Iterable[bytes]]


class HostileServer:
    def __init__(self) -> None:
        self.answer: Answer = lambda _: [b"HTTP/1.1 204 No Content\r\n\r\n"]
        self.sent = 0
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                request = b""
                while b"\r\n\r\n" not in request:
                    data = sock.recv(65536)
                    if not data:
                        return
                    request += data
                with contextlib.suppress(OSError):
                    for piece in server.answer(sock):
                        sock.sendall(piece)
                        server.sent += len(piece)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def head(status: str = "200 OK", content_type: str = "application/json", length: int | None = None) -> bytes:
    """A status line and headers (chunked when no length is given), ending in the blank line."""
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode()


def endless(piece: bytes, total: int) -> Iterator[bytes]:
    """`piece` repeated until `total` bytes (a lazy body: nothing of it is held at once)."""
    for _ in range(total // len(piece)):
        yield piece


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Pieces in HTTP/1.1 chunked framing (no last chunk: the body never ends)."""
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"


def dripping(data: bytes, every: float) -> Iterator[bytes]:
    """`data` one byte at a time, `every` seconds apart (a slowloris answer)."""
    for byte in data:
        time.sleep(every)
        yield bytes([byte])
