"""Make a backup, or save the bare `/me/export`, with only a session: no password, no keys.

Everything streams: the export document and each attachment go from the socket through
SHA-256 into the archive (a temporary file beside the target), so memory does not grow with
their sizes, and the target appears only once the archive is complete.

All of it runs on the calling thread, each chunk as it is handed over: hashing, the ZIP's
CRC-32 and parsing the document keep up with the server (the kernel buffers what it sends
meanwhile), where workers only added hand-offs, and a parser holding the GIL on a worker
made the thread receiving the bytes wait for it after every socket read.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .._errors import ProtocolError, UsageError
from .._profile import is_valid_id
from ..client import Client, Request, Response
from ..crypto import ciphertext_size
from ..export import ExportParser, atomic_open
from ._document import DocumentReader, Inventory
from ._format import (
    CHUNK,
    EXPORT_MEMBER,
    FORMAT_VERSION,
    MANIFEST_MEMBER,
    Backup,
    Manifest,
    ManifestMember,
    attachment_member,
    open_backup,
)

__all__ = ["BackupSummary", "Progress", "create_backup", "save_account_export"]

#: Told what is being done, how far it is and (when known) how far it goes.
Progress = Callable[[str, int, int | None], None]


def _quiet(what: str, done: int, total: int | None) -> None:
    """The default Progress: nobody is watching."""


def _stream(client: Client, route: str, sink: Callable[[bytes], None]) -> None:
    """GET `route`, the 2xx body handed to `sink` chunk by chunk (pacing, retries and errors
    are the client's)."""

    def flow() -> Generator[Request, Response, None]:
        yield Request("GET", route, sink=sink)

    client.run(flow())


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def save_account_export(client: Client, out: Path, on_progress: Progress = _quiet) -> int:
    """The server's `/me/export` (ciphertext) streamed into `out` atomically; returns its size."""
    written = 0
    with atomic_open(out) as handle:

        def sink(chunk: bytes) -> None:
            nonlocal written
            handle.write(chunk)
            written += len(chunk)
            on_progress("downloading /me/export", written, None)

        _stream(client, "/me/export", sink)
    return written


@dataclass(frozen=True, slots=True)
class BackupSummary:
    manifest: Manifest
    #: Attachments downloaded from the server (the others were copied from the earlier backup).
    downloaded: int
    #: Bytes in the backup's members.
    size: int


class _Writer:
    """Members into the archive, each hashed as it is written."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self._when = datetime.now(UTC).timetuple()[:6]
        self.members: list[ManifestMember] = []
        #: Bytes written into members so far, and who is told after each chunk.
        self.written = 0
        self.on_write: Callable[[int], None] = lambda _: None

    def member(self, name: str, fill: Callable[[Callable[[bytes], None]], None]) -> ManifestMember:
        """Add `name`, its bytes given by `fill(write)`; the member's size and SHA-256."""
        info = zipfile.ZipInfo(name, date_time=self._when)
        info.compress_type = zipfile.ZIP_STORED
        digest = hashlib.sha256()
        size = 0
        with self._archive.open(info, "w", force_zip64=True) as target:

            def write(chunk: bytes) -> None:
                nonlocal size
                target.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                self.written += len(chunk)
                self.on_write(self.written)

            fill(write)
        entry = ManifestMember(name, size, digest.hexdigest())
        self.members.append(entry)
        return entry


def _resolve_selection(workspaces: Sequence[str]) -> frozenset[str] | None:
    for ws in workspaces:
        if not is_valid_id(ws):
            raise UsageError(f"not a workspace id: {ws!r}")
    return frozenset(workspaces) if workspaces else None


def create_backup(
    client: Client,
    out: Path,
    *,
    workspaces: Sequence[str] = (),
    previous: Path | None = None,
    on_progress: Progress = _quiet,
) -> BackupSummary:
    """Write a backup of the account (or of the `workspaces`, by id) to `out`, atomically.

    With `previous` (an earlier backup of the same account), attachments it holds are copied
    from it, their SHA-256 checked against its manifest as they are copied, instead of
    downloaded: an attachment's content never changes for a given id.
    """
    chosen = _resolve_selection(workspaces)
    earlier = open_backup(previous) if previous is not None else None
    try:
        with atomic_open(out) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            writer = _Writer(archive)
            inventory = _write_export(client, writer, chosen, on_progress)
            if chosen is not None and (missing := sorted(chosen - set(inventory.workspace_ids))):
                raise UsageError(f"workspace {missing[0]} is not in this account's export")
            if earlier is not None and earlier.manifest.account_id != inventory.account_id:
                raise UsageError(f"{previous} is a backup of another account ({earlier.manifest.account_email})")
            downloaded = _write_attachments(client, writer, inventory, earlier, on_progress)
            manifest = Manifest(
                version=FORMAT_VERSION,
                created_at=_stamp(),
                server=client.server,
                account_id=inventory.account_id,
                account_email=inventory.account_email,
                workspaces=None if chosen is None else tuple(sorted(chosen)),
                counts=inventory.counts(),
                members=tuple(writer.members),
                reused=len(inventory.attachments) - downloaded,
            )
            text = _manifest_text(manifest)
            writer.member(MANIFEST_MEMBER, lambda write: write(text))
    finally:
        if earlier is not None:
            earlier.close()
    return BackupSummary(manifest, downloaded, sum(m.size for m in manifest.members))


def _manifest_text(manifest: Manifest) -> bytes:
    return (json.dumps(manifest.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _write_export(client: Client, writer: _Writer, chosen: frozenset[str] | None, on_progress: Progress) -> Inventory:
    """`/me/export` into its member (filtered when `chosen`), taking stock as it streams.

    The whole document goes in as it arrives, each chunk parsed once written; a filtered one
    is parsed, and re-written from what is kept, as it arrives."""
    reader: DocumentReader | None = None

    def fill(write: Callable[[bytes], None]) -> None:
        nonlocal reader
        reader = DocumentReader(chosen, write if chosen is not None else None)
        parser = ExportParser(reader)
        received = 0

        def parse(step: Callable[[], None]) -> None:
            try:
                step()
            except ProtocolError as exc:
                raise ProtocolError(f"the server's /me/export is not a complete export document: {exc}") from None

        def sink(chunk: bytes) -> None:
            nonlocal received
            if chosen is None:
                write(chunk)
            parse(lambda: parser.feed(chunk))
            received += len(chunk)
            on_progress("downloading /me/export", received, None)

        _stream(client, "/me/export", sink)
        parse(parser.close)
        reader.finish()

    writer.member(EXPORT_MEMBER, fill)
    assert reader is not None
    return reader.inventory


def _write_attachments(
    client: Client, writer: _Writer, inventory: Inventory, earlier: Backup | None, on_progress: Progress
) -> int:
    """Every attachment's ciphertext into its member; returns how many were downloaded."""
    downloaded = 0
    total = sum(ciphertext_size(size) for size in inventory.attachments.values())
    start = writer.written
    writer.on_write = lambda written: on_progress(f"{len(inventory.attachments)} attachments", written - start, total)
    for attachment_id, plain_size in inventory.attachments.items():
        expected = ciphertext_size(plain_size)
        name = attachment_member(attachment_id)
        old = earlier.manifest.member(name) if earlier is not None else None
        if earlier is not None and old is not None and old.size == expected:
            writer.member(name, _copy(earlier, old))
            continue
        entry = writer.member(name, _download(client, attachment_id))
        downloaded += 1
        if entry.size != expected:
            raise ProtocolError(
                f"attachment {attachment_id}: the server sent {entry.size} bytes of content; "
                f"its metadata ({plain_size} bytes) needs {expected}"
            )
    writer.on_write = lambda _: None
    return downloaded


def _download(client: Client, attachment_id: str) -> Callable[[Callable[[bytes], None]], None]:
    """Fills a member with an attachment's ciphertext, streamed from the server."""

    def fill(write: Callable[[bytes], None]) -> None:
        _stream(client, f"/attachments/{attachment_id}/content", write)

    return fill


def _copy(earlier: Backup, member: ManifestMember) -> Callable[[Callable[[bytes], None]], None]:
    """Fills a member with a copy of the earlier backup's, checked against that backup's manifest."""

    def fill(write: Callable[[bytes], None]) -> None:
        digest = hashlib.sha256()
        try:
            with earlier.open_member(member.name) as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    write(chunk)
            intact = digest.hexdigest() == member.sha256
        except zipfile.BadZipFile:  # its CRC-32 does not match
            intact = False
        if not intact:
            raise ProtocolError(
                f"{earlier.path}: member {member.name} does not match its SHA-256 in that backup's manifest, "
                "so it is not reused; verify that backup, or make a full one (without --incremental)"
            )

    return fill
