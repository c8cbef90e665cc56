"""Running a sandbox: uvicorn in a background thread (or a child process) on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from .._errors import TransportError, UsageError
from ._app import end_streams
from ._config import SandboxConfig, SystemClock
from ._db import release

__all__ = ["Sandbox", "bind_socket", "reset_database", "serve", "url_of"]

#: Seconds to wait for a server to come up or go down.
START_TIMEOUT = 30.0


#: How the sandbox runs uvicorn.  No permessage-deflate: relay frames are ciphertext, which
#: does not compress, and browsers (and Node's `ws`) offer it by default, so every frame to
#: and from them would go through zlib for nothing.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "warning",
    "access_log": False,
    "lifespan": "on",
    "ws_per_message_deflate": False,
}


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), handed to uvicorn so there is no race for it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then (else +40 ms a request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def reset_database(db_path: str) -> None:
    """Delete a sandbox database file and its WAL companions (nothing to do for `:memory:`)."""
    if db_path == ":memory:":
        return
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(db_path + suffix)


def serve(
    config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 0, announce: Callable[[str], None] = print
) -> None:
    """Run a sandbox in the foreground until SIGINT or SIGTERM; `announce` gets its URL once it listens.

    A first signal stops gracefully (open SSE streams and relay sockets are ended, since the
    server waits for them); a second one stops without waiting.
    """
    import uvicorn

    from ._app import create_app

    class Server(uvicorn.Server):
        """uvicorn without its own signal handling: ours stops it, and the process exits with 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    sock = bind_socket(host, port)
    app = create_app(config)
    server = Server(uvicorn.Config(app, **UVICORN_OPTIONS))

    def stop(signum: int, frame: object) -> None:
        if server.should_exit:  # a second signal: stop waiting for open connections
            server.force_exit = True
        server.should_exit = True
        threading.Thread(target=end_streams, args=(app,), daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        announce(url_of(sock))
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


class Sandbox:
    """A sandbox server for tests and demos::

        with Sandbox() as url:
            httpx.get(url + "/api/health")

    `process=True` runs it in a child Python process (own GIL, own connections; the
    configuration must then be a file database with the system clock).
    """

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", process: bool = False):
        self.config = config or SandboxConfig()
        self.host = host
        self.process = process
        self.url = ""
        self._server: object | None = None
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[str] | None = None
        if process and (
            self.config.db_path == ":memory:"
            or not isinstance(self.config.clock, SystemClock)
            or self.config.server_secret is not None
            or self.config.log_path is not None
        ):
            raise UsageError(
                "a sandbox process needs a database file and the system clock; its server secret is the database's"
            )

    @property
    def app(self) -> object:
        """The Starlette app of a thread sandbox (its `.state.realtime` is the engine)."""
        if self._server is None:
            raise UsageError("the sandbox is not running in this process")
        return self._server.config.app  # type: ignore[attr-defined]

    def start(self) -> str:
        if self.url:
            raise UsageError("the sandbox is already running")
        if self.process:
            self._start_process()
        else:
            self._start_thread()
        return self.url

    def _start_thread(self) -> None:
        import uvicorn

        from ._app import create_app

        sock = bind_socket(self.host, 0)
        app = create_app(self.config)
        server = uvicorn.Server(uvicorn.Config(app, **UVICORN_OPTIONS))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="msk-sandbox", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise TransportError("the sandbox did not start")
            time.sleep(0.01)
        self._server, self._thread, self.url = server, thread, url_of(sock)
        self._sock = sock

    def _start_process(self) -> None:
        args = [
            sys.executable,
            "-m",
            "mskclient.sandbox",
            "--host",
            self.host,
            "--port",
            "0",
            "--db",
            self.config.db_path,
        ]
        if not self.config.rate_limits:
            args.append("--no-rate-limits")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if not line.startswith("http"):
            child.kill()
            child.wait()
            raise TransportError("the sandbox process did not start")
        self._child, self.url = child, line

    def stop(self) -> None:
        if self._child is not None:
            self._child.terminate()
            try:
                self._child.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            if self._child.stdout is not None:
                self._child.stdout.close()
            self._child = None
        if self._server is not None and self._thread is not None:
            end_streams(self._server.config.app)  # type: ignore[attr-defined]
            self._server.should_exit = True  # type: ignore[attr-defined]
            self._thread.join(START_TIMEOUT)
            stuck = self._thread.is_alive()
            self._sock.close()
            self._server = self._thread = None
            release(self.config)
            if stuck:
                raise TransportError("the sandbox did not stop")
        self.url = ""

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
