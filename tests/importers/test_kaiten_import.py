"""Importing the fixture Kaiten through the API: every field, the plan, re-runs, crashes, faults, pacing."""

from __future__ import annotations

import io
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mskclient import AuthError, Client, ProtocolError, TransportError, UsageError
from mskclient.importers import Importer, KaitenSource, SourceBoard, tag_color
from mskclient.importers._kaiten import KAITEN_RATE
from mskclient.importers._source_http import SourcePace

from ._kaiten_server import FILE_UUID, KaitenData, KCard, KComment, KFile, add_big_board, create_app, sample_kaiten
from .conftest import Account, ServerThread
from .test_deck_import import Crash, twin

TOKEN = "kaiten-token-1"


@dataclass
class Kaiten:
    """A running fixture Kaiten server; `data` is its live state (edit it between runs)."""

    url: str
    data: KaitenData


@pytest.fixture
def kaiten(account: Account) -> Iterator[Kaiten]:
    """A fresh sample Kaiten whose user Ana has the account's email (so she is matched)."""
    data = sample_kaiten()
    data.users[1].email = account.email
    with ServerThread(create_app(data)) as server:
        yield Kaiten(server.url, data)


_OPEN: list[KaitenSource] = []


@pytest.fixture(autouse=True)
def _close_sources() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def source_for(kaiten: Kaiten, token: str = TOKEN, **kwargs: Any) -> KaitenSource:
    kwargs.setdefault("sleep", lambda _: None)
    kwargs.setdefault("rate_limit", None)
    source = KaitenSource(kaiten.url + kwargs.pop("suffix", ""), token, **kwargs)
    _OPEN.append(source)
    return source


def read(kaiten: Kaiten, *selectors: str, **kwargs: Any) -> tuple[KaitenSource, list[SourceBoard]]:
    source = source_for(kaiten, **kwargs)
    return source, [source.read_board(ref) for ref in source.boards(selectors)]


def importer(account: Account, root: Path, **kwargs: Any) -> Importer:
    return Importer(account.client, account.workspace_id, journal_root=root, limit=None, **kwargs)


def snapshot(client: Client, board_id: str) -> dict[str, Any]:
    """The imported board as plain data (ids replaced by what they name), custom fields included."""
    board = client.board(board_id)
    labels = {label.id: (label.name, label.color) for label in client.labels(board_id)}
    fields = {f.id: f for f in client.custom_fields(board_id)}
    columns = []
    for column in client.columns(board_id):
        cards = []
        for listed in (c for c in client.cards(board_id) if c.column_id == column.id):
            card = client.card(listed.id)
            contents = []
            for attachment in card.attachments or ():
                sink = io.BytesIO()
                client.download_attachment(attachment.id, sink)
                contents.append((attachment.name, attachment.mime, attachment.size, sink.getvalue()))
            cards.append(
                {
                    "title": card.title,
                    "description": card.description,
                    "due": card.due_at,
                    "archived": card.archived,
                    "labels": sorted(labels[i] for i in card.label_ids),
                    "assignees": sorted(card.assignee_ids),
                    "fields": {fields[k].name: v for k, v in card.custom_fields.items()},
                    "comments": [c.body for c in card.comments or ()],
                    "checklists": [(cl.title, [(i.text, i.done) for i in cl.items]) for cl in card.checklists or ()],
                    "attachments": contents,
                }
            )
        columns.append((column.title, cards))
    return {
        "title": board.title,
        "description": board.description,
        "fields": sorted((f.name, f.type, f.options) for f in fields.values()),
        "columns": columns,
    }


def imported_board(account: Account, root: Path, kaiten: Kaiten, *selectors: str) -> str:
    source, boards = read(kaiten, *selectors)
    return importer(account, root).run(source, boards).boards[0].board_id


