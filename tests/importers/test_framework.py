"""The framework with a source of another shape (as Kaiten and Codecks need): typed fields,
milestones, sub-columns, attachments of any stream, what cannot be carried, crash and resume."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest

from mskclient import Client, Pacer
from mskclient.client import envelope_digest
from mskclient.importers import (
    BoardRef,
    Importer,
    SourceAttachment,
    SourceBoard,
    SourceCard,
    SourceChecklist,
    SourceChecklistItem,
    SourceColumn,
    SourceField,
    SourceLabel,
    SourceMilestone,
)
from mskclient.importers import SourceComment as Comment

from .conftest import Account


class MemorySource:
    """A source whose boards are already in memory."""

    name = "Memory"
    url = "memory://tests"
    requests = 0

    def __init__(self, boards: Sequence[SourceBoard]) -> None:
        self._boards = {b.key: b for b in boards}

    def boards(self, selectors: Sequence[str] = ()) -> list[BoardRef]:
        return [BoardRef(b.key, b.title) for b in self._boards.values() if not selectors or b.key in selectors]

    def read_board(self, ref: BoardRef) -> SourceBoard:
        return self._boards[ref.key]

    def close(self) -> None:
        pass


def _file(data: bytes) -> Any:
    @contextlib.contextmanager
    def open_content() -> Iterator[tuple[BinaryIO, int]]:
        yield io.BytesIO(data), len(data)

    return open_content


def sample_board(key: str = "k1") -> SourceBoard:
    lane = SourceField("lane", "Lane", "select", ("Expedite", "Normal"))
    size = SourceField("size", "Size", "number")
    card = SourceCard(
        "c1",
        "Typed card",
        "Body",
        due_at="2026-03-01T12:00:00Z",
        label_keys=("blocked",),
        comments=(Comment("x1", "Kim", "2026-01-01T00:00:00Z", "first"),),
        checklists=(SourceChecklist("l1", "Steps", (SourceChecklistItem("i1", "a", True),)),),
        attachments=(SourceAttachment("f1", "a.txt", "text/plain", 3, _file(b"abc")),),
        field_values=(("lane", "Expedite"), ("size", "3"), ("gone", "x")),
        milestone_key="m1",
    )
    blocked = SourceLabel("blocked", "Blocked", "#ff0000")
    return SourceBoard(
        key,
        "Typed board",
        labels=(blocked,),
        columns=(
            SourceColumn("col1", "Doing", ()),
            SourceColumn("col1.1", "Doing › Review", (card, SourceCard("c2", "Plain", milestone_key="m0"))),
        ),
        fields=(lane, size),
        milestones=(
            SourceMilestone("m1", "Alpha", "2026-05-01T00:00:00Z"),
            SourceMilestone("m0", "Old", archived=True),
        ),
        notes=("card types (no such thing in MSKanban)",),
    )


def snapshot(client: Client, board_id: str) -> dict[str, Any]:
    fields = {f.id: (f.name, f.type, f.options) for f in client.custom_fields(board_id)}
    milestones = {m.id: (m.title, m.due_at, m.archived) for m in client.milestones(board_id, archived=True)}
    cards = []
    for listed in client.cards(board_id):
        card = client.card(listed.id)
        cards.append(
            (
                card.title,
                card.due_at,
                sorted((fields[k][0], v) for k, v in card.custom_fields.items()),
                milestones.get(card.milestone_id or ""),
                [c.body for c in card.comments or ()],
                [(a.name, a.size) for a in card.attachments or ()],
                [(cl.title, [(i.text, i.done) for i in cl.items]) for cl in card.checklists or ()],
            )
        )
    return {
        "columns": [c.title for c in client.columns(board_id)],
        "fields": sorted(fields.values()),
        "milestones": sorted(milestones.values(), key=str),
        "cards": cards,
        "description": client.board(board_id).description,
    }


def run(client: Client, account: Account, root: Path, board: SourceBoard, **kwargs: Any) -> Any:
    importer = Importer(client, account.workspace_id, journal_root=root, limit=None, **kwargs)
    return importer, importer.run(MemorySource([board]), [board])


def test_fields_milestones_and_sub_columns_round_trip(account: Account, tmp_path: Path) -> None:
    board = sample_board()
    plan = Importer(account.client, account.workspace_id, journal_root=tmp_path, limit=None).plan(
        MemorySource([board]), [board]
    )
    _, summary = run(account.client, account, tmp_path, board)
    assert summary.totals() == plan.totals()
    assert {k: v for k, v in plan.totals().items() if v} == {
        "board": 1, "label": 1, "custom_field": 2, "milestone": 2, "column": 2, "card": 2, "label_link": 1,
        "field_values": 1, "milestone_link": 2, "checklist": 1, "checklist_item": 1, "comment": 1, "attachment": 1,
        "note": 1, "archive": 1,
    }  # fmt: skip
    got = snapshot(account.client, summary.boards[0].board_id)
    assert got["columns"] == ["Doing", "Doing › Review"]
    assert got["fields"] == [("Lane", "select", ("Expedite", "Normal")), ("Size", "number", ())]
    assert got["milestones"] == [("Alpha", "2026-05-01T00:00:00Z", False), ("Old", None, True)]
    typed, plain = got["cards"]
    assert typed[:4] == ("Typed card", "2026-03-01T12:00:00Z", [("Lane", "Expedite"), ("Size", "3")],
                         ("Alpha", "2026-05-01T00:00:00Z", False))  # fmt: skip
    assert typed[4][0] == "Kim · 2026-01-01T00:00:00Z\n\nfirst"
    assert "a value of the unknown field gone" in typed[4][1]
    assert typed[5:] == ([("a.txt", 3)], [("Steps", [("a", True)])])
    assert plain[3] == ("Old", None, True)
    assert "card types (no such thing in MSKanban)" in got["description"]
    assert any("unknown field gone" in w for w in summary.boards[0].warnings)


@pytest.mark.parametrize("at", [1, 3, 5, 7, 9, 11, 13])
@pytest.mark.parametrize("stage", ["sealed", "created"])
def test_crash_and_resume_in_another_process(account: Account, tmp_path: Path, stage: str, at: int) -> None:
    board = sample_board(f"crash-{stage}-{at}")
    with Client(account.client.server, token=account.client.token, pacer=Pacer.unlimited()) as first:
        first.use_keys(account.client.keys)
        seen = Counter[str]()

        def crash(reached: str, key: str) -> None:
            seen[reached] += 1
            if reached == stage and seen[reached] == at:
                raise KeyboardInterrupt(key)

        with pytest.raises(KeyboardInterrupt):
            run(first, account, tmp_path, board, on_stage=crash)
    with Client(account.client.server, token=account.client.token, pacer=Pacer.unlimited()) as second:
        second.use_keys(account.client.keys)
        _, summary = run(second, account, tmp_path, board)
        _, again = run(second, account, tmp_path, board)
    assert sum(again.totals().values()) == 0
    clean_root = tmp_path / "clean"
    _, clean = run(account.client, account, clean_root, sample_board(f"clean-{stage}-{at}"))
    assert snapshot(account.client, summary.boards[0].board_id) == snapshot(account.client, clean.boards[0].board_id)


class DurableBeforeSent(httpx.BaseTransport):
    """Forwards to the real sandbox, checking first that a create's write-ahead intent (the
    digest of its identifying envelope) is already in the part of the journal that was synced."""

    ENVELOPES = ("encTitle", "encName", "encBody", "encText")

    def __init__(self, journals: Path, synced: dict[int, int]) -> None:
        self._real = httpx.HTTPTransport()
        self._journals = journals
        self._synced = synced
        self.creates = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.headers.get("content-type") == "application/json":
            body = json.loads(request.read())
            envelope = next((body[name] for name in self.ENVELOPES if name in body), None)
            if envelope is not None:
                self.creates += 1
                (journal,) = self._journals.glob("imports/*.jsonl")
                durable = journal.read_bytes()[: self._synced.get(journal.stat().st_ino, 0)]
                assert envelope_digest(envelope).encode() in durable, f"{request.url.path}: sent before it was synced"
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


def test_a_cards_comments_are_spread_over_a_round_so_none_waits_and_each_keeps_its_order(
    account: Account, tmp_path: Path
) -> None:
    """The server lists a card's comments by creation time in milliseconds: sent one right
    after the other they would wait for that time to pass; every card's first comment goes
    before any card's second, so nothing waits, and each card's comments stay in order."""
    cards = [
        SourceCard(
            f"c{i}",
            f"Card {i}",
            comments=tuple(Comment(f"x{i}-{j}", "Kim", f"2026-01-01T00:0{j}:00Z", f"comment {j}") for j in range(3)),
            notes=("a note after the comments",) if i % 2 else (),
        )
        for i in range(12)
    ]
    board = SourceBoard("spread", "Spread", columns=(SourceColumn("todo", "To do", tuple(cards)),))
    sleeps: list[float] = []
    _, summary = run(account.client, account, tmp_path, board, sleep=sleeps.append)
    assert sleeps == []
    board_id = summary.boards[0].board_id
    for listed in account.client.cards(board_id):
        card = account.client.card(listed.id)
        bodies = [comment.body.rsplit("\n", 1)[-1] for comment in card.comments or ()]
        note = ["- a note after the comments"] if int(card.title.split()[1]) % 2 else []
        assert bodies == ["comment 0", "comment 1", "comment 2", *note], card.title


def test_every_create_is_durable_in_the_journal_before_it_is_sent_and_a_round_shares_one_fsync(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: dict[int, int] = {}
    fsyncs = 0
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        nonlocal fsyncs
        fsyncs += 1
        real_fsync(fd)
        stat = os.fstat(fd)
        synced[stat.st_ino] = stat.st_size

    monkeypatch.setattr(os, "fsync", fsync)

    def card(i: int) -> SourceCard:
        comments = tuple(Comment(f"x{i}-{j}", "Kim", "2026-01-01T00:00:00Z", f"note {j}") for j in range(2))
        items = tuple(SourceChecklistItem(f"i{i}-{k}", f"step {k}", k == 0) for k in range(3))
        checklist = SourceChecklist(f"l{i}", "Steps", items)
        return SourceCard(f"c{i}", f"Card {i}", comments=comments, checklists=(checklist,))

    cards = [card(i) for i in range(40)]
    board = SourceBoard("durable", "Durable", columns=(SourceColumn("todo", "To do", tuple(cards)),))
    transport = DurableBeforeSent(tmp_path, synced)
    server, token = account.client.server, account.client.token
    with Client(server, token=token, pacer=Pacer.unlimited(), transport=transport) as client:
        client.use_keys(account.client.keys)
        _, summary = run(client, account, tmp_path, board)
    creates = 2 + 40 * (1 + 2 + 1 + 3)  # board, column; per card itself, 2 comments, a checklist, 3 items
    assert sum(summary.totals().values()) == creates == transport.creates
    assert fsyncs <= 12  # rounds of up to 64 sealed creates, not one fsync per create (282 of them)
