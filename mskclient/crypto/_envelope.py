"""Symmetric and sealed envelopes (docs/protocol.md#envelopes): parse, seal and open one field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from .._errors import DecryptionError, EnvelopeError, ProtocolError, UnsupportedVersionError
from .._profile import ENVELOPE_MAX_CHARS, ENVELOPE_VERSION, FieldSpec, KeyRole
from . import _sodium
from ._b64 import b64u_decode, b64u_encode
from ._keys import BoardKey, KeyPair, MasterKey, RecoveryKey, SymmetricKey, UserKey, WorkspaceKey

__all__ = [
    "Envelope",
    "SealedEnvelope",
    "Where",
    "decrypt_field",
    "encrypt_field",
    "encrypt_with_ad",
    "open_sealed",
    "seal_field",
    "seal_to",
]

#: DecryptionError's reason for an envelope that does not open under its key and AD.
NOT_AUTHENTIC = "does not authenticate (wrong key, tampered or moved)"

_KEY_TYPES: dict[KeyRole, type[SymmetricKey]] = {
    KeyRole.MASTER: MasterKey,
    KeyRole.USER: UserKey,
    KeyRole.RECOVERY: RecoveryKey,
    KeyRole.WORKSPACE: WorkspaceKey,
    KeyRole.BOARD: BoardKey,
}


@dataclass(frozen=True, slots=True)
class Where:
    """Which field of which entity an envelope belongs to, for error messages."""

    entity: str
    field: str
    entity_id: str | None = None

    @classmethod
    def of(cls, spec: FieldSpec, entity_id: str | None = None) -> Where:
        return cls(spec.entity, spec.name, entity_id)

    def envelope_error(self, reason: str) -> EnvelopeError:
        return EnvelopeError(reason, entity=self.entity, entity_id=self.entity_id, field=self.field)

    def decryption_error(self, reason: str) -> DecryptionError:
        return DecryptionError(reason, entity=self.entity, entity_id=self.entity_id, field=self.field)


_E = TypeVar("_E", bound="_Parsed")


def _wire_text(head: bytes, body: bytes) -> str:
    """`v1.<head>.<body>`, each part base64url without padding: how an envelope is sent."""
    return f"{ENVELOPE_VERSION}.{b64u_encode(head)}.{b64u_encode(body)}"


@dataclass(frozen=True, slots=True)
class _Parsed:
    head: bytes
    body: bytes

    _HEAD_BYTES = 0
    _MIN_BODY = 0

    def __str__(self) -> str:
        return _wire_text(self.head, self.body)

    @classmethod
    def parse(cls: type[_E], text: object, where: Where) -> _E:
        """Parse the wire text; EnvelopeError (never a crash) on anything malformed."""
        if not isinstance(text, str):
            raise where.envelope_error("not a string")
        if len(text) > ENVELOPE_MAX_CHARS:
            raise where.envelope_error("over the 4 MiB field limit")
        parts = text.split(".")
        if len(parts) != 3:
            raise where.envelope_error("not three dot-separated parts")
        if parts[0] != ENVELOPE_VERSION:
            raise UnsupportedVersionError(
                "unsupported envelope version", entity=where.entity, entity_id=where.entity_id, field=where.field
            )
        try:
            head, body = b64u_decode(parts[1]), b64u_decode(parts[2])
        except ValueError:
            raise where.envelope_error("not base64url") from None
        if len(head) != cls._HEAD_BYTES:
            raise where.envelope_error(f"nonce must be {cls._HEAD_BYTES} bytes")
        if len(body) < cls._MIN_BODY:
            raise where.envelope_error("ciphertext too short")
        return cls(head, body)


@dataclass(frozen=True, slots=True)
class Envelope(_Parsed):
    """`v1.<nonce>.<ciphertext‖tag>`: XChaCha20-Poly1305 ciphertext, never plaintext."""

    _HEAD_BYTES = _sodium.AEAD_NPUBBYTES
    _MIN_BODY = _sodium.AEAD_ABYTES

    @property
    def nonce(self) -> bytes:
        return self.head


@dataclass(frozen=True, slots=True)
class SealedEnvelope(_Parsed):
    """`v1.<ephemeral pk>.<rest>`: crypto_box_seal output split after its first 32 bytes."""

    _HEAD_BYTES = _sodium.BOX_PUBLICKEYBYTES
    _MIN_BODY = _sodium.BOX_SEALBYTES - _sodium.BOX_PUBLICKEYBYTES


def _check_key(key: SymmetricKey, spec: FieldSpec) -> None:
    expected = _KEY_TYPES[spec.key]
    if not isinstance(key, expected):
        raise TypeError(f"{spec.entity}.{spec.name} needs a {expected.__name__}, not {type(key).__name__}")


def encrypt_field(key: SymmetricKey, plaintext: bytes, spec: FieldSpec, *, nonce: bytes | None = None) -> Envelope:
    """Seal one field under its key with the field's associated data; fresh nonce unless given."""
    _check_key(key, spec)
    return encrypt_with_ad(key, plaintext, spec.ad, nonce=nonce)


def seal_field(key: SymmetricKey, plaintext: bytes, spec: FieldSpec) -> str:
    """`str(encrypt_field(key, plaintext, spec))`: the wire text, with no `Envelope` built on
    the way (each create of a bulk import seals one or two fields, on its critical path)."""
    _check_key(key, spec)
    nonce = _sodium.randombytes_buf(_sodium.AEAD_NPUBBYTES)
    sealed = _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, spec.ad, nonce, key.raw)
    return _wire_text(nonce, sealed)


def encrypt_with_ad(key: SymmetricKey, plaintext: bytes, ad: bytes, *, nonce: bytes | None = None) -> Envelope:
    nonce = _sodium.randombytes_buf(_sodium.AEAD_NPUBBYTES) if nonce is None else nonce
    if len(nonce) != _sodium.AEAD_NPUBBYTES:
        raise ValueError("nonce must be 24 bytes")
    return Envelope(nonce, _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key.raw))


def decrypt_field(
    key: SymmetricKey, envelope: Envelope | str, spec: FieldSpec, *, entity_id: str | None = None
) -> bytes:
    """Open one field; DecryptionError naming entity, id and field if it does not authenticate."""
    _check_key(key, spec)
    where = Where.of(spec, entity_id)
    env = envelope if isinstance(envelope, Envelope) else Envelope.parse(envelope, where)
    try:
        return _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(env.body, spec.ad, env.head, key.raw)
    except _sodium.SodiumFailure:
        raise where.decryption_error(NOT_AUTHENTIC) from None


def seal_to(message: bytes, public_key: bytes) -> SealedEnvelope:
    """crypto_box_seal to a member's public key (encWorkspaceKey).

    The key comes from the server: one libsodium refuses (wrong length, or a
    low-order point such as all zeros) is a ProtocolError, not a crash.
    """
    try:
        sealed = _sodium.crypto_box_seal(message, public_key)
    except _sodium.SodiumFailure:
        raise ProtocolError("the member's public key is not a usable X25519 key") from None
    cut = _sodium.BOX_PUBLICKEYBYTES
    return SealedEnvelope(sealed[:cut], sealed[cut:])


def open_sealed(envelope: SealedEnvelope | str, keypair: KeyPair, where: Where) -> bytes:
    env = envelope if isinstance(envelope, SealedEnvelope) else SealedEnvelope.parse(envelope, where)
    try:
        return _sodium.crypto_box_seal_open(env.head + env.body, keypair.public, keypair.secret)
    except _sodium.SodiumFailure:
        raise where.decryption_error("sealed box does not open with this account's key") from None
