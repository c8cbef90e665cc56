"""SandboxConfig, the clocks and the Sandbox runner's life cycle."""

from __future__ import annotations

import httpx
import pytest

from mskclient._errors import UsageError
from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig, SystemClock


def test_manual_clock_advances_and_tells_listeners() -> None:
    clock = ManualClock(100.0)
    heard: list[float] = []
    clock.on_advance(heard.append)
    assert clock.time() == 100.0
    clock.advance(30)
    clock.advance(0.5)
    assert clock.time() == 130.5 and heard == [130.0, 130.5]
    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)


def test_defaults() -> None:
    config = SandboxConfig()
    assert config.db_path == ":memory:" and isinstance(config.clock, SystemClock)
    assert config.max_attachment == 25 * 1024 * 1024 and config.server_secret is None
    assert SandboxConfig().memory_name != config.memory_name  # each config its own memory database


def test_sandbox_life_cycle() -> None:
    sandbox = Sandbox(SandboxConfig().lift_limits())
    url = sandbox.start()
    assert httpx.post(url + "/api/auth/login-init", json={"email": "a@example.org"}).status_code == 200
    sandbox.app.state.shared.conn.execute("INSERT INTO meta (key, value) VALUES ('marker', 'here')")
    with pytest.raises(UsageError):
        sandbox.start()
    assert httpx.get(url + "/api/health").json()["ok"] is True
    sandbox.stop()
    sandbox.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/api/health")
    with pytest.raises(UsageError):
        _ = sandbox.app
    # A stopped sandbox starts again on a new port, its in-memory database fresh.
    with sandbox as again:
        assert again != "" and httpx.get(again + "/api/health").status_code == 200
        conn = sandbox.app.state.shared.conn
        assert conn.execute("SELECT count(*) FROM meta WHERE key = 'marker'").fetchone()[0] == 0


def test_bad_host_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot listen"):
        Sandbox(host="256.0.0.1").start()


def test_a_locked_shared_cache_transaction_is_retried() -> None:
    """Another connection of the in-memory database holds the write lock (SQLITE_LOCKED, which
    busy_timeout does not cover): the request waits for it instead of failing."""
    import sqlite3
    import threading
    from typing import Any

    from _accounts import User

    from mskclient.sandbox._db import connect

    locked = threading.Event()

    class Watch:
        """Delegates to the app's connection and tells when SQLite said LOCKED."""

        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def execute(self, *args: Any) -> Any:
            try:
                return self.conn.execute(*args)
            except sqlite3.OperationalError:
                locked.set()
                raise

        def __getattr__(self, name: str) -> Any:
            return getattr(self.conn, name)

    sandbox = Sandbox(SandboxConfig().lift_limits())
    with sandbox as url:
        user = User(url, "locked@example.org").signed_up()
        shared = sandbox.app.state.shared  # type: ignore[attr-defined]
        shared.conn = Watch(shared.conn)
        other = connect(sandbox.config)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO meta (key, value) VALUES ('holder', 'x')")
        answers: list[int] = []
        request = threading.Thread(target=lambda: answers.append(user.http.post("/auth/2fa/enroll").status_code))
        request.start()
        assert locked.wait(30)
        other.execute("COMMIT")
        other.close()
        request.join(30)
        assert answers == [200]
        user.close()
