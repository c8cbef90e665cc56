"""Resource commands: workspaces, members, boards, columns, labels, milestones, custom fields,
card templates and automations.  Cards live in `_cards.py`.

Every read and create takes `--json`; otherwise a rich table.  Ids or unambiguous
names are accepted wherever a thing is named (see `_resolve.py`).
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Group
from rich.text import Text

from .._errors import KeyTrustError, UsageError
from .._models import Automation, CardTemplate, Column, CustomField, Label, Milestone, Workspace
from .._profile import CUSTOM_FIELD_TYPES, DEFAULT_LABEL_COLOR, ROLES
from ..client import Client
from ..crypto import fingerprint, fingerprint_matches
from ._board_resource import BoardResource, board_resource_group
from ._complete import complete_board, complete_member, complete_workspace
from ._context import CliContext, global_options
from ._params import color_option, due_option
from ._rekey import rekey_workspace
from ._resolve import (
    Resolver,
    confirm_delete,
    delete_confirmed,
    done,
    emit_models,
    model_json,
    table,
    yes_option,
)
from ._untrusted import rich_text

__all__ = [
    "automations",
    "boards",
    "columns",
    "fields",
    "labels",
    "members",
    "milestones",
    "templates",
    "workspaces",
]

_ROLES = click.Choice(ROLES)


# --- workspaces ----------------------------------------------------------------------------
@click.group()
def workspaces() -> None:
    """List, create, rename and delete workspaces."""


@workspaces.command("list")
@global_options
def workspaces_list(ctx: CliContext) -> None:
    """List your workspaces."""
    client = ctx.unlocked_client()
    items = Resolver(client).workspaces()
    owners = {w.id: _owner_email(client, w) for w in items} if not ctx.json else {}
    emit_models(
        ctx, "Workspaces", ["id", "name", "owner"], items, lambda w: (w.id, w.name, owners.get(w.id, w.owner_id))
    )


def _owner_email(client: Client, workspace: Workspace) -> str:
    """The owner's email (members are listed per workspace); the id if the owner is not a member."""
    members = client.members(workspace.id)
    return next((m.email for m in members if m.user_id == workspace.owner_id), workspace.owner_id)


@workspaces.command("show")
@click.argument("workspace", shell_complete=complete_workspace)
@global_options
def workspaces_show(ctx: CliContext, workspace: str) -> None:
    """Show a workspace with its boards."""
    r = Resolver(ctx.unlocked_client())
    w = r.workspace(workspace)
    boards = r.boards(w.id)
    data = {**model_json(w), "boards": model_json(boards)}
    ctx.emit(
        data,
        lambda: table(
            f"Workspace {w.name} ({w.id})",
            ["board id", "title", "archived"],
            ((b.id, b.title, b.archived) for b in boards),
        ),
    )


@workspaces.command("create")
@click.argument("name")
@global_options
def workspaces_create(ctx: CliContext, name: str) -> None:
    """Create a workspace (its key is sealed to you)."""
    w = ctx.unlocked_client().create_workspace(name)
    done(ctx, f"Created workspace {w.name!r} ({w.id})", model_json(w))


@workspaces.command("rename")
@click.argument("workspace", shell_complete=complete_workspace)
@click.argument("name")
@global_options
def workspaces_rename(ctx: CliContext, workspace: str, name: str) -> None:
    """Rename a workspace."""
    r = Resolver(ctx.unlocked_client())
    w = r.client.rename_workspace(r.workspace(workspace).id, name)
    done(ctx, f"Renamed workspace {w.id} to {w.name!r}", model_json(w))


@workspaces.command("delete")
@click.argument("workspace", shell_complete=complete_workspace)
@yes_option
@global_options
def workspaces_delete(ctx: CliContext, workspace: str, yes: bool) -> None:
    """Delete a workspace and all its boards (asks first, unless --yes)."""
    r = Resolver(ctx.unlocked_client())
    w = r.workspace(workspace)
    delete_confirmed(ctx, yes, "workspace", f"{w.name!r} ({w.id}) and all its boards", w.id, r.client.delete_workspace)


