"""Names instead of ids for the resource commands, and their shared output helpers.

`--board "Roadmap"` works when exactly one visible board has that title; an id always
works.  An ambiguous or unknown name is a UsageError listing the candidates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import click
from rich.table import Table

from .._errors import UsageError
from .._models import Board, Card, Column, Label, Member, Undecryptable, Workspace
from .._profile import is_valid_id
from ..client import Client
from ..crypto import b64u_encode
from ..export import name_matches, resolve
from ._complete import complete_board, note
from ._context import CliContext
from ._untrusted import rich_text, visible

__all__ = [
    "Resolver",
    "appended_line",
    "board_option",
    "confirm_delete",
    "delete_confirmed",
    "done",
    "emit_models",
    "model_json",
    "table",
    "yes_option",
]


def model_json(model: Any) -> Any:
    """A plaintext model as JSON: camelCase keys, bytes as base64url, Yjs state left out."""
    if isinstance(model, list | tuple):
        return [model_json(m) for m in model]
    if not dataclasses.is_dataclass(model) or isinstance(model, type):
        return model
    out: dict[str, Any] = {}
    for f in dataclasses.fields(model):
        if f.name == "description_state":
            continue
        value = getattr(model, f.name)
        head, *rest = f.name.split("_")
        key = head + "".join(part.title() for part in rest)
        if isinstance(value, bytes):
            value = b64u_encode(value)
        elif isinstance(value, tuple | list):
            value = [model_json(v) for v in value]
        elif dataclasses.is_dataclass(value):
            value = model_json(value)
        elif isinstance(value, dict) or hasattr(value, "items"):
            value = dict(value)
        out[key] = value
    return out


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A rich table whose title, headers and cells are shown literally (see `_untrusted`)."""
    result = Table(title=rich_text(title), title_justify="left", header_style="bold")
    for name in columns:
        result.add_column(rich_text(name), overflow="fold")
    for row in rows:
        result.add_row(*(rich_text(v) for v in row))
    return result


def appended_line(text: str, line: str) -> str:
    """What to add to a description `text` so `line` ends it as a line of its own, newline-terminated.

    Appends made at the same moment (`cards edit --append`, typed lines of `msk live`)
    then stay on separate lines when Yjs merges them.
    """
    sep = "" if not text or text.endswith("\n") else "\n"
    return sep + (line if line.endswith("\n") else line + "\n")


def done(ctx: CliContext, message: str, data: Any = None) -> None:
    """Report a change: `--json` prints `data` (or `{"ok": true}`), otherwise the one-line message."""
    if ctx.json:
        ctx.print_json(data if data is not None else {"ok": True})
    else:
        click.echo(visible(message))


def confirm_delete(yes: bool, what: str) -> None:
    """Ask before deleting `what`, unless --yes; answering no aborts the command."""
    if not yes:
        click.confirm(f"Delete {visible(what)}?", abort=True, err=True)


def delete_confirmed(
    ctx: CliContext, yes: bool, kind: str, shown: str, thing_id: str, delete: Callable[[str], object]
) -> None:
    """The end of a `delete` command: ask about `kind shown` (unless --yes), delete, report the id."""
    confirm_delete(yes, f"{kind} {shown}")
    delete(thing_id)
    done(ctx, f"Deleted {kind} {thing_id}")


_M = TypeVar("_M")


def emit_models(
    ctx: CliContext, title: str, columns: Sequence[str], items: Sequence[_M], row: Callable[[_M], Sequence[object]]
) -> None:
    """The output of a `list` command: `--json` prints the models, otherwise a table of one row each."""
    ctx.emit(model_json(items), lambda: table(title, columns, map(row, items)))


def board_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--board", "board", metavar="BOARD", help="Board id or title.", shell_complete=complete_board)(
        command
    )


def yes_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(command)


def _pick(kind: str, query: str, candidates: Sequence[tuple[str, str]]) -> str:
    """`resolve`, where a name that did not decrypt matches nothing: the others are still found
    by name, and the undecryptable one by its id."""
    if is_valid_id(query) and any(cid == query for cid, _ in candidates):
        return query
    return resolve(kind, query, [(cid, name) for cid, name in candidates if not isinstance(name, Undecryptable)])


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_Named = TypeVar("_Named", bound=_HasId)


