"""Importing the fixture Codecks through the API: every field, the plan, re-runs, crashes, faults, pacing."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mskclient import AuthError, Client, NotFoundError, Pacer, ProtocolError, TransportError, UsageError
from mskclient.importers import CodecksSource, Importer, SourceBoard
from mskclient.importers._codecks import split_title
from mskclient.sandbox import ManualClock

from ._codecks_server import CxCard, CxEntry, CxFile, sample_codecks
from .conftest import Account, Codecks, serve_codecks

TOKEN = "at-token-1"


class Crash(BaseException):
    """Stands for kill -9: nothing after it runs (not an Exception, so no handler catches it)."""


_OPEN: list[CodecksSource] = []


@pytest.fixture(autouse=True)
def _close_sources() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def source_for(codecks: Codecks, token: str = TOKEN, **kwargs: Any) -> CodecksSource:
    kwargs.setdefault("sleep", lambda _: None)
    kwargs.setdefault("page", 2)  # several pages per deck, as a big deck has
    source = CodecksSource(codecks.url, kwargs.pop("account", "team123"), token, **kwargs)
    _OPEN.append(source)
    return source


def read(codecks: Codecks, *selectors: str, **kwargs: Any) -> tuple[CodecksSource, list[SourceBoard]]:
    source = source_for(codecks, **kwargs)
    return source, [source.read_board(ref) for ref in source.boards(selectors)]


def importer(account: Account, root: Path, **kwargs: Any) -> Importer:
    return Importer(account.client, account.workspace_id, journal_root=root, limit=None, **kwargs)


def snapshot(client: Client, board_id: str) -> dict[str, Any]:
    """The imported board as plain data (ids replaced by what they name), for comparisons."""
    board = client.board(board_id)
    labels = {label.id: (label.name, label.color) for label in client.labels(board_id)}
    fields = {f.id: (f.name, f.type, f.options) for f in client.custom_fields(board_id)}
    milestones = {m.id: (m.title, m.due_at) for m in client.milestones(board_id, archived=True)}
    columns = []
    for column in client.columns(board_id):
        cards = []
        for listed in (c for c in client.cards(board_id) if c.column_id == column.id):
            card = client.card(listed.id)
            contents = []
            for attachment in card.attachments or ():
                sink = io.BytesIO()
                client.download_attachment(attachment.id, sink)
                contents.append((attachment.name, attachment.mime, sink.getvalue()))
            cards.append(
                {
                    "title": card.title,
                    "description": card.description,
                    "due": card.due_at,
                    "archived": card.archived,
                    "labels": sorted(labels[i] for i in card.label_ids),
                    "assignees": sorted(card.assignee_ids),
                    "fields": sorted((fields[k][0], v) for k, v in card.custom_fields.items()),
                    "milestone": milestones.get(card.milestone_id or ""),
                    "comments": [c.body for c in card.comments or ()],
                    "attachments": contents,
                }
            )
        columns.append((column.title, cards))
    return {
        "title": board.title,
        "description": board.description,
        "fields": sorted(fields.values()),
        "milestones": sorted(milestones.values(), key=str),
        "columns": columns,
    }


def test_every_field_round_trips(account: Account, codecks: Codecks, tmp_path: Path) -> None:
    source, boards = read(codecks, "Gameplay")
    run = importer(account, tmp_path)
    plan = run.plan(source, boards)
    summary = run.run(source, boards)
    assert summary.totals() == plan.totals()
    got = snapshot(account.client, summary.boards[0].board_id)
    me = account.client.me().user.id

    assert got["title"] == "Game ✓ › Gameplay"
    assert "card numbers, creators" in got["description"] and "'snoozing'" in got["description"]
    assert [title for title, _ in got["columns"]] == ["Not started", "Started", "In review", "Blocked", "Done",
                                                      "snoozing"]  # fmt: skip
    assert got["fields"] == [("Effort", "number", ()), ("Priority", "select", ("High", "Medium", "Low"))]
    assert got["milestones"] == [("Alpha", "2026-05-01T00:00:00Z"), ("Beta", None)]
    cards = {title: cards for title, cards in got["columns"]}
    assert [c["title"] for c in cards["Not started"]] == ["An idea"]
    (jump,) = cards["Started"]
    assert jump["title"] == "Jump higher"
    assert jump["description"] == "The jump feels **weak**.\n\n- tune gravity"  # the title line is not repeated
    assert jump["due"] == "2026-03-01T17:00:00Z" and not jump["archived"]
    assert jump["labels"] == [("bug", "#e5484d"), ("ui", "#30a46c")]
    assert jump["assignees"] == [me]  # Ana, matched by email
    assert jump["fields"] == [("Effort", "3"), ("Priority", "High")]
    assert jump["milestone"] == ("Alpha", "2026-05-01T00:00:00Z")
    assert jump["comments"] == [
        "Bob Stone · 2024-02-01T10:00:00Z\n\nCan we try 1.5×?",
        "Ana Lima · 2024-02-01T11:30:00Z\n\n↳ Yes, done.\nSecond line",
        "Ana Lima · 2024-02-02T09:00:00Z\n\n**Review** (closed)\n\nLooks right",
    ]
    png = codecks.data.card("c-jump").files[0]
    assert jump["attachments"] == [("jump.png", "image/png", png.content)]

    (review,) = cards["In review"]
    assert review["description"] == "All buttons." and review["fields"] == [("Priority", "Medium")]
    assert "'Cy Hidden' (u-cy): the source does not show their email" in review["comments"][-1]
    (blocked,) = cards["Blocked"]
    assert blocked["labels"] == [("perf", "#8b949e")] and blocked["fields"] == [("Effort", "0.5"), ("Priority", "Low")]
    assert (
        blocked["comments"][0]
        == "Cy Hidden · 2024-02-03T08:00:00Z\n\n**Blocker** (open)\n\nWaiting for the engine update"
    )
    note = blocked["comments"][1]
    assert note.startswith("Imported from Codecks. Not carried over:")
    assert "tag #legacy" in note and "'Bob Stone' <bob@elsewhere.test>: no workspace member" in note
    (old,) = cards["Done"]
    assert old["archived"] and old["description"] == "kept for reference" and old["milestone"] == ("Beta", None)
    assert old["attachments"] == [
        ("level.bin", "application/octet-stream", codecks.data.card("c-old").files[0].content)
    ]
    assert [c["title"] for c in cards["snoozing"]] == ["Snoozed card"]
    assert "Deleted card" not in [c["title"] for _, column in got["columns"] for c in column]


def test_the_source_is_only_queried_and_files_get_no_token(account: Account, codecks: Codecks, tmp_path: Path) -> None:
    source, boards = read(codecks)
    importer(account, tmp_path).run(source, boards)
    assert {(method, path) for method, path, _ in codecks.data.requests} == {("POST", "/")}
    queries = [json.loads(body)["query"] for _, _, body in codecks.data.requests]
    assert all(list(q) == ["_root"] for q in queries)
    # one listing, then per deck one query per page of 2 cards (Gameplay: 6 live cards -> 4 pages)
    assert len(queries) == 1 + 4 + 1 + 1 and source.requests == len(queries) + len(codecks.data.file_requests)
    assert codecks.data.file_requests and not any(token for _, token in codecks.data.file_requests)


def test_plan_counts_equal_the_run(account: Account, codecks: Codecks, tmp_path: Path) -> None:
    source, boards = read(codecks)
    assert [b.title for b in boards] == ["Game ✓ › Gameplay", "Game ✓ › Art", "Website › Pages"]  # not the deleted
    run = importer(account, tmp_path)
    plan = run.plan(source, boards)
    assert not any(tmp_path.iterdir())  # planning writes nothing
    summary = run.run(source, boards)
    assert [b.to_json()["created"] for b in summary.boards] == [b.to_json()["create"] for b in plan.boards]
    expected = {"board": 3, "label": 4, "custom_field": 2, "milestone": 2, "column": 16, "card": 8, "label_link": 4,
                "assignment": 1, "field_values": 3, "milestone_link": 2, "comment": 4, "attachment": 2, "note": 2,
                "archive": 1}  # fmt: skip
    assert {k: v for k, v in plan.totals().items() if v} == expected


def test_projects_and_decks_are_chosen_by_id_or_name(codecks: Codecks) -> None:
    assert [r.key for r in source_for(codecks, projects=["Website"]).boards()] == ["d-web"]
    assert [r.key for r in source_for(codecks, projects=["p-game"]).boards(["Art", "d-play"])] == ["d-art", "d-play"]
    with pytest.raises(UsageError, match=r"Codecks deck 'Pages': no deck with this id or title in the chosen"):
        source_for(codecks, projects=["Game ✓"]).boards(["Pages"])
    with pytest.raises(UsageError, match=r"Codecks project 'Nope': no project"):
        source_for(codecks, projects=["Nope"]).boards()
    with pytest.raises(UsageError, match=r"deck 'd-old': no deck"):
        source_for(codecks).boards(["d-old"])  # deleted
    codecks.data.decks.append(type(codecks.data.decks[0])("d-twin", "Art", "p-web"))
    with pytest.raises(UsageError, match=r"several decks titled 'Art': 'Game ✓ › Art' \(d-art\), 'Website › Art'"):
        source_for(codecks).boards(["Art"])
    assert [r.key for r in source_for(codecks).boards(["Website › Art"])] == ["d-twin"]


def test_rerun_adds_only_what_is_new_and_reports_changes(account: Account, codecks: Codecks, tmp_path: Path) -> None:
    source, boards = read(codecks, "d-play")
    board_id = importer(account, tmp_path).run(source, boards).boards[0].board_id
    before = snapshot(account.client, board_id)
    source, boards = read(codecks, "d-play")
    again = importer(account, tmp_path).run(source, boards)
    assert sum(again.totals().values()) == 0 and again.boards[0].board_id == board_id
    assert snapshot(account.client, board_id) == before

    jump = codecks.data.card("c-jump")
    jump.content = "Jump much higher\n\nchanged"  # changed at the source: reported, not overwritten
    jump.threads[0].entries.append(CxEntry("e-9", "u-bob", "One more", "2024-02-05T10:00:00Z"))
    jump.files.append(CxFile("f-9", "new.txt", b"new file", "text/plain"))
    codecks.data.cards.append(CxCard("c-new", 10, "d-play", "A new card", status="done", effort=8))
    source, boards = read(codecks, "d-play")
    plan = importer(account, tmp_path).plan(source, boards)
    assert plan.boards[0].changed == [
        "board 'Game ✓ › Gameplay': card 'Jump much higher' changed at the source since it was imported "
        "(kept as it is in MSKanban)"
    ]
    third = importer(account, tmp_path).run(source, boards)
    assert {k: v for k, v in third.totals().items() if v} == {
        "card": 1, "comment": 1, "attachment": 1, "field_values": 1
    }  # fmt: skip
    after = {title: cards for title, cards in snapshot(account.client, board_id)["columns"]}
    assert after["Started"][0]["title"] == "Jump higher"
    assert after["Started"][0]["comments"][-1] == "Bob Stone · 2024-02-05T10:00:00Z\n\n↳ One more"
    assert [c["fields"] for c in after["Done"] if c["title"] == "A new card"] == [[("Effort", "8")]]


@pytest.fixture(scope="module")
def clean_import(account: Account, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What an uninterrupted import of the Gameplay deck looks like."""
    data = sample_codecks()
    data.users["u-ana"].email = account.email
    with serve_codecks(data) as url:
        source, boards = read(Codecks(url, data), "d-play")
        summary = importer(account, tmp_path_factory.mktemp("clean")).run(source, boards)
    return snapshot(account.client, summary.boards[0].board_id)


