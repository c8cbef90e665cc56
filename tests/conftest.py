"""Fixtures shared by every test package: a real sandbox (limits lifted), a two-member world on it,
and an account whose every request goes through a hostile proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _accounts import Account, World, make_world, register
from _hostile import HostileTransport

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


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileTransport]:
    transport = HostileTransport()
    yield transport
    transport.close()


@pytest.fixture(scope="module")
def victim(sandbox_url: str, hostile: HostileTransport) -> Iterator[Account]:
    """An account whose requests pass through `hostile` (honest until a test sets its `edit`)."""
    account = register(sandbox_url, "victim", transport=hostile)
    yield account
    account.client.close()
