"""The backup file: a ZIP archive (members stored, never compressed) of ciphertext and a manifest.

Members (format version 1):

* `export.json`: the account's `GET /me/export` document (ciphertext and metadata), byte for
  byte as the server sent it, or re-serialized with only the chosen workspaces;
* `attachments/<id>`: the secretstream ciphertext of each attachment, as the server stores it;
* `manifest.json` (written last): format and version, server, time, account, counts, and the
  size and SHA-256 of every other member.

`open_backup` reads one (the public reader that a restore builds on): it refuses a file that
is not a ZIP, has no manifest or is of another format or a newer version, with one clear line.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Self, cast

from .._errors import ProtocolError, UsageError
from .._profile import is_valid_id
from ..export import ExportResult, Fetch, ciphertext_fetch, decrypt_export_file

__all__ = [
    "ATTACHMENT_PREFIX",
    "EXPORT_MEMBER",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_MEMBER",
    "Backup",
    "ManifestMember",
    "Manifest",
    "ManifestDamaged",
    "attachment_member",
    "member_attachment_id",
    "open_archive",
    "open_backup",
    "read_manifest",
]

FORMAT_NAME = "mskclient-backup"
FORMAT_VERSION = 1
MANIFEST_MEMBER = "manifest.json"
EXPORT_MEMBER = "export.json"
ATTACHMENT_PREFIX = "attachments/"
#: Bytes copied or hashed at a time.
CHUNK = 1 << 20
#: Every count a manifest carries.
COUNTS = ("workspaces", "boards", "cards", "attachments")


def attachment_member(attachment_id: str) -> str:
    return ATTACHMENT_PREFIX + attachment_id


def member_attachment_id(name: str) -> str | None:
    """The attachment id a member name stands for, or None if it is not an attachment member."""
    if not name.startswith(ATTACHMENT_PREFIX):
        return None
    candidate = name[len(ATTACHMENT_PREFIX) :]
    return candidate if is_valid_id(candidate) else None


@dataclass(frozen=True, slots=True)
class ManifestMember:
    """A member as the manifest records it."""

    name: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a backup says about itself (`manifest.json`)."""

    version: int
    created_at: str
    server: str
    account_id: str
    account_email: str
    #: The workspace ids chosen with `--workspace`, or None for the whole account.
    workspaces: tuple[str, ...] | None
    counts: Mapping[str, int]
    members: tuple[ManifestMember, ...]
    #: Attachments copied from an earlier backup instead of downloaded.
    reused: int = 0

    def member(self, name: str) -> ManifestMember | None:
        return next((m for m in self.members if m.name == name), None)

    def attachment_ids(self) -> tuple[str, ...]:
        return tuple(a for m in self.members if (a := member_attachment_id(m.name)) is not None)

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT_NAME,
            "version": self.version,
            "createdAt": self.created_at,
            "server": self.server,
            "account": {"id": self.account_id, "email": self.account_email},
            "workspaces": None if self.workspaces is None else list(self.workspaces),
            "counts": dict(self.counts),
            "reused": self.reused,
            "members": [m.to_json() for m in self.members],
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> Manifest:
        """Parse a manifest; ProtocolError naming `where` if it is not one of ours (or newer)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ProtocolError(f"{where} is not an mskclient backup (its manifest names another format)")
        version = data.get("version")
        if type(version) is not int or version < 1:
            raise ProtocolError(f"{where}: the manifest's version is not a positive integer")
        if version > FORMAT_VERSION:
            raise ProtocolError(
                f"{where} is a backup of format version {version}; this mskclient reads up to {FORMAT_VERSION}"
            )
        try:
            account = data["account"]
            selection = data["workspaces"]
            counts = data["counts"]
            members = tuple(ManifestMember(_text(m, "name"), _size(m), _digest(m)) for m in _list(data["members"]))
            manifest = cls(
                version=version,
                created_at=_text(data, "createdAt"),
                server=_text(data, "server"),
                account_id=_text(account, "id"),
                account_email=_text(account, "email"),
                workspaces=None if selection is None else tuple(_ids(selection)),
                counts={k: _count(counts, k) for k in COUNTS},
                members=members,
                reused=_count(data, "reused"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"{where}: the manifest is malformed ({exc})") from None
        if len({m.name for m in members}) != len(members):
            raise ProtocolError(f"{where}: the manifest lists a member twice")
        return manifest


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _text(obj: object, key: str) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get(key), str):
        raise TypeError(f"{key} is not a string")
    value: str = obj[key]
    return value


def _count(obj: object, key: str) -> int:
    if not isinstance(obj, dict) or type(obj.get(key)) is not int or obj[key] < 0:
        raise TypeError(f"{key} is not a count")
    value: int = obj[key]
    return value


def _size(obj: object) -> int:
    return _count(obj, "size")


def _digest(obj: object) -> str:
    digest = _text(obj, "sha256")
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise ValueError("sha256 is not 64 lowercase hex digits")
    return digest


def _ids(value: object) -> list[str]:
    ids = _list(value)
    if not all(is_valid_id(i) for i in ids):
        raise ValueError("workspaces holds an invalid id")
    return ids


class Backup:
    """An open backup file: its manifest and its members, read as streams.

    `with open_backup(path) as backup: ...`; nothing is extracted to disk.
    """

    def __init__(self, path: Path, archive: zipfile.ZipFile, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest
        self._zip = archive

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        """Every member name in the archive, the manifest included."""
        return self._zip.namelist()

    def open_member(self, name: str) -> IO[bytes]:
        """A member's bytes as a stream (zipfile checks its CRC-32 at the end: BadZipFile)."""
        try:
            return self._zip.open(name)
        except KeyError:
            raise ProtocolError(f"{self.path}: the backup has no member {name}") from None

    def open_export(self) -> IO[bytes]:
        """The `/me/export` document (ciphertext), for `mskclient.export` or a restore."""
        return self.open_member(EXPORT_MEMBER)

    def open_attachment(self, attachment_id: str) -> IO[bytes]:
        """One attachment's secretstream ciphertext."""
        return self.open_member(attachment_member(attachment_id))

    def has_attachment(self, attachment_id: str) -> bool:
        return self.manifest.member(attachment_member(attachment_id)) is not None

    def decrypt(
        self,
        password: Callable[[], str],
        *,
        boards: Sequence[str] = (),
        workspaces: Sequence[str] = (),
        strict: bool = False,
        on_progress: Callable[[int], None] | None = None,
    ) -> ExportResult:
        """The decrypted export of the chosen boards (all by default), as `msk export --from-file`."""
        with self.open_export() as source:
            result: ExportResult = _guard(
                self.path,
                EXPORT_MEMBER,
                lambda: decrypt_export_file(
                    cast(BinaryIO, source),
                    password,
                    boards=boards,
                    workspaces=workspaces,
                    strict=strict,
                    on_progress=on_progress,
                ),
            )
            return result

    def attachment_fetch(self) -> Fetch:
        """A Fetch reading each attachment's ciphertext from this backup (for `save_attachments`)."""

        def open_ciphertext(attachment_id: str) -> BinaryIO:
            if not self.has_attachment(attachment_id):
                raise ProtocolError(f"{self.path}: attachment {attachment_id} is not in the backup")
            stream = _Guarded(self.path, attachment_member(attachment_id), self.open_attachment(attachment_id))
            return cast(BinaryIO, stream)

        return ciphertext_fetch(open_ciphertext)


