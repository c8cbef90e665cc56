"""Thin wrappers named like the libsodium and libargon2 calls they make.

Every primitive mskclient uses goes through this module: libsodium via PyNaCl,
Argon2id via argon2-cffi.  Nothing here knows the profile; foreign exceptions
are left to the recipes that call these wrappers, which know what failed.
"""

from __future__ import annotations

import nacl.bindings as _b
import nacl.utils
from argon2.low_level import Type, hash_secret_raw
from nacl._sodium import ffi as _ffi  # the cffi module holding PyNaCl's libsodium (as `_batch` uses it)
from nacl._sodium import lib as _lib
from nacl.exceptions import CryptoError as _NaclCryptoError

__all__ = [
    "AEAD_ABYTES",
    "AEAD_KEYBYTES",
    "AEAD_NPUBBYTES",
    "BOX_PUBLICKEYBYTES",
    "BOX_SEALBYTES",
    "BOX_SECRETKEYBYTES",
    "SECRETSTREAM_ABYTES",
    "SECRETSTREAM_HEADERBYTES",
    "SECRETSTREAM_TAG_FINAL",
    "SECRETSTREAM_TAG_MESSAGE",
    "SodiumFailure",
    "argon2id_hash_raw",
    "crypto_aead_xchacha20poly1305_ietf_decrypt",
    "crypto_aead_xchacha20poly1305_ietf_encrypt",
    "crypto_box_keypair",
    "crypto_box_seal",
    "crypto_box_seal_open",
    "crypto_generichash",
    "crypto_kdf_derive_from_key",
    "crypto_scalarmult_base",
    "crypto_secretstream_xchacha20poly1305_init_pull",
    "crypto_secretstream_xchacha20poly1305_init_push",
    "crypto_secretstream_xchacha20poly1305_pull",
    "crypto_secretstream_xchacha20poly1305_push",
    "randombytes_buf",
    "sodium_memcmp",
]

AEAD_KEYBYTES = _b.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
AEAD_NPUBBYTES = _b.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
AEAD_ABYTES = _b.crypto_aead_xchacha20poly1305_ietf_ABYTES
BOX_PUBLICKEYBYTES = _b.crypto_box_PUBLICKEYBYTES
BOX_SECRETKEYBYTES = _b.crypto_box_SECRETKEYBYTES
BOX_SEALBYTES = _b.crypto_box_SEALBYTES
SECRETSTREAM_HEADERBYTES = _b.crypto_secretstream_xchacha20poly1305_HEADERBYTES
SECRETSTREAM_ABYTES = _b.crypto_secretstream_xchacha20poly1305_ABYTES
SECRETSTREAM_TAG_MESSAGE = _b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
SECRETSTREAM_TAG_FINAL = _b.crypto_secretstream_xchacha20poly1305_TAG_FINAL

#: libsodium's "this did not verify" (PyNaCl's CryptoError), for recipes to translate.
SodiumFailure = _NaclCryptoError

SecretStreamState = _b.crypto_secretstream_xchacha20poly1305_state


def randombytes_buf(size: int) -> bytes:
    return bytes(nacl.utils.random(size))


def sodium_memcmp(a: bytes, b: bytes) -> bool:
    """Constant-time equality (for equal lengths; different lengths are simply unequal)."""
    return len(a) == len(b) and bool(_b.sodium_memcmp(a, b))


# The AEAD of every field, sealed and opened once per request a bulk import or an export
# makes: called on PyNaCl's libsodium directly, with the checks its binding makes (which
# format an error message for each of them on every call, over half the cost of a short field).


def _aead_arguments(ad: bytes, nonce: bytes, key: bytes) -> None:
    if not isinstance(ad, bytes):
        raise TypeError("additional data must be bytes")
    if not isinstance(nonce, bytes) or len(nonce) != AEAD_NPUBBYTES:
        raise TypeError(f"the nonce must be {AEAD_NPUBBYTES} bytes")
    if not isinstance(key, bytes) or len(key) != AEAD_KEYBYTES:
        raise TypeError(f"the key must be {AEAD_KEYBYTES} bytes")


