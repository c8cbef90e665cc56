"""One factory for the command groups of board-scoped resources (columns, labels, milestones,
custom fields, card templates, automations).

They all share one skeleton: `list` a board's items as a table or `--json`, `create` one from a
name or title, `edit` one named by id or unambiguous name, `delete` one after asking.  A
`BoardResource` says only what differs (which client calls, which table columns, which extra
options), so every group reads, resolves, confirms and reports the same way.  Tables go through
`table()` and confirmations through `confirm_delete()`, which show untrusted strings literally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import click

from ..client import Client
from ._complete import complete_column, complete_label, note
from ._context import CliContext, global_options
from ._resolve import Resolver, board_option, delete_confirmed, done, emit_models, model_json, yes_option

__all__ = ["BoardResource", "board_resource_group"]

_M = TypeVar("_M")
#: A click decorator that adds one option (or argument) to a command.
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class BoardResource(Generic[_M]):
    """What one board-scoped group does differently from the others.

    The client calls receive the client and the board id first, then the command's own options
    by their parameter names.  `edit` receives the id of the item found instead of a name.
    """

    group: str  # the command group: `msk labels …`
    help: str  # the group's help
    kind: str  # what one item is called when found by name or deleted ("custom field")
    noun: str  # what one item is called in "Created …" / "Updated …" ("field")
    title: str  # the title of the `list` table
    columns: Sequence[str]  # the headers of the `list` table
    row: Callable[[_M], Sequence[object]]  # one table row per item
    lookup: Callable[[Client, str], Sequence[_M]]  # the items an id or name is looked up in
    create: Callable[..., _M]  # (client, board_id, name, **create_options) -> item
    delete: Callable[[Client], Callable[[str], object]]  # the client's delete call for an id
    label: str = "name"  # the attribute that names an item ("name" or "title"); also create's argument
    listing: Callable[..., Sequence[_M]] | None = None  # (client, board_id, **list_options); else `lookup`
    list_options: Sequence[Decorator] = ()
    create_options: Sequence[Decorator] = ()
    check_create: Callable[..., None] | None = None  # rejects bad create options before unlocking
    edit: Callable[..., _M] | None = None  # (client, item_id, board_id, **edit_options) -> item; None: no `edit`
    edit_options: Sequence[Decorator] = ()
    delete_shows_id: bool = False  # the delete question names the id as well
    #: the kind shell completion offers the items as ("columns", "labels"); None: not offered
    completion: str | None = None

    @property
    def argument(self) -> str:
        """The argument that names one item: the last word of `kind` (`msk fields edit FIELD`)."""
        return self.kind.split()[-1]


def _decorated(command: Callable[..., Any], decorators: Sequence[Decorator]) -> Callable[..., Any]:
    """Apply `decorators` as if written top to bottom above `command` (so help lists them in order)."""
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def board_resource_group(spec: BoardResource[Any]) -> click.Group:
    """The click group `spec.group` with `list`, `create`, `edit` (when the spec has one) and `delete`."""
    group = click.Group(spec.group, help=spec.help)
    argument = spec.argument

    def name_of(item: Any) -> str:
        return str(getattr(item, spec.label))

    def looked_up(r: Resolver, board_id: str) -> Sequence[Any]:
        items = spec.lookup(r.client, board_id)
        if spec.completion is not None:
            note(spec.completion, board_id, ((item.id, name_of(item)) for item in items))
        return items

    def found(r: Resolver, board_id: str, query: str) -> Any:
        return r.named(spec.kind, query, looked_up(r, board_id), spec.label)

    def list_command(ctx: CliContext, board: str | None, **options: Any) -> None:
        r = Resolver(ctx.unlocked_client())
        board_id = r.board(board).id
        items = spec.listing(r.client, board_id, **options) if spec.listing else looked_up(r, board_id)
        emit_models(ctx, spec.title, spec.columns, items, spec.row)

    def create_command(ctx: CliContext, board: str | None, **options: Any) -> None:
        name = options.pop(spec.label)
        if spec.check_create is not None:
            spec.check_create(**options)
        r = Resolver(ctx.unlocked_client())
        item = spec.create(r.client, r.board(board).id, name, **options)
        done(ctx, f"Created {spec.noun} {name_of(item)!r} ({item.id})", model_json(item))

    def edit_command(ctx: CliContext, board: str | None, **options: Any) -> None:
        assert spec.edit is not None
        query = options.pop(argument)
        r = Resolver(ctx.unlocked_client())
        board_id = r.board(board).id
        item = spec.edit(r.client, found(r, board_id, query).id, board_id, **options)
        done(ctx, f"Updated {spec.noun} {name_of(item)!r} ({item.id})", model_json(item))

    def delete_command(ctx: CliContext, board: str | None, yes: bool, **options: Any) -> None:
        r = Resolver(ctx.unlocked_client())
        item = found(r, r.board(board).id, options.pop(argument))
        shown = f"{name_of(item)!r} ({item.id})" if spec.delete_shows_id else f"{name_of(item)!r}"
        delete_confirmed(ctx, yes, spec.kind, shown, item.id, spec.delete(r.client))

    completer = {"columns": complete_column, "labels": complete_label}.get(spec.completion or "")
    named = click.argument(argument, shell_complete=completer)
    plural = spec.title.lower()
    one = f"{'an' if spec.kind[0] in 'aeiou' else 'a'} {spec.kind}"
    group.add_command(
        click.command("list", help=f"List the {plural} of a board.")(
            _decorated(list_command, [board_option, *spec.list_options, global_options])
        )
    )
    group.add_command(
        click.command("create", help=f"Create {one} on a board.")(
            _decorated(create_command, [click.argument(spec.label), board_option, *spec.create_options, global_options])
        )
    )
    if spec.edit is not None:
        group.add_command(
            click.command("edit", help=f"Change {one}: only the options given.")(
                _decorated(edit_command, [named, board_option, *spec.edit_options, global_options])
            )
        )
    group.add_command(
        click.command("delete", help=f"Delete {one} (asks first, unless --yes).")(
            _decorated(delete_command, [named, board_option, yes_option, global_options])
        )
    )
    return group
