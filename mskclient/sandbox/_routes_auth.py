"""Auth, self and user routes: login-init, register, login/logout, 2FA, recovery, ws-ticket,
WebAuthn (501), /me, /me/export, /me/notifications, DELETE /me, users lookup."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import sqlite3
import unicodedata
from collections.abc import AsyncGenerator
from functools import partial
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .._profile import LOGIN_BACKOFF_AFTER, SESSION_COOKIE, TICKET_TTL_SECONDS, is_valid_id
from ..crypto import KeyPair, b64u_decode, b64u_encode, normalize_email
from ..crypto.hazmat import crypto_box_seal
from ._config import SandboxConfig
from ._core import Api, Ctx, Later, out
from ._db import connect_reader, readable
from ._http import (
    F,
    HttpError,
    bad_request,
    error_response,
    json_response,
    json_text,
    no_content,
    parse_body,
    v_env,
    v_key32,
    v_str,
)
from ._security import (
    hash_secret,
    iso,
    make_verifier,
    new_id,
    new_token,
    new_totp_secret,
    stable_salt,
    ticket_hash,
    totp_check,
    totp_uri,
    verify,
)
from ._webhooks import retry_async

__all__ = [
    "api",
    "card_json",
    "cards_json",
    "checklist_json",
    "delete_workspace",
    "members",
    "user_json",
]

api = Api()

log = logging.getLogger("mskclient.sandbox")

#: Seconds a recovery challenge stays valid (profile choice).
RECOVERY_TTL = 600
#: Longest login backoff (profile choice): the doubling stops at one hour.
MAX_BACKOFF = 3600


def _email(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > 254:
        bad_request(f"{name} must be an email address")
    email = normalize_email(value)
    local, at, domain = email.partition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        bad_request(f"{name} must be an email address")
    return email


#: Characters no address for a new account may hold: address syntax that mail software reads
#: ("a <b@c>", quoted or commented local parts) and markup (`own[b][/b]er@x.org` would render
#: as another member's address in a rich terminal).
_NOT_IN_NEW_EMAIL = frozenset('[]<>()\\,;:"`')
#: Longest local part (RFC 5321).
_MAX_LOCAL_PART = 64


def _new_email(name: str, value: Any) -> str:
    """The email of a new account, which must be a plausible address (profile choice of the
    sandbox, kept simple): one `@`, a local part of at most 64 characters, a domain with a dot
    and no empty label, and no space, control or format character nor any of `_NOT_IN_NEW_EMAIL`.  Other
    routes accept any address `_email` does, so accounts made elsewhere can still log in."""
    email = _email(name, value)
    local, _, domain = email.partition("@")
    plausible = (
        email.count("@") == 1
        and len(local) <= _MAX_LOCAL_PART
        and "." in domain
        and all(domain.split("."))
        and not any(c in _NOT_IN_NEW_EMAIL or unicodedata.category(c)[0] in "CZ" for c in email)
    )
    if not plausible:
        bad_request(
            f"{name} is not a plausible email address (one @, a dot in the domain, no spaces, "
            'control characters or any of []<>()\\,;:"`)'
        )
    return email


def user_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "displayName": row["display_name"],
        "publicKey": row["public_key"],
        "encPrivateKey": row["enc_private_key"],
        "encSymmetricKey": row["enc_symmetric_key"],
        "encRecoveryBlob": row["enc_recovery_blob"],
        "totpEnabled": row["totp_secret"] is not None,
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def _kdf(ctx: Ctx, salt: str) -> dict[str, Any]:
    return {"salt": salt, "kdf": ctx.shared.config.kdf.to_json()}


def _me(ctx: Ctx) -> Any:
    row = ctx.one("SELECT * FROM users WHERE id = ?", ctx.user_id)
    if row is None:
        raise HttpError("UNAUTHORIZED", "not logged in")
    return row


@api.route("POST", "/auth/login-init", auth=False, group="read")
def login_init(ctx: Ctx) -> Any:
    email = parse_body(ctx.body, {"email": F(_email, True)})["email"]
    row = ctx.one("SELECT salt FROM users WHERE email = ?", email)
    salt = row["salt"] if row is not None else b64u_encode(stable_salt(ctx.shared.secret, email))
    return json_response(_kdf(ctx, salt))


_REGISTER = {
    "email": F(_new_email, True),
    "authHash": F(v_key32, True),
    "publicKey": F(v_key32, True),
    "encPrivateKey": F(v_env, True),
    "encSymmetricKey": F(v_env, True),
    "encRecoveryBlob": F(v_env, True),
}


@api.route("POST", "/auth/register", auth=False, group="register")
def register(ctx: Ctx) -> Any:
    body = parse_body(ctx.body, _REGISTER)
    if ctx.one("SELECT 1 FROM users WHERE email = ?", body["email"]) is not None:
        raise HttpError("CONFLICT", "an account with this email exists")
    vsalt, verifier = make_verifier(ctx.shared.secret, body["authHash"])
    row = ctx.insert(
        "users",
        {
            "id": new_id(),
            "email": body["email"],
            "display_name": body["email"].split("@")[0][:64],
            "salt": b64u_encode(stable_salt(ctx.shared.secret, body["email"])),
            "verifier_salt": vsalt,
            "verifier": verifier,
            "public_key": body["publicKey"],
            "enc_private_key": body["encPrivateKey"],
            "enc_symmetric_key": body["encSymmetricKey"],
            "enc_recovery_blob": body["encRecoveryBlob"],
            "created_at": ctx.ts,
            "updated_at": ctx.ts,
        },
    )
    return json_response({"user": user_json(row)}, 201)


def _fail_login(ctx: Ctx, email: str) -> None:
    row = ctx.one("SELECT failures FROM login_failures WHERE email = ?", email)
    failures = (row["failures"] if row else 0) + 1
    locked = 0.0
    if ctx.shared.config.login_backoff and failures >= LOGIN_BACKOFF_AFTER:
        locked = ctx.now + min(MAX_BACKOFF, 2 ** (failures - LOGIN_BACKOFF_AFTER))
    ctx.run(
        "INSERT INTO login_failures (email, failures, locked_until) VALUES (?, ?, ?) "
        "ON CONFLICT(email) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
        email,
        failures,
        locked,
    )


@api.route("POST", "/auth/login", auth=False, group="login")
def login(ctx: Ctx) -> Any:
    body = parse_body(
        ctx.body, {"email": F(_email, True), "authHash": F(v_str(100), True), "totp": F(v_str(16), nullable=True)}
    )
    email = body["email"]
    lock = ctx.one("SELECT locked_until FROM login_failures WHERE email = ?", email)
    if lock is not None and lock["locked_until"] > ctx.now:
        wait = max(1, int(lock["locked_until"] - ctx.now + 0.999))
        raise HttpError("RATE_LIMITED", "too many failed logins for this account", retry_after=wait)
    user = ctx.one("SELECT * FROM users WHERE email = ?", email)
    ok = user is not None and verify(ctx.shared.secret, user["verifier_salt"], user["verifier"], body["authHash"])
    if not ok or user is None:
        _fail_login(ctx, email)
        return _error_after_commit(HttpError("UNAUTHORIZED", "wrong email or password"))
    if user["totp_secret"] is not None:
        code = body.get("totp")
        if code is None:
            return _error_after_commit(HttpError("TOTP_REQUIRED", "a TOTP code is required"))
        step = totp_check(user["totp_secret"], code, ctx.now, user["totp_last_step"])
        if step is None:
            _fail_login(ctx, email)
            return _error_after_commit(HttpError("INVALID_TOTP", "wrong TOTP code"))
        ctx.run("UPDATE users SET totp_last_step = ? WHERE id = ?", step, user["id"])
    ctx.run("DELETE FROM login_failures WHERE email = ?", email)
    token = new_token()
    ctx.run(
        "INSERT INTO sessions (token_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
        hash_secret(ctx.shared.secret, "session", token),
        user["id"],
        ctx.now + ctx.shared.config.session_ttl,
        ctx.ts,
    )
    response = json_response({"user": user_json(user)})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ctx.shared.config.session_ttl),
        path="/api",
        httponly=True,
        samesite="strict",
        secure=ctx.request.url.scheme == "https",
    )
    return response


def _error_after_commit(error: HttpError) -> Any:
    """An error answer that keeps the transaction's writes (failure counters)."""
    return error_response(error)


