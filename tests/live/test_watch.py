"""`watch`: SSE ticks from the sandbox, decrypted sentences, resumption with Last-Event-ID."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mskclient._errors import ProtocolError
from mskclient.live import BoardNames, SseParser, Tick, describe, watch

from .conftest import World

T = 15.0


def test_sse_parser_events_comments_and_ids() -> None:
    parser = SseParser()
    lines = [": heartbeat", "id: 7", "event: tick", "data: {\"a\":", "data: 1}", "", "", "data: x", ""]
    out = [e for e in map(parser.feed, lines) if e is not None]
    assert out == [("tick", '{"a":\n1}', "7"), ("message", "x", "7")]
    assert parser.last_id == "7"


def test_tick_shape_is_checked() -> None:
    with pytest.raises(ProtocolError):
        Tick.from_json({"verb": "CARD_MOVED", "boardId": "../etc", "timestamp": "t"})
    with pytest.raises(ProtocolError):
        Tick.from_json([1, 2])


async def _until(client: object, board_id: str, last: str, stop: Callable[[Tick], bool]) -> list[Tick]:
    ticks: list[Tick] = []
    async with asyncio.timeout(T):
        async for tick in watch(client, board_id, last_event_id=last):  # type: ignore[arg-type]
            ticks.append(tick)
            if stop(tick):
                return ticks
    raise AssertionError("stream ended")


async def test_watch_describes_moves_and_resumes_after_last_event_id(world: World) -> None:
    async with world.bob.async_client() as bc:
        card_id = world.new_card("Watch me")
        world.alice.client.move_card(card_id, world.column_ids[1])
        # "0": replay the board's events from the start, then follow live.
        ticks = await _until(bc, world.board_id, "0", lambda t: t.verb == "CARD_MOVED" and t.card_id == card_id)
        moved = ticks[-1]
        line = await describe(moved, BoardNames(bc, world.board_id))
        assert line.startswith("card ‘Watch me’ moved from ‘Doing’ to ‘Done’ by alice")
        created = next(t for t in ticks if t.verb == "CARD_CREATED" and t.card_id == card_id)
        assert created.id is not None and moved.id is not None

        # Resuming after the creation yields the move again and then what follows, live.
        follow = asyncio.create_task(_until(bc, world.board_id, created.id, lambda t: t.verb == "CARD_ARCHIVED"))
        await asyncio.to_thread(world.alice.client.archive_card, card_id)
        resumed = await follow
        assert [t.verb for t in resumed] == ["CARD_MOVED", "CARD_ARCHIVED"]
        assert resumed[0].id == moved.id
        archived = await describe(resumed[1], BoardNames(bc, world.board_id))
        assert archived.startswith("card ‘Watch me’ archived by alice")
