"""Sessions and unlocked keys, per profile; session files written atomically with mode 0600.

A profile names one server + account.  Its session file holds the server URL,
email, user id and the session cookie: never a password or key.  `msk unlock`
puts the user key and private key in an unlock box, encrypted under a key derived
from a random session secret that only the user sees (as `MSK_SESSION`), with the
expiry bound in the associated data, and hands the box to an unlock agent that
holds it in memory only and exits at the timeout (see `_agent`): nothing of the
unlock is on disk, so after the timeout no clock setting brings the keys back.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import click

from ._agent import agent_socket, fetch_box, start_agent, stop_agent
from ._atomic import atomic_replace
from ._errors import CredentialsError, CryptoError, UsageError
from ._profile import UNLOCK_AD_PREFIX, UNLOCK_KEY_INFO, UNLOCK_MAX_SECONDS, FieldSpec, KeyRole
from .crypto import (
    AccountKeys,
    Envelope,
    KeyPair,
    SymmetricKey,
    UserKey,
    b64u_decode,
    b64u_encode,
    decrypt_field,
    encrypt_field,
)

__all__ = ["SessionRecord", "SessionStore", "atomic_write", "check_unlock_timeout", "config_dir"]

_PROFILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def config_dir() -> Path:
    """`$MSK_CONFIG_DIR` if set, else click's per-user app dir for "mskclient"."""
    override = os.environ.get("MSK_CONFIG_DIR")
    return Path(override) if override else Path(click.get_app_dir("mskclient"))


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via a temp file in the same directory + os.replace: never a half-written file.

    Every directory it has to create is 0700, the config directory included (`mkdir(parents=True)`
    would give the parents the umask's mode, letting other users list the profiles)."""
    missing: list[Path] = []
    directory = path.parent
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    with atomic_replace(path, mode) as handle:
        handle.write(data)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What a profile remembers between commands (no secrets beyond the session cookie)."""

    server: str
    email: str
    user_id: str | None = None
    token: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"server": self.server, "email": self.email, "userId": self.user_id, "token": self.token}


class SessionStore:
    """Files under `root`: sessions/<profile>.json and trust/<hash>.json; unlocks live in agents."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else config_dir()

    @staticmethod
    def _check(profile: str) -> str:
        if not _PROFILE_NAME.fullmatch(profile):
            raise UsageError(f"profile names use letters, digits, '.', '_' and '-' only: {profile!r}")
        return profile

    def session_path(self, profile: str) -> Path:
        return self.root / "sessions" / f"{self._check(profile)}.json"

    def agent_path(self, profile: str) -> Path:
        """Socket of the profile's unlock agent."""
        return agent_socket(self.root, self._check(profile))

    def _legacy_unlock_path(self, profile: str) -> Path:
        """Where versions before the agent kept the unlock box on disk (removed on sight)."""
        return self.root / "unlock" / f"{self._check(profile)}.json"

    def completion_path(self, profile: str) -> Path:
        """The profile's shell-completion cache (sealed under a key from the session secret)."""
        return self.root / "completion" / f"{self._check(profile)}.json"

    def trust_path(self, server: str, email: str) -> Path:
        digest = hashlib.sha256(f"{server}\n{email}".encode()).hexdigest()[:24]
        return self.root / "trust" / f"{digest}.json"

    def load(self, profile: str) -> SessionRecord | None:
        path = self.session_path(profile)
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise UsageError(f"session file {path} is unreadable: {exc}") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("server"), str)
            or not isinstance(data.get("email"), str)
        ):
            raise UsageError(f"session file {path} is damaged; run `msk login` again")
        user_id, token = data.get("userId"), data.get("token")
        return SessionRecord(
            data["server"],
            data["email"],
            user_id if isinstance(user_id, str) else None,
            token if isinstance(token, str) else None,
        )

    def save(self, profile: str, record: SessionRecord) -> None:
        atomic_write(self.session_path(profile), json.dumps(record.to_json(), indent=1).encode("utf-8"))

    def forget(self, profile: str) -> None:
        """Remove the session of the profile and end its unlock."""
        self.lock(profile)
        with contextlib.suppress(FileNotFoundError):
            self.session_path(profile).unlink()

    # --- unlock ---------------------------------------------------------------------------
    def unlock(self, profile: str, keys: AccountKeys, timeout: float, *, now: float | None = None) -> str:
        """Hand the keys, boxed under a fresh session secret, to a new agent; returns the secret.

        The secret (for MSK_SESSION) is the only thing that opens the box, and the agent
        holding the box exits after `timeout` seconds: then neither alone opens anything.
        """
        check_unlock_timeout(timeout)
        secret = SymmetricKey.generate().raw
        expires = int(_now(now) + timeout)
        box = _unlock_box(secret, profile, expires, keys)
        self._remove_legacy_unlock(profile)
        start_agent(self.agent_path(profile), str(box), expires, timeout)
        return b64u_encode(secret)

    def unlocked_keys(self, profile: str, session: str, *, now: float | None = None) -> AccountKeys:
        """The keys held by the profile's agent, if `session` is its secret and it has not expired."""
        held = fetch_box(self.agent_path(profile))
        if held is None:
            raise CredentialsError(f"profile {profile} is locked; run `msk unlock`")
        box, expires = held
        if _now(now) >= expires:
            self.lock(profile)
            raise CredentialsError(f"the unlock of profile {profile} has expired; run `msk unlock`")
        try:
            secret = b64u_decode(session.strip())
        except ValueError:
            raise UsageError("MSK_SESSION is not a session secret printed by `msk unlock`") from None
        plain = _open_unlock_box(secret, profile, expires, box)
        user_key, secret_key = UserKey(plain[:32]), plain[32:]
        return AccountKeys(user_key, KeyPair.from_secret(secret_key))

    def unlock_expiry(self, profile: str, *, now: float | None = None) -> int | None:
        """Unix time the profile's unlock ends, or None if it is locked."""
        held = fetch_box(self.agent_path(profile))
        if held is None or held[1] <= _now(now):
            return None
        return held[1]

    def lock(self, profile: str) -> bool:
        """Stop the profile's agent (and remove an unlock file of an older version); True if either was there.

        The completion cache goes too: it opens only with this unlock's secret."""
        with contextlib.suppress(FileNotFoundError):
            self.completion_path(profile).unlink()
        stopped = stop_agent(self.agent_path(profile))
        return self._remove_legacy_unlock(profile) or stopped

    def _remove_legacy_unlock(self, profile: str) -> bool:
        try:
            self._legacy_unlock_path(profile).unlink()
        except FileNotFoundError:
            return False
        return True


