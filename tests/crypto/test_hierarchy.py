"""The key hierarchy (docs/protocol.md#keys): register, login, recovery, workspace, board and file keys."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mskclient._errors import DecryptionError, EnvelopeError, ProtocolError
from mskclient._profile import field
from mskclient.crypto import (
    BoardKey,
    Envelope,
    FileKey,
    KeyPair,
    MasterKey,
    RecoveryKey,
    SealedEnvelope,
    UserKey,
    WorkspaceKey,
    b64u_decode,
    b64u_encode,
    create_account,
    decrypt_field,
    encrypt_field,
    open_file_key,
    open_workspace_key,
    rewrap_user_key,
    seal_workspace_key,
    unlock_account,
    unlock_with_recovery,
    unwrap_board_key,
    wrap_board_key,
    wrap_file_key,
)
from mskclient.crypto.hazmat import seal_to

USER_ID = "cuser0000001"


def user_record(fields: dict[str, str]) -> dict[str, Any]:
    return {"id": USER_ID, "email": "a@example.com", "displayName": "A", "totpEnabled": False, **fields}


def test_create_account_gives_the_four_register_fields() -> None:
    master = MasterKey.generate()
    account = create_account(master)
    assert set(account.fields) == {"publicKey", "encPrivateKey", "encSymmetricKey", "encRecoveryBlob"}
    assert b64u_decode(account.fields["publicKey"]) == account.keys.keypair.public
    user_key = account.keys.user_key
    assert decrypt_field(master, account.fields["encSymmetricKey"], field("user", "encSymmetricKey")) == user_key.raw
    assert decrypt_field(user_key, account.fields["encPrivateKey"], field("user", "encPrivateKey")) == (
        account.keys.keypair.secret
    )
    assert decrypt_field(account.recovery_key, account.fields["encRecoveryBlob"], field("user", "encRecoveryBlob")) == (
        user_key.raw
    )


def test_accounts_are_independent() -> None:
    master = MasterKey.generate()
    a, b = create_account(master), create_account(master)
    assert a.keys.user_key != b.keys.user_key
    assert a.recovery_key != b.recovery_key
    assert a.keys.keypair.public != b.keys.keypair.public


def test_login_unlocks_what_register_created() -> None:
    master = MasterKey.generate()
    account = create_account(master)
    unlocked = unlock_account(master, user_record(dict(account.fields)))
    assert unlocked.user_key == account.keys.user_key
    assert unlocked.keypair.public == account.keys.keypair.public


def test_wrong_password_is_a_decryption_error_naming_the_field() -> None:
    account = create_account(MasterKey.generate())
    with pytest.raises(DecryptionError) as caught:
        unlock_account(MasterKey.generate(), user_record(dict(account.fields)))
    assert (caught.value.entity, caught.value.entity_id, caught.value.field) == ("user", USER_ID, "encSymmetricKey")


def test_recovery_unlocks_and_rewraps_for_a_new_password() -> None:
    account = create_account(MasterKey.generate())
    record = user_record(dict(account.fields))
    recovered = unlock_with_recovery(account.recovery_key, record)
    assert recovered.user_key == account.keys.user_key
    assert recovered.keypair.public == account.keys.keypair.public
    new_master = MasterKey.generate()
    record["encSymmetricKey"] = str(rewrap_user_key(new_master, recovered.user_key))
    assert unlock_account(new_master, record).user_key == account.keys.user_key
    with pytest.raises(DecryptionError):
        unlock_with_recovery(RecoveryKey.generate(), record)


def test_recovery_opens_the_step_one_answer_which_has_no_public_key() -> None:
    """Recovery step 1 sends encRecoveryBlob and encPrivateKey only: the public key is derived."""
    account = create_account(MasterKey.generate())
    step1 = {"encRecoveryBlob": account.fields["encRecoveryBlob"], "encPrivateKey": account.fields["encPrivateKey"]}
    recovered = unlock_with_recovery(account.recovery_key, step1)
    assert recovered.user_key == account.keys.user_key
    assert recovered.keypair.public == account.keys.keypair.public
    with pytest.raises(ProtocolError, match="publicKey does not match"):
        unlock_with_recovery(account.recovery_key, {**step1, "publicKey": b64u_encode(KeyPair.generate().public)})


@pytest.mark.parametrize("size", [0, 31, 33])
def test_recovery_refuses_a_private_key_of_the_wrong_length(size: int) -> None:
    account = create_account(MasterKey.generate())
    step1 = {
        "encRecoveryBlob": account.fields["encRecoveryBlob"],
        "encPrivateKey": str(encrypt_field(account.keys.user_key, bytes(size), field("user", "encPrivateKey"))),
    }
    with pytest.raises(DecryptionError, match="private key has the wrong length") as caught:
        unlock_with_recovery(account.recovery_key, step1)
    assert (caught.value.entity, caught.value.field) == ("user", "encPrivateKey")


def test_a_public_key_that_does_not_match_the_private_key_is_refused() -> None:
    master = MasterKey.generate()
    account = create_account(master)
    record = user_record(dict(account.fields))
    record["publicKey"] = b64u_encode(KeyPair.generate().public)
    with pytest.raises(ProtocolError, match="publicKey"):
        unlock_account(master, record)


@pytest.mark.parametrize("missing", ["encSymmetricKey", "encPrivateKey", "publicKey"])
def test_a_user_record_without_a_field_is_a_protocol_error(missing: str) -> None:
    master = MasterKey.generate()
    record = user_record(dict(create_account(master).fields))
    del record[missing]
    with pytest.raises(ProtocolError, match=missing):
        unlock_account(master, record)


def test_fields_cannot_be_swapped_between_roles() -> None:
    """encRecoveryBlob and encSymmetricKey both hold the user key; their AD keeps them apart."""
    master = MasterKey.generate()
    account = create_account(master)
    record = user_record(dict(account.fields))
    record["encSymmetricKey"] = str(
        encrypt_field(RecoveryKey(master.raw), account.keys.user_key.raw, field("user", "encRecoveryBlob"))
    )
    with pytest.raises(DecryptionError):
        unlock_account(master, record)


def test_workspace_key_is_sealed_to_each_member() -> None:
    wk = WorkspaceKey.generate()
    alice, bob = KeyPair.generate(), KeyPair.generate()
    for member in (alice, bob):
        sealed = seal_workspace_key(wk, member.public)
        assert isinstance(sealed, SealedEnvelope)
        assert open_workspace_key(str(sealed), member, "cworkspace01") == wk
        assert open_workspace_key(sealed, member, "cworkspace01") == wk
    with pytest.raises(DecryptionError) as caught:
        open_workspace_key(str(seal_workspace_key(wk, alice.public)), bob, "cworkspace01")
    assert (caught.value.entity, caught.value.entity_id, caught.value.field) == (
        "membership",
        "cworkspace01",
        "encWorkspaceKey",
    )


def test_a_sealed_value_that_is_not_a_key_is_refused() -> None:
    member = KeyPair.generate()
    with pytest.raises(DecryptionError, match="wrong length"):
        open_workspace_key(str(seal_to(bytes(31), member.public)), member, "cworkspace01")


def test_board_key_is_wrapped_by_the_workspace_key() -> None:
    wk, bk = WorkspaceKey.generate(), BoardKey.generate()
    wrapped = wrap_board_key(wk, bk)
    assert isinstance(wrapped, Envelope)
    assert unwrap_board_key(wk, str(wrapped), "cboard000001") == bk
    with pytest.raises(DecryptionError) as caught:
        unwrap_board_key(WorkspaceKey.generate(), str(wrapped), "cboard000001")
    assert (caught.value.entity, caught.value.entity_id, caught.value.field) == ("board", "cboard000001", "encBoardKey")


def test_file_key_is_wrapped_by_the_board_key() -> None:
    bk, fk = BoardKey.generate(), FileKey.generate()
    wrapped = wrap_file_key(bk, fk)
    assert open_file_key(bk, str(wrapped), "cattach0001") == fk
    with pytest.raises(DecryptionError, match="attachment cattach0001 field encFileKey"):
        open_file_key(BoardKey.generate(), wrapped, "cattach0001")


def test_a_board_key_envelope_does_not_open_as_a_file_key() -> None:
    wk = WorkspaceKey.generate()
    wrapped = wrap_board_key(wk, BoardKey.generate())
    with pytest.raises(DecryptionError):
        open_file_key(BoardKey(wk.raw), wrapped, "cattach0001")


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_wrapped_keys_of_the_wrong_length_are_refused(size: int) -> None:
    wk, bk = WorkspaceKey.generate(), BoardKey.generate()
    with pytest.raises(DecryptionError, match="wrong length"):
        unwrap_board_key(wk, encrypt_field(wk, bytes(size), field("board", "encBoardKey")), "cboard000001")
    with pytest.raises(DecryptionError, match="wrong length"):
        open_file_key(bk, encrypt_field(bk, bytes(size), field("attachment", "encFileKey")), "cattach0001")


def test_a_key_of_the_wrong_role_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="needs a BoardKey"):
        encrypt_field(WorkspaceKey.generate(), b"x", field("card", "encTitle"))
    with pytest.raises(TypeError, match="needs a MasterKey"):
        decrypt_field(UserKey.generate(), "v1.x.y", field("user", "encSymmetricKey"))


def test_garbage_in_a_user_record_is_an_envelope_error() -> None:
    master = MasterKey.generate()
    record = user_record(dict(create_account(master).fields))
    record["encSymmetricKey"] = "v1.not.an-envelope"
    with pytest.raises(EnvelopeError):
        unlock_account(master, record)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_an_authentic_user_key_of_the_wrong_length_is_a_decryption_error(size: int) -> None:
    """Before the fix this escaped as a bare ValueError from UserKey."""
    master = MasterKey.generate()
    account = create_account(master)
    record = user_record(dict(account.fields))
    record["encSymmetricKey"] = str(encrypt_field(master, bytes(size), field("user", "encSymmetricKey")))
    with pytest.raises(DecryptionError, match="user key has the wrong length"):
        unlock_account(master, record)
    record = user_record(dict(account.fields))
    record["encRecoveryBlob"] = str(encrypt_field(account.recovery_key, bytes(size), field("user", "encRecoveryBlob")))
    with pytest.raises(DecryptionError, match="user key has the wrong length") as caught:
        unlock_with_recovery(account.recovery_key, record)
    assert (caught.value.entity_id, caught.value.field) == (USER_ID, "encRecoveryBlob")


@pytest.mark.parametrize("size", [0, 31, 33])
def test_an_authentic_private_key_of_the_wrong_length_is_a_protocol_error(size: int) -> None:
    master = MasterKey.generate()
    account = create_account(master)
    record = user_record(dict(account.fields))
    record["encPrivateKey"] = str(encrypt_field(account.keys.user_key, bytes(size), field("user", "encPrivateKey")))
    with pytest.raises(ProtocolError, match="publicKey does not match"):
        unlock_account(master, record)


_MASTER = MasterKey(bytes(range(32)))
_ACCOUNT = create_account(_MASTER)
_user_value = st.one_of(
    st.sampled_from(list(_ACCOUNT.fields.values())),
    st.text(max_size=60),
    st.none(),
    st.integers(),
    st.binary(max_size=40).map(b64u_encode),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*_ACCOUNT.fields, "id"]), _user_value, max_size=6))
def test_random_user_records_raise_only_errors_of_the_tree(record: dict[str, object]) -> None:
    """Fields shuffled between each other, missing, or garbage: only tree errors, or a correct unlock."""
    for unlock, key in ((unlock_account, _MASTER), (unlock_with_recovery, _ACCOUNT.recovery_key)):
        try:
            keys = unlock(key, record)  # type: ignore[operator]
        except (EnvelopeError, DecryptionError, ProtocolError):
            continue
        assert keys.user_key == _ACCOUNT.keys.user_key
        assert keys.keypair.public == _ACCOUNT.keys.keypair.public


@pytest.mark.parametrize(
    "public_key",
    [bytes(32), bytes([1]) + bytes(31), bytes(31), bytes(33), b""],
    ids=["all zeros (low order)", "one (low order)", "31 bytes", "33 bytes", "empty"],
)
def test_sealing_to_an_unusable_public_key_is_a_protocol_error(public_key: bytes) -> None:
    """The key comes from the server's user lookup; libsodium's refusal must not escape as RuntimeError."""
    with pytest.raises(ProtocolError, match="not a usable X25519 key"):
        seal_workspace_key(WorkspaceKey.generate(), public_key)
