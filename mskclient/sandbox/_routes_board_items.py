"""Board-scoped resources (labels, milestones, card templates, custom fields), registered from
one table: each `BoardItem` says where its routes live, which table holds it, what a body may
write, how it is listed and what its delete undoes on the board's cards.  Every kind gets the
same four routes: list and create under `/boards/{id}/<path>`, edit and delete at `/<path>/{id}`.
None of them logs a board event; a delete that changes cards bumps their versions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._profile import CUSTOM_FIELD_TYPES
from ._card_writes import bump_card
from ._core import Api, Ctx, out
from ._http import F, bad_request, json_response, parse_body, v_bool, v_color, v_enum, v_env, v_iso
from ._rows import body_columns, delete_loaded, insert_new, list_on_board

__all__ = ["BOARD_ITEMS", "BoardItem", "api"]

api = Api()


def _no_filter(ctx: Ctx) -> str:
    """Every row of the board is listed."""
    return ""


def _no_links(ctx: Ctx, row: sqlite3.Row) -> None:
    """No card refers to the row."""


@dataclass(frozen=True)
class BoardItem:
    """One kind of board-scoped row and what its four routes do with it."""

    #: The URL segment: `/boards/{id}/<path>` (list, create) and `/<path>/{id}` (edit, delete).
    path: str
    table: str
    #: The writable body fields with their validators (`required` applies to create only).
    fields: Mapping[str, F]
    #: Fields a create sets but an edit may not change.
    create_only: frozenset[str] = frozenset()
    #: Columns a new row starts with unless the body sets them.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: The extra SQL condition of a list (read from the query), checked before the board is.
    list_filter: Callable[[Ctx], str] = _no_filter
    #: Undo what the board's cards hold of the row (its loaded row given) before it is deleted.
    unlink: Callable[[Ctx, sqlite3.Row], None] = _no_links
    #: The row's JSON shape.
    shape: Callable[[sqlite3.Row], dict[str, Any]] = out

    @property
    def edit_fields(self) -> dict[str, F]:
        return {name: f for name, f in self.fields.items() if name not in self.create_only}


def _unlink_label(ctx: Ctx, label: sqlite3.Row) -> None:
    for card in ctx.all("SELECT card_id FROM card_labels WHERE label_id = ?", label["id"]):
        bump_card(ctx, card["card_id"])
    ctx.run("DELETE FROM card_labels WHERE label_id = ?", label["id"])


def _archived_filter(ctx: Ctx) -> str:
    """Milestones hide archived ones unless `?archived=1` (or true)."""
    flag = ctx.request.query_params.get("archived", "0")
    if flag not in ("0", "1", "true", "false"):
        bad_request("archived must be 0 or 1")
    return "" if flag in ("1", "true") else " AND archived = 0"


def _unlink_milestone(ctx: Ctx, milestone: sqlite3.Row) -> None:
    for card in ctx.all("SELECT id FROM cards WHERE milestone_id = ?", milestone["id"]):
        bump_card(ctx, card["id"], {"milestone_id": None})


def _unlink_custom_field(ctx: Ctx, custom_field: sqlite3.Row) -> None:
    field_id = custom_field["id"]
    for card in ctx.all("SELECT id, custom_fields FROM cards WHERE board_id = ?", custom_field["board_id"]):
        values = json.loads(card["custom_fields"])
        if field_id in values:
            del values[field_id]
            bump_card(ctx, card["id"], {"custom_fields": json.dumps(values, separators=(",", ":"))})



BOARD_ITEMS = (
    BoardItem(
        "labels",
        "labels",
        {"encName": F(v_env, True), "color": F(v_color, True)},
        unlink=_unlink_label,
    ),
    BoardItem(
        "milestones",
        "milestones",
        {"encTitle": F(v_env, True), "dueAt": F(v_iso, nullable=True), "archived": F(v_bool)},
        defaults={"archived": 0},
        list_filter=_archived_filter,
        unlink=_unlink_milestone,
    ),
    BoardItem(
        "card-templates",
        "card_templates",
        {"encTitle": F(v_env, True), "encBody": F(v_env, nullable=True)},
    ),
    BoardItem(
        "custom-fields",
        "custom_fields",
        {
            "encName": F(v_env, True),
            "type": F(v_enum(*CUSTOM_FIELD_TYPES), True),
            "encOptions": F(v_env, nullable=True),
        },
        create_only=frozenset({"type"}),
        unlink=_unlink_custom_field,
    ),
)


def _register(item: BoardItem) -> None:
    """Add the list, create, edit and delete routes of one kind of board item to `api`."""
    edit_fields = item.edit_fields

    def list_items(ctx: Ctx, id: str) -> Any:
        return list_on_board(ctx, item.table, id, item.list_filter(ctx))

    def create_item(ctx: Ctx, id: str) -> Any:
        ctx.board(id, write=True)
        body = body_columns(parse_body(ctx.body, item.fields))
        row = insert_new(ctx, item.table, {"board_id": id, **item.defaults, **body})
        return json_response(item.shape(row), 201)

    def edit_item(ctx: Ctx, id: str) -> Any:
        ctx.load(item.table, id, write=True)
        body = body_columns(parse_body(ctx.body, edit_fields, partial=True))
        return json_response(item.shape(ctx.update(item.table, id, body)))

    def delete_item(ctx: Ctx, id: str) -> Any:
        row = ctx.load(item.table, id, write=True)
        item.unlink(ctx, row)
        return delete_loaded(ctx, item.table, id)

    api.route("GET", f"/boards/{{id}}/{item.path}")(list_items)
    api.route("POST", f"/boards/{{id}}/{item.path}")(create_item)
    api.route("PATCH", f"/{item.path}/{{id}}")(edit_item)
    api.route("DELETE", f"/{item.path}/{{id}}")(delete_item)


for _item in BOARD_ITEMS:
    _register(_item)
