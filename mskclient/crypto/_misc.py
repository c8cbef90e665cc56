"""Fingerprints, relay frames and webhook signatures (docs/protocol.md#fingerprints, #relay-frames, #webhooks)."""

from __future__ import annotations

import hashlib
import hmac

from .._errors import ProtocolError, UsageError
from .._profile import RELAY_MAX_FRAME, WEBHOOK_TOLERANCE_SECONDS, relay_ad
from . import _sodium
from ._batch import open_message
from ._keys import BoardKey

__all__ = [
    "RELAY_FRAME_OVERHEAD",
    "WebhookSignatureError",
    "fingerprint",
    "fingerprint_matches",
    "open_relay_frame",
    "seal_relay_frame",
    "sign_webhook",
    "verify_webhook_signature",
]


def fingerprint(public_key: bytes) -> str:
    """crypto_generichash(16, pk) as 8 groups of 4 lower-case hex digits."""
    digest = _sodium.crypto_generichash(16, public_key).hex()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


#: Bytes a relay frame adds to its message: the nonce and the Poly1305 tag.
RELAY_FRAME_OVERHEAD = _sodium.AEAD_NPUBBYTES + _sodium.AEAD_ABYTES


def fingerprint_matches(public_key: bytes, spoken: str) -> bool:
    """Whether `spoken` (as its owner read it out: any spacing or case) is `public_key`'s
    fingerprint; compared in constant time.  UsageError if it is not 32 hex digits."""
    claimed = "".join(spoken.split()).lower()
    if len(claimed) != 32 or any(c not in "0123456789abcdef" for c in claimed):
        raise UsageError("a fingerprint is 32 hex digits (8 groups of 4, spaces optional)")
    return hmac.compare_digest(claimed, fingerprint(public_key).replace(" ", ""))


def seal_relay_frame(bk: BoardKey, room: str, message: bytes, *, nonce: bytes | None = None) -> bytes:
    """nonce(24) ‖ XChaCha20-Poly1305(BK, message, ad = "msk1:relay:" + room)."""
    nonce = _sodium.randombytes_buf(_sodium.AEAD_NPUBBYTES) if nonce is None else nonce
    return nonce + _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, relay_ad(room), nonce, bk.raw)


def open_relay_frame(bk: BoardKey, room: str, frame: bytes) -> bytes:
    """Open a relay frame; ProtocolError if it is not one of this room under this board key."""
    if len(frame) > RELAY_MAX_FRAME:
        raise ProtocolError(f"relay frame for {room} over 1 MiB")
    if len(frame) < RELAY_FRAME_OVERHEAD:
        raise ProtocolError(f"relay frame for {room} too short")
    message = open_message(bk.raw, bytes(frame), relay_ad(room))
    if message is None:
        raise ProtocolError(f"relay frame for {room} does not authenticate")
    return message


class WebhookSignatureError(ProtocolError):
    """A webhook delivery is unsigned, wrongly signed, stale or malformed."""


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), str(t).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, t: int, body: bytes) -> str:
    """The X-MSKanban-Signature header value for a delivery made at unix time t."""
    return f"t={t},v1={_mac(secret, t, body)}"


def verify_webhook_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance: int = WEBHOOK_TOLERANCE_SECONDS
) -> int:
    """Check a signature header against the raw body; returns t. Constant-time comparison."""
    t: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("malformed signature header")
        if key == "t":
            if t is not None or not (value.isascii() and value.isdigit()):
                raise WebhookSignatureError("malformed signature timestamp")
            t = int(value)
        elif key == "v1":
            candidates.append(value)
    if t is None or not candidates:
        raise WebhookSignatureError("signature header lacks t or v1")
    if abs(now - t) > tolerance:
        raise WebhookSignatureError(f"signature timestamp is more than {tolerance} s from now")
    expected = _mac(secret, t, body).encode("ascii")
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
    if not matched:
        raise WebhookSignatureError("signature does not match")
    return t
