"""Workspace and member routes: create, read, rename and delete workspaces; invite members,
change their roles and remove them (their relay sockets and streams are revoked after commit)."""

from __future__ import annotations

from typing import Any

from .._profile import ROLES
from ._cascade import delete_workspace
from ._core import MANAGERS, Api, Ctx, out
from ._http import (
    F,
    HttpError,
    check_id,
    json_response,
    no_content,
    parse_body,
    v_enum,
    v_env,
    v_id,
    v_sealed,
)
from ._rows import body_columns, insert_new
from ._shapes import members

__all__ = ["api"]

api = Api()



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
    row = insert_new(ctx, "workspaces", {"enc_name": body["encName"], "owner_id": ctx.user_id})
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
    return json_response(out(ctx.update("workspaces", id, body_columns(body))))


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
