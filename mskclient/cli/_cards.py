"""`msk cards …`: list, show, create, edit, move, archive, delete, label, assign, milestone,
comment, checklist, check, field, attach, download.

A card is named by id, or by title together with `--board`.
"""

from __future__ import annotations

import mimetypes
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

from .._atomic import atomic_replace
from .._errors import UsageError
from .._models import Card, Member
from ..export import safe_name
from ._complete import complete_card, complete_column, complete_label, complete_member, complete_workspace
from ._context import CliContext, global_options
from ._params import due_option, field_value
from ._resolve import (
    Resolver,
    appended_line,
    board_option,
    delete_confirmed,
    done,
    emit_models,
    model_json,
    table,
    yes_option,
)
from ._search import CardFilter, search_boards
from ._transfer import ReadProgress, WriteProgress, transfer_progress
from ._units import counted, human_size
from ._untrusted import rich_text, visible

__all__ = ["cards"]


@click.group()
def cards() -> None:
    """Cards: everything on and around a card."""


@cards.command("list")
@board_option
@click.option("--column", help="Only this column (id or title).", shell_complete=complete_column)
@click.option("--archived", is_flag=True, help="Include archived cards.")
@click.option("--all", "all_boards", is_flag=True, help="Search every board of the account (or of --workspace).")
@click.option(
    "--workspace", help="With --all: only this workspace's boards (id or name).", shell_complete=complete_workspace
)
@click.option("--label", help="Only cards with this label (id or name).", shell_complete=complete_label)
@click.option(
    "--assignee",
    metavar="me|EMAIL",
    help="Only cards assigned to this member (`me`: you).",
    shell_complete=complete_member,
)
@click.option("--due-before", metavar="DATE", help="Only cards due before DATE (as --due: 2026-12-24, +3d, …).")
@click.option("--text", metavar="WORDS", help="Only cards whose title, description or comments hold every word.")
@global_options
def cards_list(
    ctx: CliContext,
    board: str | None,
    column: str | None,
    archived: bool,
    all_boards: bool,
    workspace: str | None,
    label: str | None,
    assignee: str | None,
    due_before: str | None,
    text: str | None,
) -> None:
    """List the cards of a board, column by column (archived ones with --archived), or with --all
    search every board.  The filters combine (AND) and run locally, on the decrypted cards."""
    wanted = CardFilter.parse(label, assignee, due_before, text)
    if all_boards:
        if board is not None or column is not None:
            raise UsageError("--all searches every board: leave out --board and --column")
        _list_everywhere(ctx, workspace, wanted, archived)
        return
    if workspace is not None:
        raise UsageError("--workspace goes with --all (a board is named by --board)")
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    columns = {c.id: c.title for c in r.columns(b.id)}
    items = r.cards(b.id)
    if column is not None:
        wanted_column = r.column(b.id, column).id
        items = [c for c in items if c.column_id == wanted_column]
    if not archived:
        items = [c for c in items if not c.archived]
    items = wanted.matching(r, b, items)
    emit_models(
        ctx,
        f"Cards of {b.title}",
        ["id", "title", "column", "due", "💬", "☑", "📎", *(["archived"] if archived else [])],
        items,
        lambda c: (
            c.id,
            c.title,
            columns.get(c.column_id, c.column_id),
            c.due_at,
            c.comment_count or "",
            c.checklist_count or "",
            c.attachment_count or "",
            *(["archived" if c.archived else ""] if archived else []),
        ),
    )


def _list_everywhere(ctx: CliContext, workspace: str | None, wanted: CardFilter, archived: bool) -> None:
    r = Resolver(ctx.unlocked_client())
    spaces = [r.workspace(workspace)] if workspace is not None else r.workspaces()
    found = search_boards(r, (b for w in spaces for b in r.boards(w.id)), wanted, archived=archived)
    data = [{**model_json(f.card), "boardTitle": f.board.title, "columnTitle": f.column} for f in found]
    ctx.emit(
        data,
        lambda: table(
            f"Cards on {counted(len({f.board.id for f in found}), 'board')}",
            ["id", "board", "title", "column", "due", *(["archived"] if archived else [])],
            (
                (
                    f.card.id,
                    f.board.title,
                    f.card.title,
                    f.column,
                    f.card.due_at,
                    *(["archived" if f.card.archived else ""] if archived else []),
                )
                for f in found
            ),
        ),
    )


#: Groups of the key fingerprint shown beside a comment's author (`msk members list` shows all 8).
_SHORT_FINGERPRINT_GROUPS = 4


