"""Import benchmark: Nextcloud Deck, Kaiten and Codecks fixtures into the sandbox, through `mskclient.importers`.

Run as `python bench/import.py [--cards N] [--files F] [--paced-cards P] [--paced-limit L]
[--sources deck,kaiten,codecks]`.
The sandbox and each fixture source server (the ones the tests use) run in a child process,
so this process's CPU and memory are the importer's alone.

* **Unlimited**: N cards (default 1,000), each with 2 comments, a 3-item task list in its
  description (→ a checklist) and a label; F of them (default 20) with a 1 MB attachment. The
  sandbox's limits are lifted and the importer paces nothing. Reported: cards per second,
  MSKanban and Deck requests per card, the time split between reading the source and writing
  (the writes include sealing), the client's CPU share of the wall time (goal: under 20 %: the
  import is bound by requests, not by the client) with the time the importer itself waited
  in it (a wait is wall time spent on neither), and an estimate of the crypto share (the
  dry run's plan, made to compare its counts with the run's, is timed apart: `msk import`
  without --dry-run does not make it; the run plans what is left itself, and that counts). Then
  the floor of that share on this sandbox: comment creates sent bare (one prebuilt request
  on a socket, llhttp parsing the answer, nothing sealed, decoded or checked), without and
  with an fsynced journal append before each (what one fsync per create would cost; the
  importer's write-ahead shares one among a round of up to 64 creates), and the same creates
  made with `Client.add_comment` (the client alone, none of the importer).  Last (for every
  source), the import and those creates again with the client's transport swapped for the
  cheapest exchange Python can make (`CheapestExchange`: unsafe, a measurement only), to tell
  what the transport's deadline, bounds and pool cost from what the rest of the client costs.
* **Memory**: the tracemalloc peak of importing one card with a 1 MB attachment and one with a
  16 MB attachment: attachments are streamed, so the peak must not grow with the file size.
* **Kaiten**: the same N cards and F files on the fixture Kaiten (the tests' server: each card
  with 2 comments, a 3-item checklist, a tag, a lane, a type and a size, so 1 listing page per
  100 cards, `GET /cards/{id}` and its comments), limits lifted on both sides (the reader's
  5-per-second pacing off): the same figures, then the memory peak with 1 MB and 16 MB files.
* **Codecks**: the same N cards (with 2 comments in one conversation, a tag, a priority and an
  effort each; F with a 1 MB file) in one deck, read through the query endpoint (a page of 200
  cards per query) with the source's limit lifted, then once more paced under Codecks' 40
  requests per 5 seconds (only the read: its time and the 429s met); the memory peak as above.
* **Paced**: P cards (default 50) into a sandbox (in this process) limited to L mutations per
  minute (default 300); the measured time is compared with the plan's estimate (goal: within
  10 %), and the 429 answers met are counted (goal: none).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mskclient import Client, Pacer
from mskclient._profile import API_PREFIX, SESSION_COOKIE
from mskclient.client import DeadlineTransport
from mskclient.client._deadline import Received  # what the driver reads whole: the measurement swaps its maker
from mskclient.crypto import BoardKey, FileKey, encrypt_file
from mskclient.crypto.hazmat import encrypt_with_ad
from mskclient.importers import CodecksSource, DeckSource, Importer, KaitenSource, Source
from mskclient.sandbox import Sandbox, SandboxConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from importers._codecks_server import CodecksData, CxCard, CxDeck, CxEntry, CxFile, CxProject, CxTag, CxThread, CxUser
from importers._codecks_server import create_app as create_codecks_app
from importers._codecks_server import create_files_app as create_codecks_files_app
from importers._deck_server import (
    DeckAttachment,
    DeckBoard,
    DeckCard,
    DeckComment,
    DeckData,
    DeckLabel,
    DeckStack,
    DeckUser,
    create_app,
)
from importers._kaiten_server import (
    KaitenData,
    KBoard,
    KChecklist,
    KColumn,
    KComment,
    KFile,
    KItem,
    KLane,
    KSpace,
    KTag,
    KUser,
)
from importers._kaiten_server import KCard as KaitenCard
from importers._kaiten_server import create_app as create_kaiten_app

PASSWORD = "bench password ✓"
APP_PASSWORD = "bench-app-password"
MB = 1024 * 1024


def deck_data(cards: int, files: int, file_size: int = MB) -> DeckData:
    users = {"ana": DeckUser("ana", "Ana Lima", "ana@bench.test")}
    labels = [DeckLabel(1, "Bug", "FF7A66"), DeckLabel(2, "Feature", "317CCC")]
    stacks = [DeckStack(100 + s, f"Stack {s}", s) for s in range(5)]
    every = max(1, cards // files) if files else 0
    for i in range(cards):
        description = f"## Card {i}\n\nSome *Markdown* text.\n\n- [x] step one\n- [ ] step two\n- [ ] step three"
        comments = [
            DeckComment(10 * i + j, "ana", f"Comment {j} on card {i} 👍", 1_700_000_000 + 10 * i + j) for j in (1, 2)
        ]
        attachments = []
        if files and i % every == 0 and i // every < files:
            content = (bytes(range(256)) * (file_size // 256 + 1))[:file_size]
            attachments.append(DeckAttachment(i + 1, f"file-{i}.bin", content))
        card = DeckCard(1000 + i, f"Card {i} — ünïcödé", i, description, labels=[1 + i % 2], comments=comments,
                        attachments=attachments)  # fmt: skip
        stacks[i % 5].cards.append(card)
    return DeckData("ana", APP_PASSWORD, users, [DeckBoard(1, "Bench board", labels=labels, stacks=stacks)])


FixtureApps = tuple[list[Any], Callable[[list[str]], None]]


def _deck_apps(cards: int, files: int, file_size: int) -> FixtureApps:
    return [create_app(deck_data(cards, files, file_size))], _told


def _told(urls: list[str]) -> None:
    """A fixture that needs none of its servers' URLs."""