def crypto_aead_xchacha20poly1305_ietf_encrypt(m: bytes, ad: bytes, nonce: bytes, key: bytes) -> bytes:
    if not isinstance(m, bytes):
        raise TypeError("the message must be bytes")
    _aead_arguments(ad, nonce, key)
    out = _ffi.new("unsigned char[]", len(m) + AEAD_ABYTES)
    if _lib.crypto_aead_xchacha20poly1305_ietf_encrypt(out, _ffi.NULL, m, len(m), ad, len(ad), _ffi.NULL, nonce, key):
        raise SodiumFailure("encryption failed")
    return bytes(_ffi.buffer(out))


def crypto_aead_xchacha20poly1305_ietf_decrypt(c: bytes, ad: bytes, nonce: bytes, key: bytes) -> bytes:
    if not isinstance(c, bytes):
        raise TypeError("the ciphertext must be bytes")
    _aead_arguments(ad, nonce, key)
    if len(c) < AEAD_ABYTES:
        raise SodiumFailure("the ciphertext is shorter than its tag")
    out = _ffi.new("unsigned char[]", len(c) - AEAD_ABYTES)
    if _lib.crypto_aead_xchacha20poly1305_ietf_decrypt(out, _ffi.NULL, _ffi.NULL, c, len(c), ad, len(ad), nonce, key):
        raise SodiumFailure("decryption failed")
    return bytes(_ffi.buffer(out))


def crypto_box_keypair() -> tuple[bytes, bytes]:
    pk, sk = _b.crypto_box_keypair()
    return bytes(pk), bytes(sk)


def crypto_scalarmult_base(sk: bytes) -> bytes:
    return bytes(_b.crypto_scalarmult_base(sk))


def crypto_box_seal(m: bytes, pk: bytes) -> bytes:
    return bytes(_b.crypto_box_seal(m, pk))


def crypto_box_seal_open(c: bytes, pk: bytes, sk: bytes) -> bytes:
    return bytes(_b.crypto_box_seal_open(c, pk, sk))


def crypto_generichash(outlen: int, data: bytes, key: bytes = b"") -> bytes:
    return bytes(_b.crypto_generichash_blake2b_salt_personal(data, digest_size=outlen, key=key))


def crypto_kdf_derive_from_key(subkey_len: int, subkey_id: int, ctx: bytes, key: bytes) -> bytes:
    """libsodium's crypto_kdf_derive_from_key, which PyNaCl lacks.

    crypto_kdf is BLAKE2b keyed with the master key, salt = subkey id
    (8 bytes little-endian) + 8 zero bytes, personal = ctx + 8 zero bytes,
    empty message: exactly this generichash call.
    """
    if len(ctx) != 8:
        raise ValueError("crypto_kdf context must be 8 bytes")
    salt = subkey_id.to_bytes(8, "little") + bytes(8)
    personal = ctx + bytes(8)
    return bytes(
        _b.crypto_generichash_blake2b_salt_personal(
            b"", digest_size=subkey_len, key=key, salt=salt, person=personal
        )
    )


def argon2id_hash_raw(
    password: bytes,
    salt: bytes,
    *,
    t_cost: int,
    m_cost_kib: int,
    parallelism: int,
    hash_len: int,
    version: int,
) -> bytes:
    return hash_secret_raw(
        password,
        salt,
        time_cost=t_cost,
        memory_cost=m_cost_kib,
        parallelism=parallelism,
        hash_len=hash_len,
        type=Type.ID,
        version=version,
    )


def crypto_secretstream_xchacha20poly1305_init_push(key: bytes) -> tuple[SecretStreamState, bytes]:
    state = SecretStreamState()
    header = _b.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    return state, bytes(header)


def crypto_secretstream_xchacha20poly1305_push(state: SecretStreamState, m: bytes, tag: int) -> bytes:
    return bytes(_b.crypto_secretstream_xchacha20poly1305_push(state, m, None, tag))


def crypto_secretstream_xchacha20poly1305_init_pull(header: bytes, key: bytes) -> SecretStreamState:
    state = SecretStreamState()
    _b.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    return state


def crypto_secretstream_xchacha20poly1305_pull(state: SecretStreamState, c: bytes) -> tuple[bytes, int]:
    m, tag = _b.crypto_secretstream_xchacha20poly1305_pull(state, c, None)
    return bytes(m), int(tag)
