"""Check a backup: every member against the manifest, the document's shape, and, given the
password, every envelope and every attachment stream.

Each member is read once: its bytes go through SHA-256 and, at the same time, the export's
parser (shape and stock) and checker (`ExportChecker`: every key and envelope opened, every
check of the export's decryptor made, but no card built, which only the export needs), or the
attachment's secretstream.  The document is read on the calling thread; then the attachment
members, two at a time on worker threads, each with the file key the document gives it.
Every problem is collected and named (member, or entity, id and field); nothing stops at the
first.

The streams wait for the document rather than start as soon as their keys open: the
document's parsing and checking hold the GIL nearly throughout, so a stream worker, which
needs it back after every chunk it decrypts, hashes or reads, only ran when the document
thread let go of it, and competed with it for the cores meanwhile (2,000 cards and 20 x 1 MB
on 2 shared cores: verify / limits 1.60 -> 1.44, medians of 31 paired runs).  Once the
document is done, the streams run with the GIL released for nearly all their work, side by
side.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from .._errors import CryptoError, DecryptionError, ProtocolError, UsageError
from ..crypto import AccountKeys, b64u_encode, ciphertext_size, decrypt_file
from ..export import (
    CheckedBoard,
    ExportAttachment,
    ExportCheck,
    ExportChecker,
    ExportParser,
    ExportSink,
    Level,
    keys_from_password,
)
from ._create import Progress, _quiet
from ._document import DocumentReader, Inventory
from ._format import (
    CHUNK,
    EXPORT_MEMBER,
    MANIFEST_MEMBER,
    Manifest,
    ManifestDamaged,
    ManifestMember,
    attachment_member,
    member_attachment_id,
    open_archive,
    read_manifest,
)

__all__ = ["BoardReport", "Problem", "VerifyReport", "verify_backup"]

#: Attachment members checked at once (each holds a megabyte or two while it is read).
_STREAM_WORKERS = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, and where: a member, or an entity with its id and field."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    def to_json(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class BoardReport:
    """A board's counts (its title only when decrypted)."""

    board_id: str
    title: str | None
    cards: int
    attachments: int

    def to_json(self) -> dict[str, object]:
        return {"id": self.board_id, "title": self.title, "cards": self.cards, "attachments": self.attachments}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    path: Path
    manifest: Manifest | None
    problems: tuple[Problem, ...]
    #: True when the password was given and every envelope and stream was opened.
    decrypted: bool
    boards: tuple[BoardReport, ...]
    #: Bytes read from the archive's members.
    size: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        manifest = self.manifest
        return {
            "file": str(self.path),
            "ok": self.ok,
            "decrypted": self.decrypted,
            "version": manifest.version if manifest else None,
            "createdAt": manifest.created_at if manifest else None,
            "account": manifest.account_email if manifest else None,
            "counts": dict(manifest.counts) if manifest else None,
            "bytes": self.size,
            "boards": [b.to_json() for b in self.boards],
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class _Checked:
    """An attachment member's check: its problems, and the bytes read."""

    problems: list[Problem]
    size: int


class _Tee:
    """A member stream that hashes what is read and hands each chunk on; a CRC failure is kept.

    The member is read a megabyte at a time whatever the reader asks for (a secretstream
    asks for 64 KiB chunks), so the archive and SHA-256 see few, large calls."""

    def __init__(self, source: IO[bytes], on_chunk: Callable[[bytes], None] | None = None) -> None:
        self._source = source
        self._on_chunk = on_chunk
        self._pending = b""
        self._pos = 0
        self.digest = hashlib.sha256()
        self.size = 0
        self.crc_failed = False

    def _fill(self) -> bool:
        """Read the next block of the member; False at its end."""
        try:
            chunk = self._source.read(CHUNK)
        except zipfile.BadZipFile:  # the last read of a member whose CRC-32 does not match
            self.crc_failed = True
            return False
        if not chunk:
            return False
        self.digest.update(chunk)
        self.size += len(chunk)
        if self._on_chunk is not None:
            self._on_chunk(chunk)
        self._pending, self._pos = chunk, 0
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (fewer only at the member's end).  Only the bytes returned are
        copied (none when a whole block is asked for): the blocks are never joined."""
        wanted = size if size >= 0 else 1 << 62
        parts: list[bytes] = []
        while wanted:
            if self._pos == len(self._pending) and not self._fill():
                break
            part = self._pending[self._pos : self._pos + wanted]
            self._pos += len(part)
            wanted -= len(part)
            parts.append(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    def check(self, expected: ManifestMember, problems: list[Problem]) -> bool:
        """Compare what was read with the manifest; record (and return False on) a mismatch."""
        self.drain()
        where = f"member {expected.name}"
        if self.crc_failed:
            problems.append(Problem(where, "its bytes do not match the archive's CRC-32 (corrupted)"))
        elif self.size != expected.size:
            problems.append(Problem(where, f"holds {self.size} bytes, the manifest says {expected.size}"))
        elif self.digest.hexdigest() != expected.sha256:
            problems.append(Problem(where, "its SHA-256 does not match the manifest (corrupted or altered)"))
        else:
            return True
        return False


def verify_backup(
    path: Path,
    password: Callable[[], str] | None = None,
    *,
    keys: AccountKeys | None = None,
    on_progress: Progress = _quiet,
) -> VerifyReport:
    """Verify a backup; with `password` (or the account's unlocked `keys`), also open every
    envelope and every attachment stream.

    Raises ProtocolError only for a file that is not a backup (not a ZIP, truncated, no
    manifest, another format or a newer version), DecryptionError for a wrong password (the
    user key does not open while the document itself is intact) and UsageError for keys of
    another account.  `on_progress` is also called from worker threads, one call at a time.
    """
    archive = open_archive(path)
    with archive:
        try:
            manifest = read_manifest(path, archive)
        except ManifestDamaged as exc:
            return VerifyReport(path, None, (Problem(f"member {MANIFEST_MEMBER}", str(exc)),), False, (), 0)
        return _Verifier(path, archive, manifest, password, keys, on_progress).run()


class _Verifier:
    def __init__(
        self,
        path: Path,
        archive: zipfile.ZipFile,
        manifest: Manifest,
        password: Callable[[], str] | None,
        keys: AccountKeys | None,
        on_progress: Progress,
    ) -> None:
        self.path, self.archive, self.manifest = path, archive, manifest
        self.password, self.keys = password, keys
        self.on_progress = on_progress
        self.problems: list[Problem] = []
        #: Bytes read so far (progress), and bytes of the members checked (the report's size).
        self.read = 0
        self.size = 0
        self.total = sum(m.size for m in manifest.members)
        #: The document is read, hashed, parsed and checked on this thread, block by block; then
        #: each attachment member is read, hashed and (with its file key) decrypted on a worker.
        self.streams = ThreadPoolExecutor(_STREAM_WORKERS, thread_name_prefix="msk-verify-stream")
        #: Taken to open or close a member (zipfile counts its users of the file unlocked) and to count progress.
        self.lock = threading.Lock()

    def run(self) -> VerifyReport:
        try:
            present = self._structure()
            inventory, result = self._export(present)
            self._attachments(present, inventory, result)
        finally:
            self.streams.shutdown(wait=True, cancel_futures=True)
        if result is not None:
            boards = tuple(_board_report(b) for b in result.boards)
        elif inventory is not None:
            boards = tuple(BoardReport(b, None, c, a) for b, (c, a) in inventory.per_board.items())
        else:
            boards = ()
        decrypted = result is not None and not self.problems
        return VerifyReport(self.path, self.manifest, tuple(self.problems), decrypted, boards, self.size)

    def _structure(self) -> set[str]:
        """Members listed and present; the missing, unlisted and repeated ones are problems."""
        names = self.archive.namelist()
        listed = {m.name for m in self.manifest.members}
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.problems.append(Problem(f"member {name}", "appears twice in the archive"))
        for name in sorted(set(names) - listed - {MANIFEST_MEMBER}):
            self.problems.append(Problem(f"member {name}", "is not listed in the manifest"))
        for name in sorted(listed - set(names)):
            self.problems.append(Problem(f"member {name}", "listed in the manifest but missing from the archive"))
        for member in self.manifest.members:
            if member.name != EXPORT_MEMBER and member_attachment_id(member.name) is None:
                self.problems.append(Problem(f"member {member.name}", "is not a member of this backup format"))
        if EXPORT_MEMBER not in listed:
            self.problems.append(Problem(f"member {EXPORT_MEMBER}", "not listed in the manifest"))
        return listed & set(names)

    def _progress(self, chunk: bytes) -> None:
        with self.lock:  # told by this thread and the stream workers
            self.read += len(chunk)
            self.on_progress("verifying", self.read, self.total)

    @contextlib.contextmanager
    def _member(self, name: str) -> Iterator[IO[bytes]]:
        """Member `name` opened for reading; several may be open at once, on any thread."""
        with self.lock:
            source = self.archive.open(name)
        try:
            yield source
        finally:
            with self.lock:
                source.close()

    def _keys(self) -> tuple[AccountKeys | None, DecryptionError | None]:
        """The account keys: given, or from the password and the document's own KDF parameters
        and wrapped keys (read from its first bytes).  A user key that does not open is returned
        as the error: a wrong password, or a damaged document, which the hashes will tell."""
        if self.keys is not None or self.password is None:
            return self.keys, None
        head = _Head()
        parser = ExportParser(head)
        try:
            with self._member(EXPORT_MEMBER) as source:
                while not head.complete() and (chunk := source.read(CHUNK)):
                    parser.feed(chunk)
        except (ProtocolError, zipfile.BadZipFile):
            return None, None  # not a readable document: the full read names the member
        if not head.complete():
            return None, None
        try:
            return keys_from_password(head.fields, self.password()), None
        except DecryptionError as exc:
            return None, exc
        except CryptoError as exc:  # KDF parameters refused
            self.problems.append(Problem("export field kdf", str(exc)))
            return None, None

    def _export(self, present: set[str]) -> tuple[Inventory | None, ExportCheck | None]:
        """Hash, parse and (with the keys) open every envelope of the export document in one read."""
        expected = self.manifest.member(EXPORT_MEMBER)
        if expected is None or EXPORT_MEMBER not in present:
            return None, None
        keys, wrong_password = self._keys()
        reader = DocumentReader()
        checker = ExportChecker(keys) if keys is not None else None
        parser = ExportParser(reader if checker is None else _Both(reader, checker))
        shape: list[ProtocolError] = []

        def parse(chunk: bytes) -> None:
            self._progress(chunk)
            if not shape:
                try:
                    parser.feed(chunk)
                except ProtocolError as exc:
                    shape.append(exc)

        with self._member(EXPORT_MEMBER) as source:
            tee = _Tee(source, parse)
            intact = tee.check(expected, self.problems)
        self.size += tee.size
        result: ExportCheck | None = None
        if not shape:
            try:
                parser.close()
                reader.finish()
                result = checker.result() if checker is not None else None
            except ProtocolError as exc:
                shape.append(exc)
        if wrong_password is not None:
            if intact:
                raise wrong_password
            self.problems.append(Problem("user field encSymmetricKey", "does not open (the document is damaged)"))
        if shape:
            self.problems.append(Problem(f"member {EXPORT_MEMBER}", f"is not an export document: {shape[0]}"))
            return None, None
        inventory = reader.inventory
        if keys is not None and inventory.public_key != b64u_encode(keys.keypair.public):
            raise UsageError(f"the keys given are not those of {inventory.account_email}, whose backup this is")
        self._counts(inventory)
        if result is not None:
            self.problems += [
                Problem(f"{f.entity} {f.entity_id} field {f.field}", f"{f.reason} (board {f.board_id or '-'})")
                for f in result.failures
            ]
        return inventory, result

    def _counts(self, inventory: Inventory) -> None:
        if inventory.account_id != self.manifest.account_id:
            self.problems.append(
                Problem(MANIFEST_MEMBER, f"names account {self.manifest.account_id}, the export {inventory.account_id}")
            )
        for key, value in inventory.counts().items():
            if self.manifest.counts.get(key) != value:
                self.problems.append(
                    Problem(MANIFEST_MEMBER, f"counts {self.manifest.counts.get(key)} {key}, the export holds {value}")
                )

    def _attachments(self, present: set[str], inventory: Inventory | None, result: ExportCheck | None) -> None:
        """Hash every attachment member and (with keys) decrypt its stream to the final tag."""
        known = inventory.attachments if inventory is not None else {}
        opened = _attachments_of(result) if result is not None else {}
        in_backup = set(self.manifest.attachment_ids())
        if inventory is not None:
            for missing in known:
                if missing not in in_backup:
                    self.problems.append(Problem(f"attachment {missing}", "its content is not in the backup"))
            for stray in sorted(in_backup - set(known)):
                self.problems.append(
                    Problem(f"member {attachment_member(stray)}", "no attachment of the export has this id")
                )
        checks: list[tuple[ManifestMember, Future[_Checked]]] = []
        for member in self.manifest.members:
            attachment_id = member_attachment_id(member.name)
            if attachment_id is None or member.name not in present:
                continue
            # the document's last attachment of an id is the one checked, as the export uses it
            checks.append((member, self.streams.submit(self._check_member, member, opened.get(attachment_id))))
        for member, check in checks:
            plain_size = known.get(member_attachment_id(member.name) or "")
            if plain_size is not None and member.size != ciphertext_size(plain_size):
                self.problems.append(
                    Problem(
                        f"member {member.name}",
                        f"holds {member.size} bytes; attachment {member_attachment_id(member.name)} of "
                        f"{plain_size} bytes needs {ciphertext_size(plain_size)}",
                    )
                )
            checked = check.result()
            self.problems += checked.problems
            self.size += checked.size

    def _check_member(self, member: ManifestMember, attachment: ExportAttachment | None) -> _Checked:
        """An attachment member read once (on a stream worker): its hash and, with the file key, its stream."""
        problems: list[Problem] = []
        with self._member(member.name) as source:
            tee = _Tee(source, self._progress)
            if attachment is not None and attachment.file_key is not None:
                problems += self._open_stream(attachment, tee)
            tee.check(member, problems)
        return _Checked(problems, tee.size)

    @staticmethod
    def _open_stream(attachment: ExportAttachment, tee: _Tee) -> list[Problem]:
        assert attachment.file_key is not None
        where = f"attachment {attachment.id} field content"
        try:
            size = decrypt_file(attachment.file_key, cast(BinaryIO, tee), _DISCARD, attachment_id=attachment.id)
        except CryptoError as exc:
            # a CRC failure is reported, as the member's, by `check`
            return [] if tee.crc_failed else [Problem(where, _reason(exc))]
        if size != attachment.size:
            return [Problem(where, f"{size} bytes, its metadata says {attachment.size}")]
        return []


class _Discard:
    """Where an attachment's plaintext goes: it only has to authenticate.  No system call per
    chunk (as /dev/null costs), so a stream worker takes the GIL only around its decryption."""

    def write(self, data: bytes) -> int:
        return len(data)


_DISCARD = cast(BinaryIO, _Discard())


class _Head:
    """An ExportSink keeping the document's `kdf` and `user` (which the server sends first)."""

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}

    def complete(self) -> bool:
        return len(self.fields) == 2

    def begin(self, level: Level) -> None:
        """Workspaces and boards are not needed."""

    def field(self, level: Level, key: str, value: object) -> None:
        if level == "export" and key in ("kdf", "user"):
            self.fields[key] = value

    def card(self, card: object) -> None:
        """Cards are not needed."""

    def end(self, level: Level) -> None:
        """Workspaces and boards are not needed."""


class _Both:
    """An ExportSink handing every part to two sinks."""

    def __init__(self, first: ExportSink, second: ExportSink) -> None:
        self._sinks = (first, second)

    def begin(self, level: Level) -> None:
        for sink in self._sinks:
            sink.begin(level)

    def field(self, level: Level, key: str, value: object) -> None:
        for sink in self._sinks:
            sink.field(level, key, value)

    def card(self, card: object) -> None:
        for sink in self._sinks:
            sink.card(card)

    def end(self, level: Level) -> None:
        for sink in self._sinks:
            sink.end(level)


def _reason(exc: CryptoError) -> str:
    """The failure without the "entity id field" prefix (the problem already names them)."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else str(exc)


def _attachments_of(result: ExportCheck) -> dict[str, ExportAttachment]:
    return {a.id: a for board in result.boards for a in board.attachments}


def _board_report(board: CheckedBoard) -> BoardReport:
    return BoardReport(board.id, board.title, board.cards, len(board.attachments))
