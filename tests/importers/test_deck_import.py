"""Importing the fixture Deck through the API: every field, the plan, re-runs, crashes, faults."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mskclient import AuthError, Client, Pacer, ProtocolError, TransportError, UsageError
from mskclient._profile import CREATION_ORDER_SECONDS
from mskclient.importers import DeckSource, Importer, SourceBoard, comment_text, split_tasks

from ._deck_server import DeckAttachment, DeckCard, DeckComment
from .conftest import Account, Deck

APP_PASSWORD = "app-password-1"


class Crash(BaseException):
    """Stands for kill -9: nothing after it runs (not an Exception, so no handler catches it)."""


_OPEN: list[DeckSource] = []


@pytest.fixture(autouse=True)
def _close_sources() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def source_for(deck: Deck, password: str = APP_PASSWORD, **kwargs: Any) -> DeckSource:
    kwargs.setdefault("sleep", lambda _: None)
    source = DeckSource(deck.url + kwargs.pop("suffix", ""), "ana", password, **kwargs)
    _OPEN.append(source)
    return source


def read(deck: Deck, *selectors: str, **kwargs: Any) -> tuple[DeckSource, list[SourceBoard]]:
    source = source_for(deck, **kwargs)
    return source, [source.read_board(ref) for ref in source.boards(selectors)]


def importer(account: Account, root: Path, **kwargs: Any) -> Importer:
    return Importer(account.client, account.workspace_id, journal_root=root, limit=None, **kwargs)


def twin(account: Account, transport: httpx.BaseTransport | None = None) -> Client:
    """Another client on the account's session and keys, with nothing cached (like a new process)."""
    client = Client(account.client.server, token=account.client.token, email=account.email, pacer=Pacer.unlimited(),
                    transport=transport)  # fmt: skip
    client.use_keys(account.client.keys)
    return client


def snapshot(client: Client, board_id: str) -> dict[str, Any]:
    """The imported board as plain data (ids replaced by what they name), for comparisons."""
    board = client.board(board_id)
    labels = {label.id: (label.name, label.color) for label in client.labels(board_id)}
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
                    "comments": [c.body for c in card.comments or ()],
                    "checklists": [(cl.title, [(i.text, i.done) for i in cl.items]) for cl in card.checklists or ()],
                    "attachments": contents,
                }
            )
        columns.append((column.title, cards))
    return {"title": board.title, "description": board.description, "archived": board.archived, "columns": columns}


def imported_board(account: Account, root: Path, deck: Deck, *selectors: str) -> str:
    source, boards = read(deck, *selectors)
    summary = importer(account, root).run(source, boards)
    return summary.boards[0].board_id


def test_every_field_round_trips(account: Account, deck: Deck, tmp_path: Path) -> None:
    source, boards = read(deck, "Roadmap ✓")
    run = importer(account, tmp_path)
    plan = run.plan(source, boards)
    summary = run.run(source, boards)
    assert summary.totals() == plan.totals()
    assert {method for method, _ in deck.data.requests} == {"GET"}  # the source is only ever read
    got = snapshot(account.client, summary.boards[0].board_id)
    me = account.client.me().user.id

    assert got["title"] == "Roadmap ✓" and not got["archived"]
    assert "board colour #ff0000" in got["description"] and "sharing with 2" in got["description"]
    assert [title for title, _ in got["columns"]] == ["To do", "Doing", "Done"]
    todo, doing, done = (cards for _, cards in got["columns"])
    assert [c["title"] for c in todo] == ["Busy card", "Write the spec"]  # Deck's order, not the listing's
    assert doing == []
    assert [(c["title"], c["archived"]) for c in done] == [("Shipped", False), ("Old thing", True)]

    spec = todo[1]
    assert spec["description"] == "Intro **bold**\n\nMore text"
    assert spec["checklists"] == [("Tasks", [("draft", False), ("outline", True)])]
    assert spec["due"] == "2026-12-24T18:29:30Z"
    assert spec["labels"] == [("Finished", "#31cc7c"), ("To review", "#317ccc")]
    assert spec["assignees"] == [me]  # ana matched by email; bob is not a member
    assert spec["comments"][:2] == [
        "Bob Stone · 2023-11-14T22:15:00Z\n\nLooks good",
        "Ana Lima · 2023-11-14T22:16:40Z\n\nThanks!\nSecond line",
    ]
    note = spec["comments"][2]
    assert note.startswith("Imported from Nextcloud Deck. Not carried over:")
    assert "'Bob Stone' <bob@elsewhere.test>: no workspace member" in note and "'shared.pdf' of type 'file'" in note
    eml = deck.data.boards[0].stacks[0].cards[0].attachments[0]
    assert spec["attachments"] == [
        ("notes.eml", "message/rfc822", len(eml.content), eml.content)
    ]  # deleted one skipped

    busy = todo[0]
    assert busy["description"] == "" and busy["assignees"] == []
    assert len(busy["comments"]) == 58  # 57 over two OCS pages, oldest first, then the note
    assert busy["comments"][0].endswith("comment number 0") and busy["comments"][56].endswith("comment number 56")
    assert "'Cy Hidden' (cy): the source does not show their email" in busy["comments"][57]
    assert "group or circle 'admins'" in busy["comments"][57]

    old = done[1]
    big = deck.data.boards[0].stacks[2].cards[1].attachments[0]
    assert old["attachments"] == [("big.bin", "application/octet-stream", len(big.content), big.content)]  # chunked
    assert old["labels"] == [("Finished", "#31cc7c")]
    assert done[0]["due"] == "2026-01-02T03:04:05Z" and done[0]["description"] == "Done."