@api.route("POST", "/auth/logout", body="none")
def logout(ctx: Ctx) -> Any:
    """End the session, and with it the relay sockets and SSE streams it opened."""
    token = ctx.request.cookies.get(SESSION_COOKIE, "")
    session_hash = hash_secret(ctx.shared.secret, "session", token)
    ctx.run("DELETE FROM sessions WHERE token_hash = ?", session_hash)
    ctx.after.append(lambda: ctx.shared.realtime.end_sessions([session_hash]))
    response = no_content()
    response.delete_cookie(SESSION_COOKIE, path="/api", httponly=True, samesite="strict")
    return response


# --- 2FA ---------------------------------------------------------------------------------


@api.route("POST", "/auth/2fa/enroll", body="json?")
def totp_enroll(ctx: Ctx) -> Any:
    parse_body(ctx.body, {})
    user = _me(ctx)
    if user["totp_secret"] is not None:
        raise HttpError("CONFLICT", "two-factor authentication is already on")
    secret = new_totp_secret()
    ctx.run("UPDATE users SET totp_pending = ?, updated_at = ? WHERE id = ?", secret, ctx.ts, ctx.user_id)
    return json_response({"secret": secret, "otpauthUrl": totp_uri(secret, user["email"])})


@api.route("POST", "/auth/2fa/verify")
def totp_verify(ctx: Ctx) -> Any:
    code = parse_body(ctx.body, {"totp": F(v_str(16), True)})["totp"]
    user = _me(ctx)
    if user["totp_pending"] is None:
        raise HttpError("CONFLICT", "no enrollment in progress")
    step = totp_check(user["totp_pending"], code, ctx.now, user["totp_last_step"])
    if step is None:
        raise HttpError("INVALID_TOTP", "wrong TOTP code")
    row = ctx.update(
        "users", ctx.user_id, {"totp_secret": user["totp_pending"], "totp_pending": None, "totp_last_step": step}
    )
    return json_response({"user": user_json(row)})


