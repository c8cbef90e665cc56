"""ExportChecker: every check and failure of ExportDecryptor, without the cards built."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mskclient._errors import DecryptionError, ProtocolError
from mskclient.crypto import AccountKeys
from mskclient.export import ExportCheck, ExportChecker, ExportResult, decrypt_document
from mskclient.export._stream import replay

from ._build import Built, enc


def _check(built: Built, keys: AccountKeys, *, strict: bool = False) -> ExportCheck:
    checker = ExportChecker(keys, strict=strict)
    replay(built.document, checker)
    return checker.result()


def _same(checked: ExportCheck, decrypted: ExportResult) -> None:
    """The checker found what the decryptor found: failures, boards, cards and attachments."""
    assert checked.failures == decrypted.failures
    assert [(b.id, b.workspace_id, b.title) for b in checked.boards] == [
        (b.id, b.workspace_id, b.title) for b in decrypted.boards
    ]
    cards = [[card for column in b.columns for card in column.cards] for b in decrypted.boards]
    assert [b.cards for b in checked.boards] == [len(c) for c in cards]
    attachments = [[a for card in c for a in card.attachments] for c in cards]
    assert [sorted(b.attachments) for b in checked.boards] == [sorted(a) for a in attachments]


def _flip(envelope: str) -> str:
    head, tail = envelope.rsplit(".", 1)
    return f"{head}.{tail[:5]}{'B' if tail[5] == 'A' else 'A'}{tail[6:]}"


def _tampered_title(built: Built) -> None:
    built.card("c2")["encTitle"] = _flip(built.card("c2")["encTitle"])


def _swapped_fields(built: Built) -> None:
    card, column = built.card("c1"), built.board()["columns"][1]
    card["encTitle"], column["encTitle"] = column["encTitle"], card["encTitle"]
    built.card("c2")["comments"][0]["encBody"] = built.card("c3")["encTitle"]


def _not_yjs(built: Built) -> None:
    built.card("c2")["encDescription"] = enc(built.board_key, "card", "encDescription", b"\xff\x00not yjs")


def _not_utf8(built: Built) -> None:
    built.card("c2")["checklists"][0]["items"][0]["encText"] = enc(
        built.board_key, "checklistItem", "encText", b"\xff\xfe"
    )


def _short_file_key(built: Built) -> None:
    card = next(c for c in built.board()["cards"] if c["attachments"])
    card["attachments"][0]["encFileKey"] = enc(built.board_key, "attachment", "encFileKey", b"short")


def _board_key(built: Built) -> None:
    board = built.board()["board"]
    board["encBoardKey"] = _flip(board["encBoardKey"])


@pytest.mark.parametrize(
    "damage", [None, _tampered_title, _swapped_fields, _not_yjs, _not_utf8, _short_file_key, _board_key]
)
def test_the_checker_finds_what_the_decryptor_finds(
    built: Built, keys: AccountKeys, damage: Callable[[Built], None] | None
) -> None:
    if damage is not None:
        damage(built)
    checked = _check(built, keys)
    _same(checked, decrypt_document(built.document, keys))
    assert bool(checked.failures) == (damage is not None)
    if damage is None:
        assert any(b.attachments and all(a.file_key is not None for a in b.attachments) for b in checked.boards)


@pytest.mark.parametrize(
    ("where", "value"),
    [("id", "../../admin"), ("columnId", "cunknowncolumn"), ("labelIds", ["BAD"]), ("archived", "yes"),
     ("position", "first"), ("comments", {"not": "a list"})],
)  # fmt: skip
def test_a_malformed_card_is_refused_as_the_decryptor_refuses_it(
    built: Built, keys: AccountKeys, where: str, value: Any
) -> None:
    built.card("c1")[where] = value
    with pytest.raises(ProtocolError) as decrypting:
        decrypt_document(built.document, keys)
    with pytest.raises(ProtocolError) as checking:
        _check(built, keys)
    assert str(checking.value) == str(decrypting.value)


def test_strict_raises_the_first_failure(built: Built, keys: AccountKeys) -> None:
    _not_yjs(built)
    with pytest.raises(DecryptionError) as info:
        _check(built, keys, strict=True)
    assert (info.value.entity, info.value.field) == ("card", "encDescription")