@pytest.mark.parametrize("stage", ["sealed", "created", "recorded"])
@pytest.mark.parametrize("at", [1, 4, 9, 15])
def test_a_crash_anywhere_resumes_to_exactly_one_copy(
    account: Account, codecks: Codecks, tmp_path: Path, clean_import: dict[str, Any], stage: str, at: int
) -> None:
    seen = Counter[str]()

    def crash(reached: str, key: str) -> None:
        seen[reached] += 1
        if reached == stage and seen[reached] == at:
            raise Crash(key)

    source, boards = read(codecks, "d-play")
    before = {b.id for b in account.client.boards(account.workspace_id)}
    with pytest.raises(Crash):
        importer(account, tmp_path, on_stage=crash).run(source, boards)
    with Client(account.client.server, token=account.client.token, pacer=Pacer.unlimited()) as client:
        client.use_keys(account.client.keys)  # a new process: it knows only what the journal says
        summary = Importer(client, account.workspace_id, journal_root=tmp_path, limit=None).run(source, boards)
    assert snapshot(account.client, summary.boards[0].board_id) == clean_import
    new = {b.id for b in account.client.boards(account.workspace_id)} - before
    assert new == {summary.boards[0].board_id}  # one board, not two


def test_source_5xx_429_and_timeouts_are_retried(codecks: Codecks) -> None:
    codecks.data.fail(r"^POST / .*projects", times=2, status=503)
    codecks.data.fail(r'accountSeq\\":\{', times=1, status=429, retry_after="3")  # the second page
    codecks.data.fail(r"^POST / .*d-art", times=1, stall=1.0)
    waits: list[float] = []
    source = source_for(codecks, sleep=waits.append, timeout=0.3)
    boards = [source.read_board(ref) for ref in source.boards(["d-play", "d-art"])]
    assert waits == [0.5, 1.0, 3.0, 0.5]
    assert sum(1 for _ in boards[0].cards()) == 6 and sum(1 for _ in boards[1].cards()) == 1


