"""Resource commands: workspaces, members, boards, columns, labels, milestones, custom fields,
card templates and automations.  Cards live in `_cards.py`.

Every read and create takes `--json`; otherwise a rich table.  Ids or unambiguous
names are accepted wherever a thing is named (see `_resolve.py`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from .._errors import KeyTrustError, UsageError
from .._profile import CUSTOM_FIELD_TYPES, DEFAULT_LABEL_COLOR, ROLES
from ..crypto import fingerprint, fingerprint_matches
from ._context import CliContext, global_options
from ._resolve import (
    Resolver,
    board_option,
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
    items = ctx.unlocked_client().workspaces()
    emit_models(ctx, "Workspaces", ["id", "name", "owner"], items, lambda w: (w.id, w.name, w.owner_id))


@workspaces.command("show")
@click.argument("workspace")
@global_options
def workspaces_show(ctx: CliContext, workspace: str) -> None:
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
    w = ctx.unlocked_client().create_workspace(name)
    done(ctx, f"Created workspace {w.name!r} ({w.id})", model_json(w))


@workspaces.command("rename")
@click.argument("workspace")
@click.argument("name")
@global_options
def workspaces_rename(ctx: CliContext, workspace: str, name: str) -> None:
    r = Resolver(ctx.unlocked_client())
    w = r.client.rename_workspace(r.workspace(workspace).id, name)
    done(ctx, f"Renamed workspace {w.id} to {w.name!r}", model_json(w))


@workspaces.command("delete")
@click.argument("workspace")
@yes_option
@global_options
def workspaces_delete(ctx: CliContext, workspace: str, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    w = r.workspace(workspace)
    delete_confirmed(ctx, yes, "workspace", f"{w.name!r} ({w.id}) and all its boards", w.id, r.client.delete_workspace)


# --- members -------------------------------------------------------------------------------
@click.group()
def members() -> None:
    """Workspace members: invite (seals the workspace key to them), remove, role, trust, verify."""


_ws_option = click.option(
    "--workspace", "workspace", metavar="WS", help="Workspace id or name (default: your only one)."
)


@members.command("list")
@_ws_option
@global_options
def members_list(ctx: CliContext, workspace: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    items = r.client.members(r.workspace(workspace).id)
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
@click.argument("member")
@_ws_option
@yes_option
@global_options
def members_remove(ctx: CliContext, member: str, workspace: str | None, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    ws = r.workspace(workspace)
    m = r.member(ws.id, member)
    confirm_delete(yes, f"member {m.email} from {ws.name!r}")
    r.client.remove_member(ws.id, m.user_id)
    done(ctx, f"Removed {m.email} from {ws.name!r}")


@members.command("role")
@click.argument("member")
@click.argument("role", type=_ROLES)
@_ws_option
@global_options
def members_role(ctx: CliContext, member: str, role: str, workspace: str | None) -> None:
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
@click.option("--workspace", metavar="WS", help="Only this workspace (id or name).")
@global_options
def boards_list(ctx: CliContext, workspace: str | None) -> None:
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
@click.argument("board")
@global_options
def boards_show(ctx: CliContext, board: str) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    cols = r.client.columns(b.id)
    cards = r.client.cards(b.id)
    data = {
        **model_json(b),
        "columns": [{**model_json(c), "cards": model_json([k for k in cards if k.column_id == c.id])} for c in cols],
    }

    def render() -> Any:
        grid = table(
            f"{b.title} ({b.id})", [f"{c.title} [{sum(k.column_id == c.id for k in cards)}]" for c in cols], []
        )
        per = [[k.title for k in cards if k.column_id == c.id and not k.archived] for c in cols]
        for i in range(max((len(p) for p in per), default=0)):
            grid.add_row(*(rich_text(p[i] if i < len(p) else "") for p in per))
        return grid

    ctx.emit(data, render)


@boards.command("create")
@click.argument("title")
@click.option("--workspace", metavar="WS", help="Workspace id or name (default: your only one).")
@click.option("--description", default="", help="Markdown description.")
@global_options
def boards_create(ctx: CliContext, title: str, workspace: str | None, description: str) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.client.create_board(r.workspace(workspace).id, title, description)
    done(ctx, f"Created board {b.title!r} ({b.id})", model_json(b))


@boards.command("edit")
@click.argument("board")
@click.option("--title")
@click.option("--description")
@click.option("--archive/--unarchive", default=None)
@global_options
def boards_edit(ctx: CliContext, board: str, title: str | None, description: str | None, archive: bool | None) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.client.update_board(r.board(board).id, title=title, description=description, archived=archive)
    done(ctx, f"Updated board {b.title!r} ({b.id})", model_json(b))


@boards.command("delete")
@click.argument("board")
@yes_option
@global_options
def boards_delete(ctx: CliContext, board: str, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    delete_confirmed(ctx, yes, "board", f"{b.title!r} ({b.id})", b.id, r.client.delete_board)


# --- columns -------------------------------------------------------------------------------
@click.group()
def columns() -> None:
    """Columns of a board."""


@columns.command("list")
@board_option
@global_options
def columns_list(ctx: CliContext, board: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    items = r.client.columns(r.board(board).id)
    emit_models(
        ctx,
        "Columns",
        ["id", "title", "position", "WIP limit"],
        items,
        lambda c: (c.id, c.title, c.position, c.wip_limit),
    )


@columns.command("create")
@click.argument("title")
@board_option
@click.option("--wip-limit", type=click.IntRange(min=0))
@click.option("--position", type=float)
@global_options
def columns_create(
    ctx: CliContext, title: str, board: str | None, wip_limit: int | None, position: float | None
) -> None:
    r = Resolver(ctx.unlocked_client())
    c = r.client.create_column(r.board(board).id, title, position=position, wip_limit=wip_limit)
    done(ctx, f"Created column {c.title!r} ({c.id})", model_json(c))


@columns.command("edit")
@click.argument("column")
@board_option
@click.option("--title")
@click.option("--wip-limit", type=click.IntRange(min=0))
@click.option("--no-wip-limit", is_flag=True, help="Remove the WIP limit.")
@click.option("--position", type=float)
@global_options
def columns_edit(
    ctx: CliContext,
    column: str,
    board: str | None,
    title: str | None,
    wip_limit: int | None,
    no_wip_limit: bool,
    position: float | None,
) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    col = r.column(b.id, column)
    kwargs: dict[str, Any] = {"title": title, "position": position, "board_id": b.id}
    if no_wip_limit or wip_limit is not None:
        kwargs["wip_limit"] = None if no_wip_limit else wip_limit
    c = r.client.update_column(col.id, **kwargs)
    done(ctx, f"Updated column {c.title!r} ({c.id})", model_json(c))


@columns.command("delete")
@click.argument("column")
@board_option
@yes_option
@global_options
def columns_delete(ctx: CliContext, column: str, board: str | None, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    col = r.column(r.board(board).id, column)
    delete_confirmed(ctx, yes, "column", f"{col.title!r} ({col.id})", col.id, r.client.delete_column)


# --- labels --------------------------------------------------------------------------------
@click.group()
def labels() -> None:
    """Labels of a board."""


@labels.command("list")
@board_option
@global_options
def labels_list(ctx: CliContext, board: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    items = r.client.labels(r.board(board).id)
    emit_models(ctx, "Labels", ["id", "name", "color"], items, lambda x: (x.id, x.name, x.color))


@labels.command("create")
@click.argument("name")
@board_option
@click.option("--color", default=DEFAULT_LABEL_COLOR, show_default=True, help="#rrggbb")
@global_options
def labels_create(ctx: CliContext, name: str, board: str | None, color: str) -> None:
    r = Resolver(ctx.unlocked_client())
    x = r.client.create_label(r.board(board).id, name, color)
    done(ctx, f"Created label {x.name!r} ({x.id})", model_json(x))


@labels.command("edit")
@click.argument("label")
@board_option
@click.option("--name")
@click.option("--color")
@global_options
def labels_edit(ctx: CliContext, label: str, board: str | None, name: str | None, color: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    found = r.named("label", label, r.client.labels(b.id))
    x = r.client.update_label(found.id, name=name, color=color, board_id=b.id)
    done(ctx, f"Updated label {x.name!r} ({x.id})", model_json(x))


@labels.command("delete")
@click.argument("label")
@board_option
@yes_option
@global_options
def labels_delete(ctx: CliContext, label: str, board: str | None, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    found = r.named("label", label, r.client.labels(r.board(board).id))
    delete_confirmed(ctx, yes, "label", f"{found.name!r}", found.id, r.client.delete_label)


# --- milestones ----------------------------------------------------------------------------
@click.group()
def milestones() -> None:
    """Milestones of a board."""


@milestones.command("list")
@board_option
@click.option("--archived", is_flag=True, help="Include archived milestones.")
@global_options
def milestones_list(ctx: CliContext, board: str | None, archived: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    items = r.client.milestones(r.board(board).id, archived=archived)
    emit_models(
        ctx,
        "Milestones",
        ["id", "title", "due", "archived"],
        items,
        lambda m: (m.id, m.title, m.due_at, "yes" if m.archived else ""),
    )


@milestones.command("create")
@click.argument("title")
@board_option
@click.option("--due", "due_at", help="ISO 8601 due date.")
@global_options
def milestones_create(ctx: CliContext, title: str, board: str | None, due_at: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    m = r.client.create_milestone(r.board(board).id, title, due_at)
    done(ctx, f"Created milestone {m.title!r} ({m.id})", model_json(m))


@milestones.command("edit")
@click.argument("milestone")
@board_option
@click.option("--title")
@click.option("--due", "due_at")
@click.option("--archive/--unarchive", default=None)
@global_options
def milestones_edit(
    ctx: CliContext, milestone: str, board: str | None, title: str | None, due_at: str | None, archive: bool | None
) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    found = r.named("milestone", milestone, r.client.milestones(b.id, archived=True), "title")
    kwargs: dict[str, Any] = {"title": title, "archived": archive, "board_id": b.id}
    if due_at is not None:
        kwargs["due_at"] = due_at or None
    m = r.client.update_milestone(found.id, **kwargs)
    done(ctx, f"Updated milestone {m.title!r} ({m.id})", model_json(m))


@milestones.command("delete")
@click.argument("milestone")
@board_option
@yes_option
@global_options
def milestones_delete(ctx: CliContext, milestone: str, board: str | None, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    found = r.named("milestone", milestone, r.client.milestones(r.board(board).id, archived=True), "title")
    delete_confirmed(ctx, yes, "milestone", f"{found.title!r}", found.id, r.client.delete_milestone)


# --- custom fields -------------------------------------------------------------------------
@click.group()
def fields() -> None:
    """Custom fields of a board (values are set with `msk cards field`)."""


@fields.command("list")
@board_option
@global_options
def fields_list(ctx: CliContext, board: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    items = r.client.custom_fields(r.board(board).id)
    emit_models(
        ctx,
        "Custom fields",
        ["id", "name", "type", "options"],
        items,
        lambda f: (f.id, f.name, f.type, ", ".join(f.options)),
    )


@fields.command("create")
@click.argument("name")
@board_option
@click.option(
    "--type",
    "kind",
    type=click.Choice(CUSTOM_FIELD_TYPES),
    default="text",
    show_default=True,
)
@click.option("--option", "options", multiple=True, help="A choice of a select field (repeat).")
@global_options
def fields_create(ctx: CliContext, name: str, board: str | None, kind: str, options: tuple[str, ...]) -> None:
    if options and kind != "select":
        raise UsageError("--option only makes sense with --type select")
    r = Resolver(ctx.unlocked_client())
    f = r.client.create_custom_field(r.board(board).id, name, kind, options)
    done(ctx, f"Created field {f.name!r} ({f.id})", model_json(f))


@fields.command("edit")
@click.argument("field")
@board_option
@click.option("--name")
@click.option("--option", "options", multiple=True, help="Replace the choices (repeat).")
@global_options
def fields_edit(ctx: CliContext, field: str, board: str | None, name: str | None, options: tuple[str, ...]) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    found = r.named("custom field", field, r.client.custom_fields(b.id))
    f = r.client.update_custom_field(found.id, name=name, options=options or None, board_id=b.id)
    done(ctx, f"Updated field {f.name!r} ({f.id})", model_json(f))


@fields.command("delete")
@click.argument("field")
@board_option
@yes_option
@global_options
def fields_delete(ctx: CliContext, field: str, board: str | None, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    found = r.named("custom field", field, r.client.custom_fields(r.board(board).id))
    delete_confirmed(ctx, yes, "custom field", f"{found.name!r}", found.id, r.client.delete_custom_field)


# --- card templates ------------------------------------------------------------------------
@click.group()
def templates() -> None:
    """Card templates of a board."""


@templates.command("list")
@board_option
@global_options
def templates_list(ctx: CliContext, board: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    items = r.client.card_templates(r.board(board).id)
    emit_models(ctx, "Card templates", ["id", "title", "body"], items, lambda t: (t.id, t.title, t.body))


@templates.command("create")
@click.argument("title")
@board_option
@click.option("--body", default="", help="Markdown body of cards made from it.")
@global_options
def templates_create(ctx: CliContext, title: str, board: str | None, body: str) -> None:
    r = Resolver(ctx.unlocked_client())
    t = r.client.create_card_template(r.board(board).id, title, body)
    done(ctx, f"Created template {t.title!r} ({t.id})", model_json(t))


@templates.command("delete")
@click.argument("template")
@board_option
@yes_option
@global_options
def templates_delete(ctx: CliContext, template: str, board: str | None, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    found = r.named("template", template, r.client.card_templates(r.board(board).id), "title")
    delete_confirmed(ctx, yes, "template", f"{found.title!r}", found.id, r.client.delete_card_template)


# --- automations ---------------------------------------------------------------------------
@click.group()
def automations() -> None:
    """Automations of a board (trigger and action hold ids only: the server runs them without keys)."""


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object")
    return value


@automations.command("list")
@board_option
@global_options
def automations_list(ctx: CliContext, board: str | None) -> None:
    r = Resolver(ctx.unlocked_client())
    items = r.client.automations(r.board(board).id)
    emit_models(
        ctx,
        "Automations",
        ["id", "name", "trigger", "action", "enabled"],
        items,
        lambda a: (a.id, a.name, json.dumps(dict(a.trigger)), json.dumps(dict(a.action)), "yes" if a.enabled else "no"),
    )


@automations.command("create")
@click.argument("name")
@board_option
@click.option("--trigger", required=True, help='JSON, e.g. \'{"type": "card.moved", "columnId": "c…"}\'')
@click.option("--action", required=True, help='JSON, e.g. \'{"type": "label.attach", "labelId": "c…"}\'')
@click.option("--disabled", is_flag=True)
@global_options
def automations_create(
    ctx: CliContext, name: str, board: str | None, trigger: str, action: str, disabled: bool
) -> None:
    r = Resolver(ctx.unlocked_client())
    a = r.client.create_automation(
        r.board(board).id,
        name,
        _json_object(trigger, "--trigger"),
        _json_object(action, "--action"),
        enabled=not disabled,
    )
    done(ctx, f"Created automation {a.name!r} ({a.id})", model_json(a))


@automations.command("edit")
@click.argument("automation")
@board_option
@click.option("--name")
@click.option("--trigger")
@click.option("--action")
@click.option("--enable/--disable", default=None)
@global_options
def automations_edit(
    ctx: CliContext,
    automation: str,
    board: str | None,
    name: str | None,
    trigger: str | None,
    action: str | None,
    enable: bool | None,
) -> None:
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    found = r.named("automation", automation, r.client.automations(b.id))
    a = r.client.update_automation(
        found.id,
        name=name,
        enabled=enable,
        board_id=b.id,
        trigger=None if trigger is None else _json_object(trigger, "--trigger"),
        action=None if action is None else _json_object(action, "--action"),
    )
    done(ctx, f"Updated automation {a.name!r} ({a.id})", model_json(a))


@automations.command("delete")
@click.argument("automation")
@board_option
@yes_option
@global_options
def automations_delete(ctx: CliContext, automation: str, board: str | None, yes: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    found = r.named("automation", automation, r.client.automations(r.board(board).id))
    delete_confirmed(ctx, yes, "automation", f"{found.name!r}", found.id, r.client.delete_automation)
