"""SQLite storage of the sandbox: connections (WAL, busy timeout) and the schema.

The server stores what the real one would: ids, metadata, ciphertext (envelope
text, attachment streams) and verifiers.  `ws_tickets`, `events`, `webhooks`,
`webhook_deliveries`, `boards` and `memberships` are shared with the realtime
engine, which reads and writes them through its own connection.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

from .._errors import UsageError
from ._config import SandboxConfig

__all__ = ["SCHEMA", "connect", "connect_reader", "readable", "release"]

_BUSY_TIMEOUT_MS = 15000

#: An attachment's columns but its content: the content (up to the upload limit) is only
#: ever streamed by `GET /attachments/:id/content`, never loaded with the metadata.
_ATTACHMENT_METADATA = ("id", "card_id", "enc_name", "enc_mime", "enc_file_key", "size", "created_at", "updated_at")


def readable(table: str, alias: str = "") -> str:
    """The select list for rows of `table` the API reads (`alias.` before each column if given)."""
    prefix = f"{alias}." if alias else ""
    if table == "attachments":
        return ", ".join(prefix + column for column in _ATTACHMENT_METADATA)
    return prefix + "*"


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
    salt TEXT NOT NULL, verifier_salt BLOB NOT NULL, verifier BLOB NOT NULL,
    public_key TEXT NOT NULL, enc_private_key TEXT NOT NULL, enc_symmetric_key TEXT NOT NULL,
    enc_recovery_blob TEXT NOT NULL,
    totp_secret TEXT, totp_pending TEXT, totp_last_step INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at REAL NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS login_failures (
    email TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS recovery_challenges (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, challenge_hash BLOB NOT NULL, salt TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ws_tickets (
    ticket_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, room TEXT NOT NULL,
    expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0, session_hash TEXT);
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY, enc_name TEXT NOT NULL, owner_id TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
    workspace_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
    enc_workspace_key TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id));
CREATE INDEX IF NOT EXISTS memberships_user ON memberships(user_id);
CREATE TABLE IF NOT EXISTS boards (
    id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, enc_title TEXT NOT NULL, enc_description TEXT,
    enc_board_key TEXT NOT NULL, archived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS boards_workspace ON boards(workspace_id);
CREATE TABLE IF NOT EXISTS columns (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, enc_title TEXT NOT NULL, position REAL NOT NULL,
    wip_limit INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS columns_board ON columns(board_id);
CREATE TABLE IF NOT EXISTS cards (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, column_id TEXT NOT NULL, position REAL NOT NULL,
    enc_title TEXT NOT NULL, enc_description TEXT, due_at TEXT, milestone_id TEXT,
    custom_fields TEXT NOT NULL DEFAULT '{}', archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cards_board ON cards(board_id);
CREATE INDEX IF NOT EXISTS cards_column ON cards(column_id, position);
CREATE TABLE IF NOT EXISTS card_labels (
    card_id TEXT NOT NULL, label_id TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (card_id, label_id));
CREATE TABLE IF NOT EXISTS card_assignees (
    card_id TEXT NOT NULL, user_id TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (card_id, user_id));
CREATE TABLE IF NOT EXISTS labels (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, enc_name TEXT NOT NULL, color TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS milestones (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, enc_title TEXT NOT NULL, due_at TEXT,
    archived INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS comments (
    id TEXT PRIMARY KEY, card_id TEXT NOT NULL, author_id TEXT NOT NULL, enc_body TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS comments_card ON comments(card_id);
CREATE TABLE IF NOT EXISTS checklists (
    id TEXT PRIMARY KEY, card_id TEXT NOT NULL, enc_title TEXT NOT NULL, position REAL NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS checklists_card ON checklists(card_id);
CREATE TABLE IF NOT EXISTS checklist_items (
    id TEXT PRIMARY KEY, checklist_id TEXT NOT NULL, enc_text TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
    position REAL NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_checklist ON checklist_items(checklist_id);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY, card_id TEXT NOT NULL, enc_name TEXT NOT NULL, enc_mime TEXT NOT NULL,
    enc_file_key TEXT NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_card ON attachments(card_id);
CREATE TABLE IF NOT EXISTS card_templates (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, enc_title TEXT NOT NULL, enc_body TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_fields (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, enc_name TEXT NOT NULL, type TEXT NOT NULL,
    enc_options TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS automations (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, enc_name TEXT NOT NULL, trigger TEXT NOT NULL,
    action TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, board_id TEXT, card_id TEXT,
    actor_id TEXT, read INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notifications_user ON notifications(user_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, board_id TEXT NOT NULL, verb TEXT NOT NULL, card_id TEXT,
    actor_id TEXT, timestamp TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_board ON events(board_id, id);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY, board_id TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL,
    events TEXT NOT NULL, active INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, event_id INTEGER NOT NULL, verb TEXT NOT NULL,
    payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at REAL,
    last_status INTEGER, last_error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_webhook ON webhook_deliveries(webhook_id);
CREATE INDEX IF NOT EXISTS deliveries_due ON webhook_deliveries(status, next_attempt_at);
"""

#: In-memory databases kept alive by one held connection each, by name.
_keepers: dict[str, sqlite3.Connection] = {}
_keepers_lock = threading.Lock()


def _open(config: SandboxConfig) -> sqlite3.Connection:
    if config.db_path == ":memory:":
        uri = f"file:{config.memory_name}?mode=memory&cache=shared"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    # Private from the start (sessions and verifiers live here); SQLite gives -wal/-shm the same mode.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(config.db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return sqlite3.connect(config.db_path, isolation_level=None, check_same_thread=False, timeout=15)


def connect(config: SandboxConfig) -> sqlite3.Connection:
    """A new autocommit connection to the sandbox database, schema created if missing.

    Callers open transactions themselves (`BEGIN IMMEDIATE` before writing) and
    never hold one across an `await`.
    """
    conn: sqlite3.Connection | None = None
    try:
        if config.db_path == ":memory:":
            with _keepers_lock:
                if config.memory_name not in _keepers:
                    _keepers[config.memory_name] = _open(config)
        conn = _open(config)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if config.db_path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        _add_late_columns(conn)
    except (sqlite3.Error, OSError) as exc:
        if conn is not None:  # e.g. a file that is not a database: opened, then refused
            conn.close()
        raise UsageError(f"cannot open the sandbox database {config.db_path!r}: {exc}") from None
    return conn


#: Columns added after a table was first shipped: (table, column, declaration).  A database
#: file made before gets them on open (old rows hold NULL).
_LATE_COLUMNS = (("ws_tickets", "session_hash", "TEXT"),)


def _add_late_columns(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, declaration in _LATE_COLUMNS:
            if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise


def connect_reader(config: SandboxConfig) -> sqlite3.Connection:
    """A new autocommit, read-only connection for one long read (`GET /me/export`).

    Unlike `connect()` it neither creates the database nor runs the schema script (the app's
    own connection did both), it may be used from any thread, and it never waits inside
    SQLite (busy_timeout 0): callers retry contention without blocking the event loop.
    Errors are `sqlite3.Error`, for the caller to report.
    """
    if config.db_path == ":memory:":
        conn = _open(config)
    else:
        uri = Path(config.db_path).absolute().as_uri() + "?mode=rw"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=0)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA query_only = 1")
    except BaseException:
        conn.close()
        raise
    return conn


def release(config: SandboxConfig) -> None:
    """Let an in-memory database go (drops the connection that kept it alive)."""
    with _keepers_lock:
        keeper = _keepers.pop(config.memory_name, None)
    if keeper is not None:
        keeper.close()
