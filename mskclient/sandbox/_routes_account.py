"""Auth and account routes: login-init, register, login/logout, 2FA, recovery, ws-ticket,
WebAuthn (501), /me, /me/notifications, DELETE /me, users lookup."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from typing import Any

from .._profile import (
    LOGIN_BACKOFF_AFTER,
    SESSION_COOKIE,
    TICKET_TTL_SECONDS,
    is_valid_id,
)
from ..crypto import KeyPair, b64u_decode, b64u_encode, normalize_email
from ..crypto.hazmat import crypto_box_seal
from ._cascade import delete_workspace
from ._core import Api, Ctx, out
from ._http import (
    F,
    HttpError,
    bad_request,
    error_response,
    json_response,
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
from ._shapes import membership_json, user_json

__all__ = ["api"]

api = Api()

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


def _memberships(ctx: Ctx) -> list[dict[str, Any]]:
    rows = ctx.all("SELECT * FROM memberships WHERE user_id = ? ORDER BY created_at, workspace_id", ctx.user_id)
    return [membership_json(r) for r in rows]


@api.route("GET", "/me")
def me(ctx: Ctx) -> Any:
    return json_response({"user": user_json(_me(ctx)), "memberships": _memberships(ctx)})


@api.route("GET", "/me/notifications")
def notifications(ctx: Ctx) -> Any:
    rows = ctx.all(
        "SELECT * FROM notifications WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT 100", ctx.user_id
    )
    return json_response([out(r) for r in rows])


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
