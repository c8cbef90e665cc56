"""Typed plaintext models the client returns.

Every text field here is already decrypted (`str`); ciphertext never appears in
a model, so a model can be printed, logged by the user or exported without
leaking envelopes, and cannot be confused with wire data.  Ids are validated
CUIDs; timestamps are the server's ISO 8601 strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import DecryptionError, EnvelopeError

__all__ = [
    "ActivityEvent",
    "Attachment",
    "Automation",
    "Board",
    "Card",
    "CardTemplate",
    "Checklist",
    "ChecklistItem",
    "Column",
    "Comment",
    "CustomField",
    "Delivery",
    "Health",
    "Label",
    "Me",
    "Member",
    "Membership",
    "Milestone",
    "Notification",
    "TotpEnrollment",
    "UNDECRYPTABLE_TEXT",
    "Undecryptable",
    "User",
    "UserLookup",
    "Webhook",
    "Workspace",
    "WsTicket",
]


#: What a field that did not decrypt reads as (the export marks such fields the same way).
UNDECRYPTABLE_TEXT = "⚠ undecryptable"


class Undecryptable(str):
    """Stands in for a text field that did not decrypt, in a lenient read (`Core.lenient_reads`).

    It is a `str` (reading as `UNDECRYPTABLE_TEXT`), so one tampered comment or title
    leaves the rest of a list or card readable, and it is typed: `isinstance(x, Undecryptable)`
    tells a placeholder from text, and `error` names the entity, id and field and why.  The
    client refuses to encrypt it back, so a placeholder never replaces the real ciphertext.
    """

    error: DecryptionError | EnvelopeError

    def __new__(cls, error: DecryptionError | EnvelopeError) -> Undecryptable:
        marker = super().__new__(cls, UNDECRYPTABLE_TEXT)
        marker.error = error
        return marker

    def __getnewargs__(self) -> tuple[DecryptionError | EnvelopeError]:  # type: ignore[override]
        return (self.error,)


@dataclass(frozen=True, slots=True)
class User:
    """The logged-in account (keys stay in the client, never in the model)."""

    id: str
    email: str
    display_name: str | None
    public_key: bytes = field(repr=False)
    totp_enabled: bool


@dataclass(frozen=True, slots=True)
class UserLookup:
    """Another account, as `users/lookup` shows it (for invitations)."""

    id: str
    email: str
    public_key: bytes = field(repr=False)
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Membership:
    workspace_id: str
    role: str


@dataclass(frozen=True, slots=True)
class Me:
    user: User
    memberships: tuple[Membership, ...]


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    name: str
    owner_id: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Member:
    """A workspace member; `fingerprint` is of the public key the server sent."""

    user_id: str
    email: str
    display_name: str | None
    role: str
    public_key: bytes = field(repr=False)
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Board:
    id: str
    workspace_id: str
    title: str
    description: str
    archived: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Column:
    id: str
    board_id: str
    title: str
    position: float
    wip_limit: int | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    board_id: str
    name: str
    color: str | None


@dataclass(frozen=True, slots=True)
class Milestone:
    id: str
    board_id: str
    title: str
    due_at: str | None
    archived: bool


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    card_id: str
    author_id: str
    body: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    id: str
    checklist_id: str
    text: str
    done: bool
    position: float


@dataclass(frozen=True, slots=True)
class Checklist:
    id: str
    card_id: str
    title: str
    position: float
    items: tuple[ChecklistItem, ...]


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    card_id: str
    name: str
    mime: str
    size: int
    created_at: str


@dataclass(frozen=True, slots=True)
class Card:
    """A decrypted card.  `description` is the Markdown text of the Yjs document,
    `description_state` the Yjs state it came from (needed to merge edits)."""

    id: str
    board_id: str
    column_id: str
    position: float
    title: str
    description: str
    description_state: bytes = field(repr=False)
    due_at: str | None = None
    milestone_id: str | None = None
    label_ids: tuple[str, ...] = ()
    assignee_ids: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    archived: bool = False
    version: int = 0
    comment_count: int = 0
    checklist_count: int = 0
    attachment_count: int = 0
    created_at: str = ""
    updated_at: str = ""
    #: Only filled by `card()` (GET /cards/:id); None on list reads.
    comments: tuple[Comment, ...] | None = None
    checklists: tuple[Checklist, ...] | None = None
    attachments: tuple[Attachment, ...] | None = None


@dataclass(frozen=True, slots=True)
class CardTemplate:
    id: str
    board_id: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class CustomField:
    id: str
    board_id: str
    name: str
    type: str
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Automation:
    """`trigger` and `action` hold ids only (the server runs them without keys)."""

    id: str
    board_id: str
    name: str
    trigger: Mapping[str, Any]
    action: Mapping[str, Any]
    enabled: bool


@dataclass(frozen=True, slots=True)
class Webhook:
    """`secret` is set only on the answer to create (the server shows it once)."""

    id: str
    board_id: str
    url: str
    events: tuple[str, ...]
    active: bool
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    webhook_id: str
    verb: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One board event (metadata only: ids, never content)."""

    id: str
    verb: str
    board_id: str
    card_id: str | None
    actor_id: str | None
    timestamp: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    kind: str
    card_id: str | None
    board_id: str | None
    read: bool
    created_at: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    db: str
    redis: str


@dataclass(frozen=True, slots=True)
class WsTicket:
    ticket: str = field(repr=False)
    expires_at: str = ""


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    """The TOTP secret to put into an authenticator app (shown to the user once)."""

    secret: str = field(repr=False)
    otpauth_url: str = field(repr=False)