def test_every_field_round_trips(account: Account, kaiten: Kaiten, tmp_path: Path) -> None:
    source, boards = read(kaiten, "Roadmap ✓")
    run = importer(account, tmp_path)
    plan = run.plan(source, boards)
    summary = run.run(source, boards)
    assert summary.totals() == plan.totals()
    assert {method for method, _ in kaiten.data.requests} == {"GET"}  # the source is only ever read
    got = snapshot(account.client, summary.boards[0].board_id)
    me = account.client.me().user.id

    assert got["title"] == "Roadmap ✓"
    assert got["description"].startswith("The **product** roadmap\n\nImported from Kaiten. Not carried over:")
    assert got["fields"] == [
        ("Approved", "checkbox", ()),
        ("Block reason", "text", ()),
        ("Customer", "text", ()),
        ("Deadline", "date", ()),
        ("Done", "checkbox", ()),
        ("Estimate", "number", ()),
        ("Lane", "select", ("Expedite", "Normal")),  # the deleted lane is not an option
        ("Platforms", "text", ()),  # a multi-select: its values as text
        ("Priority", "select", ("Low", "High")),  # Kaiten's option order
        ("Responsible", "text", ()),
        ("Reviewer", "text", ()),
        ("Size", "text", ()),  # "XL" beside 3: text
        ("Type", "select", ("Card", "Bug")),
    ]
    # subcolumns after their parent, in their own order; the parent holds no card so it is no column
    assert [title for title, _ in got["columns"]] == ["To do", "Doing › Build", "Doing › Review", "Done"]
    todo, build, review, done = (cards for _, cards in got["columns"])
    assert [c["title"] for c in todo] == ["Busy card", "Write the spec"]  # the Expedite lane first
    assert [c["title"] for c in build] == ["Build it"] and [c["title"] for c in review] == ["In review"]
    assert [(c["title"], c["archived"]) for c in done] == [("Shipped", False), ("Old thing", True)]

    spec = todo[1]
    assert spec["description"] == "Intro **bold**\n\nMore text"
    assert spec["due"] == "2026-12-24T18:29:30Z"
    assert spec["labels"] == [("bug", tag_color(1)), ("odd", "#8b949e"), ("ux", tag_color(6))]
    assert spec["assignees"] == [me]  # Ana matched by email; Bob is not a member
    assert spec["checklists"] == [("Steps", [("outline", True), ("draft", False)])]  # deleted ones left out
    assert spec["fields"] == {
        "Lane": "Normal", "Type": "Bug", "Size": "3", "Responsible": f"Ana Lima <{account.email}>",
        "Customer": "ACME", "Estimate": "2.5", "Deadline": "2026-03-01", "Approved": "true", "Priority": "High",
        "Platforms": "iOS, Android", "Reviewer": "Cy Field <cy@elsewhere.test>",
    }  # fmt: skip
    assert spec["comments"][:2] == [
        "Bob Stone · 2023-11-14T22:15:00Z\n\nLooks good",
        "Ana Lima · 2023-11-14T22:16:40Z\n\nThanks!\nSecond line",
    ]  # the deleted comment is left out
    note = spec["comments"][2]
    assert note.startswith("Imported from Kaiten. Not carried over:")
    for expected in ("'Bob Stone' <bob@elsewhere.test>: no workspace member", "custom property 'Score'",
                     "the ASAP flag", "link https://example.test/spec (the spec)", "child card 1003 'Build it'",
                     "file 'Plan.docx' stored on Google Drive: https://drive.example.test/plan"):  # fmt: skip
        assert expected in note
    files = {f.id: f for f in kaiten.data.board(70).cards[0].files}  # type: ignore[union-attr]
    assert spec["attachments"] == [
        ("notes.txt", "text/plain", len(files[5001].content), files[5001].content),
        ("diagram.png", "image/png", len(files[FILE_UUID].content), files[FILE_UUID].content),  # a UUID id
    ]

    busy = todo[0]
    assert busy["labels"] == [("Blocked", "#e5484d")]
    assert busy["fields"]["Block reason"] == "waiting for legal; blocked by card 1003 'Build it'"  # released: gone
    assert busy["fields"]["Reviewer"] == f"Ana Lima <{account.email}>, Bob Stone <bob@elsewhere.test>"
    assert len(busy["comments"]) == 57 and busy["comments"][0].endswith("comment number 0")

    assert done[0]["due"] == "2026-01-02T00:00:00Z" and done[0]["fields"]["Done"] == "true"
    big = kaiten.data.board(70).cards[5].files[0]  # type: ignore[union-attr]
    assert done[1]["attachments"] == [("big.bin", "application/octet-stream", len(big.content), big.content)]
    assert "Done" not in build[0]["fields"] and build[0]["fields"]["Priority"] == "Low"


