"""Accounts, workspaces and boards made over raw HTTP with the crypto core (no client library),
for the realtime tests that run against the whole sandbox app."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from mskclient._profile import field
from mskclient.crypto import (
    BoardKey,
    KeyPair,
    WorkspaceKey,
    check_login_init,
    create_account,
    derive_login_keys,
    encrypt_field,
    seal_workspace_key,
    wrap_board_key,
)


@dataclass
class Account:
    http: httpx.AsyncClient
    id: str
    email: str
    keypair: KeyPair

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, "/api" + path, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    async def ticket(self, room: str) -> str:
        answer = await self.call("POST", "/auth/ws-ticket", json={"room": room})
        return str(answer["ticket"])


async def sign_up(base_url: str, name: str) -> Account:
    """Register and log in a fresh user; the returned client carries the session cookie."""
    http = httpx.AsyncClient(base_url=base_url, timeout=10.0)
    email = f"{name}-{secrets.token_hex(4)}@example.test"
    password = secrets.token_urlsafe(12)
    init = await http.post("/api/auth/login-init", json={"email": email})
    salt, params = check_login_init(init.json())
    keys = derive_login_keys(password, salt, params)
    account = create_account(keys.master_key)
    registered = await http.post(
        "/api/auth/register", json={"email": email, "authHash": keys.auth_hash, **account.fields}
    )
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/auth/login", json={"email": email, "authHash": keys.auth_hash})
    assert login.status_code == 200, login.text
    return Account(http, str(registered.json()["user"]["id"]), email, account.keys.keypair)


@dataclass
class Board:
    workspace: str
    wk: WorkspaceKey
    board: str
    bk: BoardKey
    column: str
    card: str


async def make_board(owner: Account, *members: Account) -> Board:
    """A workspace owned by `owner` with `members` invited as members, one board, column, card."""
    wk, bk = WorkspaceKey.generate(), BoardKey.generate()
    workspace = await owner.call(
        "POST",
        "/workspaces",
        201,
        json={
            "encName": str(encrypt_field(wk, b"Team", field("workspace", "encName"))),
            "encWorkspaceKey": str(seal_workspace_key(wk, owner.keypair.public)),
        },
    )
    for member in members:
        await owner.call(
            "POST",
            f"/workspaces/{workspace['id']}/members",
            201,
            json={
                "userId": member.id,
                "role": "member",
                "encWorkspaceKey": str(seal_workspace_key(wk, member.keypair.public)),
            },
        )
    board = await owner.call(
        "POST",
        f"/workspaces/{workspace['id']}/boards",
        201,
        json={
            "encTitle": str(encrypt_field(bk, b"Board", field("board", "encTitle"))),
            "encBoardKey": str(wrap_board_key(wk, bk)),
        },
    )
    column = await owner.call(
        "POST",
        f"/boards/{board['id']}/columns",
        201,
        json={"encTitle": str(encrypt_field(bk, b"Todo", field("column", "encTitle")))},
    )
    card = await owner.call(
        "POST",
        f"/columns/{column['id']}/cards",
        201,
        json={"encTitle": str(encrypt_field(bk, b"Card", field("card", "encTitle")))},
    )
    return Board(workspace["id"], wk, board["id"], bk, column["id"], card["id"])
