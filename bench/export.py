"""Export benchmark: a 2,000-card board, decrypted JSON export.

Run as `python bench/export.py [--cards N] [--repeat R]`.  The sandbox runs in a child process
(limits lifted, a file database) so this process's memory is the client's alone.  Each card has
2 comments and a 3-item checklist.  Measured here, best of R runs each:

* fetch: the same data read without decrypting (`GET /me/export`, parsed and written as JSON);
* download: the bare bytes of `GET /me/export` streamed to a file (no parsing at all), the
  strictest reference: what any client, encrypted or not, must wait for;
* export: `msk export BOARD --format json` work (read, decrypt every field, Yjs → Markdown,
  write the decrypted JSON atomically), the number of requests, and the decryption share.
  The export decrypts the body while it downloads, so most of its work overlaps the server's
  sending; the client's whole work on the body (parse + decrypt, no network) is shown apart.
  Fetch, download and export runs alternate, so load from other processes falls on all alike;
* peak memory: tracemalloc peak of one export (Python allocations), per card too; the resident
  memory (RSS) one export adds, measured in a child process that only logs in and exports (its
  peak is reset after the login, whose Argon2id alone takes 64 MiB); ru_maxrss of this process;
* per-card reads for comparison (what the exporter avoids by choosing one bulk read).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mskclient import AsyncClient, Client, Pacer
from mskclient.crypto import AccountKeys
from mskclient.crypto.hazmat import uses_native
from mskclient.export import (
    ExportDecryptor,
    ExportParser,
    atomic_open,
    atomic_write_text,
    decrypt_document,
    export_online,
    write_export,
)
from mskclient.sandbox import Sandbox, SandboxConfig

PASSWORD = "bench password ✓"
EMAIL = "bench@example.org"
BOARD = "2000 cards"


async def seed(url: str, cards: int) -> str:
    """Register, then build the board through the real API (concurrent writes); returns its id."""
    async with AsyncClient(url, pacer=Pacer.unlimited()) as client:
        await client.register(EMAIL, PASSWORD)
        ws = await client.create_workspace("Bench")
        board = await client.create_board(ws.id, BOARD, "A board for the export benchmark.")
        await client.create_board(ws.id, "Another board")
        columns = [await client.create_column(board.id, f"Column {i}") for i in range(5)]

        async def one(i: int) -> None:
            card = await client.create_card(
                columns[i % 5].id, f"Card {i} — ünïcödé", f"## Card {i}\n\nSome *Markdown* text.\n", board_id=board.id
            )
            await client.add_comment(card.id, f"First comment on {i}")
            await client.add_comment(card.id, f"Second comment on {i} 👍")
            checklist = await client.add_checklist(card.id, "Steps")
            for j in range(3):
                await client.add_item(checklist.id, f"Step {j}", done=j == 0, board_id=board.id)

        await client.gather(one(i) for i in range(cards))
        return board.id


def _parse_and_decrypt(body: bytes, keys: AccountKeys, board_id: str) -> None:
    decryptor = ExportDecryptor(keys, boards=[board_id])
    parser = ExportParser(decryptor)
    for start in range(0, len(body), 65536):
        parser.feed(body[start : start + 65536])
    parser.close()
    decryptor.result()


def _status_kib(name: str) -> int:
    """A `VmRSS`/`VmHWM` line of /proc/self/status, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise LookupError(name)


def rss_child(url: str, board_id: str, out: Path) -> None:
    """In a fresh process: log in, reset the resident peak, export once; print RSS before and peak after."""
    with Client(url, pacer=Pacer.unlimited()) as client:
        client.login(EMAIL, PASSWORD)
        client.board_key(board_id)
        before = _status_kib("VmRSS")
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: the login's Argon2id peak is not the export's
        write_export(export_online(client, boards=[board_id], strategy="export").result, "json", out)
        print(before, _status_kib("VmHWM"))