def test_plan_counts_equal_the_run(account: Account, kaiten: Kaiten, tmp_path: Path) -> None:
    source, boards = read(kaiten)
    assert [b.title for b in boards] == ["Roadmap ✓", "Side project", "Ops"]  # the board in two spaces once
    run = importer(account, tmp_path)
    plan = run.plan(source, boards)
    assert not any(tmp_path.iterdir())  # planning writes nothing
    summary = run.run(source, boards)
    assert [b.to_json()["created"] for b in summary.boards] == [b.to_json()["create"] for b in plan.boards]
    expected = {"board": 3, "label": 4, "custom_field": 14, "column": 6, "card": 7, "label_link": 5,
                "assignment": 2, "field_values": 7, "checklist": 1, "checklist_item": 2, "comment": 59,
                "attachment": 3, "note": 1, "archive": 1}  # fmt: skip
    assert {k: v for k, v in plan.totals().items() if v} == expected
    assert plan.mutations == sum(expected.values())


def test_rerun_adds_only_what_is_new(account: Account, kaiten: Kaiten, tmp_path: Path) -> None:
    board_id = imported_board(account, tmp_path, kaiten, "70")
    before = snapshot(account.client, board_id)
    source, boards = read(kaiten, "70")
    again = importer(account, tmp_path).run(source, boards)
    assert sum(again.totals().values()) == 0 and again.boards[0].board_id == board_id
    assert snapshot(account.client, board_id) == before

    board = kaiten.data.board(70)
    assert board is not None
    board.cards[0].title = "Write the spec, v2"  # changed at the source: reported, not overwritten
    board.cards[0].comments.append(KComment(904, 1, "A new comment", 1_700_000_400))
    board.cards[0].files.append(KFile(5006, "new.txt", b"new file"))
    board.cards.append(KCard(1006, "New card", 103, 201, 2))
    source, boards = read(kaiten, "70")
    plan = importer(account, tmp_path).plan(source, boards)
    assert plan.boards[0].changed == [
        "board 'Roadmap ✓': card 'Write the spec, v2' changed at the source since it was imported "
        "(kept as it is in MSKanban)"
    ]
    third = importer(account, tmp_path).run(source, boards)
    assert {k: v for k, v in third.totals().items() if v} == {
        "card": 1, "field_values": 1, "comment": 1, "attachment": 1
    }  # fmt: skip
    after = snapshot(account.client, board_id)
    assert after["columns"][0][1][1]["title"] == "Write the spec"
    assert after["columns"][1][1][1]["title"] == "New card"


