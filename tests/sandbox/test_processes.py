"""Acceptance: two sandbox processes on one database file lose nothing under concurrent
writes; `python -m mskclient.sandbox` prints its URL and stops cleanly on SIGTERM (`msk sandbox`'s
own tests are in tests/cli/test_sandbox_command.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from _accounts import User, env, make_board

from mskclient.sandbox import Sandbox, SandboxConfig

WRITERS = 4
CARDS_EACH = 15
TOGGLES_EACH = 10


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    config = SandboxConfig(db_path=str(tmp_path / "shared.db")).lift_limits()
    with Sandbox(config, process=True) as first, Sandbox(config, process=True) as second:
        yield first, second


def test_two_processes_one_database_lose_nothing(two_servers: tuple[str, str]) -> None:
    first, second = two_servers
    alice = User(first, "alice@example.org").signed_up()
    board = make_board(alice)
    label = alice.http.post(
        f"/boards/{board.id}/labels", json={"encName": env(board.bk, "label", "encName", "l"), "color": "#000000"}
    ).json()["id"]
    shared_card = alice.card(board.column, board.bk)["id"]
    cookie = alice.http.cookies["msk_session"]
    title = env(board.bk, "card", "encTitle", "t")

    def writer(index: int) -> tuple[list[str], int]:
        url = (first, second)[index % 2]
        made, changes = [], 0
        with httpx.Client(base_url=url + "/api", cookies={"msk_session": cookie}, timeout=60) as http:
            for n in range(CARDS_EACH):
                r = http.post(f"/columns/{board.column}/cards", json={"encTitle": title})
                assert r.status_code == 201, r.text
                made.append(r.json()["id"])
                if n < TOGGLES_EACH:
                    # Concurrent attach/detach on one card: every change must bump its version.
                    method = "POST" if (n + index) % 2 == 0 else "DELETE"
                    r = http.request(method, f"/cards/{shared_card}/labels", json={"labelId": label})
                    assert r.status_code == (200 if method == "POST" else 204), r.text
                    r = http.post(f"/cards/{shared_card}/comments", json={"encBody": title})
                    assert r.status_code == 201
                    changes += 1
        return made, changes

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(writer, range(WRITERS)))
    expected = {card for made, _ in results for card in made} | {shared_card}
    for url in (first, second):
        with httpx.Client(base_url=url + "/api", cookies={"msk_session": cookie}) as http:
            listed = http.get(f"/boards/{board.id}/cards").json()
            assert {c["id"] for c in listed} == expected
            assert len(listed) == WRITERS * CARDS_EACH + 1
            positions = [c["position"] for c in listed]
            assert len(set(positions)) == len(positions)
            card = http.get(f"/cards/{shared_card}").json()
            assert card["commentCount"] == sum(c for _, c in results)
            events = http.get(f"/boards/{board.id}/activity?limit=500").json()
            created = [e for e in events if e["verb"] == "CARD_CREATED"]
            assert len(created) == WRITERS * CARDS_EACH + 1
            labelled = [e for e in events if e["verb"] in ("LABEL_ATTACHED", "LABEL_DETACHED")]
            # Versions count exactly the label changes that happened (none lost, none doubled).
            assert card["version"] == 1 + len(labelled)
    alice.close()


def test_cli_prints_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    db, log = tmp_path / "cli.db", tmp_path / "access.log"
    db.write_bytes(b"not a database")
    child = subprocess.Popen(
        [sys.executable, "-m", "mskclient.sandbox", "--port", "0", "--db", str(db), "--reset", "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/api/health", timeout=30).json() == {"ok": True, "db": "ok", "redis": "absent"}
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 0
        assert " GET /api/health 200 " in log.read_text()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def test_database_files_are_private(tmp_path: Path) -> None:
    from mskclient._errors import UsageError
    from mskclient.sandbox._db import connect

    config = SandboxConfig(db_path=str(tmp_path / "private.db"))
    conn = connect(config)
    conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    for name in ("private.db", "private.db-wal", "private.db-shm"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    conn.close()
    with pytest.raises(UsageError):
        connect(SandboxConfig(db_path=str(tmp_path / "missing-dir" / "x.db")))
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(UsageError):
        connect(SandboxConfig(db_path=str(tmp_path / "junk.db")))
