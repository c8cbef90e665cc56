"""The HTTP app and the realtime engine together: SSE live ticks behind board access, relay
tickets issued by the app, sockets closed with 4403 when a member is removed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from _accounts import Board, User

from mskclient.crypto import b64u_encode

from ._helpers import error


async def _first_tick(
    user: User, board: Board, headers: dict[str, str] | None = None, then: Callable[[], object] | None = None
) -> dict[str, object]:
    """The first event of the board's live stream; `then` runs once the stream is open."""
    cookies = {"msk_session": user.http.cookies["msk_session"]}
    async with (
        httpx.AsyncClient(base_url=user.url + "/api", cookies=cookies, timeout=10) as http,
        http.stream("GET", f"/boards/{board.id}/live", headers=headers) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        if then is not None:
            await asyncio.to_thread(then)
        event: dict[str, str] = {}
        async for line in stream.aiter_lines():
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(":")
                event[key] = value.strip()
            elif not line and "data" in event:
                return {"id": event["id"], "event": event["event"], "data": json.loads(event["data"])}
    raise AssertionError("stream ended without an event")


def test_sse_live_ticks_and_resumption(board: Board) -> None:
    alice = board.owner
    made: list[dict[str, object]] = []
    tick = asyncio.run(
        asyncio.wait_for(_first_tick(alice, board, then=lambda: made.append(alice.card(board.column, board.bk))), 20)
    )
    assert tick["event"] == "tick"
    data = tick["data"]
    assert isinstance(data, dict) and data["verb"] == "CARD_CREATED" and data["cardId"] == made[0]["id"]
    assert data["boardId"] == board.id and data["actorId"] == alice.id
    later = alice.card(board.column, board.bk)
    resumed = asyncio.run(asyncio.wait_for(_first_tick(alice, board, {"Last-Event-ID": str(tick["id"])}), 20))
    assert isinstance(resumed["data"], dict) and resumed["data"]["cardId"] == later["id"]


def test_sse_needs_access(board: Board, bob: User) -> None:
    error(bob.http.get(f"/boards/{board.id}/live"), 404)
    error(httpx.get(f"{board.owner.url}/api/boards/{board.id}/live"), 401)


@pytest.mark.parametrize("how", ["removed", "deleted account"])
def test_removing_a_member_closes_their_sockets_4403(board: Board, bob: User, how: str) -> None:
    alice = board.owner
    assert alice.invite(board.ws, board.wk, bob).status_code == 201
    ticket = bob.http.post("/auth/ws-ticket", json={"room": f"board:{board.id}"}).json()["ticket"]
    ws_url = alice.url.replace("http", "ws", 1) + f"/api/ws?t={ticket}"

    async def run() -> int | None:
        async with websockets.connect(ws_url, open_timeout=10) as ws:
            remover = (
                alice.http.delete(f"/workspaces/{board.ws}/members/{bob.id}")
                if how == "removed"
                else bob.http.delete("/me")
            )
            assert remover.status_code == 204
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    assert asyncio.run(run()) == 4403


def test_an_observers_relay_frames_come_marked_until_promoted(board: Board, bob: User) -> None:
    """The relay marks (as text) what a read-only member sends; a role change applies at once."""
    alice = board.owner
    assert alice.invite(board.ws, board.wk, bob, role="observer").status_code == 201
    ws_base = alice.url.replace("http", "ws", 1) + "/api/ws?t="

    def ticket(user: User) -> str:
        return str(user.http.post("/auth/ws-ticket", json={"room": f"board:{board.id}"}).json()["ticket"])

    async def run() -> tuple[str | bytes, str | bytes, str | bytes]:
        async with (
            websockets.connect(ws_base + ticket(alice), open_timeout=10) as member,
            websockets.connect(ws_base + ticket(bob), open_timeout=10) as observer,
        ):
            await observer.send(b"\x01sealed")
            marked = await asyncio.wait_for(member.recv(), 10)
            await member.send(b"\x02sealed")
            plain = await asyncio.wait_for(observer.recv(), 10)
            promoted = await asyncio.to_thread(
                alice.http.patch, f"/workspaces/{board.ws}/members/{bob.id}", json={"role": "member"}
            )
            assert promoted.status_code == 200
            await observer.send(b"\x03sealed")
            return marked, plain, await asyncio.wait_for(member.recv(), 10)

    marked, plain, after = asyncio.run(run())
    assert marked == b64u_encode(b"\x01sealed") and plain == b"\x02sealed" and after == b"\x03sealed"


def test_removing_a_member_ends_their_live_stream(board: Board, bob: User) -> None:
    alice = board.owner
    assert alice.invite(board.ws, board.wk, bob).status_code == 201
    cookies = {"msk_session": bob.http.cookies["msk_session"]}

    async def run() -> list[str]:
        async with (
            httpx.AsyncClient(base_url=bob.url + "/api", cookies=cookies, timeout=10) as http,
            http.stream("GET", f"/boards/{board.id}/live") as stream,
        ):
            assert stream.status_code == 200
            removed = await asyncio.to_thread(alice.http.delete, f"/workspaces/{board.ws}/members/{bob.id}")
            assert removed.status_code == 204
            await asyncio.to_thread(alice.card, board.column, board.bk)
            return [line async for line in stream.aiter_lines() if line.startswith("data:")]

    # The stream ends (instead of running on) and carries no tick made after the removal.
    assert asyncio.run(asyncio.wait_for(run(), 20)) == []


def test_logout_ends_the_sessions_streams_and_sockets_only(board: Board) -> None:
    """After logout, neither the SSE stream nor the relay socket of that session delivers any
    more; the same user's other session keeps its socket."""
    alice = board.owner
    leaving = {"msk_session": alice.http.cookies["msk_session"]}
    assert alice.login().status_code == 200  # a second session (another device), now alice.http's
    staying = {"msk_session": alice.http.cookies["msk_session"]}
    assert staying != leaving
    ws_base = alice.url.replace("http", "ws", 1) + "/api/ws?t="

    def ticket(cookies: dict[str, str]) -> str:
        answer = httpx.post(f"{alice.url}/api/auth/ws-ticket", json={"room": f"board:{board.id}"}, cookies=cookies)
        return str(answer.json()["ticket"])

    async def run() -> tuple[int | None, list[str], bytes]:
        async with (
            httpx.AsyncClient(base_url=alice.url + "/api", cookies=leaving, timeout=10) as http,
            http.stream("GET", f"/boards/{board.id}/live") as stream,
            websockets.connect(ws_base + ticket(leaving), open_timeout=10) as logged_out,
            websockets.connect(ws_base + ticket(staying), open_timeout=10) as other,
            websockets.connect(ws_base + ticket(staying), open_timeout=10) as sender,
        ):
            assert stream.status_code == 200
            out = await http.post("/auth/logout")
            assert out.status_code == 204
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(logged_out.recv(), 10)
            await asyncio.to_thread(board.owner.card, board.column, board.bk)
            ticks = [line async for line in stream.aiter_lines() if line.startswith("data:")]
            await sender.send(b"still here")
            return logged_out.close_code, ticks, bytes(await asyncio.wait_for(other.recv(), 10))

    code, ticks, delivered = asyncio.run(asyncio.wait_for(run(), 20))
    assert code == 4401 and ticks == [] and delivered == b"still here"
    ended = httpx.post(f"{alice.url}/api/auth/ws-ticket", json={"room": f"board:{board.id}"}, cookies=leaving)
    error(ended, 401)


def test_stop_ends_open_streams(users: Callable[[str], User]) -> None:
    """An open SSE stream does not hold up stopping a sandbox (thread) or `msk sandbox` (SIGTERM)."""
    import signal
    import subprocess
    import sys
    import tempfile

    from _accounts import make_board

    from mskclient.sandbox import Sandbox

    from ._helpers import config

    def open_stream(url: str) -> tuple[httpx.Client, Any]:
        owner = User(url, "streamer@example.org").signed_up()
        board = make_board(owner)
        client = httpx.Client(base_url=url + "/api", cookies={"msk_session": owner.http.cookies["msk_session"]})
        stream = client.stream("GET", f"/boards/{board.id}/live")
        assert stream.__enter__().status_code == 200
        owner.close()
        return client, stream

    sandbox = Sandbox(config())
    client, stream = open_stream(sandbox.start())
    sandbox.stop()  # raises TransportError if the server thread is still running after its deadline
    stream.__exit__(None, None, None)
    client.close()
    with tempfile.TemporaryDirectory() as folder:
        child = subprocess.Popen(
            [sys.executable, "-m", "mskclient.sandbox", "--port", "0", "--db", f"{folder}/s.db", "--no-rate-limits"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert child.stdout is not None
            client, stream = open_stream(child.stdout.readline().strip())
            child.send_signal(signal.SIGTERM)
            assert child.wait(30) == 0
            stream.__exit__(None, None, None)
            client.close()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            assert child.stdout is not None
            child.stdout.close()