@workspaces.command("rekey")
@click.argument("workspace")
@click.option("--name", "new_name", metavar="NEW_NAME", help="Name of the new workspace (default: the old one's).")
@click.option("--dry-run", is_flag=True, help="Show the plan and the estimated time; change nothing.")
@click.option("--delete-old", is_flag=True, help="Delete the old workspace once the copy verified (asks first).")
@yes_option
@global_options
def workspaces_rekey(
    ctx: CliContext, workspace: str, new_name: str | None, dry_run: bool, delete_old: bool, yes: bool
) -> None:
    """Rotate a workspace's keys after a member left: copy it into a new workspace under fresh keys.

    Every field is sealed anew and every attachment re-encrypted; the remaining members are
    invited to their pinned keys; automations and webhooks are re-created (new webhook
    secrets are shown once).  Resumable: run it again after an interruption.  The old
    workspace stays until --delete-old, which needs the copy to verify."""
    rekey_workspace(ctx, workspace, new_name, dry_run, delete_old, yes)


# --- members -------------------------------------------------------------------------------
@click.group()
def members() -> None:
    """Workspace members: invite (seals the workspace key to them), remove, role, trust, verify."""


_ws_option = click.option(
    "--workspace",
    "workspace",
    metavar="WS",
    help="Workspace id or name (default: your only one).",
    shell_complete=complete_workspace,
)


@members.command("list")
@_ws_option
@global_options
def members_list(ctx: CliContext, workspace: str | None) -> None:
    """List the members of a workspace with their role and key fingerprint."""
    r = Resolver(ctx.unlocked_client())
    items = r.members(r.workspace(workspace).id)
    states = [r.client.key_state(m) for m in items]
    data = [
        {**model_json(m), "trusted": state != "changed", "keyState": state}
        for m, state in zip(items, states, strict=True)
    ]
    ctx.emit(
        data,
        lambda: table(
            "Members",
            ["user id", "email", "role", "fingerprint", "key"],
            (
                (m.user_id, m.email, m.role, m.fingerprint, "CHANGED" if state == "changed" else state)
                for m, state in zip(items, states, strict=True)
            ),
        ),
    )


@members.command("invite")
@click.argument("email")
@click.option("--role", type=_ROLES, default="member", show_default=True)
@click.option(
    "--fingerprint",
    "spoken",
    metavar="FP",
    help="The fingerprint EMAIL read out to you: refuse unless their key has it (then pinned as verified).",
)
@_ws_option
@global_options
def members_invite(ctx: CliContext, email: str, role: str, spoken: str | None, workspace: str | None) -> None:
    """Seal the workspace key to EMAIL's public key and add them; shows the key sealed to."""
    r = Resolver(ctx.unlocked_client())
    m = r.client.invite(r.workspace(workspace).id, email, role, expected_fingerprint=spoken)
    checked = "verified" if spoken is not None else "first seen or pinned, not verified"
    done(ctx, f"Invited {m.email} as {m.role}, sealed to key {m.fingerprint} ({checked})", model_json(m))


@members.command("remove")
@click.argument("member", shell_complete=complete_member)
@_ws_option
@yes_option
@global_options
def members_remove(ctx: CliContext, member: str, workspace: str | None, yes: bool) -> None:
    """Remove a member from a workspace (asks first, unless --yes)."""
    r = Resolver(ctx.unlocked_client())
    ws = r.workspace(workspace)
    m = r.member(ws.id, member)
    confirm_delete(yes, f"member {m.email} from {ws.name!r}")
    r.client.remove_member(ws.id, m.user_id)
    done(ctx, f"Removed {m.email} from {ws.name!r}")


@members.command("role")
@click.argument("member", shell_complete=complete_member)
@click.argument("role", type=_ROLES)
@_ws_option
@global_options
def members_role(ctx: CliContext, member: str, role: str, workspace: str | None) -> None:
    """Give a member another role in a workspace."""
    r = Resolver(ctx.unlocked_client())
    ws = r.workspace(workspace)
    m = r.client.set_role(ws.id, r.member(ws.id, member).user_id, role)
    done(ctx, f"{m.email} is now {m.role} in {ws.name!r}", model_json(m))


