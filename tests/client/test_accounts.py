"""Accounts, sessions, 2FA, recovery and members against the real sandbox (sync and async)."""

from __future__ import annotations

from typing import Any

import pytest
from _accounts import PASSWORD, Account, register, totp_now

from mskclient import (
    AsyncClient,
    AuthError,
    Client,
    ForbiddenError,
    NotFoundError,
    Pacer,
    RecoveryKeyError,
    UsageError,
)
from mskclient.sandbox import ManualClock


def test_login_unlock_logout(sandbox_url: str, alice: Account) -> None:
    with Client(sandbox_url, pacer=Pacer.unlimited()) as device:
        user = device.login(alice.email.upper() + "  ", PASSWORD)  # email normalised
        assert user.email == alice.email and device.has_keys
        token = device.token
        device.core.token = None  # httpx keeps no cookie of its own: without the token, no session
        with pytest.raises(AuthError):
            device.me()
    with Client(sandbox_url, token=token, email=alice.email, pacer=Pacer.unlimited()) as resumed:
        assert not resumed.has_keys
        resumed.unlock(PASSWORD)
        assert resumed.keys.keypair.public == alice.client.keys.keypair.public
        resumed.logout()
        assert resumed.token is None and not resumed.has_keys and resumed.user is None
    with Client(sandbox_url, token=token, pacer=Pacer.unlimited()) as stale, pytest.raises(AuthError):
        stale.me()


def test_wrong_password_is_an_auth_error(sandbox_url: str, alice: Account) -> None:
    with Client(sandbox_url, pacer=Pacer.unlimited()) as device, pytest.raises(AuthError):
        device.login(alice.email, "not the password")


def test_empty_passwords_are_refused_before_any_request(sandbox_url: str, alice: Account) -> None:
    with Client(sandbox_url, pacer=Pacer.unlimited()) as device:
        with pytest.raises(UsageError):
            device.register("empty-password@example.test", "")
        with pytest.raises(UsageError):
            device.recover(alice.email, alice.recovery_key, "")
        with pytest.raises(AuthError):  # no account was created for the empty-password attempt
            device.login("empty-password@example.test", "x")


def test_totp_enroll_verify_login_disable(clocked: tuple[str, ManualClock]) -> None:
    url, clock = clocked
    account = register(url, "totp")
    with account.client as client:
        enrollment = client.totp_enroll()
        assert enrollment.otpauth_url.startswith("otpauth://totp/")
        client.totp_verify(totp_now(enrollment.secret, at=clock.time()))
        with Client(url, pacer=Pacer.unlimited()) as device:
            with pytest.raises(AuthError) as needed:
                device.login(account.email, PASSWORD)
            assert needed.value.code == "TOTP_REQUIRED"
            with pytest.raises(AuthError) as replayed:  # a code works once
                device.login(account.email, PASSWORD, totp=totp_now(enrollment.secret, at=clock.time()))
            assert replayed.value.code == "INVALID_TOTP"
            clock.advance(30)
            device.login(account.email, PASSWORD, totp=totp_now(enrollment.secret, at=clock.time()))
            clock.advance(30)
            device.totp_disable(totp_now(enrollment.secret, at=clock.time()))
        assert not client.me().user.totp_enabled


def test_recover_with_the_recovery_key(sandbox_url: str) -> None:
    account = register(sandbox_url, "recover")
    with account.client as client:
        ws = client.create_workspace("Kept across recovery")
    with Client(sandbox_url, pacer=Pacer.unlimited()) as device:
        with pytest.raises(RecoveryKeyError):
            device.recover(account.email, account.recovery_key[:-1] + "!", "new password 2")
        device.recover(account.email, account.recovery_key.lower(), "new password 2")
        with pytest.raises(AuthError):
            device.login(account.email, PASSWORD)
        device.login(account.email, "new password 2")
        assert [w.name for w in device.workspaces()] == ["Kept across recovery"]
        assert device.workspace(ws.id).name == "Kept across recovery"


def test_delete_account(sandbox_url: str) -> None:
    account = register(sandbox_url, "gone")
    with account.client as client:
        client.delete_account()
        assert client.token is None
    with Client(sandbox_url, pacer=Pacer.unlimited()) as device, pytest.raises(AuthError):
        device.login(account.email, PASSWORD)


def test_members_invite_role_remove(sandbox_url: str, alice: Account, bob: Account) -> None:
    a, b = alice.client, bob.client
    ws = a.create_workspace("Shared ✓")
    board = a.create_board(ws.id, "Shared board")
    column = a.create_column(board.id, "Col")
    card = a.create_card(column.id, "Secret plan")
    found = a.lookup_user(bob.email)
    assert b.user is not None and found.id == b.user.id
    member = a.invite(ws.id, bob.email, "member")
    assert (member.email, member.role) == (bob.email, "member")
    assert member.fingerprint == found.fingerprint
    assert {m.email for m in a.members(ws.id)} == {alice.email, bob.email}
    assert all(a.key_trusted(m) for m in a.members(ws.id))

    assert b.card(card.id).title == "Secret plan"  # bob opens the sealed WK with his own key
    assert a.set_role(ws.id, member.user_id, "observer").role == "observer"
    with pytest.raises(ForbiddenError):
        b.create_column(board.id, "observers cannot write")
    a.remove_member(ws.id, member.user_id)
    with pytest.raises((NotFoundError, ForbiddenError)):
        b.card(card.id)


async def test_async_accounts(clocked: tuple[str, ManualClock], sandbox_url: str) -> None:
    url, clock = clocked
    async with AsyncClient(url, pacer=Pacer.unlimited()) as client:
        registration = await client.register("Async-User@Example.test", PASSWORD)
        assert registration.user.email == "async-user@example.test" and len(registration.recovery_key) > 50
        await client.logout()
        await client.login("async-user@example.test", PASSWORD)
        enrollment = await client.totp_enroll()
        await client.totp_verify(totp_now(enrollment.secret, at=clock.time()))
        clock.advance(30)
        await client.totp_disable(totp_now(enrollment.secret, at=clock.time()))
        await client.unlock(PASSWORD)
        await client.recover("async-user@example.test", registration.recovery_key, "another password")
    async with AsyncClient(url, pacer=Pacer.unlimited()) as client:
        await client.login("async-user@example.test", "another password")
        other = register(url, "asyncmember")
        ws = await client.create_workspace("Async shared")
        await client.invite(ws.id, other.email)
        members = await client.members(ws.id)
        target = next(m for m in members if m.email == other.email)
        assert (await client.set_role(ws.id, target.user_id, "admin")).role == "admin"
        await client.trust_member(other.email)
        assert (await client.lookup_user(other.email)).email == other.email
        await client.remove_member(ws.id, target.user_id)
        other.client.close()
        await client.delete_account()


async def test_async_login_runs_the_kdf_off_the_event_loop(
    sandbox_url: str, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from mskclient.client import _core

    threads: list[threading.Thread] = []
    real = _core.derive_login_keys

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(_core, "derive_login_keys", recording)
    async with AsyncClient(sandbox_url, pacer=Pacer.unlimited()) as client:
        await client.login(alice.email, PASSWORD)
    assert threads and threads[0] is not threading.main_thread()
