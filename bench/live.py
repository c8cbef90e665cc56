"""Live collaboration figures through a local sandbox relay (run: python bench/live.py).

Prints: update round-trip latency p50/p99 Python↔Python and Python↔Node (ping
line → pong line seen back); sustained updates/s one way; time to load and
join a card with a 100 KB description, and for an empty peer to sync it from
the room; and the cost of applying 40,000 typing-at-the-end updates to
pycrdt one by one (naive), merged first (what the participant does), and with
yjs in Node for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from pycrdt import Doc, Text, merge_updates

from mskclient import AsyncClient, Client, Pacer
from mskclient import _description as ydesc
from mskclient.crypto import b64u_encode
from mskclient.live import Participant, TextChanged, open_card, presence_for, relay_connector, ws_url
from mskclient.sandbox import Sandbox, SandboxConfig

INTEROP = Path(__file__).resolve().parents[1] / "tests" / "interop"
PASSWORD = "bench live password"
T = 120.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _account(url: str, name: str) -> tuple[Client, str]:
    client = Client(url, pacer=Pacer.unlimited())
    email = f"{name}-{secrets.token_hex(4)}@example.test"
    client.register(email, PASSWORD)
    if not client.has_keys:
        client.login(email, PASSWORD)
    return client, email


def _twin(client: Client) -> AsyncClient:
    twin = AsyncClient(client.server, token=client.token, email=client.core.email, pacer=Pacer.unlimited())
    twin.use_keys(client.keys)
    return twin


async def _participant(client: AsyncClient, card_id: str, name: str) -> Participant:
    return await open_card(client, card_id, presence=presence_for("c" + name.ljust(9, "0"), name))


async def _ping_pong(a: Participant, rounds: int) -> list[float]:
    """Seconds from each "ping i" appended by `a` until the peer's "pong i" reaches it."""
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        await a.append(f"ping {i}\n")
        await a.wait_until(lambda p, i=i: p.text.endswith(f"pong {i}\n"), T, "pong")  # type: ignore[misc]
        times.append(time.perf_counter() - start)
    return times


async def python_round_trips(alice: AsyncClient, bob: AsyncClient, card_id: str, rounds: int) -> list[float]:
    a = await _participant(alice, card_id, "alice")
    b = await _participant(bob, card_id, "bob")
    async with a, b:
        await a.wait_connected(T)
        await b.wait_connected(T)
        events = b.events()

        async def pong() -> None:
            answered = 0
            async for event in events:
                if isinstance(event, TextChanged):
                    while f"ping {answered}\n" in event.text:
                        await b.append(f"pong {answered}\n")
                        answered += 1

        ponger = asyncio.create_task(pong())
        await a.wait_until(lambda p: len(p.peers()) == 1, T, "the peer")
        times = await _ping_pong(a, rounds)
        ponger.cancel()
    return times


async def node_round_trips(alice: AsyncClient, bob: Client, card_id: str, rounds: int) -> list[float]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    card = bob.card(card_id)
    request = {
        "wsUrl": ws_url(bob.server, bob.ws_ticket(f"card:{card_id}").ticket),
        "key": b64u_encode(bob.board_key(card.board_id).raw),
        "room": f"card:{card_id}",
        "state": b64u_encode(card.description_state),
        "user": {"id": "cbobnode01", "name": "bob (node)", "color": "#00aa00"},
        "edits": [],
        "expect": [f"ping {rounds - 1}\n"],
        "pong": True,
        "timeoutMs": int(T * 1000),
    }
    proc = await asyncio.create_subprocess_exec(
        node,
        str(INTEROP / "live_participant.mjs"),
        cwd=INTEROP,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(request).encode())
    proc.stdin.close()
    a = await _participant(alice, card_id, "alice")
    async with a:
        await a.wait_until(lambda p: any(s["user"]["name"] == "bob (node)" for s in p.peers().values()), T, "node")
        times = await _ping_pong(a, rounds)
    out, _err = await asyncio.wait_for(proc.communicate(), T)
    answer = json.loads(out)
    if "error" in answer:
        raise SystemExit(f"node peer: {answer}")
    return times


async def sustained(alice: AsyncClient, bob: AsyncClient, card_id: str, count: int) -> float:
    a = await _participant(alice, card_id, "alice")
    b = await _participant(bob, card_id, "bob")
    async with a, b:
        await a.wait_connected(T)
        await b.wait_until(lambda p: len(p.peers()) == 1, T, "the peer")
        start = time.perf_counter()
        for _ in range(count):
            await a.append("x")
        await b.wait_until(lambda p: len(p.text) == count, T, "every update")
        return count / (time.perf_counter() - start)


