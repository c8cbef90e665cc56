"""The decrypted export tree: what an exported board holds once its keys opened it.

Writers (JSON, Markdown, CSV, HTML) read only this tree, so every format shows the
same content and the same marks for fields that could not be decrypted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class ExportComment:
    id: str
    author: str
    body: str
    created_at: str


@dataclass(frozen=True, slots=True)
class ExportChecklistItem:
    id: str
    text: str
    done: bool


@dataclass(frozen=True, slots=True)
class ExportChecklist:
    id: str
    title: str
    items: tuple[ExportChecklistItem, ...]


@dataclass(frozen=True, slots=True)
class ExportAttachment:
    """Attachment metadata; `file_key` opens its content, `file` is where it was saved."""

    id: str
    name: str
    mime: str
    size: int
    file_key: FileKey | None = field(default=None, repr=False)
    file: str | None = None


@dataclass(frozen=True, slots=True)
class ExportCard:
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


@dataclass(frozen=True, slots=True)
class ExportColumn:
    id: str
    title: str
    cards: tuple[ExportCard, ...]


@dataclass(frozen=True, slots=True)
class ExportBoard:
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
    def failures(self) -> tuple[FieldFailure, ...]:
        return self.key_failures + tuple(f for b in self.boards for f in b.failures)
