"""Live interop: a Node participant (yjs, y-protocols, ws, libsodium.js) and the Python one edit
the same card at the same time through the sandbox relay, and converge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from _accounts import member

from mskclient import AsyncClient, Client, Pacer
from mskclient import _description as ydesc
from mskclient.crypto import b64u_decode, b64u_encode
from mskclient.live import Channel, Participant, WebSocketChannel, presence_for, relay_connector, ws_url

from ._node import INTEROP, node_executable

T = 60.0


@dataclass
class Room:
    url: str
    alice: Client
    bob: Client
    carol: Client  # an observer
    board_id: str
    column_id: str

    def card(self, description: str) -> str:
        return self.alice.create_card(self.column_id, "Interop", description, board_id=self.board_id).id

    def async_alice(self) -> AsyncClient:
        return self.async_of(self.alice)

    def async_of(self, who: Client) -> AsyncClient:
        client = AsyncClient(self.url, token=who.token, email=who.core.email, pacer=Pacer.unlimited())
        client.use_keys(who.keys)
        return client


@pytest.fixture(scope="module")
def room(sandbox_url: str) -> Iterator[Room]:
    alice, bob, carol = (member(sandbox_url, name) for name in ("alice", "bob", "carol"))
    workspace = alice.client.create_workspace("Interop")
    alice.client.invite(workspace.id, bob.email, "member")
    alice.client.invite(workspace.id, carol.email, "observer")
    board = alice.client.create_board(workspace.id, "Live")
    column = alice.client.create_column(board.id, "Doing")
    yield Room(sandbox_url, alice.client, bob.client, carol.client, board.id, column.id)
    for each in (alice, bob, carol):
        each.client.close()


async def _node_peer(
    room: Room,
    card_id: str,
    edits: list[str],
    expect: list[str],
    peers: tuple[str, ...] = (),
    who: Client | None = None,
) -> dict[str, Any]:
    """Run live_participant.mjs as bob, or `who` (ticket, key and stored state handed over by Python)."""
    node = node_executable()
    who = room.bob if who is None else who
    card = who.card(card_id)
    request = {
        "wsUrl": ws_url(room.url, who.ws_ticket(f"card:{card_id}").ticket),
        "key": b64u_encode(who.board_key(card.board_id).raw),
        "room": f"card:{card_id}",
        "state": b64u_encode(card.description_state),
        "user": {"id": "cbobnode01", "name": "bob (node)", "color": "#00aa00"},
        "edits": edits,
        "expect": expect,
        "expectPeers": list(peers),
        "timeoutMs": int(T * 1000) - 5000,
    }
    proc = await asyncio.create_subprocess_exec(
        node,
        str(INTEROP / "live_participant.mjs"),
        cwd=INTEROP,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(request).encode()), T)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"node participant did not finish within {T} s")
    try:
        answer = json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"node participant exited {proc.returncode} without JSON: {err.decode()[-2000:]}")
    assert proc.returncode == 0 and "error" not in answer, answer
    assert isinstance(answer, dict)
    return answer


PY_LINES = [f"python {i} ✓\n" for i in range(12)]
NODE_LINES = [f"node {i} 😀\n" for i in range(12)]


async def _python_edits(p: Participant, lines: list[str], drop: Callable[[int], None] | None = None) -> None:
    await p.wait_connected(T)
    for i, line in enumerate(lines):
        await p.append(line)
        if drop is not None:
            drop(i)
        await asyncio.sleep(0)  # let frames interleave with the Node peer's typing


async def test_python_and_node_edit_one_card_at_once_and_converge(room: Room) -> None:
    card_id = room.card("shared notes é\n")
    async with room.async_alice() as ac:
        card = await ac.card(card_id)
        key = await ac.board_key(card.board_id)

        async def persist(state: bytes) -> bytes:
            return (await ac.edit_card(card_id, description_state=state)).description_state

        p = Participant(
            f"card:{card_id}",
            key,
            relay_connector(ac, f"card:{card_id}"),
            presence=presence_for("calice0001", "alice"),
            state=card.description_state,
            persist=persist,
        )
        async with p:
            node_task = asyncio.create_task(_node_peer(room, card_id, NODE_LINES, PY_LINES, ("alice",)))
            await _python_edits(p, PY_LINES)
            await p.wait_until(lambda p: all(line in p.text for line in NODE_LINES), T, "the Node edits")
            node = await node_task
            assert node["text"] == p.text
            assert "alice" in node["peers"]
            assert ydesc.text_of(b64u_decode(node["state"])) == p.text
            await p.save()
            final = p.text
    assert final.startswith("shared notes é\n")
    assert sorted(final.splitlines()[1:]) == sorted(line.rstrip("\n") for line in PY_LINES + NODE_LINES)
    # The stored encDescription decrypts (with bob's keys too) to the converged text.
    assert room.bob.card(card_id).description == final


async def test_dropping_the_python_socket_mid_edit_loses_nothing(room: Room) -> None:
    card_id = room.card("")
    sockets: list[WebSocketChannel] = []
    async with room.async_alice() as ac:
        card = await ac.card(card_id)
        key = await ac.board_key(card.board_id)
        inner = relay_connector(ac, f"card:{card_id}")

        async def connect() -> Channel:
            channel = await inner()
            assert isinstance(channel, WebSocketChannel)
            sockets.append(channel)
            return channel

        p = Participant(
            f"card:{card_id}",
            key,
            connect,
            presence=presence_for("calice0001", "alice"),
            state=card.description_state,
            backoff=(0.02, 0.2),
        )
        async with p:
            node_task = asyncio.create_task(_node_peer(room, card_id, NODE_LINES, PY_LINES))

            def drop(i: int) -> None:
                if i == 4:
                    sockets[-1].abort()  # the TCP connection dies mid-edit, no close handshake

            await _python_edits(p, PY_LINES, drop)
            await p.wait_until(lambda p: all(line in p.text for line in NODE_LINES), T, "the Node edits")
            node = await node_task
            assert len(sockets) >= 2
            assert node["text"] == p.text
            assert sorted(p.text.splitlines()) == sorted(line.rstrip("\n") for line in PY_LINES + NODE_LINES)


async def test_an_observer_cannot_write_through_a_node_or_a_python_member(room: Room) -> None:
    """The relay marks an observer's frames; members on both sides refuse their updates."""
    card_id = room.card("base\n")
    async with room.async_alice() as ac, room.async_of(room.carol) as cc:
        card = await ac.card(card_id)
        key = await ac.board_key(card.board_id)
        connect = relay_connector(ac, f"card:{card_id}")
        alice = Participant(f"card:{card_id}", key, connect, presence=presence_for("calice0001", "alice"),
                            state=card.description_state)  # fmt: skip
        async with alice:
            # A Node observer types; alice (Python) refuses it, and the observer still reads alice.
            observer = asyncio.create_task(
                _node_peer(room, card_id, ["node observer\n"], ["alice 1\n"], ("alice",), who=room.carol)
            )
            await alice.wait_connected(T)
            await alice.wait_until(lambda p: p.updates_refused >= 1, T, "the Node observer's update")
            await alice.append("alice 1\n")
            assert "alice 1\n" in (await observer)["text"]
            assert alice.text == "base\nalice 1\n"

            # A Python observer types; bob (Node) refuses it and still merges alice's next line.
            member = asyncio.create_task(_node_peer(room, card_id, [], ["alice 2\n"], ("alice",)))
            await alice.wait_until(lambda p: "bob (node)" in [s["user"]["name"] for s in p.peers().values()], T, "bob")
            python_observer = Participant(f"card:{card_id}", key, relay_connector(cc, f"card:{card_id}"),
                                          state=card.description_state)  # fmt: skip
            async with python_observer:
                await python_observer.wait_connected(T)
                await python_observer.append("python observer\n")
                await alice.wait_until(lambda p: p.updates_refused >= 2, T, "the Python observer's update")
                await alice.append("alice 2\n")
                node = await member
            assert node["refused"] >= 1 and "observer" not in node["text"]
            assert node["text"] == alice.text == "base\nalice 1\nalice 2\n"
