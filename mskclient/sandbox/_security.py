"""Server-side secrets of the sandbox: ids, session tokens, authHash verifiers, stable salts,
TOTP (RFC 6238 with the stdlib's hmac) and sliding-window rate limits.

Nothing here touches client keys or plaintext: the server only ever holds verifiers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import struct
import urllib.parse
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime

from .._profile import SALT_BYTES, TOTP_DIGITS, TOTP_PERIOD, TOTP_SKEW_STEPS
from ..crypto import b64u_encode

__all__ = [
    "RateLimiter",
    "hash_secret",
    "iso",
    "make_verifier",
    "new_id",
    "new_token",
    "stable_salt",
    "ticket_hash",
    "totp_at",
    "totp_check",
    "totp_uri",
    "new_totp_secret",
    "verify",
]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id() -> str:
    """A CUID-shaped id: `c` and 24 random base-36 symbols (≈124 bits)."""
    return "c" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def new_token() -> str:
    return b64u_encode(secrets.token_bytes(32))


def iso(t: float) -> str:
    """ISO 8601 UTC with millisecond precision, as the profile writes timestamps."""
    stamp = datetime.fromtimestamp(t, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def hash_secret(server_secret: bytes, purpose: str, value: str) -> str:
    """Keyed hash (hex) under which tokens are stored, so a database copy cannot replay them."""
    return hmac.new(server_secret, purpose.encode() + b"\0" + value.encode(), hashlib.sha256).hexdigest()


def ticket_hash(ticket: str) -> str:
    """Hex SHA-256 under which a relay ticket is stored and looked up (both sides call this)."""
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def stable_salt(server_secret: bytes, email: str) -> bytes:
    """The login-init salt for an email with no account: HMAC-SHA256(serverSecret, email)[:16]."""
    return hmac.new(server_secret, email.encode("utf-8"), hashlib.sha256).digest()[:SALT_BYTES]


def make_verifier(server_secret: bytes, auth_hash: str) -> tuple[bytes, bytes]:
    """(salt, verifier) stored for an authHash: a keyed hash, never the authHash itself."""
    salt = secrets.token_bytes(16)
    return salt, _verifier(server_secret, salt, auth_hash)


def _verifier(server_secret: bytes, salt: bytes, auth_hash: str) -> bytes:
    return hmac.new(server_secret, b"authHash\0" + salt + auth_hash.encode("ascii"), hashlib.sha256).digest()


def verify(server_secret: bytes, salt: bytes, verifier: bytes, auth_hash: str) -> bool:
    """Constant-time check of an authHash against its stored verifier."""
    return hmac.compare_digest(_verifier(server_secret, salt, auth_hash), verifier)


# --- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps, ±1 step) -------------------------------


def new_totp_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _b32(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def totp_at(secret: str, step: int) -> str:
    digest = hmac.new(_b32(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**TOTP_DIGITS
    return f"{code:0{TOTP_DIGITS}d}"


def totp_check(secret: str, code: object, now: float, last_step: int) -> int | None:
    """The matching time step (> last_step, so a code works once), or None."""
    if not isinstance(code, str) or len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = int(now // TOTP_PERIOD)
    found = None
    for step in range(current - TOTP_SKEW_STEPS, current + TOTP_SKEW_STEPS + 1):
        if hmac.compare_digest(totp_at(secret, step), code) and step > last_step:
            found = step
    return found


def totp_uri(secret: str, email: str) -> str:
    label = urllib.parse.quote(f"MSKanban sandbox:{email}")
    query = urllib.parse.urlencode(
        {
            "secret": secret,
            "issuer": "MSKanban sandbox",
            "algorithm": "SHA1",
            "digits": TOTP_DIGITS,
            "period": TOTP_PERIOD,
        }
    )
    return f"otpauth://totp/{label}?{query}"


_PRUNE_EVERY = 10_000


class RateLimiter:
    """Sliding-window log per (group, key); groups missing from `limits` are not limited.

    Lives in one process: each sandbox process enforces its own windows.
    """

    def __init__(self, limits: Mapping[str, tuple[int, int]]) -> None:
        self._limits = dict(limits)
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._calls = 0

    def _prune(self, now: float) -> None:
        """Forget keys whose whole window has passed, so the map does not grow forever."""
        for (group, key), hits in list(self._hits.items()):
            if not hits or hits[-1] <= now - self._limits[group][1]:
                del self._hits[(group, key)]

    def hit(self, group: str, key: str, now: float) -> int | None:
        """Record one request; None if allowed, else the seconds to wait (Retry-After)."""
        rule = self._limits.get(group)
        if rule is None:
            return None
        limit, window = rule
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._prune(now)
        hits = self._hits.setdefault((group, key), deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return max(1, math.ceil(hits[0] + window - now))
        hits.append(now)
        return None
