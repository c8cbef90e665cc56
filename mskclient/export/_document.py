"""Decrypt a whole `/me/export` document (docs/protocol.md#export), online or offline.

Offline needs only the password: the document carries the KDF salt and parameters,
the user's wrapped keys, every membership's sealed Workspace Key and every board's
wrapped Board Key (`keys_from_password`).  Boards and workspaces may be chosen by id
or name; only the chosen boards are decrypted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, BinaryIO, Generic, TypeVar

from .._errors import CryptoError, DecryptionError, UsageError
from .._json import fail, json_object, obj_list, text, valid_id
from .._profile import field
from ..crypto import (
    AccountKeys,
    BoardKey,
    WorkspaceKey,
    check_login_init,
    decrypt_field,
    derive_login_keys,
    open_workspace_key,
    unlock_account,
    unwrap_board_key,
)
from ._decrypt import BoardChecker, BoardDecryptor, BoardReader, members_by_id
from ._select import resolve
from ._stream import ExportParser, Level, replay
from ._tree import UNDECRYPTABLE, CheckedBoard, ExportBoard, ExportResult, FieldFailure

__all__ = [
    "BoardEntry",
    "ExportCheck",
    "ExportChecker",
    "ExportDecryptor",
    "decrypt_document",
    "decrypt_export_file",
    "keys_from_password",
    "list_boards",
]

_Json = Mapping[str, Any]


def keys_from_password(document: _Json, password: str) -> AccountKeys:
    """The account keys from the export's own KDF parameters (downgrades refused) and the password."""
    kdf = dict(json_object(document.get("kdf"), "export.kdf"))
    salt = kdf.pop("salt", None)
    salt_bytes, params = check_login_init({"salt": salt, "kdf": kdf})
    master = derive_login_keys(password, salt_bytes, params).master_key
    try:
        return unlock_account(master, json_object(document.get("user"), "export.user"))
    except DecryptionError:
        raise DecryptionError(
            "wrong password for this export (the user key does not open)", entity="user", field="encSymmetricKey"
        ) from None


@dataclass(frozen=True, slots=True)
class BoardEntry:
    """A board of the document with its opened key (None if it did not open)."""

    workspace_id: str
    workspace_name: str
    board_id: str
    title: str
    key: BoardKey | None
    #: The board's bundle (while streaming: its members read so far, without the cards).
    bundle: _Json
    members: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Workspace:
    id: str
    name: str
    key: WorkspaceKey | None
    members: Mapping[str, str]


def _open_workspace(ws_entry: _Json, keys: AccountKeys, failures: list[FieldFailure] | None) -> _Workspace:
    """A workspace entry's id, name, key and members; a key that does not open is recorded (or raised)."""
    workspace = json_object(ws_entry.get("workspace"), "export.workspace")
    ws_id = valid_id(workspace, "id", "workspace")
    membership = json_object(ws_entry.get("membership"), "export.membership")
    members = members_by_id(obj_list(ws_entry, "members", "workspace"))
    try:
        wk = open_workspace_key(text(membership, "encWorkspaceKey", "membership"), keys.keypair, ws_id)
        return _Workspace(ws_id, _name(wk, workspace, "workspace", "encName", ws_id), wk, members)
    except CryptoError as exc:
        _record(failures, exc, FieldFailure("", "workspace", ws_id, getattr(exc, "field", "?"), str(exc)))
        return _Workspace(ws_id, UNDECRYPTABLE, None, members)


def _open_board(bundle: _Json, ws: _Workspace, failures: list[FieldFailure] | None) -> BoardEntry:
    """A board's entry: its key and title opened, or recorded (raised) as a failure."""
    board = json_object(bundle.get("board"), "board")
    board_id = valid_id(board, "id", "board")
    key: BoardKey | None = None
    title = UNDECRYPTABLE
    try:
        if ws.key is not None:
            key = unwrap_board_key(ws.key, text(board, "encBoardKey", "board"), board_id)
            title = _name(key, board, "board", "encTitle", board_id)
    except CryptoError as exc:
        _record(failures, exc, FieldFailure(board_id, "board", board_id, getattr(exc, "field", "?"), str(exc)))
    return BoardEntry(ws.id, ws.name, board_id, title, key, bundle, ws.members)


