"""Card routes: create, list, read, edit (with If-Match and custom field values), delete, and
move between or within columns (positions renumbered when gaps get too small)."""

from __future__ import annotations

import json
from typing import Any

from .._profile import is_valid_id
from ._card_writes import bump_card, run_automations
from ._cascade import delete_cards
from ._core import Api, Ctx
from ._http import (
    F,
    HttpError,
    bad_request,
    json_response,
    no_content,
    parse_body,
    v_bool,
    v_env,
    v_id,
    v_iso,
    v_number,
)
from ._rows import STEP, body_columns, end_position, insert_new
from ._shapes import card_response, cards_json

__all__ = ["api"]

api = Api()

#: A gap below MIN_GAP between two cards renumbers their column.
MIN_GAP = 1e-6


def _custom_values(ctx: Ctx, board_id: str, current: dict[str, str], value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > 200:
        bad_request("customFields must be an object of field id to envelope (or null)")
    merged = dict(current)
    for field_id, env in value.items():
        if not is_valid_id(field_id):
            bad_request("customFields keys must be custom field ids")
        if ctx.one("SELECT 1 FROM custom_fields WHERE id = ? AND board_id = ?", field_id, board_id) is None:
            raise HttpError("NOT_FOUND", "no such custom field on this board")
        if env is None:
            merged.pop(field_id, None)
        else:
            merged[field_id] = v_env(f"customFields.{field_id}", env)
    return merged


@api.route("POST", "/columns/{id}/cards")
def create_card(ctx: Ctx, id: str) -> Any:
    column = ctx.load("columns", id, write=True)
    body = parse_body(
        ctx.body,
        {
            "encTitle": F(v_env, True),
            "encDescription": F(v_env, nullable=True),
            "dueAt": F(v_iso, nullable=True),
            "position": F(v_number),
        },
    )
    body.setdefault("position", end_position(ctx, "cards", "column_id", id))
    board_id = column["board_id"]
    row = insert_new(ctx, "cards", {"board_id": board_id, "column_id": id, "version": 1, **body_columns(body)})
    ctx.emit(board_id, "CARD_CREATED", row["id"], {"cardId": row["id"], "columnId": id})
    return card_response(ctx, row["id"], 201)


@api.route("GET", "/boards/{id}/cards")
def list_cards(ctx: Ctx, id: str) -> Any:
    ctx.board(id)
    rows = ctx.all("SELECT * FROM cards WHERE board_id = ? ORDER BY column_id, position, created_at, id", id)
    return json_response(cards_json(ctx, id, rows))


@api.route("GET", "/cards/{id}")
def get_card(ctx: Ctx, id: str) -> Any:
    ctx.load("cards", id)
    return card_response(ctx, id, full=True)


def _if_match(ctx: Ctx, version: int) -> None:
    header = ctx.request.headers.get("if-match")
    if header is None:
        return
    wanted = header.strip()
    if wanted.startswith("W/"):
        wanted = wanted[2:]
    wanted = wanted.strip('"')
    if not wanted.isdigit() or int(wanted) != version:
        raise HttpError("CONFLICT", f"card changed: current version is {version}")


@api.route("PATCH", "/cards/{id}")
def patch_card(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    _if_match(ctx, card["version"])
    body = parse_body(
        ctx.body,
        {
            "encTitle": F(v_env),
            "encDescription": F(v_env, nullable=True),
            "dueAt": F(v_iso, nullable=True),
            "archived": F(v_bool),
            "customFields": F(lambda _n, v: v),
        },
        partial=True,
    )
    if "customFields" in body:
        merged = _custom_values(ctx, card["board_id"], json.loads(card["custom_fields"]), body["customFields"])
        body["customFields"] = json.dumps(merged, separators=(",", ":"))
    bump_card(ctx, id, body_columns(body))
    archiving = body.get("archived") is True and not card["archived"]
    fields = sorted(k for k in body if not (k == "archived" and (archiving or bool(card["archived"]) == body[k])))
    if fields:
        ctx.emit(card["board_id"], "CARD_UPDATED", id, {"cardId": id, "fields": fields})
    if archiving:
        ctx.emit(card["board_id"], "CARD_ARCHIVED", id, {"cardId": id})
    return card_response(ctx, id)


@api.route("DELETE", "/cards/{id}")
def delete_card(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    delete_cards(ctx, "id = ?", id)
    ctx.emit(card["board_id"], "CARD_DELETED", id, {"cardId": id, "columnId": card["column_id"]})
    return no_content()


def _renumber(ctx: Ctx, others: list[Any]) -> list[float]:
    positions = []
    for index, other in enumerate(others):
        position = (index + 1) * STEP
        if other["position"] != position:
            bump_card(ctx, other["id"], {"position": position})
        positions.append(position)
    return positions


def _place(ctx: Ctx, card_id: str, column_id: str, before: str | None, after: str | None) -> float:
    """Position between the neighbours asked for; the column is renumbered when gaps get tiny."""
    others = ctx.all(
        "SELECT id, position FROM cards WHERE column_id = ? AND id != ? ORDER BY position, created_at, id",
        column_id,
        card_id,
    )
    ids = [o["id"] for o in others]
    for name, ref in (("beforeCardId", before), ("afterCardId", after)):
        if ref is not None and ref not in ids:
            bad_request(f"{name} must be another card of the target column")
    if after is not None:
        index = ids.index(after) + 1
        if before is not None and ids.index(before) != index:
            bad_request("afterCardId and beforeCardId must be neighbours")
    elif before is not None:
        index = ids.index(before)
    else:
        index = len(ids)
    positions = [float(o["position"]) for o in others]
    for _ in range(2):
        low = positions[index - 1] if index > 0 else None
        high = positions[index] if index < len(positions) else None
        if low is None and high is None:
            return STEP
        if high is None:
            assert low is not None
            return low + STEP
        if low is None:
            if high > MIN_GAP:
                return high / 2
        elif high - low >= MIN_GAP:
            return (low + high) / 2
        positions = _renumber(ctx, others)
    raise AssertionError("renumbered positions leave room")


@api.route("PATCH", "/cards/{id}/move")
def move_card(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    _if_match(ctx, card["version"])
    body = parse_body(
        ctx.body,
        {"toColumnId": F(v_id, True), "beforeCardId": F(v_id, nullable=True), "afterCardId": F(v_id, nullable=True)},
    )
    to = body["toColumnId"]
    if ctx.one("SELECT 1 FROM columns WHERE id = ? AND board_id = ?", to, card["board_id"]) is None:
        raise HttpError("NOT_FOUND", "no such column on this board")
    position = _place(ctx, id, to, body.get("beforeCardId"), body.get("afterCardId"))
    bump_card(ctx, id, {"column_id": to, "position": position})
    ctx.emit(card["board_id"], "CARD_MOVED", id, {"cardId": id, "fromColumnId": card["column_id"], "toColumnId": to})
    if to != card["column_id"]:
        run_automations(ctx, card["board_id"], id, {"type": "card.moved", "columnId": to}, 0)
    return card_response(ctx, id)
