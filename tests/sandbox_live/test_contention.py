"""The engine's database calls wait out contention: SQLITE_LOCKED on a shared-cache in-memory
database (which SQLite never waits for) and SQLITE_BUSY on a file with busy_timeout 0."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mskclient.sandbox import _webhooks
from mskclient.sandbox._config import SandboxConfig
from mskclient.sandbox._db import connect, release
from mskclient.sandbox._webhooks import loop_connection, retry_async, retry_sync

INSERT = "INSERT INTO events (board_id, verb, timestamp, metadata) VALUES ('cboard0001', 'CARD_CREATED', 't', '{}')"


@pytest.fixture(params=["memory", "file"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxConfig]:
    config = SandboxConfig(db_path=":memory:" if request.param == "memory" else str(tmp_path / "db"))
    yield config
    release(config)


class Writer:
    """A connection holding a write transaction that has written to `events`."""

    def __init__(self, config: SandboxConfig) -> None:
        self.conn = connect(config)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(INSERT)

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


def write_event(conn: sqlite3.Connection) -> int:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(INSERT)
    conn.execute("COMMIT")
    return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


async def test_retry_async_waits_for_the_writer(config: SandboxConfig) -> None:
    conn = loop_connection(lambda: connect(config))
    writer = Writer(config)
    attempts: list[int] = []

    def work() -> int:
        attempts.append(1)
        return write_event(conn)

    task = asyncio.create_task(retry_async(work))
    while not attempts:
        await asyncio.sleep(0)
    assert not task.done(), "the first attempt should have met the open transaction"
    writer.commit()
    assert await asyncio.wait_for(task, 10) == 2
    assert len(attempts) >= 2
    conn.close()


def test_retry_sync_waits_for_the_writer(config: SandboxConfig) -> None:
    conn = loop_connection(lambda: connect(config))
    writer = Writer(config)
    failed_once = threading.Event()
    result: list[int] = []

    def work() -> int:
        try:
            return write_event(conn)
        except sqlite3.OperationalError:
            conn.rollback()
            failed_once.set()
            raise

    thread = threading.Thread(target=lambda: result.append(retry_sync(work)))
    thread.start()
    assert failed_once.wait(10)
    writer.commit()
    thread.join(10)
    assert result == [2]
    conn.close()


async def test_other_errors_and_endless_contention_are_not_hidden(
    config: SandboxConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = loop_connection(lambda: connect(config))
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await retry_async(lambda: conn.execute("SELECT * FROM nowhere").fetchall())
    monkeypatch.setattr(_webhooks, "CONTENTION_TIMEOUT", 0.05)
    writer = Writer(config)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await retry_async(lambda: write_event(conn))
    writer.commit()
    conn.close()
