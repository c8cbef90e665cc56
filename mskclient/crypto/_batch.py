"""Open or seal many fields in one call: a board export holds thousands of them.

The C extension built from `native/batch.c` does the work with the GIL released, split across
threads, over PyNaCl's own libsodium; without it (no compiler at install time) or with
`MSKCLIENT_NO_NATIVE=1` the same results come from a plain loop over `decrypt_field` /
`encrypt_field`.  Either way a bad item yields its own error object, exactly the one
`decrypt_field` raises for it, and never stops the rest of the batch.

`open_message` is the other end of the scale: one small message (a relay frame) opened by the
same extension on the calling thread, where PyNaCl's per-call overhead would cost more than the AEAD.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import cast

from .._errors import CryptoError, UsageError
from .._profile import ENVELOPE_MAX_CHARS, FieldSpec
from . import _sodium
from ._envelope import NOT_AUTHENTIC, Envelope, Where, _check_key, decrypt_field, encrypt_field
from ._keys import SymmetricKey

__all__ = ["decrypt_batch", "encrypt_batch", "open_message", "uses_native"]

#: Set to "1" to force the pure-Python path (read at every call).
NO_NATIVE_ENV = "MSKCLIENT_NO_NATIVE"


def _load_native() -> ModuleType | None:
    """Import the extension and hand it PyNaCl's libsodium functions, so there is one libsodium."""
    try:
        from .. import _native
    except ImportError:
        return None
    import nacl._sodium as pynacl  # the cffi module holding PyNaCl's libsodium

    def address(function: object) -> int:
        return int(pynacl.ffi.cast("uintptr_t", function))

    lib = pynacl.lib
    _native.bind(
        address(lib.crypto_aead_xchacha20poly1305_ietf_decrypt),
        address(lib.crypto_aead_xchacha20poly1305_ietf_encrypt),
        address(lib.randombytes),  # libsodium's wrapper of randombytes_buf; PyNaCl declares no other
    )
    return _native


_NATIVE = _load_native()


def uses_native() -> bool:
    """True when batches go through the C extension: it is built and MSKCLIENT_NO_NATIVE is not 1."""
    return _NATIVE is not None and os.environ.get(NO_NATIVE_ENV) != "1"


def open_message(key: bytes, sealed: bytes, ad: bytes) -> bytes | None:
    """`sealed` = nonce(24) ‖ XChaCha20-Poly1305(key, message, ad) opened: the message, or None if
    it does not authenticate.  The caller checks that `sealed` holds at least a nonce and a tag."""
    if _NATIVE is not None and uses_native():
        opened: bytes | None = _NATIVE.open_message(key, sealed, ad)
        return opened
    nonce, body = sealed[: _sodium.AEAD_NPUBBYTES], sealed[_sodium.AEAD_NPUBBYTES :]
    try:
        return _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, ad, nonce, key)
    except _sodium.SodiumFailure:
        return None


@functools.cache
def _cores() -> int:
    """The machine's cores, asked once: `os.cpu_count` reads the system's CPU list each time,
    some 8 µs, and a verify or an export makes a batch call per board part."""
    return os.cpu_count() or 1


def _thread_count(threads: int | None) -> int:
    if threads is None:
        return _cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"threads must be a positive integer, not {threads!r}")
    return threads


def _ad_for(key: SymmetricKey) -> Callable[[FieldSpec], bytes]:
    """The native side calls this once per distinct spec: key role check, then the spec's AD."""

    def ad_for(spec: FieldSpec) -> bytes:
        _check_key(key, spec)
        return spec.ad

    return ad_for


def _open_pure(key: SymmetricKey, text: str | Envelope, spec: FieldSpec, entity_id: str | None) -> bytes | CryptoError:
    try:
        return decrypt_field(key, text, spec, entity_id=entity_id)
    except CryptoError as exc:
        return exc


def _native_failure(
    code: int, key: SymmetricKey, text: str | Envelope, spec: FieldSpec, entity_id: str | None
) -> bytes | CryptoError:
    """The error `decrypt_field` raises for an item the extension reported with `code`: a forgery
    is named here (no second decryption); any other item is malformed, not a string, or one the
    extension had no memory to decode, and the pure path gives its own result for it."""
    assert _NATIVE is not None
    if code == _NATIVE.E_AUTH:
        return Where.of(spec, entity_id).decryption_error(NOT_AUTHENTIC)
    return _open_pure(key, text, spec, entity_id)


def decrypt_batch(
    key: SymmetricKey,
    items: Sequence[tuple[str | Envelope, FieldSpec, str | None]],
    *,
    threads: int | None = None,
) -> list[bytes | CryptoError]:
    """Open `(envelope_text, spec, entity_id)` tuples under one key, in order.

    Each result is the plaintext or the CryptoError `decrypt_field` would raise for that item;
    a key of the wrong role for any spec raises TypeError and nothing is returned.
    `threads` (default: all cores) only matters on the native path.
    """
    count = _thread_count(threads)
    if _NATIVE is None or not uses_native():
        return [_open_pure(key, text, spec, entity_id) for text, spec, entity_id in items]
    plain, failed = _NATIVE.open_batch(key.raw, items, _ad_for(key), count, ENVELOPE_MAX_CHARS)
    results = cast("list[bytes | CryptoError]", plain)  # its None slots are exactly `failed`, filled here
    for index, code in failed:
        results[index] = _native_failure(code, key, *items[index])
    return results


def encrypt_batch(
    key: SymmetricKey, items: Sequence[tuple[bytes, FieldSpec]], *, threads: int | None = None
) -> list[Envelope]:
    """Seal `(plaintext, spec)` tuples under one key, each with a fresh random nonce, in order.

    A key of the wrong role for any spec raises TypeError and nothing is returned.
    """
    count = _thread_count(threads)
    if _NATIVE is None or not uses_native():
        return [encrypt_field(key, plaintext, spec) for plaintext, spec in items]
    return [Envelope(nonce, body) for nonce, body in _NATIVE.seal_batch(key.raw, items, _ad_for(key), count)]
