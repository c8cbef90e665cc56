"""`msk import deck|kaiten`: move boards from another kanban tool into MSKanban, encrypted here.

The source is only ever read.  `--dry-run` reads it completely and prints the plan
(what would be created, the warnings, the mutations and the time they take at the
server's limit); a real run executes exactly that plan with a progress bar and ends
with a summary.  A re-run resumes an interrupted import and adds only what is new.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .._errors import UsageError
from .._pacing import Pacer
from .._profile import RATE_LIMITS
from ..importers import (
    KINDS,
    CodecksSource,
    DeckSource,
    Importer,
    KaitenSource,
    Plan,
    Source,
    SourceBoard,
    Summary,
)
from ._context import CliContext, global_options, read_secret
from ._resolve import Resolver
from ._units import counted, human_size, paced_time

__all__ = ["import_group", "mutation_limit"]

#: Environment variable naming the server's mutation limit when it is not the profile's
#: 60 per minute: "300/60" (requests/seconds) or "off" (a sandbox with lifted limits).
LIMIT_ENV = "MSK_MUTATION_LIMIT"


def mutation_limit() -> tuple[int, float] | None:
    """The mutation limit to pace under: $MSK_MUTATION_LIMIT, else the profile's."""
    text = os.environ.get(LIMIT_ENV, "").strip().lower()
    if not text:
        return RATE_LIMITS["mutation"]
    if text == "off":
        return None
    count, _, seconds = text.partition("/")
    try:
        limit = (int(count), float(seconds or "60"))
    except ValueError:
        limit = (0, 0.0)
    if limit[0] < 1 or limit[1] <= 0:
        raise UsageError(f"{LIMIT_ENV} must look like 300/60 (requests/seconds) or off, not {text!r}")
    return limit


@click.group("import")
def import_group() -> None:
    """Import boards from another kanban tool (the source is only read)."""


@import_group.command("deck")
@click.option(
    "--source-url",
    required=True,
    metavar="URL",
    help="The Nextcloud address as in a browser (https://cloud.example.org).",
)
@click.option("--source-user", required=True, metavar="USER", help="The Nextcloud user the app password belongs to.")
@click.option(
    "--source-board",
    "source_boards",
    multiple=True,
    metavar="ID|TITLE",
    help="Import only this Deck board (repeatable; default: every board the user can see).",
)
@click.option(
    "--source-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the Deck app password from this file's first line (else MSK_SOURCE_TOKEN or a prompt).",
)
@click.option("--workspace", metavar="WS", help="Target workspace (id or name; default: your only workspace).")
@click.option("--dry-run", is_flag=True, help="Read the source and print the plan; write nothing anywhere.")
@global_options
def deck(
    ctx: CliContext,
    source_url: str,
    source_user: str,
    source_boards: tuple[str, ...],
    source_token_file: Path | None,
    workspace: str | None,
    dry_run: bool,
) -> None:
    """Import Nextcloud Deck boards: one new MSKanban board per Deck board.

    Stacks become columns, cards keep their order, description (Markdown), due date,
    labels, assignees (matched by email), comments (with the original author and
    time), task lines (as a checklist), attachments and archived state.  Whatever
    cannot be carried is listed in the summary and written into the board.
    """
    secret = read_secret(source_token_file, "MSK_SOURCE_TOKEN", "Deck app password", "source token")
    source = DeckSource(source_url, source_user, secret)
    try:
        _import(ctx, source, source_boards, workspace, dry_run)
    finally:
        source.close()


@import_group.command("kaiten")
@click.option(
    "--source-url",
    required=True,
    metavar="URL",
    help="The company's Kaiten address (https://COMPANY.kaiten.ru).",
)
@click.option(
    "--source-space",
    "source_spaces",
    multiple=True,
    metavar="ID|TITLE",
    help="Import only the boards of this Kaiten space (repeatable; default: every space the token sees).",
)
@click.option(
    "--source-board",
    "source_boards",
    multiple=True,
    metavar="ID|TITLE",
    help="Import only this Kaiten board (repeatable; default: every board of the chosen spaces).",
)
@click.option(
    "--source-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the Kaiten API token from this file's first line (else MSK_SOURCE_TOKEN or a prompt).",
)
@click.option("--workspace", metavar="WS", help="Target workspace (id or name; default: your only workspace).")
@click.option("--dry-run", is_flag=True, help="Read the source and print the plan; write nothing anywhere.")
@global_options
def kaiten(
    ctx: CliContext,
    source_url: str,
    source_spaces: tuple[str, ...],
    source_boards: tuple[str, ...],
    source_token_file: Path | None,
    workspace: str | None,
    dry_run: bool,
) -> None:
    """Import Kaiten boards: one new MSKanban board per Kaiten board.

    Columns and subcolumns ("Doing › Review") become columns; cards keep their order,
    description, due date, tags (as labels), members (assignees, matched by email),
    checklists, comments (with the original author and time), files, archived state;
    lanes, card type, size, done, responsible, block reason and custom properties become
    custom fields.  Whatever cannot be carried is listed in the summary and written into
    the board.  Kaiten's limit of 5 requests per second is kept on the source side.
    """
    secret = read_secret(source_token_file, "MSK_SOURCE_TOKEN", "Kaiten API token", "source token")
    source = KaitenSource(source_url, secret, spaces=source_spaces)
    try:
        _import(ctx, source, source_boards, workspace, dry_run)
    finally:
        source.close()


