"""`msk account export` (streamed, atomic) and `msk doctor` (ok and failing checks)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from cli._run import msk

from mskclient._session_store import SessionRecord, SessionStore

from ._server import USER, Behaviour, fixture_server
from .conftest import Account


def test_account_export_saves_the_servers_document(account: Account, tmp_path: Path) -> None:
    out = tmp_path / "me.json"
    _, stdout, _ = account.run("account", "export", "--out", str(out), "--json")
    summary = json.loads(stdout)
    assert summary["bytes"] == out.stat().st_size and summary["requests"] == 1
    saved = json.loads(out.read_text("utf-8"))
    online = account.client.export_me()
    assert saved["user"]["id"] == online["user"]["id"]
    saved.pop("exportedAt"), online.pop("exportedAt")
    assert saved == online
    assert os.stat(out).st_mode & 0o777 == 0o600
    code, _, err = account.run("account", "export", "--out", str(out), ok=False)
    assert code == 2 and "exists; pass --force" in err
    _, shown, _ = account.run("account", "export", "--out", str(out), "--force")
    assert re.search(r"Saved /me/export \(\d+(\.\d)? kB, ciphertext\)", shown) and "bytes" not in shown
    # the offline export reads it
    _, stdout, _ = account.run("export", "--from-file", str(out), "--out", str(tmp_path / "x"), "--json", password=True)
    assert json.loads(stdout)["boards"] == 2


def test_account_export_default_name(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _, stdout, _ = account.run("account", "export", "--json")
    name = json.loads(stdout)["file"]
    assert name.startswith("msk-export-") and name.endswith(".json") and (tmp_path / name).is_file()


def _profile(config: Path, url: str) -> dict[str, str | None]:
    """A profile logged in (as far as this machine knows) to the fixture server."""
    SessionStore(config).save("fx", SessionRecord(url, USER["email"], USER["id"], "fixture-token"))
    return {"MSK_CONFIG_DIR": str(config), "MSK_PROFILE": "fx", "MSK_SERVER": None, "MSK_SESSION": None,
            "MSK_PASSWORD": None}  # fmt: skip


@pytest.mark.parametrize("command", [("account", "export"), ("backup",)])
def test_an_interrupted_download_leaves_no_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    """The server drops the connection in the middle of /me/export: no file, no temporary file."""
    with fixture_server(Behaviour(export_cut_at=500)) as url:
        env = _profile(tmp_path / "config", url)
        out = tmp_path / "out" / "saved"
        out.parent.mkdir()
        ran = msk(*command, "--out", str(out), env=env)
    assert ran.code == 3 and "GET /api/me/export" in ran.err
    assert list(out.parent.iterdir()) == []


def _doctor(env: dict[str, str | None], *args: str) -> tuple[int, dict[str, Any]]:
    ran = msk("doctor", "--json", *args, env=env)
    report = json.loads(ran.out)
    return ran.code, {c["check"]: c for c in report["checks"]}


def test_doctor_all_well(account: Account) -> None:
    code, checks = _doctor(account.user.env)
    assert set(checks) == {"config dir", "session files", "native", "server", "protocol", "clock", "session",
                           "unlock", "kdf", "keys", "rate limit"}  # fmt: skip
    assert {name for name, c in checks.items() if c["status"] != "ok"} <= {"native"}
    assert code == 0
    assert checks["rate limit"]["detail"] == "headroom unknown: the server sends no rate-limit headers"
    assert checks["unlock"]["detail"].startswith("unlocked until ")
    text = msk("doctor", env=account.user.env).out
    assert "ok    clock: the server's clock is" in text


def test_doctor_names_loose_permissions(account: Account) -> None:
    root = Path(str(account.user.env["MSK_CONFIG_DIR"]))
    session = root / "sessions" / f"{account.user.env['MSK_PROFILE']}.json"
    root.chmod(0o755)
    session.chmod(0o644)
    try:
        code, checks = _doctor(account.user.env)
        text = msk("doctor", env=account.user.env).out
    finally:
        root.chmod(0o700)
        session.chmod(0o600)
    assert code == 1
    assert checks["config dir"]["status"] == "fail" and checks["config dir"]["fix"] == f"chmod 700 {root}"
    assert checks["session files"]["status"] == "fail" and checks["session files"]["fix"] == f"chmod 600 {session}"
    assert f"FAIL  config dir: {root} has mode 0755" in text and f"fix: chmod 700 {root}" in text


@pytest.mark.parametrize(("skew", "status"), [(5, "ok"), (-90, "warn"), (400, "fail")])
def test_doctor_clock_skew(tmp_path: Path, skew: float, status: str) -> None:
    with fixture_server(Behaviour(skew=skew)) as url:
        code, checks = _doctor(_profile(tmp_path / "config", url))
    assert checks["clock"]["status"] == status
    assert checks["config dir"]["status"] == "ok"  # made 0700 with the session file
    where = "ahead of" if skew > 0 else "behind"
    assert f"s {where} this machine's" in checks["clock"]["detail"]
    assert (code == 1) == (status == "fail")


def test_doctor_weak_kdf_and_rate_headroom(tmp_path: Path) -> None:
    weak = {"algorithm": "argon2id", "memoryKiB": 65536, "iterations": 3, "parallelism": 1, "version": 19}
    limits = {"RateLimit-Remaining": "3", "RateLimit-Limit": "100"}
    with fixture_server(Behaviour(kdf=weak, headers=limits)) as url:
        _, checks = _doctor(_profile(tmp_path / "config", url))
    assert checks["kdf"]["status"] == "warn" and "weaker than the default" in checks["kdf"]["detail"]
    assert checks["rate limit"] == {"check": "rate limit", "status": "warn", "fix": "space out scripted commands",
                                    "detail": "3 requests left of 100 in the current window"}  # fmt: skip
    downgrade = {**weak, "memoryKiB": 1024}
    with fixture_server(Behaviour(kdf=downgrade)) as url:
        code, checks = _doctor(_profile(tmp_path / "config2", url))
    assert code == 1 and checks["kdf"]["status"] == "fail" and "downgrade refused" in checks["kdf"]["detail"]


def test_doctor_never_sends_the_session_to_another_server(account: Account) -> None:
    """`msk doctor --server URL` with a profile of another server checks URL without the profile's cookie."""
    behaviour = Behaviour()
    with fixture_server(behaviour) as url:
        _, checks = _doctor(account.user.env, "--server", url)
    assert checks["server"]["status"] == "ok" and checks["session"]["status"] == "warn"
    assert f"is for {account.client.server}, not {url}" in checks["session"]["detail"]
    assert behaviour.cookies == []


def test_doctor_unreachable_server(tmp_path: Path) -> None:
    env = {"MSK_CONFIG_DIR": str(tmp_path / "none"), "MSK_PROFILE": "x", "MSK_SESSION": None, "MSK_SERVER": None}
    code, checks = _doctor(env, "--server", "http://127.0.0.1:9")
    assert code == 1 and checks["server"]["status"] == "fail" and "cannot reach" in checks["server"]["detail"]
    assert checks["config dir"]["status"] == "ok"  # not made yet
    code, checks = _doctor(env)
    assert code == 1 and checks["server"]["detail"] == "no server given"
