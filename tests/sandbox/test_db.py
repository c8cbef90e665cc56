"""The select lists the API reads rows with."""

from __future__ import annotations

import sqlite3

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