def test_a_source_that_keeps_failing_stops_cleanly_and_a_rerun_resumes(
    account: Account, codecks: Codecks, tmp_path: Path, clean_import: dict[str, Any]
) -> None:
    source, boards = read(codecks, "d-play")
    codecks.data.fail(r"^GET /files/f-2/", times=5, status=502)  # the second attachment's download
    with pytest.raises(TransportError, match=r"^Codecks GET file 'level.bin': still failing after 5 attempts"):
        importer(account, tmp_path).run(source, boards)
    summary = importer(account, tmp_path).run(source, boards)
    assert snapshot(account.client, summary.boards[0].board_id) == clean_import


def test_malformed_answers_name_the_route_and_object(codecks: Codecks) -> None:
    codecks.data.fail(r"d-play", body=b'{"account": {}}')
    with pytest.raises(ProtocolError) as caught:
        read(codecks, "d-play")
    assert str(caught.value) == "Codecks POST / (deck d-play cards): answer: _root: expected a JSON object"
    card = {"cardId": "c-1", "accountSeq": 1, "title": "T", "content": "T", "effort": "three"}
    selection = {"deckId": "d-play", "$or": [{"visibility": "default"}, {"visibility": "archived"}],
                 "$order": "accountSeq", "$limit": 2}  # fmt: skip
    key = f"cards({json.dumps(selection, separators=(',', ':'))})"
    bad = {"_root": {"account": "acc-1"}, "account": {"acc-1": {key: ["c-1"]}}, "card": {"c-1": card}}
    codecks.data.fail(r"d-play", body=json.dumps(bad).encode())
    with pytest.raises(ProtocolError) as caught:
        read(codecks, "d-play")
    assert str(caught.value) == "Codecks POST / (deck d-play cards): card c-1: 'effort' is not a number"
    bad = {"_root": {"account": "acc-1"}, "account": {"acc-1": {key: ["c-2"]}}}
    codecks.data.fail(r"d-play", body=json.dumps(bad).encode())
    with pytest.raises(ProtocolError, match=r"^Codecks POST / \(deck d-play cards\): card c-2: missing from the"):
        read(codecks, "d-play")
    codecks.data.fail(r"projects", body=b"<html>maintenance</html>")
    with pytest.raises(ProtocolError, match=r"^Codecks POST /: the answer is not JSON$"):
        read(codecks)


