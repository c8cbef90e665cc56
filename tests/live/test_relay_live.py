"""Participants and scripted edits through the real sandbox relay (real sockets, real HTTP)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from _accounts import World, member
from websockets.asyncio.client import connect

from mskclient._errors import AuthError, ForbiddenError, OverLimitError, PayloadTooLargeError, UsageError
from mskclient.live import (
    Channel,
    Participant,
    WebSocketChannel,
    aedit_description,
    edit_description,
    open_card,
    presence_for,
    relay_connector,
    ws_url,
)

T = 15.0


def test_ws_url() -> None:
    assert ws_url("http://127.0.0.1:8000", "a+b/c") == "ws://127.0.0.1:8000/api/ws?t=a%2Bb%2Fc"
    assert ws_url("https://kanban.example/base/", "t") == "wss://kanban.example/base/api/ws?t=t"


async def test_two_participants_converge_and_the_stored_description_decrypts(world: World) -> None:
    card_id = world.new_card(description="shared notes\n")
    async with world.alice.async_client() as ac, world.bob.async_client() as bc:
        a = await open_card(ac, card_id, presence=presence_for("calice0001", "alice"))
        b = await open_card(bc, card_id, presence=presence_for("cbob000001", "bob"))
        async with a, b:
            await a.wait_connected(T)
            await b.wait_connected(T)
            await asyncio.gather(a.append("alice was here\n"), b.edit("bob first\n" + b.text))
            want = "bob first\nshared notes\nalice was here\n"
            for p in (a, b):
                await p.wait_until(lambda p: p.text == want, T, "converging")
            await b.wait_until(lambda p: [s["user"]["name"] for s in p.peers().values()] == ["alice"], T, "presence")
        # Both saved on leaving (each with If-Match, merging on 409).
        assert world.bob.client.card(card_id).description == want


async def test_a_dropped_socket_mid_edit_loses_nothing(world: World) -> None:
    card_id = world.new_card()
    sockets: list[WebSocketChannel] = []
    async with world.alice.async_client() as ac, world.bob.async_client() as bc:
        inner = relay_connector(ac, f"card:{card_id}")

        async def logging_connect() -> Channel:
            channel = await inner()
            assert isinstance(channel, WebSocketChannel)
            sockets.append(channel)
            return channel

        card = await ac.card(card_id)
        key = await ac.board_key(card.board_id)
        a = Participant(f"card:{card_id}", key, logging_connect, presence=presence_for("calice0001", "alice"),
                        state=card.description_state, backoff=(0.02, 0.2))
        b = await open_card(bc, card_id, presence=presence_for("cbob000001", "bob"))
        async with a, b:
            await a.wait_connected(T)
            await b.wait_connected(T)
            lines = [f"line {i}\n" for i in range(30)]
            for i, line in enumerate(lines):
                await a.append(line)
                if i == 10:
                    sockets[0].abort()  # the TCP connection dies without a close handshake
                if i % 3 == 0:
                    await b.append(f"bob {i}\n")
            await a.wait_until(lambda p: len(sockets) >= 2 and p.connected, T, "reconnecting")
            for p in (a, b):
                await p.wait_until(
                    lambda p: all(line in p.text for line in lines) and p.text.count("bob ") == 10, T, "resync"
                )
            assert a.text == b.text
            await b.save()
        stored = world.alice.client.card(card_id).description
        assert all(line in stored for line in lines)
        assert stored.count("bob ") == 10


async def test_an_observers_updates_are_neither_applied_nor_persisted(world: World) -> None:
    """An observer holds the board key, so it can seal Yjs updates; the relay marks its frames
    and members' participants refuse their content, while members' edits merge and persist."""
    carol = member(world.url, "carol")
    world.alice.client.invite(world.workspace_id, carol.email, "observer")
    card_id = world.new_card(description="notes\n")
    try:
        async with world.alice.async_client() as ac, world.bob.async_client() as bc, carol.async_client() as cc:
            a = await open_card(ac, card_id, presence=presence_for("calice0001", "alice"))
            b = await open_card(bc, card_id, presence=presence_for("cbob000001", "bob"))
            card = await cc.card(card_id)
            room = f"card:{card_id}"
            c = Participant(room, await cc.board_key(card.board_id), relay_connector(cc, room),
                            presence=presence_for("ccarol0001", "carol"), state=card.description_state)  # fmt: skip
            async with a, b, c:
                for p in (a, b, c):
                    await p.wait_connected(T)
                await c.append("written by the observer\n")
                await a.wait_until(lambda p: p.updates_refused >= 1, T, "the observer's update")
                await b.append("written by bob\n")
                await a.wait_until(lambda p: "written by bob" in p.text, T, "bob's update")
                await c.wait_until(lambda p: "written by bob" in p.text, T, "the observer reading bob's update")
                await a.wait_until(lambda p: "carol" in [s["user"]["name"] for s in p.peers().values()], T, "presence")
                assert a.text == b.text == "notes\nwritten by bob\n"
                await a.save()
        assert world.bob.client.card(card_id).description == "notes\nwritten by bob\n"
    finally:
        carol.client.close()


async def test_scripted_edit_reaches_a_live_peer(world: World) -> None:
    card_id = world.new_card(description="todo:\n")
    async with world.bob.async_client() as bc, world.alice.async_client() as ac:
        b = await open_card(bc, card_id, presence=presence_for("cbob000001", "bob"))
        async with b:
            await b.wait_connected(T)
            await b.edit("todo:\n- bob's item\n")  # not saved yet: only live
            await aedit_description(ac, card_id, lambda text: text + "- scripted item\n")
            await b.wait_until(lambda p: "- scripted item\n" in p.text, T, "the scripted edit")
            # Both inserted at the same place concurrently: Yjs orders them by client id.
            assert sorted(b.text.splitlines()) == ["- bob's item", "- scripted item", "todo:"]
            final = b.text
        assert world.alice.client.card(card_id).description == final


def test_two_concurrent_appends_both_land(world: World) -> None:
    """Acceptance: two `msk cards edit --append` at the same moment on one card both land."""
    card_id = world.new_card(description="log:\n")
    start = threading.Barrier(2, timeout=T)
    errors: list[BaseException] = []

    def append(member_client: Callable[[], object], line: str) -> None:
        try:
            start.wait()
            edit_description(member_client(), card_id, lambda text: text + line)  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=append, args=(lambda: world.alice.client, "- from alice\n")),
        threading.Thread(target=append, args=(lambda: world.bob.client, "- from bob\n")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(T)
    assert not errors
    text = world.alice.client.card(card_id).description
    assert text.startswith("log:\n")
    assert sorted(text.splitlines()[1:]) == ["- from alice", "- from bob"]


def test_edit_with_the_card_already_read_does_not_read_it_again(world: World) -> None:
    client = world.alice.client
    card_id = world.new_card(description="read once\n")
    card = client.card(card_id)
    before = client.requests
    saved = edit_description(client, card_id, lambda text: text + "edited\n", live=False, base=card)
    assert client.requests - before == 1  # the PATCH (If-Match on the version read) only
    assert saved.description == "read once\nedited\n" == client.card(card_id).description


async def test_async_edit_with_the_card_already_read_does_not_read_it_again(world: World) -> None:
    card_id = world.new_card(description="read once\n")
    async with world.alice.async_client() as ac:
        card = await ac.card(card_id)
        before = ac.requests
        saved = await aedit_description(ac, card_id, lambda text: text + "edited\n", live=False, base=card)
        assert ac.requests - before == 1  # the PATCH (If-Match on the version read) only
        unchanged = await aedit_description(ac, card_id, lambda text: text, base=saved)
        assert unchanged is saved and ac.requests - before == 1  # nothing changed: nothing saved or sent
    assert saved.description == "read once\nedited\n" == world.alice.client.card(card_id).description


async def test_blocking_edit_inside_an_event_loop_is_refused_before_saving(world: World) -> None:
    card_id = world.new_card(description="unchanged\n")
    with pytest.raises(UsageError, match="aedit_description"):
        edit_description(world.alice.client, card_id, lambda text: text + "never saved\n")
    assert world.alice.client.card(card_id).description == "unchanged\n"


async def test_concurrent_async_edits_in_different_places_both_land(world: World) -> None:
    card_id = world.new_card(description="top\nmiddle\nbottom\n")
    async with world.alice.async_client() as ac, world.bob.async_client() as bc:
        await asyncio.gather(
            aedit_description(ac, card_id, lambda t: t.replace("top", "TOP")),
            aedit_description(bc, card_id, lambda t: t.replace("bottom", "BOTTOM"), live=False),
        )
    assert world.alice.client.card(card_id).description == "TOP\nmiddle\nBOTTOM\n"


async def test_a_bad_ticket_is_an_auth_error(world: World) -> None:
    channel = await WebSocketChannel.open(ws_url(world.url, "not-a-ticket"))
    with pytest.raises(AuthError):
        await asyncio.wait_for(channel.recv(), T)
    await channel.close()


async def test_a_frame_over_1_mib_is_refused(world: World) -> None:
    card_id = world.new_card()
    async with world.alice.async_client() as ac:
        ticket = await ac.ws_ticket(f"card:{card_id}")
        channel = await WebSocketChannel.open(ws_url(world.url, ticket.ticket))
        await channel.send(b"\x00" * (1024 * 1024 + 1))
        with pytest.raises(PayloadTooLargeError):
            await asyncio.wait_for(channel.recv(), T)
        await channel.close()
        # The participant refuses to send one at all.
        p = await open_card(ac, card_id)
        async with p:
            await p.wait_connected(T)
            with pytest.raises(OverLimitError):
                await p.edit("x" * (1024 * 1024))


async def test_removed_member_is_closed_with_4403_and_stops(world: World) -> None:
    carol = member(world.url, "carol")
    world.alice.client.invite(world.workspace_id, carol.email, "member")
    card_id = world.new_card()
    async with carol.async_client() as cc:
        p = await open_card(cc, card_id, presence=presence_for("ccarol0001", "carol"))
        async with p:
            await p.wait_connected(T)
            user = carol.client.user or carol.client.me().user
            world.alice.client.remove_member(world.workspace_id, user.id)
            with pytest.raises(ForbiddenError):
                await p.wait_until(lambda p: False, T, "the 4403 close")
    carol.client.close()


async def test_the_relay_declines_compression_since_its_frames_are_ciphertext(world: World) -> None:
    # Browsers offer permessage-deflate by default; zlib over sealed frames only costs time.
    ticket = world.alice.client.ws_ticket(f"card:{world.new_card()}").ticket
    async with connect(ws_url(world.url, ticket), compression="deflate") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
