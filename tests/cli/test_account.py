"""`msk register/login/logout/whoami/recover/unlock/lock/2fa` and the shared CLI context, on a real sandbox."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from _accounts import PASSWORD, fresh_email, totp_now
from click.testing import CliRunner, Result

from mskclient import AuthError, UsageError
from mskclient._session_store import SessionStore
from mskclient.cli._context import CliContext, global_options, parse_duration
from mskclient.cli._main import cli
from mskclient.sandbox import ManualClock


@click.command()
@global_options
def probe(ctx: CliContext) -> None:
    """A decrypting command: needs the account keys (MSK_SESSION or the password)."""
    client = ctx.unlocked_client()
    ws = client.create_workspace("probe ✓")
    click.echo(client.workspace(ws.id).name)


@click.command()
@global_options
def async_probe(ctx: CliContext) -> None:
    """The async variant other commands (live, watch) use."""

    async def main() -> str:
        async with ctx.async_client() as client:
            ws = await client.create_workspace("async probe ✓")
            return (await client.workspace(ws.id)).name

    click.echo(asyncio.run(main()))


@pytest.fixture
def env(tmp_path: Path, clocked: tuple[str, ManualClock], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    url, _ = clocked
    for name in ("MSK_SESSION", "MSK_PASSWORD", "MSK_PROFILE", "MSK_SERVER"):
        monkeypatch.delenv(name, raising=False)
    yield {"MSK_CONFIG_DIR": str(tmp_path / "config"), "MSK_SERVER": url, "MSK_PASSWORD": PASSWORD}
    store = SessionStore(tmp_path / "config")
    for session in store.root.glob("sessions/*.json"):
        store.lock(session.stem)  # stop the unlock agents the test started


def run(args: list[str], env: dict[str, str], command: click.Command = cli, **kwargs: Any) -> Result:
    return CliRunner().invoke(command, args, env=env, catch_exceptions=True, **kwargs)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_register_whoami_logout(env: dict[str, str], tmp_path: Path) -> None:
    email = fresh_email("cli")
    out = ok(run(["register", email], env))
    assert re.search(r"([0-9A-Z]{4}-){13}[0-9A-Z*~$=U]", out), out  # the recovery key, shown once
    session = tmp_path / "config" / "sessions" / "default.json"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert PASSWORD not in session.read_text()
    who = json.loads(ok(run(["whoami", "--json"], env)))
    assert (who["email"], who["unlocked"], who["profile"]) == (email, False, "default")
    ok(run(["logout"], env))
    assert not session.exists()
    result = run(["whoami"], env)
    assert isinstance(result.exception, UsageError)


def test_login_password_file_and_profiles(env: dict[str, str], tmp_path: Path) -> None:
    email = fresh_email("cli")
    ok(run(["register", email, "--profile", "first"], env))
    password_file = tmp_path / "pw.txt"
    password_file.write_text(PASSWORD + "\n")
    no_env_password = {k: v for k, v in env.items() if k != "MSK_PASSWORD"}
    out = ok(
        run(["login", email, "--profile", "second", "--password-file", str(password_file), "--json"], no_env_password)
    )
    assert json.loads(out)["profile"] == "second"
    assert json.loads(ok(run(["whoami", "--json", "--profile", "second"], env)))["email"] == email
    wrong = run(["login", email, "--profile", "third"], {**env, "MSK_PASSWORD": "wrong"})
    assert isinstance(wrong.exception, AuthError)
    prompted = run(["login", email, "--profile", "fourth"], no_env_password, input=PASSWORD + "\n")
    assert "Logged in" in ok(prompted)


def test_unlock_session_lock_and_timeout(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    email = fresh_email("cli")
    ok(run(["register", email], env))
    out = ok(run(["unlock", "--timeout", "15m"], env))
    secret = re.fullmatch(r"export MSK_SESSION=(\S+)\n", out)
    assert secret, out
    unlocked = {k: v for k, v in env.items() if k != "MSK_PASSWORD"} | {"MSK_SESSION": secret.group(1)}
    assert ok(run([], unlocked, probe)).strip() == "probe ✓"  # no password needed
    assert ok(run([], unlocked, async_probe)).strip() == "async probe ✓"
    assert json.loads(ok(run(["whoami", "--json"], env)))["unlocked"] is True
    assert not (tmp_path / "config" / "unlock").exists()  # the keys live in the agent, not on disk

    import mskclient._session_store as store_module

    real_time = store_module.time.time
    monkeypatch.setattr(store_module.time, "time", lambda: real_time() + 16 * 60)
    expired = run([], unlocked, probe)
    assert isinstance(expired.exception, AuthError) and "expired" in str(expired.exception)
    monkeypatch.setattr(store_module.time, "time", real_time)

    out = ok(run(["unlock", "--timeout", "1h"], env))
    unlocked["MSK_SESSION"] = out.split("=", 1)[1].strip()
    ok(run(["lock"], env))
    locked = run([], unlocked, probe)
    assert isinstance(locked.exception, AuthError) and "locked" in str(locked.exception)
    assert ok(run([], env, probe)).strip() == "probe ✓"  # the password still works


def test_two_factor_and_recover(env: dict[str, str], clocked: tuple[str, ManualClock], tmp_path: Path) -> None:
    _, clock = clocked
    email = fresh_email("cli")
    registered = ok(run(["register", email, "--json"], env))
    recovery_key = json.loads(registered)["recoveryKey"]
    shown = ok(run(["2fa", "enroll"], env))
    assert "otpauth://totp/" in shown and "█" in shown  # URL and terminal QR code
    enrollment = json.loads(ok(run(["2fa", "enroll", "--json"], env)))  # a new pending secret
    ok(run(["2fa", "verify", totp_now(enrollment["secret"], at=clock.time())], env))
    clock.advance(30)
    prompted = run(["login", email], env, input=totp_now(enrollment["secret"], at=clock.time()) + "\n")
    assert "2FA code" in ok(prompted)
    clock.advance(30)
    ok(run(["2fa", "disable", totp_now(enrollment["secret"], at=clock.time())], env))

    key_file = tmp_path / "rk.txt"
    key_file.write_text(recovery_key.replace("-", " ").lower())
    new_password = {**env, "MSK_PASSWORD": "brand new password"}
    ok(run(["recover", email, "--recovery-key-file", str(key_file)], new_password))
    assert isinstance(run(["login", email], env).exception, AuthError)
    ok(run(["login", email], new_password))
    key_file.write_text("0000-1111")
    assert run(["recover", email, "--recovery-key-file", str(key_file)], new_password).exit_code != 0


def test_context_checks(env: dict[str, str]) -> None:
    assert parse_duration("15m") == 900 and parse_duration("2h") == 7200 and parse_duration("90") == 90
    for bad in ("soon", "-5m", "0"):
        with pytest.raises(UsageError):
            parse_duration(bad)
    no_server = {k: v for k, v in env.items() if k != "MSK_SERVER"}
    assert isinstance(run(["register", fresh_email()], no_server).exception, UsageError)
    assert isinstance(run(["whoami", "--profile", "../x"], env).exception, UsageError)
