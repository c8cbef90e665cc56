"""Accounts for the tests: the one password, fresh e-mail addresses, TOTP codes, accounts made
through the client (`register`, `member`, a two-member `World`), and the one raw-HTTP account
builder: accounts, workspaces, boards, columns and cards made with the crypto core alone, for
the sandbox tests that must not depend on the client library (`User` blocking, `AsyncUser` async)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from mskclient import AsyncClient, Client, Pacer
from mskclient._profile import KDF_DEFAULT, KdfParams
from mskclient._profile import field as spec
from mskclient.crypto import (
    BoardKey,
    LoginKeys,
    NewAccount,
    WorkspaceKey,
    check_login_init,
    create_account,
    derive_login_keys,
    encrypt_field,
    seal_workspace_key,
    wrap_board_key,
)

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


# --- raw HTTP: the crypto core and httpx, no client library ---------------------------------


@functools.lru_cache(maxsize=64)
def derive(password: str, salt: bytes, params: KdfParams = KDF_DEFAULT) -> LoginKeys:
    """Argon2id is slow: derive each (password, salt) once per test session."""
    return derive_login_keys(password, salt, params)


def env(key: Any, entity: str, name: str, text: str | bytes) -> str:
    """The envelope of `text` as field `entity.name` (the profile's associated data)."""
    data = text.encode() if isinstance(text, str) else text
    return str(encrypt_field(key, data, spec(entity, name)))


def registration(email: str, password: str, login_init: Any) -> tuple[LoginKeys, NewAccount, dict[str, Any]]:
    """From a /auth/login-init answer: the login keys, a new account and the /auth/register body."""
    salt, params = check_login_init(login_init)
    keys = derive(password, salt, params)
    account = create_account(keys.master_key)
    return keys, account, {"email": email, "authHash": keys.auth_hash, **account.fields}


def workspace_body(wk: WorkspaceKey, owner_public_key: bytes, name: str = "Team") -> dict[str, str]:
    return {
        "encName": env(wk, "workspace", "encName", name),
        "encWorkspaceKey": str(seal_workspace_key(wk, owner_public_key)),
    }


def member_body(user_id: str, wk: WorkspaceKey, public_key: bytes, role: str = "member") -> dict[str, str]:
    return {"userId": user_id, "role": role, "encWorkspaceKey": str(seal_workspace_key(wk, public_key))}


def board_body(wk: WorkspaceKey, bk: BoardKey, title: str = "Board") -> dict[str, str]:
    return {"encTitle": env(bk, "board", "encTitle", title), "encBoardKey": str(wrap_board_key(wk, bk))}


def titled_body(bk: BoardKey, entity: str, title: str) -> dict[str, str]:
    """The body that creates a column or card titled `title`."""
    return {"encTitle": env(bk, entity, "encTitle", title)}


@dataclass
class User:
    """One account talking raw HTTP (blocking): its keys, session cookie and helpers to create things."""

    url: str
    email: str
    password: str = PASSWORD
    http: httpx.Client = field(init=False)
    account: NewAccount | None = None
    login_keys: LoginKeys | None = None
    id: str = ""

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url + "/api", timeout=30)

    def close(self) -> None:
        self.http.close()

    def login_init(self) -> Any:
        answer = self.http.post("/auth/login-init", json={"email": self.email})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def keys_for(self, password: str | None = None) -> LoginKeys:
        salt, params = check_login_init(self.login_init())
        return derive(password or self.password, salt, params)

    def register(self) -> User:
        self.login_keys, self.account, body = registration(self.email, self.password, self.login_init())
        r = self.http.post("/auth/register", json=body)
        assert r.status_code == 201, r.text
        self.id = r.json()["user"]["id"]
        return self

    def login(self, **extra: Any) -> httpx.Response:
        assert self.login_keys is not None
        return self.http.post("/auth/login", json={"email": self.email, "authHash": self.login_keys.auth_hash, **extra})

    def signed_up(self) -> User:
        self.register()
        r = self.login()
        assert r.status_code == 200, r.text
        return self

    @property
    def public_key(self) -> bytes:
        assert self.account is not None
        return self.account.keys.keypair.public

    # --- creating things -----------------------------------------------------------------

    def workspace(self, name: str = "Team") -> tuple[str, WorkspaceKey]:
        wk = WorkspaceKey.generate()
        r = self.http.post("/workspaces", json=workspace_body(wk, self.public_key, name))
        assert r.status_code == 201, r.text
        return r.json()["id"], wk

    def invite(self, ws: str, wk: WorkspaceKey, other: User, role: str = "member") -> httpx.Response:
        return self.http.post(f"/workspaces/{ws}/members", json=member_body(other.id, wk, other.public_key, role))

    def board(self, ws: str, wk: WorkspaceKey, title: str = "Board") -> tuple[str, BoardKey]:
        bk = BoardKey.generate()
        r = self.http.post(f"/workspaces/{ws}/boards", json=board_body(wk, bk, title))
        assert r.status_code == 201, r.text
        return r.json()["id"], bk

    def column(self, board: str, bk: BoardKey, title: str = "To do") -> str:
        r = self.http.post(f"/boards/{board}/columns", json=titled_body(bk, "column", title))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def card(self, column: str, bk: BoardKey, title: str = "Card", **extra: Any) -> dict[str, Any]:
        r = self.http.post(f"/columns/{column}/cards", json={**titled_body(bk, "card", title), **extra})
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data


