"""`watch`: SSE ticks from the sandbox, decrypted sentences, resumption with Last-Event-ID."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from _accounts import World

from mskclient import AsyncClient, Pacer
from mskclient._errors import ApiError, AuthError, ProtocolError
from mskclient.live import BoardNames, SseParser, Tick, describe, watch

T = 15.0


def test_sse_parser_events_comments_and_ids() -> None:
    parser = SseParser()
    lines = [": heartbeat", "id: 7", "event: tick", 'data: {"a":', "data: 1}", "", "", "data: x", ""]
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


class _Proxy:
    """A TCP proxy to the sandbox whose connections can be cut (a network drop), or answered
    by the proxy itself (`answers`: raw HTTP responses for the next connections, in order)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.writers: list[asyncio.StreamWriter] = []
        self.connections = 0
        self.answers: list[bytes] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.answers:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.answers.pop(0))
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        with contextlib.suppress(asyncio.CancelledError):  # the loop ending while a pipe waits
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.cut()
        self.server.close()
        await self.server.wait_closed()


async def test_watch_resumes_after_a_dropped_connection_without_losing_events(world: World) -> None:
    proxy = _Proxy(int(world.url.rsplit(":", 1)[1]))
    port = await proxy.start()
    via = AsyncClient(f"http://127.0.0.1:{port}", token=world.bob.client.token, pacer=Pacer.unlimited())
    via.use_keys(world.bob.client.keys)
    card_id = world.new_card("Dropped stream")
    ticks: list[Tick] = []
    seen = asyncio.Event()

    async def follow() -> None:
        async for tick in watch(via, world.board_id, backoff=(0.01, 0.05)):
            ticks.append(tick)
            seen.set()

    task = asyncio.create_task(follow())
    try:
        async with asyncio.timeout(T):
            # Wait until the stream is up: an event made now must arrive.
            while not ticks:
                await asyncio.to_thread(world.alice.client.edit_card, card_id, title="Dropped stream")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(seen.wait(), 0.5)
        first = proxy.connections
        proxy.cut()
        await asyncio.to_thread(world.alice.client.move_card, card_id, world.column_ids[1])
        await asyncio.to_thread(world.alice.client.archive_card, card_id)
        async with asyncio.timeout(T):
            while not any(t.verb == "CARD_ARCHIVED" for t in ticks):
                seen.clear()
                await seen.wait()
        assert proxy.connections > first  # it reconnected
        verbs = [t.verb for t in ticks if t.card_id == card_id]
        assert verbs[-2:] == ["CARD_MOVED", "CARD_ARCHIVED"]  # nothing lost across the drop
        ids = [int(t.id or 0) for t in ticks]
        assert ids == sorted(set(ids))  # and nothing repeated
    finally:
        await _stop(task, via, proxy)


async def _stop(task: asyncio.Task[None], via: AsyncClient, proxy: _Proxy) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await via.aclose()
    await proxy.close()


def _answer(status: str, body: bytes = b"", *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_RATE_LIMITED = _answer(
    "429 Too Many Requests",
    b'{"error": {"code": "RATE_LIMITED", "message": "slow down"}}',
    "Content-Type: application/json",
    "Retry-After: 0",
)


async def test_watch_rides_out_server_errors_and_rate_limits(world: World) -> None:
    proxy = _Proxy(int(world.url.rsplit(":", 1)[1]))
    port = await proxy.start()
    proxy.answers = [_answer("502 Bad Gateway", b"<html>proxy</html>"), _RATE_LIMITED, _answer("503 Unavailable")]
    via = AsyncClient(f"http://127.0.0.1:{port}", token=world.bob.client.token, pacer=Pacer.unlimited())
    card_id = world.new_card("Through errors")
    ticks: list[Tick] = []

    async def follow() -> None:
        async for tick in watch(via, world.board_id, backoff=(0.01, 0.05)):
            ticks.append(tick)

    task = asyncio.create_task(follow())
    try:
        async with asyncio.timeout(T):
            while not ticks:
                await asyncio.to_thread(world.alice.client.edit_card, card_id, title="Through errors")
                await asyncio.sleep(0.2)
        assert proxy.connections == 4 and not proxy.answers  # three error answers, then the stream
    finally:
        await _stop(task, via, proxy)


async def test_watch_gives_up_with_the_last_error_and_stops_at_once_on_auth_errors(world: World) -> None:
    proxy = _Proxy(int(world.url.rsplit(":", 1)[1]))
    port = await proxy.start()
    via = AsyncClient(f"http://127.0.0.1:{port}", token=world.bob.client.token, pacer=Pacer.unlimited())
    try:
        proxy.answers = [_answer("503 Unavailable")] * 3
        with pytest.raises(ApiError) as failed:
            async for _ in watch(via, world.board_id, backoff=(0.01, 0.02), max_failures=2):
                pass
        assert failed.value.status == 503 and proxy.connections == 3

        proxy.answers = [_answer("401 Unauthorized", b'{"error": {"code": "UNAUTHORIZED", "message": "expired"}}')]
        with pytest.raises(AuthError):
            async for _ in watch(via, world.board_id, backoff=(0.01, 0.02)):
                pass
        assert proxy.connections == 4
    finally:
        await via.aclose()
        await proxy.close()
