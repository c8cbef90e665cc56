"""`msk doctor`: what is right and wrong with this machine's setup, one line per check.

Each check ends ok, warn or fail, with the fix when it is not ok.  It reads only what a
session may read (no password): the server's health and OpenAPI document, its clock (the
`Date` header: TOTP codes and webhook timestamps depend on it), the account's KDF cost
(login-init), the members' keys against the pinned ones, and the local files' permissions.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal

from .._errors import ApiError, AuthError, KdfParametersError, MskError, ProtocolError, TransportError
from .._profile import KDF_DEFAULT
from .._session_store import SessionRecord, SessionStore
from ..client import Client, Request, Response
from ..crypto import check_login_init
from ..crypto.hazmat import uses_native

__all__ = ["CLOCK_FAIL", "CLOCK_WARN", "Check", "Status", "diagnose"]

Status = Literal["ok", "warn", "fail"]
#: Clock skew (seconds) above which a warning is given, and above which the check fails
#: (TOTP accepts about ±30 s; webhook receivers commonly reject timestamps 5 minutes off).
CLOCK_WARN = 30.0
CLOCK_FAIL = 300.0
#: Rate-limit headers, as (remaining, limit): the IETF draft's names, then the common X- ones.
_RATE_HEADERS = (("ratelimit-remaining", "ratelimit-limit"), ("x-ratelimit-remaining", "x-ratelimit-limit"))
#: An unlock ending sooner than this (seconds) is worth a warning.
_UNLOCK_SOON = 600


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


NewClient = Callable[[str, str | None, str | None], Client]


def _ask(client: Client, request: Request) -> tuple[Response, float]:
    """One request (error answers listed in `request.ok` come back too), and the local time
    halfway through it (to compare with the server's `Date`)."""

    def flow() -> Generator[Request, Response, Response]:
        return (yield request)

    start = time.time()
    response = client.run(flow())
    return response, (start + time.time()) / 2


def diagnose(store: SessionStore, profile: str, server: str | None, new_client: NewClient) -> list[Check]:
    """Every check, in order; `server` overrides the profile's.  Never raises for what it checks."""
    record = _record(store, profile)
    url = server.rstrip("/") if server else (record.server if record else None)
    checks = [_config_dir(store), _files(store), _native()]
    if url is None:
        checks.append(Check("server", "fail", "no server given", "pass --server URL or set MSK_SERVER"))
        return checks
    ours = record is not None and record.server == url  # never send the session to another server
    client = new_client(url, record.email if record and ours else None, record.token if record and ours else None)
    health = _health(client, url)
    checks += health.checks
    if health.reachable:
        checks += _account(client, store, profile, record, url, health.headers)
    return checks


def _record(store: SessionStore, profile: str) -> SessionRecord | None:
    try:
        return store.load(profile)
    except MskError:
        return None


@dataclass
class _Health:
    checks: list[Check]
    reachable: bool
    headers: Mapping[str, str]


def _health(client: Client, url: str) -> _Health:
    fix = "check the URL (--server or MSK_SERVER) and that the server runs"
    try:
        response, midpoint = _ask(client, Request("GET", "/health", ok=frozenset({503})))
    except TransportError as exc:
        return _Health([Check("server", "fail", f"cannot reach {url}: {exc}", fix)], False, {})
    except ApiError as exc:
        return _Health([Check("server", "fail", f"{url}/api/health answered {exc}", fix)], False, {})
    try:
        body = response.json()
    except ProtocolError:
        body = None
    shaped = (
        isinstance(body, dict)
        and isinstance(body.get("ok"), bool)
        and isinstance(body.get("db"), str)
        and isinstance(body.get("redis"), str)
    )
    if not shaped:
        checks = [Check("server", "fail", f"{url}/api/health is not an MSKanban health answer", fix)]
        return _Health(checks, False, {})
    assert isinstance(body, dict)
    if body["ok"]:
        checks = [Check("server", "ok", f"{url} is up (db {body['db']}, redis {body['redis']})")]
    else:
        detail = f"{url} is unhealthy (db {body['db']}, redis {body['redis']})"
        checks = [Check("server", "fail", detail, "see the server's logs")]
    checks += [_openapi(client), _clock(response.headers, midpoint)]
    return _Health(checks, True, response.headers)


def _openapi(client: Client) -> Check:
    fix = "check that the server is an MSKanban server of this protocol"
    try:
        response, _ = _ask(client, Request("GET", "/openapi.yaml", ok=frozenset({404})))
    except MskError as exc:
        return Check("protocol", "warn", f"GET /api/openapi.yaml failed: {exc}", fix)
    if response.status == 200 and b"openapi:" in response.body[:4096]:
        return Check("protocol", "ok", "the server publishes its OpenAPI document at /api/openapi.yaml")
    return Check("protocol", "warn", "the server publishes no OpenAPI document at /api/openapi.yaml", fix)


def _clock(headers: Mapping[str, str], local: float) -> Check:
    date = headers.get("date")
    if date is None:
        return Check("clock", "warn", "the server sends no Date header: clock skew unknown")
    try:
        server_time = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return Check("clock", "warn", f"the server's Date header does not parse: {date[:40]!r}")
    skew = server_time - local
    where = "ahead of" if skew > 0 else "behind"
    detail = f"the server's clock is {abs(skew):.0f} s {where} this machine's"
    fix = "synchronise this machine's clock (NTP, e.g. `timedatectl set-ntp true`) or the server's"
    if abs(skew) > CLOCK_FAIL:
        return Check("clock", "fail", detail + " (TOTP codes and webhook timestamps will be refused)", fix)
    if abs(skew) > CLOCK_WARN:
        return Check("clock", "warn", detail + " (TOTP codes may be refused)", fix)
    return Check("clock", "ok", detail)


def _account(
    client: Client,
    store: SessionStore,
    profile: str,
    record: SessionRecord | None,
    url: str,
    health_headers: Mapping[str, str],
) -> list[Check]:
    login = f"run `msk login EMAIL` (profile {profile})"
    if record is None or record.token is None:
        return [Check("session", "warn", f"profile {profile!r} is not logged in", login), _rate(health_headers)]
    if record.server != url:
        detail = f"profile {profile!r} is for {record.server}, not {url}"
        return [Check("session", "warn", detail, "use --profile for another server"), _rate(health_headers)]
    try:
        response, _ = _ask(client, Request("GET", "/me"))
    except AuthError:
        return [
            Check("session", "fail", f"the session of {record.email} has expired or was ended", login),
            _rate(health_headers),
        ]
    except MskError as exc:
        return [Check("session", "fail", f"GET /api/me failed: {exc}", login), _rate(health_headers)]
    checks = [
        Check("session", "ok", f"logged in as {record.email} (the server does not say when the session ends)"),
        _unlock(store, profile),
        _kdf(client, record.email),
        _trust(client),
        _rate(response.headers),
    ]
    return checks


def _unlock(store: SessionStore, profile: str) -> Check:
    expires = store.unlock_expiry(profile)
    if expires is None:
        return Check("unlock", "ok", "locked: commands that decrypt ask for the password (or run `msk unlock`)")
    left = expires - time.time()
    until = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if left < _UNLOCK_SOON:
        return Check("unlock", "warn", f"unlocked until {until}, in {left / 60:.0f} min", "run `msk unlock` again")
    return Check("unlock", "ok", f"unlocked until {until}")


def _kdf(client: Client, email: str) -> Check:
    try:
        response, _ = _ask(client, Request("POST", "/auth/login-init", json={"email": email}))
        _, params = check_login_init(response.json())
    except KdfParametersError as exc:
        return Check("kdf", "fail", str(exc), "the server must use the profile's Argon2id parameters")
    except MskError as exc:
        return Check("kdf", "warn", f"login-init failed: {exc}")
    shown = f"Argon2id m={params.memory_kib} KiB, t={params.iterations}, p={params.parallelism}"
    weaker = [
        name
        for name in ("memory_kib", "iterations", "parallelism")
        if getattr(params, name) < getattr(KDF_DEFAULT, name)
    ]
    if weaker:
        default = f"m={KDF_DEFAULT.memory_kib} KiB, t={KDF_DEFAULT.iterations}, p={KDF_DEFAULT.parallelism}"
        fix = "ask the server's admin to raise the KDF cost; it applies from your next password change"
        return Check("kdf", "warn", f"{shown}: weaker than the default ({default})", fix)
    return Check("kdf", "ok", shown)


def _trust(client: Client) -> Check:
    try:
        members = [m for ws in client.me().memberships for m in client.members(ws.workspace_id)]
        changed = sorted({m.email for m in members if not client.key_trusted(m)})
    except MskError as exc:
        return Check("keys", "warn", f"members could not be listed: {exc}")
    if changed:
        fix = "verify each fingerprint with its owner, then `msk members trust EMAIL`"
        return Check("keys", "fail", f"public key changed since pinned: {', '.join(changed)}", fix)
    return Check("keys", "ok", "every member's public key is the pinned one")


def _rate(headers: Mapping[str, str]) -> Check:
    for remaining_name, limit_name in _RATE_HEADERS:
        remaining, limit = headers.get(remaining_name), headers.get(limit_name)
        if remaining is None:
            continue
        try:
            left, total = int(remaining), int((limit or "0").split(",")[0].split(";")[0])
        except ValueError:
            return Check("rate limit", "ok", f"headroom unknown: {remaining_name} does not parse")
        detail = f"{left} requests left" + (f" of {total}" if total else "") + " in the current window"
        if total and left < total / 10:
            return Check("rate limit", "warn", detail, "space out scripted commands")
        return Check("rate limit", "ok", detail)
    return Check("rate limit", "ok", "headroom unknown: the server sends no rate-limit headers")


def _native() -> Check:
    if uses_native():
        return Check("native", "ok", "the native batch-crypto extension is in use")
    fix = (
        "unset MSKCLIENT_NO_NATIVE, or reinstall where a C compiler is present "
        "(`pip install --force-reinstall --no-binary mskclient mskclient`)"
    )
    return Check("native", "warn", "pure-Python crypto: batch decryption is slower", fix)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _config_dir(store: SessionStore) -> Check:
    root = store.root
    if not root.exists():
        return Check("config dir", "ok", f"{root} does not exist yet (made with mode 0700 at login)")
    mode = _mode(root)
    if mode & 0o077:
        return Check("config dir", "fail", f"{root} has mode {mode:04o}: other users can look in", f"chmod 700 {root}")
    return Check("config dir", "ok", f"{root} has mode {mode:04o}")


def _files(store: SessionStore) -> Check:
    """Sessions, unlock boxes and key pins: 0600 files in 0700 directories."""
    loose: list[str] = []
    for folder in ("sessions", "unlock", "trust"):
        directory = store.root / folder
        if not directory.is_dir():
            continue
        if _mode(directory) & 0o077:
            loose.append(f"chmod 700 {directory}")
        loose += [f"chmod 600 {path}" for path in sorted(directory.iterdir()) if path.is_file() and _mode(path) & 0o077]
    if loose:
        return Check("session files", "fail", f"{len(loose)} readable by other users", "; ".join(loose))
    return Check("session files", "ok", "sessions, unlock and trust files are private (0600 in 0700 directories)")