def _serve(build: Callable[[int, int, int], FixtureApps], cards: int, files: int, file_size: int,
           port_queue: Any) -> None:  # fmt: skip
    """Serve the apps `build` makes (each on a free port); tell it their URLs, and the parent the last one's port."""
    import asyncio

    import uvicorn

    apps, listening = build(cards, files, file_size)

    async def run() -> None:
        servers = []
        for app in apps:
            server = uvicorn.Server(uvicorn.Config(app, port=0, log_level="error"))
            config = server.config
            if not config.loaded:
                config.load()
            server.lifespan = config.lifespan_class(config)
            await server.startup()
            servers.append(server)
        ports = [server.servers[0].sockets[0].getsockname()[1] for server in servers]
        listening([f"http://127.0.0.1:{port}" for port in ports])
        port_queue.put(ports[-1])
        await asyncio.gather(*(server.main_loop() for server in servers))

    asyncio.run(run())


class FixtureProcess:
    """A fixture source server (the apps `build` makes) in a child process; its URL while entered."""

    def __init__(self, build: Callable[[int, int, int], FixtureApps], cards: int, files: int,
                 file_size: int = MB) -> None:  # fmt: skip
        context = multiprocessing.get_context("spawn")
        self._queue = context.Queue()
        self._child = context.Process(target=_serve, args=(build, cards, files, file_size, self._queue), daemon=True)

    def __enter__(self) -> str:
        self._child.start()
        return f"http://127.0.0.1:{self._queue.get(timeout=120)}"

    def __exit__(self, *exc: object) -> None:
        self._child.terminate()
        self._child.join(10)


def account(url: str) -> tuple[Client, str]:
    client = Client(url, pacer=Pacer.unlimited())
    client.register(f"bench-{time.time_ns()}@bench.test", PASSWORD)
    return client, client.create_workspace("Bench").id


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def crypto_seconds(envelopes: int, attachment_bytes: int) -> float:
    """What sealing `envelopes` short fields and encrypting `attachment_bytes` costs on this machine."""
    key = BoardKey.generate()
    started = time.process_time()
    for i in range(2000):
        str(encrypt_with_ad(key, f"Comment {i} on a card 👍".encode(), b"card:encTitle"))
    per_field = (time.process_time() - started) / 2000
    data = io.BytesIO(os.urandom(4 * MB))
    started = time.process_time()
    encrypt_file(FileKey.generate(), data, io.BytesIO())
    per_byte = (time.process_time() - started) / (4 * MB)
    return envelopes * per_field + attachment_bytes * per_byte