def _name(key: WorkspaceKey | BoardKey, record: _Json, entity: str, name: str, entity_id: str) -> str:
    """A workspace's or board's name, decrypted (shown with U+FFFD where it is not UTF-8)."""
    envelope = text(record, name, entity)
    return decrypt_field(key, envelope, field(entity, name), entity_id=entity_id).decode("utf-8", "replace")


def _record(failures: list[FieldFailure] | None, error: CryptoError, failure: FieldFailure) -> None:
    """Keep a key's failure to mark its boards, or raise it (strict: `failures` is None)."""
    if failures is None:
        raise error
    failures.append(failure)


def list_boards(document: _Json, keys: AccountKeys, failures: list[FieldFailure] | None = None) -> list[BoardEntry]:
    """Every board of the document with its key and title; keys that do not open are recorded."""
    entries: list[BoardEntry] = []
    for ws_entry in obj_list(document, "workspaces", "export"):
        ws = _open_workspace(ws_entry, keys, failures)
        entries += [_open_board(bundle, ws, failures) for bundle in obj_list(ws_entry, "boards", "workspace")]
    return entries


def _choose(entries: list[BoardEntry], boards: Sequence[str], workspaces: Sequence[str]) -> list[BoardEntry]:
    if not boards and not workspaces:
        return entries
    chosen: dict[str, BoardEntry] = {}
    if workspaces:
        spaces = list({e.workspace_id: e.workspace_name for e in entries}.items())
        wanted = {resolve("workspace", w, spaces) for w in workspaces}
        chosen.update((e.board_id, e) for e in entries if e.workspace_id in wanted)
    candidates = [(e.board_id, e.title) for e in entries]
    for query in boards:
        board_id = resolve("board", query, candidates)
        chosen[board_id] = next(e for e in entries if e.board_id == board_id)
    return [e for e in entries if e.board_id in chosen]


#: Cards decrypted per batch while an export streams in.
_CARDS_PER_BATCH = 64
#: A board's members needed before its cards can be decrypted as they come; a workspace's likewise.
_BOARD_HEADER = ("board", "columns", "labels", "milestones", "customFields")
_WORKSPACE_HEADER = ("workspace", "membership", "members")


_R = TypeVar("_R", bound=BoardReader)


@dataclass(slots=True)
class _Board(Generic[_R]):
    """A board being read: its members so far, then its reader (or None when not exported)."""

    fields: dict[str, object] = dataclass_field(default_factory=dict)
    entry: BoardEntry | None = None
    reader: _R | None = None
    cards: list[object] = dataclass_field(default_factory=list)


