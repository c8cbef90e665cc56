"""The MSKanban wire profile: every protocol choice the client makes, in one place.

`docs/protocol.md` describes the protocol these values fix; pointing mskclient at a
server that differs should be an edit to this module only.  Choices the
profile leaves open are marked "profile choice" with the reason (all listed
in `docs/protocol.md#choices`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ANSWER_DEADLINE_SECONDS",
    "CREATION_ORDER_SECONDS",
    "ANSWER_MAX_ATTACHMENT",
    "ANSWER_MAX_LIST",
    "ANSWER_MAX_OBJECT",
    "API_PREFIX",
    "AUTOMATION_ACTIONS",
    "AUTOMATION_TRIGGERS",
    "ARGON2_VERSION",
    "ATTACHMENT_CHUNK_SIZE",
    "ATTACHMENT_MAX_CIPHERTEXT",
    "DEFAULT_LABEL_COLOR",
    "AWARENESS_RENEW_SECONDS",
    "COMPLETION_AD_PREFIX",
    "COMPLETION_CACHE_SECONDS",
    "COMPLETION_KEY_INFO",
    "CUSTOM_FIELD_TYPES",
    "DELIVERY_ID_PATTERN",
    "ENVELOPE_MAX_CHARS",
    "ENVELOPE_VERSION",
    "FIELDS",
    "ID_PATTERN",
    "KDF_CAPS",
    "KDF_MINIMUM",
    "KDF_DEFAULT",
    "KDF_DEFAULT_SECONDS",
    "KDF_CONTEXT_AUTH",
    "KDF_CONTEXT_MASTER",
    "KDF_SUBKEY_ID",
    "KdfParams",
    "LOGIN_BACKOFF_AFTER",
    "PASSWORD_MIN_CHARS",
    "PASSWORD_MIN_SCORE",
    "KeyRole",
    "FieldSpec",
    "RATE_LIMITS",
    "ROLES",
    "RELAY_AD_PREFIX",
    "RELAY_CLOSE_BAD_TICKET",
    "RELAY_CLOSE_FORBIDDEN",
    "RELAY_CLOSE_TOO_BIG",
    "RELAY_CLOSE_UNSUPPORTED",
    "RELAY_MAX_FRAME",
    "RELAY_MAX_TEXT_FRAME",
    "RELAY_READ_ONLY_ROLES",
    "SALT_BYTES",
    "SESSION_COOKIE",
    "SSE_HEARTBEAT_SECONDS",
    "TICKET_TTL_SECONDS",
    "TOTP_DIGITS",
    "TOTP_PERIOD",
    "TOTP_SKEW_STEPS",
    "UNLOCK_AD_PREFIX",
    "UNLOCK_KEY_INFO",
    "UNLOCK_MAX_SECONDS",
    "WEBHOOK_EVENTS",
    "WEBHOOK_RETRY_SCHEDULE",
    "WEBHOOK_TOLERANCE_SECONDS",
    "ERROR_STATUS",
    "EXPORT_DEADLINE_SECONDS",
    "EXPORT_MAX_VALUE",
    "EXPORT_PER_CARD_BUDGET",
    "JSON_MAX_DEPTH",
    "SSE_MAX_EVENT_CHARS",
    "field",
    "is_valid_delivery_id",
    "is_valid_id",
    "relay_ad",
]

# --- HTTP ---------------------------------------------------------------------------
API_PREFIX: Final = "/api"
SESSION_COOKIE: Final = "msk_session"
ID_PATTERN: Final = re.compile(r"c[a-z0-9]{7,63}")
# Profile choice: a webhook delivery's id is the ULID of its X-MSKanban-Delivery-Id header (docs/protocol.md#webhooks)
# in canonical form (26 upper-case Crockford base32 symbols), also in /webhooks/deliveries/:id.
DELIVERY_ID_PATTERN: Final = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")

#: Error codes of the public page and their HTTP status.
ERROR_STATUS: Final[dict[str, int]] = {
    "BAD_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "TOTP_REQUIRED": 401,
    "INVALID_TOTP": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    "METHOD_NOT_ALLOWED": 405,  # profile choice: a known path with another method (sandbox)
    "NOT_IMPLEMENTED": 501,  # profile choice: WebAuthn routes of the sandbox
    "INTERNAL": 500,
}


def is_valid_id(value: object) -> bool:
    """True for a CUID of the profile (`^c[a-z0-9]{7,63}$`)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def is_valid_delivery_id(value: object) -> bool:
    """True for a webhook delivery id (a canonical ULID)."""
    return isinstance(value, str) and DELIVERY_ID_PATTERN.fullmatch(value) is not None


