"""Routes for what a card holds: comments, checklists and their items, attachments (uploaded
as multipart, their content streamed from the database)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from ._core import MANAGERS, Api, Ctx, Later, out
from ._db import readable
from ._http import (
    F,
    HttpError,
    bad_request,
    json_object,
    json_response,
    no_content,
    parse_body,
    v_bool,
    v_env,
    v_int,
    v_number,
)
from ._rows import body_columns, end_position, insert_new
from ._shapes import checklist_json

__all__ = ["api"]

api = Api()

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
    row = insert_new(ctx, "comments", {"card_id": id, "author_id": ctx.user_id, "enc_body": body["encBody"]})
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
    return json_response(out(ctx.update("comments", id, body_columns(body))))


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
    body.setdefault("position", end_position(ctx, "checklists", "card_id", id))
    return json_response(checklist_json(ctx, insert_new(ctx, "checklists", {"card_id": id, **body_columns(body)})), 201)


@api.route("PATCH", "/checklists/{id}")
def patch_checklist(ctx: Ctx, id: str) -> Any:
    ctx.load("checklists", id, write=True)
    body = parse_body(ctx.body, {"encTitle": F(v_env), "position": F(v_number)}, partial=True)
    return json_response(checklist_json(ctx, ctx.update("checklists", id, body_columns(body))))


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
    body.setdefault("position", end_position(ctx, "checklist_items", "checklist_id", id))
    body["done"] = int(body.get("done", False))
    return json_response(out(insert_new(ctx, "checklist_items", {"checklist_id": id, **body_columns(body)})), 201)


@api.route("PATCH", "/checklist-items/{id}")
def patch_item(ctx: Ctx, id: str) -> Any:
    item = ctx.load("checklist_items", id, write=True)
    body = parse_body(ctx.body, {"encText": F(v_env), "done": F(v_bool), "position": F(v_number)}, partial=True)
    if "done" in body:
        body["done"] = int(body["done"])
    row = ctx.update("checklist_items", id, body_columns(body))
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
    row = insert_new(ctx, "attachments", {"card_id": id, "content": content, **body_columns(body)})
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
