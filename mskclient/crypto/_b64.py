"""base64url as the profile fixes it: no padding out; padding optional in; nothing else accepted."""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["b64u_decode", "b64u_encode"]

_STRICT = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


#: standard base64's two last symbols as base64url spells them
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64u_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode canonical base64url with or without padding; ValueError on anything else."""
    if not _STRICT.fullmatch(text):
        raise ValueError("not base64url")
    core = text.rstrip("=")
    if len(core) % 4 == 1:
        raise ValueError("not base64url: impossible length")
    padded = core + "=" * (-len(core) % 4)
    if text != core and text != padded:
        raise ValueError("not base64url: wrong padding")
    tail = len(core) % 4  # 2 or 3 symbols in the last group leave 4 or 2 low bits unused
    if tail and _ALPHABET.index(core[-1]) & (0b1111 if tail == 2 else 0b11):
        # Unused low bits set in the last symbol: libsodium (and so a browser client)
        # rejects such text, and accepting it would give one ciphertext many spellings.
        raise ValueError("not base64url: non-canonical last symbol")
    try:
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except binascii.Error as exc:  # pragma: no cover - the pattern above rules it out
        raise ValueError("not base64url") from exc
