"""Cascade deletes: a set of cards, a board or a workspace with everything that hangs off it
(links, comments, checklists, attachments, notifications, events, webhook deliveries)."""

from __future__ import annotations

from ._core import Ctx

__all__ = ["delete_board_contents", "delete_cards", "delete_workspace"]


def delete_cards(ctx: Ctx, where: str, arg: str) -> None:
    """Remove the cards matching `where` and everything on them."""
    ids = f"SELECT id FROM cards WHERE {where}"  # noqa: S608
    for table in ("card_labels", "card_assignees", "comments", "attachments"):
        ctx.run(f"DELETE FROM {table} WHERE card_id IN ({ids})", arg)  # noqa: S608
    ctx.run(
        f"DELETE FROM checklist_items WHERE checklist_id IN (SELECT id FROM checklists WHERE card_id IN ({ids}))",  # noqa: S608
        arg,
    )
    ctx.run(f"DELETE FROM checklists WHERE card_id IN ({ids})", arg)  # noqa: S608
    ctx.run(f"DELETE FROM notifications WHERE card_id IN ({ids})", arg)  # noqa: S608
    ctx.run(f"DELETE FROM cards WHERE {where}", arg)  # noqa: S608


def delete_board_contents(ctx: Ctx, board_id: str) -> None:
    """Remove a board and everything in it (events and deliveries included)."""
    delete_cards(ctx, "board_id = ?", board_id)
    for table in ("columns", "labels", "milestones", "card_templates", "custom_fields", "automations"):
        ctx.run(f"DELETE FROM {table} WHERE board_id = ?", board_id)  # noqa: S608
    ctx.run("DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE board_id = ?)", board_id)
    ctx.run("DELETE FROM webhooks WHERE board_id = ?", board_id)
    ctx.run("DELETE FROM events WHERE board_id = ?", board_id)
    ctx.run("DELETE FROM boards WHERE id = ?", board_id)


def delete_workspace(ctx: Ctx, workspace_id: str) -> list[str]:
    """Remove a workspace and everything in it; returns its board ids."""
    board_ids = [r[0] for r in ctx.all("SELECT id FROM boards WHERE workspace_id = ?", workspace_id)]
    for board_id in board_ids:
        delete_board_contents(ctx, board_id)
    ctx.run("DELETE FROM memberships WHERE workspace_id = ?", workspace_id)
    ctx.run("DELETE FROM workspaces WHERE id = ?", workspace_id)
    return board_ids
