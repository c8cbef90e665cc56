"""Types of the optional C extension built from native/batch.c (absent when no compiler was found)."""

from collections.abc import Callable, Sequence

from ._profile import FieldSpec

E_MALFORMED: int
E_AUTH: int

def bind(aead_decrypt: int, aead_encrypt: int, randombytes: int, /) -> None: ...
def open_batch(
    key: bytes,
    items: Sequence[tuple[object, FieldSpec, str | None]],
    ad_for: Callable[[FieldSpec], bytes],
    threads: int,
    max_chars: int,
    /,
) -> tuple[list[bytes | None], list[tuple[int, int]]]: ...
def seal_batch(
    key: bytes,
    items: Sequence[tuple[bytes, FieldSpec]],
    ad_for: Callable[[FieldSpec], bytes],
    threads: int,
    /,
) -> list[tuple[bytes, bytes]]: ...
def aead_loop(key: bytes, nonce: bytes, ciphertext: bytes, ad: bytes, count: int, /) -> int: ...
def open_message(key: bytes, sealed: bytes, ad: bytes, /) -> bytes | None: ...
