"""Attachment content (docs/protocol.md#attachments): secretstream in 64 KiB chunks, constant memory.

`StreamEncryptor` and `StreamDecryptor` are sans-I/O (bytes in, bytes out);
`encrypted_chunks`, `encrypt_file` and `decrypt_file` drive them over file-like
objects the caller opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from .._errors import DecryptionError
from .._profile import ATTACHMENT_CHUNK_SIZE
from . import _sodium
from ._keys import FileKey

__all__ = [
    "CIPHER_CHUNK_SIZE",
    "StreamDecryptor",
    "StreamEncryptor",
    "ciphertext_size",
    "decrypt_file",
    "encrypt_file",
    "encrypted_chunks",
]

CIPHER_CHUNK_SIZE = ATTACHMENT_CHUNK_SIZE + _sodium.SECRETSTREAM_ABYTES


def ciphertext_size(plaintext_size: int) -> int:
    """Bytes of ciphertext for a plaintext of this size (header + full chunks + final chunk)."""
    chunks = plaintext_size // ATTACHMENT_CHUNK_SIZE + 1
    return _sodium.SECRETSTREAM_HEADERBYTES + plaintext_size + chunks * _sodium.SECRETSTREAM_ABYTES


class StreamEncryptor:
    """Push plaintext chunks of exactly 64 KiB, then one final shorter (possibly empty) chunk."""

    def __init__(self, key: FileKey) -> None:
        self._state, self.header = _sodium.crypto_secretstream_xchacha20poly1305_init_push(key.raw)
        self._finished = False
        #: Plaintext bytes pushed so far.
        self.size = 0

    def push(self, chunk: bytes, *, final: bool) -> bytes:
        if self._finished:
            raise ValueError("stream already finished")
        if len(chunk) > ATTACHMENT_CHUNK_SIZE or (not final and len(chunk) != ATTACHMENT_CHUNK_SIZE):
            raise ValueError("only the final chunk may be shorter than 64 KiB")
        self._finished = final
        self.size += len(chunk)
        tag = _sodium.SECRETSTREAM_TAG_FINAL if final else _sodium.SECRETSTREAM_TAG_MESSAGE
        return _sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, tag)


class StreamDecryptor:
    """Pull ciphertext chunks; errors on tampering, reordering, data after the end, truncation."""

    def __init__(self, key: FileKey, header: bytes, *, attachment_id: str | None = None) -> None:
        self._where = attachment_id
        if len(header) != _sodium.SECRETSTREAM_HEADERBYTES:
            raise self._error("content is shorter than the stream header")
        self._state = _sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key.raw)
        self.finished = False

    def _error(self, reason: str) -> DecryptionError:
        return DecryptionError(reason, entity="attachment", entity_id=self._where, field="content")

    def pull(self, chunk: bytes) -> bytes:
        if self.finished:
            raise self._error("data after the final chunk")
        try:
            message, tag = _sodium.crypto_secretstream_xchacha20poly1305_pull(self._state, chunk)
        except (_sodium.SodiumFailure, ValueError):
            raise self._error("chunk does not authenticate (tampered, reordered or wrong key)") from None
        if tag == _sodium.SECRETSTREAM_TAG_FINAL:
            self.finished = True
        elif tag != _sodium.SECRETSTREAM_TAG_MESSAGE:
            raise self._error("unexpected stream tag")
        return message

    def close(self) -> None:
        """Call at end of input: a stream without its final chunk was truncated."""
        if not self.finished:
            raise self._error("truncated (no final chunk)")


def _read_exactly(src: BinaryIO, size: int) -> bytes:
    parts, need = [], size
    while need:
        block = src.read(need)
        if not block:
            break
        parts.append(block)
        need -= len(block)
    return b"".join(parts)


def encrypted_chunks(enc: StreamEncryptor, src: BinaryIO) -> Iterator[bytes]:
    """The ciphertext of src through a fresh `enc`: its header, then one chunk per 64 KiB read.

    Constant memory: src is read 64 KiB at a time as the chunks are taken.  A plaintext that is
    a whole number of chunks (the empty one included) ends with an empty final chunk.
    `enc.size` is the plaintext size once the last chunk is taken.
    """
    yield enc.header
    while True:
        chunk = _read_exactly(src, ATTACHMENT_CHUNK_SIZE)
        final = len(chunk) < ATTACHMENT_CHUNK_SIZE
        yield enc.push(chunk, final=final)
        if final:
            return


def encrypt_file(key: FileKey, src: BinaryIO, dst: BinaryIO) -> int:
    """Encrypt src into dst; returns the plaintext size."""
    enc = StreamEncryptor(key)
    for piece in encrypted_chunks(enc, src):
        dst.write(piece)
    return enc.size


def decrypt_file(key: FileKey, src: BinaryIO, dst: BinaryIO, *, attachment_id: str | None = None) -> int:
    """Decrypt src into dst; returns the plaintext size. Writes only authenticated chunks."""
    dec = StreamDecryptor(key, _read_exactly(src, _sodium.SECRETSTREAM_HEADERBYTES), attachment_id=attachment_id)
    size = 0
    while chunk := _read_exactly(src, CIPHER_CHUNK_SIZE):
        message = dec.pull(chunk)
        dst.write(message)
        size += len(message)
    dec.close()
    return size
