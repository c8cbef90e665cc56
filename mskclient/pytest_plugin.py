"""pytest plugin (entry point `mskclient` in the pytest11 group): a sandbox per test.

It lives outside `mskclient.sandbox` and imports it only when a fixture is used, so
pytest still starts where mskclient is installed without the `sandbox` extra.

    def test_my_script(msk_sandbox):
        httpx.get(msk_sandbox.url + "/api/health")

Override `msk_sandbox_config` in a conftest.py to change the configuration (a
database file, a `ManualClock`, rate limits back on, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .sandbox import Sandbox, SandboxConfig

__all__ = ["msk_sandbox", "msk_sandbox_config"]


@pytest.fixture
def msk_sandbox_config() -> SandboxConfig:
    """In-memory database, rate limits and login backoff lifted."""
    from .sandbox import SandboxConfig

    return SandboxConfig().lift_limits()


@pytest.fixture
def msk_sandbox(msk_sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    """A running sandbox for one test; `.url` is its base URL (the API is under /api)."""
    from .sandbox import Sandbox

    sandbox = Sandbox(msk_sandbox_config)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