#: Profile choice: the server stamps creations in milliseconds and lists a card's comments,
#: labels and assignees by that stamp, then by their random ids: two created within one
#: millisecond may show in either order.  A bulk writer (import, restore, re-key) sends each of
#: a card's comments (labels, assignees) at least this long after the previous one's answer
#: came, so the server's clock has moved on and they show in the order they were sent.
CREATION_ORDER_SECONDS: Final = 0.002

#: (limit, window seconds) per group, as on the public page.
RATE_LIMITS: Final[dict[str, tuple[int, int]]] = {
    "login": (10, 60),  # per IP
    "register": (5, 3600),  # per IP
    "mutation": (60, 60),  # per user
    "read": (600, 60),  # per user
    # profile choice: /users/lookup answers whether an account exists (login-init hides it), so
    # a logged-in user may ask only this often, enough to invite people, too slow to enumerate.
    "lookup": (30, 3600),  # per user
}
#: Failed logins per account before exponential backoff starts.
LOGIN_BACKOFF_AFTER: Final = 3

# --- Bounds on what the server sends (profile choice: the profile sets none; a client that ---
# --- must survive a hostile server needs its own, each far above what an honest one sends) ---
_MiB: Final = 1024 * 1024
#: One resource (an entity, an error, login): a few fields at the envelope maximum (4 MiB each).
ANSWER_MAX_OBJECT: Final = 16 * _MiB
#: A list route, or a card with its comments, checklists and attachments: tens of thousands
#: of entities, while parsing it stays within a few hundred MB of memory.
ANSWER_MAX_LIST: Final = 128 * _MiB
#: The streamed `/me/export` has no total bound (it is parsed as it arrives); each value the
#: parser must hold whole (a card with its children, a workspace's members) is a list's worth.
EXPORT_MAX_VALUE: Final = ANSWER_MAX_LIST
#: Every request ends within this many seconds, whatever the read timeout lets through (a
#: server sending one byte every few seconds): the largest list at 1 MB/s takes about 2 minutes.
ANSWER_DEADLINE_SECONDS: Final = 300.0
#: The streamed `/me/export` may carry every board of a large account: an hour, not for ever.
EXPORT_DEADLINE_SECONDS: Final = 3600.0
#: Profile-shaped JSON nests a handful of levels (export → workspace → board → card → checklist
#: → item, plus free-form metadata); deeper is refused before any recursive walk meets it.
JSON_MAX_DEPTH: Final = 64
#: One SSE line, and one event's data, in characters: a tick is a few hundred of ids and metadata.
SSE_MAX_EVENT_CHARS: Final = 64 * 1024

