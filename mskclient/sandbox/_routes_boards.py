"""Workspace and board routes: workspaces, members, boards, columns, cards (move, labels,
assignees, milestone), comments, checklists, attachments, milestones, templates, custom
fields, automations, webhooks, activity and live ticks.  Only ids and ciphertext pass here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.responses import StreamingResponse

from .._errors import NotFoundError
from .._profile import (
    AUTOMATION_ACTIONS,
    AUTOMATION_TRIGGERS,
    CUSTOM_FIELD_TYPES,
    ROLES,
    WEBHOOK_EVENTS,
    is_valid_id,
)
from ._core import MANAGERS, Api, Ctx, Later, out, snake
from ._db import readable
from ._http import (
    F,
    HttpError,
    bad_request,
    check_id,
    error_response,
    json_object,
    json_response,
    no_content,
    parse_body,
    v_bool,
    v_color,
    v_enum,
    v_env,
    v_id,
    v_int,
    v_iso,
    v_number,
    v_sealed,
)
from ._routes_auth import card_json, cards_json, checklist_json, delete_workspace, members
from ._security import new_id, new_token
from ._webhooks import EVENT_COLUMNS, event_payload

__all__ = ["api", "delete_board_contents"]

api = Api()

#: Gap between positions the server assigns; a gap below MIN_GAP renumbers the column.
STEP = 1024.0
MIN_GAP = 1e-6
#: How deep automations may trigger one another (profile choice: stops loops).
AUTOMATION_DEPTH = 4


def _created(ctx: Ctx, table: str, values: dict[str, Any]) -> Any:
    return ctx.insert(table, {"id": new_id(), **values, "created_at": ctx.ts, "updated_at": ctx.ts})


def _columns(body: dict[str, Any]) -> dict[str, Any]:
    return {snake(k): v for k, v in body.items()}


# --- workspaces -----------------------------------------------------------------------------


@api.route("GET", "/workspaces")
def list_workspaces(ctx: Ctx) -> Any:
    rows = ctx.all(
        "SELECT w.* FROM workspaces w JOIN memberships m ON m.workspace_id = w.id WHERE m.user_id = ? "
        "ORDER BY w.created_at, w.id",
        ctx.user_id,
    )
    return json_response([out(r) for r in rows])


@api.route("POST", "/workspaces")
def create_workspace(ctx: Ctx) -> Any:
    body = parse_body(ctx.body, {"encName": F(v_env, True), "encWorkspaceKey": F(v_sealed, True)})
    row = _created(ctx, "workspaces", {"enc_name": body["encName"], "owner_id": ctx.user_id})
    ctx.run(
        "INSERT INTO memberships (workspace_id, user_id, role, enc_workspace_key, created_at, updated_at) "
        "VALUES (?, ?, 'owner', ?, ?, ?)",
        row["id"],
        ctx.user_id,
        body["encWorkspaceKey"],
        ctx.ts,
        ctx.ts,
    )
    return json_response(out(row), 201)


@api.route("GET", "/workspaces/{id}")
def get_workspace(ctx: Ctx, id: str) -> Any:
    return json_response(out(ctx.workspace(id)))


@api.route("PATCH", "/workspaces/{id}")
def patch_workspace(ctx: Ctx, id: str) -> Any:
    ctx.workspace(id, MANAGERS)
    body = parse_body(ctx.body, {"encName": F(v_env)}, partial=True)
    return json_response(out(ctx.update("workspaces", id, _columns(body))))


@api.route("DELETE", "/workspaces/{id}")
def remove_workspace(ctx: Ctx, id: str) -> Any:
    ctx.workspace(id, ("owner",))
    users = [r[0] for r in ctx.all("SELECT user_id FROM memberships WHERE workspace_id = ?", id)]
    boards = delete_workspace(ctx, id)
    realtime = ctx.shared.realtime

    def revoke_all() -> None:
        for user_id in users:
            realtime.revoke(user_id, boards)

    ctx.after.append(revoke_all)
    return no_content()


# --- members ------------------------------------------------------------------------------


@api.route("GET", "/workspaces/{id}/members")
def list_members(ctx: Ctx, id: str) -> Any:
    ctx.workspace(id)
    return json_response(members(ctx, id))


def _member(ctx: Ctx, workspace_id: str, user_id: str) -> dict[str, Any]:
    return next(m for m in members(ctx, workspace_id) if m["userId"] == user_id)


@api.route("POST", "/workspaces/{id}/members")
def invite(ctx: Ctx, id: str) -> Any:
    ctx.workspace(id, MANAGERS)
    body = parse_body(
        ctx.body, {"userId": F(v_id, True), "role": F(v_enum(*ROLES), True), "encWorkspaceKey": F(v_sealed, True)}
    )
    if body["role"] == "owner" and ctx.role(id) != "owner":
        raise HttpError("FORBIDDEN", "only an owner may make owners")
    if ctx.one("SELECT 1 FROM users WHERE id = ?", body["userId"]) is None:
        raise HttpError("NOT_FOUND", "no such user")
    if ctx.role(id, body["userId"]) is not None:
        raise HttpError("CONFLICT", "already a member")
    ctx.run(
        "INSERT INTO memberships (workspace_id, user_id, role, enc_workspace_key, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        id,
        body["userId"],
        body["role"],
        body["encWorkspaceKey"],
        ctx.ts,
        ctx.ts,
    )
    return json_response(_member(ctx, id, body["userId"]), 201)


def _target(ctx: Ctx, id: str, user_id: str) -> str:
    check_id(user_id, "member")
    role = ctx.role(id, user_id)
    if role is None:
        raise HttpError("NOT_FOUND", "no such member")
    return role


def _keep_an_owner(ctx: Ctx, id: str, user_id: str) -> None:
    owners = ctx.all("SELECT user_id FROM memberships WHERE workspace_id = ? AND role = 'owner'", id)
    if [r[0] for r in owners] == [user_id]:
        raise HttpError("CONFLICT", "a workspace needs an owner")


@api.route("PATCH", "/workspaces/{id}/members/{userId}")
def change_role(ctx: Ctx, id: str, user_id: str) -> Any:
    ctx.workspace(id, MANAGERS)
    current = _target(ctx, id, user_id)
    role = parse_body(ctx.body, {"role": F(v_enum(*ROLES), True)})["role"]
    if "owner" in (role, current) and ctx.role(id) != "owner":
        raise HttpError("FORBIDDEN", "only an owner may make or unmake owners")
    if current == "owner" and role != "owner":
        _keep_an_owner(ctx, id, user_id)
    ctx.run(
        "UPDATE memberships SET role = ?, updated_at = ? WHERE workspace_id = ? AND user_id = ?",
        role,
        ctx.ts,
        id,
        user_id,
    )
    boards = [r[0] for r in ctx.all("SELECT id FROM boards WHERE workspace_id = ?", id)]
    ctx.after.append(lambda: ctx.shared.realtime.role_changed(user_id, boards, role))
    return json_response(_member(ctx, id, user_id))


@api.route("DELETE", "/workspaces/{id}/members/{userId}")
def remove_member(ctx: Ctx, id: str, user_id: str) -> Any:
    ctx.workspace(id, None if user_id == ctx.user_id else MANAGERS)
    current = _target(ctx, id, user_id)
    if current == "owner":
        if ctx.role(id) != "owner":
            raise HttpError("FORBIDDEN", "only an owner may remove an owner")
        _keep_an_owner(ctx, id, user_id)
    ctx.run("DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", id, user_id)
    ctx.run(
        "DELETE FROM card_assignees WHERE user_id = ? AND card_id IN "
        "(SELECT c.id FROM cards c JOIN boards b ON b.id = c.board_id WHERE b.workspace_id = ?)",
        user_id,
        id,
    )
    boards = [r[0] for r in ctx.all("SELECT id FROM boards WHERE workspace_id = ?", id)]
    ctx.after.append(lambda: ctx.shared.realtime.revoke(user_id, boards))
    return no_content()


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
    row = _created(ctx, "boards", {"workspace_id": id, "archived": 0, **_columns(body)})
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
    return json_response(out(ctx.update("boards", id, _columns(body))))


def _delete_cards(ctx: Ctx, where: str, arg: str) -> None:
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
    _delete_cards(ctx, "board_id = ?", board_id)
    for table in ("columns", "labels", "milestones", "card_templates", "custom_fields", "automations"):
        ctx.run(f"DELETE FROM {table} WHERE board_id = ?", board_id)  # noqa: S608
    ctx.run("DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE board_id = ?)", board_id)
    ctx.run("DELETE FROM webhooks WHERE board_id = ?", board_id)
    ctx.run("DELETE FROM events WHERE board_id = ?", board_id)
    ctx.run("DELETE FROM boards WHERE id = ?", board_id)


@api.route("DELETE", "/boards/{id}")
def delete_board(ctx: Ctx, id: str) -> Any:
    ctx.board(id, roles=MANAGERS)
    delete_board_contents(ctx, id)
    return no_content()


# --- columns ------------------------------------------------------------------------------


def _end(ctx: Ctx, table: str, parent: str, parent_id: str) -> float:
    row = ctx.one(f"SELECT max(position) FROM {table} WHERE {parent} = ?", parent_id)  # noqa: S608
    return (row[0] if row is not None and row[0] is not None else 0.0) + STEP


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
    body.setdefault("position", _end(ctx, "columns", "board_id", id))
    return json_response(out(_created(ctx, "columns", {"board_id": id, **_columns(body)})), 201)


@api.route("PATCH", "/columns/{id}")
def patch_column(ctx: Ctx, id: str) -> Any:
    ctx.load("columns", id, write=True)
    body = parse_body(ctx.body, {"encTitle": F(v_env), "position": F(v_number), "wipLimit": _WIP}, partial=True)
    return json_response(out(ctx.update("columns", id, _columns(body))))


@api.route("DELETE", "/columns/{id}")
def delete_column(ctx: Ctx, id: str) -> Any:
    column = ctx.load("columns", id, write=True)
    for card in ctx.all("SELECT id FROM cards WHERE column_id = ?", id):
        ctx.emit(column["board_id"], "CARD_DELETED", card["id"], {"cardId": card["id"], "columnId": id})
    _delete_cards(ctx, "column_id = ?", id)
    ctx.run("DELETE FROM columns WHERE id = ?", id)
    return no_content()


# --- cards ----------------------------------------------------------------------------------


def _card_out(ctx: Ctx, card_id: str, status: int = 200, *, full: bool = False) -> Any:
    row = ctx.one("SELECT * FROM cards WHERE id = ?", card_id)
    assert row is not None
    return json_response(card_json(ctx, row, full=full), status)


def _bump(ctx: Ctx, card_id: str, values: dict[str, Any] | None = None) -> None:
    values = {**(values or {}), "updated_at": ctx.ts}
    sets = "".join(f", {name} = ?" for name in values)
    ctx.run(f"UPDATE cards SET version = version + 1{sets} WHERE id = ?", *values.values(), card_id)  # noqa: S608


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
    body.setdefault("position", _end(ctx, "cards", "column_id", id))
    board_id = column["board_id"]
    row = _created(ctx, "cards", {"board_id": board_id, "column_id": id, "version": 1, **_columns(body)})
    ctx.emit(board_id, "CARD_CREATED", row["id"], {"cardId": row["id"], "columnId": id})
    return _card_out(ctx, row["id"], 201)


@api.route("GET", "/boards/{id}/cards")
def list_cards(ctx: Ctx, id: str) -> Any:
    ctx.board(id)
    rows = ctx.all("SELECT * FROM cards WHERE board_id = ? ORDER BY column_id, position, created_at, id", id)
    return json_response(cards_json(ctx, id, rows))


@api.route("GET", "/cards/{id}")
def get_card(ctx: Ctx, id: str) -> Any:
    ctx.load("cards", id)
    return _card_out(ctx, id, full=True)


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
    _bump(ctx, id, _columns(body))
    archiving = body.get("archived") is True and not card["archived"]
    fields = sorted(k for k in body if not (k == "archived" and (archiving or bool(card["archived"]) == body[k])))
    if fields:
        ctx.emit(card["board_id"], "CARD_UPDATED", id, {"cardId": id, "fields": fields})
    if archiving:
        ctx.emit(card["board_id"], "CARD_ARCHIVED", id, {"cardId": id})
    return _card_out(ctx, id)


@api.route("DELETE", "/cards/{id}")
def delete_card(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    _delete_cards(ctx, "id = ?", id)
    ctx.emit(card["board_id"], "CARD_DELETED", id, {"cardId": id, "columnId": card["column_id"]})
    return no_content()


def _renumber(ctx: Ctx, others: list[Any]) -> list[float]:
    positions = []
    for index, other in enumerate(others):
        position = (index + 1) * STEP
        if other["position"] != position:
            _bump(ctx, other["id"], {"position": position})
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
    _bump(ctx, id, {"column_id": to, "position": position})
    ctx.emit(card["board_id"], "CARD_MOVED", id, {"cardId": id, "fromColumnId": card["column_id"], "toColumnId": to})
    if to != card["column_id"]:
        _automate(ctx, card["board_id"], id, {"type": "card.moved", "columnId": to}, 0)
    return _card_out(ctx, id)


# --- labels, assignees, milestone on a card ------------------------------------------------


def _attach_label(ctx: Ctx, board_id: str, card_id: str, label_id: str, depth: int, actor: str | None = "") -> None:
    if ctx.one("SELECT 1 FROM card_labels WHERE card_id = ? AND label_id = ?", card_id, label_id) is not None:
        return
    ctx.run("INSERT INTO card_labels (card_id, label_id, created_at) VALUES (?, ?, ?)", card_id, label_id, ctx.ts)
    _bump(ctx, card_id)
    ctx.emit(board_id, "LABEL_ATTACHED", card_id, {"cardId": card_id, "labelId": label_id}, actor=actor)
    _automate(ctx, board_id, card_id, {"type": "label.attached", "labelId": label_id}, depth)


def _assign(ctx: Ctx, board_id: str, card_id: str, user_id: str, actor: str | None = "") -> None:
    if ctx.one("SELECT 1 FROM card_assignees WHERE card_id = ? AND user_id = ?", card_id, user_id) is not None:
        return
    ctx.run("INSERT INTO card_assignees (card_id, user_id, created_at) VALUES (?, ?, ?)", card_id, user_id, ctx.ts)
    _bump(ctx, card_id)
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


def _automate(ctx: Ctx, board_id: str, card_id: str, trigger: dict[str, str], depth: int) -> None:
    """Run the board's enabled automations whose trigger matches, on ids alone."""
    if depth >= AUTOMATION_DEPTH:
        return
    for rule in ctx.all("SELECT * FROM automations WHERE board_id = ? AND enabled = 1 ORDER BY created_at", board_id):
        if json.loads(rule["trigger"]) != trigger:
            continue
        action = json.loads(rule["action"])
        if action["type"] == "label.attach":
            if ctx.one("SELECT 1 FROM labels WHERE id = ? AND board_id = ?", action["labelId"], board_id):
                _attach_label(ctx, board_id, card_id, action["labelId"], depth + 1, actor=None)
        elif action["type"] == "card.assign":
            board = ctx.one("SELECT workspace_id FROM boards WHERE id = ?", board_id)
            if board is not None and ctx.role(board["workspace_id"], action["userId"]) is not None:
                _assign(ctx, board_id, card_id, action["userId"], actor=None)


