"""Field encryption at the JSON seam: plaintext in, wire text out, and back.

Thin helpers over the crypto core that pick the field-table row (key role
and associated data) by entity and field name, so no call site spells an AD.
"""

from __future__ import annotations

from typing import BinaryIO

from .._errors import UsageError
from .._json import Obj
from .._models import Undecryptable
from .._profile import field
from ..crypto import (
    CIPHER_CHUNK_SIZE,
    BoardKey,
    FileKey,
    StreamDecryptor,
    StreamEncryptor,
    SymmetricKey,
    Where,
    decrypt_field,
    encrypted_chunks,
    seal_field,
)
from ..crypto.hazmat import SECRETSTREAM_HEADERBYTES

__all__ = ["DecryptingSink", "EncryptingReader", "open_text", "open_bytes", "seal_bytes", "seal_text"]


def seal_bytes(key: SymmetricKey, entity: str, name: str, plaintext: bytes) -> str:
    return seal_field(key, plaintext, field(entity, name))


def seal_text(key: SymmetricKey, entity: str, name: str, plaintext: str) -> str:
    """Encrypt a text field; never a lenient read's placeholder, which would replace the real text."""
    if isinstance(plaintext, Undecryptable):
        raise UsageError(f"cannot save {entity} field {name}: its value did not decrypt ({plaintext.error})")
    return seal_bytes(key, entity, name, plaintext.encode("utf-8"))


def open_bytes(key: SymmetricKey, obj: Obj, name: str, entity_id: str | None) -> bytes:
    """Decrypt `obj[name]` (DecryptionError naming entity, id and field on failure)."""
    return decrypt_field(key, obj.raw(name), field(obj.entity, name), entity_id=entity_id)


def open_text(key: BoardKey | SymmetricKey, obj: Obj, name: str, entity_id: str | None) -> str:
    raw = open_bytes(key, obj, name, entity_id)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Where(obj.entity, name, entity_id).decryption_error("plaintext is not UTF-8") from None


class EncryptingReader:
    """A read-only binary file object that yields the secretstream ciphertext of `src`.

    httpx reads it in chunks while streaming the multipart upload, so a large
    attachment is encrypted with constant memory and never touches disk.
    """

    def __init__(self, key: FileKey, src: BinaryIO) -> None:
        self._enc = StreamEncryptor(key)
        self._chunks = encrypted_chunks(self._enc, src)
        self._pending = bytearray()
        self._done = False

    @property
    def size(self) -> int:
        """Plaintext bytes encrypted so far: all of src once `read` has returned b""."""
        return self._enc.size

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._pending) < size):
            piece = next(self._chunks, None)
            if piece is None:
                self._done = True
            else:
                self._pending += piece
        if size < 0 or size >= len(self._pending):
            out = bytes(self._pending)
            self._pending.clear()
        else:
            out = bytes(self._pending[:size])
            del self._pending[:size]
        return out


class DecryptingSink:
    """Feeds received ciphertext to a secretstream decryptor in whole chunks.

    The last chunk is held until `finish` shows it was the last, so a truncated
    stream raises DecryptionError instead of passing for a whole one.
    """

    def __init__(self, key: FileKey, dst: BinaryIO, attachment_id: str) -> None:
        self._key, self._dst, self._id = key, dst, attachment_id
        self._buffer = bytearray()
        self._dec: StreamDecryptor | None = None
        self.written = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if self._dec is None:
            if len(self._buffer) < SECRETSTREAM_HEADERBYTES:
                return
            header = bytes(self._buffer[:SECRETSTREAM_HEADERBYTES])
            self._dec = StreamDecryptor(self._key, header, attachment_id=self._id)
            del self._buffer[:SECRETSTREAM_HEADERBYTES]
        # keep the last (possibly final) chunk until more data shows it was not the last
        while len(self._buffer) > CIPHER_CHUNK_SIZE:
            self._pull(bytes(self._buffer[:CIPHER_CHUNK_SIZE]))
            del self._buffer[:CIPHER_CHUNK_SIZE]

    def _pull(self, chunk: bytes) -> None:
        assert self._dec is not None
        message = self._dec.pull(chunk)
        self._dst.write(message)
        self.written += len(message)

    def finish(self) -> int:
        where = Where("attachment", "content", self._id)
        if self._dec is None:
            raise where.decryption_error("truncated (no secretstream header)")
        if self._buffer:
            self._pull(bytes(self._buffer))
            self._buffer.clear()
        self._dec.close()
        return self.written