# --- Key derivation (docs/protocol.md#kdf) -----------------------------------------------
SALT_BYTES: Final = 16
ARGON2_VERSION: Final = 19
KDF_SUBKEY_ID: Final = 1
KDF_CONTEXT_AUTH: Final = b"msk-auth"
KDF_CONTEXT_MASTER: Final = b"msk-mstr"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost parameters as login-init announces them."""

    memory_kib: int
    iterations: int
    parallelism: int
    algorithm: str = "argon2id"
    version: int = ARGON2_VERSION

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm": self.algorithm,
            "memoryKiB": self.memory_kib,
            "iterations": self.iterations,
            "parallelism": self.parallelism,
            "version": self.version,
        }


KDF_DEFAULT: Final = KdfParams(memory_kib=65536, iterations=3, parallelism=4)
KDF_MINIMUM: Final = KdfParams(memory_kib=65536, iterations=3, parallelism=1)
#: Above these the client refuses too, so a server cannot exhaust its memory or time.  Profile
#: choice: Bitwarden's own bounds for Argon2id (memory at most 1 GiB, at most 10 iterations, at
#: most 16 lanes), so a login costs at most ~50 times the default, never minutes.
KDF_CAPS: Final = KdfParams(memory_kib=1_048_576, iterations=10, parallelism=16)
#: Profile choice: seconds the default derivation takes on a modest 2-core machine (measured:
#: 0.3 s), the unit of the estimate shown before a costlier one.
KDF_DEFAULT_SECONDS: Final = 0.3

# --- New passwords (profile choice: the profile leaves password policy to clients) ---------
#: The password is all that stands between the server and an offline guess of the keys, so a
#: new one (register, recover) needs at least this many characters (NIST SP 800-63B's 8, raised
#: because a guess here costs the attacker only one Argon2id run, with no rate limit)...
PASSWORD_MIN_CHARS: Final = 12
#: ...and at least this zxcvbn score (0-4; 3 = "safely unguessable: moderate protection from an
#: offline slow-hash scenario", which is exactly the attack the password must resist).
PASSWORD_MIN_SCORE: Final = 3

# --- Envelopes (docs/protocol.md#envelopes) ----------------------------------------------
ENVELOPE_VERSION: Final = "v1"
#: A field longer than this is refused before any decoding (4 MiB).
ENVELOPE_MAX_CHARS: Final = 4 * 1024 * 1024


class KeyRole(enum.Enum):
    """Which key of the hierarchy (docs/protocol.md#keys) protects a field."""

    MASTER = "masterKey"
    USER = "userKey"
    RECOVERY = "recoveryKey"
    WORKSPACE = "workspaceKey"
    BOARD = "boardKey"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One row of the profile's field table (docs/protocol.md#fields)."""

    entity: str
    name: str
    key: KeyRole
    ad: bytes


def _fields(*rows: tuple[str, str, KeyRole, str]) -> dict[tuple[str, str], FieldSpec]:
    return {(e, n): FieldSpec(e, n, k, ad.encode("ascii")) for e, n, k, ad in rows}


_M, _U, _R, _W, _B = KeyRole.MASTER, KeyRole.USER, KeyRole.RECOVERY, KeyRole.WORKSPACE, KeyRole.BOARD

#: The field table (docs/protocol.md#fields), keyed by (entity, JSON field name).
FIELDS: Final[dict[tuple[str, str], FieldSpec]] = _fields(
    ("user", "encSymmetricKey", _M, "msk1:user.symmetricKey"),
    ("user", "encPrivateKey", _U, "msk1:user.privateKey"),
    ("user", "encRecoveryBlob", _R, "msk1:user.recovery"),
    ("workspace", "encName", _W, "msk1:workspace.name"),
    ("board", "encBoardKey", _W, "msk1:board.key"),
    ("board", "encTitle", _B, "msk1:board.title"),
    ("board", "encDescription", _B, "msk1:board.description"),
    ("column", "encTitle", _B, "msk1:column.title"),
    ("card", "encTitle", _B, "msk1:card.title"),
    ("card", "encDescription", _B, "msk1:card.description"),
    ("card", "customFields", _B, "msk1:custom-field.value"),
    ("label", "encName", _B, "msk1:label.name"),
    ("milestone", "encTitle", _B, "msk1:milestone.title"),
    ("comment", "encBody", _B, "msk1:comment.body"),
    ("checklist", "encTitle", _B, "msk1:checklist.title"),
    ("checklistItem", "encText", _B, "msk1:checklist-item.text"),
    ("cardTemplate", "encTitle", _B, "msk1:card-template.title"),
    ("cardTemplate", "encBody", _B, "msk1:card-template.body"),
    ("customField", "encName", _B, "msk1:custom-field.name"),
    ("customField", "encOptions", _B, "msk1:custom-field.options"),
    ("attachment", "encName", _B, "msk1:attachment.name"),
    ("attachment", "encMime", _B, "msk1:attachment.mime"),
    ("attachment", "encFileKey", _B, "msk1:attachment.key"),
    ("automation", "encName", _B, "msk1:automation.name"),
)


def field(entity: str, name: str) -> FieldSpec:
    """The field-table row for `entity.name`; KeyError for a field the profile lacks."""
    return FIELDS[(entity, name)]


#: Profile choice: labels need a colour (`label {boardId, encName, color}`); the
#: client uses this neutral grey when the caller names none.
DEFAULT_LABEL_COLOR: Final = "#8b949e"

# --- Resource enumerations (docs/protocol.md#resources) ------------------------------------
#: A member's role in a workspace, from the most to the least powerful.
ROLES: Final = ("owner", "admin", "member", "observer")
#: The `type` of a board's custom field.
CUSTOM_FIELD_TYPES: Final = ("text", "number", "date", "select", "checkbox")

# --- Attachments (docs/protocol.md#attachments) ------------------------------------------
ATTACHMENT_CHUNK_SIZE: Final = 65536
ATTACHMENT_MAX_CIPHERTEXT: Final = 25 * 1024 * 1024
#: Profile choice: an attachment's content answer is bounded by that limit, since the server
#: refuses larger uploads (the stream's header and tags are counted in the ciphertext).
ANSWER_MAX_ATTACHMENT: Final = ATTACHMENT_MAX_CIPHERTEXT

# --- TOTP (docs/protocol.md#totp) --------------------------------------------------------
TOTP_DIGITS: Final = 6
TOTP_PERIOD: Final = 30
TOTP_SKEW_STEPS: Final = 1

# --- Client-side unlock file (profile choice: the spec leaves local storage open) -------
#: AD prefix of `msk unlock`'s key box; the profile name and expiry (unix s) follow, so a
#: box moved to another profile or with an edited expiry does not open.
UNLOCK_AD_PREFIX: Final = "msk1:cli.unlock:"
#: HMAC-SHA256 info turning the printed session secret into the box key.
UNLOCK_KEY_INFO: Final = b"msk1:cli.unlock.key"
#: Longest unlock `msk unlock --timeout` grants (24 h): keys left unlocked for days outlive
#: the person's attention to the terminal that holds MSK_SESSION.
UNLOCK_MAX_SECONDS: Final = 24 * 3600
#: AD prefix of the shell-completion cache (ids and names a command listed); the profile name
#: and the time it was written (unix s) follow, so a cache moved or re-dated does not open.
COMPLETION_AD_PREFIX: Final = "msk1:cli.completion:"
#: BLAKE2b (keyed with the session secret) input turning MSK_SESSION into the cache key; the
#: profile name follows.  Without the secret the cache opens nothing.
COMPLETION_KEY_INFO: Final = b"msk1:cli.completion.key"
#: How long names a command listed are offered to shell completion (5 min): completion needs
#: no network, and a name renamed or deleted elsewhere is not offered for long.
COMPLETION_CACHE_SECONDS: Final = 300

# --- Live (docs/protocol.md#sse, #relay) -------------------------------------------------
SSE_HEARTBEAT_SECONDS: Final = 15
TICKET_TTL_SECONDS: Final = 60
RELAY_AD_PREFIX: Final = "msk1:relay:"
RELAY_MAX_FRAME: Final = 1024 * 1024
RELAY_CLOSE_BAD_TICKET: Final = 4401
RELAY_CLOSE_FORBIDDEN: Final = 4403
RELAY_CLOSE_TOO_BIG: Final = 1009
# Profile choice: a text frame on the relay (frames are binary only) closes the socket with
# 1003 "unsupported data", the RFC 6455 code for a data type the endpoint cannot accept.
RELAY_CLOSE_UNSUPPORTED: Final = 1003
# Profile choice: the relay cannot read frames, but it knows each socket's role (the ticket's
# user, the board's workspace membership).  Frames sent by a socket whose role may not edit
# reach the other sockets as a WebSocket *text* message holding the unpadded base64url of the
# unchanged sealed frame; everyone else's frames stay binary and byte-identical.  Participants
# take only awareness, query-awareness and sync step 1 from such frames, never an update or a
# step 2, so an observer cannot write a description through a member who persists it.  Text
# rather than a header byte: a peer that does not know the marking cannot open a text message
# as a relay frame, so it drops observers' frames instead of applying them.
RELAY_READ_ONLY_ROLES: Final = frozenset({"observer"})
#: Largest text message a relay client accepts: the base64url of a RELAY_MAX_FRAME frame.
RELAY_MAX_TEXT_FRAME: Final = (RELAY_MAX_FRAME + 2) // 3 * 4
AWARENESS_RENEW_SECONDS: Final = 15


def relay_ad(room: str) -> bytes:
    """Associated data of a relay frame for `room` (`card:<id>` or `board:<id>`)."""
    return (RELAY_AD_PREFIX + room).encode("utf-8")


# --- Webhooks (docs/protocol.md#webhooks) ------------------------------------------------
WEBHOOK_TOLERANCE_SECONDS: Final = 300
WEBHOOK_RETRY_SCHEDULE: Final = (30, 120, 600, 3600, 21600, 86400)
WEBHOOK_EVENTS: Final = (
    "CARD_CREATED",
    "CARD_UPDATED",
    "CARD_MOVED",
    "CARD_ARCHIVED",
    "CARD_DELETED",
    "COMMENT_CREATED",
    "CHECKLIST_ITEM_TOGGLED",
    "LABEL_ATTACHED",
    "LABEL_DETACHED",
    "ASSIGNED",
    "UNASSIGNED",
    "MILESTONE_SET",
)

# --- Export -----------------------------------------------------------------------------
#: profile choice: `msk export BOARD…` reads per board and per card only when that needs at
#: most this many read requests (a few % of the per-minute read limit, so no waiting) and the
#: boards are less than half of the account's; otherwise one `GET /me/export` read serves them all.
EXPORT_PER_CARD_BUDGET: Final = 30

# --- Automations (docs/protocol.md#automations) ------------------------------------------
# profile choice: the page says only "ids only in trigger/action"; these are the shapes
# the sandbox runs, each {"type": <key>, <id field>: <id>} and nothing else.
#: trigger type -> its id field
AUTOMATION_TRIGGERS: Final[dict[str, str]] = {"card.moved": "columnId", "label.attached": "labelId"}
#: action type -> its id field
AUTOMATION_ACTIONS: Final[dict[str, str]] = {"label.attach": "labelId", "card.assign": "userId"}
