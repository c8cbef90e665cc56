from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from _accounts import Board, User, make_board

from mskclient.sandbox import ManualClock, Sandbox

from ._helpers import config


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def url(clock: ManualClock) -> Iterator[str]:
    """A fresh in-memory sandbox (limits lifted, manual clock) in a thread."""
    with Sandbox(config(clock=clock)) as running:
        yield running


@pytest.fixture
def people() -> Iterator[Callable[[str, str], User]]:
    """Factory of registered, logged-in users on a given sandbox URL (closed at the end)."""
    made: list[User] = []

    def make(url: str, name: str) -> User:
        user = User(url, f"{name}@example.org").signed_up()
        made.append(user)
        return user

    yield make
    for user in made:
        user.close()


@pytest.fixture
def users(url: str, people: Callable[[str, str], User]) -> Callable[[str], User]:
    """Factory of registered, logged-in users on the sandbox (closed at the end)."""
    return lambda name: people(url, name)


@pytest.fixture
def alice(users: Callable[[str], User]) -> User:
    return users("alice")


@pytest.fixture
def bob(users: Callable[[str], User]) -> User:
    return users("bob")


@pytest.fixture
def board(alice: User) -> Board:
    return make_board(alice)
