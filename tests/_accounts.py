"""Accounts for the tests: the one password, fresh e-mail addresses, TOTP codes, and accounts
made through the client (`register`, `member`, a two-member `World`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import struct
import time
from dataclasses import dataclass

import httpx

from mskclient import AsyncClient, Client, Pacer

#: The password of every test account (non-ASCII on purpose: it is normalized before the KDF).
PASSWORD = "pässword for the tests ✓ correct horse"
_counter = itertools.count()


def fresh_email(prefix: str = "user") -> str:
    """An address no other test uses, even across sandboxes shared by a whole session."""
    return f"{prefix}{next(_counter)}-{time.time_ns()}@example.test"


def totp_now(secret: str, *, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s) for the tests; the client never computes codes."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


@dataclass
class Account:
    email: str
    client: Client
    recovery_key: str


def register(url: str, prefix: str = "user", transport: httpx.BaseTransport | None = None) -> Account:
    """A fresh account registered through the client (which then holds its session and keys)."""
    client = Client(url, pacer=Pacer.unlimited(), transport=transport)
    email = fresh_email(prefix)
    registration = client.register(email, PASSWORD)
    return Account(email, client, registration.recovery_key)


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


def member(url: str, name: str) -> Member:
    """A fresh account, registered and logged in through the client."""
    client = Client(url, pacer=Pacer.unlimited())
    email = fresh_email(name)
    client.register(email, PASSWORD)
    if not client.has_keys:
        client.login(email, PASSWORD)
    return Member(name, email, client)


@dataclass
class World:
    """Two members of one workspace with one board of two columns (alice owns them)."""

    url: str
    alice: Member
    bob: Member
    board_id: str
    column_ids: tuple[str, str]
    workspace_id: str

    def new_card(self, title: str = "Fix login", description: str = "") -> str:
        card = self.alice.client.create_card(self.column_ids[0], f"{title}", description, board_id=self.board_id)
        return card.id

    def close(self) -> None:
        self.alice.client.close()
        self.bob.client.close()


def make_world(url: str) -> World:
    alice, bob = member(url, "alice"), member(url, "bob")
    workspace = alice.client.create_workspace("Live team")
    alice.client.invite(workspace.id, bob.email, "member")
    board = alice.client.create_board(workspace.id, "Sprint")
    doing = alice.client.create_column(board.id, "Doing")
    done = alice.client.create_column(board.id, "Done")
    return World(url, alice, bob, board.id, (doing.id, done.id), workspace.id)
