"""Test helpers: a raw-httpx MSKanban user built from the crypto core (not the Python client)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import httpx

from mskclient._profile import KDF_DEFAULT
from mskclient._profile import field as spec
from mskclient.crypto import (
    BoardKey,
    LoginKeys,
    NewAccount,
    WorkspaceKey,
    b64u_decode,
    check_login_init,
    create_account,
    derive_login_keys,
    encrypt_field,
    seal_workspace_key,
    wrap_board_key,
)
from mskclient.sandbox import SandboxConfig

#: Fixed in tests so the stable salts, hence the KDF outputs, repeat across sandboxes.
SERVER_SECRET = b"sandbox-tests-server-secret-0001"


def config(**changes: Any) -> SandboxConfig:
    return SandboxConfig(server_secret=SERVER_SECRET, **changes).lift_limits()


@functools.lru_cache(maxsize=64)
def derive(password: str, salt: bytes) -> LoginKeys:
    """Argon2id is ~0.12 s here: derive each (password, salt) once per test session."""
    return derive_login_keys(password, salt, KDF_DEFAULT)


def env(key: Any, entity: str, name: str, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return str(encrypt_field(key, data, spec(entity, name)))


def error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """Assert an error answer in the profile's shape."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    if code is not None:
        assert body["error"]["code"] == code, body


@dataclass
class User:
    """One account talking raw HTTP: its keys, session cookie and helpers to create things."""

    url: str
    email: str
    password: str = "correct horse battery staple"
    http: httpx.Client = field(init=False)
    account: NewAccount | None = None
    login_keys: LoginKeys | None = None
    id: str = ""

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url + "/api", timeout=30)

    def close(self) -> None:
        self.http.close()

    def keys_for(self, password: str | None = None) -> LoginKeys:
        answer = self.http.post("/auth/login-init", json={"email": self.email})
        assert answer.status_code == 200, answer.text
        salt, _ = check_login_init(answer.json())
        return derive(password or self.password, salt)

    def register(self) -> User:
        self.login_keys = self.keys_for()
        self.account = create_account(self.login_keys.master_key)
        r = self.http.post(
            "/auth/register", json={"email": self.email, "authHash": self.login_keys.auth_hash, **self.account.fields}
        )
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
        r = self.http.post(
            "/workspaces",
            json={
                "encName": env(wk, "workspace", "encName", name),
                "encWorkspaceKey": str(seal_workspace_key(wk, self.public_key)),
            },
        )
        assert r.status_code == 201, r.text
        return r.json()["id"], wk

    def invite(self, ws: str, wk: WorkspaceKey, other: User, role: str = "member") -> httpx.Response:
        return self.http.post(
            f"/workspaces/{ws}/members",
            json={"userId": other.id, "role": role, "encWorkspaceKey": str(seal_workspace_key(wk, other.public_key))},
        )

    def board(self, ws: str, wk: WorkspaceKey, title: str = "Board") -> tuple[str, BoardKey]:
        bk = BoardKey.generate()
        r = self.http.post(
            f"/workspaces/{ws}/boards",
            json={"encTitle": env(bk, "board", "encTitle", title), "encBoardKey": str(wrap_board_key(wk, bk))},
        )
        assert r.status_code == 201, r.text
        return r.json()["id"], bk

    def column(self, board: str, bk: BoardKey, title: str = "To do") -> str:
        r = self.http.post(f"/boards/{board}/columns", json={"encTitle": env(bk, "column", "encTitle", title)})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def card(self, column: str, bk: BoardKey, title: str = "Card", **extra: Any) -> dict[str, Any]:
        r = self.http.post(f"/columns/{column}/cards", json={"encTitle": env(bk, "card", "encTitle", title), **extra})
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


__all__ = ["SERVER_SECRET", "Board", "User", "b64u_decode", "config", "derive", "env", "error", "make_board"]
