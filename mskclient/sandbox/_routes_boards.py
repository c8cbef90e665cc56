"""Board and column routes, plus a board's activity feed and its live (SSE) stream.  Only ids
and ciphertext pass here."""

from __future__ import annotations

from typing import Any

from ._cascade import delete_board_contents, delete_cards
from ._core import MANAGERS, Api, Ctx, Later, out
from ._http import (
    F,
    bad_request,
    json_response,
    no_content,
    parse_body,
    v_bool,
    v_env,
    v_int,
    v_number,
)
from ._rows import body_columns, end_position, insert_new
from ._webhooks import EVENT_COLUMNS, event_payload

__all__ = ["api"]

api = Api()

# --- boards -------------------------------------------------------------------------------


@api.route("GET", "/workspaces/{id}/boards")
def list_boards(ctx: Ctx, id: str) -> Any:
    ctx.workspace(id)
    rows = ctx.all("SELECT * FROM boards WHERE workspace_id = ? ORDER BY created_at, id", id)
    return json_response([out(r) for r in rows])


@api.route("POST", "/workspaces/{id}/boards")
def create_board(ctx: Ctx, id: str) -> Any:
    ctx.workspace(id, MANAGERS | {"member"})
    body = parse_body(
        ctx.body,
        {"encTitle": F(v_env, True), "encDescription": F(v_env, nullable=True), "encBoardKey": F(v_env, True)},
    )
    row = insert_new(ctx, "boards", {"workspace_id": id, "archived": 0, **body_columns(body)})
    return json_response(out(row), 201)


@api.route("GET", "/boards/{id}")
def get_board(ctx: Ctx, id: str) -> Any:
    return json_response(out(ctx.board(id)))


@api.route("PATCH", "/boards/{id}")
def patch_board(ctx: Ctx, id: str) -> Any:
    ctx.board(id, write=True)
    body = parse_body(
        ctx.body,
        {
            "encTitle": F(v_env),
            "encDescription": F(v_env, nullable=True),
            "encBoardKey": F(v_env),
            "archived": F(v_bool),
        },
        partial=True,
    )
    return json_response(out(ctx.update("boards", id, body_columns(body))))


@api.route("DELETE", "/boards/{id}")
def delete_board(ctx: Ctx, id: str) -> Any:
    ctx.board(id, roles=MANAGERS)
    delete_board_contents(ctx, id)
    return no_content()


# --- columns ------------------------------------------------------------------------------


@api.route("GET", "/boards/{id}/columns")
def list_columns(ctx: Ctx, id: str) -> Any:
    ctx.board(id)
    rows = ctx.all("SELECT * FROM columns WHERE board_id = ? ORDER BY position, created_at, id", id)
    return json_response([out(r) for r in rows])


_WIP = F(v_int(0, 100_000), nullable=True)


@api.route("POST", "/boards/{id}/columns")
def create_column(ctx: Ctx, id: str) -> Any:
    ctx.board(id, write=True)
    body = parse_body(ctx.body, {"encTitle": F(v_env, True), "position": F(v_number), "wipLimit": _WIP})
    body.setdefault("position", end_position(ctx, "columns", "board_id", id))
    return json_response(out(insert_new(ctx, "columns", {"board_id": id, **body_columns(body)})), 201)


@api.route("PATCH", "/columns/{id}")
def patch_column(ctx: Ctx, id: str) -> Any:
    ctx.load("columns", id, write=True)
    body = parse_body(ctx.body, {"encTitle": F(v_env), "position": F(v_number), "wipLimit": _WIP}, partial=True)
    return json_response(out(ctx.update("columns", id, body_columns(body))))


@api.route("DELETE", "/columns/{id}")
def delete_column(ctx: Ctx, id: str) -> Any:
    column = ctx.load("columns", id, write=True)
    for card in ctx.all("SELECT id FROM cards WHERE column_id = ?", id):
        ctx.emit(column["board_id"], "CARD_DELETED", card["id"], {"cardId": card["id"], "columnId": id})
    delete_cards(ctx, "column_id = ?", id)
    ctx.run("DELETE FROM columns WHERE id = ?", id)
    return no_content()


# --- activity and live -------------------------------------------------------------------------


@api.route("GET", "/boards/{id}/activity")
def activity(ctx: Ctx, id: str) -> Any:
    ctx.board(id)
    params = ctx.request.query_params
    if set(params) - {"limit", "before"}:
        bad_request("query parameters: limit, before")
    limit, before = params.get("limit", "50"), params.get("before", str(2**62))
    if not limit.isdigit() or not 1 <= int(limit) <= 500 or not before.isdigit() or len(before) > 19:
        bad_request("limit must be 1..500 and before an event id")
    rows = ctx.all(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE board_id = ? AND id < ? ORDER BY id DESC LIMIT ?",  # noqa: S608
        id,
        int(before),
        int(limit),
    )
    return json_response([{"id": r["id"], **event_payload(r)} for r in rows])


@api.route("GET", "/boards/{id}/live")
def live(ctx: Ctx, id: str) -> Any:
    ctx.board(id)
    request, realtime, user_id, session_hash = ctx.request, ctx.shared.realtime, ctx.user_id, ctx.session_hash

    async def respond() -> Any:
        return await realtime.live(request, id, user_id, session_hash)

    return Later(respond)