@members.command("trust")
@click.argument("email")
@global_options
def members_trust(ctx: CliContext, email: str) -> None:
    """Accept EMAIL's current public key (after checking its fingerprint with them)."""
    u = ctx.client().trust_member(email)
    done(ctx, f"Trusted {u.email}: fingerprint {fingerprint(u.public_key)}", model_json(u))


@members.command("verify")
@click.argument("email")
@click.option("--fingerprint", "spoken", metavar="FP", help="The fingerprint EMAIL read out to you (else: asked).")
@global_options
def members_verify(ctx: CliContext, email: str, spoken: str | None) -> None:
    """Mark EMAIL's key verified once its fingerprint matches what they read out to you."""
    client = ctx.client()
    user = client.lookup_user(email)
    if spoken is not None:
        if not fingerprint_matches(user.public_key, spoken):
            raise KeyTrustError(f"{user.email}'s key is {user.fingerprint}, not the fingerprint they read out")
    else:
        changed = " (it differs from the key pinned for them)" if client.key_state(user) == "changed" else ""
        question = f"{user.email}'s key is {user.fingerprint}{changed}. Did they read out exactly this?"
        click.confirm(question, abort=True, err=True)
    client.verify_member(user)
    done(ctx, f"Verified {user.email}: fingerprint {user.fingerprint}", {**model_json(user), "keyState": "verified"})


# --- boards --------------------------------------------------------------------------------
@click.group()
def boards() -> None:
    """List, show, create, edit and delete boards."""


@boards.command("list")
@click.option("--workspace", metavar="WS", help="Only this workspace (id or name).", shell_complete=complete_workspace)
@global_options
def boards_list(ctx: CliContext, workspace: str | None) -> None:
    """List the boards of every workspace (or of one with --workspace)."""
    r = Resolver(ctx.unlocked_client())
    spaces = [r.workspace(workspace)] if workspace else r.workspaces()
    rows = [(w, b) for w in spaces for b in r.boards(w.id)]
    ctx.emit(
        model_json([b for _, b in rows]),
        lambda: table(
            "Boards",
            ["id", "title", "workspace", "archived"],
            ((b.id, b.title, w.name, "yes" if b.archived else "") for w, b in rows),
        ),
    )


@boards.command("show")
@click.argument("board", shell_complete=complete_board)
@global_options
def boards_show(ctx: CliContext, board: str) -> None:
    """Show a board: its columns side by side with their cards."""
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    cols = r.columns(b.id)
    cards = r.cards(b.id)
    data = {
        **model_json(b),
        "columns": [{**model_json(c), "cards": model_json([k for k in cards if k.column_id == c.id])} for c in cols],
    }

    def render() -> Any:
        per = [[k.title for k in cards if k.column_id == c.id and not k.archived] for c in cols]
        grid = table(f"{b.title} ({b.id})", [], [])
        for c, p in zip(cols, per, strict=True):
            grid.add_column(_column_heading(c, len(p)), overflow="fold")
        for i in range(max((len(p) for p in per), default=0)):
            grid.add_row(*(rich_text(p[i] if i < len(p) else "") for p in per))
        archived = sum(k.archived for k in cards)
        return Group(grid, Text(f"{archived} archived card(s) not shown", style="dim")) if archived else grid

    ctx.emit(data, render)


def _column_heading(column: Column, count: int) -> Text:
    """`Title [3]`, or with a WIP limit `Title [3/5]`, in red and marked when over it."""
    if column.wip_limit is None:
        return Text.assemble(rich_text(column.title), f" [{count}]")
    over = count > column.wip_limit
    counts = f" [{count}/{column.wip_limit}{' over the WIP limit' if over else ''}]"
    return Text.assemble(rich_text(column.title), (counts, "bold red" if over else ""))


@boards.command("create")
@click.argument("title")
@click.option(
    "--workspace",
    metavar="WS",
    help="Workspace id or name (default: your only one).",
    shell_complete=complete_workspace,
)
@click.option("--description", default="", help="Markdown description.")
@global_options
def boards_create(ctx: CliContext, title: str, workspace: str | None, description: str) -> None:
    """Create a board in a workspace."""
    r = Resolver(ctx.unlocked_client())
    b = r.client.create_board(r.workspace(workspace).id, title, description)
    done(ctx, f"Created board {b.title!r} ({b.id})", model_json(b))


