"""The decrypted export tree: what an exported board holds once its keys opened it.

Writers (JSON, Markdown, CSV, HTML) read only this tree, so every format shows the
same content and the same marks for fields that could not be decrypted.  Its nodes are
NamedTuples: a 2,000-card board builds some 14,000 of them, and a tuple is made three to
four times faster than a frozen dataclass (whose `__init__` sets each field through
`object.__setattr__`).  Change one with `node._replace(...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

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


class ExportColumn(NamedTuple):
    id: str
    title: str
    cards: tuple[ExportCard, ...]


class ExportBoard(NamedTuple):
    id: str
    workspace_id: str
    title: str
    description: str
    archived: bool
    columns: tuple[ExportColumn, ...]
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
