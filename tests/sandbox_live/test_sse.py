"""SSE live ticks over real HTTP: ticks, Last-Event-ID resumption, heartbeats, shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from ._harness import Engine

TIMEOUT = 5.0
ALICE, BOB = "cuseralice1", "cuserbob001"


class Stream:
    """Reads one SSE response: each `next()` gives an event's fields or {"comment": text}."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        async with asyncio.timeout(TIMEOUT):
            while True:
                line = await anext(self._lines)
                if line.startswith(":"):
                    return {"comment": line[1:].strip()}
                if not line:
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    async def tick(self) -> dict[str, str]:
        """The next event, skipping heartbeats."""
        while "comment" in (item := await self.next()):
            pass
        return item


@asynccontextmanager
async def stream(
    engine: Engine, board_id: str, last_event_id: str | None = None, user: str | None = None, session: str | None = None
) -> AsyncIterator[Stream]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    params = {"user": user} if user is not None else {}
    if session is not None:
        params["session"] = session
    async with (
        httpx.AsyncClient(base_url=engine.url, timeout=TIMEOUT) as client,
        client.stream("GET", f"/api/boards/{board_id}/live", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)


@pytest.fixture
def boards(engine: Engine) -> tuple[str, str]:
    ws_id = engine.workspace({ALICE: "owner", BOB: "member"})
    return engine.board(ws_id), engine.board(ws_id)


async def test_ticks_carry_the_webhook_shaped_event(engine: Engine, boards: tuple[str, str]) -> None:
    board, other = boards
    before = engine.event(board, "CARD_CREATED", "ccardbefore")
    engine.realtime.publish(before)
    async with stream(engine, board) as live:
        engine.realtime.publish(engine.event(other, "CARD_CREATED", "ccardother1"))
        moved, wire = engine.card_moved(board)
        engine.realtime.publish(moved)
        tick = await live.tick()
        assert tick["id"] == str(moved)
        assert tick["event"] == "tick"
        assert json.loads(tick["data"]) == wire


async def test_last_event_id_replays_what_was_missed(engine: Engine, boards: tuple[str, str]) -> None:
    board, other = boards
    ids = [engine.event(board, verb, "ccard00001") for verb in ("CARD_CREATED", "CARD_UPDATED", "CARD_MOVED")]
    engine.event(other, "CARD_CREATED", "ccard00002")
    async with stream(engine, board, last_event_id=str(ids[0])) as live:
        assert [(await live.tick())["id"] for _ in ids[1:]] == [str(i) for i in ids[1:]]
        newer = engine.event(board, "CARD_ARCHIVED", "ccard00001")
        engine.realtime.publish(newer)
        assert (await live.tick())["id"] == str(newer)
    async with stream(engine, board, last_event_id="0") as live:
        assert [(await live.tick())["id"] for _ in range(4)] == [str(i) for i in [*ids, newer]]


async def test_events_written_by_another_process_reach_the_stream(engine: Engine, boards: tuple[str, str]) -> None:
    board, _ = boards
    async with stream(engine, board) as live:
        unannounced = engine.event(board, "COMMENT_CREATED", "ccard00001")  # no publish(): another process
        assert (await live.tick())["id"] == str(unannounced)


async def test_quiet_streams_send_heartbeat_comments(engine: Engine, boards: tuple[str, str]) -> None:
    board, _ = boards
    async with stream(engine, board) as live:
        assert await live.next() == {"comment": "heartbeat"}
        assert await live.next() == {"comment": "heartbeat"}


@pytest.mark.parametrize("bad", [b"abc", b"-1", b"1.5", b"9" * 40, "١٢".encode(), "²".encode("latin-1")])
async def test_a_malformed_last_event_id_is_a_400(engine: Engine, boards: tuple[str, str], bad: bytes) -> None:
    async with httpx.AsyncClient(base_url=engine.url, timeout=TIMEOUT) as client:
        response = await client.get(f"/api/boards/{boards[0]}/live", headers={"Last-Event-ID": bad})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"


async def test_stopping_the_engine_ends_the_streams(engine: Engine, boards: tuple[str, str]) -> None:
    board, _ = boards
    async with stream(engine, board) as live:
        assert engine.loop is not None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(engine.realtime.stop(), engine.loop))
        with pytest.raises(StopAsyncIteration):
            await live.tick()


async def test_revoke_ends_the_users_streams_of_those_boards(engine: Engine, boards: tuple[str, str]) -> None:
    board, other = boards
    async with (
        stream(engine, board, user=BOB) as bob,
        stream(engine, other, user=BOB) as bob_other,
        stream(engine, board, user=ALICE) as alice,
    ):
        engine.realtime.revoke(BOB, [board])
        with pytest.raises(StopAsyncIteration):
            await bob.tick()
        event = engine.event(board, "CARD_CREATED", "ccard00001")
        engine.realtime.publish(event)
        assert (await alice.tick())["id"] == str(event)
        assert (await bob_other.next()) == {"comment": "heartbeat"}


async def test_a_stream_ends_when_its_user_leaves_the_workspace(engine: Engine, boards: tuple[str, str]) -> None:
    board, _ = boards
    ws_id = engine.execute("SELECT workspace_id FROM boards WHERE id = ?", (board,)).fetchone()[0]
    async with stream(engine, board, user=BOB) as bob:
        engine.remove_member(ws_id, BOB)  # another process did it: no revoke() here
        with pytest.raises(StopAsyncIteration):
            await bob.tick()


async def test_a_stream_ends_with_its_session(engine: Engine, boards: tuple[str, str]) -> None:
    """Logged out here (end_sessions), or elsewhere / expired (the periodic re-check)."""
    board, _ = boards
    here, elsewhere, staying = engine.session(BOB), engine.session(BOB), engine.session(BOB)
    async with (
        stream(engine, board, user=BOB, session=here) as first,
        stream(engine, board, user=BOB, session=elsewhere) as second,
        stream(engine, board, user=BOB, session=staying) as third,
    ):
        engine.realtime.end_sessions([here])
        with pytest.raises(StopAsyncIteration):
            await first.tick()
        engine.execute("DELETE FROM sessions WHERE token_hash = ?", (elsewhere,))
        with pytest.raises(StopAsyncIteration):
            await second.tick()
        event = engine.event(board, "CARD_CREATED", "ccard00001")
        engine.realtime.publish(event)
        assert (await third.tick())["id"] == str(event)