@boards.command("edit")
@click.argument("board", shell_complete=complete_board)
@click.option("--title")
@click.option("--description")
@click.option("--archive/--unarchive", default=None)
@global_options
def boards_edit(ctx: CliContext, board: str, title: str | None, description: str | None, archive: bool | None) -> None:
    """Change a board's title, description or archived state: only the options given."""
    r = Resolver(ctx.unlocked_client())
    b = r.client.update_board(r.board(board).id, title=title, description=description, archived=archive)
    done(ctx, f"Updated board {b.title!r} ({b.id})", model_json(b))


@boards.command("delete")
@click.argument("board", shell_complete=complete_board)
@yes_option
@global_options
def boards_delete(ctx: CliContext, board: str, yes: bool) -> None:
    """Delete a board and everything on it (asks first, unless --yes)."""
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    delete_confirmed(ctx, yes, "board", f"{b.title!r} ({b.id})", b.id, r.client.delete_board)


# --- board-scoped groups (one factory: `_board_resource.py`) ------------------------------
def _edit_column(
    client: Client,
    column_id: str,
    board_id: str,
    title: str | None,
    wip_limit: int | None,
    no_wip_limit: bool,
    position: float | None,
) -> Column:
    kwargs: dict[str, Any] = {"title": title, "position": position, "board_id": board_id}
    if no_wip_limit or wip_limit is not None:
        kwargs["wip_limit"] = None if no_wip_limit else wip_limit
    return client.update_column(column_id, **kwargs)


columns = board_resource_group(
    BoardResource[Column](
        group="columns",
        help="Columns of a board.",
        kind="column",
        completion="columns",
        noun="column",
        label="title",
        title="Columns",
        columns=["id", "title", "position", "WIP limit"],
        row=lambda c: (c.id, c.title, c.position, c.wip_limit),
        lookup=lambda client, board_id: client.columns(board_id),
        create=lambda client, board_id, title, wip_limit, position: client.create_column(
            board_id, title, position=position, wip_limit=wip_limit
        ),
        create_options=[
            click.option("--wip-limit", type=click.IntRange(min=1), help="At most this many cards (at least 1)."),
            click.option("--position", type=float),
        ],
        edit=_edit_column,
        edit_options=[
            click.option("--title"),
            click.option("--wip-limit", type=click.IntRange(min=1), help="At most this many cards (at least 1)."),
            click.option("--no-wip-limit", is_flag=True, help="Remove the WIP limit."),
            click.option("--position", type=float),
        ],
        delete=lambda client: client.delete_column,
        delete_shows_id=True,
    )
)

labels = board_resource_group(
    BoardResource[Label](
        group="labels",
        help="Labels of a board.",
        kind="label",
        completion="labels",
        noun="label",
        title="Labels",
        columns=["id", "name", "color"],
        row=lambda x: (x.id, x.name, x.color),
        lookup=lambda client, board_id: client.labels(board_id),
        create=lambda client, board_id, name, color: client.create_label(board_id, name, color),
        create_options=[color_option(DEFAULT_LABEL_COLOR)],
        edit=lambda client, label_id, board_id, name, color: client.update_label(
            label_id, name=name, color=color, board_id=board_id
        ),
        edit_options=[click.option("--name"), color_option()],
        delete=lambda client: client.delete_label,
    )
)


def _edit_milestone(
    client: Client, milestone_id: str, board_id: str, title: str | None, due_at: str | None, archive: bool | None
) -> Milestone:
    kwargs: dict[str, Any] = {"title": title, "archived": archive, "board_id": board_id}
    if due_at is not None:
        kwargs["due_at"] = due_at or None
    return client.update_milestone(milestone_id, **kwargs)


