"""The import journal: which source object became which MSKanban id, kill -9 safe.

One file per (source URL, source board, target workspace) in the config
directory, named by a hash of the three, so it reveals none of them.  It holds
only ids, envelope digests and keyed hashes of source content: no title, text or
name, in plaintext or otherwise recoverable without brute force.

It is a log of JSON lines, each appended with one `write()`, so a killed process
leaves every finished line whole (a torn last line, possible only on power loss,
is ignored).  Before each create the runner appends an *intent*: the source key,
where the new entity will be listed and the digest of the envelope about to be
sent, synced to disk before the request leaves (a batch of sealed creates shares
one fsync); after the server's answer it appends the id.  An intent without an id is
resolved on the next run by listing the parent and comparing digests.  Opening
compacts the log (temp file + rename) so it never grows past the live state.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from pathlib import Path
from typing import Any, Final

from .._atomic import atomic_replace
from .._errors import UsageError

__all__ = ["Intent", "Journal", "journal_path"]

_VERSION: Final = 1


def journal_path(root: Path, source_url: str, source_board: str, workspace_id: str) -> Path:
    """Where the journal of one (source, board, workspace) lives below `root`."""
    identity = json.dumps([source_url, source_board, workspace_id], ensure_ascii=False)
    return root / "imports" / f"{hashlib.sha256(identity.encode()).hexdigest()[:40]}.jsonl"


@dataclass(frozen=True, slots=True)
class Intent:
    """A create that was about to be sent: where to look for it and its envelope digest."""

    kind: str
    parent: str
    digest: str
    content: str


class Journal:
    """The state of one board's import; `open()` it, then `intend`/`record`/`mark`."""

    def __init__(self, path: Path, salt: bytes) -> None:
        self.path = path
        self._salt = salt
        #: source key -> MSKanban id ("" for a finished step that creates nothing, e.g. a label link)
        self.done: dict[str, str] = {}
        #: source key -> keyed hash of the source content it was created from
        self.content: dict[str, str] = {}
        #: source key -> creates sent (or about to be) whose answer was not recorded
        self.pending: dict[str, list[Intent]] = {}
        self._fd: int | None = None
        #: fsync each intent before its request leaves (see `open`)
        self._durable = True
        #: intents of a batch (`intend(sync=False)`), written and made durable together by `sync()`
        self._unwritten: list[bytes] = []
        #: lines written since the last fsync
        self._unsynced = False

    @classmethod
    def load(cls, path: Path) -> Journal:
        """Read the journal at `path` without writing anything (an empty one if there is none)."""
        try:
            lines = path.read_bytes().splitlines() if path.exists() else []
        except OSError as exc:
            raise UsageError(f"cannot read the import journal {path}: {exc.strerror or exc}") from None
        journal: Journal | None = None
        for number, line in enumerate(lines):
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError
            except ValueError:
                if number == len(lines) - 1:
                    break  # a torn last line: the write it belonged to never finished
                raise UsageError(f"the import journal {path} is damaged at line {number + 1}") from None
            if journal is None:
                journal = cls._from_header(path, record)
            else:
                journal._apply(record)
        return journal if journal is not None else cls(path, secrets.token_bytes(32))

    @classmethod
    def open(cls, path: Path, *, durable: bool = True) -> Journal:
        """Load (or start) the journal at `path`, compact it and keep it open for appending.

        `durable=False` skips the fsync of each intent: still safe against kill -9 (the
        kernel keeps what was written), not against a power cut."""
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
        journal = cls.load(path)
        journal._durable = durable
        journal.compact()
        return journal

    @classmethod
    def _from_header(cls, path: Path, record: Mapping[str, Any]) -> Journal:
        salt = record.get("salt")
        if record.get("journal") != _VERSION or not isinstance(salt, str):
            raise UsageError(f"{path} is not an import journal this version understands")
        return cls(path, bytes.fromhex(salt))

    def _apply(self, record: Mapping[str, Any]) -> None:
        key = record.get("k")
        if not isinstance(key, str):
            raise UsageError(f"the import journal {self.path} has a record without a key")
        if "id" in record:
            self.done[key] = str(record["id"])
            self.content[key] = str(record.get("h", ""))
            self.pending.pop(key, None)
        elif "d" in record:
            intent = Intent(str(record["t"]), str(record["p"]), str(record["d"]), str(record.get("h", "")))
            self.pending.setdefault(key, []).append(intent)
        elif record.get("drop"):
            self.pending.pop(key, None)

    # --- writing ------------------------------------------------------------------------------
    def compact(self) -> None:
        """Rewrite the log as its live state (atomically): done steps and unresolved intents."""
        lines = [_line({"journal": _VERSION, "salt": self._salt.hex()})]
        lines += [_record(k, v, self.content.get(k, "")) for k, v in self.done.items()]
        for key, intents in self.pending.items():
            lines += [_intent(key, i.kind, i.parent, i.digest, i.content) for i in intents]
        self.close()
        try:
            with atomic_replace(self.path) as handle:
                handle.write(b"".join(lines))
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise UsageError(f"cannot write the import journal {self.path}: {exc.strerror or exc}") from None

    def _write(self, line: bytes) -> None:
        if self._fd is None:
            raise UsageError("the import journal is closed")
        if self._unwritten:  # a batch's intents keep their place before what follows them
            line = b"".join(self._unwritten) + line
            self._unwritten.clear()
        os.write(self._fd, line)

    def intend(self, key: str, kind: str, parent: str, digest: str, content: str, *, sync: bool = True) -> None:
        """Write ahead: a create of `kind` below `parent` whose envelope has `digest` is about to go out.

        Synced to disk before the request leaves, so not even a power cut loses it: here, or
        with `sync=False` by the caller's `sync()` once it sealed every create of a batch (the
        batch's intents then go out in one write and one fsync)."""
        line = _intent(key, kind, parent, digest, content)
        self.pending.setdefault(key, []).append(Intent(kind, parent, digest, content))
        self._unsynced = True
        if sync:
            self._write(line)
            self.sync()
        else:
            self._unwritten.append(line)

    def sync(self) -> None:
        """Write the batch's intents and make everything written so far durable (one fsync)."""
        if self._unwritten:
            self._write(b"")
        if self._unsynced and self._durable and self._fd is not None:
            os.fsync(self._fd)
        self._unsynced = False

    def record(self, key: str, entity_id: str, content: str = "") -> None:
        """`key` is done: it became `entity_id` (or "" for a step that creates nothing)."""
        self._write(_record(key, entity_id, content))
        self.done[key] = entity_id
        self.content[key] = content
        self.pending.pop(key, None)

    def drop(self, key: str) -> None:
        """Forget the intents of `key`: none of them reached the server, it will be created again."""
        self._write(_line({"k": key, "drop": True}))
        self.pending.pop(key, None)

    def hash(self, content: Any) -> str:
        """A keyed hash of source content (JSON-able): tells a later run whether it changed."""
        data = _CANONICAL.encode(content).encode()
        return hmac.new(self._salt, data, hashlib.sha256).hexdigest()[:32]

    def close(self) -> None:
        if self._fd is not None:
            if self._unwritten:
                self._write(b"")
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


#: built once: `json.dumps` with options builds an encoder at every call
_COMPACT = json.JSONEncoder(separators=(",", ":"))
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _line(record: Mapping[str, Any]) -> bytes:
    return _COMPACT.encode(record).encode() + b"\n"


#: the lines `_line` would write for an intent and for a record, without building a dict per
#: create: each value a JSON string, ASCII and escaped as `json.dumps` writes it
_INTENT: Final = '{"k":%s,"t":%s,"p":%s,"d":%s,"h":%s}\n'
_RECORD: Final = '{"k":%s,"id":%s,"h":%s}\n'


def _intent(key: str, kind: str, parent: str, digest: str, content: str) -> bytes:
    text = _json_string
    return (_INTENT % (text(key), text(kind), text(parent), text(digest), text(content))).encode()


def _record(key: str, entity_id: str, content: str) -> bytes:
    text = _json_string
    return (_RECORD % (text(key), text(entity_id), text(content))).encode()
