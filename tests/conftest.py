"""Fixtures shared by every test package: a real sandbox (limits lifted) and a two-member world on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _accounts import World, make_world

from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        yield url


@pytest.fixture(scope="module")
def clocked() -> Iterator[tuple[str, ManualClock]]:
    """A sandbox on a manual clock, so TOTP steps advance without waiting."""
    clock = ManualClock()
    with Sandbox(SandboxConfig(clock=clock).lift_limits()) as url:
        yield url, clock


@pytest.fixture(scope="module")
def world(sandbox_url: str) -> Iterator[World]:
    """Alice and Bob in one workspace with a board of two columns, shared per module (the KDF is slow)."""
    built = make_world(sandbox_url)
    yield built
    built.close()