def _render_card(r: Resolver, card: Card) -> Any:
    labels = {x.id: x.name for x in r.labels(card.board_id)}
    milestones = {m.id: m.title for m in r.client.milestones(card.board_id, archived=True)}
    columns = {c.id: c.title for c in r.columns(card.board_id)}
    fields = {f.id: f.name for f in r.client.custom_fields(card.board_id)} if card.custom_fields else {}
    members = {m.user_id: m for m in r.members(r.client.board(card.board_id).workspace_id)}
    emails = {i: m.email for i, m in members.items()}
    facts = [
        f"id {card.id} · version {card.version}",
        f"column: {visible(columns.get(card.column_id, card.column_id))}",
        "labels: " + ", ".join(visible(labels.get(i, i)) for i in card.label_ids) if card.label_ids else "",
        "assignees: " + ", ".join(visible(emails.get(i, i)) for i in card.assignee_ids) if card.assignee_ids else "",
        f"milestone: {visible(milestones.get(card.milestone_id, card.milestone_id))}" if card.milestone_id else "",
        f"due: {visible(card.due_at)}" if card.due_at else "",
        *(f"{visible(fields.get(i, i))}: {visible(v)}" for i, v in card.custom_fields.items()),
    ]
    parts: list[Any] = [Text("\n".join(f for f in facts if f), style="dim")]
    if card.archived:
        parts.insert(0, Text("ARCHIVED", style="bold yellow"))
    if card.description:
        parts.append(Markdown(_hard_breaks(visible(card.description, multiline=True)), hyperlinks=False))
    for checklist in card.checklists or ():
        lines = Text("\n").join(
            Text.assemble(f"{'☑' if i.done else '☐'} ", rich_text(i.text), "  ", (i.id, "dim")) for i in checklist.items
        )
        parts.append(Panel(lines or Text("(empty)"), title=rich_text(checklist.title), title_align="left"))
    for comment in card.comments or ():
        title = Text.assemble(_author(r, members.get(comment.author_id), comment.author_id), f" · {comment.created_at}")
        parts.append(Panel(rich_text(comment.body, multiline=True), title=title, title_align="left"))
    for a in card.attachments or ():
        parts.append(rich_text(f"📎 {a.name} ({a.mime}, {human_size(a.size)}) {a.id}"))
    return Panel(Group(*parts), title=rich_text(card.title, "bold"), title_align="left")


_FENCE = ("```", "~~~")


def _hard_breaks(markdown: str) -> str:
    """The description with each line break kept, as its author typed it: Markdown would join
    consecutive lines into one paragraph, so each line outside code fences ends in a hard break."""
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith(_FENCE):
            fenced = not fenced
        lines.append(line if fenced or not line.strip() or line.lstrip().startswith(_FENCE) else line + "  ")
    return "\n".join(lines)


def _author(r: Resolver, member: Member | None, author_id: str) -> Text:
    """Who wrote a comment: email and the start of their key fingerprint, so a look-alike email
    (another account) shows another fingerprint; a key changed since it was pinned says so."""
    if member is None:
        return Text.assemble(rich_text(author_id), (" (no longer a member)", "dim"))
    short = " ".join(member.fingerprint.split()[:_SHORT_FINGERPRINT_GROUPS])
    trust = ("", "") if r.client.key_trusted(member) else (" KEY CHANGED", "bold red")
    return Text.assemble(rich_text(member.email), (f" [{short}]", "dim"), trust)


