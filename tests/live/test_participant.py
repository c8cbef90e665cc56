"""The relay participant over in-memory channels: sync, awareness, no echo, reconnect, persist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pycrdt import Text

from mskclient import _description as ydesc
from mskclient._errors import ForbiddenError, OverLimitError, TransportError, UsageError
from mskclient.crypto import BoardKey, open_relay_frame, seal_relay_frame
from mskclient.live import (
    AwarenessMessage,
    ConnectionChanged,
    Participant,
    PresenceChanged,
    SyncUpdate,
    TextChanged,
    decode_message,
    encode_message,
)

from ._memrelay import MemoryChannel, MemoryRelay

ROOM = "card:cabcdefgh1"
ALICE = {"user": {"id": "calice0001", "name": "alice", "color": "#aa0000"}}
BOB = {"user": {"id": "cbob000001", "name": "bob", "color": "#0000bb"}}
T = 5.0  # generous bound for in-memory waits


@pytest.fixture
async def relay() -> AsyncIterator[MemoryRelay]:
    r = MemoryRelay()
    yield r
    await r.close()


@pytest.fixture
def key() -> BoardKey:
    return BoardKey.generate()


def peer(
    relay: MemoryRelay, key: BoardKey, presence: dict[str, object], state: bytes = b"", **kw: object
) -> Participant:
    return Participant(ROOM, key, relay.connector(ROOM), presence=presence, state=state, **kw)  # type: ignore[arg-type]


def messages(relay: MemoryRelay, key: BoardKey) -> list[object]:
    return [decode_message(open_relay_frame(key, room, frame)) for room, frame in relay.frames]


async def test_edits_flow_both_ways_with_author_names(relay: MemoryRelay, key: BoardKey) -> None:
    async with peer(relay, key, ALICE) as a, peer(relay, key, BOB) as b:
        events = b.events()
        await a.wait_connected(T)
        await b.wait_connected(T)
        await b.wait_until(lambda p: len(p.peers()) == 1, T, "seeing alice")
        await a.edit("hello")
        await b.wait_until(lambda p: p.text == "hello", T, "receiving alice's edit")
        changes = []
        async with asyncio.timeout(T):
            async for event in events:
                if isinstance(event, TextChanged):
                    changes.append(event)
                    break
        assert changes == [TextChanged("hello", ("alice",))]
        await b.append(" world")
        await a.wait_until(lambda p: p.text == "hello world", T, "receiving bob's edit")


async def test_join_exchanges_offline_edits_both_ways(relay: MemoryRelay, key: BoardKey) -> None:
    base = ydesc.edit_to(ydesc.empty_state(), "line one\n")
    a_state = ydesc.edit_to(base, "line one\nfrom alice\n")
    b_state = ydesc.edit_to(base, "from bob\nline one\n")
    async with peer(relay, key, ALICE, a_state) as a:
        await a.wait_connected(T)
        async with peer(relay, key, BOB, b_state) as b:
            want = "from bob\nline one\nfrom alice\n"
            await a.wait_until(lambda p: p.text == want, T, "merging bob's offline edit")
            await b.wait_until(lambda p: p.text == want, T, "merging alice's offline edit")


async def test_no_echo_of_remote_updates(relay: MemoryRelay, key: BoardKey) -> None:
    async with peer(relay, key, ALICE) as a, peer(relay, key, BOB) as b:
        await a.wait_connected(T)
        await b.wait_connected(T)
        relay.frames.clear()
        await a.edit("only once")
        await b.wait_until(lambda p: p.text == "only once", T, "receiving")
        await a.edit("only once!")  # a later frame of alice's proves bob had time to (not) echo
        await b.wait_until(lambda p: p.text == "only once!", T, "receiving")
        updates = [m for m in messages(relay, key) if isinstance(m, SyncUpdate)]
        assert len(updates) == 2


async def test_awareness_presence_and_clean_leave(relay: MemoryRelay, key: BoardKey) -> None:
    b = peer(relay, key, BOB)
    await b.start()
    events = b.events()
    async with peer(relay, key, ALICE) as a:
        await b.wait_until(lambda p: any(s == ALICE for s in p.peers().values()), T, "seeing alice")
        await a.wait_until(lambda p: any(s == BOB for s in p.peers().values()), T, "seeing bob")
        first = next(m for m in messages(relay, key) if isinstance(m, AwarenessMessage))
        assert all(entry.clock >= 1 for entry in first.entries)
    await b.wait_until(lambda p: not p.peers(), T, "alice leaving")
    leave = [m for m in messages(relay, key) if isinstance(m, AwarenessMessage)][-1]
    assert [e.state for e in leave.entries] == [None]
    await b.stop()
    async with asyncio.timeout(T):
        seen = [e async for e in events if isinstance(e, PresenceChanged)]
    assert seen[0].joined and seen[-1].left


async def test_query_awareness_is_answered_with_every_state(relay: MemoryRelay, key: BoardKey) -> None:
    async with peer(relay, key, ALICE) as a, peer(relay, key, BOB) as b:
        await a.wait_until(lambda p: len(p.peers()) == 1, T, "seeing bob")
        await b.wait_until(lambda p: len(p.peers()) == 1, T, "seeing alice")
        relay.frames.clear()
        probe = await relay.connector(ROOM)()
        await probe.send(seal_relay_frame(key, ROOM, b"\x03"))
        answers: list[AwarenessMessage] = []
        while len(answers) < 2:
            message = decode_message(open_relay_frame(key, ROOM, await asyncio.wait_for(probe.recv(), T)))
            if isinstance(message, AwarenessMessage):
                answers.append(message)
        for answer in answers:
            assert {e.state["user"]["name"] for e in answer.entries if e.state} == {"alice", "bob"}
        await probe.close()


async def test_frames_sealed_for_another_room_or_key_are_dropped(relay: MemoryRelay, key: BoardKey) -> None:
    async with peer(relay, key, ALICE) as a:
        await a.wait_connected(T)
        intruder = await relay.connector(ROOM)()
        bad = encode_message(SyncUpdate(ydesc.edit_to(ydesc.empty_state(), "evil")))
        await intruder.send(seal_relay_frame(BoardKey.generate(), ROOM, bad))
        await intruder.send(seal_relay_frame(key, "card:cother0001", bad))
        await intruder.send(seal_relay_frame(key, ROOM, b"\x07junk"))
        await a.wait_until(lambda p: p.frames_dropped == 3, T, "dropping the frames")
        assert a.text == ""
        await intruder.close()


async def test_reconnect_after_a_drop_loses_no_edit(relay: MemoryRelay, key: BoardKey) -> None:
    sockets: list[MemoryChannel] = []
    a = Participant(ROOM, key, relay.connector(ROOM, sockets), presence=ALICE, backoff=(0.01, 0.05))
    async with a, peer(relay, key, BOB) as b:
        events = a.events()
        await a.wait_connected(T)
        await a.edit("start\n")
        await b.wait_until(lambda p: p.text == "start\n", T, "first edit")
        sockets[-1].drop()
        await a.append("typed while offline\n")  # may land before or after the drop is noticed
        await b.append("bob meanwhile\n")
        await a.wait_until(lambda p: len(sockets) == 2 and p.connected, T, "reconnecting")
        want = {"start\n", "typed while offline\n", "bob meanwhile\n"}
        for p in (a, b):
            await p.wait_until(lambda p: set(p.text.splitlines(keepends=True)) == want, T, "resyncing")
        assert a.text == b.text
        kinds = []
        async with asyncio.timeout(T):
            async for event in events:
                if isinstance(event, ConnectionChanged):
                    kinds.append(event.connected)
                    if len(kinds) == 3:
                        break
        assert kinds == [True, False, True]


async def test_revoked_membership_stops_reconnecting(relay: MemoryRelay, key: BoardKey) -> None:
    sockets: list[MemoryChannel] = []
    a = Participant(ROOM, key, relay.connector(ROOM, sockets), presence=ALICE, backoff=(0.01, 0.02))
    async with a:
        await a.wait_connected(T)
        relay.refuse = ForbiddenError(403, "FORBIDDEN", "membership revoked")
        sockets[-1].drop()
        with pytest.raises(ForbiddenError):
            await a.wait_until(lambda p: False, T, "never")
        assert isinstance(a.error, ForbiddenError)


async def test_persist_merges_with_the_server_and_shares_its_extra_edits(relay: MemoryRelay, key: BoardKey) -> None:
    server = {"state": ydesc.edit_to(ydesc.empty_state(), "stored\n")}
    # Someone saved a scripted edit while we were offline.
    scripted = ydesc.diff_update(server["state"], "stored\nscripted\n")
    loaded = server["state"]
    server["state"] = ydesc.merge(server["state"], scripted)

    async def persist(state: bytes) -> bytes:
        server["state"] = ydesc.merge(server["state"], state)
        return server["state"]

    async with peer(relay, key, ALICE, loaded, persist=persist) as a, peer(relay, key, BOB, loaded) as b:
        await a.wait_connected(T)
        await a.edit("live\nstored\n")
        assert a.dirty
        await a.save()
        assert not a.dirty
        assert a.text == "live\nstored\nscripted\n"
        await b.wait_until(lambda p: p.text == "live\nstored\nscripted\n", T, "the server's extra edit")
        await a.append("last\n")
    assert ydesc.text_of(server["state"]) == "live\nstored\nscripted\nlast\n"


async def test_many_queued_updates_are_merged_then_applied(relay: MemoryRelay, key: BoardKey) -> None:
    async with peer(relay, key, BOB) as b:
        await b.wait_connected(T)
        typist = await relay.connector(ROOM)()
        from pycrdt import Doc, Text

        doc: Doc[Text] = Doc()
        text = doc.get(ydesc.TEXT_NAME, type=Text)
        for ch in "typing-at-the-end " * 100:
            before = doc.get_state()
            text += ch
            await typist.send(seal_relay_frame(key, ROOM, encode_message(SyncUpdate(doc.get_update(before)))))
        await b.wait_until(lambda p: p.text == str(text), T, "all keystrokes")
        await typist.close()


def test_room_must_be_card_or_board(key: BoardKey) -> None:
    async def never() -> MemoryChannel:
        raise AssertionError

    with pytest.raises(UsageError):
        Participant("workspace:cabcdefgh1", key, never)


async def test_awareness_is_renewed_with_rising_clocks(relay: MemoryRelay, key: BoardKey) -> None:
    async with peer(relay, key, ALICE, renew_seconds=0.02) as a, peer(relay, key, BOB) as b:
        await b.wait_until(lambda p: len(p.peers()) == 1, T, "seeing alice")

        def renewals() -> list[int]:
            return [
                e.clock
                for m in messages(relay, key)
                if isinstance(m, AwarenessMessage)
                for e in m.entries
                if e.client_id == a.awareness.client_id and e.state is not None
            ]

        async with asyncio.timeout(T):
            while len(set(renewals())) < 4:
                await asyncio.sleep(0.02)
        clocks = sorted(set(renewals()))
        assert clocks[0] >= 1 and clocks == list(range(clocks[0], clocks[0] + len(clocks)))


async def test_an_edit_that_would_outgrow_the_relay_is_refused_and_changes_nothing(
    relay: MemoryRelay, key: BoardKey
) -> None:
    """Past 1 MiB of state nobody could join the room again (step 2 carries the whole document)."""
    async with peer(relay, key, ALICE) as a, peer(relay, key, BOB) as b:
        await a.wait_connected(T)
        await b.wait_connected(T)
        big = "é" * 450_000  # 900,000 bytes of UTF-8: fits
        await a.edit(big)
        await b.wait_until(lambda p: p.text == big, T, "the big text")
        for change in (a.append("x" * 200_000), a.edit(big + "y" * 200_000), a.apply_local_update(_grown(a, 200_000))):
            with pytest.raises(OverLimitError, match="too large for the relay"):
                await change
        assert a.text == big and a.connected and a.error is None
        await a.append(" end")  # small edits still go through
        await b.wait_until(lambda p: p.text == big + " end", T, "the small edit")


def _grown(participant: Participant, extra: int) -> bytes:
    """An update, made elsewhere, appending `extra` bytes to the participant's description."""
    doc = ydesc.load(participant.state())
    before = doc.get_state()
    text = doc.get(ydesc.TEXT_NAME, type=Text)
    text += "z" * extra
    return doc.get_update(before)


