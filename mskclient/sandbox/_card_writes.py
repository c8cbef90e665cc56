"""Writes on a card that several route families share: the version bump every change makes,
and attaching a label or an assignee, which may run the board's automations."""

from __future__ import annotations

import json
from typing import Any

from ._core import Ctx
from ._security import new_id

__all__ = ["bump_card", "link_assignee", "link_label", "run_automations"]

#: How deep automations may trigger one another (profile choice: stops loops).
AUTOMATION_DEPTH = 4


def bump_card(ctx: Ctx, card_id: str, values: dict[str, Any] | None = None) -> None:
    values = {**(values or {}), "updated_at": ctx.ts}
    sets = "".join(f", {name} = ?" for name in values)
    ctx.run(f"UPDATE cards SET version = version + 1{sets} WHERE id = ?", *values.values(), card_id)  # noqa: S608


def link_label(ctx: Ctx, board_id: str, card_id: str, label_id: str, depth: int, actor: str | None = "") -> None:
    if ctx.one("SELECT 1 FROM card_labels WHERE card_id = ? AND label_id = ?", card_id, label_id) is not None:
        return
    ctx.run("INSERT INTO card_labels (card_id, label_id, created_at) VALUES (?, ?, ?)", card_id, label_id, ctx.ts)
    bump_card(ctx, card_id)
    ctx.emit(board_id, "LABEL_ATTACHED", card_id, {"cardId": card_id, "labelId": label_id}, actor=actor)
    run_automations(ctx, board_id, card_id, {"type": "label.attached", "labelId": label_id}, depth)


def link_assignee(ctx: Ctx, board_id: str, card_id: str, user_id: str, actor: str | None = "") -> None:
    if ctx.one("SELECT 1 FROM card_assignees WHERE card_id = ? AND user_id = ?", card_id, user_id) is not None:
        return
    ctx.run("INSERT INTO card_assignees (card_id, user_id, created_at) VALUES (?, ?, ?)", card_id, user_id, ctx.ts)
    bump_card(ctx, card_id)
    ctx.emit(board_id, "ASSIGNED", card_id, {"cardId": card_id, "userId": user_id}, actor=actor)
    actor_id = ctx.user_id if actor == "" else actor
    if user_id != actor_id:
        ctx.run(
            "INSERT INTO notifications (id, user_id, kind, board_id, card_id, actor_id, read, created_at) "
            "VALUES (?, ?, 'assigned', ?, ?, ?, 0, ?)",
            new_id(),
            user_id,
            board_id,
            card_id,
            actor_id,
            ctx.ts,
        )


def run_automations(ctx: Ctx, board_id: str, card_id: str, trigger: dict[str, str], depth: int) -> None:
    """Run the board's enabled automations whose trigger matches, on ids alone."""
    if depth >= AUTOMATION_DEPTH:
        return
    for rule in ctx.all("SELECT * FROM automations WHERE board_id = ? AND enabled = 1 ORDER BY created_at", board_id):
        if json.loads(rule["trigger"]) != trigger:
            continue
        action = json.loads(rule["action"])
        if action["type"] == "label.attach":
            if ctx.one("SELECT 1 FROM labels WHERE id = ? AND board_id = ?", action["labelId"], board_id):
                link_label(ctx, board_id, card_id, action["labelId"], depth + 1, actor=None)
        elif action["type"] == "card.assign":
            board = ctx.one("SELECT workspace_id FROM boards WHERE id = ?", board_id)
            if board is not None and ctx.role(board["workspace_id"], action["userId"]) is not None:
                link_assignee(ctx, board_id, card_id, action["userId"], actor=None)
