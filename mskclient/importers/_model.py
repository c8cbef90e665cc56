"""The source-neutral picture of a board that every import source produces.

A source reader (Nextcloud Deck, and the same shape fits Kaiten and Codecks) turns
its product's answers into these frozen values; the planner and the runner only
ever see them.  Keys are the source's own ids, prefixed by kind, so they are
stable across runs and never contain user text.  What a reader could not map
goes into `notes`, which the runner writes into the imported board.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

__all__ = [
    "AttachmentOpener",
    "BoardRef",
    "Source",
    "SourceAttachment",
    "SourceBoard",
    "SourceCard",
    "SourceChecklist",
    "SourceChecklistItem",
    "SourceColumn",
    "SourceComment",
    "SourceField",
    "SourceLabel",
    "SourceMilestone",
    "SourceRule",
    "SourceTemplate",
    "SourceUser",
    "SourceWebhook",
]

#: Opens an attachment's content for streaming: yields (binary stream, exact size in bytes).
AttachmentOpener = Callable[[], AbstractContextManager[tuple[BinaryIO, int]]]


@dataclass(frozen=True, slots=True)
class SourceUser:
    key: str
    name: str
    #: The address workspace members are matched by; None when the source does not reveal it.
    email: str | None


@dataclass(frozen=True, slots=True)
class SourceLabel:
    key: str
    name: str
    #: "#rrggbb", lower case.
    color: str


@dataclass(frozen=True, slots=True)
class SourceField:
    """A typed card property of the board (a Kaiten lane or custom property, Codecks' effort…)."""

    key: str
    name: str
    #: One of MSKanban's custom field types: text, number, date, select, checkbox.
    type: str = "text"
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceMilestone:
    key: str
    title: str
    due_at: str | None = None
    archived: bool = False


@dataclass(frozen=True, slots=True)
class SourceComment:
    key: str
    author: str
    #: ISO 8601 in UTC ("2020-03-10T10:23:07Z"): MSKanban stamps the import time, so the
    #: original time travels in the text.
    created_at: str
    text: str
    #: True: the text is carried as it is (a copy between MSKanban workspaces, where the
    #: authorship line an import from another product adds would change the content).
    verbatim: bool = False


@dataclass(frozen=True, slots=True)
class SourceChecklistItem:
    key: str
    text: str
    done: bool


@dataclass(frozen=True, slots=True)
class SourceChecklist:
    key: str
    title: str
    items: tuple[SourceChecklistItem, ...]


@dataclass(frozen=True, slots=True)
class SourceAttachment:
    key: str
    name: str
    mime: str
    #: Size the source announces (the plan's byte count; the upload uses the stream's own size).
    size: int
    open: AttachmentOpener = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SourceCard:
    key: str
    title: str
    #: Markdown, as the card's Yjs description.
    description: str = ""
    #: ISO 8601 instant or None.
    due_at: str | None = None
    archived: bool = False
    label_keys: tuple[str, ...] = ()
    assignees: tuple[SourceUser, ...] = ()
    comments: tuple[SourceComment, ...] = ()
    checklists: tuple[SourceChecklist, ...] = ()
    attachments: tuple[SourceAttachment, ...] = ()
    #: (field key, value as text) for the board's `fields`.
    field_values: tuple[tuple[str, str], ...] = ()
    milestone_key: str | None = None
    #: What the reader could not carry over, one line each (written into the board as a note).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceColumn:
    key: str
    title: str
    cards: tuple[SourceCard, ...]
    wip_limit: int | None = None


@dataclass(frozen=True, slots=True)
class SourceTemplate:
    """A card template of the board (title and Markdown body)."""

    key: str
    title: str
    body: str = ""


@dataclass(frozen=True, slots=True)
class SourceRule:
    """An automation: its trigger and action name entities by journal key ("column:…",
    "label:…") or, for a user, by their MSKanban user id; the runner puts the new ids in."""

    key: str
    name: str
    trigger: tuple[tuple[str, str], ...]
    action: tuple[tuple[str, str], ...]
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class SourceWebhook:
    """A webhook of the board.  Its signing secret is new wherever it is created (the server
    makes it), so the run reports it once."""

    key: str
    url: str
    events: tuple[str, ...]
    active: bool = True


@dataclass(frozen=True, slots=True)
class SourceBoard:
    key: str
    title: str
    archived: bool = False
    labels: tuple[SourceLabel, ...] = ()
    columns: tuple[SourceColumn, ...] = ()
    fields: tuple[SourceField, ...] = ()
    milestones: tuple[SourceMilestone, ...] = ()
    #: The source board's own description (Markdown); notes are appended below it.
    description: str = ""
    templates: tuple[SourceTemplate, ...] = ()
    automations: tuple[SourceRule, ...] = ()
    webhooks: tuple[SourceWebhook, ...] = ()
    #: Board-level facts that could not be carried (they go into the board's description).
    notes: tuple[str, ...] = ()

    def cards(self) -> Iterator[SourceCard]:
        for column in self.columns:
            yield from column.cards


@dataclass(frozen=True, slots=True)
class BoardRef:
    """A source board as listed, before it is read: its source id and title."""

    key: str
    title: str


class Source(Protocol):
    """What the importer needs from a source: read-only, one board at a time."""

    #: The product's name, as shown to users ("Nextcloud Deck").
    name: str
    #: The source's address as the user gave it (normalised): part of the journal's identity.
    url: str

    def boards(self, selectors: Sequence[str] = ()) -> list[BoardRef]:
        """The boards to import: every visible one, or those matching an id or title in `selectors`."""
        ...

    def read_board(self, ref: BoardRef) -> SourceBoard:
        """Read one board completely (attachment contents stay at the source until opened)."""
        ...

    @property
    def requests(self) -> int:
        """Requests sent to the source so far (retries included)."""
        ...

    def close(self) -> None: ...