@cards.command("show")
@click.argument("card", shell_complete=complete_card)
@board_option
@global_options
def cards_show(ctx: CliContext, card: str, board: str | None) -> None:
    """Show one card with its description, checklists, comments and attachments."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    ctx.emit(model_json(c), lambda: _render_card(r, c))


def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


@cards.command("create")
@click.argument("title")
@board_option
@click.option(
    "--column", help="Column id or title (default: the board's first column).", shell_complete=complete_column
)
@click.option("--description", help="Markdown description.")
@click.option(
    "--description-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the description from a file."
)
@click.option("--edit", "use_editor", is_flag=True, help="Write the description in $EDITOR.")
@due_option()
@global_options
def cards_create(
    ctx: CliContext,
    title: str,
    board: str | None,
    column: str | None,
    description: str | None,
    description_file: Path | None,
    use_editor: bool,
    due_at: str | None,
) -> None:
    """Create a card in a column of a board."""
    if description is not None and description_file is not None:
        raise UsageError("give --description or --description-file, not both")
    text = _read_text(description_file) if description_file is not None else description or ""
    if use_editor:
        text = in_editor(text, "description")
    r = Resolver(ctx.unlocked_client())
    b = r.board(board)
    c = r.client.create_card(_column_for_new_card(r, b.id, column), title, text, due_at=due_at, board_id=b.id)
    done(ctx, f"Created card {c.title!r} ({c.id})", model_json(c))


def _column_for_new_card(r: Resolver, board_id: str, column: str | None) -> str:
    if column is not None:
        return r.column(board_id, column).id
    columns = r.columns(board_id)
    if not columns:
        raise UsageError("the board has no column yet: create one with `msk columns create TITLE --board BOARD`")
    return columns[0].id


def in_editor(text: str, what: str) -> str:
    """`text` as edited in $VISUAL / $EDITOR (as gh does); refused when the editor saved nothing.

    The editor works on a temporary file of the user's own (mode 0600) that is deleted when it
    closes: the plaintext is on disk for as long as the editor is open.
    """
    edited = click.edit(text, extension=".md", require_save=True)
    if edited is None:
        raise UsageError(f"the {what} was not saved in the editor: nothing changed")
    return edited


def _transform(
    description_file: Path | None,
    description: str | None,
    append: str | None,
    replace: tuple[str, str] | None,
    use_editor: bool,
) -> Callable[[str], str] | None:
    """How the description changes; with --edit the editor's text is known only once the card is read."""
    chosen = [o for o in (description_file, description, append, replace, use_editor or None) if o is not None]
    if len(chosen) > 1:
        raise UsageError("give only one of --description, --description-file, --edit, --append and --replace")
    if use_editor:
        return lambda old: old
    if description_file is not None or description is not None:
        content = _read_text(description_file) if description_file is not None else description or ""
        return lambda _: content
    if append is not None:
        return lambda old: old + appended_line(old, append)
    if replace is not None:
        before, after = replace

        def swap(old: str) -> str:
            if before not in old:
                raise UsageError(f"the description does not contain {before!r}")
            return old.replace(before, after)

        return swap
    return None


@cards.command("edit")
@click.argument("card", shell_complete=complete_card)
@board_option
@click.option("--title")
@click.option(
    "--description-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make the description this file's text (a minimal edit, merged with concurrent ones).",
)
@click.option("--description", help="Make the description this text (a minimal edit, as with a file).")
@click.option("--edit", "use_editor", is_flag=True, help="Edit the description in $EDITOR.")
@click.option("--append", help="Append a line to the description.")
@click.option("--replace", nargs=2, metavar="OLD NEW", help="Replace OLD by NEW in the description.")
@due_option(clears=True)
@click.option("--clear", "clear", multiple=True, type=click.Choice(["due", "description"]), help="Empty a value.")
@global_options
def cards_edit(
    ctx: CliContext,
    card: str,
    board: str | None,
    title: str | None,
    description_file: Path | None,
    description: str | None,
    use_editor: bool,
    append: str | None,
    replace: tuple[str, str] | None,
    due_at: str | None,
    clear: tuple[str, ...],
) -> None:
    """Edit safely: If-Match on the card version, re-read and merge on a conflict.

    Description changes are minimal Yjs edits, so text someone is typing in a browser at
    the same moment survives, and they reach live editors at once.
    """
    if "due" in clear:
        if due_at:
            raise UsageError("give --due DATE or --clear due, not both")
        due_at = ""
    if "description" in clear:
        description = "" if description is None else description
    transform = _transform(description_file, description, append, replace, use_editor)
    if title is None and transform is None and due_at is None:
        raise UsageError("nothing to change: give --title, --due, --clear or a description option")
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    if use_editor:
        edited = in_editor(c.description, "description")
        transform = lambda _: edited  # noqa: E731
    if transform is not None:
        from ..live import edit_description  # imported here: it pulls in the WebSocket stack

        # a minimal Yjs edit, saved with If-Match (merged on 409) and sent to anyone editing it live
        c = edit_description(r.client, c.id, transform, base=c)
    if title is not None or due_at is not None:
        kwargs: dict[str, Any] = {"title": title, "base": c}
        if due_at is not None:
            kwargs["due_at"] = due_at or None
        c = r.client.edit_card(c.id, **kwargs)
    done(ctx, f"Updated card {c.title!r} ({c.id}) to version {c.version}", model_json(c))


