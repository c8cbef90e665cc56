"""Attachment streams (docs/protocol.md#attachments): 64 KiB chunks, constant memory, every tampering caught."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from mskclient._errors import DecryptionError
from mskclient.crypto import (
    CIPHER_CHUNK_SIZE,
    FileKey,
    StreamDecryptor,
    StreamEncryptor,
    _sodium,
    ciphertext_size,
    decrypt_file,
    encrypt_file,
    encrypted_chunks,
)

CHUNK = 65536
HEADER = 24
KEY = FileKey(bytes(range(32)))


class Source:
    """A readable stream of `size` random bytes that never holds them all; at most `burst` per read."""

    def __init__(self, size: int, burst: int | None = None) -> None:
        self.left, self.burst = size, burst
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        n = min(self.left, size if size >= 0 else self.left, self.burst or self.left)
        data = os.urandom(n)
        self.left -= n
        self.digest.update(data)
        return data


class HashSink:
    """A writable stream that keeps only a hash and a byte count."""

    def __init__(self) -> None:
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


class Trickle(io.BytesIO):
    """Returns at most 1000 bytes per read, like a slow socket."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(1000 if size is None or size < 0 else min(size, 1000))


def encrypt(plaintext: bytes, key: FileKey = KEY) -> bytes:
    sink = io.BytesIO()
    assert encrypt_file(key, io.BytesIO(plaintext), sink) == len(plaintext)
    return sink.getvalue()


def decrypt(ciphertext: bytes, key: FileKey = KEY) -> tuple[bytes, DecryptionError | None]:
    """(plaintext written before any error, the error or None)."""
    sink = io.BytesIO()
    try:
        decrypt_file(key, io.BytesIO(ciphertext), sink, attachment_id="cattach0001")
    except DecryptionError as error:
        return sink.getvalue(), error
    return sink.getvalue(), None


def chunks(ciphertext: bytes) -> list[bytes]:
    body = ciphertext[HEADER:]
    return [body[i : i + CIPHER_CHUNK_SIZE] for i in range(0, len(body), CIPHER_CHUNK_SIZE)]


def tags(ciphertext: bytes) -> list[int]:
    state = _sodium.crypto_secretstream_xchacha20poly1305_init_pull(ciphertext[:HEADER], KEY.raw)
    return [_sodium.crypto_secretstream_xchacha20poly1305_pull(state, c)[1] for c in chunks(ciphertext)]


MESSAGE, FINAL = _sodium.SECRETSTREAM_TAG_MESSAGE, _sodium.SECRETSTREAM_TAG_FINAL


def test_empty_file_is_a_header_and_one_empty_final_chunk() -> None:
    ciphertext = encrypt(b"")
    assert len(ciphertext) == HEADER + 17 == ciphertext_size(0)
    assert tags(ciphertext) == [FINAL]
    assert decrypt(ciphertext) == (b"", None)


@pytest.mark.parametrize("multiple", [1, 2, 3])
def test_exact_multiples_of_64_kib_end_with_an_empty_final_chunk(multiple: int) -> None:
    plaintext = os.urandom(multiple * CHUNK)
    ciphertext = encrypt(plaintext)
    assert len(ciphertext) == ciphertext_size(len(plaintext)) == HEADER + multiple * CIPHER_CHUNK_SIZE + 17
    assert tags(ciphertext) == [MESSAGE] * multiple + [FINAL]
    assert len(chunks(ciphertext)[-1]) == 17
    assert decrypt(ciphertext) == (plaintext, None)


