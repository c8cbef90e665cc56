"""Writes the sandbox's OpenAPI 3.1 document: docs/api/openapi.yaml and the packaged copy
mskclient/sandbox/openapi.yaml (identical; tests check both against this script).

Run: python docs/api/build_openapi.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from mskclient._profile import (
    ATTACHMENT_MAX_CIPHERTEXT,
    DELIVERY_ID_PATTERN,
    ENVELOPE_MAX_CHARS,
    ERROR_STATUS,
    ID_PATTERN,
    SESSION_COOKIE,
    WEBHOOK_EVENTS,
)

ROOT = Path(__file__).resolve().parents[2]
TARGETS = (ROOT / "docs/api/openapi.yaml", ROOT / "mskclient/sandbox/openapi.yaml")

#: In status order, as the document has always listed them.
ERROR_CODES = sorted(ERROR_STATUS, key=ERROR_STATUS.__getitem__)
VERBS = list(WEBHOOK_EVENTS)
ROLES = ["owner", "admin", "member", "observer"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def array(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": schema}


def obj(props: dict[str, Any], required: list[str] | None = None, *, closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": required if required is not None else list(props),
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


ID = ref("Id")
ENV = ref("Envelope")
TS = ref("Timestamp")
BOOL = {"type": "boolean"}
STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
META = {"id": ID, "createdAt": TS, "updatedAt": TS}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"code": {"type": "string", "enum": ERROR_CODES}, "message": STR})}),
    "Id": {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$", "description": "CUID"},
    "Ulid": {"type": "string", "pattern": f"^{DELIVERY_ID_PATTERN.pattern}$"},
    "Timestamp": {"type": "string", "format": "date-time", "description": "ISO 8601 with offset, milliseconds"},
    "Envelope": {
        "type": "string",
        "maxLength": ENVELOPE_MAX_CHARS,
        "pattern": "^v1\\.[A-Za-z0-9_-]{32}\\.[A-Za-z0-9_-]{22,}$",
        "description": "v1.<b64u nonce(24)>.<b64u ciphertext‖tag> (XChaCha20-Poly1305); the server never opens it",
    },
    "SealedEnvelope": {
        "type": "string",
        "maxLength": ENVELOPE_MAX_CHARS,
        "pattern": "^v1\\.[A-Za-z0-9_-]{43}\\.[A-Za-z0-9_-]{22,}$",
        "description": "crypto_box_seal output split after the ephemeral public key",
    },
    "Key32": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$", "description": "base64url of 32 bytes"},
    "Email": {"type": "string", "format": "email", "maxLength": 254},
    "Role": {"type": "string", "enum": ROLES},
    "Verb": {"type": "string", "enum": VERBS},
    "Color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
    "Kdf": obj(
        {
            "algorithm": {"type": "string", "const": "argon2id"},
            "memoryKiB": INT,
            "iterations": INT,
            "parallelism": INT,
            "version": INT,
        }
    ),
    "LoginInit": obj({"salt": STR, "kdf": ref("Kdf")}),
    "User": obj(
        {
            **META,
            "email": STR,
            "displayName": STR,
            "publicKey": STR,
            "encPrivateKey": ENV,
            "encSymmetricKey": ENV,
            "encRecoveryBlob": ENV,
            "totpEnabled": BOOL,
        }
    ),
    "UserResult": obj({"user": ref("User")}),
    "Membership": obj({"workspaceId": ID, "role": ref("Role"), "encWorkspaceKey": ref("SealedEnvelope")}),
    "Me": obj({"user": ref("User"), "memberships": array(ref("Membership"))}),
    "TotpEnroll": obj({"secret": STR, "otpauthUrl": STR}),
    "RecoveryChallenge": obj(
        {
            "challengeId": ID,
            "sealedChallenge": STR,
            "encRecoveryBlob": ENV,
            "encPrivateKey": ENV,
            "salt": STR,
        }
    ),
    "Ticket": obj({"ticket": STR, "expiresAt": TS}),
    "Lookup": obj({"id": ID, "email": STR, "publicKey": STR}),
    "Notification": obj(
        {
            "id": ID,
            "userId": ID,
            "kind": STR,
            "boardId": nullable(ID),
            "cardId": nullable(ID),
            "actorId": nullable(ID),
            "read": BOOL,
            "createdAt": TS,
        }
    ),
    "Workspace": obj({**META, "encName": ENV, "ownerId": ID}),
    "Member": obj(
        {
            "userId": ID,
            "email": STR,
            "displayName": STR,
            "publicKey": STR,
            "role": ref("Role"),
            "encWorkspaceKey": nullable(ref("SealedEnvelope")),
            "createdAt": TS,
            "updatedAt": TS,
        }
    ),
    "Board": obj(
        {
            **META,
            "workspaceId": ID,
            "encTitle": ENV,
            "encDescription": nullable(ENV),
            "encBoardKey": ENV,
            "archived": BOOL,
        }
    ),
    "Column": obj({**META, "boardId": ID, "encTitle": ENV, "position": NUM, "wipLimit": nullable(INT)}),
    "Card": obj(
        {
            **META,
            "boardId": ID,
            "columnId": ID,
            "position": NUM,
            "encTitle": ENV,
            "encDescription": nullable(ENV),
            "dueAt": nullable(STR),
            "milestoneId": nullable(ID),
            "customFields": {"type": "object", "additionalProperties": ENV},
            "archived": BOOL,
            "version": {"type": "integer", "minimum": 1},
            "labelIds": array(ID),
            "assigneeIds": array(ID),
            "commentCount": INT,
            "checklistCount": INT,
            "attachmentCount": INT,
        }
    ),
    "CardFull": {
        "allOf": [
            ref("Card"),
            obj(
                {
                    "comments": array(ref("Comment")),
                    "checklists": array(ref("Checklist")),
                    "attachments": array(ref("Attachment")),
                }
            ),
        ]
    },
    "Label": obj({**META, "boardId": ID, "encName": ENV, "color": ref("Color")}),
    "Milestone": obj({**META, "boardId": ID, "encTitle": ENV, "dueAt": nullable(STR), "archived": BOOL}),
    "Comment": obj({**META, "cardId": ID, "authorId": ID, "encBody": ENV}),
    "ChecklistItem": obj({**META, "checklistId": ID, "encText": ENV, "done": BOOL, "position": NUM}),
    "Checklist": obj({**META, "cardId": ID, "encTitle": ENV, "position": NUM, "items": array(ref("ChecklistItem"))}),
    "Attachment": obj(
        {
            **META,
            "cardId": ID,
            "encName": ENV,
            "encMime": ENV,
            "encFileKey": ENV,
            "size": {"type": "integer", "minimum": 0},
        }
    ),
    "CardTemplate": obj({**META, "boardId": ID, "encTitle": ENV, "encBody": nullable(ENV)}),
    "CustomField": obj(
        {
            **META,
            "boardId": ID,
            "encName": ENV,
            "type": {"type": "string", "enum": ["text", "number", "date", "select", "checkbox"]},
            "encOptions": nullable(ENV),
        }
    ),
    "Trigger": {
        "oneOf": [
            obj({"type": {"const": "card.moved"}, "columnId": ID}, closed=True),
            obj({"type": {"const": "label.attached"}, "labelId": ID}, closed=True),
        ]
    },
    "Action": {
        "oneOf": [
            obj({"type": {"const": "label.attach"}, "labelId": ID}, closed=True),
            obj({"type": {"const": "card.assign"}, "userId": ID}, closed=True),
        ]
    },
    "Automation": obj(
        {
            **META,
            "boardId": ID,
            "encName": ENV,
            "trigger": ref("Trigger"),
            "action": ref("Action"),
            "enabled": BOOL,
        }
    ),
    "Webhook": obj(
        {
            **META,
            "boardId": ID,
            "url": STR,
            "events": array(ref("Verb")),
            "active": BOOL,
        }
    ),
    "WebhookCreated": {"allOf": [ref("Webhook"), obj({"secret": STR})]},
    "Delivery": obj(
        {
            "id": ref("Ulid"),
            "webhookId": ID,
            "eventId": INT,
            "verb": ref("Verb"),
            "payload": {"type": "object"},
            "status": {"type": "string", "enum": ["pending", "delivered", "dead"]},
            "attempts": INT,
            "nextAttemptAt": nullable(NUM),
            "lastStatus": nullable(INT),
            "lastError": nullable(STR),
            "createdAt": TS,
            "updatedAt": TS,
        }
    ),
    "Event": obj(
        {
            "id": INT,
            "verb": STR,
            "boardId": ID,
            "cardId": nullable(ID),
            "actorId": nullable(ID),
            "timestamp": TS,
            "metadata": {"type": "object", "description": "ids only"},
        }
    ),
    "Health": obj({"ok": BOOL, "db": STR, "redis": {"type": "string", "const": "absent"}}),
    "ExportBoard": obj(
        {
            "board": ref("Board"),
            "columns": array(ref("Column")),
            "labels": array(ref("Label")),
            "milestones": array(ref("Milestone")),
            "customFields": array(ref("CustomField")),
            "cardTemplates": array(ref("CardTemplate")),
            "cards": array(ref("CardFull")),
        }
    ),
    "Export": obj(
        {
            "exportedAt": TS,
            "user": ref("User"),
            "kdf": {"allOf": [ref("Kdf"), obj({"salt": STR})]},
            "workspaces": array(
                obj(
                    {
                        "workspace": ref("Workspace"),
                        "membership": ref("Membership"),
                        "members": array(ref("Member")),
                        "boards": array(ref("ExportBoard")),
                    }
                )
            ),
        }
    ),
}


def body(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return obj(props, required, closed=True)


def partial(props: dict[str, Any]) -> dict[str, Any]:
    return {**obj(props, [], closed=True), "minProperties": 1}


PATHS: dict[str, dict[str, Any]] = {}


def op(
    method: str,
    path: str,
    summary: str,
    *,
    tag: str,
    request: dict[str, Any] | None = None,
    status: int = 200,
    result: dict[str, Any] | None = None,
    auth: bool = True,
    query: list[dict[str, Any]] | None = None,
    headers: list[dict[str, Any]] | None = None,
    content: dict[str, Any] | None = None,
    request_content: dict[str, Any] | None = None,
) -> None:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "operationId": f"{method}:{path}"}
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": ref("Id") if name != "id" or "deliveries" not in path else ref("Ulid"),
        }
        for name in (part[1:-1] for part in path.split("/") if part.startswith("{"))
    ]
    params += query or []
    params += headers or []
    if params:
        operation["parameters"] = params
    if request is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    if request_content is not None:
        operation["requestBody"] = {"required": True, "content": request_content}
    if status == 204:
        ok: dict[str, Any] = {"description": "Done"}
    elif content is not None:
        ok = {"description": "OK", "content": content}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": result or {}}}}
    error = {"description": "Error", "content": {"application/json": {"schema": ref("Error")}}}
    limited = {**error, "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}}
    operation["responses"] = {str(status): ok, "429": limited, "default": error}
    if not auth:
        operation["security"] = []
    PATHS.setdefault(path, {})[method.lower()] = operation


def create_edit_delete(
    collection: str,
    item: str,
    schema: str,
    fields: dict[str, Any],
    required: list[str],
    summaries: tuple[str, str, str],
    *,
    tag: str,
    editable: dict[str, Any] | None = None,
) -> None:
    """POST `collection` with `fields`, PATCH `item` with any of `editable` (default: the same
    fields), DELETE `item`: the shape most resources share. The PATCH gets its own dict so the
    YAML spells both out rather than sharing them through an anchor."""
    create, edit, delete = summaries
    op("POST", collection, create, tag=tag, status=201, result=ref(schema), request=body(fields, required))
    patchable = dict(fields if editable is None else editable)
    op("PATCH", item, edit, tag=tag, result=ref(schema), request=partial(patchable))
    op("DELETE", item, delete, tag=tag, status=204)


def q(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


SEALED = ref("SealedEnvelope")
KEY = ref("Key32")
EMAIL = ref("Email")
TOTP = {"type": "string", "pattern": "^[0-9]{6}$"}

# --- auth ---------------------------------------------------------------------------------
A = "auth"
op(
    "POST",
    "/auth/login-init",
    "KDF salt and parameters (stable salt for unknown emails)",
    tag=A,
    auth=False,
    request=body({"email": EMAIL}, ["email"]),
    result=ref("LoginInit"),
)
op(
    "POST",
    "/auth/register",
    "Create an account (400 unless the email is a plausible address: one @, a dot in the domain, no space, "
    "control or markup character)",
    tag=A,
    auth=False,
    status=201,
    result=ref("UserResult"),
    request=body(
        {
            "email": EMAIL,
            "authHash": KEY,
            "publicKey": KEY,
            "encPrivateKey": ENV,
            "encSymmetricKey": ENV,
            "encRecoveryBlob": ENV,
        },
        ["email", "authHash", "publicKey", "encPrivateKey", "encSymmetricKey", "encRecoveryBlob"],
    ),
)
op(
    "POST",
    "/auth/login",
    f"Log in; sets the {SESSION_COOKIE} cookie (HttpOnly, SameSite=Strict, Path=/api)",
    tag=A,
    auth=False,
    result=ref("UserResult"),
    request=body(
        {"email": EMAIL, "authHash": {"type": "string", "maxLength": 100}, "totp": nullable(TOTP)},
        ["email", "authHash"],
    ),
)
op("POST", "/auth/logout", "End the current session", tag=A, status=204)
op(
    "POST",
    "/auth/2fa/enroll",
    "Start TOTP enrollment (RFC 6238, SHA-1, 6 digits, 30 s)",
    tag=A,
    result=ref("TotpEnroll"),
)
op(
    "POST",
    "/auth/2fa/verify",
    "Confirm TOTP enrollment",
    tag=A,
    request=body({"totp": TOTP}, ["totp"]),
    result=ref("UserResult"),
)
op(
    "POST",
    "/auth/2fa/disable",
    "Turn TOTP off",
    tag=A,
    request=body({"totp": TOTP}, ["totp"]),
    result=ref("UserResult"),
)
op(
    "POST",
    "/auth/recovery",
    "Recovery: step 1 {email} gets a sealed challenge; step 2 answers it with a new "
    "password's authHash and encSymmetricKey",
    tag=A,
    auth=False,
    request={
        "oneOf": [
            body({"email": EMAIL}, ["email"]),
            body(
                {"email": EMAIL, "challengeId": STR, "challenge": STR, "authHash": KEY, "encSymmetricKey": ENV},
                ["email", "challengeId", "challenge", "authHash", "encSymmetricKey"],
            ),
        ]
    },
    result={"oneOf": [ref("RecoveryChallenge"), ref("UserResult")]},
)
op(
    "POST",
    "/auth/webauthn/register",
    "WebAuthn registration (501 in the sandbox)",
    tag=A,
    auth=False,
    status=501,
    result=ref("Error"),
)
op(
    "POST",
    "/auth/webauthn/verify",
    "WebAuthn verification (501 in the sandbox)",
    tag=A,
    auth=False,
    status=501,
    result=ref("Error"),
)
op(
    "POST",
    "/auth/ws-ticket",
    "One-shot relay ticket for card:<id> or board:<id> (60 s)",
    tag=A,
    request=body({"room": {"type": "string", "pattern": f"^(card|board):{ID_PATTERN.pattern}$"}}, ["room"]),
    result=ref("Ticket"),
)

# --- self and users ---------------------------------------------------------------------------
S = "self"
op("GET", "/me", "Current user and memberships", tag=S, result=ref("Me"))
op("DELETE", "/me", "Delete the account: key material and sessions go at once", tag=S, status=204)
op("GET", "/me/export", "Everything the account can read, encrypted, with the KDF salt", tag=S, result=ref("Export"))
op("GET", "/me/notifications", "Recent assignment notifications", tag=S, result=array(ref("Notification")))
op(
    "GET",
    "/users/lookup",
    "Find a user's public key by email",
    tag=S,
    query=[q("email", EMAIL, True)],
    result=ref("Lookup"),
)

# --- workspaces and members -------------------------------------------------------------------
W = "workspaces"
op("GET", "/workspaces", "Workspaces of the caller", tag=W, result=array(ref("Workspace")))
op(
    "POST",
    "/workspaces",
    "Create a workspace (the caller becomes owner)",
    tag=W,
    status=201,
    result=ref("Workspace"),
    request=body({"encName": ENV, "encWorkspaceKey": SEALED}, ["encName", "encWorkspaceKey"]),
)
op("GET", "/workspaces/{id}", "A workspace", tag=W, result=ref("Workspace"))
op(
    "PATCH",
    "/workspaces/{id}",
    "Rename (owner/admin)",
    tag=W,
    request=partial({"encName": ENV}),
    result=ref("Workspace"),
)
op("DELETE", "/workspaces/{id}", "Delete with everything in it (owner)", tag=W, status=204)
op(
    "GET",
    "/workspaces/{id}/members",
    "Members (each sees only their own encWorkspaceKey)",
    tag=W,
    result=array(ref("Member")),
)
op(
    "POST",
    "/workspaces/{id}/members",
    "Invite (owner/admin) with the WK sealed to the invitee",
    tag=W,
    status=201,
    request=body({"userId": ID, "role": ref("Role"), "encWorkspaceKey": SEALED}, ["userId", "role", "encWorkspaceKey"]),
    result=ref("Member"),
)
op(
    "PATCH",
    "/workspaces/{id}/members/{userId}",
    "Change a member's role (owner/admin)",
    tag=W,
    request=body({"role": ref("Role")}, ["role"]),
    result=ref("Member"),
)
op("DELETE", "/workspaces/{id}/members/{userId}", "Remove a member (owner/admin) or leave", tag=W, status=204)

# --- boards, columns, cards -----------------------------------------------------------------------
B = "boards"
op("GET", "/workspaces/{id}/boards", "Boards of a workspace", tag=B, result=array(ref("Board")))
op(
    "POST",
    "/workspaces/{id}/boards",
    "Create a board",
    tag=B,
    status=201,
    result=ref("Board"),
    request=body({"encTitle": ENV, "encDescription": nullable(ENV), "encBoardKey": ENV}, ["encTitle", "encBoardKey"]),
)
op("GET", "/boards/{id}", "A board", tag=B, result=ref("Board"))
op(
    "PATCH",
    "/boards/{id}",
    "Edit a board",
    tag=B,
    result=ref("Board"),
    request=partial({"encTitle": ENV, "encDescription": nullable(ENV), "encBoardKey": ENV, "archived": BOOL}),
)
op("DELETE", "/boards/{id}", "Delete a board (owner/admin)", tag=B, status=204)
WIP = nullable({"type": "integer", "minimum": 0, "maximum": 100000})
POS = {"type": "number", "minimum": -1e15, "maximum": 1e15}
op("GET", "/boards/{id}/columns", "Columns by position", tag=B, result=array(ref("Column")))
create_edit_delete(
    "/boards/{id}/columns",
    "/columns/{id}",
    "Column",
    {"encTitle": ENV, "position": POS, "wipLimit": WIP},
    ["encTitle"],
    ("Create a column (default: at the end)", "Edit a column", "Delete a column and its cards"),
    tag=B,
)
C = "cards"
op(
    "POST",
    "/columns/{id}/cards",
    "Create a card (default: end of column)",
    tag=C,
    status=201,
    result=ref("Card"),
    request=body(
        {"encTitle": ENV, "encDescription": nullable(ENV), "dueAt": nullable(TS), "position": POS}, ["encTitle"]
    ),
)
op("GET", "/boards/{id}/cards", "Cards of a board", tag=C, result=array(ref("Card")))
op("GET", "/cards/{id}", "A card with comments, checklists and attachments", tag=C, result=ref("CardFull"))
IF_MATCH = [
    {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": '"<version>": 409 CONFLICT when the card changed',
    }
]
op(
    "PATCH",
    "/cards/{id}",
    "Edit a card (bumps version; honours If-Match)",
    tag=C,
    result=ref("Card"),
    headers=IF_MATCH,
    request=partial(
        {
            "encTitle": ENV,
            "encDescription": nullable(ENV),
            "dueAt": nullable(TS),
            "archived": BOOL,
            "customFields": {"type": "object", "additionalProperties": nullable(ENV)},
        }
    ),
)
op("DELETE", "/cards/{id}", "Delete a card", tag=C, status=204)
op(
    "PATCH",
    "/cards/{id}/move",
    "Move: the server sets the position (before = right before that card, after = right after it)",
    tag=C,
    result=ref("Card"),
    headers=IF_MATCH,
    request=body({"toColumnId": ID, "beforeCardId": nullable(ID), "afterCardId": nullable(ID)}, ["toColumnId"]),
)
op(
    "POST",
    "/cards/{id}/labels",
    "Attach a label (idempotent)",
    tag=C,
    result=ref("Card"),
    request=body({"labelId": ID}, ["labelId"]),
)
op(
    "DELETE",
    "/cards/{id}/labels",
    "Detach a label (idempotent)",
    tag=C,
    status=204,
    request=body({"labelId": ID}, ["labelId"]),
)
op(
    "POST",
    "/cards/{id}/assignments",
    "Assign a workspace member",
    tag=C,
    result=ref("Card"),
    request=body({"userId": ID}, ["userId"]),
)
op("DELETE", "/cards/{id}/assignments/{userId}", "Unassign", tag=C, status=204)
op(
    "PUT",
    "/cards/{id}/milestone",
    "Set or clear the milestone",
    tag=C,
    result=ref("Card"),
    request=body({"milestoneId": nullable(ID)}, ["milestoneId"]),
)

# --- comments, checklists, attachments -------------------------------------------------------------
K = "card content"
op("GET", "/cards/{id}/comments", "Comments by time", tag=K, result=array(ref("Comment")))
op(
    "POST",
    "/cards/{id}/comments",
    "Comment",
    tag=K,
    status=201,
    result=ref("Comment"),
    request=body({"encBody": ENV}, ["encBody"]),
)
op(
    "PATCH",
    "/comments/{id}",
    "Edit a comment (author or owner/admin)",
    tag=K,
    result=ref("Comment"),
    request=body({"encBody": ENV}, ["encBody"]),
)
op("DELETE", "/comments/{id}", "Delete a comment (author or owner/admin)", tag=K, status=204)
op("GET", "/cards/{id}/checklists", "Checklists with items", tag=K, result=array(ref("Checklist")))
create_edit_delete(
    "/cards/{id}/checklists",
    "/checklists/{id}",
    "Checklist",
    {"encTitle": ENV, "position": POS},
    ["encTitle"],
    ("Create a checklist", "Edit a checklist", "Delete a checklist"),
    tag=K,
)
create_edit_delete(
    "/checklists/{id}/items",
    "/checklist-items/{id}",
    "ChecklistItem",
    {"encText": ENV, "done": BOOL, "position": POS},
    ["encText"],
    ("Add an item", "Edit or toggle an item", "Delete an item"),
    tag=K,
)
op("GET", "/cards/{id}/attachments", "Attachments of a card", tag=K, result=array(ref("Attachment")))
op(
    "POST",
    "/cards/{id}/attachments",
    "Upload (multipart: meta JSON + file ciphertext, 25 MiB max)",
    tag=K,
    status=201,
    result=ref("Attachment"),
    request_content={
        "multipart/form-data": {
            "schema": obj(
                {
                    "meta": {"type": "string", "description": "JSON {encName, encMime, encFileKey, size}"},
                    "file": {"type": "string", "format": "binary", "maxLength": ATTACHMENT_MAX_CIPHERTEXT},
                },
                closed=True,
            ),
            "encoding": {"file": {"contentType": "application/octet-stream"}},
        }
    },
)
op("GET", "/attachments/{id}", "Attachment metadata", tag=K, result=ref("Attachment"))
op(
    "GET",
    "/attachments/{id}/content",
    "Attachment ciphertext (secretstream), streamed",
    tag=K,
    content={"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
)
op("DELETE", "/attachments/{id}", "Delete an attachment", tag=K, status=204)

# --- board resources --------------------------------------------------------------------------
R = "board resources"
for path, name, schema, create, required in (
    ("labels", "Label", "Label", {"encName": ENV, "color": ref("Color")}, ["encName", "color"]),
    ("milestones", "Milestone", "Milestone", {"encTitle": ENV, "dueAt": nullable(TS), "archived": BOOL}, ["encTitle"]),
    ("card-templates", "Card template", "CardTemplate", {"encTitle": ENV, "encBody": nullable(ENV)}, ["encTitle"]),
    (
        "custom-fields",
        "Custom field",
        "CustomField",
        {
            "encName": ENV,
            "type": {"type": "string", "enum": ["text", "number", "date", "select", "checkbox"]},
            "encOptions": nullable(ENV),
        },
        ["encName", "type"],
    ),
    (
        "automations",
        "Automation",
        "Automation",
        {"encName": ENV, "trigger": ref("Trigger"), "action": ref("Action"), "enabled": BOOL},
        ["encName", "trigger", "action"],
    ),
):
    query = [q("archived", {"type": "string", "enum": ["0", "1", "true", "false"]})] if path == "milestones" else None
    op("GET", f"/boards/{{id}}/{path}", f"{name}s of a board", tag=R, result=array(ref(schema)), query=query)
    create_edit_delete(
        f"/boards/{{id}}/{path}",
        f"/{path}/{{id}}",
        schema,
        create,
        required,
        (f"Create a {name.lower()}", f"Edit a {name.lower()}", f"Delete a {name.lower()}"),
        tag=R,
        editable={k: v for k, v in create.items() if not (path == "custom-fields" and k == "type")},
    )

# --- webhooks, activity, live, health ----------------------------------------------------------
H = "webhooks"
URL = {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2000}
EVENTS = {"type": "array", "items": ref("Verb"), "minItems": 1}
op("GET", "/boards/{id}/webhooks", "Webhooks of a board (owner/admin; no secrets)", tag=H, result=array(ref("Webhook")))
op(
    "POST",
    "/boards/{id}/webhooks",
    "Create a webhook; the secret is returned this once",
    tag=H,
    status=201,
    result=ref("WebhookCreated"),
    request=body({"url": URL, "events": EVENTS, "active": BOOL}, ["url", "events"]),
)
op(
    "PATCH",
    "/webhooks/{id}",
    "Edit a webhook",
    tag=H,
    result=ref("Webhook"),
    request=partial({"url": URL, "events": EVENTS, "active": BOOL}),
)
op("DELETE", "/webhooks/{id}", "Delete a webhook and its deliveries", tag=H, status=204)
op(
    "GET",
    "/webhooks/{id}/deliveries",
    "Deliveries, newest first (retries 30 s … 24 h, then dead)",
    tag=H,
    result=array(ref("Delivery")),
)
op(
    "POST",
    "/webhooks/deliveries/{id}/requeue",
    "Make a delivery pending and due now",
    tag=H,
    status=202,
    result=ref("Delivery"),
)
L = "live"
op(
    "GET",
    "/boards/{id}/activity",
    "Activity feed, newest first (ids only)",
    tag=L,
    result=array(ref("Event")),
    query=[
        q("limit", {"type": "string", "pattern": "^[0-9]{1,3}$"}),
        q("before", {"type": "string", "pattern": "^[0-9]{1,18}$"}),
    ],
)
op(
    "GET",
    "/boards/{id}/live",
    "Server-Sent Events: event tick, id per event, Last-Event-ID resumes",
    tag=L,
    content={"text/event-stream": {"schema": {"type": "string"}}},
    headers=[{"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}}],
)
op(
    "GET",
    "/ws",
    "WebSocket relay upgrade (?t=<ticket>); closes 4401 bad ticket, 4403 revoked, 1009 too big",
    tag=L,
    auth=False,
    status=101,
    content={"application/octet-stream": {"schema": {"type": "string"}}},
    query=[q("t", STR, True)],
)
op("GET", "/health", "Liveness and readiness", tag=L, auth=False, result=ref("Health"))
op(
    "GET",
    "/openapi.yaml",
    "This document",
    tag=L,
    auth=False,
    content={"application/yaml": {"schema": {"type": "object"}}},
)

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "MSKanban REST API (mskclient sandbox)",
        "version": "1.0.0",
        "description": "Routes of the public MSKanban page and the mskclient wire profile. The server stores "
        "metadata, ciphertext (envelopes `v1.<nonce>.<ciphertext>`) and verifiers only. Every error is "
        '`{"error": {"code", "message"}}`.',
    },
    "servers": [{"url": "/api"}],
    "security": [{"session": []}],
    "tags": [{"name": t} for t in (A, S, W, B, C, K, R, H, L)],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}},
    },
}


def render() -> str:
    return "# Generated by docs/api/build_openapi.py: edit that script, then run it.\n" + yaml.safe_dump(
        DOCUMENT, sort_keys=False, allow_unicode=True, width=120
    )


if __name__ == "__main__":
    text = render()
    for target in TARGETS:
        target.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {', '.join(str(t.relative_to(ROOT)) for t in TARGETS)}\n")
