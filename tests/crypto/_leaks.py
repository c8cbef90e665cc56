"""How a secret could show up in text, for the tests that check it never does."""

from __future__ import annotations

import base64

from mskclient.crypto import b64u_encode

__all__ = ["renderings"]


def renderings(secret: bytes) -> list[str]:
    """Every way a secret could leak into text: raw, hex (both cases), base64 and base64url."""
    return [
        secret.decode("latin-1"),
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode().rstrip("="),
        b64u_encode(secret),
        repr(secret)[2:-1],
    ]
