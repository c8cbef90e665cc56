"""Passwords through `msk`: weak new ones refused before any request, a wrong one said plainly,
a costly key derivation announced, explicit flags over a stale MSK_SESSION."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _accounts import PASSWORD

from mskclient._profile import KdfParams
from mskclient.crypto import RecoveryKey, format_recovery_key
from mskclient.sandbox import Sandbox, SandboxConfig

from ._run import msk
from .conftest import User, new_user

#: Nothing listens here: a command that sent a request would fail with a transport error (exit 3).
_NOWHERE = "http://127.0.0.1:9"


def _offline_env(tmp_path: Path, password: str) -> dict[str, str | None]:
    return {"MSK_SERVER": _NOWHERE, "MSK_CONFIG_DIR": str(tmp_path), "MSK_PASSWORD": password, "MSK_SESSION": None}


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("x", "too short: use at least 12 characters"),
        ("password1234", "too weak: This is a very common password"),
        ("qwertyuiopasdf", "too weak: "),
        ("mallory@example.test", "too weak: "),
    ],
)
def test_weak_passwords_are_refused_before_any_request(tmp_path: Path, password: str, reason: str) -> None:
    ran = msk("register", "mallory@example.test", env=_offline_env(tmp_path, password))
    assert ran.code == 2, ran.err
    assert ran.err.startswith("msk: error: the password is ") and reason in ran.err
    assert len(ran.err.strip().splitlines()) == 1


def test_recover_refuses_a_weak_new_password_before_any_request(tmp_path: Path) -> None:
    key_file = tmp_path / "recovery.txt"
    key_file.write_text(format_recovery_key(RecoveryKey.generate()))
    env = _offline_env(tmp_path, "abc123abc")
    ran = msk("recover", "ana@example.test", "--recovery-key-file", str(key_file), env=env)
    assert ran.code == 2 and "the password is too short" in ran.err


@pytest.fixture(scope="module")
def costly_sandbox() -> Iterator[str]:
    """A server asking for twice the default derivation work (memory doubled)."""
    with Sandbox(SandboxConfig(kdf=KdfParams(memory_kib=131072, iterations=3, parallelism=4)).lift_limits()) as url:
        yield url


def test_a_costlier_key_derivation_is_announced(costly_sandbox: str, tmp_path: Path) -> None:
    env = {**_offline_env(tmp_path, PASSWORD), "MSK_SERVER": costly_sandbox}
    ran = msk("register", "costly@example.test", env=env)
    assert ran.code == 0, ran.err
    assert "The server asks for stronger key derivation than usual (m=128 MiB, t=3, p=4): this takes about 1 s" in (
        ran.err
    )


def test_the_default_key_derivation_is_not_announced(sandbox_url: str, tmp_path: Path) -> None:
    email = new_user(sandbox_url, tmp_path, "plain").email
    env = {**_offline_env(tmp_path, PASSWORD), "MSK_SERVER": sandbox_url, "MSK_PROFILE": "again"}
    ran = msk("login", email, env=env)
    assert ran.code == 0 and "key derivation" not in ran.err


@pytest.fixture
def saved(sandbox_url: str, tmp_path: Path) -> User:
    """A profile logged in and unlocked (MSK_SESSION set), the password no longer in the environment."""
    return new_user(sandbox_url, tmp_path, "saved")


def test_a_wrong_password_on_a_saved_session_says_so(saved: User) -> None:
    wrong = {**saved.env, "MSK_SESSION": None, "MSK_PASSWORD": "wrong horse battery staple"}
    ran = msk("workspaces", "list", env=wrong)
    assert ran.code == 5, ran.err
    assert "wrong password" in ran.err and "encSymmetricKey" not in ran.err
    assert ran.err.startswith("msk: error: ") and len(ran.err.strip().splitlines()) == 1


def test_a_password_file_wins_over_a_stale_msk_session(saved: User, tmp_path: Path) -> None:
    saved("lock")
    assert saved("workspaces", "list", ok=False).code != 0  # the box is gone: MSK_SESSION is stale
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    ran = saved("workspaces", "list", "--password-file", str(password_file))
    assert ran.code == 0
