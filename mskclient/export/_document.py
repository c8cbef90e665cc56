"""Decrypt a whole `/me/export` document (profile §6), online or offline.

Offline needs only the password: the document carries the KDF salt and parameters,
the user's wrapped keys, every membership's sealed Workspace Key and every board's
wrapped Board Key (`keys_from_password`).  Boards and workspaces may be chosen by id
or name; only the chosen boards are decrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import CryptoError, DecryptionError, UsageError
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
from ._decrypt import decrypt_board, members_by_id, obj, obj_list, text, valid_id
from ._select import resolve
from ._tree import UNDECRYPTABLE, ExportBoard, ExportResult, FieldFailure

__all__ = ["BoardEntry", "decrypt_document", "keys_from_password", "list_boards"]

_Json = Mapping[str, Any]


def keys_from_password(document: _Json, password: str) -> AccountKeys:
    """The account keys from the export's own KDF parameters (downgrades refused) and the password."""
    kdf = dict(obj(document.get("kdf"), "export.kdf"))
    salt = kdf.pop("salt", None)
    salt_bytes, params = check_login_init({"salt": salt, "kdf": kdf})
    master = derive_login_keys(password, salt_bytes, params).master_key
    try:
        return unlock_account(master, obj(document.get("user"), "export.user"))
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
    bundle: _Json
    members: Mapping[str, str]


def list_boards(document: _Json, keys: AccountKeys, failures: list[FieldFailure] | None = None) -> list[BoardEntry]:
    """Every board of the document with its key and title; keys that do not open are recorded."""
    entries: list[BoardEntry] = []
    for ws_entry in obj_list(document, "workspaces", "export"):
        workspace = obj(ws_entry.get("workspace"), "export.workspace")
        ws_id = valid_id(workspace, "id", "workspace")
        assert ws_id is not None
        membership = obj(ws_entry.get("membership"), "export.membership")
        members = members_by_id(obj_list(ws_entry, "members", "workspace"))
        wk: WorkspaceKey | None
        try:
            wk = open_workspace_key(text(membership, "encWorkspaceKey", "membership"), keys.keypair, ws_id)
            ws_name = decrypt_field(
                wk, text(workspace, "encName", "workspace"), field("workspace", "encName"), entity_id=ws_id
            ).decode("utf-8", "replace")
        except CryptoError as exc:
            if failures is None:
                raise
            failures.append(FieldFailure("", "workspace", ws_id, getattr(exc, "field", "?"), str(exc)))
            wk, ws_name = None, UNDECRYPTABLE
        for bundle in obj_list(ws_entry, "boards", "workspace"):
            board = obj(bundle.get("board"), "board")
            board_id = valid_id(board, "id", "board")
            assert board_id is not None
            bk: BoardKey | None = None
            title = UNDECRYPTABLE
            try:
                if wk is not None:
                    bk = unwrap_board_key(wk, text(board, "encBoardKey", "board"), board_id)
                    title = decrypt_field(
                        bk, text(board, "encTitle", "board"), field("board", "encTitle"), entity_id=board_id
                    ).decode("utf-8", "replace")
            except CryptoError as exc:
                if failures is None:
                    raise
                failures.append(FieldFailure(board_id, "board", board_id, getattr(exc, "field", "?"), str(exc)))
            entries.append(BoardEntry(ws_id, ws_name, board_id, title, bk, bundle, members))
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


def decrypt_document(
    document: _Json,
    keys: AccountKeys,
    *,
    boards: Sequence[str] = (),
    workspaces: Sequence[str] = (),
    strict: bool = False,
    on_board: Callable[[BoardEntry], None] | None = None,
) -> ExportResult:
    """Decrypt the chosen boards (all when none is chosen) of an export document."""
    key_failures: list[FieldFailure] = []
    entries = _choose(list_boards(document, keys, None if strict else key_failures), boards, workspaces)
    if not entries and (boards or workspaces):
        raise UsageError("nothing to export: the selection matched no board")
    result: list[ExportBoard] = []
    for entry in entries:
        if on_board is not None:
            on_board(entry)
        if entry.key is None:
            result.append(ExportBoard(entry.board_id, entry.workspace_id, UNDECRYPTABLE, UNDECRYPTABLE, False, ()))
            continue
        result.append(decrypt_board(entry.bundle, entry.key, entry.members, strict=strict))
    chosen = {e.board_id for e in entries} | {""}
    return ExportResult(
        exported_at=text(document, "exportedAt", "export", default=""),
        boards=tuple(result),
        key_failures=tuple(f for f in key_failures if f.board_id in chosen),
    )