class _ExportReader(ABC, Generic[_R]):
    """An ExportSink opening the document's keys as they arrive and handing each board's cards,
    in batches, to the board reader `_new_board` makes; `_boards()` gives every board read.

    With the usual member order (a workspace's keys and members, and a board's names, before
    its cards) cards are read in batches as they come; with any other order they wait for what
    they need.  A board is read only if it may be chosen (its id, title, workspace id or name
    matches, case aside); the final choice, with its errors for unknown or ambiguous names, is
    `resolve`'s.
    """

    def __init__(
        self,
        keys: AccountKeys,
        *,
        boards: Sequence[str] = (),
        workspaces: Sequence[str] = (),
        strict: bool = False,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """`on_progress` is told the number of cards read so far after each batch."""
        self._keys = keys
        self._on_progress = on_progress
        self._cards_done = 0
        self._boards, self._workspaces = tuple(boards), tuple(workspaces)
        self._strict = strict
        self._names = {q.casefold() for q in self._boards}
        self._workspace_names = {q.casefold() for q in self._workspaces}
        self._exported_at: object = ""
        self._key_failures: list[FieldFailure] = []
        self._done: list[tuple[BoardEntry, _R | None]] = []
        self._ws_fields: dict[str, object] = {}
        self._ws: _Workspace | None = None
        self._waiting: list[_Board[_R]] = []
        self._board: _Board[_R] = _Board()

    @abstractmethod
    def _new_board(self, header: _Json, key: BoardKey, members: Mapping[str, str]) -> _R:
        """The reader of a board whose key opened, given its header."""

    def begin(self, level: Level) -> None:
        if level == "workspace":
            self._ws_fields, self._ws, self._waiting = {}, None, []
        else:
            self._board = _Board()

    def field(self, level: Level, key: str, value: object) -> None:
        if level == "export":
            if key == "exportedAt":
                self._exported_at = value
        elif level == "workspace":
            self._ws_fields[key] = value
        else:
            self._board.fields[key] = value

    def card(self, card: object) -> None:
        board = self._board
        if board.entry is None and self._ready(board):
            self._start(board)
        if board.entry is not None and board.reader is None:
            return  # not exported, or its key did not open
        board.cards.append(card)
        if board.reader is not None and len(board.cards) >= _CARDS_PER_BATCH:
            self._read(board.reader, board.cards)
            board.cards = []

    def end(self, level: Level) -> None:
        if level == "board":
            if self._workspace() is None:
                self._waiting.append(self._board)  # the workspace's members come after its boards
            else:
                self._finish(self._board)
        else:
            self._workspace(complete=True)
            for board in self._waiting:
                self._finish(board)

    def _chosen(self) -> list[tuple[BoardEntry, _R | None]]:
        """The chosen boards, in document order (UsageError if a name is unknown or ambiguous),
        once the document's `exportedAt` is checked."""
        entries = [entry for entry, _ in self._done]
        chosen = {e.board_id for e in _choose(entries, self._boards, self._workspaces)}
        if not chosen and (self._boards or self._workspaces):
            raise UsageError("nothing to export: the selection matched no board")
        if not isinstance(self._exported_at, str):
            raise fail("export", "exportedAt", "not a string")
        return [(entry, reader) for entry, reader in self._done if entry.board_id in chosen]

    def _key_failures_of(self, chosen: list[tuple[BoardEntry, _R | None]]) -> tuple[FieldFailure, ...]:
        """The failures of keys that did not open: of a workspace (no board id), or of a chosen board."""
        ids = {entry.board_id for entry, _ in chosen} | {""}
        return tuple(f for f in self._key_failures if f.board_id in ids)

    def _workspace(self, *, complete: bool = False) -> _Workspace | None:
        """The current workspace, opened once its members are in (or it ended)."""
        if self._ws is None and (complete or all(k in self._ws_fields for k in _WORKSPACE_HEADER)):
            failures = None if self._strict else self._key_failures
            self._ws = _open_workspace(self._ws_fields, self._keys, failures)
        return self._ws

    def _ready(self, board: _Board[_R]) -> bool:
        return all(k in board.fields for k in _BOARD_HEADER) and self._workspace() is not None

    def _start(self, board: _Board[_R]) -> None:
        ws = self._workspace()
        assert ws is not None
        entry = _open_board(board.fields, ws, None if self._strict else self._key_failures)
        board.entry = entry
        if entry.key is not None and self._may_be_chosen(entry):
            board.reader = self._new_board(board.fields, entry.key, entry.members)

    def _may_be_chosen(self, entry: BoardEntry) -> bool:
        if not self._boards and not self._workspaces:
            return True
        return (
            entry.board_id in self._boards
            or entry.workspace_id in self._workspaces
            or entry.title.casefold() in self._names
            or entry.workspace_name.casefold() in self._workspace_names
        )

    def _finish(self, board: _Board[_R]) -> None:
        if board.entry is None:
            self._start(board)
        assert board.entry is not None
        if board.reader is not None:
            self._read(board.reader, board.cards)
        self._done.append((board.entry, board.reader))

    def _read(self, reader: _R, cards: list[object]) -> None:
        reader.add_cards(cards)
        self._cards_done += len(cards)
        if self._on_progress is not None and cards:
            self._on_progress(self._cards_done)


class ExportDecryptor(_ExportReader[BoardDecryptor]):
    """Decrypts an export document as its parts arrive (an `ExportSink`), then gives the result.

    Fed by `ExportParser` while `/me/export` downloads, so decryption overlaps the transfer,
    or by `decrypt_document` from a parsed document.
    """

    def _new_board(self, header: _Json, key: BoardKey, members: Mapping[str, str]) -> BoardDecryptor:
        return BoardDecryptor(header, key, members, strict=self._strict)

    def result(self) -> ExportResult:
        """The chosen boards, in document order (UsageError if a name is unknown or ambiguous)."""
        chosen = self._chosen()
        boards = [
            reader.finish()
            if reader is not None
            else ExportBoard(entry.board_id, entry.workspace_id, UNDECRYPTABLE, UNDECRYPTABLE, False, ())
            for entry, reader in chosen
        ]
        return ExportResult(str(self._exported_at), tuple(boards), self._key_failures_of(chosen))


@dataclass(frozen=True, slots=True)
class ExportCheck:
    """Every board of a document checked (`ExportChecker`), and every field failure across them."""

    boards: tuple[CheckedBoard, ...]
    #: Failures outside any one board's content (a workspace or board key that did not open).
    key_failures: tuple[FieldFailure, ...] = ()

    @property
    def failures(self) -> tuple[FieldFailure, ...]:
        return self.key_failures + tuple(f for b in self.boards for f in b.failures)


class ExportChecker(_ExportReader[BoardChecker]):
    """Checks an export document as its parts arrive (an `ExportSink`) as `ExportDecryptor`
    decrypts it, every key, envelope and check alike, building no cards (`BoardChecker`).

    What a backup's verify needs: the proof that everything opens, each board's number of
    cards and its attachments with their file keys (a 2,000-card board: some 43 ms where the
    decryptor, building each card and its description's Markdown, takes 60).
    """

    def __init__(self, keys: AccountKeys, *, strict: bool = False) -> None:
        """Every board is checked: no selection, unlike the decryptor."""
        super().__init__(keys, strict=strict)

    def _new_board(self, header: _Json, key: BoardKey, members: Mapping[str, str]) -> BoardChecker:
        return BoardChecker(header, key, members, strict=self._strict)

    def result(self) -> ExportCheck:
        """Every board, in document order (one whose key did not open: no cards, its title marked)."""
        chosen = self._chosen()
        boards = [
            reader.finish()
            if reader is not None
            else CheckedBoard(entry.board_id, entry.workspace_id, UNDECRYPTABLE, 0, ())
            for entry, reader in chosen
        ]
        return ExportCheck(tuple(boards), self._key_failures_of(chosen))


#: Bytes read at a time from an export file.
_FILE_CHUNK = 1 << 20


class _Unlocking:
    """An ExportSink holding the document's parts until its own `kdf` and `user` (which come
    first in the server's order) give the keys with the password; then an `ExportDecryptor`."""

    def __init__(self, password: Callable[[], str], **selection: Any) -> None:
        self._password = password
        self._selection = selection
        self._account: dict[str, object] = {}
        self._held: list[tuple[str, tuple[Any, ...]]] = []
        self._decryptor: ExportDecryptor | None = None

    def begin(self, level: Level) -> None:
        self._pass("begin", level)

    def field(self, level: Level, key: str, value: object) -> None:
        if self._decryptor is None and level == "export" and key in ("kdf", "user"):
            self._account[key] = value
            if len(self._account) == 2:
                self._unlock()
        self._pass("field", level, key, value)

    def card(self, card: object) -> None:
        self._pass("card", card)

    def end(self, level: Level) -> None:
        self._pass("end", level)

    def result(self) -> ExportResult:
        return self._unlock().result()

    def _pass(self, event: str, *args: Any) -> None:
        if self._decryptor is None:
            self._held.append((event, args))
        else:
            getattr(self._decryptor, event)(*args)

    def _unlock(self) -> ExportDecryptor:
        if self._decryptor is None:
            decryptor = ExportDecryptor(keys_from_password(self._account, self._password()), **self._selection)
            for event, args in self._held:
                getattr(decryptor, event)(*args)
            self._held.clear()
            self._decryptor = decryptor
        return self._decryptor


def decrypt_export_file(
    source: BinaryIO,
    password: Callable[[], str],
    *,
    boards: Sequence[str] = (),
    workspaces: Sequence[str] = (),
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Decrypt a saved `/me/export` file while reading it, with only the password (offline).

    The file is read a megabyte at a time and never held whole; `password` is called once,
    when the file's KDF parameters and wrapped keys have been read.  `on_progress` is told
    the number of cards decrypted so far.
    """
    sink = _Unlocking(password, boards=boards, workspaces=workspaces, strict=strict, on_progress=on_progress)
    parser = ExportParser(sink)
    while chunk := source.read(_FILE_CHUNK):
        parser.feed(chunk)
    parser.close()
    return sink.result()


def decrypt_document(
    document: _Json,
    keys: AccountKeys,
    *,
    boards: Sequence[str] = (),
    workspaces: Sequence[str] = (),
    strict: bool = False,
) -> ExportResult:
    """Decrypt the chosen boards (all when none is chosen) of an export document."""
    decryptor = ExportDecryptor(keys, boards=boards, workspaces=workspaces, strict=strict)
    replay(document, decryptor)
    return decryptor.result()
