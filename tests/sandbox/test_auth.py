"""Auth routes over HTTP: login-init salts, register, login cookie, backoff, 2FA, recovery,
ws-ticket, WebAuthn, /me, export, notifications, account deletion."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import httpx
from _accounts import User, derive, env, make_board

from mskclient._profile import TOTP_PERIOD
from mskclient.crypto import (
    KeyPair,
    b64u_decode,
    b64u_encode,
    decrypt_field,
    open_workspace_key,
    rewrap_user_key,
    unlock_account,
    unlock_with_recovery,
    unwrap_board_key,
)
from mskclient.crypto.hazmat import crypto_box_seal_open
from mskclient.sandbox import ManualClock
from mskclient.sandbox._security import totp_at

from ._helpers import SERVER_SECRET, error


def test_login_init_stable_salt_for_unknown_email(url: str) -> None:
    with httpx.Client(base_url=url + "/api") as http:
        first = http.post("/auth/login-init", json={"email": " Nobody@Example.org "}).json()
        again = http.post("/auth/login-init", json={"email": "nobody@example.org"}).json()
        other = http.post("/auth/login-init", json={"email": "else@example.org"}).json()
    assert first == again
    assert first["salt"] != other["salt"]
    expected = hmac.new(SERVER_SECRET, b"nobody@example.org", hashlib.sha256).digest()[:16]
    assert b64u_decode(first["salt"]) == expected
    assert first["kdf"] == {
        "algorithm": "argon2id",
        "memoryKiB": 65536,
        "iterations": 3,
        "parallelism": 4,
        "version": 19,
    }


def test_register_uses_the_login_init_salt_and_login_sets_the_cookie(url: str) -> None:
    user = User(url, "carol@example.org")
    salt_before = user.http.post("/auth/login-init", json={"email": user.email}).json()["salt"]
    user.register()
    assert user.http.post("/auth/login-init", json={"email": user.email}).json()["salt"] == salt_before
    r = user.login()
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("msk_session=")
    for part in ("HttpOnly", "SameSite=strict", "Path=/api"):
        assert part.lower() in cookie.lower()
    assert "secure" not in cookie.lower()
    me = user.http.get("/me").json()
    assert me["user"]["email"] == "carol@example.org" and me["memberships"] == []
    assert me["user"]["totpEnabled"] is False
    keys = unlock_account(user.login_keys.master_key, me["user"])  # type: ignore[union-attr]
    assert keys.keypair.public == user.public_key
    error(
        user.http.post(
            "/auth/register",
            json={
                "email": user.email,
                "authHash": user.login_keys.auth_hash,  # type: ignore[union-attr]
                **user.account.fields,
            },
        ),
        409,
        "CONFLICT",
    )  # type: ignore[union-attr]
    assert user.http.post("/auth/logout").status_code == 204
    error(user.http.get("/me"), 401, "UNAUTHORIZED")
    user.close()


def test_wrong_password_then_backoff(url: str, clock: ManualClock) -> None:
    from mskclient.sandbox import Sandbox, SandboxConfig

    del url
    with Sandbox(SandboxConfig(server_secret=SERVER_SECRET, clock=clock, rate_limits={})) as strict:
        user = User(strict, "dave@example.org").register()
        bad = {"email": user.email, "authHash": b64u_encode(b"\x00" * 32)}
        for _ in range(3):
            error(user.http.post("/auth/login", json=bad), 401, "UNAUTHORIZED")
        locked = user.http.post("/auth/login", json=bad)
        error(locked, 429, "RATE_LIMITED")
        assert int(locked.headers["retry-after"]) >= 1
        # Even the right password waits out the backoff...
        error(user.login(), 429, "RATE_LIMITED")
        clock.advance(2)
        # ...then works, and success resets the counter.
        assert user.login().status_code == 200
        error(user.http.post("/auth/login", json=bad), 401, "UNAUTHORIZED")
        user.close()


def test_unknown_account_login_is_unauthorized(url: str) -> None:
    with httpx.Client(base_url=url + "/api") as http:
        error(http.post("/auth/login", json={"email": "ghost@example.org", "authHash": "x" * 43}), 401, "UNAUTHORIZED")


def test_totp_enroll_verify_login_disable(alice: User, clock: ManualClock) -> None:
    enrolled = alice.http.post("/auth/2fa/enroll")
    assert enrolled.status_code == 200
    secret = enrolled.json()["secret"]
    assert enrolled.json()["otpauthUrl"].startswith("otpauth://totp/")
    step = int(clock.time() // TOTP_PERIOD)
    error(
        alice.http.post("/auth/2fa/verify", json={"totp": "000000" if totp_at(secret, step) != "000000" else "111111"}),
        401,
        "INVALID_TOTP",
    )
    r = alice.http.post("/auth/2fa/verify", json={"totp": totp_at(secret, step)})
    assert r.status_code == 200 and r.json()["user"]["totpEnabled"] is True
    error(alice.login(), 401, "TOTP_REQUIRED")
    # The code used for verify cannot be replayed; the next step's code works (±1 step).
    error(alice.login(totp=totp_at(secret, step)), 401, "INVALID_TOTP")
    assert alice.login(totp=totp_at(secret, step + 1)).status_code == 200
    clock.advance(TOTP_PERIOD * 3)
    now_step = int(clock.time() // TOTP_PERIOD)
    error(alice.http.post("/auth/2fa/disable", json={"totp": totp_at(secret, now_step - 5)}), 401, "INVALID_TOTP")
    r = alice.http.post("/auth/2fa/disable", json={"totp": totp_at(secret, now_step)})
    assert r.status_code == 200 and r.json()["user"]["totpEnabled"] is False
    assert alice.login().status_code == 200


def test_totp_matches_rfc6238_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits) -> last 6 digits.
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
    assert totp_at(secret, 59 // 30) == "287082"


def test_recovery_in_two_steps(url: str, alice: User) -> None:
    assert alice.account is not None
    step1 = alice.http.post("/auth/recovery", json={"email": alice.email})
    assert step1.status_code == 200
    data = step1.json()
    assert set(data) == {"challengeId", "sealedChallenge", "encRecoveryBlob", "encPrivateKey", "salt"}
    user_json = {
        "encRecoveryBlob": data["encRecoveryBlob"],
        "encPrivateKey": data["encPrivateKey"],
        "id": alice.id,
        "publicKey": b64u_encode(alice.public_key),
    }
    keys = unlock_with_recovery(alice.account.recovery_key, user_json)

    def answer(step1: dict[str, Any]) -> dict[str, str]:
        """Step 2's body: the opened challenge plus a new password's authHash and wrapped key."""
        challenge = crypto_box_seal_open(
            b64u_decode(step1["sealedChallenge"]), keys.keypair.public, keys.keypair.secret
        )
        new_keys = derive("a brand new password", b64u_decode(step1["salt"]))
        return {
            "email": alice.email,
            "challengeId": step1["challengeId"],
            "authHash": new_keys.auth_hash,
            "encSymmetricKey": str(rewrap_user_key(new_keys.master_key, keys.user_key)),
            "challenge": b64u_encode(challenge),
        }

    body = answer(data)
    error(alice.http.post("/auth/recovery", json={**body, "challenge": b64u_encode(b"\x01" * 32)}), 401)
    # A wrong answer used the challenge up.
    error(alice.http.post("/auth/recovery", json=body), 401)
    data = alice.http.post("/auth/recovery", json={"email": alice.email}).json()
    assert alice.http.post("/auth/recovery", json=answer(data)).status_code == 200
    error(alice.http.get("/me"), 401)  # sessions ended
    error(alice.login(), 401)  # the old password is gone
    init = alice.http.post("/auth/login-init", json={"email": alice.email}).json()
    assert init["salt"] == data["salt"]
    new_keys = derive("a brand new password", b64u_decode(data["salt"]))
    r = alice.http.post("/auth/login", json={"email": alice.email, "authHash": new_keys.auth_hash})
    assert r.status_code == 200
    assert unlock_account(new_keys.master_key, r.json()["user"]).keypair.public == alice.public_key
    # Unknown emails get the same shape.
    fake = alice.http.post("/auth/recovery", json={"email": "ghost@example.org"})
    assert fake.status_code == 200 and set(fake.json()) == set(data)


def test_ws_ticket_needs_membership(alice: User, bob: User) -> None:
    b = make_board(alice)
    card = alice.card(b.column, b.bk)
    for room in (f"board:{b.id}", f"card:{card['id']}"):
        r = alice.http.post("/auth/ws-ticket", json={"room": room})
        assert r.status_code == 200 and len(r.json()["ticket"]) >= 32 and r.json()["expiresAt"].endswith("Z")
        error(bob.http.post("/auth/ws-ticket", json={"room": room}), 404)
    for room in ("board:nope", "lobby", f"card:{b.id}x", 5):
        error(alice.http.post("/auth/ws-ticket", json={"room": room}), 400 if room != f"card:{b.id}x" else 404)


def test_webauthn_is_not_implemented(url: str) -> None:
    with httpx.Client(base_url=url + "/api") as http:
        for path in ("/auth/webauthn/register", "/auth/webauthn/verify"):
            error(http.post(path, json={}), 501, "NOT_IMPLEMENTED")


def test_export_decrypts_offline_with_the_password(alice: User, bob: User) -> None:
    b = make_board(alice)
    card = alice.card(b.column, b.bk, "Exported card")
    alice.http.post(f"/cards/{card['id']}/comments", json={"encBody": env(b.bk, "comment", "encBody", "hello")})
    checklist = alice.http.post(
        f"/cards/{card['id']}/checklists", json={"encTitle": env(b.bk, "checklist", "encTitle", "list")}
    ).json()
    for text in ("one", "two"):
        alice.http.post(
            f"/checklists/{checklist['id']}/items", json={"encText": env(b.bk, "checklistItem", "encText", text)}
        )
    label = alice.http.post(
        f"/boards/{b.id}/labels", json={"encName": env(b.bk, "label", "encName", "l"), "color": "#ffffff"}
    ).json()
    alice.http.post(f"/cards/{card['id']}/labels", json={"labelId": label["id"]})
    alice.card(b.column, b.bk, "Second card")
    export = alice.http.get("/me/export").json()
    assert export["kdf"]["memoryKiB"] == 65536 and export["kdf"]["salt"]
    keys_login = derive(alice.password, b64u_decode(export["kdf"]["salt"]))
    keys = unlock_account(keys_login.master_key, export["user"])
    (ws,) = export["workspaces"]
    wk = open_workspace_key(
        ws["membership"]["encWorkspaceKey"], KeyPair(keys.keypair.public, keys.keypair.secret), ws["workspace"]["id"]
    )
    (board,) = ws["boards"]
    bk = unwrap_board_key(wk, board["board"]["encBoardKey"], board["board"]["id"])
    exported, second = board["cards"]
    # The export's cards are the same objects GET /cards/:id answers.
    assert exported == alice.http.get(f"/cards/{card['id']}").json()
    assert second == alice.http.get(f"/cards/{second['id']}").json()
    assert [len(c["items"]) for c in exported["checklists"]] == [2] and exported["labelIds"] == [label["id"]]
    assert board["labels"][0]["id"] == label["id"] and len(board["columns"]) == 1
    from mskclient._profile import field

    assert decrypt_field(bk, exported["encTitle"], field("card", "encTitle")) == b"Exported card"
    assert decrypt_field(bk, exported["comments"][0]["encBody"], field("comment", "encBody")) == b"hello"
    assert bob.http.get("/me/export").json()["workspaces"] == []


def test_notifications_on_assignment(alice: User, bob: User) -> None:
    b = make_board(alice)
    assert alice.invite(b.ws, b.wk, bob).status_code == 201
    card = alice.card(b.column, b.bk)
    assert alice.http.post(f"/cards/{card['id']}/assignments", json={"userId": bob.id}).status_code == 200
    (note,) = bob.http.get("/me/notifications").json()
    assert note["kind"] == "assigned" and note["cardId"] == card["id"] and note["actorId"] == alice.id
    assert alice.http.get("/me/notifications").json() == []


def test_delete_me_removes_key_material_at_once(users: Callable[[str], User]) -> None:
    alice, bob = users("alice"), users("bob")
    b = make_board(alice)
    alice.invite(b.ws, b.wk, bob, "admin")
    sole_ws, _ = alice.workspace("Alone")
    assert alice.http.delete("/me").status_code == 204
    error(alice.http.get("/me"), 401)
    error(alice.login(), 401)
    error(bob.http.get(f"/users/lookup?email={alice.email}"), 404)
    members = bob.http.get(f"/workspaces/{b.ws}/members").json()
    assert [(m["userId"], m["role"]) for m in members] == [(bob.id, "owner")]
    error(bob.http.get(f"/workspaces/{sole_ws}"), 404)


def test_users_lookup(alice: User, bob: User) -> None:
    r = alice.http.get("/users/lookup", params={"email": "BOB@example.org"})
    assert r.json() == {"id": bob.id, "email": bob.email, "publicKey": b64u_encode(bob.public_key)}
    error(alice.http.get("/users/lookup", params={"email": "nobody@example.org"}), 404)
    error(alice.http.get("/users/lookup"), 400)
    error(httpx.get(alice.url + "/api/users/lookup?email=bob@example.org"), 401)
