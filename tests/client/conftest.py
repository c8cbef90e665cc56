"""Logged-in accounts on the shared sandbox, shared per module (the KDF is slow)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _accounts import Account, register


@pytest.fixture(scope="module")
def alice(sandbox_url: str) -> Iterator[Account]:
    account = register(sandbox_url, "alice")
    yield account
    account.client.close()


@pytest.fixture(scope="module")
def bob(sandbox_url: str) -> Iterator[Account]:
    account = register(sandbox_url, "bob")
    yield account
    account.client.close()
