"""The select lists the API reads rows with, and the schema of database files made earlier."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mskclient.sandbox._db import SCHEMA, readable


def test_attachment_rows_are_read_with_every_column_but_the_content() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(SCHEMA)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(attachments)")]
    finally:
        conn.close()
    assert readable("attachments").split(", ") == [c for c in columns if c != "content"]
    assert readable("attachments", "t").startswith("t.id, t.card_id")
    assert readable("cards") == "*" and readable("cards", "t") == "t.*"


def test_a_database_made_before_tickets_were_bound_to_sessions_gets_the_column(tmp_path: Path) -> None:
    from mskclient.sandbox import SandboxConfig
    from mskclient.sandbox._db import connect

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA.replace(", session_hash TEXT", ""))
    old.execute("INSERT INTO ws_tickets (ticket_hash, user_id, room, expires_at) VALUES ('h', 'u', 'r', 1)")
    old.commit()
    old.close()
    for _ in range(2):  # the second open finds the column there
        conn = connect(SandboxConfig(db_path=str(path)))
        try:
            rows = conn.execute("SELECT ticket_hash, session_hash FROM ws_tickets").fetchall()
        finally:
            conn.close()
        assert [tuple(row) for row in rows] == [("h", None)]