@pytest.fixture(scope="module")
def clean_import(account: Account, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What an uninterrupted import of the roadmap looks like."""
    data = sample_kaiten()
    data.users[1].email = account.email
    with ServerThread(create_app(data)) as server:
        board_id = imported_board(account, tmp_path_factory.mktemp("clean"), Kaiten(server.url, data), "70")
    return snapshot(account.client, board_id)


@pytest.mark.parametrize("stage", ["sealed", "created", "recorded"])
@pytest.mark.parametrize("at", [1, 5, 17, 40, 90])
def test_a_crash_anywhere_resumes_to_exactly_one_copy(
    account: Account, kaiten: Kaiten, tmp_path: Path, clean_import: dict[str, Any], stage: str, at: int
) -> None:
    seen = Counter[str]()

    def crash(reached: str, key: str) -> None:
        seen[reached] += 1
        if reached == stage and seen[reached] == at:
            raise Crash(key)

    source, boards = read(kaiten, "70")
    with pytest.raises(Crash):
        importer(account, tmp_path, on_stage=crash).run(source, boards)
    with twin(account) as client:  # a new process: it knows only what the journal says
        summary = Importer(client, account.workspace_id, journal_root=tmp_path, limit=None).run(source, boards)
    assert snapshot(account.client, summary.boards[0].board_id) == clean_import
    titles = [b.title for b in account.client.boards(account.workspace_id) if b.id == summary.boards[0].board_id]
    assert titles == ["Roadmap ✓"]


def test_source_5xx_429_and_timeouts_are_retried(kaiten: Kaiten) -> None:
    kaiten.data.fail(r"^/api/latest/cards$", times=2, status=503)
    kaiten.data.fail(r"/comments$", times=1, status=429, reset_in=2)  # Kaiten's reset header, no Retry-After
    kaiten.data.fail(r"/blockers$", times=1, status=429, retry_after="3")
    kaiten.data.fail(r"/cards/1002$", times=1, stall=1.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if seconds < 2.5:  # the wait for the reset really passes (the pace checks the clock after it)
            time.sleep(seconds)

    source = source_for(kaiten, sleep=sleep, timeout=0.3, rate_limit=(1000, 1.0))
    boards = [source.read_board(ref) for ref in source.boards(["70"])]
    assert waits[:3] == [0.5, 1.0, 3.0]  # backoff on 503, then Retry-After
    assert 1.0 <= waits[3] <= 2.0  # until X-RateLimit-Reset (an epoch second 2 s ahead), not Retry-After
    assert waits[4:] == [0.5]  # the timeout's backoff: nothing more to wait once the reset passed
    assert len(list(boards[0].cards())) == 6


def test_a_source_that_keeps_failing_stops_cleanly_and_a_rerun_resumes(
    account: Account, kaiten: Kaiten, tmp_path: Path, clean_import: dict[str, Any]
) -> None:
    source, boards = read(kaiten, "70")
    kaiten.data.fail(r"^/files/5005/", times=5, status=502)  # the last attachment's download
    with pytest.raises(TransportError, match=r"^Kaiten GET file 5005: still failing after 5 attempts \(HTTP 502\)"):
        importer(account, tmp_path).run(source, boards)
    summary = importer(account, tmp_path).run(source, boards)
    assert snapshot(account.client, summary.boards[0].board_id) == clean_import


def test_malformed_source_json_names_the_route_and_object(kaiten: Kaiten) -> None:
    kaiten.data.fail(r"/cards/1002$", body=b'{"id": 1002, "title": 7}')
    with pytest.raises(ProtocolError) as caught:
        read(kaiten, "70")
    assert str(caught.value) == "Kaiten GET /cards/1002: card 1002: 'title' is not a string"
    bad_file = b'{"id": 1002, "title": "x", "files": [{"id": [], "name": "f"}]}'
    kaiten.data.fail(r"/cards/1002$", body=bad_file)
    with pytest.raises(ProtocolError) as caught:
        read(kaiten, "70")
    assert str(caught.value) == "Kaiten GET /cards/1002: card 1002: file: 'id' is neither an integer nor a UUID"
    local = b'{"id": 1002, "title": "x", "files": [{"id": 5, "name": "f", "size": 1, "url": "file:///etc/passwd"}]}'
    kaiten.data.fail(r"/cards/1002$", body=local)
    with pytest.raises(ProtocolError) as caught:
        read(kaiten, "70")
    assert str(caught.value) == "Kaiten GET /cards/1002: card 1002: file 5: 'url' is not an http(s) address"
    kaiten.data.fail(r"/cards/1002$", body=b'{"id": 1002, "title": "x", "properties": {"id_14": "High"}}')
    with pytest.raises(ProtocolError) as caught:
        read(kaiten, "70")
    assert str(caught.value) == (
        "Kaiten GET /cards/1002: card 1002: 'properties.id_14' is not a list of select value ids"
    )
    kaiten.data.fail(r"/columns$", body=b'[{"id": "100", "title": "To do"}]')
    with pytest.raises(ProtocolError, match=r"^Kaiten GET /boards/70/columns: column: 'id' is not an integer$"):
        read(kaiten, "70")
    kaiten.data.fail(r"/spaces$", body=b"<html>maintenance</html>")
    with pytest.raises(ProtocolError, match=r"^Kaiten GET /spaces: the answer is not JSON$"):
        read(kaiten)


def test_wrong_token_and_unknown_boards_or_spaces(kaiten: Kaiten) -> None:
    with pytest.raises(AuthError, match="Kaiten refused"):
        source_for(kaiten, "wrong").boards()
    with pytest.raises(UsageError, match=r"^Kaiten board 'Nope': no board with this id or title is visible"):
        source_for(kaiten).boards(["Nope"])
    with pytest.raises(UsageError, match=r"^Kaiten space '99': no space"):
        source_for(kaiten, spaces=["99"]).boards()
    assert [b.title for b in source_for(kaiten, spaces=["Operations"]).boards()] == ["Ops", "Roadmap ✓"]
    assert [b.key for b in source_for(kaiten, spaces=["7"]).boards()] == ["70", "71"]


def test_user_values_in_both_broken_api_formats(kaiten: Kaiten) -> None:
    _, new = read(kaiten, "70")
    kaiten.data.honours_broken_api = False  # an older server: user uids (strings) whatever is asked
    _, old = read(kaiten, "70")
    assert new == old
    assert any(("property:16", "Cy Field <cy@elsewhere.test>") in c.field_values for c in old[0].cards())


def test_subcolumns_only_through_their_parent_route(kaiten: Kaiten) -> None:
    _, nested = read(kaiten, "70")
    kaiten.data.nested_subcolumns = False
    kaiten.data.requests.clear()
    _, separate = read(kaiten, "70")
    assert nested == separate
    assert ("GET", "/api/latest/columns/101/subcolumns") in kaiten.data.requests


def test_cards_are_read_page_by_page(kaiten: Kaiten) -> None:
    add_big_board(kaiten.data, 205)
    source = source_for(kaiten)
    (ref,) = source.boards(["90"])
    board = source.read_board(ref)
    assert [c.title for c in board.cards()] == [f"Card {i}" for i in range(205)]
    listings = [path for _, path in kaiten.data.requests if path == "/api/latest/cards"]
    assert len(listings) == 4  # live: 100 + 100 + 5, then archived: 0


def test_the_token_goes_to_kaiten_only(kaiten: Kaiten) -> None:
    """A file served from another host is fetched without the Authorization header."""
    far = KFile(7001, "far.txt", b"far away", "text/plain")
    elsewhere = sample_kaiten("other-token")
    elsewhere.spaces[0].boards[1].cards[0].files.append(far)
    with ServerThread(create_app(elsewhere)) as other:
        board = kaiten.data.board(71)
        assert board is not None
        board.cards[0].files.append(KFile(7001, "far.txt", external_url=f"{other.url}/files/7001/far.txt"))
        redirected = f"{other.url}/blobs/7001/far.txt"
        board.cards[0].files.append(KFile(7002, "near.txt", b"x", sort_order=2, redirect=redirected))
        source = source_for(kaiten)
        (card,) = source.read_board(source.boards(["71"])[0]).cards()
        for attachment in card.attachments:  # one on another host, one redirected there from Kaiten
            with attachment.open() as (stream, size):
                assert (stream.read(), size) == (b"far away", 8)
    assert elsewhere.requests == [("GET", "/files/7001/far.txt"), ("GET", "/blobs/7001/far.txt")]
    assert elsewhere.authorizations == [None, None]
    assert set(kaiten.data.authorizations) == {f"Bearer {TOKEN}"}


def test_a_redirected_read_is_followed_with_the_token_on_kaiten(kaiten: Kaiten) -> None:
    kaiten.data.fail(r"^/api/latest/spaces$", times=2, status=307, location=f"{kaiten.url}/api/latest/spaces?moved=1")
    source = source_for(kaiten)
    assert [ref.key for ref in source.boards(["71"])] == ["71"]
    assert kaiten.data.requests[:3] == [("GET", "/api/latest/spaces")] * 3  # moved, sent again, followed
    assert set(kaiten.data.authorizations) == {f"Bearer {TOKEN}"}


def test_source_pacing_meets_no_429(kaiten: Kaiten) -> None:
    """The fixture answers 429 beyond 5 requests per second; the paced reader never meets one."""
    kaiten.data.rate_limit = 5
    source = source_for(kaiten, sleep=time.sleep, rate_limit=KAITEN_RATE)
    boards = [source.read_board(ref) for ref in source.boards(["70"])]
    assert len(list(boards[0].cards())) == 6
    assert len(kaiten.data.statuses) >= 18 and 429 not in kaiten.data.statuses


def test_after_a_429_from_other_activity_the_next_request_passes(kaiten: Kaiten) -> None:
    """Another client used the second's budget: one 429 with the reset header, waited out, then room."""
    kaiten.data.rate_limit = 5
    kaiten.data.fail(r"/cards/1003$", times=1, status=429, reset_in=1)
    source = source_for(kaiten, sleep=time.sleep, rate_limit=KAITEN_RATE)
    source.read_board(source.boards(["70"])[0])
    statuses = kaiten.data.statuses
    assert statuses.count(429) == 1
    assert all(not (a == b == 429) for a, b in itertools.pairwise(statuses))


def test_source_pace_obeys_the_rate_limit_headers() -> None:
    now = [1000.0]
    pace = SourcePace((5, 1.0), clock=lambda: now[0], wall=lambda: 1_700_000_000.25)
    for _ in range(5):
        assert pace.delay() == 0.0
        pace.answered(httpx.Headers())
        now[0] += 0.1
    assert pace.delay() == pytest.approx(0.5)  # the sixth waits until the first answer is a second old
    pace.answered(httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000002"}))
    now[0] += 1.5
    assert pace.delay() == pytest.approx(0.25)  # until the announced reset (1.75 s after the answer)
    pace.answered(None, 5)  # lost answers (or followed redirects) still take their slots
    assert pace.delay() == pytest.approx(1.0)
    assert pace.until_reset(httpx.Headers({"X-RateLimit-Reset": "soon"})) is None


def test_a_download_that_may_be_redirected_waits_for_room_for_both_requests() -> None:
    """Four answers in the window leave room for one request, not for a download and its redirect."""
    now = [1000.0]
    pace = SourcePace((5, 1.0), clock=lambda: now[0])
    for _ in range(4):
        pace.answered(httpx.Headers())
        now[0] += 0.1
    assert pace.delay() == 0.0
    assert pace.delay(2) == pytest.approx(0.6)  # until the first of the four is a second old
    assert pace.delay(9) == pytest.approx(0.9)  # never more than a whole window of room


@pytest.mark.parametrize("url", ["ftp://x.kaiten.ru", "x.kaiten.ru", "https://ana:secret@x.kaiten.ru"])
def test_a_bad_source_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        KaitenSource(url, TOKEN)
    assert "secret" not in str(caught.value) and "--source-url" in str(caught.value)


def test_a_page_url_names_the_company() -> None:
    with KaitenSource("https://acme.kaiten.ru/space/7/boards/70/card/1000", TOKEN) as source:
        assert source.url == "https://acme.kaiten.ru"
