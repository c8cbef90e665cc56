"""The write-ahead seam: `on_sealed` announces each create's envelope digest before it is sent,
and `sealed_digests()` finds the entity by it afterwards (what an importer resumes with)."""

from __future__ import annotations

import io

import pytest

from mskclient import Client, NotFoundError, Pacer, UsageError
from mskclient.client import _core, envelope_digest, primed

from .conftest import Account


class _Stream:
    """A non-seekable byte stream (like an HTTP download)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def test_every_create_announces_the_digest_that_finds_it(alice: Account) -> None:
    msk = alice.client
    seen: list[str] = []
    ws = msk.create_workspace("Sealed")
    board = msk.create_board(ws.id, "B", on_sealed=seen.append)
    column = msk.create_column(board.id, "C", on_sealed=seen.append)
    label = msk.create_label(board.id, "L", "#112233", on_sealed=seen.append)
    card = msk.create_card(column.id, "K", "text", on_sealed=seen.append)
    comment = msk.add_comment(card.id, "hi", on_sealed=seen.append)
    checklist = msk.add_checklist(card.id, "T", on_sealed=seen.append)
    item = msk.add_item(checklist.id, "one", on_sealed=seen.append)
    attachment = msk.upload_attachment(card.id, _Stream(b"x" * 70_000), "f.bin", size=70_000, on_sealed=seen.append)  # type: ignore[arg-type]
    found = [
        msk.sealed_digests("board", ws.id),
        msk.sealed_digests("column", board.id),
        msk.sealed_digests("label", board.id),
        msk.sealed_digests("card", board.id),
        msk.sealed_digests("comment", card.id),
        msk.sealed_digests("checklist", card.id),
        msk.sealed_digests("checklistItem", card.id),
        msk.sealed_digests("attachment", card.id),
    ]
    ids = [board.id, column.id, label.id, card.id, comment.id, checklist.id, item.id, attachment.id]
    assert [listing[digest] for listing, digest in zip(found, seen, strict=True)] == ids
    assert len(set(seen)) == len(seen) == 8 and all(len(d) == 64 for d in seen)
    sink = io.BytesIO()
    msk.download_attachment(attachment.id, sink)
    assert sink.getvalue() == b"x" * 70_000


def test_the_same_plaintext_seals_to_another_digest(alice: Account) -> None:
    msk = alice.client
    ws = msk.create_workspace("Twice")
    board = msk.create_board(ws.id, "B")
    first: list[str] = []
    second: list[str] = []
    msk.create_column(board.id, "Same", on_sealed=first.append)
    msk.create_column(board.id, "Same", on_sealed=second.append)
    assert first != second and set(msk.sealed_digests("column", board.id)) == {*first, *second}
    assert envelope_digest("v1.a.b") == envelope_digest("v1.a.b") != envelope_digest("v1.a.c")


def test_a_stream_needs_its_size_and_must_keep_to_it(alice: Account) -> None:
    msk = alice.client
    ws = msk.create_workspace("Streams")
    board = msk.create_board(ws.id, "B")
    card = msk.create_card(msk.create_column(board.id, "C").id, "K")
    with pytest.raises(UsageError, match="seekable file or size="):
        msk.upload_attachment(card.id, _Stream(b"abc"), "a")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="longer than its declared size 3"):
        msk.upload_attachment(card.id, _Stream(b"abcdef"), "a", size=3)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="ended 4 bytes before its declared size 10"):
        msk.upload_attachment(card.id, _Stream(b"abcdef"), "a", size=10)  # type: ignore[arg-type]
    assert msk.attachments(card.id) == []  # the upload broke off: nothing was stored
    with pytest.raises(UsageError, match="unknown kind"):
        msk.sealed_digests("webhook", ws.id)  # a webhook has no envelope


def test_workspaces_templates_and_automations_announce_theirs_too(alice: Account) -> None:
    msk = alice.client
    seen: list[str] = []
    ws = msk.create_workspace("Sealed too", on_sealed=seen.append)
    board = msk.create_board(ws.id, "B")
    column = msk.create_column(board.id, "C")
    template = msk.create_card_template(board.id, "T", "body", on_sealed=seen.append)
    rule = msk.create_automation(
        board.id, "R", {"type": "card.moved", "columnId": column.id}, {"type": "card.assign", "userId": ws.owner_id},
        on_sealed=seen.append,
    )  # fmt: skip
    found = [
        msk.sealed_digests("workspace", ""),
        msk.sealed_digests("cardTemplate", board.id),
        msk.sealed_digests("automation", board.id),
    ]
    assert [listing[digest] for listing, digest in zip(found, seen, strict=True)] == [ws.id, template.id, rule.id]


def test_a_primed_create_seals_at_once_and_is_sent_when_run(alice: Account) -> None:
    msk = alice.client
    board = msk.create_board(msk.create_workspace("Primed").id, "B")
    column = msk.create_column(board.id, "C")
    seen: list[str] = []
    creates = [msk.core.create_card(column.id, f"card {i}", board_id=board.id, on_sealed=seen.append) for i in range(3)]
    ahead = [primed(flow) for flow in creates]
    assert len(seen) == 3 and msk.cards(board.id) == []  # sealed and announced, nothing sent yet
    cards = [msk.run(flow) for flow in ahead]
    assert [c.title for c in cards] == ["card 0", "card 1", "card 2"]
    assert set(msk.sealed_digests("card", board.id)) == set(seen)


def test_a_primed_create_hears_the_failure_of_its_exchange(alice: Account) -> None:
    msk = alice.client
    board = msk.create_board(msk.create_workspace("Primed failure").id, "B")
    flow = primed(msk.core.create_column(board.id, "C"))
    msk.delete_board(board.id)
    with pytest.raises(NotFoundError):
        msk.run(flow)


def test_an_answer_repeating_a_known_description_is_not_opened_again_and_a_new_one_is(
    alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    msk = alice.client
    board = msk.create_board(msk.create_workspace("Descriptions").id, "B")
    card = msk.create_card(msk.create_column(board.id, "C").id, "T", "# Notes\n\nsome *text*", board_id=board.id)
    opened: list[str] = []
    open_bytes = _core.open_bytes
    monkeypatch.setattr(
        _core, "open_bytes", lambda key, obj, name, card_id: opened.append(name) or open_bytes(key, obj, name, card_id)
    )
    edited = msk.edit_card(card.id, title="T2", base=card)
    assert msk.card(card.id).description == edited.description == "# Notes\n\nsome *text*"
    assert opened == []  # the same envelope each time: what it holds is known
    with Client(msk.server, token=msk.token, pacer=Pacer.unlimited()) as other:
        other.use_keys(msk.keys)
        other.edit_card(card.id, description="changed elsewhere")
    opened.clear()
    assert msk.card(card.id).description == "changed elsewhere"
    assert opened == ["encDescription"]