class Resolver:
    """Looks names up through the client, caching lists for the life of one command."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._workspaces: list[Workspace] | None = None
        self._boards: dict[str, list[Board]] = {}

    def workspaces(self) -> list[Workspace]:
        if self._workspaces is None:
            self._workspaces = self.client.workspaces()
            note("workspaces", "", ((w.id, w.name) for w in self._workspaces))
        return self._workspaces

    def workspace(self, query: str | None) -> Workspace:
        spaces = self.workspaces()
        if query is None:
            if len(spaces) == 1:
                return spaces[0]
            listed = ", ".join(f"{w.name!r} ({w.id})" for w in spaces) or "none"
            raise UsageError(f"which workspace? pass --workspace (yours: {listed})")
        wanted = _pick("workspace", query, [(w.id, w.name) for w in spaces])
        return next(w for w in spaces if w.id == wanted)

    def boards(self, workspace_id: str) -> list[Board]:
        if workspace_id not in self._boards:
            self._boards[workspace_id] = self.client.boards(workspace_id)
            note("boards", workspace_id, ((b.id, b.title) for b in self._boards[workspace_id] if not b.archived))
        return self._boards[workspace_id]

    def board(self, query: str | None, workspace: str | None = None) -> Board:
        if query is None:
            raise UsageError("which board? pass --board BOARD (id or title)")
        if is_valid_id(query) and workspace is None:
            return self.client.board(query)
        spaces = [self.workspace(workspace)] if workspace else self.workspaces()
        boards = [b for w in spaces for b in self.boards(w.id)]
        wanted = _pick("board", query, [(b.id, b.title) for b in boards])
        return next(b for b in boards if b.id == wanted)

    def columns(self, board_id: str) -> list[Column]:
        """The board's columns, noted for shell completion."""
        columns = self.client.columns(board_id)
        note("columns", board_id, ((c.id, c.title) for c in columns))
        return columns

    def cards(self, board_id: str) -> list[Card]:
        """The board's cards (archived ones too), the live ones noted for shell completion."""
        cards = self.client.cards(board_id)
        note("cards", board_id, ((c.id, c.title) for c in cards if not c.archived))
        return cards

    def labels(self, board_id: str) -> list[Label]:
        """The board's labels, noted for shell completion."""
        labels = self.client.labels(board_id)
        note("labels", board_id, ((x.id, x.name) for x in labels))
        return labels

    def members(self, workspace_id: str) -> list[Member]:
        """The workspace's members, noted (by email) for shell completion."""
        members = self.client.members(workspace_id)
        note("members", workspace_id, ((m.user_id, m.email) for m in members))
        return members

    def column(self, board_id: str, query: str) -> Column:
        return self.named("column", query, self.columns(board_id), "title")

    def card(self, query: str, board: str | None) -> Card:
        """A card with its comments, checklists and attachments, by id or by title: within
        --board, or without it across every board of the account when the title is unique."""
        if is_valid_id(query) and board is None:
            return self.client.card(query)
        if board is None:
            return self.client.card(self._card_anywhere(query))
        board_id = self.board(board).id
        cards = self.cards(board_id)
        return self.client.card(_pick("card", query, [(c.id, c.title) for c in cards]))

    def _card_anywhere(self, title: str) -> str:
        """The id of the one live card titled `title` on any board of the account."""
        board_of: dict[str, Board] = {}
        titles: list[tuple[str, str]] = []
        for board in (b for w in self.workspaces() for b in self.boards(w.id)):
            for card in self.cards(board.id):
                if not card.archived and not isinstance(card.title, Undecryptable):
                    board_of[card.id] = board
                    titles.append((card.id, card.title))
        matches = name_matches(title, titles)
        if len(matches) == 1:
            return matches[0][0]
        if not matches:
            raise UsageError(f"no card titled {title!r} on any of your boards (archived ones need --board)")
        listed = ", ".join(f"{name!r} on board {board_of[cid].title!r} ({cid})" for cid, name in matches)
        raise UsageError(f"card title {title!r} is on several boards: {listed}; add --board or give the id")

    def named(self, kind: str, query: str, items: Sequence[_Named], name: str = "name") -> _Named:
        """The one of `items` whose id is `query`, or whose attribute `name` is (unambiguously)."""
        wanted = _pick(kind, query, [(i.id, getattr(i, name)) for i in items])
        return next(i for i in items if i.id == wanted)

    def member(self, workspace_id: str, query: str) -> Member:
        members = self.members(workspace_id)
        wanted = _pick("member", query, [(m.user_id, m.email) for m in members])
        return next(m for m in members if m.user_id == wanted)