def test_plan_counts_equal_the_run(account: Account, deck: Deck, tmp_path: Path) -> None:
    source, boards = read(deck)
    assert [b.title for b in boards] == ["Roadmap ✓", "Side project"]  # the deleted board is not listed
    run = importer(account, tmp_path)
    plan = run.plan(source, boards)
    assert not any(tmp_path.iterdir())  # planning writes nothing
    summary = run.run(source, boards)
    assert [b.to_json()["created"] for b in summary.boards] == [b.to_json()["create"] for b in plan.boards]
    expected = {"board": 2, "label": 3, "column": 4, "card": 5, "label_link": 4, "assignment": 1, "checklist": 1,
                "checklist_item": 2, "comment": 59, "attachment": 2, "note": 2, "archive": 1}  # fmt: skip
    assert {k: v for k, v in plan.totals().items() if v} == expected
    assert plan.mutations == sum(expected.values())


def test_rerun_adds_only_what_is_new_and_reports_changes(account: Account, deck: Deck, tmp_path: Path) -> None:
    board_id = imported_board(account, tmp_path, deck, "10")
    before = snapshot(account.client, board_id)
    source, boards = read(deck, "10")
    again = importer(account, tmp_path).run(source, boards)
    assert sum(again.totals().values()) == 0 and again.boards[0].board_id == board_id
    assert snapshot(account.client, board_id) == before

    card = deck.data.boards[0].stacks[0].cards[0]
    card.title = "Write the spec, v2"  # changed at the source: reported, not overwritten
    card.comments.append(DeckComment(503, "ana", "A new comment", 1_700_000_300))
    card.attachments.append(DeckAttachment(10, "new.txt", b"new file"))
    deck.data.boards[0].stacks[1].cards.append(DeckCard(15, "New card", 0, description="- [ ] one"))
    source, boards = read(deck, "10")
    plan = importer(account, tmp_path).plan(source, boards)
    assert plan.boards[0].changed == [
        "board 'Roadmap ✓': card 'Write the spec, v2' changed at the source since it was imported "
        "(kept as it is in MSKanban)"
    ]
    third = importer(account, tmp_path).run(source, boards)
    assert {k: v for k, v in third.totals().items() if v} == {
        "card": 1, "comment": 1, "attachment": 1, "checklist": 1, "checklist_item": 1
    }  # fmt: skip
    after = snapshot(account.client, board_id)
    spec = after["columns"][0][1][1]
    assert spec["title"] == "Write the spec"
    assert spec["comments"][-1] == "Ana Lima · 2023-11-14T22:18:20Z\n\nA new comment"  # after the note: appended
    assert [a[0] for a in spec["attachments"]] == ["notes.eml", "new.txt"]
    assert after["columns"][1][1][0]["checklists"] == [("Tasks", [("one", False)])]