def export_rss(url: str, board_id: str, out: Path) -> tuple[float, float]:
    """(RSS before, peak RSS during) one export in a child process, in MB; (0, 0) without /proc."""
    if not Path("/proc/self/status").exists():
        return 0.0, 0.0
    command = [sys.executable, __file__, "--rss-child", url, board_id, str(out)]
    before, peak = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
    return int(before) * 1024 / 1e6, int(peak) * 1024 / 1e6


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def interleaved(repeat: int, *runs: Callable[[], Any]) -> list[tuple[list[float], Any]]:
    """Times of each run, alternating them so a busy moment of a shared machine hits all alike."""
    out: list[tuple[list[float], Any]] = [([], None) for _ in runs]
    for _ in range(repeat):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            result = run()
            out[index] = ([*out[index][0], time.perf_counter() - start], result)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--db", type=Path, help="keep the seeded sandbox database in this file; a later run with it skips seeding"
    )
    parser.add_argument("--rss-child", nargs=3, metavar=("URL", "BOARD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        url, board, child_out = args.rss_child
        rss_child(url, board, Path(child_out))
        return
    with tempfile.TemporaryDirectory(prefix="msk-bench-") as tmp:
        out = Path(tmp) / "out"
        db = args.db or Path(tmp) / "bench.db"
        reuse = db.exists()
        config = SandboxConfig(db_path=str(db)).lift_limits()
        with Sandbox(config, process=True) as url:
            start = time.perf_counter()
            board_id = "" if reuse else asyncio.run(seed(url, args.cards))
            seeded = time.perf_counter() - start
            with Client(url, pacer=Pacer.unlimited()) as client:
                client.login(EMAIL, PASSWORD)
                if reuse:
                    board_id = next(b.id for w in client.workspaces() for b in client.boards(w.id) if b.title == BOARD)
                client.board_key(board_id)  # warm the key cache: both paths then start equal

                def fetch() -> int:
                    document = client.export_me()
                    atomic_write_text(out / "raw.json", json.dumps(document, ensure_ascii=False))
                    return len(document["workspaces"][0]["boards"][0]["cards"])

                def download() -> int:
                    with atomic_open(out / "raw.bin") as handle:
                        client.stream_export(handle.write)
                    return (out / "raw.bin").stat().st_size

                def export(via: str = "export") -> tuple[int, int]:
                    online = export_online(client, boards=[board_id], strategy=via)
                    assert online.strategy == "export" and not online.result.failures
                    write_export(online.result, "json", out)
                    return online.requests, sum(len(c.cards) for c in online.result.boards[0].columns)

                runs = interleaved(args.repeat, fetch, download, export)
                (fetch_times, fetched), (download_times, body_size), (export_times, (requests, exported)) = runs
                t_fetch, t_download, t_export = min(fetch_times), min(download_times), min(export_times)
                ratios = sorted(e / f for f, e in zip(fetch_times, export_times, strict=True))
                document = client.export_me()
                keys = client.keys
                t_decrypt, _ = best(args.repeat, lambda: decrypt_document(document, keys, boards=[board_id]))
                body = (out / "raw.bin").read_bytes()
                t_client, _ = best(args.repeat, lambda: _parse_and_decrypt(body, keys, board_id))
                t_auto, (auto_requests, _) = best(args.repeat, lambda: export("auto"))
                tracemalloc.start()
                export()
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                rss_before, rss_peak = export_rss(url, board_id, out / "child")
                before = client.requests
                t_cards, _ = best(1, lambda: export_online(client, boards=[board_id], strategy="cards"))
                card_requests = client.requests - before
            size = (out / "export.json").stat().st_size
    assert fetched == exported == args.cards
    seeding = f"{args.db} reused" if reuse else f"seeded in {seeded:.1f} s"
    print(f"cards: {args.cards} (2 comments, 3 checklist items each); {seeding}")
    print(f"native batch decryption: {uses_native()}")
    print(f"fetch without decrypting (GET /me/export + JSON write): {t_fetch * 1000:.0f} ms")
    print(f"bare download of the same body to a file: {t_download * 1000:.0f} ms, {body_size / 1e6:.1f} MB")
    print(f"decrypted JSON export: {t_export * 1000:.0f} ms, {requests} requests, {size / 1e6:.1f} MB written")
    print(f"  decrypting the parsed board (batch open + Yjs → Markdown): {t_decrypt * 1000:.0f} ms")
    print(f"  the client's whole work on the body, no network (parse + decrypt): {t_client * 1000:.0f} ms")
    print(f"ratio export / fetch: {t_export / t_fetch:.2f} (decryption adds {100 * (t_export / t_fetch - 1):.0f} %)")
    print(f"ratio export / bare download: {t_export / t_download:.2f}")
    print(
        f"  runs alternated; median fetch {statistics.median(fetch_times) * 1000:.0f} ms, median export "
        f"{statistics.median(export_times) * 1000:.0f} ms; ratio of each pair {ratios[0]:.2f}..{ratios[-1]:.2f} "
        f"(median {statistics.median(ratios):.2f})"
    )
    print(
        f"peak Python memory during an export (tracemalloc): {peak / 1e6:.1f} MB, "
        f"{peak / args.cards / 1e3:.2f} KB per card"
    )
    print(
        f"RSS of a process that only logs in and exports: {rss_before:.0f} MB logged in, "
        f"{rss_peak:.0f} MB at the export's peak (+{rss_peak - rss_before:.0f} MB)"
    )
    print(f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(
        f"`msk export BOARD` (auto: resolve names, choose, read, decrypt, write): {t_auto * 1000:.0f} ms, "
        f"{auto_requests} requests"
    )
    print(f"per-card reads instead: {t_cards * 1000:.0f} ms, {card_requests} requests")


if __name__ == "__main__":
    main()
