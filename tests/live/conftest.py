"""A real sandbox with two members of one board, shared per module (the KDF is slow)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mskclient import AsyncClient, Client, Pacer
from mskclient.sandbox import Sandbox, SandboxConfig

PASSWORD = "live tests ✓ password"
_numbers = itertools.count()


@dataclass
class Member:
    name: str
    email: str
    client: Client

    def async_client(self) -> AsyncClient:
        """An AsyncClient on the same session and keys (the caller closes it)."""
        client = AsyncClient(self.client.server, token=self.client.token, email=self.email, pacer=Pacer.unlimited())
        client.use_keys(self.client.keys)
        return client


@dataclass
class World:
    url: str
    alice: Member
    bob: Member
    board_id: str
    column_ids: tuple[str, str]
    workspace_id: str

    def new_card(self, title: str = "Fix login", description: str = "") -> str:
        card = self.alice.client.create_card(self.column_ids[0], f"{title}", description, board_id=self.board_id)
        return card.id


def member(url: str, name: str) -> Member:
    client = Client(url, pacer=Pacer.unlimited())
    email = f"{name}-{next(_numbers)}-{secrets.token_hex(3)}@example.test"
    client.register(email, PASSWORD)
    if not client.has_keys:
        client.login(email, PASSWORD)
    return Member(name, email, client)


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        yield url


@pytest.fixture(scope="module")
def world(sandbox_url: str) -> Iterator[World]:
    alice, bob = member(sandbox_url, "alice"), member(sandbox_url, "bob")
    workspace = alice.client.create_workspace("Live team")
    alice.client.invite(workspace.id, bob.email, "member")
    board = alice.client.create_board(workspace.id, "Sprint")
    doing = alice.client.create_column(board.id, "Doing")
    done = alice.client.create_column(board.id, "Done")
    yield World(sandbox_url, alice, bob, board.id, (doing.id, done.id), workspace.id)
    alice.client.close()
    bob.client.close()