def _count_everything(snap: dict[str, Any]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _, cards in snap["columns"]:
        for card in cards:
            counts["cards"] += 1
            counts["comments"] += len(card["comments"])
            counts["attachments"] += len(card["attachments"])
            counts["items"] += sum(len(items) for _, items in card["checklists"])
    return counts


@pytest.fixture(scope="module")
def clean_import(account: Account, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What an uninterrupted import of board 20 + the roadmap looks like."""
    from ._deck_server import create_app, sample_deck
    from .conftest import ServerThread

    data = sample_deck()
    data.users["ana"].email = account.email
    with ServerThread(create_app(data)) as server:
        board_id = imported_board(account, tmp_path_factory.mktemp("clean"), Deck(server.url, data), "10")
    return snapshot(account.client, board_id)


@pytest.mark.parametrize("stage", ["sealed", "created", "recorded"])
@pytest.mark.parametrize("at", [1, 2, 3, 5, 8, 13, 30, 70])
def test_a_crash_anywhere_resumes_to_exactly_one_copy(
    account: Account, deck: Deck, tmp_path: Path, clean_import: dict[str, Any], stage: str, at: int
) -> None:
    seen = Counter[str]()

    def crash(reached: str, key: str) -> None:
        seen[reached] += 1
        if reached == stage and seen[reached] == at:
            raise Crash(key)

    source, boards = read(deck, "10")
    with pytest.raises(Crash):
        importer(account, tmp_path, on_stage=crash).run(source, boards)
    with twin(account) as client:  # a new process: it knows only what the journal says
        summary = Importer(client, account.workspace_id, journal_root=tmp_path, limit=None).run(source, boards)
    result = snapshot(account.client, summary.boards[0].board_id)
    assert result == clean_import
    assert _count_everything(result) == _count_everything(clean_import)
    board_titles = [b.title for b in account.client.boards(account.workspace_id) if b.id == summary.boards[0].board_id]
    assert board_titles == ["Roadmap ✓"]


def test_crash_before_the_board_answer_is_recorded_finds_the_board(
    account: Account, deck: Deck, tmp_path: Path
) -> None:
    def crash(reached: str, key: str) -> None:
        if reached == "created" and key == "board:20":
            raise Crash(key)

    source, boards = read(deck, "Side project")
    before = {b.id for b in account.client.boards(account.workspace_id)}
    with pytest.raises(Crash):
        importer(account, tmp_path, on_stage=crash).run(source, boards)
    summary = importer(account, tmp_path).run(source, boards)
    new = {b.id for b in account.client.boards(account.workspace_id)} - before
    assert new == {summary.boards[0].board_id}  # found again by its envelope digest: one board, not two


class DropAfterServer(httpx.BaseTransport):
    """Forwards to the real sandbox, then loses the answer of chosen requests (or answers 503 instead)."""

    def __init__(self, drop: set[int], fail: set[int]) -> None:
        self._real = httpx.HTTPTransport()
        self.drop, self.fail = drop, fail
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            if self.posts in self.fail:
                return httpx.Response(503, json={"error": {"code": "UNAVAILABLE", "message": "try later"}})
            if self.posts in self.drop:
                self._real.handle_request(request).read()  # the server did it…
                raise httpx.RemoteProtocolError("connection dropped", request=request)  # …the answer is lost
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


def test_lost_answers_and_5xx_from_mskanban_are_settled_without_duplicates(
    account: Account, deck: Deck, tmp_path: Path, clean_import: dict[str, Any], sandbox_url: str
) -> None:
    transport = DropAfterServer(drop={1, 4, 9, 30}, fail={2, 12})
    with twin(account, transport) as client:
        source, boards = read(deck, "10")
        sleeps: list[float] = []
        run = Importer(client, account.workspace_id, journal_root=tmp_path, limit=None, sleep=sleeps.append)
        summary = run.run(source, boards)
    backoffs = [s for s in sleeps if s > CREATION_ORDER_SECONDS]  # not the spacing of a card's comments
    assert len(backoffs) == 6  # one backoff per lost answer or 5xx, then settled and retried
    assert snapshot(account.client, summary.boards[0].board_id) == clean_import


def test_attachments_are_listed_only_where_the_stacks_route_does_not_say_none(deck: Deck) -> None:
    """Active stacks give each card's attachment count, archived ones give null: a card counted
    0 costs no request, an uncounted (archived) card and a counted one are listed."""
    read(deck, "10")
    listed = [path for _, path in deck.data.requests if path.endswith("/attachments")]
    assert [path.split("/")[-2] for path in listed] == ["11", "14"]


def test_source_5xx_429_and_timeouts_are_retried(account: Account, deck: Deck, tmp_path: Path) -> None:
    deck.data.fail(r"/stacks$", times=2, status=503)
    deck.data.fail(r"/comments$", times=1, status=429, retry_after="3")
    deck.data.fail(r"/attachments$", times=1, stall=1.0)
    waits: list[float] = []
    source = source_for(deck, sleep=waits.append, timeout=0.3)
    boards = [source.read_board(ref) for ref in source.boards(["10"])]
    assert waits[:2] == [0.5, 1.0] and 3.0 in waits and len(waits) == 4
    assert len(list(boards[0].cards())) == 4


def test_a_source_that_keeps_failing_stops_cleanly_and_a_rerun_resumes(
    account: Account, deck: Deck, tmp_path: Path, clean_import: dict[str, Any]
) -> None:
    source, boards = read(deck, "10")
    deck.data.fail(r"/attachments/9$", times=5, status=502)  # the second attachment's download
    with pytest.raises(TransportError, match=r"Nextcloud Deck GET /boards/10/stacks/6/cards/14/attachments/9: still"):
        importer(account, tmp_path).run(source, boards)
    summary = importer(account, tmp_path).run(source, boards)
    assert snapshot(account.client, summary.boards[0].board_id) == clean_import


def test_malformed_source_json_names_the_route_and_object(account: Account, deck: Deck) -> None:
    deck.data.fail(r"/boards/10/stacks$", body=b'[{"id": 4, "title": "To do", "order": 1, "cards": [{"id": "12"}]}]')
    with pytest.raises(ProtocolError) as caught:
        read(deck, "10")
    assert str(caught.value) == "Nextcloud Deck GET /boards/10/stacks: stack 4: card: 'id' is not an integer"
    bad = b'{"ocs": {"meta": {}, "data": [{"id": 5, "message": 3, "creationDateTime": "2020-01-01T00:00:00+00:00"}]}}'
    deck.data.fail(r"/comments$", body=bad)
    with pytest.raises(ProtocolError) as caught:
        read(deck, "10")
    route = "/ocs/v2.php/apps/deck/api/v1.0/cards/12/comments"
    assert str(caught.value) == f"Nextcloud Deck GET {route}: card 12: comment 5: 'actorId' is not a string"
    deck.data.fail(r"/boards$", body=b"<html>maintenance</html>")
    with pytest.raises(ProtocolError, match=r"^Nextcloud Deck GET /boards: the answer is not JSON$"):
        read(deck)


def test_wrong_credentials_and_invisible_boards(deck: Deck) -> None:
    with pytest.raises(AuthError, match="Nextcloud Deck refused"):
        source_for(deck, "wrong").boards()
    source = source_for(deck)
    with pytest.raises(UsageError, match=r"board 'Nope': no board with this id or title is visible to ana"):
        source.boards(["Nope"])
    with pytest.raises(UsageError, match=r"board '30': no board"):
        source.boards(["30"])  # deleted


def test_the_ocs_header_is_sent(deck: Deck) -> None:
    source = source_for(deck, suffix="/index.php/apps/deck/")  # a URL copied from the browser
    assert source.url == deck.url
    assert [b.key for b in source.boards()] == ["10", "20"]
    bare = httpx.get(deck.url + "/index.php/apps/deck/api/v1.0/boards", auth=("ana", APP_PASSWORD))
    assert bare.status_code == 412  # without OCS-APIRequest Deck refuses


def test_task_lines_and_comment_text() -> None:
    text, lists = split_tasks("a\n- [ ] one\n  * [X] two\nb\n- [] not a task", "7")
    assert text == "a\nb\n- [] not a task"
    assert [(i.key, i.text, i.done) for i in lists[0].items] == [
        ("7:tasks:0", "one", False),
        ("7:tasks:1", "two", True),
    ]
    assert split_tasks("plain", "7") == ("plain", ())
    from mskclient.importers import SourceComment

    assert comment_text(SourceComment("1", "Ana", "2020-03-10T10:23:07Z", "hi")) == "Ana · 2020-03-10T10:23:07Z\n\nhi"


def test_the_journal_holds_no_plaintext_and_is_private(account: Account, deck: Deck, tmp_path: Path) -> None:
    imported_board(account, tmp_path, deck, "10")
    (journal,) = (tmp_path / "imports").iterdir()
    assert journal.stat().st_mode & 0o777 == 0o600 and (tmp_path / "imports").stat().st_mode & 0o777 == 0o700
    text = journal.read_text("utf-8")
    board = deck.data.boards[0]
    secrets = [board.title, deck.url, "Roadmap", "To do", "Finished", "Looks good", "notes.eml", "draft", "Bob Stone"]
    secrets += [c.title for s in board.stacks for c in s.cards]
    assert not [s for s in secrets if s in text]
    assert len(text.splitlines()) == 1 + 83  # header + one line per finished step (intents compacted away)


def test_a_deleted_target_board_is_not_recreated_silently(account: Account, deck: Deck, tmp_path: Path) -> None:
    board_id = imported_board(account, tmp_path, deck, "20")
    account.client.delete_board(board_id)
    source, boards = read(deck, "20")
    with pytest.raises(UsageError, match=rf"earlier import created \({board_id}\) is gone; delete .*jsonl"):
        importer(account, tmp_path).run(source, boards)


@pytest.mark.parametrize(
    "url", ["ftp://cloud.example.org", "cloud.example.org", "https://ana:secret@cloud.example.org"]
)
def test_a_bad_source_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        DeckSource(url, "ana", APP_PASSWORD)
    assert "secret" not in str(caught.value) and "--source-url" in str(caught.value)
