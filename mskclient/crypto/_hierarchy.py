"""The key hierarchy (docs/protocol.md#keys): account keys, workspace, board and file keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .._errors import ProtocolError
from .._json import text
from .._profile import FieldSpec
from .._profile import field as spec
from ._b64 import b64u_decode, b64u_encode
from ._envelope import Envelope, SealedEnvelope, Where, decrypt_field, encrypt_field, open_sealed, seal_to
from ._keys import BoardKey, FileKey, KeyPair, MasterKey, RecoveryKey, UserKey, WorkspaceKey
from ._sodium import BOX_SECRETKEYBYTES

__all__ = [
    "AccountKeys",
    "NewAccount",
    "create_account",
    "open_file_key",
    "open_workspace_key",
    "rewrap_user_key",
    "seal_workspace_key",
    "unlock_account",
    "unlock_with_recovery",
    "unwrap_board_key",
    "wrap_board_key",
    "wrap_file_key",
]

_SYMMETRIC_KEY = spec("user", "encSymmetricKey")
_PRIVATE_KEY = spec("user", "encPrivateKey")
_RECOVERY = spec("user", "encRecoveryBlob")
_BOARD_KEY = spec("board", "encBoardKey")
_FILE_KEY = spec("attachment", "encFileKey")


@dataclass(frozen=True, slots=True)
class AccountKeys:
    """An unlocked account: its user key and X25519 key pair."""

    user_key: UserKey
    keypair: KeyPair


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What register sends (`fields`) and what the user must see once (`recovery_key`)."""

    keys: AccountKeys
    recovery_key: RecoveryKey
    fields: Mapping[str, str] = field(repr=False)


def create_account(master_key: MasterKey) -> NewAccount:
    user_key, keypair, recovery = UserKey.generate(), KeyPair.generate(), RecoveryKey.generate()
    fields = {
        "publicKey": b64u_encode(keypair.public),
        "encPrivateKey": str(encrypt_field(user_key, keypair.secret, _PRIVATE_KEY)),
        "encSymmetricKey": str(encrypt_field(master_key, user_key.raw, _SYMMETRIC_KEY)),
        "encRecoveryBlob": str(encrypt_field(recovery, user_key.raw, _RECOVERY)),
    }
    return NewAccount(AccountKeys(user_key, keypair), recovery, fields)


def _open_key_pair(
    user_key: UserKey, user: Mapping[str, object], user_id: str | None, *, public_key_optional: bool = False
) -> KeyPair:
    secret = decrypt_field(user_key, text(user, "encPrivateKey", "user"), _PRIVATE_KEY, entity_id=user_id)
    if public_key_optional and user.get("publicKey") is None:
        if len(secret) != BOX_SECRETKEYBYTES:
            raise Where.of(_PRIVATE_KEY, user_id).decryption_error("private key has the wrong length")
        return KeyPair.from_secret(secret)
    try:
        public = b64u_decode(text(user, "publicKey", "user"))
        return KeyPair(public, secret)
    except ValueError:
        raise ProtocolError(f"user {user_id}: publicKey does not match encPrivateKey") from None


def _user_id(user: Mapping[str, object]) -> str | None:
    value = user.get("id")
    return value if isinstance(value, str) else None


def _user_key(raw: bytes, row: FieldSpec, user_id: str | None) -> UserKey:
    if len(raw) != 32:
        raise Where.of(row, user_id).decryption_error("user key has the wrong length")
    return UserKey(raw)


def unlock_account(master_key: MasterKey, user: Mapping[str, object]) -> AccountKeys:
    """Open encSymmetricKey with the masterKey, then the private key; check it matches publicKey."""
    uid = _user_id(user)
    raw = decrypt_field(master_key, text(user, "encSymmetricKey", "user"), _SYMMETRIC_KEY, entity_id=uid)
    user_key = _user_key(raw, _SYMMETRIC_KEY, uid)
    return AccountKeys(user_key, _open_key_pair(user_key, user, uid))


def unlock_with_recovery(recovery_key: RecoveryKey, user: Mapping[str, object]) -> AccountKeys:
    """Open the user key from encRecoveryBlob (the password is lost), then the private key.

    `user` is a user record or the answer to recovery step 1, which carries encRecoveryBlob and
    encPrivateKey but no publicKey: without one, the public key is derived from the private key.
    """
    uid = _user_id(user)
    raw = decrypt_field(recovery_key, text(user, "encRecoveryBlob", "user"), _RECOVERY, entity_id=uid)
    user_key = _user_key(raw, _RECOVERY, uid)
    return AccountKeys(user_key, _open_key_pair(user_key, user, uid, public_key_optional=True))


def rewrap_user_key(master_key: MasterKey, user_key: UserKey) -> Envelope:
    """encSymmetricKey under a new password's masterKey."""
    return encrypt_field(master_key, user_key.raw, _SYMMETRIC_KEY)


def seal_workspace_key(wk: WorkspaceKey, member_public_key: bytes) -> SealedEnvelope:
    return seal_to(wk.raw, member_public_key)


def open_workspace_key(sealed: SealedEnvelope | str, keypair: KeyPair, workspace_id: str | None) -> WorkspaceKey:
    where = Where("membership", "encWorkspaceKey", workspace_id)
    raw = open_sealed(sealed, keypair, where)
    if len(raw) != 32:
        raise where.decryption_error("sealed workspace key has the wrong length")
    return WorkspaceKey(raw)


def wrap_board_key(wk: WorkspaceKey, bk: BoardKey) -> Envelope:
    return encrypt_field(wk, bk.raw, _BOARD_KEY)


def unwrap_board_key(wk: WorkspaceKey, envelope: Envelope | str, board_id: str | None) -> BoardKey:
    raw = decrypt_field(wk, envelope, _BOARD_KEY, entity_id=board_id)
    if len(raw) != 32:
        raise Where.of(_BOARD_KEY, board_id).decryption_error("board key has the wrong length")
    return BoardKey(raw)


def wrap_file_key(bk: BoardKey, fk: FileKey) -> Envelope:
    return encrypt_field(bk, fk.raw, _FILE_KEY)


def open_file_key(bk: BoardKey, envelope: Envelope | str, attachment_id: str | None) -> FileKey:
    raw = decrypt_field(bk, envelope, _FILE_KEY, entity_id=attachment_id)
    if len(raw) != 32:
        raise Where.of(_FILE_KEY, attachment_id).decryption_error("file key has the wrong length")
    return FileKey(raw)