@pytest.mark.parametrize("listening", [False, True])
async def test_updates_that_are_not_yjs_are_dropped_listened_to_or_not(
    relay: MemoryRelay, key: BoardKey, listening: bool
) -> None:
    async with peer(relay, key, BOB) as b:
        if listening:
            b.events()
        await b.wait_connected(T)
        intruder = await relay.connector(ROOM)()
        for garbage in (b"\xff\xff", b"garbage!", b"\x01"):
            await intruder.send(seal_relay_frame(key, ROOM, encode_message(SyncUpdate(garbage))))
        await b.wait_until(lambda p: p.frames_dropped == 3, T, "dropping the garbage")
        good = ydesc.edit_to(ydesc.empty_state(), "fine")
        await intruder.send(seal_relay_frame(key, ROOM, encode_message(SyncUpdate(good))))
        await b.wait_until(lambda p: p.text == "fine", T, "the next update applied")
        await intruder.close()


async def test_wait_until_times_out_raises_the_predicates_error_and_wakes_every_waiter(
    relay: MemoryRelay, key: BoardKey
) -> None:
    async with peer(relay, key, ALICE) as a, peer(relay, key, BOB) as b:
        await a.wait_connected(T)
        await b.wait_connected(T)
        with pytest.raises(TransportError, match=r"timed out after 0\.05 s waiting for nothing"):
            await b.wait_until(lambda p: False, 0.05, "waiting for nothing")

        def fails_once_changed(p: Participant) -> bool:
            if p.text:
                raise LookupError("the predicate's own error")
            return False

        abandoned = asyncio.create_task(b.wait_until(lambda p: False, T, "a wait its caller gives up"))
        failing = asyncio.create_task(b.wait_until(fails_once_changed, T, "a failing predicate"))
        waiters = [asyncio.create_task(b.wait_until(lambda p, n=n: len(p.text) >= n, T, "text")) for n in (1, 2, 3)]
        await asyncio.sleep(0)
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        await a.edit("abc")
        with pytest.raises(LookupError, match="the predicate's own error"):
            await failing
        await asyncio.wait_for(asyncio.gather(*waiters), T)
        await b.wait_until(lambda p: p.text == "abc", T, "a wait that holds at once")