def bare_exchanges(url: str, client: Client, workspace_id: str, count: int, *, journal: Path | None) -> float:
    """The CPU share of wall time of `count` comment creates sent bare: one prebuilt request
    written to a socket, the answer parsed by llhttp and nothing else (no sealing, JSON, models
    or checks); with `journal`, each preceded by an fsynced append there, as a write-ahead with
    one fsync per create would do.  What no client of this sandbox can go below, for the goal's
    reading."""
    import httptools

    board = client.create_board(workspace_id, "Floor")
    card = client.create_card(client.create_column(board.id, "Floor").id, "Floor")
    client.add_comment(card.id, "a comment")
    (listed,) = client.get_json(f"/cards/{card.id}/comments")
    body = json.dumps({"encBody": listed["encBody"]}).encode()
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST {API_PREFIX}/cards/{card.id}/comments HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Cookie: {SESSION_COOKIE}={client.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
    request = head.encode() + body
    log = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if journal is not None else None

    class Answer:
        complete = False

        def on_message_complete(self) -> None:
            self.complete = True

    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wall, cpu_start = time.perf_counter(), cpu()
        for i in range(count):
            if log is not None:
                os.write(log, b'{"k":"comment:%d","t":"comment","d":"0123456789abcdef"}\n' % i)
                os.fsync(log)
            sock.sendall(request)
            answer = Answer()
            parser = httptools.HttpResponseParser(answer)
            while not answer.complete:
                parser.feed_data(sock.recv(65536))
            if parser.get_status_code() != 201:
                raise SystemExit(f"bare exchange answered {parser.get_status_code()}")
        share = (cpu() - cpu_start) / (time.perf_counter() - wall)
    if log is not None:
        os.close(log)
    return share


def plain_creates(client: Client, workspace_id: str, count: int) -> float:
    """The CPU share of wall time of `count` comments added with `Client.add_comment`: the
    client alone (sealing, the exchange, the answer checked and opened), none of the importer."""
    board = client.create_board(workspace_id, "Plain")
    card = client.create_card(client.create_column(board.id, "Plain").id, "Plain", board_id=board.id)
    wall, cpu_start = time.perf_counter(), cpu()
    for i in range(count):
        client.add_comment(card.id, f"Comment {i} on a card 👍")
    return (cpu() - cpu_start) / (time.perf_counter() - wall)


_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class _SplitHeaders(dict[str, str]):
    def get_list(self, name: str) -> list[str]:
        value = self.get(name)
        return [] if value is None else [value]


class _Whole(Received):
    """An answer read whole, as the driver takes it from `Received.whole`."""

    __slots__ = ("_body",)

    def __init__(self, status: int, headers: _SplitHeaders, body: bytes) -> None:
        self.status_code, self.headers, self.raw_headers, self._body = status, headers, [], body

    def whole(self) -> bytes | None:
        return self._body

    def close(self) -> None:
        pass


class CheapestExchange(DeadlineTransport):
    """The cheapest exchange a Python client can make: one blocking socket per origin, the
    request's head formatted in one go, the answer split with bytes methods.  No deadline, no
    bound on the head or body, no pool or stale-connection check, no chunked or compressed
    answers, no check of what goes into the head: unsafe against any server, and here only to
    measure how much of the client's CPU share the transport's safety costs (what is left is
    sealing, JSON, the checks, the models, the journal and the flows)."""

    def __init__(self) -> None:
        super().__init__()
        self._sockets: dict[tuple[str, int], Any] = {}

    def exchange(self, method: str, base_url: str, path: str, *, params: Any = None, headers: Any,
                 json_body: Any = None, timeouts: Any, until: float | None = None) -> Received:  # fmt: skip
        (_, host, port), netloc, prefix = self._origin(base_url)
        sock = self._sockets.get((host, port))
        if sock is None:
            sock = self._sockets[(host, port)] = socket.create_connection((host, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = b"" if json_body is None else _COMPACT_JSON.encode(json_body).encode()
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        target = f"{prefix}{path}?{urlencode(params)}" if params else f"{prefix}{path}"
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: {netloc}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n{lines}\r\n".encode() + body)  # fmt: skip
        data = sock.recv(65536)
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        answer_headers = _SplitHeaders()
        for line in header_lines:
            name, _, value = line.partition(":")
            answer_headers[name.lower()] = value.strip()
        while len(rest) < int(answer_headers.get("content-length", "0")):
            rest += sock.recv(65536)
        return _Whole(int(status_line.split(" ", 2)[1]), answer_headers, rest)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        super().close()


def cheapest_shares(url: str, open_source: Callable[[], Source], journal_root: Path) -> tuple[float, float]:
    """The client's CPU share of the wall time of reading and importing every board of the
    source, then of 2,000 `Client.add_comment` calls, both with `CheapestExchange`."""
    client, workspace_id = account(url)
    client._bounded = client._transport = CheapestExchange()  # a measurement's swap, not an option
    with client, open_source() as source:
        wall, cpu_start = time.perf_counter(), cpu()
        boards = [source.read_board(ref) for ref in source.boards()]
        Importer(client, workspace_id, journal_root=journal_root, limit=None).run(source, boards)
        share = (cpu() - cpu_start) / (time.perf_counter() - wall)
        return share, plain_creates(client, workspace_id, 2000)


def print_cheapest(shares: tuple[float, float]) -> None:
    print(f"  with CheapestExchange (no deadline, bounds or pool; unsafe): the same import {100 * shares[0]:.0f} %, "
          f"Client.add_comment alone {100 * shares[1]:.0f} %")  # fmt: skip


def unlimited(cards: int, files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, FixtureProcess(_deck_apps, cards, files) as deck_url:
        config = SandboxConfig(db_path=str(Path(tmp) / "sandbox.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            client, workspace_id = account(url)
            with client, DeckSource(deck_url, "ana", APP_PASSWORD) as source:
                report("deck", source, client, workspace_id, Path(tmp), cards, files)
                bare = bare_exchanges(url, client, workspace_id, 2000, journal=None)
                journaled = bare_exchanges(url, client, workspace_id, 2000, journal=Path(tmp) / "floor.jsonl")
                plain = plain_creates(client, workspace_id, 2000)
            print(f"  floor on this sandbox: bare creates (a socket and llhttp, nothing else) {100 * bare:.0f} % "
                  f"CPU of their wall time; with an fsync before each {100 * journaled:.0f} %; "
                  f"Client.add_comment alone (no importer) {100 * plain:.0f} %")  # fmt: skip
            deck = functools.partial(DeckSource, deck_url, "ana", APP_PASSWORD)
            print_cheapest(cheapest_shares(url, deck, Path(tmp) / "cheap"))


def memory(size_mb: int) -> int:
    """tracemalloc peak (bytes) of importing one card with a `size_mb` MB attachment."""
    with tempfile.TemporaryDirectory() as tmp, FixtureProcess(_deck_apps, 1, 1, size_mb * MB) as deck_url:
        config = SandboxConfig(db_path=str(Path(tmp) / "sandbox.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            client, workspace_id = account(url)
            with client, DeckSource(deck_url, "ana", APP_PASSWORD) as source:
                boards = [source.read_board(ref) for ref in source.boards()]
                importer = Importer(client, workspace_id, journal_root=Path(tmp) / "journals", limit=None)
                tracemalloc.start()
                importer.run(source, boards)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    return peak


def paced(cards: int, limit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, FixtureProcess(_deck_apps, cards, 0) as deck_url:
        # in this process: a sandbox process knows only the default limits or none; only wall time is measured here
        config = SandboxConfig(db_path=str(Path(tmp) / "sandbox.db"), rate_limits={"mutation": (limit, 60)})
        with Sandbox(config) as url:
            client, workspace_id = account(url)  # one mutation of the window: the importer keeps 10 % spare
            retries: list[float] = []
            client.pacer.on_wait = lambda seconds, reason: retries.append(seconds)
            with client, DeckSource(deck_url, "ana", APP_PASSWORD) as source:
                boards = [source.read_board(ref) for ref in source.boards()]
                importer = Importer(client, workspace_id, journal_root=Path(tmp) / "journals", limit=(limit, 60))
                plan = importer.plan(source, boards)
                started = time.perf_counter()
                importer.run(source, boards)
                measured = time.perf_counter() - started
            off = 100 * (measured - plan.estimated_seconds) / plan.estimated_seconds
            print(f"paced: {cards} cards, {plan.mutations} mutations at {limit} per minute: "
                  f"measured {measured:.1f} s, plan {plan.estimated_seconds:.1f} s ({off:+.1f} %; goal within 10 %), "
                  f"429 answers {len(retries)}")  # fmt: skip


KAITEN_TOKEN = "bench-kaiten-token"


def kaiten_data(cards: int, files: int, file_size: int = MB) -> KaitenData:
    users = {1: KUser(1, "uid-ana", "Ana Lima", "ana@bench.test")}
    columns = [KColumn(100 + c, f"Column {c}", c) for c in range(5)]
    lanes = [KLane(200, "Normal", 1), KLane(201, "Expedite", 0)]
    every = max(1, cards // files) if files else 0
    board = KBoard(1, "Bench board", "A *bench* board", columns, lanes)
    for i in range(cards):
        comments = [KComment(10 * i + j, 1, f"Comment {j} on card {i} 👍", 1_700_000_000 + 10 * i + j) for j in (1, 2)]
        items = [KItem(30 * i + k, f"step {k}", k == 0, k) for k in range(3)]
        card_files = []
        if files and i % every == 0 and i // every < files:
            content = (bytes(range(256)) * (file_size // 256 + 1))[:file_size]
            card_files.append(KFile(i + 1, f"file-{i}.bin", content))
        card = KaitenCard(1000 + i, f"Card {i} — ünïcödé", 100 + i % 5, 200 + i % 2, i,
                          description=f"## Card {i}\n\nSome *Markdown* text.", size=1 + i % 8, tags=[1 + i % 2],
                          members=[(1, 2)], checklists=[KChecklist(i + 1, "Steps", items)], comments=comments,
                          files=card_files)  # fmt: skip
        board.cards.append(card)
    tags = {1: KTag(1, "Bug", 1), 2: KTag(2, "Feature", 6)}
    return KaitenData(KAITEN_TOKEN, users, [KSpace(1, "Bench", [board])], tags, {1: "Card"}, {})


def _kaiten_apps(cards: int, files: int, file_size: int) -> FixtureApps:
    return [create_kaiten_app(kaiten_data(cards, files, file_size))], _told


def kaiten_source(url: str) -> KaitenSource:
    return KaitenSource(url, KAITEN_TOKEN, rate_limit=None)  # limits lifted: the fixture has none either


def unlimited_kaiten(cards: int, files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, FixtureProcess(_kaiten_apps, cards, files) as kaiten_url:
        config = SandboxConfig(db_path=str(Path(tmp) / "sandbox.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            client, workspace_id = account(url)
            with client, kaiten_source(kaiten_url) as source:
                report("kaiten", source, client, workspace_id, Path(tmp), cards, files)
            print_cheapest(cheapest_shares(url, functools.partial(kaiten_source, kaiten_url), Path(tmp) / "cheap"))


def report(name: str, source: Source, client: Client, workspace_id: str, tmp: Path, cards: int, files: int) -> None:
    """Read every board, import it, and print the figures (the same for every source)."""
    wall, cpu_start = time.perf_counter(), cpu()
    boards = [source.read_board(ref) for ref in source.boards()]
    read_wall, read_cpu = time.perf_counter() - wall, cpu() - cpu_start
    read_requests = source.requests
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the importer's own waits (creation order, backoff), counted
        slept.append(seconds)
        time.sleep(seconds)

    importer = Importer(client, workspace_id, journal_root=tmp / "journals", limit=None, sleep=sleep)
    # the dry run's plan, only to compare its counts with the run's: `msk import` without
    # --dry-run reads and runs (the run plans what is left itself), so it is timed apart
    plan_start = time.perf_counter()
    plan = importer.plan(source, boards)
    plan_wall = time.perf_counter() - plan_start
    requests_before = client.requests
    write_start, write_cpu_start = time.perf_counter(), cpu()
    summary = importer.run(source, boards)
    write_wall, write_cpu = time.perf_counter() - write_start, cpu() - write_cpu_start
    total_wall, total_cpu = read_wall + write_wall, read_cpu + write_cpu
    assert summary.totals() == plan.totals(), (summary.totals(), plan.totals())
    created = summary.totals()
    envelopes = sum(created[k] for k in ("card", "comment", "checklist", "checklist_item", "note", "attachment"))
    crypto = crypto_seconds(envelopes * 2, plan.boards[0].attachment_bytes)
    print(f"{name} unlimited: {cards} cards, {files} × 1 MB attachments, {plan.mutations} mutations")
    print(f"  total {total_wall:.1f} s: {cards / total_wall:.1f} cards/s")
    print(f"  read the source {read_wall:.1f} s ({read_requests} {source.name} requests, "
          f"{read_requests / cards:.2f} per card; {source.requests} with the file downloads, "
          f"{source.requests / cards:.2f} per card)")  # fmt: skip
    writes = client.requests - requests_before
    print(f"  write {write_wall:.1f} s ({writes} MSKanban requests, {writes / cards:.2f} per card; "
          f"{cards / write_wall:.1f} cards/s)")  # fmt: skip
    print(f"  client CPU {total_cpu:.1f} s = {100 * total_cpu / total_wall:.0f} % of wall time "
          f"(read {read_cpu:.1f} s, write {write_cpu:.1f} s; goal < 20 %); the importer waited "
          f"{sum(slept):.2f} s of it ({len(slept)} waits)")  # fmt: skip
    print(f"  (the dry run's plan, made to compare its counts: {plan_wall:.2f} s, not counted above)")
    print(f"  crypto (estimated from this machine's sealing speed) {crypto:.2f} s "
          f"= {100 * crypto / total_wall:.1f} % of wall time")  # fmt: skip


def memory_kaiten(size_mb: int) -> int:
    """tracemalloc peak (bytes) of importing one Kaiten card with a `size_mb` MB file."""
    with tempfile.TemporaryDirectory() as tmp, FixtureProcess(_kaiten_apps, 1, 1, size_mb * MB) as kaiten_url:
        config = SandboxConfig(db_path=str(Path(tmp) / "sandbox.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            client, workspace_id = account(url)
            with client, kaiten_source(kaiten_url) as source:
                boards = [source.read_board(ref) for ref in source.boards()]
                importer = Importer(client, workspace_id, journal_root=Path(tmp) / "journals", limit=None)
                tracemalloc.start()
                importer.run(source, boards)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    return peak


CODECKS_TOKEN = "bench-codecks-token"


def codecks_data(cards: int, files: int, file_size: int = MB) -> CodecksData:
    users = {"u-ana": CxUser("u-ana", "Ana Lima", "ana@bench.test")}
    tags = [CxTag("t-bug", "bug", "#ff7a66"), CxTag("t-feature", "feature", "#317ccc")]
    statuses = ["not_started", "started", "review", "blocked", "done"]
    every = max(1, cards // files) if files else 0
    content = (bytes(range(256)) * (file_size // 256 + 1))[:file_size]
    made = []
    for i in range(cards):
        entries = [
            CxEntry(f"e-{i}-{j}", "u-ana", f"Comment {j} on card {i} 👍", f"2024-01-01T00:{j:02d}:00Z") for j in (1, 2)
        ]
        with_file = files and i % every == 0 and i // every < files
        card = CxCard(f"c-{i}", i + 1, "d-bench", f"Card {i} — ünïcödé\n\nSome *Markdown* text.\n\n- a list item",
                      status=statuses[i % 5], priority="abc"[i % 3], effort=1 + i % 8, tags=[("bug", "feature")[i % 2]],
                      assignee="u-ana", threads=[CxThread(f"r-{i}", "comment", "2024-01-01T00:00:00Z", entries)],
                      files=[CxFile(f"f-{i}", f"file-{i}.bin", content)] if with_file else [])  # fmt: skip
        made.append(card)
    data = CodecksData("acc-bench", "bench", CODECKS_TOKEN, users, [CxProject("p-bench", "Bench")],
                       [CxDeck("d-bench", "Bench deck", "p-bench")], made, [], tags)  # fmt: skip
    data.limit = (10**9, 5.0)  # lifted: the paced read is checked by the reader's own spacing
    return data


def _codecks_apps(cards: int, files: int, file_size: int) -> FixtureApps:
    """The query endpoint and, first, the host its file URLs point to."""
    data = codecks_data(cards, files, file_size)

    def listening(urls: list[str]) -> None:
        data.files_url = urls[0]

    return [create_codecks_files_app(data), create_codecks_app(data)], listening


def codecks_unlimited(cards: int, files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, FixtureProcess(_codecks_apps, cards, files) as codecks_url:
        config = SandboxConfig(db_path=str(Path(tmp) / "sandbox.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            client, workspace_id = account(url)
            with client, CodecksSource(codecks_url, "bench", CODECKS_TOKEN, limit=None) as source:
                report("codecks", source, client, workspace_id, Path(tmp), cards, files)
            unpaced = functools.partial(CodecksSource, codecks_url, "bench", CODECKS_TOKEN, limit=None)
            print_cheapest(cheapest_shares(url, unpaced, Path(tmp) / "cheap"))
            waits: list[float] = []

            def wait(seconds: float) -> None:
                waits.append(seconds)
                time.sleep(seconds)

            with CodecksSource(codecks_url, "bench", CODECKS_TOKEN, sleep=wait) as paced_source:
                started = time.perf_counter()
                for ref in paced_source.boards():
                    paced_source.read_board(ref)
                print(f"  read again paced under Codecks' 40 per 5 s: {time.perf_counter() - started:.1f} s, "
                      f"{paced_source.requests} requests, {len(waits)} waits ({sum(waits):.1f} s)")  # fmt: skip


def codecks_memory(size_mb: int) -> int:
    """tracemalloc peak (bytes) of importing one Codecks card with a `size_mb` MB file."""
    with tempfile.TemporaryDirectory() as tmp, FixtureProcess(_codecks_apps, 1, 1, size_mb * MB) as codecks_url:
        config = SandboxConfig(db_path=str(Path(tmp) / "sandbox.db")).lift_limits()
        with Sandbox(config, process=True) as url:
            client, workspace_id = account(url)
            with client, CodecksSource(codecks_url, "bench", CODECKS_TOKEN, limit=None) as source:
                boards = [source.read_board(ref) for ref in source.boards()]
                importer = Importer(client, workspace_id, journal_root=Path(tmp) / "journals", limit=None)
                tracemalloc.start()
                importer.run(source, boards)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--paced-cards", type=int, default=50)
    parser.add_argument("--paced-limit", type=int, default=300)
    parser.add_argument("--skip-paced", action="store_true", help="Skip the paced run (it takes over two minutes).")
    parser.add_argument("--sources", default="deck,kaiten,codecks", help="Comma-separated sources to measure.")
    args = parser.parse_args()
    sources = {s.strip() for s in args.sources.split(",")}
    if "deck" in sources:
        unlimited(args.cards, args.files)
        small, large = memory(1), memory(16)
        print(f"memory: tracemalloc peak {small / MB:.2f} MiB with a 1 MB attachment, {large / MB:.2f} MiB with 16 MB")
        if not args.skip_paced:
            paced(args.paced_cards, args.paced_limit)
    if "kaiten" in sources:
        unlimited_kaiten(args.cards, args.files)
        small, large = memory_kaiten(1), memory_kaiten(16)
        print(f"kaiten memory: tracemalloc peak {small / MB:.2f} MiB with a 1 MB file, {large / MB:.2f} MiB with 16 MB")
    if "codecks" in sources:
        codecks_unlimited(args.cards, args.files)
        small, large = codecks_memory(1), codecks_memory(16)
        print(f"codecks memory: tracemalloc peak {small / MB:.2f} MiB with a 1 MB file, "
              f"{large / MB:.2f} MiB with 16 MB")  # fmt: skip


if __name__ == "__main__":
    main()
