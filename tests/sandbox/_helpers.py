"""Sandbox test helpers: a config with a fixed server secret, and the check of an error answer.
Raw-HTTP accounts and boards come from tests/_accounts.py."""

from __future__ import annotations

from typing import Any

import httpx

from mskclient.sandbox import SandboxConfig

#: Fixed in tests so the stable salts, hence the KDF outputs, repeat across sandboxes.
SERVER_SECRET = b"sandbox-tests-server-secret-0001"


def config(**changes: Any) -> SandboxConfig:
    return SandboxConfig(server_secret=SERVER_SECRET, **changes).lift_limits()


def error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """Assert an error answer in the profile's shape."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
