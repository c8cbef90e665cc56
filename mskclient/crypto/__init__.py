"""The sans-I/O crypto core: pure functions and immutable keys, no network or files.

Recipes here follow `docs/protocol.md` (kdf, keys, envelopes, attachments, relay-frames, webhooks);
each picks the key type and the associated data its field needs.  The primitives under them
(AEAD with any AD, sealed boxes, batch calls, the libsodium wrappers of `_sodium`) are public
in `mskclient.crypto.hazmat`, apart, because they check none of that.

The bottom layer: it imports only libsodium (PyNaCl), libargon2 (argon2-cffi), the optional
native extension and the shared `_profile`, `_errors` and `_json`; never the client, any
layer above it, or anything that does I/O (the import-linter contracts in pyproject.toml).
"""

from ._b64 import b64u_decode, b64u_encode
from ._envelope import (
    Envelope,
    SealedEnvelope,
    Where,
    decrypt_field,
    encrypt_field,
    seal_field,
)
from ._hierarchy import (
    AccountKeys,
    NewAccount,
    create_account,
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
from ._kdf import (
    LoginKeys,
    check_login_init,
    derivation_cost,
    derivation_seconds,
    derive_login_keys,
    normalize_email,
    normalize_password,
)
from ._keys import BoardKey, FileKey, KeyPair, MasterKey, RecoveryKey, SymmetricKey, UserKey, WorkspaceKey
from ._misc import (
    RELAY_FRAME_OVERHEAD,
    WebhookSignatureError,
    fingerprint,
    fingerprint_matches,
    open_relay_frame,
    seal_relay_frame,
    sign_webhook,
    verify_webhook_signature,
)
from ._recovery import format_recovery_key, parse_recovery_key
from ._secretstream import (
    CIPHER_CHUNK_SIZE,
    StreamDecryptor,
    StreamEncryptor,
    ciphertext_size,
    decrypt_file,
    encrypt_file,
    encrypted_chunks,
)

__all__ = [
    "CIPHER_CHUNK_SIZE",
    "AccountKeys",
    "BoardKey",
    "Envelope",
    "FileKey",
    "KeyPair",
    "LoginKeys",
    "MasterKey",
    "NewAccount",
    "RELAY_FRAME_OVERHEAD",
    "RecoveryKey",
    "SealedEnvelope",
    "StreamDecryptor",
    "StreamEncryptor",
    "SymmetricKey",
    "UserKey",
    "WebhookSignatureError",
    "Where",
    "WorkspaceKey",
    "b64u_decode",
    "b64u_encode",
    "check_login_init",
    "ciphertext_size",
    "create_account",
    "decrypt_field",
    "decrypt_file",
    "derivation_cost",
    "derivation_seconds",
    "derive_login_keys",
    "encrypt_field",
    "encrypt_file",
    "encrypted_chunks",
    "fingerprint",
    "fingerprint_matches",
    "format_recovery_key",
    "normalize_email",
    "normalize_password",
    "open_file_key",
    "open_relay_frame",
    "open_workspace_key",
    "parse_recovery_key",
    "rewrap_user_key",
    "seal_field",
    "seal_relay_frame",
    "seal_workspace_key",
    "sign_webhook",
    "unlock_account",
    "unlock_with_recovery",
    "unwrap_board_key",
    "verify_webhook_signature",
    "wrap_board_key",
    "wrap_file_key",
]
