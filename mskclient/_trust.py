"""Trust on first use for other members' public keys (docs/protocol.md#fingerprints).

The first public key seen for a user id is pinned (per server + account, in a
0600 JSON file).  A later different key is reported and blocks sealing a
workspace key to that member until the user accepts it with `trust()`
(`msk members trust EMAIL`), so a hostile server cannot swap in its own key.

A pin is "first seen" until the user compares the fingerprint with its owner
(`verify()`, `msk members verify EMAIL`): only then is it "verified".  First use
cannot tell a key the server substituted before the first pin; verifying can.
Pins written before this distinction existed carry no "verified" and load as
first seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._errors import KeyTrustError, UsageError
from ._session_store import atomic_write
from .crypto import b64u_decode, b64u_encode, fingerprint

__all__ = ["KEY_CHANGED", "KEY_FIRST_SEEN", "KEY_VERIFIED", "TrustStore"]

#: The states of a member's key against the pins (`TrustStore.state`).
KEY_VERIFIED = "verified"
KEY_FIRST_SEEN = "first seen"
KEY_CHANGED = "changed"


class TrustStore:
    """Pinned public keys by user id; `path=None` keeps them in memory only."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._pins: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text("utf-8"))
                if not isinstance(data, dict) or not all(
                    isinstance(v, dict)
                    and isinstance(v.get("publicKey"), str)
                    and isinstance(v.get("verified", False), bool)
                    for v in data.values()
                ):
                    raise ValueError
                self._pins = data
            except (ValueError, OSError) as exc:
                raise UsageError(f"trust store {path} is unreadable or damaged: {exc}") from None

    def pinned(self, user_id: str) -> bytes | None:
        pin = self._pins.get(user_id)
        return None if pin is None else b64u_decode(pin["publicKey"])

    def pins(self) -> dict[str, bytes]:
        """Every pinned key by user id, as it is now (a copy: later pins do not show in it)."""
        return {user_id: b64u_decode(pin["publicKey"]) for user_id, pin in self._pins.items()}

    def matches(self, user_id: str, public_key: bytes) -> bool:
        """True if `public_key` is this user's pinned key or none is pinned yet (pins nothing)."""
        pinned = self.pinned(user_id)
        return pinned is None or pinned == public_key

    def state(self, user_id: str, public_key: bytes) -> str:
        """KEY_VERIFIED, KEY_FIRST_SEEN (also when nothing is pinned yet) or KEY_CHANGED."""
        pin = self._pins.get(user_id)
        if pin is None:
            return KEY_FIRST_SEEN
        if b64u_decode(pin["publicKey"]) != public_key:
            return KEY_CHANGED
        return KEY_VERIFIED if pin.get("verified") is True else KEY_FIRST_SEEN

    def check(self, user_id: str, email: str, public_key: bytes) -> bool:
        """Pin on first use; True if the key is the pinned one (or new), False if it changed."""
        pinned = self.pinned(user_id)
        if pinned is None:
            self.trust(user_id, email, public_key)
            return True
        return pinned == public_key

    def pin_new(self, entries: Iterable[tuple[str, str, bytes]]) -> None:
        """Pin each first-seen (user id, email, key) of `entries`, writing the file once for all of them."""
        added = False
        for user_id, email, public_key in entries:
            if user_id not in self._pins:
                self._pin(user_id, email, public_key)
                added = True
        if added:
            self._save()

    def require(self, user_id: str, email: str, public_key: bytes) -> None:
        """KeyTrustError unless `public_key` is the pinned (or a first-seen) key of this user."""
        pinned = self.pinned(user_id)
        if pinned is None:
            self.trust(user_id, email, public_key)
        elif pinned != public_key:
            raise KeyTrustError(
                f"the public key of {email} changed: pinned {fingerprint(pinned)}, server now sends "
                f"{fingerprint(public_key)}; verify it with them, then run `msk members trust {email}`"
            )

    def trust(self, user_id: str, email: str, public_key: bytes) -> None:
        """Pin (or re-pin after a change) this user's key, as first seen."""
        self._pin(user_id, email, public_key)
        self._save()

    def verify(self, user_id: str, email: str, public_key: bytes) -> None:
        """Pin this user's key as verified: its fingerprint was compared with its owner."""
        self._pin(user_id, email, public_key, verified=True)
        self._save()

    def _pin(self, user_id: str, email: str, public_key: bytes, *, verified: bool = False) -> None:
        pin: dict[str, Any] = {"email": email, "publicKey": b64u_encode(public_key)}
        if verified:
            pin["verified"] = True
        self._pins[user_id] = pin

    def _save(self) -> None:
        if self.path is not None:
            atomic_write(self.path, json.dumps(self._pins, indent=1, sort_keys=True).encode("utf-8"))