@api.route("POST", "/auth/2fa/disable")
def totp_disable(ctx: Ctx) -> Any:
    code = parse_body(ctx.body, {"totp": F(v_str(16), True)})["totp"]
    user = _me(ctx)
    if user["totp_secret"] is None:
        raise HttpError("CONFLICT", "two-factor authentication is off")
    if totp_check(user["totp_secret"], code, ctx.now, user["totp_last_step"]) is None:
        raise HttpError("INVALID_TOTP", "wrong TOTP code")
    row = ctx.update("users", ctx.user_id, {"totp_secret": None, "totp_pending": None})
    return json_response({"user": user_json(row)})


@api.route("POST", "/auth/webauthn/register", auth=False, body="none")
@api.route("POST", "/auth/webauthn/verify", auth=False, body="none")
def webauthn(ctx: Ctx) -> Any:
    raise HttpError("NOT_IMPLEMENTED", "WebAuthn is not available in the sandbox")


# --- recovery ------------------------------------------------------------------------------


def _fake_envelope(rng: bytes, body_len: int) -> str:
    return "v1." + b64u_encode(rng[:24]) + "." + b64u_encode(hashlib.shake_256(rng).digest(body_len))


@api.route("POST", "/auth/recovery", auth=False, group="login")
def recovery(ctx: Ctx) -> Any:
    if "challengeId" not in ctx.body:
        email = parse_body(ctx.body, {"email": F(_email, True)})["email"]
        user = ctx.one("SELECT * FROM users WHERE email = ?", email)
        challenge = secrets.token_bytes(32)
        salt = b64u_encode(secrets.token_bytes(16))
        challenge_id = new_id()
        if user is None:
            # Same shape for an unknown email, so the answer does not reveal accounts.
            rng = hmac.new(ctx.shared.secret, b"recovery\0" + email.encode(), hashlib.sha256).digest()
            return json_response(
                {
                    "challengeId": challenge_id,
                    "sealedChallenge": b64u_encode(crypto_box_seal(challenge, KeyPair.generate().public)),
                    "encRecoveryBlob": _fake_envelope(rng, 48),
                    "encPrivateKey": _fake_envelope(rng[::-1], 48),
                    "salt": salt,
                }
            )
        ctx.run(
            "INSERT INTO recovery_challenges (id, user_id, challenge_hash, salt, expires_at) VALUES (?, ?, ?, ?, ?)",
            challenge_id,
            user["id"],
            hashlib.sha256(challenge).digest(),
            salt,
            ctx.now + RECOVERY_TTL,
        )
        return json_response(
            {
                "challengeId": challenge_id,
                "sealedChallenge": b64u_encode(crypto_box_seal(challenge, b64u_decode(user["public_key"]))),
                "encRecoveryBlob": user["enc_recovery_blob"],
                "encPrivateKey": user["enc_private_key"],
                "salt": salt,
            }
        )
    body = parse_body(
        ctx.body,
        {
            "email": F(_email, True),
            "challengeId": F(v_str(100), True),
            "challenge": F(v_str(100), True),
            "authHash": F(v_key32, True),
            "encSymmetricKey": F(v_env, True),
        },
    )
    refused = HttpError("UNAUTHORIZED", "recovery challenge failed")
    if not is_valid_id(body["challengeId"]):
        raise refused
    row = ctx.one(
        "SELECT r.*, u.email FROM recovery_challenges r JOIN users u ON u.id = r.user_id WHERE r.id = ?",
        body["challengeId"],
    )
    try:
        answer = b64u_decode(body["challenge"])
    except ValueError:
        answer = b""
    if row is None or row["email"] != body["email"] or row["expires_at"] <= ctx.now:
        raise refused
    # One attempt per challenge, right or wrong.
    ctx.run("DELETE FROM recovery_challenges WHERE id = ?", row["id"])
    if not hmac.compare_digest(hashlib.sha256(answer).digest(), row["challenge_hash"]):
        return _error_after_commit(refused)
    vsalt, verifier = make_verifier(ctx.shared.secret, body["authHash"])
    user = ctx.update(
        "users",
        row["user_id"],
        {
            "salt": row["salt"],
            "verifier_salt": vsalt,
            "verifier": verifier,
            "enc_symmetric_key": body["encSymmetricKey"],
        },
    )
    ended = [r[0] for r in ctx.all("SELECT token_hash FROM sessions WHERE user_id = ?", row["user_id"])]
    ctx.run("DELETE FROM sessions WHERE user_id = ?", row["user_id"])
    ctx.after.append(lambda: ctx.shared.realtime.end_sessions(ended))
    ctx.run("DELETE FROM login_failures WHERE email = ?", row["email"])
    return json_response({"user": user_json(user)})


