"""Board-scoped resources: labels, milestones, card templates, custom fields."""

from __future__ import annotations

import json
from typing import Any

from ._card_writes import bump_card
from ._core import Api, Ctx, out
from ._http import F, bad_request, json_response, parse_body, v_bool, v_color, v_enum, v_env, v_iso
from ._rows import body_columns, delete_loaded, insert_new, list_on_board

__all__ = ["api"]

api = Api()


def _create(ctx: Ctx, table: str, id: str, spec: dict[str, F], defaults: dict[str, Any] | None = None) -> Any:
    ctx.board(id, write=True)
    body = body_columns(parse_body(ctx.body, spec))
    return json_response(out(insert_new(ctx, table, {"board_id": id, **(defaults or {}), **body})), 201)


def _patch(ctx: Ctx, table: str, id: str, spec: dict[str, F]) -> Any:
    ctx.load(table, id, write=True)
    body = body_columns(parse_body(ctx.body, spec, partial=True))
    return json_response(out(ctx.update(table, id, body)))


def _delete(ctx: Ctx, table: str, id: str) -> Any:
    ctx.load(table, id, write=True)
    return delete_loaded(ctx, table, id)


_LABEL = {"encName": F(v_env, True), "color": F(v_color, True)}


@api.route("GET", "/boards/{id}/labels")
def list_labels(ctx: Ctx, id: str) -> Any:
    return list_on_board(ctx, "labels", id)


@api.route("POST", "/boards/{id}/labels")
def create_label(ctx: Ctx, id: str) -> Any:
    return _create(ctx, "labels", id, _LABEL)


@api.route("PATCH", "/labels/{id}")
def patch_label(ctx: Ctx, id: str) -> Any:
    return _patch(ctx, "labels", id, _LABEL)


@api.route("DELETE", "/labels/{id}")
def delete_label(ctx: Ctx, id: str) -> Any:
    ctx.load("labels", id, write=True)
    for card in ctx.all("SELECT card_id FROM card_labels WHERE label_id = ?", id):
        bump_card(ctx, card["card_id"])
    ctx.run("DELETE FROM card_labels WHERE label_id = ?", id)
    return delete_loaded(ctx, "labels", id)


_MILESTONE = {"encTitle": F(v_env, True), "dueAt": F(v_iso, nullable=True), "archived": F(v_bool)}


@api.route("GET", "/boards/{id}/milestones")
def list_milestones(ctx: Ctx, id: str) -> Any:
    flag = ctx.request.query_params.get("archived", "0")
    if flag not in ("0", "1", "true", "false"):
        bad_request("archived must be 0 or 1")
    return list_on_board(ctx, "milestones", id, "" if flag in ("1", "true") else " AND archived = 0")


@api.route("POST", "/boards/{id}/milestones")
def create_milestone(ctx: Ctx, id: str) -> Any:
    return _create(ctx, "milestones", id, _MILESTONE, {"archived": 0})


@api.route("PATCH", "/milestones/{id}")
def patch_milestone(ctx: Ctx, id: str) -> Any:
    return _patch(ctx, "milestones", id, _MILESTONE)


@api.route("DELETE", "/milestones/{id}")
def delete_milestone(ctx: Ctx, id: str) -> Any:
    row = ctx.load("milestones", id, write=True)
    for card in ctx.all("SELECT id FROM cards WHERE milestone_id = ?", row["id"]):
        bump_card(ctx, card["id"], {"milestone_id": None})
    return delete_loaded(ctx, "milestones", id)


_TEMPLATE = {"encTitle": F(v_env, True), "encBody": F(v_env, nullable=True)}


@api.route("GET", "/boards/{id}/card-templates")
def list_templates(ctx: Ctx, id: str) -> Any:
    return list_on_board(ctx, "card_templates", id)


@api.route("POST", "/boards/{id}/card-templates")
def create_template(ctx: Ctx, id: str) -> Any:
    return _create(ctx, "card_templates", id, _TEMPLATE)


@api.route("PATCH", "/card-templates/{id}")
def patch_template(ctx: Ctx, id: str) -> Any:
    return _patch(ctx, "card_templates", id, _TEMPLATE)


@api.route("DELETE", "/card-templates/{id}")
def delete_template(ctx: Ctx, id: str) -> Any:
    return _delete(ctx, "card_templates", id)


_FIELD_TYPES = ("text", "number", "date", "select", "checkbox")
_CUSTOM_FIELD = {
    "encName": F(v_env, True),
    "type": F(v_enum(*_FIELD_TYPES), True),
    "encOptions": F(v_env, nullable=True),
}


@api.route("GET", "/boards/{id}/custom-fields")
def list_custom_fields(ctx: Ctx, id: str) -> Any:
    return list_on_board(ctx, "custom_fields", id)


@api.route("POST", "/boards/{id}/custom-fields")
def create_custom_field(ctx: Ctx, id: str) -> Any:
    return _create(ctx, "custom_fields", id, _CUSTOM_FIELD)


@api.route("PATCH", "/custom-fields/{id}")
def patch_custom_field(ctx: Ctx, id: str) -> Any:
    return _patch(ctx, "custom_fields", id, {k: v for k, v in _CUSTOM_FIELD.items() if k != "type"})


@api.route("DELETE", "/custom-fields/{id}")
def delete_custom_field(ctx: Ctx, id: str) -> Any:
    row = ctx.load("custom_fields", id, write=True)
    for card in ctx.all("SELECT id, custom_fields FROM cards WHERE board_id = ?", row["board_id"]):
        values = json.loads(card["custom_fields"])
        if id in values:
            del values[id]
            bump_card(ctx, card["id"], {"custom_fields": json.dumps(values, separators=(",", ":"))})
    return delete_loaded(ctx, "custom_fields", id)
