"""The JSON shapes of the sandbox's answers that are more than a row through `out`: users,
memberships and members, cards with their links and counts, full cards with their comments,
checklists and attachments, checklists with their items."""

from __future__ import annotations

import sqlite3
from typing import Any

from ._core import Ctx, out
from ._db import readable
from ._http import json_response

__all__ = [
    "card_json",
    "card_response",
    "cards_json",
    "checklist_json",
    "full_cards",
    "member_json",
    "members",
    "members_seen_by",
    "membership_json",
    "user_json",
]


def user_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "displayName": row["display_name"],
        "publicKey": row["public_key"],
        "encPrivateKey": row["enc_private_key"],
        "encSymmetricKey": row["enc_symmetric_key"],
        "encRecoveryBlob": row["enc_recovery_blob"],
        "totpEnabled": row["totp_secret"] is not None,
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def membership_json(row: Any) -> dict[str, Any]:
    """A memberships row as the profile's membership (the caller's own: with its workspace key)."""
    return {"workspaceId": row["workspace_id"], "role": row["role"], "encWorkspaceKey": row["enc_workspace_key"]}


def member_json(row: Any, viewer_id: str) -> dict[str, Any]:
    return {
        "userId": row["user_id"],
        "email": row["email"],
        "displayName": row["display_name"],
        "publicKey": row["public_key"],
        "role": row["role"],
        "encWorkspaceKey": row["enc_workspace_key"] if row["user_id"] == viewer_id else None,
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def members_seen_by(conn: sqlite3.Connection, workspace_id: str, viewer_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT m.*, u.email, u.display_name, u.public_key FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.workspace_id = ? ORDER BY m.created_at, m.user_id",
        (workspace_id,),
    ).fetchall()
    return [member_json(r, viewer_id) for r in rows]


def members(ctx: Ctx, workspace_id: str) -> list[dict[str, Any]]:
    """The members of a workspace as the caller sees them (only their own encWorkspaceKey)."""
    return members_seen_by(ctx.conn, workspace_id, ctx.user_id)


def _no_links() -> dict[str, Any]:
    """The links of a card with no labels, assignees, comments, checklists or attachments."""
    return {"labelIds": [], "assigneeIds": [], "commentCount": 0, "checklistCount": 0, "attachmentCount": 0}


def _card_links(ctx: Ctx, where: str, arg: str) -> dict[str, dict[str, Any]]:
    """Labels, assignees and counts of the cards matching `where` (on cards `c`), by card id."""
    links: dict[str, dict[str, Any]] = {}

    def entry(card_id: str) -> dict[str, Any]:
        return links.setdefault(card_id, _no_links())

    for table, column, name in (("card_labels", "label_id", "labelIds"), ("card_assignees", "user_id", "assigneeIds")):
        sql = f"SELECT t.card_id, t.{column} FROM {table} t JOIN cards c ON c.id = t.card_id WHERE {where} "  # noqa: S608
        for card_id, value in ctx.all(sql + f"ORDER BY t.created_at, t.{column}", arg):
            entry(card_id)[name].append(value)
    for table, name in (
        ("comments", "commentCount"),
        ("checklists", "checklistCount"),
        ("attachments", "attachmentCount"),
    ):
        sql = (
            f"SELECT t.card_id, count(*) FROM {table} t JOIN cards c ON c.id = t.card_id "  # noqa: S608
            f"WHERE {where} GROUP BY t.card_id"
        )
        for card_id, count in ctx.all(sql, arg):
            entry(card_id)[name] = count
    return links


def cards_json(ctx: Ctx, board_id: str, rows: list[Any]) -> list[dict[str, Any]]:
    """Many cards of one board in a fixed number of queries."""
    links = _card_links(ctx, "c.board_id = ?", board_id)
    return [out(row, **links.get(row["id"], _no_links())) for row in rows]


def card_json(ctx: Ctx, row: Any, *, full: bool = False) -> dict[str, Any]:
    if full:
        return full_cards(ctx.conn, [row])[0]
    card_id = row["id"]
    links = _card_links(ctx, "c.id = ?", card_id)
    return out(row, **links.get(card_id, _no_links()))


def checklist_json(ctx: Ctx, row: Any) -> dict[str, Any]:
    items = ctx.all("SELECT * FROM checklist_items WHERE checklist_id = ? ORDER BY position, created_at, id", row["id"])
    return out(row, items=[out(i) for i in items])


def _by(rows: list[Any], key: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[key], []).append(row)
    return grouped


def full_cards(conn: sqlite3.Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """Cards rows (in their order) in the shape of `GET /cards/:id`: links, counts, comments,
    checklists with their items and attachments, in one query per kind of child."""
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    within = f"card_id IN ({', '.join('?' for _ in ids)})"

    def grouped(sql: str, key: str = "card_id") -> dict[str, list[Any]]:
        return _by(conn.execute(sql, ids).fetchall(), key)

    labels = grouped(f"SELECT card_id, label_id FROM card_labels WHERE {within} ORDER BY created_at, label_id")  # noqa: S608
    assignees = grouped(f"SELECT card_id, user_id FROM card_assignees WHERE {within} ORDER BY created_at, user_id")  # noqa: S608
    comments = grouped(f"SELECT * FROM comments WHERE {within} ORDER BY created_at, id")  # noqa: S608
    checklists = grouped(f"SELECT * FROM checklists WHERE {within} ORDER BY position, created_at, id")  # noqa: S608
    items = grouped(
        "SELECT i.* FROM checklist_items i JOIN checklists t ON t.id = i.checklist_id "  # noqa: S608
        f"WHERE t.{within} ORDER BY i.position, i.created_at, i.id",
        "checklist_id",
    )
    files = grouped(f"SELECT {readable('attachments')} FROM attachments WHERE {within} ORDER BY created_at, id")  # noqa: S608
    page = []
    for row in rows:
        card_id = row["id"]
        card_comments = comments.get(card_id, [])
        card_checklists = checklists.get(card_id, [])
        card_files = files.get(card_id, [])
        page.append(
            out(
                row,
                labelIds=[r["label_id"] for r in labels.get(card_id, [])],
                assigneeIds=[r["user_id"] for r in assignees.get(card_id, [])],
                commentCount=len(card_comments),
                checklistCount=len(card_checklists),
                attachmentCount=len(card_files),
                comments=[out(r) for r in card_comments],
                checklists=[out(r, items=[out(i) for i in items.get(r["id"], [])]) for r in card_checklists],
                attachments=[out(r) for r in card_files],
            )
        )
    return page


def card_response(ctx: Ctx, card_id: str, status: int = 200, *, full: bool = False) -> Any:
    row = ctx.one("SELECT * FROM cards WHERE id = ?", card_id)
    assert row is not None
    return json_response(card_json(ctx, row, full=full), status)
