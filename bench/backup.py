"""Backup benchmark: the 2,000-card board of `bench/export.py` plus 20 attachments of 1 MB.

Run as `python bench/backup.py [--cards N] [--repeat R]`.  The sandbox runs in a child process
(limits lifted, a file database) so this process's memory is the client's alone.  Measured,
best of R runs, runs alternated so load from other processes falls on all alike:

* bare download: `GET /me/export` and every `GET /attachments/:id/content` streamed, one after
  the other, into one file written atomically, nothing else: the bytes any backup must fetch;
* backup: `create_backup` (the same bytes, through SHA-256 into a ZIP written atomically);
* peak memory (tracemalloc) of a backup of 20 × 1 MB and of 20 × 4 MB attachments (two small
  accounts that differ only in attachment size): constant if streaming works;
* verify with the account's keys (every envelope and every attachment stream, plus SHA-256 of
  every member), against the limits measured in the same run: opening the parsed document's
  envelopes (`decrypt_document`, the export's AEAD work with no I/O or hashing) plus
  decrypting every attachment stream from memory (secretstream alone).  With the password a
  verify adds the KDF once (a fixed cost the account sets), shown apart;
* verify without the password (SHA-256, CRC-32, parsing the document);
* restore of the backup into a second account on the same sandbox (once): requests and
  mutations per card, the time with the limits lifted, and the time the plan estimates at
  the profile's limit of 60 mutations per minute.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from export import EMAIL, PASSWORD, best, interleaved, seed

from mskclient import Client, Pacer
from mskclient._profile import RATE_LIMITS
from mskclient.backup import Restorer, create_backup, open_backup, verify_backup
from mskclient.backup._document import DocumentReader
from mskclient.client import Request, Response
from mskclient.crypto import decrypt_file
from mskclient.crypto.hazmat import uses_native
from mskclient.export import ExportParser, atomic_open, decrypt_document, keys_from_password
from mskclient.importers import estimate_seconds
from mskclient.sandbox import Sandbox, SandboxConfig

MB = 1 << 20


def _get(client: Client, route: str, sink: Callable[[bytes], Any]) -> None:
    def flow() -> Generator[Request, Response, None]:
        yield Request("GET", route, sink=sink)

    client.run(flow())


def attach(client: Client, card_id: str, count: int, size: int) -> list[str]:
    return [client.upload_attachment(card_id, io.BytesIO(os.urandom(size)), f"file-{i}.bin").id for i in range(count)]


def small_account(url: str, email: str, count: int, size: int) -> Client:
    client = Client(url, pacer=Pacer.unlimited())
    client.register(email, PASSWORD)
    board = client.create_board(client.create_workspace("Files").id, "Files")
    card = client.create_card(client.create_column(board.id, "Column").id, "Card with files")
    attach(client, card.id, count, size)
    return client


def peak_memory(run: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--attachments", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msk-bench-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        config = SandboxConfig(db_path=str(Path(tmp) / "bench.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            start = time.perf_counter()
            board_id = asyncio.run(seed(url, args.cards))
            with Client(url, pacer=Pacer.unlimited()) as client:
                client.login(EMAIL, PASSWORD)
                first_card = client.cards(board_id)[0].id
                attachment_ids = attach(client, first_card, args.attachments, MB)
                seeded = time.perf_counter() - start

                def download() -> int:
                    """The same bytes, one after the other into one file written atomically, as the backup."""
                    with atomic_open(out / "raw.bin") as handle:
                        _get(client, "/me/export", handle.write)
                        for attachment_id in attachment_ids:
                            _get(client, f"/attachments/{attachment_id}/content", handle.write)
                    return (out / "raw.bin").stat().st_size

                def backup() -> int:
                    return create_backup(client, out / "bench.mskbackup").size

                (download_times, fetched), (backup_times, stored) = interleaved(args.repeat, download, backup)
                archive = out / "bench.mskbackup"
                t_download, t_backup = min(download_times), min(backup_times)

                peak_main = peak_memory(backup)
                # the limits: the document's envelopes (parsed, in memory) and the streams (in memory)
                document = client.export_me()
                start = time.perf_counter()
                keys = keys_from_password(document, PASSWORD)
                t_kdf = time.perf_counter() - start
                result = decrypt_document(document, keys)
                files = {
                    a.id: a for b in result.boards for col in b.columns for card in col.cards for a in card.attachments
                }
                blobs = {}
                for attachment_id in attachment_ids:
                    blob = io.BytesIO()
                    _get(client, f"/attachments/{attachment_id}/content", blob.write)
                    blobs[attachment_id] = blob.getvalue()

                body = io.BytesIO()
                _get(client, "/me/export", body.write)
                text = body.getvalue()

                def aead() -> None:
                    decrypt_document(document, keys)

                def parse() -> None:
                    """Reading the document's JSON, which verify must do and the AEAD limit leaves out."""
                    parser = ExportParser(DocumentReader())
                    for start in range(0, len(text), MB):
                        parser.feed(text[start : start + MB])
                    parser.close()

                def streams() -> None:
                    with open(os.devnull, "wb") as sink:
                        for attachment_id, blob in blobs.items():
                            key = files[attachment_id].file_key
                            assert key is not None
                            decrypt_file(key, io.BytesIO(blob), sink)

                def verify() -> None:
                    report = verify_backup(archive, keys=keys)
                    assert report.ok and report.decrypted, report.problems

                def verify_hashes() -> None:
                    assert verify_backup(archive).ok

                runs = interleaved(args.repeat, aead, streams, verify, verify_hashes, parse)
                (aead_times, _), (stream_times, _), (verify_times, _), (hash_times, _), (parse_times, _) = runs
                t_aead, t_streams, t_parse = min(aead_times), min(stream_times), min(parse_times)
                t_verify, t_hashes = min(verify_times), min(hash_times)
                t_verify_password, _ = best(args.repeat, lambda: verify_backup(archive, lambda: PASSWORD))

            with Client(url, pacer=Pacer.unlimited()) as target, open_backup(archive) as opened:
                target.register("restored@example.org", PASSWORD)
                restorer = Restorer(target, opened, lambda: PASSWORD, journal_root=out / "journals", limit=None)
                start = time.perf_counter()
                restored = restorer.run()
                t_restore = time.perf_counter() - start
                mutations = sum(restored.totals().values())
                t_paced = estimate_seconds(mutations, RATE_LIMITS["mutation"], 0.9)

            small = small_account(url, "small@example.org", args.attachments, MB)
            large = small_account(url, "large@example.org", args.attachments, 4 * MB)
            with small, large:
                peak_small = peak_memory(lambda: create_backup(small, out / "small.mskbackup"))
                peak_large = peak_memory(lambda: create_backup(large, out / "large.mskbackup"))

    limit = t_aead + t_streams
    print(f"cards: {args.cards} (2 comments, 3 checklist items each); attachments: {args.attachments} x 1 MB; "
          f"seeded in {seeded:.1f} s")  # fmt: skip
    print(f"native batch decryption: {uses_native()}")
    print(f"bare download (export + attachments into one file): {t_download * 1000:.0f} ms, {fetched / 1e6:.1f} MB")
    print(f"backup: {t_backup * 1000:.0f} ms, {stored / 1e6:.1f} MB in the archive")
    print(
        f"ratio backup / bare download: {t_backup / t_download:.2f} (goal <= 1.10); medians "
        f"{statistics.median(backup_times) / statistics.median(download_times):.2f}"
    )
    print(
        f"peak Python memory of a backup: {args.attachments} x 1 MB {peak_small / 1e6:.1f} MB, "
        f"{args.attachments} x 4 MB {peak_large / 1e6:.1f} MB; the {args.cards}-card account {peak_main / 1e6:.1f} MB"
    )
    print(
        f"limits: document envelopes {t_aead * 1000:.0f} ms + attachment streams {t_streams * 1000:.0f} ms "
        f"({sum(len(b) for b in blobs.values()) / 1e6 / t_streams:.0f} MB/s) = {limit * 1000:.0f} ms"
    )
    print(
        f"verify with the keys (MSK_SESSION): {t_verify * 1000:.0f} ms, {stored / 1e6 / t_verify:.0f} MB/s; "
        f"ratio to the limits {t_verify / limit:.2f} (goal <= 1.50); medians "
        f"{statistics.median(verify_times) / (statistics.median(aead_times) + statistics.median(stream_times)):.2f}"
    )
    print(
        f"  parsing the document's JSON alone (no limit counts it): {t_parse * 1000:.0f} ms; "
        f"ratio to limits + parsing {t_verify / (limit + t_parse):.2f}"
    )
    print(f"verify with the password: {t_verify_password * 1000:.0f} ms (the KDF alone: {t_kdf * 1000:.0f} ms)")
    print(f"verify without the password (SHA-256, CRC-32, parse): {t_hashes * 1000:.0f} ms, "
          f"{stored / 1e6 / t_hashes:.0f} MB/s")  # fmt: skip
    print(
        f"restore into another account: {restored.requests} requests ({restored.requests / args.cards:.2f} per card), "
        f"{mutations} mutations ({mutations / args.cards:.2f} per card), {t_restore:.1f} s with the limits lifted; "
        f"at 60 mutations per minute about {t_paced / 3600:.1f} h"
    )


if __name__ == "__main__":
    main()