def test_a_query_error_in_codecks_shape_is_a_clear_message(codecks: Codecks) -> None:
    codecks.data.fail(r"projects", status=400, body=None)
    with pytest.raises(ProtocolError) as caught:
        read(codecks)
    assert str(caught.value) == "Codecks POST /: the source refused the request (HTTP 400): injected"
    # what the fixture answers to a field it does not know, in Codecks' own shape
    source = source_for(codecks)
    with pytest.raises(ProtocolError, match=r"HTTP 400\): Invalid query: unknown field 'nope' on card$"):
        source._query({"_root": [{"account": [{"cards": ["nope"]}]}]}, "test")
    from mskclient.importers._codecks import codecks_error_text

    assert codecks_error_text(b'{"error": {"message": "Bad  filter"}}') == "Bad filter"
    assert codecks_error_text(b'{"error": "quota"}') == "quota" and codecks_error_text(b"[]") is None


def test_wrong_token_or_organisation_is_refused(codecks: Codecks) -> None:
    with pytest.raises(
        AuthError, match=r"\(401\): Codecks refused the token for the organisation 'team123'$"
    ) as caught:
        source_for(codecks, "wrong").boards()
    assert caught.value.exit_code == 5
    with pytest.raises(AuthError, match=r"organisation 'other'"):
        source_for(codecks, account="other.codecks.io").boards()