# --- relay tickets -----------------------------------------------------------------------


@api.route("POST", "/auth/ws-ticket")
def ws_ticket(ctx: Ctx) -> Any:
    room = parse_body(ctx.body, {"room": F(v_str(80), True)})["room"]
    kind, _, target = room.partition(":")
    if kind == "card" and is_valid_id(target):
        ctx.load("cards", target)
    elif kind == "board" and is_valid_id(target):
        ctx.board(target)
    else:
        bad_request("room must be card:<id> or board:<id>")
    ticket = new_token()
    expires = ctx.now + TICKET_TTL_SECONDS
    ctx.run(
        "INSERT INTO ws_tickets (ticket_hash, user_id, room, expires_at, used, session_hash) VALUES (?, ?, ?, ?, 0, ?)",
        ticket_hash(ticket),
        ctx.user_id,
        room,
        expires,
        ctx.session_hash,  # the socket lives as long as this session: logout closes it
    )
    return json_response({"ticket": ticket, "expiresAt": iso(expires)})


# --- self ------------------------------------------------------------------------------


def membership_json(row: Any) -> dict[str, Any]:
    """A memberships row as the profile's membership (the caller's own: with its workspace key)."""
    return {"workspaceId": row["workspace_id"], "role": row["role"], "encWorkspaceKey": row["enc_workspace_key"]}


def _memberships(ctx: Ctx) -> list[dict[str, Any]]:
    rows = ctx.all("SELECT * FROM memberships WHERE user_id = ? ORDER BY created_at, workspace_id", ctx.user_id)
    return [membership_json(r) for r in rows]


@api.route("GET", "/me")
def me(ctx: Ctx) -> Any:
    return json_response({"user": user_json(_me(ctx)), "memberships": _memberships(ctx)})