def _guard(path: Path, name: str, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except zipfile.BadZipFile as exc:
        raise ProtocolError(f"{path}: member {name} is damaged: {exc}") from None


class _Guarded:
    """A member stream whose CRC failure is a ProtocolError naming the member."""

    def __init__(self, path: Path, name: str, stream: IO[bytes]) -> None:
        self._path, self._name, self._stream = path, name, stream

    def read(self, size: int = -1) -> bytes:
        data: bytes = _guard(self._path, self._name, lambda: self._stream.read(size))
        return data

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


class ManifestDamaged(Exception):
    """The manifest member is there but does not read (CRC, JSON or shape): a damaged backup,
    not a foreign file.  Never leaves the package: `open_backup` makes it a ProtocolError and
    `verify_backup` a named problem."""


def open_archive(path: Path) -> zipfile.ZipFile:
    """The ZIP archive of a backup; UsageError if unreadable, ProtocolError if not one of ours."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except zipfile.BadZipFile:
        raise ProtocolError(f"{path} is not an mskclient backup (not a ZIP archive, or truncated)") from None
    if MANIFEST_MEMBER not in archive.namelist():
        archive.close()
        raise ProtocolError(f"{path} is not an mskclient backup (it has no {MANIFEST_MEMBER})")
    return archive


def read_manifest(path: Path, archive: zipfile.ZipFile) -> Manifest:
    """The archive's manifest: ProtocolError if of another format or newer, ManifestDamaged if it
    does not read."""
    try:
        raw = archive.read(MANIFEST_MEMBER)
    except zipfile.BadZipFile:
        raise ManifestDamaged("its bytes do not match the archive's CRC-32 (corrupted)") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ManifestDamaged("it is not JSON") from None
    if isinstance(data, dict) and data.get("format") == FORMAT_NAME and type(data.get("version")) is int:
        try:
            return Manifest.from_json(data, str(path))
        except ProtocolError as exc:
            if data["version"] > FORMAT_VERSION:
                raise
            raise ManifestDamaged(str(exc).removeprefix(f"{path}: ")) from None
    return Manifest.from_json(data, str(path))  # raises: another format


def open_backup(path: Path) -> Backup:
    """Open a backup and read its manifest; ProtocolError if it is truncated, foreign, newer or
    its manifest is damaged (`verify_backup` says more)."""
    archive = open_archive(path)
    try:
        return Backup(path, archive, read_manifest(path, archive))
    except ManifestDamaged as exc:
        archive.close()
        raise ProtocolError(f"{path}: member {MANIFEST_MEMBER} is damaged: {exc}") from None
    except BaseException:
        archive.close()
        raise
