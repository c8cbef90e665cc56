"""The realtime engine inside the whole sandbox app: tickets, revocation, SSE and webhooks
driven through the HTTP routes, with the crypto core making every ciphertext."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from _accounts import AsyncUser, CardBoard, make_card_board, sign_up
from websockets.asyncio.client import ClientConnection, connect

from mskclient._profile import RELAY_CLOSE_BAD_TICKET, RELAY_CLOSE_FORBIDDEN, TICKET_TTL_SECONDS, field
from mskclient.crypto import encrypt_field, open_relay_frame, seal_relay_frame, verify_webhook_signature
from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig
from mskclient.sandbox._realtime import Realtime

from ._harness import Receiver, receiver
from .test_relay import TIMEOUT, close_code, recv
from .test_sse import Stream


@dataclass
class App:
    url: str
    clock: ManualClock
    realtime: Realtime

    def ws_url(self, ticket: str) -> str:
        return self.url.replace("http://", "ws://") + f"/api/ws?t={ticket}"


@dataclass
class Team:
    alice: AsyncUser
    bob: AsyncUser
    board: CardBoard


@pytest.fixture
def app() -> Iterator[App]:
    clock = ManualClock()
    sandbox = Sandbox(SandboxConfig(clock=clock).lift_limits())
    with sandbox as url:
        realtime = sandbox.app.state.realtime  # type: ignore[attr-defined]
        assert isinstance(realtime, Realtime)
        realtime.heartbeat_seconds = 0.3
        yield App(url, clock, realtime)


@pytest.fixture
async def team(app: App) -> AsyncIterator[Team]:
    alice, bob = await sign_up(app.url, "alice"), await sign_up(app.url, "bob")
    board = await make_card_board(alice, bob)
    yield Team(alice, bob, board)
    await alice.http.aclose()
    await bob.http.aclose()


async def join(app: App, account: AsyncUser, room: str) -> ClientConnection:
    return await connect(app.ws_url(await account.ticket(room)), open_timeout=TIMEOUT)


async def test_sealed_frames_cross_the_relay_untouched(app: App, team: Team) -> None:
    room = f"card:{team.board.card}"
    alice, bob = await join(app, team.alice, room), await join(app, team.bob, room)
    frame = seal_relay_frame(team.board.bk, room, b"\x00\x02\x05hello")
    await alice.send(frame)
    assert open_relay_frame(team.board.bk, room, await recv(bob)) == b"\x00\x02\x05hello"
    await alice.close()
    await bob.close()


async def test_tickets_from_the_app_are_one_shot_and_expire(app: App, team: Team) -> None:
    room = f"board:{team.board.board}"
    ticket = await team.alice.ticket(room)
    first = await connect(app.ws_url(ticket), open_timeout=TIMEOUT)
    await first.close()
    reused = await connect(app.ws_url(ticket), open_timeout=TIMEOUT)
    assert await close_code(reused) == RELAY_CLOSE_BAD_TICKET
    stale = await team.alice.ticket(room)
    app.clock.advance(TICKET_TTL_SECONDS + 1)
    late = await connect(app.ws_url(stale), open_timeout=TIMEOUT)
    assert await close_code(late) == RELAY_CLOSE_BAD_TICKET


async def test_removing_a_member_closes_their_sockets_with_4403(app: App, team: Team) -> None:
    card_room, board_room = f"card:{team.board.card}", f"board:{team.board.board}"
    alice = await join(app, team.alice, card_room)
    bob_card, bob_board = await join(app, team.bob, card_room), await join(app, team.bob, board_room)
    await team.alice.call("DELETE", f"/workspaces/{team.board.workspace}/members/{team.bob.id}", 204)
    assert await close_code(bob_card) == RELAY_CLOSE_FORBIDDEN
    assert await close_code(bob_board) == RELAY_CLOSE_FORBIDDEN
    answer = await team.bob.http.post("/api/auth/ws-ticket", json={"room": card_room})
    assert answer.status_code in (403, 404)
    await alice.close()


async def test_live_ticks_follow_the_routes_and_resume(app: App, team: Team) -> None:
    board, bk = team.board, team.board.bk
    body = {"encBody": str(encrypt_field(bk, b"first", field("comment", "encBody")))}
    async with team.bob.http.stream("GET", f"/api/boards/{board.board}/live") as response:
        assert response.status_code == 200
        live = Stream(response)
        await team.alice.call("POST", f"/cards/{board.card}/comments", 201, json=body)
        tick = await live.tick()
        data = json.loads(tick["data"])
        assert (data["verb"], data["boardId"], data["cardId"], data["actorId"]) == (
            "COMMENT_CREATED",
            board.board,
            board.card,
            team.alice.id,
        )
        assert await live.next() == {"comment": "heartbeat"}
    await team.alice.call("POST", f"/cards/{board.card}/comments", 201, json=body)
    headers = {"Last-Event-ID": tick["id"]}
    async with team.bob.http.stream("GET", f"/api/boards/{board.board}/live", headers=headers) as response:
        missed = json.loads((await Stream(response).tick())["data"])
        assert missed["verb"] == "COMMENT_CREATED" and missed["metadata"] != data["metadata"]
    async with httpx.AsyncClient(base_url=app.url) as stranger:
        assert (await stranger.get(f"/api/boards/{board.board}/live")).status_code == 401


@pytest.fixture
def hook() -> Iterator[tuple[Receiver, str]]:
    with receiver() as running:
        yield running


async def test_webhooks_from_routes_are_signed_retried_and_requeued(
    app: App, team: Team, hook: tuple[Receiver, str]
) -> None:
    receiver_, url = hook
    receiver_.statuses.append(503)
    board = team.board
    webhook = await team.alice.call(
        "POST", f"/boards/{board.board}/webhooks", 201, json={"url": url, "events": ["CARD_MOVED"]}
    )
    column = await team.alice.call(
        "POST",
        f"/boards/{board.board}/columns",
        201,
        json={"encTitle": str(encrypt_field(board.bk, b"Done", field("column", "encTitle")))},
    )
    await team.alice.call("PATCH", f"/cards/{board.card}/move", json={"toColumnId": column["id"]})
    await app.realtime.run_due_deliveries()
    [delivery] = await team.alice.call("GET", f"/webhooks/{webhook['id']}/deliveries")
    assert (delivery["status"], delivery["attempts"], delivery["lastStatus"]) == ("pending", 1, 503)

    app.clock.advance(30)
    await app.realtime.run_due_deliveries()
    first, retry = receiver_.drain()
    assert first.body == retry.body and first.headers["x-mskanban-delivery-id"] == delivery["id"]
    verify_webhook_signature(webhook["secret"], retry.headers["x-mskanban-signature"], retry.body, now=app.clock.time())
    sent = json.loads(retry.body)
    assert sent["verb"] == "CARD_MOVED"
    assert sent["metadata"] == {"cardId": board.card, "fromColumnId": board.column, "toColumnId": column["id"]}
    [delivery] = await team.alice.call("GET", f"/webhooks/{webhook['id']}/deliveries")
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)

    requeued = await team.alice.call("POST", f"/webhooks/deliveries/{delivery['id']}/requeue", 202)
    assert requeued["status"] == "pending"
    await app.realtime.run_due_deliveries()
    [again] = receiver_.drain()
    assert again.body == first.body