def member_json(row: Any, viewer_id: str) -> dict[str, Any]:
    return {
        "userId": row["user_id"],
        "email": row["email"],
        "displayName": row["display_name"],
        "publicKey": row["public_key"],
        "role": row["role"],
        "encWorkspaceKey": row["enc_workspace_key"] if row["user_id"] == viewer_id else None,
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def _members(conn: sqlite3.Connection, workspace_id: str, viewer_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT m.*, u.email, u.display_name, u.public_key FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.workspace_id = ? ORDER BY m.created_at, m.user_id",
        (workspace_id,),
    ).fetchall()
    return [member_json(r, viewer_id) for r in rows]


def members(ctx: Ctx, workspace_id: str) -> list[dict[str, Any]]:
    """The members of a workspace as the caller sees them (only their own encWorkspaceKey)."""
    return _members(ctx.conn, workspace_id, ctx.user_id)


def _no_links() -> dict[str, Any]:
    """The links of a card with no labels, assignees, comments, checklists or attachments."""
    return {"labelIds": [], "assigneeIds": [], "commentCount": 0, "checklistCount": 0, "attachmentCount": 0}


def _card_links(ctx: Ctx, where: str, arg: str) -> dict[str, dict[str, Any]]:
    """Labels, assignees and counts of the cards matching `where` (on cards `c`), by card id."""
    links: dict[str, dict[str, Any]] = {}

    def entry(card_id: str) -> dict[str, Any]:
        return links.setdefault(card_id, _no_links())

    for table, column, name in (("card_labels", "label_id", "labelIds"), ("card_assignees", "user_id", "assigneeIds")):
        sql = f"SELECT t.card_id, t.{column} FROM {table} t JOIN cards c ON c.id = t.card_id WHERE {where} "  # noqa: S608
        for card_id, value in ctx.all(sql + f"ORDER BY t.created_at, t.{column}", arg):
            entry(card_id)[name].append(value)
    for table, name in (
        ("comments", "commentCount"),
        ("checklists", "checklistCount"),
        ("attachments", "attachmentCount"),
    ):
        sql = (
            f"SELECT t.card_id, count(*) FROM {table} t JOIN cards c ON c.id = t.card_id "  # noqa: S608
            f"WHERE {where} GROUP BY t.card_id"
        )
        for card_id, count in ctx.all(sql, arg):
            entry(card_id)[name] = count
    return links


def cards_json(ctx: Ctx, board_id: str, rows: list[Any]) -> list[dict[str, Any]]:
    """Many cards of one board in a fixed number of queries."""
    links = _card_links(ctx, "c.board_id = ?", board_id)
    return [out(row, **links.get(row["id"], _no_links())) for row in rows]


def card_json(ctx: Ctx, row: Any, *, full: bool = False) -> dict[str, Any]:
    if full:
        return full_cards(ctx.conn, [row])[0]
    card_id = row["id"]
    links = _card_links(ctx, "c.id = ?", card_id)
    return out(row, **links.get(card_id, _no_links()))


def checklist_json(ctx: Ctx, row: Any) -> dict[str, Any]:
    items = ctx.all("SELECT * FROM checklist_items WHERE checklist_id = ? ORDER BY position, created_at, id", row["id"])
    return out(row, items=[out(i) for i in items])


def _by(rows: list[Any], key: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[key], []).append(row)
    return grouped


def full_cards(conn: sqlite3.Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """Cards rows (in their order) in the shape of `GET /cards/:id`: links, counts, comments,
    checklists with their items and attachments, in one query per kind of child."""
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    within = f"card_id IN ({', '.join('?' for _ in ids)})"

    def grouped(sql: str, key: str = "card_id") -> dict[str, list[Any]]:
        return _by(conn.execute(sql, ids).fetchall(), key)

    labels = grouped(f"SELECT card_id, label_id FROM card_labels WHERE {within} ORDER BY created_at, label_id")  # noqa: S608
    assignees = grouped(f"SELECT card_id, user_id FROM card_assignees WHERE {within} ORDER BY created_at, user_id")  # noqa: S608
    comments = grouped(f"SELECT * FROM comments WHERE {within} ORDER BY created_at, id")  # noqa: S608
    checklists = grouped(f"SELECT * FROM checklists WHERE {within} ORDER BY position, created_at, id")  # noqa: S608
    items = grouped(
        "SELECT i.* FROM checklist_items i JOIN checklists t ON t.id = i.checklist_id "  # noqa: S608
        f"WHERE t.{within} ORDER BY i.position, i.created_at, i.id",
        "checklist_id",
    )
    files = grouped(f"SELECT {readable('attachments')} FROM attachments WHERE {within} ORDER BY created_at, id")  # noqa: S608
    page = []
    for row in rows:
        card_id = row["id"]
        card_comments = comments.get(card_id, [])
        card_checklists = checklists.get(card_id, [])
        card_files = files.get(card_id, [])
        page.append(
            out(
                row,
                labelIds=[r["label_id"] for r in labels.get(card_id, [])],
                assigneeIds=[r["user_id"] for r in assignees.get(card_id, [])],
                commentCount=len(card_comments),
                checklistCount=len(card_checklists),
                attachmentCount=len(card_files),
                comments=[out(r) for r in card_comments],
                checklists=[out(r, items=[out(i) for i in items.get(r["id"], [])]) for r in card_checklists],
                attachments=[out(r) for r in card_files],
            )
        )
    return page


# --- /me/export: a stream read from one snapshot -------------------------------------------

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
                "members": _members(conn, ws["id"], user_id),
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


@api.route("GET", "/me/notifications")
def notifications(ctx: Ctx) -> Any:
    rows = ctx.all(
        "SELECT * FROM notifications WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT 100", ctx.user_id
    )
    return json_response([out(r) for r in rows])


def delete_workspace(ctx: Ctx, workspace_id: str) -> list[str]:
    """Remove a workspace and everything in it; returns its board ids."""
    from ._routes_boards import delete_board_contents

    board_ids = [r[0] for r in ctx.all("SELECT id FROM boards WHERE workspace_id = ?", workspace_id)]
    for board_id in board_ids:
        delete_board_contents(ctx, board_id)
    ctx.run("DELETE FROM memberships WHERE workspace_id = ?", workspace_id)
    ctx.run("DELETE FROM workspaces WHERE id = ?", workspace_id)
    return board_ids


@api.route("DELETE", "/me")
def delete_me(ctx: Ctx) -> Any:
    """GDPR erasure: key material and sessions go at once; sole workspaces go with the account."""
    revoked: list[str] = []
    for membership in ctx.all("SELECT * FROM memberships WHERE user_id = ?", ctx.user_id):
        ws_id = membership["workspace_id"]
        revoked += [r[0] for r in ctx.all("SELECT id FROM boards WHERE workspace_id = ?", ws_id)]
        others = ctx.all(
            "SELECT user_id, role FROM memberships WHERE workspace_id = ? AND user_id != ? "
            "ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2 ELSE 3 END, created_at",
            ws_id,
            ctx.user_id,
        )
        if not others:
            delete_workspace(ctx, ws_id)
            continue
        ctx.run("DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", ws_id, ctx.user_id)
        if not any(o["role"] == "owner" for o in others):
            heir = others[0]["user_id"]
            ctx.run("UPDATE memberships SET role = 'owner' WHERE workspace_id = ? AND user_id = ?", ws_id, heir)
            ctx.run("UPDATE workspaces SET owner_id = ? WHERE id = ?", heir, ws_id)
    for table in ("sessions", "card_assignees", "notifications", "recovery_challenges", "ws_tickets"):
        ctx.run(f"DELETE FROM {table} WHERE user_id = ?", ctx.user_id)  # noqa: S608
    ctx.run("DELETE FROM users WHERE id = ?", ctx.user_id)
    user_id = ctx.user_id
    ctx.after.append(lambda: ctx.shared.realtime.revoke(user_id, revoked))
    response = no_content()
    response.delete_cookie(SESSION_COOKIE, path="/api", httponly=True, samesite="strict")
    return response


@api.route("GET", "/users/lookup", group="lookup")
def lookup(ctx: Ctx) -> Any:
    """A user's public key, to invite them.  It tells a logged-in caller whether an account
    exists (login-init hides that from everyone), so it has its own small per-user quota."""
    params = ctx.request.query_params
    if set(params) != {"email"}:
        bad_request("exactly one query parameter: email")
    email = _email("email", params["email"])
    row = ctx.one("SELECT id, email, public_key FROM users WHERE email = ?", email)
    if row is None:
        raise HttpError("NOT_FOUND", "no such user")
    return json_response({"id": row["id"], "email": row["email"], "publicKey": row["public_key"]})
