"""The stock-taking reader and the workspace filter, on documents in and out of the server's order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mskclient._errors import ProtocolError
from mskclient.backup._document import DocumentReader
from mskclient.export import ExportParser


def _workspace(ws_id: str, boards: list[dict[str, Any]], *, name_last: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"membership": {"role": "owner"}, "members": [{"userId": "cuser0001"}], "boards": boards}
    return {**entry, "workspace": {"id": ws_id}} if name_last else {"workspace": {"id": ws_id}, **entry}


def _board(board_id: str, cards: list[dict[str, Any]]) -> dict[str, Any]:
    return {"board": {"id": board_id}, "columns": [], "cards": cards, "customFields": []}


def _card(card_id: str, *attachments: tuple[str, int]) -> dict[str, Any]:
    return {"id": card_id, "encTitle": "v1.x", "attachments": [{"id": a, "size": s} for a, s in attachments]}


def _document(*, name_last: bool = False) -> dict[str, Any]:
    return {
        "exportedAt": "2026-12-06T00:00:00Z",
        "user": {"id": "cuser0001", "email": "a@example.test", "publicKey": "k"},
        "kdf": {"salt": "s"},
        "workspaces": [
            _workspace("cws000001", [_board("cboard001", [_card("ccard0001", ("cfile0001", 5))])], name_last=name_last),
            _workspace(
                "cws000002",
                [
                    _board("cboard002", [_card("ccard0002", ("cfile0002", 7)), _card("ccard0003")]),
                    _board("cboard003", []),
                ],
                name_last=name_last,
            ),
            _workspace("cws000003", [], name_last=name_last),
        ],
    }


def _read(document: dict[str, Any], chosen: set[str] | None, chunk: int = 7) -> tuple[DocumentReader, bytes]:
    out: list[bytes] = []
    reader = DocumentReader(chosen, out.append if chosen is not None else None)
    parser = ExportParser(reader)
    text = json.dumps(document).encode()
    for start in range(0, len(text), chunk):
        parser.feed(text[start : start + chunk])
    parser.close()
    reader.finish()
    return reader, b"".join(out)


@pytest.mark.parametrize("name_last", [False, True])
def test_filter_keeps_the_chosen_workspaces_whole(name_last: bool) -> None:
    document = _document(name_last=name_last)
    reader, text = _read(document, {"cws000002", "cws000003"})
    expected = {**document, "workspaces": document["workspaces"][1:]}
    assert json.loads(text) == expected
    assert list(json.loads(text)["workspaces"][0]) == list(expected["workspaces"][0])  # members in the order read
    inventory = reader.inventory
    assert inventory.workspace_ids == ["cws000002", "cws000003"]
    assert (inventory.boards, inventory.cards, inventory.attachments) == (2, 2, {"cfile0002": 7})
    assert inventory.per_board == {"cboard002": (2, 1), "cboard003": (0, 0)}
    assert (inventory.account_id, inventory.account_email, inventory.public_key) == ("cuser0001", "a@example.test", "k")


def test_nothing_chosen_leaves_an_empty_document_that_still_reads() -> None:
    reader, text = _read(_document(), set())
    assert json.loads(text)["workspaces"] == [] and reader.inventory.counts()["workspaces"] == 0


def test_stock_of_the_whole_document_writes_nothing() -> None:
    reader, text = _read(_document(), None, chunk=4096)
    assert text == b"" and reader.inventory.counts() == {"workspaces": 3, "boards": 3, "cards": 3, "attachments": 2}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["workspaces"][1]["boards"][0]["cards"][0]["attachments"][0].update(size=-1),
            "no valid id and size",
        ),
        (lambda d: d["workspaces"][0]["workspace"].update(id="../x"), "not a valid id"),
        (lambda d: d["user"].pop("email"), "export.user: no valid id and email"),
        (lambda d: d["workspaces"][0].pop("workspace"), "a workspace without its `workspace` member"),
    ],
)
def test_bad_documents(change: Any, message: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(ProtocolError, match=message):
        _read(document, {"cws000002"})
