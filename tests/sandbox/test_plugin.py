"""The pytest plugin users load through the pytest11 entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import httpx

from mskclient.sandbox import Sandbox


def test_entry_point_is_declared() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "mskclient"]
    assert plugin.value == "mskclient.sandbox.pytest_plugin"


def test_msk_sandbox_fixture(msk_sandbox: Sandbox) -> None:
    assert msk_sandbox.url.startswith("http://127.0.0.1:")
    assert httpx.get(msk_sandbox.url + "/api/health").json()["ok"] is True
    assert msk_sandbox.config.rate_limits == {}
