"""Sessions and unlocked keys on disk, per profile, written atomically with mode 0600.

A profile names one server + account.  Its session file holds the server URL,
email, user id and the session cookie: never a password or key.  `msk unlock`
adds an unlock file holding the user key and private key encrypted under a
key derived from a random session secret that only the user sees (as
`MSK_SESSION`), with the expiry bound in the associated data, so the file is
useless without the secret and after the timeout.
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

from ._atomic import atomic_replace
from ._errors import AuthError, CryptoError, UsageError
from ._profile import UNLOCK_AD_PREFIX, UNLOCK_KEY_INFO, FieldSpec, KeyRole
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

__all__ = ["SessionRecord", "SessionStore", "atomic_write", "config_dir"]

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
    """Files under `root`: sessions/<profile>.json, unlock/<profile>.json, trust/<hash>.json."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else config_dir()

    @staticmethod
    def _check(profile: str) -> str:
        if not _PROFILE_NAME.fullmatch(profile):
            raise UsageError(f"profile names use letters, digits, '.', '_' and '-' only: {profile!r}")
        return profile

    def session_path(self, profile: str) -> Path:
        return self.root / "sessions" / f"{self._check(profile)}.json"

    def unlock_path(self, profile: str) -> Path:
        return self.root / "unlock" / f"{self._check(profile)}.json"

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
        """Remove the session and any unlock file of the profile."""
        for path in (self.session_path(profile), self.unlock_path(profile)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # --- unlock ---------------------------------------------------------------------------
    def unlock(self, profile: str, keys: AccountKeys, timeout: float, *, now: float | None = None) -> str:
        """Store the keys encrypted under a fresh session secret; returns the secret (for MSK_SESSION)."""
        if timeout <= 0:
            raise UsageError("the unlock timeout must be positive")
        secret = SymmetricKey.generate().raw
        expires = int(_now(now) + timeout)
        box = _unlock_box(secret, profile, expires, keys)
        record = {"version": 1, "expiresAt": expires, "box": str(box)}
        atomic_write(self.unlock_path(profile), json.dumps(record).encode("utf-8"))
        return b64u_encode(secret)

    def unlocked_keys(self, profile: str, session: str, *, now: float | None = None) -> AccountKeys:
        """The keys stored by `unlock`, if `session` is its secret and the timeout has not passed."""
        path = self.unlock_path(profile)
        try:
            record = json.loads(path.read_text("utf-8"))
            expires = record["expiresAt"]
            box = record["box"]
            if type(expires) is not int or not isinstance(box, str):
                raise TypeError
        except FileNotFoundError:
            raise AuthError(401, "LOCKED", f"profile {profile} is locked; run `msk unlock`") from None
        except (OSError, ValueError, TypeError, KeyError):
            raise UsageError(f"unlock file {path} is damaged; run `msk lock` and `msk unlock`") from None
        if _now(now) >= expires:
            self.lock(profile)
            raise AuthError(401, "LOCKED", f"the unlock of profile {profile} has expired; run `msk unlock`")
        try:
            secret = b64u_decode(session.strip())
        except ValueError:
            raise UsageError("MSK_SESSION is not a session secret printed by `msk unlock`") from None
        plain = _open_unlock_box(secret, profile, expires, box)
        user_key, secret_key = UserKey(plain[:32]), plain[32:]
        return AccountKeys(user_key, KeyPair.from_secret(secret_key))

    def unlock_expiry(self, profile: str, *, now: float | None = None) -> int | None:
        """Unix time the profile's unlock ends, or None if it is locked (or the file is unreadable)."""
        try:
            expires = json.loads(self.unlock_path(profile).read_text("utf-8"))["expiresAt"]
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if type(expires) is not int or expires <= _now(now):
            return None
        return expires

    def lock(self, profile: str) -> bool:
        """Remove the unlock file; True if there was one."""
        try:
            self.unlock_path(profile).unlink()
        except FileNotFoundError:
            return False
        return True


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
        raise AuthError(401, "LOCKED", "MSK_SESSION does not open this profile's unlock file") from None
    if len(plain) != 64:
        raise AuthError(401, "LOCKED", "the unlock file holds no keys")
    return plain