async def join_big(alice: AsyncClient, bob: AsyncClient, card_id: str, size: int) -> tuple[float, float]:
    start = time.perf_counter()
    a = await _participant(alice, card_id, "alice")
    async with a:
        await a.wait_connected(T)
        loaded = time.perf_counter() - start
        key = await bob.board_key((await bob.card(card_id)).board_id)
        start = time.perf_counter()
        empty = Participant(f"card:{card_id}", key, relay_connector(bob, f"card:{card_id}"))
        async with empty:
            await empty.wait_until(lambda p: len(p.text) == size, T, "the 100 KB text")
            synced = time.perf_counter() - start
    return loaded, synced


def typing_updates(count: int) -> list[bytes]:
    doc: Doc[Text] = Doc()
    text = doc.get(ydesc.TEXT_NAME, type=Text)
    updates = []
    for i in range(count):
        before = doc.get_state()
        text += "abcdefghij"[i % 10]
        updates.append(doc.get_update(before))
    return updates


def apply_costs(updates: list[bytes]) -> dict[str, float]:
    naive = Doc()
    start = time.perf_counter()
    for update in updates:
        naive.apply_update(update)
    naive_s = time.perf_counter() - start
    merged_doc = Doc()
    start = time.perf_counter()
    merged_doc.apply_update(merge_updates(*updates))
    merged_s = time.perf_counter() - start
    chunked = Doc()
    start = time.perf_counter()
    ydesc.apply_updates(chunked, updates)
    chunked_s = time.perf_counter() - start
    for doc in (merged_doc, chunked):
        assert str(doc.get(ydesc.TEXT_NAME, type=Text)) == str(naive.get(ydesc.TEXT_NAME, type=Text))
    done = subprocess.run(
        ["node", str(INTEROP / "live_apply_bench.mjs")],
        cwd=INTEROP,
        capture_output=True,
        timeout=T,
        check=True,
        input=json.dumps({"updates": [b64u_encode(u) for u in updates]}).encode(),
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    assert answer["length"] == len(updates)
    return {"naive": naive_s, "merged": merged_s, "chunked": chunked_s, "yjs": answer["ms"] / 1000}


async def main(rounds: int, updates: int, typing: int) -> None:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        alice, _ = _account(url, "alice")
        bob, bob_email = _account(url, "bob")
        workspace = alice.create_workspace("Bench")
        alice.invite(workspace.id, bob_email, "member")
        board = alice.create_board(workspace.id, "Live")
        column = alice.create_column(board.id, "Doing")

        def card(description: str = "") -> str:
            return alice.create_card(column.id, "Bench", description, board_id=board.id).id

        async with _twin(alice) as ac, _twin(bob) as bc:
            py = await python_round_trips(ac, bc, card(), rounds)
            nd = await node_round_trips(ac, bob, card(), rounds)
            rate = await sustained(ac, bc, card(), updates)
            big = "0123456789abcdef" * (100 * 1024 // 16)
            loaded, synced = await join_big(ac, bc, card(big), len(big))
        alice.close()
        bob.close()
    costs = apply_costs(typing_updates(typing))
    ms = 1000.0
    print(
        f"round trip Python↔Python ({rounds}): p50 {statistics.median(py) * ms:.2f} ms, "
        f"p99 {_percentile(py, 0.99) * ms:.2f} ms"
    )
    print(
        f"round trip Python↔Node   ({rounds}): p50 {statistics.median(nd) * ms:.2f} ms, "
        f"p99 {_percentile(nd, 0.99) * ms:.2f} ms"
    )
    print(f"sustained one-way updates Python→Python: {rate:,.0f} updates/s ({updates} single-character edits)")
    print(
        f"100 KB description: load + decrypt + join {loaded * ms:.1f} ms; empty peer synced from the room "
        f"in {synced * ms:.1f} ms"
    )
    print(
        f"apply {typing:,} typing-at-the-end updates: pycrdt one by one {costs['naive']:.3f} s; "
        f"pycrdt all merged at once {costs['merged']:.3f} s; pycrdt merged {ydesc.MERGE_CHUNK} at a time "
        f"(the participant) {costs['chunked']:.3f} s; yjs one by one {costs['yjs']:.3f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--typing", type=int, default=40_000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.updates, args.typing))