@cards.command("move")
@click.argument("card", shell_complete=complete_card)
@board_option
@click.option("--to", "to_column", required=True, help="Target column id or title.", shell_complete=complete_column)
@click.option("--before", help="Place before this card (id or title).", shell_complete=complete_card)
@click.option("--after", help="Place after this card (id or title).", shell_complete=complete_card)
@global_options
def cards_move(
    ctx: CliContext, card: str, board: str | None, to_column: str, before: str | None, after: str | None
) -> None:
    """Move a card to another column, optionally before or after another card."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    target = r.column(c.board_id, to_column)
    before_id = None if before is None else r.card(before, board or c.board_id).id
    after_id = None if after is None else r.card(after, board or c.board_id).id
    moved = r.client.move_card(c.id, target.id, before_card_id=before_id, after_card_id=after_id)
    done(ctx, f"Moved {moved.title!r} to {target.title!r}", model_json(moved))


@cards.command("archive")
@click.argument("card", shell_complete=complete_card)
@board_option
@click.option("--undo", is_flag=True, help="Unarchive instead.")
@global_options
def cards_archive(ctx: CliContext, card: str, board: str | None, undo: bool) -> None:
    """Archive a card (or unarchive it with --undo)."""
    r = Resolver(ctx.unlocked_client())
    c = r.client.archive_card(r.card(card, board).id, not undo)
    done(ctx, f"{'Unarchived' if undo else 'Archived'} {c.title!r}", model_json(c))


@cards.command("delete")
@click.argument("card", shell_complete=complete_card)
@board_option
@yes_option
@global_options
def cards_delete(ctx: CliContext, card: str, board: str | None, yes: bool) -> None:
    """Delete a card (asks first, unless --yes)."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    delete_confirmed(ctx, yes, "card", f"{c.title!r} ({c.id})", c.id, r.client.delete_card)


@cards.command("label")
@click.argument("card", shell_complete=complete_card)
@click.argument("label", shell_complete=complete_label)
@board_option
@click.option("--remove", is_flag=True)
@global_options
def cards_label(ctx: CliContext, card: str, label: str, board: str | None, remove: bool) -> None:
    """Attach a label to a card (or detach it with --remove)."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    x = r.named("label", label, r.labels(c.board_id))
    if remove:
        r.client.remove_label(c.id, x.id)
    else:
        r.client.add_label(c.id, x.id)
    done(ctx, f"{'Removed' if remove else 'Added'} label {x.name!r} {'from' if remove else 'to'} {c.title!r}")


@cards.command("assign")
@click.argument("card", shell_complete=complete_card)
@click.argument("member", shell_complete=complete_member)
@board_option
@click.option("--remove", is_flag=True, help="Unassign instead.")
@global_options
def cards_assign(ctx: CliContext, card: str, member: str, board: str | None, remove: bool) -> None:
    """Assign MEMBER (email or user id) to CARD."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    m = r.member(r.client.board(c.board_id).workspace_id, member)
    if remove:
        r.client.unassign(c.id, m.user_id)
    else:
        r.client.assign(c.id, m.user_id)
    done(ctx, f"{'Unassigned' if remove else 'Assigned'} {m.email} {'from' if remove else 'to'} {c.title!r}")


@cards.command("milestone")
@click.argument("card", shell_complete=complete_card)
@click.argument("milestone", required=False)
@board_option
@click.option("--remove", is_flag=True, help="Take the card out of its milestone.")
@click.option("--clear", "clear_alias", is_flag=True, hidden=True)
@global_options
def cards_milestone(
    ctx: CliContext, card: str, milestone: str | None, board: str | None, remove: bool, clear_alias: bool
) -> None:
    """Put a card in a milestone (or take it out with --remove)."""
    remove = remove or clear_alias
    if (milestone is None) == (not remove):
        raise UsageError("give MILESTONE or --remove")
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    m = None if milestone is None else r.named("milestone", milestone, r.client.milestones(c.board_id), "title")
    r.client.set_milestone(c.id, None if m is None else m.id)
    done(ctx, f"Milestone of {c.title!r}: {m.title if m else 'none'}")


@cards.command("comment")
@click.argument("card", shell_complete=complete_card)
@click.argument("text", required=False)
@board_option
@global_options
def cards_comment(ctx: CliContext, card: str, text: str | None, board: str | None) -> None:
    """Add a comment; TEXT '-' reads it from stdin; without TEXT on a terminal, $EDITOR opens."""
    if text is None and not sys.stdin.isatty():
        raise UsageError("give the comment TEXT, or '-' to read it from stdin")
    body = sys.stdin.read() if text == "-" else text if text is not None else in_editor("", "comment")
    r = Resolver(ctx.unlocked_client())
    comment = r.client.add_comment(r.card(card, board).id, body)
    done(ctx, f"Commented ({comment.id})", model_json(comment))


