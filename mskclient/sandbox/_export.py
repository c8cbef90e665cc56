"""The `GET /me/export` route: everything the caller can read, streamed page by page from one
read snapshot on a connection of its own."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncGenerator
from functools import partial
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ._config import SandboxConfig
from ._core import Api, Ctx, Later, out
from ._db import connect_reader
from ._http import json_text
from ._shapes import full_cards, members_seen_by, membership_json, user_json
from ._webhooks import retry_async

__all__ = ["api"]

api = Api()

log = logging.getLogger("mskclient.sandbox")

#: Cards read, encoded and sent per step of an export (one set of queries each).
EXPORT_PAGE = 50

#: Every table an export reads.  A shared-cache memory database isolates a reader by table
#: locks, each taken when the reader first touches the table and held until its transaction
#: ends (a writer meanwhile gets SQLITE_LOCKED and retries): taking them all when the export
#: begins makes it one moment there too.  A WAL file database gives each reader a snapshot.
_EXPORT_TABLES = (
    "users",
    "memberships",
    "workspaces",
    "boards",
    "columns",
    "labels",
    "milestones",
    "custom_fields",
    "card_templates",
    "cards",
    "card_labels",
    "card_assignees",
    "comments",
    "checklists",
    "checklist_items",
    "attachments",
)


def _begin_snapshot(conn: sqlite3.Connection) -> None:
    """Open the export's read transaction; it sees one moment of every table it reads."""
    conn.execute("BEGIN")
    try:
        for table in _EXPORT_TABLES:
            conn.execute(f"SELECT 1 FROM {table} LIMIT 0").fetchall()  # noqa: S608
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _end_snapshot(conn: sqlite3.Connection) -> None:
    """End the export's read transaction (releasing its locks) and close its connection."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def _first(conn: sqlite3.Connection, sql: str, *args: Any) -> Any:
    """The first row of a query, read to its end: no statement of the export stays open."""
    rows = conn.execute(sql, args).fetchall()
    return rows[0] if rows else None


def _open_json(data: dict[str, Any]) -> str:
    """The JSON text of `data` up to its last member, an empty array left open: `{…,"k":[`."""
    text = json_text(data)
    assert text.endswith("[]}")
    return text[:-2]


def _board_rows(conn: sqlite3.Connection, table: str, board_id: str, order: str = "created_at, id") -> list[Any]:
    sql = f"SELECT * FROM {table} WHERE board_id = ? ORDER BY {order}"  # noqa: S608
    return [out(r) for r in conn.execute(sql, (board_id,)).fetchall()]


def _export_cards(conn: sqlite3.Connection, cards: sqlite3.Cursor) -> list[dict[str, Any]]:
    """The next page of a board's cards (up to EXPORT_PAGE, `cards` gives the order) in the
    shape of `GET /cards/:id`; [] when none is left."""
    return full_cards(conn, cards.fetchmany(EXPORT_PAGE))


async def _export_stream(config: SandboxConfig, user_id: str, exported_at: str) -> AsyncGenerator[bytes, None]:
    """The `/me/export` document (docs/protocol.md#export) in pieces, the cards EXPORT_PAGE at a time, all
    read from one snapshot on a connection of its own, handing the event loop back between
    pages.  A failure raises: the response is cut short, never a complete-looking document."""
    conn: sqlite3.Connection | None = None
    sent = 0
    try:
        conn = connect_reader(config)
        await retry_async(partial(_begin_snapshot, conn))
        user = _first(conn, "SELECT * FROM users WHERE id = ?", user_id)
        if user is None:
            raise LookupError("the account went away before its export began")
        kdf = {"salt": user["salt"], **config.kdf.to_json()}
        parts = [_open_json({"exportedAt": exported_at, "user": user_json(user), "kdf": kdf, "workspaces": []})]
        memberships = conn.execute(
            "SELECT * FROM memberships WHERE user_id = ? ORDER BY created_at", (user_id,)
        ).fetchall()
        first_workspace = True
        for membership in memberships:
            ws = _first(conn, "SELECT * FROM workspaces WHERE id = ?", membership["workspace_id"])
            if ws is None:
                continue
            entry = {
                "workspace": out(ws),
                "membership": membership_json(membership),
                "members": members_seen_by(conn, ws["id"], user_id),
                "boards": [],
            }
            parts.append(("" if first_workspace else ",") + _open_json(entry))
            first_workspace = False
            boards = conn.execute(
                "SELECT * FROM boards WHERE workspace_id = ? ORDER BY created_at, id", (ws["id"],)
            ).fetchall()
            for index, board in enumerate(boards):
                board_id = board["id"]
                bundle = {
                    "board": out(board),
                    "columns": _board_rows(conn, "columns", board_id, "position, created_at, id"),
                    "labels": _board_rows(conn, "labels", board_id),
                    "milestones": _board_rows(conn, "milestones", board_id),
                    "customFields": _board_rows(conn, "custom_fields", board_id),
                    "cardTemplates": _board_rows(conn, "card_templates", board_id),
                    "cards": [],
                }
                parts.append(("," if index else "") + _open_json(bundle))
                cards = conn.execute(
                    "SELECT * FROM cards WHERE board_id = ? ORDER BY column_id, position, created_at, id", (board_id,)
                )
                try:
                    first_card = True
                    while page := _export_cards(conn, cards):
                        parts.append(("" if first_card else ",") + ",".join(json_text(card) for card in page))
                        first_card = False
                        sent += len(page)
                        yield "".join(parts).encode("utf-8")
                        parts.clear()
                        await asyncio.sleep(0)  # other requests run between two pages
                finally:
                    # A statement not run to its end keeps its table locked (shared cache),
                    # even past ROLLBACK and close(): finish it whatever happens.
                    cards.close()
                parts.append("]}")
            parts.append("]}")
        parts.append("]}")
        yield "".join(parts).encode("utf-8")
    except Exception:
        log.exception("internal error on GET /me/export: the response was cut after %d cards", sent)
        raise
    finally:
        if conn is not None:
            _end_snapshot(conn)


class _ClosingStream(StreamingResponse):
    """A stream whose generator is closed however the response ends (complete, failed, client
    gone, task cancelled), so its `finally` releases the snapshot at once, not when collected."""

    def __init__(self, body: AsyncGenerator[bytes, None], media_type: str) -> None:
        super().__init__(body, media_type=media_type)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._body.aclose()


@api.route("GET", "/me/export")
def export(ctx: Ctx) -> Any:
    """Everything the caller can read, streamed (authenticated and counted here, read after)."""
    config, user_id, exported_at = ctx.shared.config, ctx.user_id, ctx.ts

    async def respond() -> Any:
        return _ClosingStream(_export_stream(config, user_id, exported_at), media_type="application/json")

    return Later(respond)
