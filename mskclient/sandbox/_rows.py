"""Row helpers every route family shares: a new row with its id and timestamps, body fields as
column names, the next position at the end of a list, a board's rows of one table, a delete."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._core import Ctx, out, snake
from ._http import json_response, no_content
from ._security import new_id

__all__ = ["STEP", "body_columns", "delete_loaded", "end_position", "insert_new", "list_on_board"]

#: Gap between positions the server assigns.
STEP = 1024.0


def insert_new(ctx: Ctx, table: str, values: dict[str, Any]) -> Any:
    return ctx.insert(table, {"id": new_id(), **values, "created_at": ctx.ts, "updated_at": ctx.ts})


def body_columns(body: dict[str, Any]) -> dict[str, Any]:
    return {snake(k): v for k, v in body.items()}


def end_position(ctx: Ctx, table: str, parent: str, parent_id: str) -> float:
    row = ctx.one(f"SELECT max(position) FROM {table} WHERE {parent} = ?", parent_id)  # noqa: S608
    return (row[0] if row is not None and row[0] is not None else 0.0) + STEP


def list_on_board(ctx: Ctx, table: str, id: str, extra: str = "", *, roles: Iterable[str] | None = None) -> Any:
    """The rows of `table` on board `id` (oldest first) after the board access check."""
    ctx.board(id, roles=roles)
    rows = ctx.all(f"SELECT * FROM {table} WHERE board_id = ?{extra} ORDER BY created_at, id", id)  # noqa: S608
    return json_response([out(r) for r in rows])


def delete_loaded(ctx: Ctx, table: str, id: str) -> Any:
    """Delete a row the caller has already loaded for writing."""
    ctx.run(f"DELETE FROM {table} WHERE id = ?", id)  # noqa: S608
    return no_content()
