"""Build a real encrypted `/me/export` document with the crypto core (no server needed).

Every envelope is produced exactly as the client writes it, so the exporter is tested
against genuine ciphertext; tests then tamper with it like a hostile server would.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from mskclient._description import edit_to, empty_state
from mskclient._profile import KDF_MINIMUM
from mskclient._profile import field as spec
from mskclient.crypto import (
    BoardKey,
    FileKey,
    WorkspaceKey,
    b64u_encode,
    create_account,
    derive_login_keys,
    encrypt_field,
    encrypt_file,
    seal_workspace_key,
    wrap_board_key,
    wrap_file_key,
)

PASSWORD = "correct horse ⚡ battery"
SALT = bytes(range(16))
_ids = itertools.count(1)


def new_id() -> str:
    return f"cexp{next(_ids):08d}"


def enc(key: Any, entity: str, name: str, value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return str(encrypt_field(key, data, spec(entity, name)))


@dataclass
class Built:
    document: dict[str, Any]
    board_id: str
    board_key: BoardKey
    ids: dict[str, str] = field(default_factory=dict)
    #: attachment id -> ciphertext of its content
    blobs: dict[str, bytes] = field(default_factory=dict)

    def board(self) -> dict[str, Any]:
        return self.document["workspaces"][0]["boards"][0]

    def card(self, name: str) -> dict[str, Any]:
        return next(c for c in self.board()["cards"] if c["id"] == self.ids[name])

    def dumps(self) -> str:
        return json.dumps(self.document)


def build() -> Built:
    keys = derive_login_keys(PASSWORD, SALT, KDF_MINIMUM)
    account = create_account(keys.master_key)
    user_id, other_id = new_id(), new_id()
    user = {"id": user_id, "email": "ana@example.org", "displayName": "Ana", **account.fields, "totpEnabled": False}
    wk, bk = WorkspaceKey.generate(), BoardKey.generate()
    ws_id, board_id = new_id(), new_id()
    ids = {
        name: new_id()
        for name in (
            "todo",
            "done",
            "label",
            "label2",
            "milestone",
            "field",
            "c1",
            "c2",
            "c3",
            "comment1",
            "comment2",
            "checklist",
            "item1",
            "item2",
            "item3",
            "attachment",
        )
    }
    t = "2026-05-25T12:00:00.000Z"

    def card(cid: str, column: str, pos: float, title: str, desc: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "id": cid,
            "boardId": board_id,
            "columnId": column,
            "position": pos,
            "createdAt": t,
            "updatedAt": t,
            "encTitle": enc(bk, "card", "encTitle", title),
            "encDescription": None if desc is None else enc(bk, "card", "encDescription", edit_to(empty_state(), desc)),
            "dueAt": None,
            "milestoneId": None,
            "labelIds": [],
            "assigneeIds": [],
            "customFields": {},
            "archived": False,
            "version": 1,
            "comments": [],
            "checklists": [],
            "attachments": [],
            **extra,
        }

    plaintext = "Grüße, 世界! ".encode() * 5000  # two full secretstream chunks and a short one
    fk = FileKey.generate()
    blob = io.BytesIO()
    encrypt_file(fk, io.BytesIO(plaintext), blob)
    cards = [
        card(
            ids["c2"],
            ids["todo"],
            2.0,
            "Zweite Karte — ünïcödé",
            "## Plan\n\n- write *Markdown*\n",
            labelIds=[ids["label"], ids["label2"]],
            assigneeIds=[user_id, other_id],
            milestoneId=ids["milestone"],
            dueAt="2026-06-01T00:00:00.000Z",
            customFields={ids["field"]: enc(bk, "card", "customFields", "High")},
            comments=[
                {
                    "id": ids["comment2"],
                    "cardId": ids["c2"],
                    "authorId": other_id,
                    "createdAt": "2026-05-25T12:00:02.000Z",
                    "encBody": enc(bk, "comment", "encBody", "second\nline two"),
                },
                {
                    "id": ids["comment1"],
                    "cardId": ids["c2"],
                    "authorId": user_id,
                    "createdAt": "2026-05-25T12:00:01.000Z",
                    "encBody": enc(bk, "comment", "encBody", "first 👍"),
                },
            ],
            checklists=[
                {
                    "id": ids["checklist"],
                    "cardId": ids["c2"],
                    "position": 1,
                    "createdAt": t,
                    "encTitle": enc(bk, "checklist", "encTitle", "Steps"),
                    "items": [
                        {
                            "id": ids["item2"],
                            "position": 2,
                            "done": False,
                            "encText": enc(bk, "checklistItem", "encText", "two"),
                        },
                        {
                            "id": ids["item1"],
                            "position": 1,
                            "done": True,
                            "encText": enc(bk, "checklistItem", "encText", "one"),
                        },
                        {
                            "id": ids["item3"],
                            "position": 3,
                            "done": False,
                            "encText": enc(bk, "checklistItem", "encText", "=cmd|' /C calc'!A0"),
                        },
                    ],
                }
            ],
            attachments=[
                {
                    "id": ids["attachment"],
                    "cardId": ids["c2"],
                    "size": len(plaintext),
                    "createdAt": t,
                    "encName": enc(bk, "attachment", "encName", "../../etc/pässwd"),
                    "encMime": enc(bk, "attachment", "encMime", "text/plain"),
                    "encFileKey": str(wrap_file_key(bk, fk)),
                }
            ],
        ),
        card(ids["c1"], ids["todo"], 1.0, 'First <card> & "quotes"', None),
        card(ids["c3"], ids["done"], 1.0, "Archived one", "", archived=True),
    ]
    board = {
        "board": {
            "id": board_id,
            "workspaceId": ws_id,
            "encTitle": enc(bk, "board", "encTitle", "Roadmap 🚀"),
            "encDescription": enc(bk, "board", "encDescription", "The *plan*."),
            "encBoardKey": str(wrap_board_key(wk, bk)),
            "archived": False,
            "createdAt": t,
            "updatedAt": t,
        },
        "columns": [
            {
                "id": ids["done"],
                "boardId": board_id,
                "position": 2,
                "wipLimit": None,
                "createdAt": t,
                "encTitle": enc(bk, "column", "encTitle", "Done"),
            },
            {
                "id": ids["todo"],
                "boardId": board_id,
                "position": 1,
                "wipLimit": 3,
                "createdAt": t,
                "encTitle": enc(bk, "column", "encTitle", "To do"),
            },
        ],
        "labels": [
            {
                "id": ids["label"],
                "boardId": board_id,
                "color": "#ff0000",
                "encName": enc(bk, "label", "encName", "urgent"),
            },
            {
                "id": ids["label2"],
                "boardId": board_id,
                "color": "#00ff00",
                "encName": enc(bk, "label", "encName", "backend"),
            },
        ],
        "milestones": [
            {
                "id": ids["milestone"],
                "boardId": board_id,
                "dueAt": None,
                "archived": False,
                "encTitle": enc(bk, "milestone", "encTitle", "v1.0"),
            }
        ],
        "customFields": [
            {
                "id": ids["field"],
                "boardId": board_id,
                "type": "select",
                "encName": enc(bk, "customField", "encName", "Priority"),
                "encOptions": enc(bk, "customField", "encOptions", json.dumps(["High", "Low"])),
            }
        ],
        "cardTemplates": [],
        "cards": cards,
    }
    member = {
        "userId": user_id,
        "email": "ana@example.org",
        "displayName": "Ana",
        "role": "owner",
        "publicKey": account.fields["publicKey"],
    }
    other = {
        "userId": other_id,
        "email": "bo@example.org",
        "displayName": "Bo",
        "role": "member",
        "publicKey": b64u_encode(bytes(32)),
    }
    sealed = str(seal_workspace_key(wk, account.keys.keypair.public))
    document = {
        "exportedAt": "2026-05-25T12:34:56.789Z",
        "user": user,
        "kdf": {"salt": b64u_encode(SALT), **KDF_MINIMUM.to_json()},
        "workspaces": [
            {
                "workspace": {"id": ws_id, "encName": enc(wk, "workspace", "encName", "Acme"), "ownerId": user_id},
                "membership": {"workspaceId": ws_id, "role": "owner", "encWorkspaceKey": sealed},
                "members": [{**member, "encWorkspaceKey": sealed}, other],
                "boards": [board],
            }
        ],
    }
    ids.update(user=user_id, other=other_id, workspace=ws_id)
    return Built(document, board_id, bk, ids, {ids["attachment"]: blob.getvalue()})


ATTACHMENT_PLAINTEXT = "Grüße, 世界! ".encode() * 5000