def test_title_and_content() -> None:
    assert split_title("Jump", "Jump\n\nbody") == "body"
    assert split_title("Jump", "# Jump\nbody") == "body"
    assert split_title("Jump", "Jump") == ""
    assert split_title("Other", "Jump\nbody") == "Jump\nbody"  # a first line that is not the title stays


@pytest.mark.parametrize(
    ("url", "account"),
    [("ftp://api.codecks.io", "team"), ("api.codecks.io", "team"), ("https://ana:secret@api.codecks.io", "team"),
     ("https://api.codecks.io", "not a subdomain")],
)  # fmt: skip
def test_bad_url_or_account_is_refused_without_echoing_secrets(url: str, account: str) -> None:
    with pytest.raises(UsageError) as caught:
        CodecksSource(url, account, TOKEN)
    assert "secret" not in str(caught.value) and "--source-" in str(caught.value)


# --- pacing ---------------------------------------------------------------------------------------
def _busy_codecks(clock: ManualClock, decks: int) -> Any:
    data = sample_codecks()
    data.clock = clock.time
    deck = data.decks[0]
    for d in range(decks):
        data.decks.append(type(deck)(f"d-many-{d}", f"Deck {d}", "p-web"))
        data.cards += [CxCard(f"c-{d}-{i}", 100 + 10 * d + i, f"d-many-{d}", f"Card {i}") for i in range(3)]
    return data


