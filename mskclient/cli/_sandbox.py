"""`msk sandbox`: run the local MSKanban-compatible server in the foreground."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import click

__all__ = ["sandbox"]


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn without its own signal handling: ours stops it and exits with status 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


def default_db() -> str:
    """The sandbox database in the user's data directory (created on first use)."""
    folder = Path(click.get_app_dir("mskclient"))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(folder / "sandbox.db")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--db", "db_path", default=None, help="SQLite file (default: in the user data directory); :memory: allowed."
)
@click.option("--reset", is_flag=True, help="Delete the database first.")
@click.option("--no-rate-limits", is_flag=True, help="Lift every rate limit and the login backoff (tests, benchmarks).")
@click.option(
    "--log", "log_path", default=None, help="Append one line per request (method, path, status) to this file."
)
def sandbox(host: str, port: int, db_path: str | None, reset: bool, no_rate_limits: bool, log_path: str | None) -> None:
    """Run a local MSKanban-compatible server; prints its URL, stops on Ctrl-C or SIGTERM."""
    import uvicorn

    from ..sandbox import SandboxConfig, create_app
    from ..sandbox._app import end_streams

    _Server = _server_class()
    from ..sandbox._server import bind_socket, url_of

    db_path = db_path or default_db()
    if reset and db_path != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db_path + suffix):
                os.remove(db_path + suffix)
    config = SandboxConfig(db_path=db_path, log_path=log_path)
    if no_rate_limits:
        config = config.lift_limits()
    sock = bind_socket(host, port)
    app = create_app(config)
    click.echo(url_of(sock))
    click.echo(f"database: {db_path} (Ctrl-C stops)", err=True)
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))

    def stop(signum: int, frame: object) -> None:
        if server.should_exit:  # a second Ctrl-C: stop waiting for open connections
            server.force_exit = True
        server.should_exit = True
        # Open SSE streams and relay sockets would hold up the graceful shutdown: end them.
        threading.Thread(target=end_streams, args=(app,), daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    click.echo("sandbox stopped", err=True)