@pytest.mark.parametrize("size", [1, 100, CHUNK - 1, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK + 1])
def test_other_sizes_end_with_a_short_final_chunk(size: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = encrypt(plaintext)
    assert len(ciphertext) == ciphertext_size(size)
    assert tags(ciphertext) == [MESSAGE] * (size // CHUNK) + [FINAL]
    assert decrypt(ciphertext) == (plaintext, None)


def test_short_reads_from_the_source_do_not_change_the_chunking() -> None:
    plaintext = os.urandom(2 * CHUNK + 5)
    sink = io.BytesIO()
    encrypt_file(KEY, Trickle(plaintext), sink)
    ciphertext = sink.getvalue()
    assert tags(ciphertext) == [MESSAGE, MESSAGE, FINAL]
    out = io.BytesIO()
    assert decrypt_file(KEY, Trickle(ciphertext), out) == len(plaintext)
    assert out.getvalue() == plaintext


def test_over_1_mib_in_constant_memory(tmp_path: Path) -> None:
    """8 MiB through both directions while Python never holds more than a few chunks."""
    size = 128 * CHUNK + 12345
    source, path = Source(size, burst=50_000), tmp_path / "big.enc"
    tracemalloc.start()
    try:
        with path.open("wb") as dst:
            assert encrypt_file(KEY, source, dst) == size  # type: ignore[arg-type]
        _, encrypt_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = HashSink()
        with path.open("rb") as src:
            assert decrypt_file(KEY, src, sink) == size  # type: ignore[arg-type]
        _, decrypt_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size == ciphertext_size(size)
    assert sink.digest.digest() == source.digest.digest()
    assert encrypt_peak < 1024 * 1024
    assert decrypt_peak < 1024 * 1024


def test_truncated_at_a_chunk_boundary_without_tag_final() -> None:
    plaintext = os.urandom(3 * CHUNK + 10)
    ciphertext = encrypt(plaintext)
    written, error = decrypt(ciphertext[: HEADER + 3 * CIPHER_CHUNK_SIZE])
    assert error is not None and "truncated" in str(error)
    assert written == plaintext[: 3 * CHUNK]  # only authenticated chunks were written


@pytest.mark.parametrize("cut", [1, 16, 17, 1000, CIPHER_CHUNK_SIZE - 1])
def test_truncated_inside_a_chunk(cut: int) -> None:
    ciphertext = encrypt(os.urandom(2 * CHUNK))
    _, error = decrypt(ciphertext[: HEADER + CIPHER_CHUNK_SIZE + cut])
    assert error is not None


@pytest.mark.parametrize("length", [0, 1, 23])
def test_shorter_than_the_header(length: int) -> None:
    _, error = decrypt(encrypt(b"abc")[:length])
    assert error is not None and "header" in str(error)


def test_header_alone_is_truncated() -> None:
    _, error = decrypt(encrypt(b"abc")[:HEADER])
    assert error is not None and "truncated" in str(error)


def test_reordered_chunks_are_refused_before_anything_is_written() -> None:
    plaintext = os.urandom(3 * CHUNK + 10)
    ciphertext = encrypt(plaintext)
    c = chunks(ciphertext)
    for order in ([1, 0, 2, 3], [0, 2, 1, 3], [0, 1, 3, 2], [3, 0, 1, 2]):
        reordered = ciphertext[:HEADER] + b"".join(c[i] for i in order)
        written, error = decrypt(reordered)
        assert error is not None and "does not authenticate" in str(error)
        first_bad = next(i for i, j in enumerate(order) if i != j)
        assert written == plaintext[: first_bad * CHUNK]


def test_a_chunk_from_another_stream_is_refused() -> None:
    a, b = encrypt(os.urandom(2 * CHUNK)), encrypt(os.urandom(2 * CHUNK))
    spliced = a[:HEADER] + chunks(a)[0] + chunks(b)[1] + chunks(a)[2]
    _, error = decrypt(spliced)
    assert error is not None


def test_every_altered_byte_is_detected() -> None:
    """One bit flipped in the header, and at the start, middle and end (MAC) of every chunk."""
    ciphertext = encrypt(os.urandom(2 * CHUNK + 10))
    positions = list(range(HEADER))
    for start in range(HEADER, len(ciphertext), CIPHER_CHUNK_SIZE):
        end = min(start + CIPHER_CHUNK_SIZE, len(ciphertext))
        positions += [*range(start, start + 17), (start + end) // 2, *range(end - 16, end)]
    for position in positions:
        for bit in (0x01, 0x80):
            altered = bytearray(ciphertext)
            altered[position] ^= bit
            _, error = decrypt(bytes(altered))
            assert error is not None, position


@pytest.mark.parametrize(
    "extra",
    [b"x", bytes(17), bytes(CIPHER_CHUNK_SIZE)],
    ids=["one byte", "an empty chunk's worth", "a full chunk's worth"],
)
def test_data_after_the_final_chunk_is_refused(extra: bytes) -> None:
    """The extra bytes join the short final chunk in one read, so that read fails to authenticate."""
    plaintext = os.urandom(CHUNK + 3)
    written, error = decrypt(encrypt(plaintext) + extra)
    assert error is not None
    assert written == plaintext[:CHUNK]


def test_a_replayed_final_chunk_is_refused() -> None:
    ciphertext = encrypt(b"hello")
    written, error = decrypt(ciphertext + chunks(ciphertext)[-1])
    assert error is not None
    assert written == b""


def test_the_decryptor_refuses_anything_after_tag_final() -> None:
    ciphertext = encrypt(b"hello")
    decryptor = StreamDecryptor(KEY, ciphertext[:HEADER], attachment_id="cattach0001")
    assert decryptor.pull(chunks(ciphertext)[0]) == b"hello"
    decryptor.close()
    with pytest.raises(DecryptionError, match="after the final chunk"):
        decryptor.pull(chunks(ciphertext)[0])


def test_the_decryptor_calls_a_stream_without_tag_final_truncated() -> None:
    ciphertext = encrypt(os.urandom(CHUNK))
    decryptor = StreamDecryptor(KEY, ciphertext[:HEADER], attachment_id="cattach0001")
    decryptor.pull(chunks(ciphertext)[0])
    with pytest.raises(DecryptionError, match="truncated"):
        decryptor.close()


def test_wrong_key() -> None:
    _, error = decrypt(encrypt(b"secret plans"), FileKey(bytes(32)))
    assert error is not None
    assert (error.entity, error.entity_id, error.field) == ("attachment", "cattach0001", "content")
    assert "secret plans" not in str(error)


def test_unexpected_tags_are_refused() -> None:
    state, header = _sodium.crypto_secretstream_xchacha20poly1305_init_push(KEY.raw)
    push_tag = 1  # crypto_secretstream_xchacha20poly1305_TAG_PUSH
    chunk = _sodium.crypto_secretstream_xchacha20poly1305_push(state, b"abc", push_tag)
    decryptor = StreamDecryptor(KEY, header)
    with pytest.raises(DecryptionError, match="unexpected stream tag"):
        decryptor.pull(chunk)


def test_encryptor_enforces_the_chunking() -> None:
    encryptor = StreamEncryptor(KEY)
    with pytest.raises(ValueError, match="only the final chunk"):
        encryptor.push(b"short", final=False)
    with pytest.raises(ValueError, match="only the final chunk"):
        encryptor.push(bytes(CHUNK + 1), final=True)
    encryptor.push(bytes(CHUNK), final=False)
    encryptor.push(b"", final=True)
    with pytest.raises(ValueError, match="already finished"):
        encryptor.push(b"", final=True)


def test_each_stream_has_a_fresh_header() -> None:
    assert encrypt(b"same")[:HEADER] != encrypt(b"same")[:HEADER]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK, 2 * CHUNK + 5])
def test_encrypted_chunks_take_the_source_one_chunk_at_a_time(size: int) -> None:
    """Header, then one piece per 64 KiB read, each read only when its piece is taken; a whole
    number of chunks ends with an empty final chunk; `size` counts the plaintext."""
    source = Source(size, burst=1000)
    enc = StreamEncryptor(KEY)
    pieces = encrypted_chunks(enc, source)  # type: ignore[arg-type]
    assert next(pieces) == enc.header and source.left == size
    rest = list(pieces)
    assert [len(p) for p in rest] == [CIPHER_CHUNK_SIZE] * (size // CHUNK) + [size % CHUNK + CIPHER_CHUNK_SIZE - CHUNK]
    assert enc.size == size and len(enc.header) + sum(map(len, rest)) == ciphertext_size(size)
    out = HashSink()
    assert decrypt_file(KEY, io.BytesIO(enc.header + b"".join(rest)), out) == size  # type: ignore[arg-type]
    assert out.digest.digest() == source.digest.digest()