def _label_body(ctx: Ctx, card: Any) -> str:
    label_id = str(parse_body(ctx.body, {"labelId": F(v_id, True)})["labelId"])
    if ctx.one("SELECT 1 FROM labels WHERE id = ? AND board_id = ?", label_id, card["board_id"]) is None:
        raise HttpError("NOT_FOUND", "no such label on this board")
    return label_id


@api.route("POST", "/cards/{id}/labels")
def attach_label(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    _attach_label(ctx, card["board_id"], id, _label_body(ctx, card), 0)
    return _card_out(ctx, id)


@api.route("DELETE", "/cards/{id}/labels", body="json")
def detach_label(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    label_id = _label_body(ctx, card)
    if ctx.one("SELECT 1 FROM card_labels WHERE card_id = ? AND label_id = ?", id, label_id) is not None:
        ctx.run("DELETE FROM card_labels WHERE card_id = ? AND label_id = ?", id, label_id)
        _bump(ctx, id)
        ctx.emit(card["board_id"], "LABEL_DETACHED", id, {"cardId": id, "labelId": label_id})
    return no_content()


@api.route("POST", "/cards/{id}/assignments")
def assign(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    user_id = parse_body(ctx.body, {"userId": F(v_id, True)})["userId"]
    board = ctx.board(card["board_id"])
    if ctx.role(board["workspace_id"], user_id) is None:
        raise HttpError("NOT_FOUND", "no such member of this workspace")
    _assign(ctx, card["board_id"], id, user_id)
    return _card_out(ctx, id)


@api.route("DELETE", "/cards/{id}/assignments/{userId}")
def unassign(ctx: Ctx, id: str, user_id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    check_id(user_id, "assignee")
    if ctx.one("SELECT 1 FROM card_assignees WHERE card_id = ? AND user_id = ?", id, user_id) is not None:
        ctx.run("DELETE FROM card_assignees WHERE card_id = ? AND user_id = ?", id, user_id)
        _bump(ctx, id)
        ctx.emit(card["board_id"], "UNASSIGNED", id, {"cardId": id, "userId": user_id})
    return no_content()


@api.route("PUT", "/cards/{id}/milestone")
def set_milestone(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    milestone_id = parse_body(ctx.body, {"milestoneId": F(v_id, True, nullable=True)})["milestoneId"]
    if milestone_id is not None and (
        ctx.one("SELECT 1 FROM milestones WHERE id = ? AND board_id = ?", milestone_id, card["board_id"]) is None
    ):
        raise HttpError("NOT_FOUND", "no such milestone on this board")
    if milestone_id != card["milestone_id"]:
        _bump(ctx, id, {"milestone_id": milestone_id})
        ctx.emit(card["board_id"], "MILESTONE_SET", id, {"cardId": id, "milestoneId": milestone_id})
    return _card_out(ctx, id)


# --- comments, checklists, items -----------------------------------------------------------


@api.route("GET", "/cards/{id}/comments")
def list_comments(ctx: Ctx, id: str) -> Any:
    ctx.load("cards", id)
    return json_response(
        [out(r) for r in ctx.all("SELECT * FROM comments WHERE card_id = ? ORDER BY created_at, id", id)]
    )


@api.route("POST", "/cards/{id}/comments")
def create_comment(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    body = parse_body(ctx.body, {"encBody": F(v_env, True)})
    row = _created(ctx, "comments", {"card_id": id, "author_id": ctx.user_id, "enc_body": body["encBody"]})
    ctx.emit(card["board_id"], "COMMENT_CREATED", id, {"cardId": id, "commentId": row["id"]})
    return json_response(out(row), 201)


def _own_comment(ctx: Ctx, id: str) -> Any:
    row = ctx.load("comments", id, write=True)
    if row["author_id"] != ctx.user_id:
        board = ctx.board(row["_board"])
        if ctx.role(board["workspace_id"]) not in MANAGERS:
            raise HttpError("FORBIDDEN", "only the author or a workspace admin may change a comment")
    return row


@api.route("PATCH", "/comments/{id}")
def patch_comment(ctx: Ctx, id: str) -> Any:
    _own_comment(ctx, id)
    body = parse_body(ctx.body, {"encBody": F(v_env, True)})
    return json_response(out(ctx.update("comments", id, _columns(body))))


@api.route("DELETE", "/comments/{id}")
def delete_comment(ctx: Ctx, id: str) -> Any:
    _own_comment(ctx, id)
    ctx.run("DELETE FROM comments WHERE id = ?", id)
    return no_content()


@api.route("GET", "/cards/{id}/checklists")
def list_checklists(ctx: Ctx, id: str) -> Any:
    ctx.load("cards", id)
    rows = ctx.all("SELECT * FROM checklists WHERE card_id = ? ORDER BY position, created_at, id", id)
    return json_response([checklist_json(ctx, r) for r in rows])


@api.route("POST", "/cards/{id}/checklists")
def create_checklist(ctx: Ctx, id: str) -> Any:
    ctx.load("cards", id, write=True)
    body = parse_body(ctx.body, {"encTitle": F(v_env, True), "position": F(v_number)})
    body.setdefault("position", _end(ctx, "checklists", "card_id", id))
    return json_response(checklist_json(ctx, _created(ctx, "checklists", {"card_id": id, **_columns(body)})), 201)


@api.route("PATCH", "/checklists/{id}")
def patch_checklist(ctx: Ctx, id: str) -> Any:
    ctx.load("checklists", id, write=True)
    body = parse_body(ctx.body, {"encTitle": F(v_env), "position": F(v_number)}, partial=True)
    return json_response(checklist_json(ctx, ctx.update("checklists", id, _columns(body))))


@api.route("DELETE", "/checklists/{id}")
def delete_checklist(ctx: Ctx, id: str) -> Any:
    ctx.load("checklists", id, write=True)
    ctx.run("DELETE FROM checklist_items WHERE checklist_id = ?", id)
    ctx.run("DELETE FROM checklists WHERE id = ?", id)
    return no_content()


@api.route("POST", "/checklists/{id}/items")
def create_item(ctx: Ctx, id: str) -> Any:
    ctx.load("checklists", id, write=True)
    body = parse_body(ctx.body, {"encText": F(v_env, True), "done": F(v_bool), "position": F(v_number)})
    body.setdefault("position", _end(ctx, "checklist_items", "checklist_id", id))
    body["done"] = int(body.get("done", False))
    return json_response(out(_created(ctx, "checklist_items", {"checklist_id": id, **_columns(body)})), 201)


@api.route("PATCH", "/checklist-items/{id}")
def patch_item(ctx: Ctx, id: str) -> Any:
    item = ctx.load("checklist_items", id, write=True)
    body = parse_body(ctx.body, {"encText": F(v_env), "done": F(v_bool), "position": F(v_number)}, partial=True)
    if "done" in body:
        body["done"] = int(body["done"])
    row = ctx.update("checklist_items", id, _columns(body))
    if "done" in body and bool(body["done"]) != bool(item["done"]):
        ctx.emit(
            item["_board"],
            "CHECKLIST_ITEM_TOGGLED",
            item["_card"],
            {"cardId": item["_card"], "checklistId": item["checklist_id"], "itemId": id, "done": bool(body["done"])},
        )
    return json_response(out(row))


@api.route("DELETE", "/checklist-items/{id}")
def delete_item(ctx: Ctx, id: str) -> Any:
    ctx.load("checklist_items", id, write=True)
    ctx.run("DELETE FROM checklist_items WHERE id = ?", id)
    return no_content()


# --- attachments ---------------------------------------------------------------------------------

_ATTACHMENT_META = {
    "encName": F(v_env, True),
    "encMime": F(v_env, True),
    "encFileKey": F(v_env, True),
    "size": F(v_int(0, 2**40), True),
}


@api.route("GET", "/cards/{id}/attachments")
def list_attachments(ctx: Ctx, id: str) -> Any:
    ctx.load("cards", id)
    rows = ctx.all(f"SELECT {readable('attachments')} FROM attachments WHERE card_id = ? ORDER BY created_at, id", id)  # noqa: S608
    return json_response([out(r) for r in rows])


@api.route("POST", "/cards/{id}/attachments", body="multipart")
def upload(ctx: Ctx, id: str) -> Any:
    ctx.load("cards", id, write=True)
    form = ctx.form
    assert form is not None
    if set(form.keys()) != {"meta", "file"}:
        bad_request("multipart parts must be exactly meta and file")
    meta_text, upload_file = form["meta"], form["file"]
    if not isinstance(meta_text, str) or isinstance(upload_file, str):
        bad_request("meta must be a text part and file a file part")
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError:
        bad_request("meta is not valid JSON")
    body = parse_body(json_object(meta), _ATTACHMENT_META)
    upload_file.file.seek(0)
    content = upload_file.file.read(ctx.shared.config.max_attachment + 1)
    if len(content) > ctx.shared.config.max_attachment:
        raise HttpError("PAYLOAD_TOO_LARGE", f"attachments are limited to {ctx.shared.config.max_attachment} bytes")
    row = _created(ctx, "attachments", {"card_id": id, "content": content, **_columns(body)})
    return json_response(out(row), 201)


@api.route("GET", "/attachments/{id}")
def get_attachment(ctx: Ctx, id: str) -> Any:
    return json_response(out(ctx.load("attachments", id)))


#: Bytes read from the database per streamed chunk.
_STREAM_CHUNK = 256 * 1024


@api.route("GET", "/attachments/{id}/content")
def attachment_content(ctx: Ctx, id: str) -> Any:
    ctx.load("attachments", id)
    meta = ctx.one("SELECT rowid, length(content) AS n FROM attachments WHERE id = ?", id)
    assert meta is not None
    rowid, length, conn = meta["rowid"], meta["n"], ctx.conn

    async def chunks() -> AsyncIterator[bytes]:
        offset = 0
        while offset < length:
            try:
                with conn.blobopen("attachments", "content", rowid, readonly=True) as blob:
                    blob.seek(offset)
                    data = blob.read(_STREAM_CHUNK)
            except sqlite3.Error:  # deleted meanwhile: the short stream fails its TAG_FINAL check
                return
            if not data:
                return
            offset += len(data)
            yield data

    async def respond() -> Any:
        return StreamingResponse(
            chunks(), media_type="application/octet-stream", headers={"Content-Length": str(length)}
        )

    return Later(respond)


@api.route("DELETE", "/attachments/{id}")
def delete_attachment(ctx: Ctx, id: str) -> Any:
    ctx.load("attachments", id, write=True)
    ctx.run("DELETE FROM attachments WHERE id = ?", id)
    return no_content()


# --- board-scoped resources: labels, milestones, templates, custom fields, automations ---------


def _list(ctx: Ctx, table: str, id: str, extra: str = "", *, roles: Iterable[str] | None = None) -> Any:
    ctx.board(id, roles=roles)
    rows = ctx.all(f"SELECT * FROM {table} WHERE board_id = ?{extra} ORDER BY created_at, id", id)  # noqa: S608
    return json_response([out(r) for r in rows])


def _create(ctx: Ctx, table: str, id: str, spec: dict[str, F], defaults: dict[str, Any] | None = None) -> Any:
    ctx.board(id, write=True)
    body = _columns(parse_body(ctx.body, spec))
    return json_response(out(_created(ctx, table, {"board_id": id, **(defaults or {}), **body})), 201)


def _patch(ctx: Ctx, table: str, id: str, spec: dict[str, F]) -> Any:
    ctx.load(table, id, write=True)
    body = _columns(parse_body(ctx.body, spec, partial=True))
    return json_response(out(ctx.update(table, id, body)))


def _delete(ctx: Ctx, table: str, id: str) -> Any:
    ctx.load(table, id, write=True)
    return _remove(ctx, table, id)


def _remove(ctx: Ctx, table: str, id: str) -> Any:
    """Delete a row the caller has already loaded for writing."""
    ctx.run(f"DELETE FROM {table} WHERE id = ?", id)  # noqa: S608
    return no_content()


_LABEL = {"encName": F(v_env, True), "color": F(v_color, True)}


@api.route("GET", "/boards/{id}/labels")
def list_labels(ctx: Ctx, id: str) -> Any:
    return _list(ctx, "labels", id)


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
        _bump(ctx, card["card_id"])
    ctx.run("DELETE FROM card_labels WHERE label_id = ?", id)
    return _remove(ctx, "labels", id)


_MILESTONE = {"encTitle": F(v_env, True), "dueAt": F(v_iso, nullable=True), "archived": F(v_bool)}


@api.route("GET", "/boards/{id}/milestones")
def list_milestones(ctx: Ctx, id: str) -> Any:
    flag = ctx.request.query_params.get("archived", "0")
    if flag not in ("0", "1", "true", "false"):
        bad_request("archived must be 0 or 1")
    return _list(ctx, "milestones", id, "" if flag in ("1", "true") else " AND archived = 0")


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
        _bump(ctx, card["id"], {"milestone_id": None})
    return _remove(ctx, "milestones", id)


_TEMPLATE = {"encTitle": F(v_env, True), "encBody": F(v_env, nullable=True)}


@api.route("GET", "/boards/{id}/card-templates")
def list_templates(ctx: Ctx, id: str) -> Any:
    return _list(ctx, "card_templates", id)


@api.route("POST", "/boards/{id}/card-templates")
def create_template(ctx: Ctx, id: str) -> Any:
    return _create(ctx, "card_templates", id, _TEMPLATE)


@api.route("PATCH", "/card-templates/{id}")
def patch_template(ctx: Ctx, id: str) -> Any:
    return _patch(ctx, "card_templates", id, _TEMPLATE)


@api.route("DELETE", "/card-templates/{id}")
def delete_template(ctx: Ctx, id: str) -> Any:
    return _delete(ctx, "card_templates", id)


_CUSTOM_FIELD = {
    "encName": F(v_env, True),
    "type": F(v_enum(*CUSTOM_FIELD_TYPES), True),
    "encOptions": F(v_env, nullable=True),
}


@api.route("GET", "/boards/{id}/custom-fields")
def list_custom_fields(ctx: Ctx, id: str) -> Any:
    return _list(ctx, "custom_fields", id)


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
            _bump(ctx, card["id"], {"custom_fields": json.dumps(values, separators=(",", ":"))})
    return _remove(ctx, "custom_fields", id)


def _rule(kinds: dict[str, str]) -> Any:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, dict) or value.get("type") not in kinds:
            bad_request(f"{name}.type must be one of {', '.join(kinds)}")
        key = kinds[value["type"]]
        if set(value) != {"type", key} or not is_valid_id(value[key]):
            bad_request(f"{name} of type {value['type']} needs exactly type and {key} (an id)")
        return json.dumps({"type": value["type"], key: value[key]}, separators=(",", ":"))

    return check


_AUTOMATION = {
    "encName": F(v_env, True),
    "trigger": F(_rule(AUTOMATION_TRIGGERS), True),
    "action": F(_rule(AUTOMATION_ACTIONS), True),
    "enabled": F(v_bool),
}


def _check_rule_ids(ctx: Ctx, board_id: str, body: dict[str, Any]) -> None:
    tables = {"columnId": "columns", "labelId": "labels"}
    for part in ("trigger", "action"):
        if part not in body:
            continue
        rule = json.loads(body[part])
        for key, value in rule.items():
            if key in tables:
                table = tables[key]
                if ctx.one(f"SELECT 1 FROM {table} WHERE id = ? AND board_id = ?", value, board_id) is None:  # noqa: S608
                    raise HttpError("NOT_FOUND", f"{part}.{key} is not on this board")
            elif key == "userId":
                board = ctx.board(board_id)
                if ctx.role(board["workspace_id"], value) is None:
                    raise HttpError("NOT_FOUND", f"{part}.userId is not a member of this workspace")


@api.route("GET", "/boards/{id}/automations")
def list_automations(ctx: Ctx, id: str) -> Any:
    return _list(ctx, "automations", id)


@api.route("POST", "/boards/{id}/automations")
def create_automation(ctx: Ctx, id: str) -> Any:
    ctx.board(id, write=True)
    body = parse_body(ctx.body, _AUTOMATION)
    _check_rule_ids(ctx, id, body)
    body["enabled"] = int(body.get("enabled", True))
    return json_response(out(_created(ctx, "automations", {"board_id": id, **_columns(body)})), 201)


@api.route("PATCH", "/automations/{id}")
def patch_automation(ctx: Ctx, id: str) -> Any:
    row = ctx.load("automations", id, write=True)
    body = parse_body(ctx.body, {k: F(v.check, False, v.nullable) for k, v in _AUTOMATION.items()}, partial=True)
    _check_rule_ids(ctx, row["board_id"], body)
    if "enabled" in body:
        body["enabled"] = int(body["enabled"])
    return json_response(out(ctx.update("automations", id, _columns(body))))


@api.route("DELETE", "/automations/{id}")
def delete_automation(ctx: Ctx, id: str) -> Any:
    return _delete(ctx, "automations", id)


# --- webhooks ----------------------------------------------------------------------------------


def _url(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > 2000 or not value.startswith(("http://", "https://")):
        bad_request(f"{name} must be an http(s) URL")
    if any(c.isspace() for c in value) or len(value.split("://", 1)[1].split("/")[0]) == 0:
        bad_request(f"{name} must be an http(s) URL")
    return value


def _events(name: str, value: Any) -> str:
    if not isinstance(value, list) or not value or any(v not in WEBHOOK_EVENTS for v in value):
        bad_request(f"{name} must be a non-empty list of: {', '.join(WEBHOOK_EVENTS)}")
    return json.dumps(sorted(set(value), key=WEBHOOK_EVENTS.index))


_WEBHOOK = {"url": F(_url, True), "events": F(_events, True), "active": F(v_bool)}


@api.route("GET", "/boards/{id}/webhooks")
def list_webhooks(ctx: Ctx, id: str) -> Any:
    return _list(ctx, "webhooks", id, roles=MANAGERS)


@api.route("POST", "/boards/{id}/webhooks")
def create_webhook(ctx: Ctx, id: str) -> Any:
    ctx.board(id, roles=MANAGERS)
    body = parse_body(ctx.body, _WEBHOOK)
    body["active"] = int(body.get("active", True))
    secret = "whsec_" + new_token()
    row = _created(ctx, "webhooks", {"board_id": id, "secret": secret, **_columns(body)})
    return json_response(out(row, secret=secret), 201)


@api.route("PATCH", "/webhooks/{id}")
def patch_webhook(ctx: Ctx, id: str) -> Any:
    ctx.load("webhooks", id, roles=MANAGERS)
    body = parse_body(ctx.body, {k: F(v.check) for k, v in _WEBHOOK.items()}, partial=True)
    if "active" in body:
        body["active"] = int(body["active"])
    return json_response(out(ctx.update("webhooks", id, _columns(body))))


@api.route("DELETE", "/webhooks/{id}")
def delete_webhook(ctx: Ctx, id: str) -> Any:
    ctx.load("webhooks", id, roles=MANAGERS)
    ctx.run("DELETE FROM webhook_deliveries WHERE webhook_id = ?", id)
    ctx.run("DELETE FROM webhooks WHERE id = ?", id)
    return no_content()


@api.route("GET", "/webhooks/{id}/deliveries")
def list_deliveries(ctx: Ctx, id: str) -> Any:
    ctx.load("webhooks", id, roles=MANAGERS)
    rows = ctx.all("SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, id DESC", id)
    return json_response([out(r) for r in rows])


@api.route("POST", "/webhooks/deliveries/{id}/requeue", body="json?")
def requeue(ctx: Ctx, id: str) -> Any:
    parse_body(ctx.body, {})
    row = ctx.load("webhook_deliveries", id, roles=MANAGERS)
    realtime = ctx.shared.realtime

    async def respond() -> Any:
        try:
            realtime.requeue(id)
        except NotFoundError:
            return error_response(HttpError("NOT_FOUND", "no such delivery"))
        fresh = ctx.conn.execute("SELECT * FROM webhook_deliveries WHERE id = ?", (id,)).fetchone()
        return json_response(out(fresh if fresh is not None else row), 202)

    return Later(respond)


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
