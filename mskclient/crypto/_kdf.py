"""Password → authHash and masterKey (docs/protocol.md#kdf), with downgrade refusal."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from .._errors import KdfParametersError, UsageError
from .._json import Obj
from .._profile import (
    KDF_CAPS,
    KDF_CONTEXT_AUTH,
    KDF_CONTEXT_MASTER,
    KDF_DEFAULT,
    KDF_DEFAULT_SECONDS,
    KDF_MINIMUM,
    KDF_SUBKEY_ID,
    SALT_BYTES,
    KdfParams,
)
from . import _sodium
from ._b64 import b64u_decode, b64u_encode
from ._keys import MasterKey

__all__ = [
    "LoginKeys",
    "check_login_init",
    "derive_login_keys",
    "derivation_cost",
    "derivation_seconds",
    "normalize_email",
    "normalize_password",
]


@dataclass(frozen=True, slots=True)
class LoginKeys:
    """What a password yields: the authHash to send and the masterKey to keep."""

    auth_hash: str = field(repr=False)
    master_key: MasterKey


def normalize_email(email: str) -> str:
    return email.strip().lower()


def normalize_password(password: str) -> bytes:
    """NFC, then UTF-8; a lone surrogate (e.g. undecodable terminal input) is a UsageError."""
    try:
        return unicodedata.normalize("NFC", password).encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("the password is not valid Unicode text (it holds a lone surrogate)") from None


def check_login_init(answer: object) -> tuple[bytes, KdfParams]:
    """Validate a login-init answer: refuse a downgrade below the profile or absurd costs."""
    init = Obj(answer, "login-init", KdfParametersError)
    kdf = init.child("kdf", "login-init.kdf")
    salt_text = init.data.get("salt")
    try:
        salt = b64u_decode(salt_text) if isinstance(salt_text, str) else b""
    except ValueError:
        salt = b""
    if len(salt) != SALT_BYTES:
        raise KdfParametersError(f"login-init: salt must be {SALT_BYTES} bytes")
    params = KdfParams(
        memory_kib=kdf.integer("memoryKiB"),
        iterations=kdf.integer("iterations"),
        parallelism=kdf.integer("parallelism"),
        algorithm=str(kdf.data.get("algorithm")),
        version=kdf.integer("version"),
    )
    if params.algorithm != KDF_MINIMUM.algorithm or params.version != KDF_MINIMUM.version:
        raise KdfParametersError(f"login-init: refusing {params.algorithm} version {params.version}")
    for name in ("memory_kib", "iterations", "parallelism"):
        value, low, high = getattr(params, name), getattr(KDF_MINIMUM, name), getattr(KDF_CAPS, name)
        if value < low:
            raise KdfParametersError(
                f"login-init: {name}={value} is below the profile minimum {low} (downgrade refused)"
            )
        if value > high:
            raise KdfParametersError(f"login-init: {name}={value} is above the client's cap {high}")
    return salt, params


def derivation_cost(params: KdfParams) -> float:
    """The work `params` asks for, in units of the default derivation's (memory × passes).

    Lanes split the same work between cores, so parallelism does not count: a rough figure,
    meant for telling a person what a server's stronger parameters will cost them.
    """
    default = KDF_DEFAULT.memory_kib * KDF_DEFAULT.iterations
    return params.memory_kib * params.iterations / default


def derivation_seconds(params: KdfParams) -> float:
    """About how long deriving with `params` takes (the nominal default duration, scaled by cost)."""
    return derivation_cost(params) * KDF_DEFAULT_SECONDS


def derive_login_keys(password: str, salt: bytes, params: KdfParams) -> LoginKeys:
    """Argon2id root, then crypto_kdf subkeys: authKey (sent as authHash) and masterKey."""
    root = _sodium.argon2id_hash_raw(
        normalize_password(password),
        salt,
        t_cost=params.iterations,
        m_cost_kib=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        version=params.version,
    )
    auth_key = _sodium.crypto_kdf_derive_from_key(32, KDF_SUBKEY_ID, KDF_CONTEXT_AUTH, root)
    master = _sodium.crypto_kdf_derive_from_key(32, KDF_SUBKEY_ID, KDF_CONTEXT_MASTER, root)
    return LoginKeys(auth_hash=b64u_encode(auth_key), master_key=MasterKey(master))
