"""Hazardous materials: the primitives under the recipes of `mskclient.crypto`.

Use a recipe (`encrypt_field`, `unlock_account`, `seal_workspace_key`, `encrypt_file`…) unless
you are writing a new one.  These calls are easy to misuse, and a misuse is silent:

* no associated-data table: `encrypt_with_ad` seals under whatever AD you pass, so a value can
  be sealed for the wrong field, or for no field any client will open;
* no key types checked: `encrypt_with_ad` takes any 32-byte key object, a workspace key where a
  board key belongs included;
* a sealed box (`seal_to`, `crypto_box_seal`) says nothing about who sealed it, and what
  `open_sealed` returns is unchecked bytes of any length;
* the libsodium and libargon2 wrappers take raw bytes: no length checks, no profile bounds on
  the Argon2id costs, and libsodium's own exceptions escape untranslated;
* the batch calls return a failed item's error in its slot instead of raising it: a caller
  that does not look at each result takes an exception object for plaintext.
"""

from __future__ import annotations

from ._batch import decrypt_batch, encrypt_batch, uses_native
from ._envelope import encrypt_with_ad, open_sealed, seal_to
from ._sodium import (
    SECRETSTREAM_HEADERBYTES,
    argon2id_hash_raw,
    crypto_box_seal,
    crypto_box_seal_open,
    crypto_generichash,
)

__all__ = [
    "SECRETSTREAM_HEADERBYTES",
    "argon2id_hash_raw",
    "crypto_box_seal",
    "crypto_box_seal_open",
    "crypto_generichash",
    "decrypt_batch",
    "encrypt_batch",
    "encrypt_with_ad",
    "open_sealed",
    "seal_to",
    "uses_native",
]
