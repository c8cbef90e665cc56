"""Sandbox throughput and relay fan-out latency.

Run: `python bench/sandbox.py [--seconds 5] [--concurrency 8] [--rounds 200] [--thread]`.

Starts a sandbox with rate limits lifted on a temporary database file (in a child process
by default, so server and load generator do not share a GIL), sets up a user, workspace,
board, column and cards over raw HTTP with the crypto core, then prints:
- requests/s for a read route (`GET /api/cards/:id`) and a mutation route
  (`PATCH /api/cards/:id` with a fresh encTitle, which also logs and publishes an event);
- relay fan-out latency p50/p99 for 2, 10 and 50 peers in one card room: the time from one
  peer's send until every other peer has received that frame (a sealed 64-byte message).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from mskclient._profile import field
from mskclient.crypto import (
    BoardKey,
    WorkspaceKey,
    check_login_init,
    create_account,
    derive_login_keys,
    encrypt_field,
    seal_relay_frame,
    seal_workspace_key,
    wrap_board_key,
)
from mskclient.sandbox import Sandbox, SandboxConfig

PEER_COUNTS = (2, 10, 50)
TIMEOUT = 30.0


@dataclass
class Setup:
    http: httpx.AsyncClient
    bk: BoardKey
    board: str
    cards: list[str]


async def call(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await http.request(method, "/api" + path, **kwargs)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json() if response.content else None


async def set_up(url: str, cards: int) -> Setup:
    """One account (KDF at the profile's cost), a workspace, a board, a column, `cards` cards."""
    http = httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=httpx.Limits(max_connections=64))
    email, password = f"bench-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    salt, params = check_login_init(await call(http, "POST", "/auth/login-init", json={"email": email}))
    keys = derive_login_keys(password, salt, params)
    account = create_account(keys.master_key)
    await call(http, "POST", "/auth/register", json={"email": email, "authHash": keys.auth_hash, **account.fields})
    await call(http, "POST", "/auth/login", json={"email": email, "authHash": keys.auth_hash})
    wk, bk = WorkspaceKey.generate(), BoardKey.generate()
    workspace = await call(
        http,
        "POST",
        "/workspaces",
        json={
            "encName": str(encrypt_field(wk, b"Bench", field("workspace", "encName"))),
            "encWorkspaceKey": str(seal_workspace_key(wk, account.keys.keypair.public)),
        },
    )
    board = await call(
        http,
        "POST",
        f"/workspaces/{workspace['id']}/boards",
        json={
            "encTitle": str(encrypt_field(bk, b"Bench", field("board", "encTitle"))),
            "encBoardKey": str(wrap_board_key(wk, bk)),
        },
    )
    column = await call(
        http,
        "POST",
        f"/boards/{board['id']}/columns",
        json={"encTitle": str(encrypt_field(bk, b"Todo", field("column", "encTitle")))},
    )
    card_ids = []
    for n in range(cards):
        title = encrypt_field(bk, f"Card {n}".encode(), field("card", "encTitle"))
        card = await call(http, "POST", f"/columns/{column['id']}/cards", json={"encTitle": str(title)})
        card_ids.append(card["id"])
    return Setup(http, bk, board["id"], card_ids)


async def throughput(setup: Setup, seconds: float, concurrency: int, *, mutate: bool) -> tuple[float, float]:
    """(requests/s, p50 latency ms) of `concurrency` workers looping on one route for `seconds`."""
    titles = [str(encrypt_field(setup.bk, b"renamed", field("card", "encTitle"))) for _ in range(16)]
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        card = setup.cards[index % len(setup.cards)]
        n = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            if mutate:
                await call(setup.http, "PATCH", f"/cards/{card}", json={"encTitle": titles[n % len(titles)]})
            else:
                await call(setup.http, "GET", f"/cards/{card}")
            latencies.append(time.perf_counter() - started)
            n += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, statistics.median(latencies) * 1000


async def fan_out(url: str, setup: Setup, peers: int, rounds: int) -> tuple[float, float]:
    """(p50 ms, p99 ms) of send → received by all other peers, over `rounds` frames."""
    room = f"card:{setup.cards[0]}"
    ws_base = url.replace("http://", "ws://") + "/api/ws?t="
    sockets: list[ClientConnection] = []
    for _ in range(peers):
        ticket = (await call(setup.http, "POST", "/auth/ws-ticket", json={"room": room}))["ticket"]
        sockets.append(await connect(ws_base + ticket, open_timeout=TIMEOUT, max_size=None))
    frames = [seal_relay_frame(setup.bk, room, secrets.token_bytes(64)) for _ in range(rounds)]
    index = {frame: n for n, frame in enumerate(frames)}
    arrivals = [0] * rounds
    done = [asyncio.Event() for _ in range(rounds)]
    finished_at = [0.0] * rounds

    async def reader(ws: ClientConnection) -> None:
        async for frame in ws:
            assert isinstance(frame, bytes)
            n = index[frame]
            arrivals[n] += 1
            if arrivals[n] == peers - 1:
                finished_at[n] = time.perf_counter()
                done[n].set()

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    latencies = []
    try:
        for n, frame in enumerate(frames):
            started = time.perf_counter()
            await sockets[n % peers].send(frame)
            async with asyncio.timeout(TIMEOUT):
                await done[n].wait()
            latencies.append(finished_at[n] - started)
    finally:
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    cuts = statistics.quantiles(latencies, n=100)
    return statistics.median(latencies) * 1000, cuts[98] * 1000


async def run(url: str, args: argparse.Namespace) -> None:
    setup = await set_up(url, cards=args.concurrency)
    try:
        print(f"sandbox {url}  ({'thread' if args.thread else 'child process'}, limits lifted, WAL file database)")
        for label, mutate in (("read     GET   /api/cards/:id", False), ("mutation PATCH /api/cards/:id", True)):
            rate, p50 = await throughput(setup, args.seconds, args.concurrency, mutate=mutate)
            print(f"{label}: {rate:8.0f} req/s  (p50 {p50:.1f} ms, {args.concurrency} concurrent, {args.seconds:g} s)")
        for peers in PEER_COUNTS:
            p50, p99 = await fan_out(url, setup, peers, args.rounds)
            print(f"relay fan-out {peers:2d} peers: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({args.rounds} frames)")
    finally:
        await setup.http.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent HTTP workers")
    parser.add_argument("--rounds", type=int, default=200, help="frames per fan-out measurement")
    parser.add_argument("--thread", action="store_true", help="run the sandbox in a thread of this process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = SandboxConfig(db_path=str(Path(tmp) / "bench.db")).lift_limits()
        with Sandbox(config, process=not args.thread) as url:
            asyncio.run(run(url, args))


if __name__ == "__main__":
    main()