@import_group.command("codecks")
@click.option(
    "--source-url",
    default="https://api.codecks.io",
    show_default=True,
    metavar="URL",
    help="The Codecks API address.",
)
@click.option(
    "--source-account",
    required=True,
    metavar="SUBDOMAIN",
    help="The organisation's subdomain (team123 for team123.codecks.io).",
)
@click.option(
    "--source-project",
    "source_projects",
    multiple=True,
    metavar="ID|NAME",
    help="Import only the decks of this project (repeatable; default: every project).",
)
@click.option(
    "--source-deck",
    "source_decks",
    multiple=True,
    metavar="ID|TITLE",
    help="Import only this deck (repeatable; default: every deck of the chosen projects).",
)
@click.option(
    "--source-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the Codecks token (the `at` cookie) from this file's first line (else MSK_SOURCE_TOKEN or a prompt).",
)
@click.option("--workspace", metavar="WS", help="Target workspace (id or name; default: your only workspace).")
@click.option("--dry-run", is_flag=True, help="Read the source and print the plan; write nothing anywhere.")
@global_options
def codecks(
    ctx: CliContext,
    source_url: str,
    source_account: str,
    source_projects: tuple[str, ...],
    source_decks: tuple[str, ...],
    source_token_file: Path | None,
    workspace: str | None,
    dry_run: bool,
) -> None:
    """Import Codecks decks: one new MSKanban board per deck, titled "Project › Deck".

    Card status becomes the column (Not started, Started, In review, Blocked, Done);
    cards keep their title, content, due date, tags (as labels), priority and effort
    (as fields), milestone, assignee (matched by email), conversations (as comments,
    with the original author and time), files and archived state.  Codecks is read
    through its query endpoint only, paced under its 40 requests per 5 seconds.
    Whatever cannot be carried is listed in the summary and written into the board.
    """
    secret = read_secret(source_token_file, "MSK_SOURCE_TOKEN", "Codecks token (the at cookie)", "source token")
    source = CodecksSource(source_url, source_account, secret, projects=source_projects)
    try:
        _import(ctx, source, source_decks, workspace, dry_run)
    finally:
        source.close()


def _import(ctx: CliContext, source: Source, selectors: Sequence[str], workspace: str | None, dry_run: bool) -> None:
    limit = mutation_limit()
    refs = source.boards(selectors)  # wrong credentials stop here, before anything else
    if not refs:
        raise UsageError(f"{source.name}: no board to import is visible to this account")
    client = ctx.unlocked_client()
    # The importer paces its mutations itself (under `limit`); the client keeps the read limit and Retry-After.
    client.pacer = Pacer({"read": RATE_LIMITS["read"]}, on_wait=client.pacer.on_wait)
    target = Resolver(client).workspace(workspace)
    boards: list[SourceBoard] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=ctx.err, transient=True, disable=not ctx.err.is_terminal) as progress:
        task = progress.add_task(f"reading {source.name}", total=len(refs))
        for ref in refs:
            progress.update(task, description=f"reading {source.name} board {ref.title}")
            boards.append(source.read_board(ref))
            progress.advance(task)
    importer = Importer(client, target.id, journal_root=ctx.store.root, limit=limit)
    if dry_run:
        plan = importer.plan(source, boards)
        ctx.emit(plan.to_json(), lambda: _render_plan(plan))
        _echo_warnings(ctx, [w for b in plan.boards for w in b.warnings])
        return
    bar = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("mutations"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*bar, console=ctx.err, transient=True, disable=not ctx.err.is_terminal) as progress:
        task = progress.add_task("import", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        importer = Importer(client, target.id, journal_root=ctx.store.root, limit=limit, on_progress=advance)
        summary = importer.run(source, boards)
    ctx.emit(summary.to_json(), lambda: _render_summary(summary))
    _echo_warnings(ctx, [w for b in summary.boards for w in b.warnings])


def _counts_table(title: str, boards: list[tuple[str, dict[str, int], str]]) -> Table:
    """One row per kind of entity, one column per board (and a last row for each board's total)."""
    table = Table(title=title)
    table.add_column("")
    for name, _, _ in boards:
        table.add_column(Text(name), justify="right")
    for kind in KINDS:
        if any(counts.get(kind, 0) for _, counts, _ in boards):
            table.add_row(kind.replace("_", " "), *(str(counts.get(kind, 0)) for _, counts, _ in boards))
    table.add_row("", *(extra for _, _, extra in boards))
    return table


def _render_plan(plan: Plan) -> Table:
    rows = [
        (
            f"{b.title} ({b.target or 'new'})",
            dict(b.create),
            f"{counted(b.mutations, 'mutation')}, {human_size(b.attachment_bytes)}",
        )
        for b in plan.boards
    ]
    title = f"Plan: import from {plan.source}: {paced_time(plan.mutations, plan.estimated_seconds, plan.limit)}"
    return _counts_table(title, rows)


def _render_summary(summary: Summary) -> Table:
    rows = [(f"{b.title} → {b.board_id}", dict(b.created), f"{b.skipped} already there") for b in summary.boards]
    title = (
        f"Imported from {summary.source} in {summary.seconds:.1f} s "
        f"({counted(summary.requests, 'MSKanban request')}, {counted(summary.source_requests, 'source request')})"
    )
    return _counts_table(title, rows)


def _echo_warnings(ctx: CliContext, warnings: list[str]) -> None:
    for warning in warnings:
        ctx.err.print(Text(f"warning: {warning}"))
