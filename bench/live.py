"""Live collaboration figures through a local sandbox relay (run: python bench/live.py).

First, side by side with the reference: our sandbox relay (encrypted frames, pycrdt
participants) against the y-websocket server (@y/websocket-server, plaintext, yjs peers
in Node), each server in its own process on loopback, runs alternating, medians of
`--repeat` runs: round trips (one writer appending "ping i", one reader answering
"pong i") p50/p99 and round trips/s; one-way stream of single-character edits (updates/s);
fan-out to `--receivers` readers, paced (time until the last receiver has each edit,
p50/p99) and in a burst (deliveries/s).

Then: update round-trip latency Python↔Node through our relay; time to load and join a
card with a 100 KB description, and for an empty peer to sync it from the room; and the
cost of applying 40,000 typing-at-the-end updates to pycrdt one by one (naive), merged
first (what the participant does), and with yjs in Node for reference.

Needs Node.js 18 or later and the npm packages of tests/interop and bench/node; the
benchmark checks them first and says how to install what is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pycrdt import Doc, Text, merge_updates

from mskclient import AsyncClient, Client, Pacer
from mskclient import _description as ydesc
from mskclient.crypto import b64u_encode
from mskclient.live import Participant, TextChanged, open_card, presence_for, relay_connector, ws_url
from mskclient.sandbox import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parents[1]
INTEROP = ROOT / "tests" / "interop"
REFERENCE = ROOT / "bench" / "node"
REFERENCE_SERVER = REFERENCE / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"
NODE_MAJOR = 18
PASSWORD = "bench live password"
T = 120.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def node_or_exit() -> str:
    """The node binary, once Node.js and both npm package sets are known to be installed;
    otherwise exit with what to install and how (the benchmark would only time out later)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit(
            f"bench/live.py needs Node.js {NODE_MAJOR} or later on PATH (https://nodejs.org, or your package "
            "manager's nodejs), then: (cd tests/interop && npm ci) && (cd bench/node && npm ci)"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    major = version.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < NODE_MAJOR:
        raise SystemExit(f"bench/live.py needs Node.js {NODE_MAJOR} or later; {node} is {version or 'unknown'}")
    missing = []
    for folder in (INTEROP, REFERENCE):
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        lacking = [name for name in manifest["dependencies"] if not (folder / "node_modules" / name).is_dir()]
        if lacking:
            where = folder.relative_to(ROOT).as_posix()
            missing.append(f"{where} lacks {', '.join(lacking)}: run (cd {where} && npm ci)")
    if missing:
        raise SystemExit("bench/live.py needs npm packages:\n  " + "\n  ".join(missing))
    return node


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reference_run(node: str, rounds: int, updates: int, receivers: int, fan_out_updates: int) -> dict[str, Any]:
    """One run of the reference: a fresh y-websocket server process, the yjs peers in another."""
    port = _free_port()
    server = subprocess.Popen(
        [node, str(REFERENCE_SERVER)],
        cwd=REFERENCE,
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        if "running at" not in server.stdout.readline():
            raise SystemExit("the y-websocket server did not start")
        request = {
            "url": f"ws://127.0.0.1:{port}",
            "rounds": rounds,
            "count": updates,
            "receivers": receivers,
            "fanOutCount": fan_out_updates,
            "timeoutMs": int(T * 1000),
        }
        done = subprocess.run(
            [node, str(REFERENCE / "reference_peers.mjs")],
            cwd=REFERENCE,
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=T * 2,
            check=False,
        )
    finally:
        server.terminate()
        server.wait()
    answer: dict[str, Any] = json.loads(done.stdout or b"{}")
    if "error" in answer or not answer:
        raise SystemExit(f"reference peers failed: {answer.get('error') or done.stderr.decode()[-2000:]}")
    return _figures(answer["roundTrips"], updates / answer["streamSeconds"], answer["fanOutTrips"],
                    fan_out_updates * receivers / answer["fanOutSeconds"])


def _figures(trips: list[float], stream_rate: float, fan_trips: list[float], deliveries: float) -> dict[str, Any]:
    return {
        "round trip p50 ms": statistics.median(trips) * 1000,
        "round trip p99 ms": _percentile(trips, 0.99) * 1000,
        "round trips/s": len(trips) / sum(trips),
        "stream updates/s": stream_rate,
        "fan-out p50 ms": statistics.median(fan_trips) * 1000,
        "fan-out p99 ms": _percentile(fan_trips, 0.99) * 1000,
        "fan-out deliveries/s": deliveries,
    }


async def fan_out(
    writer: AsyncClient, reader: AsyncClient, card_id: str, receivers: int, rounds: int, count: int
) -> tuple[list[float], float]:
    """Seconds until every receiver has each single edit (`rounds` times), then seconds until
    every receiver has `count` edits sent back to back.

    Like the yjs peers of the reference, these carry no presence (with it, every join would
    be answered by every peer's awareness, a storm that has nothing to do with the relay).
    They join one after another, each answered by the room before the next, and two edits
    reach everyone before the clock starts, so the joins' sync replies are all delivered.
    The receivers are awaited one after another, each `wait_until` returning at once when its
    receiver already has the edit: the clock still stops only once all of them have it (as with
    the reference's Promise.all), without a task, a timer and a future per receiver and edit that
    a gather of 50 waits costs the measuring side (it doubled our CPU per delivery).
    """
    card = await writer.card(card_id)
    writer_key = await writer.board_key(card.board_id)
    reader_key = await reader.board_key(card.board_id)
    room = f"card:{card_id}"
    w = Participant(room, writer_key, relay_connector(writer, room), state=card.description_state)
    readers = [
        Participant(room, reader_key, relay_connector(reader, room), state=card.description_state)
        for _ in range(receivers)
    ]

    async def everyone_has(length: int) -> None:
        for r in readers:
            await r.wait_until(lambda p: len(p.text) == length, T, "fan-out")

    async with contextlib.AsyncExitStack() as stack:
        for peer in (w, *readers):
            await stack.enter_async_context(peer)
            await peer.wait_connected(T)
        for length in (1, 2):
            await w.append("w")
            await everyone_has(length)
        trips = []
        for i in range(3, rounds + 3):
            start = time.perf_counter()
            await w.append("x")
            await everyone_has(i)
            trips.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(count):
            await w.append("y")
        await everyone_has(rounds + 2 + count)
        return trips, time.perf_counter() - start


async def ours_run(rounds: int, updates: int, receivers: int, fan_out_updates: int) -> dict[str, Any]:
    """One run of ours: a fresh sandbox process, the pycrdt participants in this one."""
    with _sandbox_process() as url:
        alice, _ = _account(url, "alice")
        bob, bob_email = _account(url, "bob")
        card = _bench_cards(alice, bob_email)
        async with _twin(alice) as ac, _twin(bob) as bc:
            trips = await python_round_trips(ac, bc, card(), rounds)
            rate = await sustained(ac, bc, card(), updates)
            fan_trips, fan_seconds = await fan_out(ac, bc, card(), receivers, rounds, fan_out_updates)
        alice.close()
        bob.close()
    return _figures(trips, rate, fan_trips, fan_out_updates * receivers / fan_seconds)


@contextlib.contextmanager
def _sandbox_process() -> Iterator[str]:
    """A sandbox in its own process (like the reference server), on a throw-away database."""
    with tempfile.TemporaryDirectory() as folder:
        config = SandboxConfig(db_path=str(Path(folder) / "bench.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            yield url


def _bench_cards(alice: Client, bob_email: str) -> Callable[..., str]:
    """A board shared with bob; returns a maker of its cards."""
    workspace = alice.create_workspace("Bench")
    alice.invite(workspace.id, bob_email, "member")
    board = alice.create_board(workspace.id, "Live")
    column = alice.create_column(board.id, "Doing")

    def card(description: str = "") -> str:
        return alice.create_card(column.id, "Bench", description, board_id=board.id).id

    return card


def _account(url: str, name: str) -> tuple[Client, str]:
    client = Client(url, pacer=Pacer.unlimited())
    email = f"{name}-{secrets.token_hex(4)}@example.test"
    client.register(email, PASSWORD)
    if not client.has_keys:
        client.login(email, PASSWORD)
    return client, email


def _twin(client: Client) -> AsyncClient:
    twin = AsyncClient(client.server, token=client.token, email=client.email, pacer=Pacer.unlimited())
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


async def node_round_trips(node: str, alice: AsyncClient, bob: Client, card_id: str, rounds: int) -> list[float]:
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


def compare(node: str, runs: int, rounds: int, updates: int, receivers: int, fan_out_updates: int) -> None:
    """Ours and the reference, alternating, `runs` times each; prints the medians side by side."""
    ours: list[dict[str, Any]] = []
    reference: list[dict[str, Any]] = []
    for _ in range(runs):
        reference.append(reference_run(node, rounds, updates, receivers, fan_out_updates))
        ours.append(asyncio.run(ours_run(rounds, updates, receivers, fan_out_updates)))
    print(
        f"relay side by side, medians of {runs} alternating runs ({rounds} round trips, {updates} streamed edits, "
        f"fan-out to {receivers}: {rounds} paced edits then {fan_out_updates} in a burst)"
    )
    print(f"  {'':22} {'ours (encrypted)':>17} {'y-websocket':>12}  goal")
    for name in ours[0]:
        mine = statistics.median(run[name] for run in ours)
        theirs = statistics.median(run[name] for run in reference)
        better = mine >= theirs if name.endswith("/s") else mine <= theirs
        goal = ("≥" if name.endswith("/s") else "≤") + (" met" if better else " NOT met") if "p50" not in name else ""
        print(f"  {name:22} {mine:17,.2f} {theirs:12,.2f}  {goal}")
    sys.stdout.flush()


async def main(node: str, rounds: int, typing: int) -> None:
    with _sandbox_process() as url:
        alice, _ = _account(url, "alice")
        bob, bob_email = _account(url, "bob")
        card = _bench_cards(alice, bob_email)
        async with _twin(alice) as ac, _twin(bob) as bc:
            nd = await node_round_trips(node, ac, bob, card(), rounds)
            big = "0123456789abcdef" * (100 * 1024 // 16)
            loaded, synced = await join_big(ac, bc, card(big), len(big))
        alice.close()
        bob.close()
    costs = apply_costs(typing_updates(typing))
    ms = 1000.0
    print(
        f"round trip Python↔Node through our relay ({rounds}): p50 {statistics.median(nd) * ms:.2f} ms, "
        f"p99 {_percentile(nd, 0.99) * ms:.2f} ms"
    )
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
    parser.add_argument("--receivers", type=int, default=50)
    parser.add_argument("--fan-out-updates", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each relay (medians)")
    args = parser.parse_args()
    node = node_or_exit()
    compare(node, args.repeat, args.rounds, args.updates, args.receivers, args.fan_out_updates)
    asyncio.run(main(node, args.rounds, args.typing))
