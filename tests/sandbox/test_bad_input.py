"""Acceptance: bad input never gets a 500; every refusal is a 4xx in the error shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import websockets
from _accounts import Board, User, env, make_board

from mskclient.crypto import b64u_encode

from ._helpers import error

BAD_IDS = ["NOTANID", "c", "c123", "c" + "a" * 64, "cABCDEFGH", "c%C3%BCnicode1", "c1234567%00", "..%2F..%2Fetc"]


def test_malformed_bodies(board: Board) -> None:
    http = board.owner.http
    path = f"/boards/{board.id}/columns"
    good = env(board.bk, "column", "encTitle", "t")
    cases: list[tuple[bytes, str, int]] = [
        (b"{", "application/json", 400),
        (b"", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b'{"encTitle": NaN}', "application/json", 400),
        (b"[" * 100000 + b"]" * 100000, "application/json", 400),
        (b'{"encTitle": "' + good.encode() + b'"}', "text/plain", 400),
        (b"encTitle=x", "application/x-www-form-urlencoded", 400),
        (b'{"encTitle": "v1.\\ud800.abc"}', "application/json", 400),
    ]
    for body, ctype, status in cases:
        error(http.post(path, content=body, headers={"content-type": ctype}), status)


@pytest.mark.parametrize(
    "body",
    [
        {"encTitle": 5},
        {"encTitle": None},
        {"encTitle": ["v1.a.b"]},
        {"encTitle": "plain text title"},
        {"encTitle": "v2.AAAA.AAAA"},
        {"encTitle": "v1.AAAA.AAAA"},
        {"encTitle": "v1.!!!!.????"},
        {"encTitle": "v1." + b64u_encode(b"\0" * 24) + "." + b64u_encode(b"\0" * 15)},
        {"encTitle": "v1.." + "A" * 30},
        {"wipLimit": 3},
        {"encTitle": "__GOOD__", "wipLimit": "3"},
        {"encTitle": "__GOOD__", "wipLimit": 10**100},
        {"encTitle": "__GOOD__", "wipLimit": True},
        {"encTitle": "__GOOD__", "position": "1"},
        {"encTitle": "__GOOD__", "position": 1e300},
        {"encTitle": "__GOOD__", "unknown": 1},
        {"encTitle": "__GOOD__", "id": "cabcdefgh1"},
        {"encTitle": "__GOOD__", "boardId": "cabcdefgh1"},
    ],
)
def test_wrong_types_and_unknown_fields(board: Board, body: dict[str, object]) -> None:
    good = env(board.bk, "column", "encTitle", "t")
    body = {k: (good if v == "__GOOD__" else v) for k, v in body.items()}
    error(board.owner.http.post(f"/boards/{board.id}/columns", json=body), 400, "BAD_REQUEST")


def test_oversized_envelope_and_body(board: Board) -> None:
    http = board.owner.http
    card = board.owner.card(board.column, board.bk)
    huge = "v1." + b64u_encode(b"\0" * 24) + "." + "A" * (4 * 1024 * 1024)
    error(http.patch(f"/cards/{card['id']}", json={"encDescription": huge}), 413, "PAYLOAD_TOO_LARGE")
    too_big = b'{"encTitle": "' + b"A" * (17 * 1024 * 1024) + b'"}'
    error(http.post(f"/boards/{board.id}/columns", content=too_big, headers={"content-type": "application/json"}), 413)


def test_invalid_and_foreign_ids(alice: User, bob: User) -> None:
    mine = make_board(alice)
    theirs = make_board(bob)
    their_card = bob.card(theirs.column, theirs.bk)
    their_label = bob.http.post(
        f"/boards/{theirs.id}/labels", json={"encName": env(theirs.bk, "label", "encName", "x"), "color": "#000000"}
    ).json()
    card = alice.card(mine.column, mine.bk)
    for bad in BAD_IDS:
        for path in (f"/boards/{bad}", f"/cards/{bad}", f"/workspaces/{bad}/members", f"/attachments/{bad}/content"):
            r = alice.http.get(path)
            assert r.status_code in (400, 404), (path, r.status_code)
            error(r, r.status_code)
    # Ids of another workspace, in paths and in bodies.
    error(alice.http.get(f"/cards/{their_card['id']}"), 404)
    error(alice.http.post(f"/cards/{card['id']}/labels", json={"labelId": their_label["id"]}), 404)
    error(alice.http.patch(f"/cards/{card['id']}/move", json={"toColumnId": theirs.column}), 404)
    error(alice.http.post(f"/cards/{card['id']}/assignments", json={"userId": bob.id}), 404)
    error(alice.http.post(f"/cards/{card['id']}/labels", json={"labelId": "not an id"}), 400)
    error(alice.http.put(f"/cards/{card['id']}/milestone", json={"milestoneId": 12}), 400)
    error(alice.http.put(f"/cards/{card['id']}/milestone", json={}), 400)
    error(alice.http.get(f"/boards/{mine.id}/activity?limit=abc"), 400)
    error(alice.http.get(f"/boards/{mine.id}/activity?limit=0"), 400)
    error(alice.http.get(f"/boards/{mine.id}/milestones?archived=maybe"), 400)
    error(alice.http.patch(f"/cards/{card['id']}", json={}), 400)
    error(alice.http.patch(f"/cards/{card['id']}", json={"dueAt": "tomorrow"}), 400)
    error(alice.http.patch(f"/cards/{card['id']}", json={"dueAt": "2026-05-25T12:00:00"}), 400)
    error(alice.http.patch(f"/cards/{card['id']}", json={"customFields": []}), 400)
    error(alice.http.patch(f"/cards/{card['id']}", json={"archived": "yes"}), 400)
    error(alice.http.delete(f"/cards/{card['id']}/labels"), 400)


@pytest.mark.parametrize(
    "cookie",
    ["", "garbage", "x" * 5000, "🙂", "msk_session", b64u_encode(b"\0" * 32)],
)
def test_bad_cookies(url: str, cookie: str) -> None:
    header = {"cookie": b"msk_session=" + cookie.encode("utf-8")}
    with httpx.Client(base_url=url + "/api") as http:
        error(http.get("/me", headers=header), 401, "UNAUTHORIZED")
        error(http.post("/workspaces", json={}, headers=header), 401, "UNAUTHORIZED")


def test_bad_auth_bodies(url: str) -> None:
    with httpx.Client(base_url=url + "/api") as http:
        for body in (
            {},
            {"email": 5},
            {"email": "not-an-email"},
            {"email": "a@b.c", "extra": 1},
            {"email": "x" * 300 + "@example.org"},
        ):
            error(http.post("/auth/login-init", json=body), 400)
        for body in (
            {"email": "a@b.c"},
            {"email": "a@b.c", "authHash": 5},
            {"email": "a@b.c", "authHash": "x", "totp": 123456},
        ):
            error(http.post("/auth/login", json=body), 400)
        error(http.post("/auth/register", json={"email": "a@b.c", "authHash": "short"}), 400)
        for path in ("/auth/login-init", "/auth/login", "/auth/recovery"):
            lone = b'{"email": "\\ud800@example.org", "authHash": "\\udfff"}'
            error(http.post(path, content=lone, headers={"content-type": "application/json"}), 400)
        error(http.post("/auth/recovery", json={"email": "a@b.c", "challengeId": "x"}), 400)
        error(
            http.post(
                "/auth/recovery",
                json={
                    "email": "a@b.c",
                    "challengeId": "x",
                    "challenge": "y",
                    "authHash": b64u_encode(b"\0" * 32),
                    "encSymmetricKey": "v1." + b64u_encode(b"\0" * 24) + "." + b64u_encode(b"\0" * 32),
                },
            ),
            401,
        )
        error(http.get("/nowhere"), 404, "NOT_FOUND")
        error(http.delete("/health"), 405, "METHOD_NOT_ALLOWED")


def test_bad_tickets_close_4401(board: Board, users: Callable[[str], User]) -> None:
    ws_url = board.owner.url.replace("http", "ws", 1) + "/api/ws"
    ticket = board.owner.http.post("/auth/ws-ticket", json={"room": f"board:{board.id}"}).json()["ticket"]

    async def close_code(target: str) -> int | None:
        async with websockets.connect(target, open_timeout=10) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    async def run() -> None:
        for bad in ("", "garbage", "A" * 5000, ticket + "x"):
            assert await close_code(f"{ws_url}?t={bad}") == 4401
        async with websockets.connect(f"{ws_url}?t={ticket}", open_timeout=10) as ws:
            assert ws.close_code is None
        assert await close_code(f"{ws_url}?t={ticket}") == 4401  # one-shot

    asyncio.run(run())
