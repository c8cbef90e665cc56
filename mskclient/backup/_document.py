"""What an export document holds (account, counts, attachments), read as it streams, and the
same document re-written with only the chosen workspaces.

Both are `ExportSink`s fed by the export's own parser, so neither holds more than the part
being read: a workspace's parts are held only until its `workspace` member names it (which
the server sends first).  The filtered document keeps every member of what it keeps, in the
order read, so the offline export (`decrypt_export_file`) reads it as it reads the server's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from .._errors import ProtocolError
from .._profile import is_valid_id
from ..export import Level

__all__ = ["Inventory", "DocumentReader"]


@dataclass(slots=True)
class Inventory:
    """The account and what the (kept part of the) document holds."""

    account_id: str = ""
    account_email: str = ""
    #: the account's public key as the document gives it (base64url)
    public_key: str = ""
    workspace_ids: list[str] = field(default_factory=list)
    boards: int = 0
    cards: int = 0
    #: attachment id -> plaintext size from its metadata, in document order
    attachments: dict[str, int] = field(default_factory=dict)
    #: board id -> (cards, attachments)
    per_board: dict[str, tuple[int, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "workspaces": len(self.workspace_ids),
            "boards": self.boards,
            "cards": self.cards,
            "attachments": len(self.attachments),
        }


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Level:
    """Writing state of one JSON object: members written, and the walked array left open."""

    __slots__ = ("array", "done", "members")

    def __init__(self) -> None:
        self.members = 0
        self.array: str | None = None  # key of the open walked array
        self.done: set[str] = set()  # walked arrays already closed


#: The walked array of each level and what it holds.
_ARRAYS = {"export": "workspaces", "workspace": "boards", "board": "cards"}


class DocumentReader:
    """An ExportSink taking stock of the document; with `write`, also re-writing it.

    `chosen` (workspace ids) keeps only those workspaces, in the stock and in the output;
    None keeps everything.  Call `finish()` after the parser's `close()`.
    """

    def __init__(self, chosen: Collection[str] | None = None, write: Callable[[bytes], None] | None = None) -> None:
        self.inventory = Inventory()
        self._chosen = None if chosen is None else frozenset(chosen)
        self._write = write
        self._text: list[str] = []
        self._levels: dict[str, _Level] = {"export": _Level()}
        self._emit("{")
        #: None: the current workspace is kept; False: dropped; a list: its events, until it is named
        self._held: list[tuple[str, tuple[Any, ...]]] | None = None
        self._kept = True
        self._board: str | None = None
        self._board_cards = 0
        self._board_files = 0
        self._cards = 0  # cards written into the current board's array

    # --- ExportSink ---------------------------------------------------------------------------
    def begin(self, level: Level) -> None:
        if level == "workspace":
            self._kept = True
            self._held = [] if self._chosen is not None else None
            if self._held is None:
                self._open("export", "workspace")
            return
        self._route("begin", level)

    def field(self, level: Level, key: str, value: object) -> None:
        if level == "export":
            self._export_field(key, value)
            return
        if level == "workspace" and key == "workspace" and self._held is not None:
            self._decide(value)
        self._route("field", level, key, value)

    def card(self, card: object) -> None:
        self._route("card", card)

    def end(self, level: Level) -> None:
        if level == "workspace" and self._held is not None:
            raise ProtocolError("export.workspaces[]: a workspace without its `workspace` member")
        self._route("end", level)

    def finish(self) -> None:
        """The document ended: close it (and write what is left)."""
        self._close_array("export")
        self._emit("}")
        self._flush()

    # --- choosing -----------------------------------------------------------------------------
    def _decide(self, workspace: object) -> None:
        ws_id = workspace.get("id") if isinstance(workspace, dict) else None
        if not is_valid_id(ws_id):
            raise ProtocolError("export.workspaces[].workspace.id: not a valid id")
        assert self._chosen is not None and self._held is not None
        held, self._held = self._held, None
        self._kept = ws_id in self._chosen
        if self._kept:
            self._open("export", "workspace")
            for event, args in held:
                getattr(self, f"_{event}")(*args)

    def _route(self, event: str, *args: Any) -> None:
        if self._held is not None:
            self._held.append((event, args))
        elif self._kept:
            getattr(self, f"_{event}")(*args)

    # --- kept parts ---------------------------------------------------------------------------
    def _export_field(self, key: str, value: object) -> None:
        if key == "user":
            user = value if isinstance(value, dict) else {}
            account_id, email = user.get("id"), user.get("email")
            if not is_valid_id(account_id) or not isinstance(email, str):
                raise ProtocolError("export.user: no valid id and email")
            self.inventory.account_id, self.inventory.account_email = str(account_id), email
            public_key = user.get("publicKey")
            self.inventory.public_key = public_key if isinstance(public_key, str) else ""
        self._member("export", key, value)

    def _begin(self, level: Level) -> None:
        assert level == "board"
        self._open("workspace", "board")
        self._board, self._board_cards, self._board_files = None, 0, 0
        self.inventory.boards += 1

    def _field(self, level: Level, key: str, value: object) -> None:
        if level == "workspace" and key == "workspace" and isinstance(value, dict):
            self.inventory.workspace_ids.append(str(value.get("id")))
        if level == "board" and key == "board" and isinstance(value, dict) and is_valid_id(value.get("id")):
            self._board = str(value["id"])
        self._member(level, key, value)

    def _card(self, card: object) -> None:
        if not isinstance(card, dict):
            raise ProtocolError("export card: expected a JSON object")
        attachments = card.get("attachments") or []
        if not isinstance(attachments, list):
            raise ProtocolError("export card.attachments: expected a JSON array")
        for attachment in attachments:
            if not isinstance(attachment, dict):
                raise ProtocolError("export attachment: expected a JSON object")
            attachment_id, size = attachment.get("id"), attachment.get("size")
            if not is_valid_id(attachment_id) or type(size) is not int or size < 0:
                raise ProtocolError("export attachment: no valid id and size")
            self.inventory.attachments[str(attachment_id)] = size
        self.inventory.cards += 1
        self._board_cards += 1
        self._board_files += len(attachments)
        level = self._levels["board"]
        if level.array != "cards":
            self._emit("," if level.members else "", '"cards":[')
            level.array, level.members = "cards", level.members + 1
            self._cards = 0
        if self._write is not None:  # encoding a card is most of the cost: only when writing
            self._emit("," if self._cards else "", _json(card))
        self._cards += 1
        if len(self._text) >= 256:
            self._flush()

    def _end(self, level: Level) -> None:
        if level == "board" and self._board is not None:
            self.inventory.per_board[self._board] = (self._board_cards, self._board_files)
        self._close_array(level)
        self._emit("}")
        self._flush()

    # --- writing ------------------------------------------------------------------------------
    def _emit(self, *parts: str) -> None:
        if self._write is not None:
            self._text.extend(parts)

    def _flush(self) -> None:
        if self._write is not None and self._text:
            self._write("".join(self._text).encode("utf-8"))
            self._text.clear()

    def _member(self, level: str, key: str, value: object) -> None:
        state = self._levels[level]
        if state.array is not None:  # a member after the walked array
            self._close_array(level)
        if self._write is not None:
            self._emit("," if state.members else "", _json(key), ":", _json(value))
        state.members += 1

    def _open(self, parent: str, child: str) -> None:
        """A walked element (workspace or board) starts inside `parent`."""
        state = self._levels[parent]
        key = _ARRAYS[parent]
        if state.array != key:
            self._emit("," if state.members else "", _json(key), ":[")
            state.array, state.members = key, state.members + 1
            self._levels[f"{parent}:elements"] = _Level()
        elements = self._levels[f"{parent}:elements"]
        self._emit("," if elements.members else "", "{")
        elements.members += 1
        self._levels[child] = _Level()
        self._cards = 0

    def _close_array(self, level: str) -> None:
        """Close the level's walked array, or write it empty if it never opened."""
        state = self._levels[level]
        key = _ARRAYS[level]
        if state.array == key:
            self._emit("]")
            state.array = None
            state.done.add(key)
        elif key not in state.done:
            self._emit("," if state.members else "", _json(key), ":[]")
            state.members += 1
            state.done.add(key)
