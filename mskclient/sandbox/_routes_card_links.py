"""Routes that link a card to other things on its board: labels, assignees, the milestone."""

from __future__ import annotations

from typing import Any

from ._card_writes import bump_card, link_assignee, link_label
from ._core import Api, Ctx
from ._http import (
    F,
    HttpError,
    check_id,
    no_content,
    parse_body,
    v_id,
)
from ._shapes import card_response

__all__ = ["api"]

api = Api()


def _label_body(ctx: Ctx, card: Any) -> str:
    label_id = str(parse_body(ctx.body, {"labelId": F(v_id, True)})["labelId"])
    if ctx.one("SELECT 1 FROM labels WHERE id = ? AND board_id = ?", label_id, card["board_id"]) is None:
        raise HttpError("NOT_FOUND", "no such label on this board")
    return label_id


@api.route("POST", "/cards/{id}/labels")
def attach_label(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    link_label(ctx, card["board_id"], id, _label_body(ctx, card), 0)
    return card_response(ctx, id)


@api.route("DELETE", "/cards/{id}/labels", body="json")
def detach_label(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    label_id = _label_body(ctx, card)
    if ctx.one("SELECT 1 FROM card_labels WHERE card_id = ? AND label_id = ?", id, label_id) is not None:
        ctx.run("DELETE FROM card_labels WHERE card_id = ? AND label_id = ?", id, label_id)
        bump_card(ctx, id)
        ctx.emit(card["board_id"], "LABEL_DETACHED", id, {"cardId": id, "labelId": label_id})
    return no_content()


@api.route("POST", "/cards/{id}/assignments")
def assign(ctx: Ctx, id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    user_id = parse_body(ctx.body, {"userId": F(v_id, True)})["userId"]
    board = ctx.board(card["board_id"])
    if ctx.role(board["workspace_id"], user_id) is None:
        raise HttpError("NOT_FOUND", "no such member of this workspace")
    link_assignee(ctx, card["board_id"], id, user_id)
    return card_response(ctx, id)


@api.route("DELETE", "/cards/{id}/assignments/{userId}")
def unassign(ctx: Ctx, id: str, user_id: str) -> Any:
    card = ctx.load("cards", id, write=True)
    check_id(user_id, "assignee")
    if ctx.one("SELECT 1 FROM card_assignees WHERE card_id = ? AND user_id = ?", id, user_id) is not None:
        ctx.run("DELETE FROM card_assignees WHERE card_id = ? AND user_id = ?", id, user_id)
        bump_card(ctx, id)
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
        bump_card(ctx, id, {"milestone_id": milestone_id})
        ctx.emit(card["board_id"], "MILESTONE_SET", id, {"cardId": id, "milestoneId": milestone_id})
    return card_response(ctx, id)