def test_a_paced_read_meets_no_429(tmp_path: Path) -> None:
    """90 queries against a server allowing 40 per 5 s: the reader spaces them, not one 429."""
    clock = ManualClock()
    data = _busy_codecks(clock, 44)
    with serve_codecks(data) as url:
        source = CodecksSource(url, "team123", TOKEN, page=2, sleep=clock.advance, clock=clock.time)
        _OPEN.append(source)
        started = clock.time()
        boards = [source.read_board(ref) for ref in source.boards()]
    assert source.requests > 90 and 429 not in data.statuses
    assert clock.time() - started >= 5 * (source.requests // 36 - 1)  # at most 36 (90 %) per window
    assert sum(1 for b in boards for _ in b.cards()) == len([c for c in data.cards if c.visibility != "deleted"])


def test_a_burst_from_elsewhere_costs_at_most_one_429_in_a_row(tmp_path: Path) -> None:
    """Someone else on the same IP used the window up: one 429, its Retry-After, then room again."""
    clock = ManualClock()
    data = _busy_codecks(clock, 20)
    with serve_codecks(data) as url:
        data.window.extend([clock.time()] * 40)  # the other client's 40 requests, just now
        source = CodecksSource(url, "team123", TOKEN, page=2, sleep=clock.advance, clock=clock.time)
        _OPEN.append(source)
        boards = [source.read_board(ref) for ref in source.boards()]
    assert data.statuses.count(429) == 1
    assert not any(a == b == 429 for a, b in zip(data.statuses, data.statuses[1:], strict=False))
    assert len(boards) == 23


def test_without_pacing_the_fixture_does_answer_429(tmp_path: Path) -> None:
    """The fixture's limit is real: an unpaced reader meets 429s (and gets through by Retry-After)."""
    clock = ManualClock()
    data = _busy_codecks(clock, 44)
    with serve_codecks(data) as url:
        source = CodecksSource(url, "team123", TOKEN, page=2, sleep=clock.advance, clock=clock.time, limit=None)
        _OPEN.append(source)
        boards = [source.read_board(ref) for ref in source.boards()]
    assert data.statuses.count(429) >= 1 and len(boards) == 47


def test_a_file_url_on_the_api_itself_gets_no_token(account: Account, codecks: Codecks, tmp_path: Path) -> None:
    """A file's URL comes from the answer: pointed at the API, it must not carry the token there."""
    codecks.data.files_url = codecks.url  # the files app is elsewhere: the API answers 404 to this GET
    source, boards = read(codecks, "d-play")
    with pytest.raises(NotFoundError, match=r"Codecks GET file 'jump.png': not found$"):
        importer(account, tmp_path).run(source, boards)
    sent = [(method, token) for (method, _, _), token in zip(codecks.data.requests, codecks.data.tokens, strict=True)]
    assert sent[-1] == ("GET", False) and codecks.data.statuses[-1] == 404  # the download: no token, refused
    assert all(token for method, token in sent if method == "POST")


def test_the_journal_holds_no_plaintext(account: Account, codecks: Codecks, tmp_path: Path) -> None:
    source, boards = read(codecks, "d-play")
    importer(account, tmp_path).run(source, boards)
    (journal,) = (tmp_path / "imports").iterdir()
    assert journal.stat().st_mode & 0o777 == 0o600
    text = journal.read_text("utf-8")
    secrets = ["Gameplay", "Game ✓", "Jump", "bug", "Alpha", "Priority", "jump.png", "Bob Stone", "team123", TOKEN]
    secrets += [c.title for c in codecks.data.cards] + [codecks.url]
    assert not [s for s in secrets if s in text]


def test_a_source_ignoring_the_page_filter_is_stopped(codecks: Codecks) -> None:
    """Keyset paging must advance: an answer repeating earlier cards would otherwise loop forever."""
    selection = {"deckId": "d-play", "$or": [{"visibility": "default"}, {"visibility": "archived"}],
                 "$order": "accountSeq", "$limit": 2, "accountSeq": {"op": "gt", "value": 2}}  # fmt: skip
    key = f"cards({json.dumps(selection, separators=(',', ':'))})"
    cards = {f"c-{n}": {"cardId": f"c-{n}", "accountSeq": n, "title": "T", "content": "T"} for n in (1, 2)}
    repeated = {"_root": {"account": "acc-1"}, "account": {"acc-1": {key: list(cards)}}, "card": cards}
    codecks.data.fail(r'accountSeq\\":\{', body=json.dumps(repeated).encode())
    with pytest.raises(ProtocolError, match=r"the page of cards after number 2 repeats earlier cards$"):
        read(codecks, "d-play")