@cards.command("checklist")
@click.argument("card", shell_complete=complete_card)
@click.argument("title")
@board_option
@click.option("--item", "items", multiple=True, help="An item (repeat).")
@global_options
def cards_checklist(ctx: CliContext, card: str, title: str, board: str | None, items: tuple[str, ...]) -> None:
    """Add a checklist with its items."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    checklist = r.client.add_checklist(c.id, title)
    added = [r.client.add_item(checklist.id, text, board_id=c.board_id) for text in items]
    data = {**model_json(checklist), "items": model_json(added)}
    done(ctx, f"Added checklist {title!r} with {len(added)} item(s) ({checklist.id})", data)


@cards.command("check")
@click.argument("card", shell_complete=complete_card)
@click.argument("item")
@board_option
@click.option("--undo", is_flag=True, help="Mark as not done.")
@global_options
def cards_check(ctx: CliContext, card: str, item: str, board: str | None, undo: bool) -> None:
    """Tick a checklist ITEM (id or text) of CARD."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    found = r.named("checklist item", item, [i for cl in c.checklists or () for i in cl.items], "text")
    updated = r.client.update_item(found.id, done=not undo, board_id=c.board_id)
    done(ctx, f"{'☐' if undo else '☑'} {updated.text}", model_json(updated))


@cards.command("field")
@click.argument("card", shell_complete=complete_card)
@click.argument("field")
@click.argument("value", required=False)
@board_option
@click.option("--clear", is_flag=True)
@global_options
def cards_field(ctx: CliContext, card: str, field: str, value: str | None, board: str | None, clear: bool) -> None:
    """Set custom FIELD (id or name) of CARD to VALUE (encrypted), or --clear it."""
    if (value is None) == (not clear):
        raise UsageError("give VALUE or --clear")
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    f = r.named("custom field", field, r.client.custom_fields(c.board_id))
    if value is not None:
        try:
            value = field_value(f.type, value, f.options)
        except ValueError as exc:
            raise UsageError(f"{f.name}: {exc}") from None
    updated = r.client.set_custom_field_value(c.id, f.id, value)
    done(ctx, f"{f.name} = {value if value is not None else '(cleared)'}", model_json(updated))


@cards.command("attach")
@click.argument("card", shell_complete=complete_card)
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@board_option
@click.option("--name", help="Name to store (default: the file's name).")
@click.option("--mime", help="MIME type (default: guessed from the name).")
@global_options
def cards_attach(ctx: CliContext, card: str, file: Path, board: str | None, name: str | None, mime: str | None) -> None:
    """Encrypt FILE (streamed) and attach it to CARD; a progress bar shows on a terminal."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    stored = name or file.name
    kind = mime or mimetypes.guess_type(stored)[0] or "application/octet-stream"
    what = f"encrypting and uploading {stored}"
    with transfer_progress(ctx, what, file.stat().st_size) as advance, ReadProgress(file, advance) as src:
        a = r.client.upload_attachment(c.id, src, stored, kind)
    done(ctx, f"Attached {a.name!r} ({human_size(a.size)}, {a.id})", model_json(a))


@cards.command("download")
@click.argument("card", shell_complete=complete_card)
@click.argument("attachment")
@board_option
@click.option("--out", "target", type=click.Path(path_type=Path), help="File or directory (default: current dir).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@global_options
def cards_download(
    ctx: CliContext, card: str, attachment: str, board: str | None, target: Path | None, force: bool
) -> None:
    """Decrypt ATTACHMENT (id or name) of CARD to a file, streamed and atomically; a progress
    bar shows on a terminal."""
    r = Resolver(ctx.unlocked_client())
    c = r.card(card, board)
    a = r.named("attachment", attachment, list(c.attachments or ()))
    path = target if target is not None and not target.is_dir() else (target or Path(".")) / safe_name(a.name)
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite")
    with transfer_progress(ctx, f"downloading and decrypting {a.name}", a.size) as advance:
        try:
            with atomic_replace(path) as handle, WriteProgress(handle, advance) as sink:
                saved = r.client.download_attachment(a.id, sink)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    done(ctx, f"Saved {saved.name!r} to {path} ({human_size(saved.size)})", {**model_json(saved), "file": str(path)})