milestones = board_resource_group(
    BoardResource[Milestone](
        group="milestones",
        help="Milestones of a board.",
        kind="milestone",
        noun="milestone",
        label="title",
        title="Milestones",
        columns=["id", "title", "due", "archived"],
        row=lambda m: (m.id, m.title, m.due_at, "yes" if m.archived else ""),
        lookup=lambda client, board_id: client.milestones(board_id, archived=True),
        listing=lambda client, board_id, archived: client.milestones(board_id, archived=archived),
        list_options=[click.option("--archived", is_flag=True, help="Include archived milestones.")],
        create=lambda client, board_id, title, due_at: client.create_milestone(board_id, title, due_at),
        create_options=[due_option()],
        edit=_edit_milestone,
        edit_options=[
            click.option("--title"),
            due_option(clears=True),
            click.option("--archive/--unarchive", default=None),
        ],
        delete=lambda client: client.delete_milestone,
    )
)


def _check_field_options(kind: str, options: tuple[str, ...]) -> None:
    if options and kind != "select":
        raise UsageError("--option only makes sense with --type select")


fields = board_resource_group(
    BoardResource[CustomField](
        group="fields",
        help="Custom fields of a board (values are set with `msk cards field`).",
        kind="custom field",
        noun="field",
        title="Custom fields",
        columns=["id", "name", "type", "options"],
        row=lambda f: (f.id, f.name, f.type, ", ".join(f.options)),
        lookup=lambda client, board_id: client.custom_fields(board_id),
        check_create=_check_field_options,
        create=lambda client, board_id, name, kind, options: client.create_custom_field(board_id, name, kind, options),
        create_options=[
            click.option(
                "--type",
                "kind",
                type=click.Choice(CUSTOM_FIELD_TYPES),
                default="text",
                show_default=True,
            ),
            click.option("--option", "options", multiple=True, help="A choice of a select field (repeat)."),
        ],
        edit=lambda client, field_id, board_id, name, options: client.update_custom_field(
            field_id, name=name, options=options or None, board_id=board_id
        ),
        edit_options=[
            click.option("--name"),
            click.option("--option", "options", multiple=True, help="Replace the choices (repeat)."),
        ],
        delete=lambda client: client.delete_custom_field,
    )
)

templates = board_resource_group(
    BoardResource[CardTemplate](
        group="templates",
        help="Card templates of a board.",
        kind="template",
        noun="template",
        label="title",
        title="Card templates",
        columns=["id", "title", "body"],
        row=lambda t: (t.id, t.title, t.body),
        lookup=lambda client, board_id: client.card_templates(board_id),
        create=lambda client, board_id, title, body: client.create_card_template(board_id, title, body),
        create_options=[click.option("--body", default="", help="Markdown body of cards made from it.")],
        delete=lambda client: client.delete_card_template,
    )
)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object")
    return value


def _edit_automation(
    client: Client,
    automation_id: str,
    board_id: str,
    name: str | None,
    trigger: str | None,
    action: str | None,
    enable: bool | None,
) -> Automation:
    return client.update_automation(
        automation_id,
        name=name,
        enabled=enable,
        board_id=board_id,
        trigger=None if trigger is None else _json_object(trigger, "--trigger"),
        action=None if action is None else _json_object(action, "--action"),
    )


automations = board_resource_group(
    BoardResource[Automation](
        group="automations",
        help="Automations of a board (trigger and action hold ids only: the server runs them without keys).",
        kind="automation",
        noun="automation",
        title="Automations",
        columns=["id", "name", "trigger", "action", "enabled"],
        row=lambda a: (
            a.id,
            a.name,
            json.dumps(dict(a.trigger)),
            json.dumps(dict(a.action)),
            "yes" if a.enabled else "no",
        ),
        lookup=lambda client, board_id: client.automations(board_id),
        create=lambda client, board_id, name, trigger, action, disabled: client.create_automation(
            board_id,
            name,
            _json_object(trigger, "--trigger"),
            _json_object(action, "--action"),
            enabled=not disabled,
        ),
        create_options=[
            click.option("--trigger", required=True, help='JSON, e.g. \'{"type": "card.moved", "columnId": "c…"}\''),
            click.option("--action", required=True, help='JSON, e.g. \'{"type": "label.attach", "labelId": "c…"}\''),
            click.option("--disabled", is_flag=True),
        ],
        edit=_edit_automation,
        edit_options=[
            click.option("--name"),
            click.option("--trigger"),
            click.option("--action"),
            click.option("--enable/--disable", default=None),
        ],
        delete=lambda client: client.delete_automation,
    )
)
