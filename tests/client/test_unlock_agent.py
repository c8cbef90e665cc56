"""`msk unlock` keeps the keys in a per-user agent process, never on disk, gone at the timeout."""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mskclient._errors import CredentialsError
from mskclient._session_store import SessionStore
from mskclient.crypto import AccountKeys, KeyPair, UserKey


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SessionStore]:
    store = SessionStore(tmp_path / "config")
    yield store
    for profile in ("p", "q"):
        store.lock(profile)  # never leave an agent running after a test


@pytest.fixture
def keys() -> AccountKeys:
    return AccountKeys(UserKey.generate(), KeyPair.generate())


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if not path.is_dir()] if root.exists() else []


def test_the_agent_needs_the_secret_and_leaves_nothing_on_disk(
    store: SessionStore, keys: AccountKeys, tmp_path: Path
) -> None:
    secret = store.unlock("p", keys, 900)
    socket_path = store.agent_path("p")
    assert stat.S_ISSOCK(socket_path.lstat().st_mode) and stat.S_IMODE(socket_path.lstat().st_mode) == 0o600
    assert stat.S_IMODE(socket_path.parent.lstat().st_mode) == 0o700
    assert socket_path.parent.lstat().st_uid == os.getuid()
    assert _files(tmp_path) == []  # no unlock file, no key, nothing

    opened = store.unlocked_keys("p", secret)
    assert opened.user_key == keys.user_key and opened.keypair.public == keys.keypair.public
    assert store.unlock_expiry("p") is not None

    other = store.unlock("q", keys, 900)
    with pytest.raises(CredentialsError, match="does not open"):
        store.unlocked_keys("p", other)  # another profile's secret

    with pytest.raises(CredentialsError, match="expired"):
        store.unlocked_keys("p", secret, now=time.time() + 901)  # past the expiry bound in the box
    assert not socket_path.exists()  # and the agent was told to go
    assert store.lock("p") is False and store.lock("q") is True
    with pytest.raises(CredentialsError, match="locked"):
        store.unlocked_keys("q", other)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and SO_PEERCRED, Linux only")
def test_the_agent_runs_without_core_dumps(store: SessionStore, keys: AccountKeys) -> None:
    store.unlock("p", keys, 900)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(store.agent_path("p")))
        pid, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    core = next(line for line in limits if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"]
    assert "mskclient._agent" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert not any(keys.user_key.raw in arg for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))


def test_after_the_timeout_an_earlier_clock_opens_nothing(
    store: SessionStore, keys: AccountKeys, tmp_path: Path
) -> None:
    secret = store.unlock("p", keys, 1)
    socket_path = store.agent_path("p")
    give_up = time.monotonic() + 60
    while socket_path.exists() and time.monotonic() < give_up:  # the agent ends itself at its deadline
        time.sleep(0.1)
    assert not socket_path.exists()
    assert _files(tmp_path) == []
    with pytest.raises(CredentialsError, match="locked"):  # a clock set an hour back does not bring it back
        store.unlocked_keys("p", secret, now=time.time() - 3600)


def test_a_legacy_unlock_file_is_removed(store: SessionStore, keys: AccountKeys, tmp_path: Path) -> None:
    legacy = tmp_path / "config" / "unlock" / "p.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text('{"version": 1, "expiresAt": 0, "box": "x"}')
    store.unlock("p", keys, 900)
    assert not legacy.exists()
