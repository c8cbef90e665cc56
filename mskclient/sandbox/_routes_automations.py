"""Automation and webhook routes of a board, and webhook deliveries (list, requeue)."""

from __future__ import annotations

import json
from typing import Any

from .._errors import NotFoundError
from .._profile import (
    AUTOMATION_ACTIONS,
    AUTOMATION_TRIGGERS,
    WEBHOOK_EVENTS,
    is_valid_id,
)
from ._core import MANAGERS, Api, Ctx, Later, out
from ._http import (
    F,
    HttpError,
    bad_request,
    error_response,
    json_response,
    no_content,
    parse_body,
    v_bool,
    v_env,
)
from ._rows import body_columns, delete_loaded, insert_new, list_on_board
from ._security import new_token

__all__ = ["api"]

api = Api()


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
    return list_on_board(ctx, "automations", id)


@api.route("POST", "/boards/{id}/automations")
def create_automation(ctx: Ctx, id: str) -> Any:
    ctx.board(id, write=True)
    body = parse_body(ctx.body, _AUTOMATION)
    _check_rule_ids(ctx, id, body)
    body["enabled"] = int(body.get("enabled", True))
    return json_response(out(insert_new(ctx, "automations", {"board_id": id, **body_columns(body)})), 201)


@api.route("PATCH", "/automations/{id}")
def patch_automation(ctx: Ctx, id: str) -> Any:
    row = ctx.load("automations", id, write=True)
    body = parse_body(ctx.body, {k: F(v.check, False, v.nullable) for k, v in _AUTOMATION.items()}, partial=True)
    _check_rule_ids(ctx, row["board_id"], body)
    if "enabled" in body:
        body["enabled"] = int(body["enabled"])
    return json_response(out(ctx.update("automations", id, body_columns(body))))


@api.route("DELETE", "/automations/{id}")
def delete_automation(ctx: Ctx, id: str) -> Any:
    ctx.load("automations", id, write=True)
    return delete_loaded(ctx, "automations", id)


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
    return list_on_board(ctx, "webhooks", id, roles=MANAGERS)


@api.route("POST", "/boards/{id}/webhooks")
def create_webhook(ctx: Ctx, id: str) -> Any:
    ctx.board(id, roles=MANAGERS)
    body = parse_body(ctx.body, _WEBHOOK)
    body["active"] = int(body.get("active", True))
    secret = "whsec_" + new_token()
    row = insert_new(ctx, "webhooks", {"board_id": id, "secret": secret, **body_columns(body)})
    return json_response(out(row, secret=secret), 201)


@api.route("PATCH", "/webhooks/{id}")
def patch_webhook(ctx: Ctx, id: str) -> Any:
    ctx.load("webhooks", id, roles=MANAGERS)
    body = parse_body(ctx.body, {k: F(v.check) for k, v in _WEBHOOK.items()}, partial=True)
    if "active" in body:
        body["active"] = int(body["active"])
    return json_response(out(ctx.update("webhooks", id, body_columns(body))))


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
