"""Small immutable key objects: a type per role so one key is never used for another."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from . import _sodium

__all__ = [
    "BoardKey",
    "FileKey",
    "KeyPair",
    "MasterKey",
    "RecoveryKey",
    "SymmetricKey",
    "UserKey",
    "WorkspaceKey",
]

_K = TypeVar("_K", bound="SymmetricKey")


@dataclass(frozen=True, slots=True, eq=False)
class SymmetricKey:
    """32 secret bytes; never shown by repr, compared in constant time."""

    raw: bytes = field(repr=False)
    role: ClassVar[str] = "key"

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != _sodium.AEAD_KEYBYTES:
            raise ValueError(f"{self.role} must be {_sodium.AEAD_KEYBYTES} bytes")

    @classmethod
    def generate(cls: type[_K]) -> _K:
        return cls(_sodium.randombytes_buf(_sodium.AEAD_KEYBYTES))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and _sodium.sodium_memcmp(self.raw, other.raw)

    def __hash__(self) -> int:
        return hash((type(self), _sodium.crypto_generichash(16, self.raw)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<secret>)"


class MasterKey(SymmetricKey):
    """Derived from the password; opens encSymmetricKey. Never leaves the client."""

    __slots__ = ()
    role = "masterKey"


class UserKey(SymmetricKey):
    """The account's own key; opens the private key."""

    __slots__ = ()
    role = "userKey"


class RecoveryKey(SymmetricKey):
    """Shown once at registration; opens encRecoveryBlob."""

    __slots__ = ()
    role = "recoveryKey"


class WorkspaceKey(SymmetricKey):
    """WK: sealed to every member; wraps board keys and the workspace name."""

    __slots__ = ()
    role = "workspaceKey"


class BoardKey(SymmetricKey):
    """BK: everything inside a board, relay frames included."""

    __slots__ = ()
    role = "boardKey"


class FileKey(SymmetricKey):
    """FK: the secretstream key of one attachment."""

    __slots__ = ()
    role = "fileKey"


@dataclass(frozen=True, slots=True, eq=False)
class KeyPair:
    """An X25519 key pair (crypto_box)."""

    public: bytes
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.public) != _sodium.BOX_PUBLICKEYBYTES or len(self.secret) != _sodium.BOX_SECRETKEYBYTES:
            raise ValueError("X25519 keys are 32 bytes")
        if not _sodium.sodium_memcmp(_sodium.crypto_scalarmult_base(self.secret), self.public):
            raise ValueError("public key does not belong to the secret key")

    @classmethod
    def generate(cls) -> KeyPair:
        pk, sk = _sodium.crypto_box_keypair()
        return cls(pk, sk)

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyPair:
        return cls(_sodium.crypto_scalarmult_base(secret), secret)

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.hex()[:16]}…)"