def check_unlock_timeout(seconds: float) -> None:
    """Refuse an unlock that is not positive or lasts longer than UNLOCK_MAX_SECONDS."""
    if seconds <= 0:
        raise UsageError("the unlock timeout must be positive")
    if seconds > UNLOCK_MAX_SECONDS:
        raise UsageError(
            f"the unlock timeout is at most {UNLOCK_MAX_SECONDS // 3600} h ({UNLOCK_MAX_SECONDS} s);"
            f" asked for {seconds:.0f} s"
        )


def _now(now: float | None) -> float:
    """`now` if given (tests), else the current Unix time."""
    return time.time() if now is None else now


def _unlock_spec(secret: bytes, profile: str, expires: int) -> tuple[UserKey, FieldSpec]:
    """Key and field spec of an unlock box: HMAC-SHA256(secret, info) as key, the expiry in the AD."""
    key = UserKey(hmac.new(secret, UNLOCK_KEY_INFO, hashlib.sha256).digest())
    return key, FieldSpec("unlock", "box", KeyRole.USER, f"{UNLOCK_AD_PREFIX}{profile}:{expires}".encode())


def _unlock_box(secret: bytes, profile: str, expires: int, keys: AccountKeys) -> Envelope:
    key, spec = _unlock_spec(secret, profile, expires)
    return encrypt_field(key, keys.user_key.raw + keys.keypair.secret, spec)


def _open_unlock_box(secret: bytes, profile: str, expires: int, box: str) -> bytes:
    try:
        key, spec = _unlock_spec(secret, profile, expires)
        plain = decrypt_field(key, box, spec, entity_id=profile)
    except (CryptoError, ValueError):
        raise CredentialsError("MSK_SESSION does not open this profile's unlock") from None
    if len(plain) != 64:
        raise CredentialsError("the unlock agent holds no keys")
    return plain