@dataclass
class Board:
    """A workspace with one board and one column, owned by `owner`."""

    owner: User
    ws: str
    wk: WorkspaceKey
    id: str
    bk: BoardKey
    column: str


def make_board(owner: User) -> Board:
    ws, wk = owner.workspace()
    board, bk = owner.board(ws, wk)
    return Board(owner, ws, wk, board, bk, owner.column(board, bk))


@dataclass
class AsyncUser:
    """One account talking raw HTTP (async), for the realtime tests; the client carries the session cookie."""

    http: httpx.AsyncClient
    id: str
    email: str
    public_key: bytes

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, "/api" + path, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    async def ticket(self, room: str) -> str:
        answer = await self.call("POST", "/auth/ws-ticket", json={"room": room})
        return str(answer["ticket"])


async def sign_up(base_url: str, name: str) -> AsyncUser:
    """Register and log in a fresh user."""
    http = httpx.AsyncClient(base_url=base_url, timeout=10.0)
    email = fresh_email(name)
    init = await http.post("/api/auth/login-init", json={"email": email})
    keys, account, body = registration(email, PASSWORD, init.json())
    registered = await http.post("/api/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/auth/login", json={"email": email, "authHash": keys.auth_hash})
    assert login.status_code == 200, login.text
    return AsyncUser(http, str(registered.json()["user"]["id"]), email, account.keys.keypair.public)


@dataclass
class CardBoard:
    """A workspace, its board, one column and one card on it (ids and keys)."""

    workspace: str
    wk: WorkspaceKey
    board: str
    bk: BoardKey
    column: str
    card: str


async def make_card_board(owner: AsyncUser, *members: AsyncUser) -> CardBoard:
    """A workspace owned by `owner` with `members` invited as members, one board, column, card."""
    wk, bk = WorkspaceKey.generate(), BoardKey.generate()
    workspace = await owner.call("POST", "/workspaces", 201, json=workspace_body(wk, owner.public_key))
    for member in members:
        body = member_body(member.id, wk, member.public_key)
        await owner.call("POST", f"/workspaces/{workspace['id']}/members", 201, json=body)
    board = await owner.call("POST", f"/workspaces/{workspace['id']}/boards", 201, json=board_body(wk, bk))
    column = await owner.call("POST", f"/boards/{board['id']}/columns", 201, json=titled_body(bk, "column", "Todo"))
    card = await owner.call("POST", f"/columns/{column['id']}/cards", 201, json=titled_body(bk, "card", "Card"))
    return CardBoard(workspace["id"], wk, board["id"], bk, column["id"], card["id"])
