"""The decrypted export tree: what an exported board holds once its keys opened it.

Writers (JSON, Markdown, CSV, HTML) read only this tree, so every format shows the
same content and the same marks for fields that could not be decrypted.  Its nodes are
NamedTuples: a 2,000-card board builds some 14,000 of them, and a tuple is made three to
four times faster than a frozen dataclass (whose `__init__` sets each field through
`object.__setattr__`).  Change one with `node._replace(...)`.

A decrypted column keeps its cards packed (`CardList`): each card's values in one
`marshal` string, some 500 bytes where its seven nodes and their strings took 2 KB, and
unpacked into nodes only while a writer reads it.  So a 10,000-card board fits in a few
megabytes however many formats are written from it.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

from ..crypto import FileKey

__all__ = [
    "UNDECRYPTABLE",
    "ExportAttachment",
    "ExportBoard",
    "ExportCard",
    "ExportChecklist",
    "ExportChecklistItem",
    "ExportColumn",
    "ExportComment",
    "ExportResult",
    "FieldFailure",
    "CardList",
    "CheckedBoard",
    "PackedCard",
    "pack",
    "replace_nodes",
    "unpack",
]

#: Put in place of any text that did not decrypt, so the gap is visible in every format.
UNDECRYPTABLE = "⚠ undecryptable"


@dataclass(frozen=True, slots=True)
class FieldFailure:
    """One field that did not decrypt: where it is and why (never any key or plaintext)."""

    board_id: str
    entity: str
    entity_id: str | None
    field: str
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "boardId": self.board_id,
            "entity": self.entity,
            "id": self.entity_id,
            "field": self.field,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        return f"board {self.board_id}: {self.entity} {self.entity_id} field {self.field}: {self.reason}"


class ExportComment(NamedTuple):
    id: str
    author: str
    body: str
    created_at: str


class ExportChecklistItem(NamedTuple):
    id: str
    text: str
    done: bool


class ExportChecklist(NamedTuple):
    id: str
    title: str
    items: tuple[ExportChecklistItem, ...]


class ExportAttachment(NamedTuple):
    """Attachment metadata; `file_key` opens its content, `file` is where it was saved."""

    id: str
    name: str
    mime: str
    size: int
    file_key: FileKey | None = None
    file: str | None = None


class ExportCard(NamedTuple):
    id: str
    title: str
    description: str
    labels: tuple[str, ...]
    assignees: tuple[str, ...]
    milestone: str | None
    due_at: str | None
    custom_fields: Mapping[str, str]
    comments: tuple[ExportComment, ...]
    checklists: tuple[ExportChecklist, ...]
    attachments: tuple[ExportAttachment, ...]
    archived: bool


#: A card's values for `marshal`: ExportCard's fields in order, its nodes as plain tuples.
PackedCard = tuple[
    str,
    str,
    str,
    tuple[str, ...],
    tuple[str, ...],
    str | None,
    str | None,
    dict[str, str],
    tuple[tuple[str, str, str, str], ...],
    tuple[tuple[str, str, tuple[tuple[str, str, bool], ...]], ...],
    tuple[()],
    bool,
]


def pack(card: PackedCard) -> bytes:
    """A card without attachments (whose file keys are objects) packed for a `CardList`."""
    return marshal.dumps(card)


def unpack(card: bytes | ExportCard) -> ExportCard:
    """The node of a packed card (a node is returned as it is)."""
    if not isinstance(card, bytes):
        return card
    # bytes this process packed, never read from outside
    packed: PackedCard = marshal.loads(card)  # noqa: S302
    cid, title, description, labels, assignees, milestone, due_at, fields, comments, checklists, _, archived = packed
    return ExportCard(
        cid,
        title,
        description,
        labels,
        assignees,
        milestone,
        due_at,
        fields,
        tuple([ExportComment._make(comment) for comment in comments]),
        tuple(
            [
                ExportChecklist(checklist_id, checklist_title, tuple([ExportChecklistItem._make(i) for i in items]))
                for checklist_id, checklist_title, items in checklists
            ]
        ),
        (),
        archived,
    )


class CardList(Sequence[ExportCard]):
    """A column's cards, each packed (`pack`) or a node: a node is made each time a card is read."""

    __slots__ = ("_cards",)

    def __init__(self, cards: Iterable[bytes | ExportCard]) -> None:
        self._cards = tuple(cards)

    def __len__(self) -> int:
        return len(self._cards)

    @overload
    def __getitem__(self, index: int) -> ExportCard: ...

    @overload
    def __getitem__(self, index: slice) -> CardList: ...

    def __getitem__(self, index: int | slice) -> ExportCard | CardList:
        if isinstance(index, slice):
            return CardList(self._cards[index])
        return unpack(self._cards[index])

    def __iter__(self) -> Iterator[ExportCard]:
        return map(unpack, self._cards)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CardList({list(self)!r})"


def replace_nodes(cards: Sequence[ExportCard], change: Callable[[ExportCard], ExportCard]) -> CardList:
    """`cards` with `change` applied to each card held as a node; packed ones (which have no
    attachments) are kept packed."""
    held: Iterable[bytes | ExportCard] = cards._cards if isinstance(cards, CardList) else cards
    return CardList([card if isinstance(card, bytes) else change(card) for card in held])


class ExportColumn(NamedTuple):
    id: str
    title: str
    cards: Sequence[ExportCard]


class ExportBoard(NamedTuple):
    id: str
    workspace_id: str
    title: str
    description: str
    archived: bool
    columns: tuple[ExportColumn, ...]
    failures: tuple[FieldFailure, ...] = ()


class CheckedBoard(NamedTuple):
    """A board whose every field was opened and checked, its cards counted, not kept (a verify's need)."""

    id: str
    workspace_id: str
    title: str
    cards: int
    #: Every attachment of its cards, in document order, with the file key that opens its content.
    attachments: tuple[ExportAttachment, ...]
    failures: tuple[FieldFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Every exported board, and every field failure across them."""

    exported_at: str
    boards: tuple[ExportBoard, ...]
    #: Failures outside any one board's content (a workspace or board key that did not open).
    key_failures: tuple[FieldFailure, ...] = ()

    @property
    def card_count(self) -> int:
        return sum(len(column.cards) for board in self.boards for column in board.columns)

    @property
    def failures(self) -> tuple[FieldFailure, ...]:
        return self.key_failures + tuple(f for b in self.boards for f in b.failures)
