"""Key objects: one type per role, secrets never shown, equality in constant time."""

from __future__ import annotations

import dataclasses

import pytest

from mskclient.crypto import (
    BoardKey,
    FileKey,
    KeyPair,
    MasterKey,
    RecoveryKey,
    SymmetricKey,
    UserKey,
    WorkspaceKey,
    _keys,
    create_account,
)

from ._leaks import renderings

ROLES: list[type[SymmetricKey]] = [MasterKey, UserKey, RecoveryKey, WorkspaceKey, BoardKey, FileKey]


@pytest.mark.parametrize("cls", ROLES)
def test_repr_and_str_hide_the_key(cls: type[SymmetricKey]) -> None:
    key = cls.generate()
    for text in (repr(key), str(key), repr([key]), f"{key!r}"):
        assert cls.__name__ in text
        for leak in renderings(key.raw):
            assert leak not in text


def test_key_pair_repr_hides_the_secret_half() -> None:
    pair = KeyPair.generate()
    for leak in renderings(pair.secret):
        assert leak not in repr(pair)


def test_new_account_repr_hides_keys_and_fields() -> None:
    account = create_account(MasterKey.generate())
    text = repr(account)
    for secret in (account.keys.user_key.raw, account.keys.keypair.secret, account.recovery_key.raw):
        for leak in renderings(secret):
            assert leak not in text
    for value in account.fields.values():
        if value.startswith("v1."):
            assert value not in text


@pytest.mark.parametrize("cls", ROLES)
def test_equality_is_by_value_and_type(cls: type[SymmetricKey]) -> None:
    raw = bytes(range(32))
    assert cls(raw) == cls(raw)
    assert hash(cls(raw)) == hash(cls(raw))
    assert cls(raw) != cls(bytes(32))
    for other in ROLES:
        if other is not cls:
            assert cls(raw) != other(raw)
    assert cls(raw) != raw


def test_equality_goes_through_sodium_memcmp(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = _keys._sodium.sodium_memcmp

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_keys._sodium, "sodium_memcmp", spy)
    a, b = BoardKey(bytes(32)), BoardKey(bytes(31) + b"\x01")
    assert a != b
    assert a == BoardKey(bytes(32))
    assert calls == [(a.raw, b.raw), (a.raw, bytes(32))]


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33), "x" * 32, bytearray(32)])
def test_keys_are_exactly_32_bytes(raw: object) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        BoardKey(raw)  # type: ignore[arg-type]


def test_keys_are_immutable() -> None:
    key = UserKey.generate()
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.raw = bytes(32)  # type: ignore[misc]


def test_generated_keys_differ() -> None:
    assert len({WorkspaceKey.generate().raw for _ in range(50)}) == 50


def test_key_pair_must_match() -> None:
    a, b = KeyPair.generate(), KeyPair.generate()
    with pytest.raises(ValueError, match="does not belong"):
        KeyPair(a.public, b.secret)
    with pytest.raises(ValueError, match="32 bytes"):
        KeyPair(a.public[:31], a.secret)
    assert KeyPair.from_secret(a.secret).public == a.public
