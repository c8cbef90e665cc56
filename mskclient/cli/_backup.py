"""`msk backup`, `msk backup verify`, `msk account export` and `msk doctor`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
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
from .._profile import RATE_LIMITS, is_valid_id
from ..backup import (
    RESTORE_KINDS,
    Check,
    RestorePlan,
    Restorer,
    RestoreSummary,
    WorkspacePlan,
    create_backup,
    diagnose,
    open_backup,
    save_account_export,
    verify_backup,
)
from ..export import ExportResult, resolve, save_attachments
from ._context import CliContext, global_options, read_secret
from ._import import mutation_limit
from ._units import counted, human_size, paced_time
from ._untrusted import visible

__all__ = [
    "DOCTOR_FAILED_EXIT_CODE",
    "VERIFY_FAILED_EXIT_CODE",
    "account",
    "backup",
    "doctor",
    "export_from_backup",
    "restore",
]

#: Exit code of `msk backup verify` when the backup is readable but something in it is wrong.
VERIFY_FAILED_EXIT_CODE = 11
#: Exit code of `msk doctor` when a check fails (warnings alone exit 0).
DOCTOR_FAILED_EXIT_CODE = 1


def _progress(ctx: CliContext) -> Progress:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    return Progress(*columns, console=ctx.err, transient=True, disable=not ctx.err.is_terminal)


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to replace it")
    if path.is_dir():
        raise UsageError(f"{path} is a directory")


# --- msk account export ---------------------------------------------------------------------------


@click.group()
def account() -> None:
    """The account's own data on the server."""


@account.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: msk-export-<email>-<UTC time>.json here).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@global_options
def account_export(ctx: CliContext, out: Path | None, force: bool) -> None:
    """Save the server's /me/export as it is (ciphertext), for `msk export --from-file`.

    Needs only the session (no password); streamed to the file, which appears only once complete.
    """
    client = ctx.client()
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = Path(f"msk-export-{_file_part(client.email or 'account')}-{stamp}.json")
    _refuse_overwrite(out, force)
    with _progress(ctx) as progress:
        task = progress.add_task("downloading /me/export", total=None)
        size = save_account_export(client, out, lambda what, done, _: progress.update(task, completed=done))
    ctx.emit(
        {"file": str(out), "bytes": size, "requests": client.requests},
        lambda: f"Saved /me/export ({human_size(size)}, ciphertext) to {out}",
    )


def _file_part(email: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in email.replace("@", "_at_"))[:64]


# --- msk backup -----------------------------------------------------------------------------------


@click.group(invoke_without_command=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The backup file to write.")
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="WS",
    help="Only this workspace (repeatable; an id, or a name when unlocked).",
)
@click.option(
    "--incremental",
    "previous",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Copy attachments already in this earlier backup instead of downloading them.",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@global_options
def backup(ctx: CliContext, out: Path | None, workspaces: tuple[str, ...], previous: Path | None, force: bool) -> None:
    """Back up the account's ciphertext into one file: `msk backup --out FILE`.

    The file holds the server's /me/export, every attachment's ciphertext and a manifest
    (sizes and SHA-256 of every member).  Only the session is needed, never the password,
    so it runs unattended.  Check a backup with `msk backup verify FILE`.
    """
    if click.get_current_context().invoked_subcommand is not None:
        if out or workspaces or previous or force:
            raise UsageError("--out, --workspace, --incremental and --force make a backup: not with a subcommand")
        return
    if out is None:
        raise UsageError("where to? give --out FILE (or check one with `msk backup verify FILE`)")
    _refuse_overwrite(out, force)
    client = ctx.client()
    ids = list(workspaces)
    if any(not is_valid_id(ws) for ws in ids):
        # names are encrypted: naming a workspace needs the keys (an unlocked profile)
        client = ctx.unlocked_client()
        spaces = [(w.id, w.name) for w in client.workspaces()]
        ids = [resolve("workspace", ws, spaces) for ws in ids]
    with _progress(ctx) as progress:
        task = progress.add_task("starting", total=None)

        def step(what: str, done: int, total: int | None) -> None:
            progress.update(task, description=what, completed=done, total=total)

        summary = create_backup(client, out, workspaces=ids, previous=previous, on_progress=step)
    manifest = summary.manifest
    counts = manifest.counts
    data = {
        "file": str(out),
        "bytes": summary.size,
        "counts": dict(counts),
        "downloaded": summary.downloaded,
        "reused": manifest.reused,
        "requests": client.requests,
    }
    ctx.emit(
        data,
        lambda: (
            f"Backed up {counts['workspaces']} workspace(s), {counts['boards']} board(s), {counts['cards']} card(s), "
            f"{counts['attachments']} attachment(s) ({summary.downloaded} downloaded, {manifest.reused} reused) "
            f"to {out} ({human_size(summary.size)}, {counted(client.requests, 'request')})"
        ),
    )


@backup.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--decrypt/--no-decrypt",
    default=None,
    help="Also open every envelope and attachment stream, with the password or the unlocked keys.  "
    "Default: yes when --password-file, MSK_PASSWORD or MSK_SESSION gives them, or a terminal can ask.",
)
@global_options
def backup_verify(ctx: CliContext, file: Path, decrypt: bool | None) -> None:
    """Check a backup: structure, manifest, every size and SHA-256, the export's shape; with the
    password (or MSK_SESSION's unlocked keys), every envelope and every attachment stream.

    Exits 11 if anything is wrong (each problem is named), 9 if FILE is not a backup at all,
    8 for a wrong password.
    """
    password_given = ctx.password_file is not None or bool(os.environ.get("MSK_PASSWORD"))
    session = os.environ.get("MSK_SESSION")
    if decrypt is None:
        decrypt = password_given or bool(session) or sys.stdin.isatty()
    keys = None
    if decrypt and session and not password_given:
        keys = ctx.store.unlocked_keys(ctx.profile, session)
    password = ctx.password if decrypt and keys is None else None
    with _progress(ctx) as progress:
        task = progress.add_task("verifying", total=None)

        def step(what: str, done: int, total: int | None) -> None:
            progress.update(task, description=what, completed=done, total=total)

        report = verify_backup(file, password, keys=keys, on_progress=step)
    if ctx.json:
        ctx.print_json(report.to_json())
    else:
        manifest = report.manifest
        if manifest is not None:
            click.echo(
                f"{file}: backup format {manifest.version} of {visible(manifest.account_email)} on "
                f"{visible(manifest.server)}, made {visible(manifest.created_at)}"
            )
        for board in report.boards:
            title = f" {visible(board.title)}" if board.title is not None else ""
            counts = f"{board.cards} card(s), {board.attachments} attachment(s)"
            click.echo(f"  board {visible(board.board_id)}{title}: {counts}")
        for problem in report.problems:
            click.echo(f"problem: {visible(str(problem))}", err=True)
        if report.ok:
            what = "every envelope and attachment stream opened" if report.decrypted else "sizes and SHA-256 match"
            click.echo(f"OK: {what} ({human_size(report.size)} read)")
        else:
            click.echo(f"FAILED: {len(report.problems)} problem(s)")
    if not report.ok:
        raise SystemExit(VERIFY_FAILED_EXIT_CODE)


# --- msk export --from-backup ----------------------------------------------------------------------


def export_from_backup(
    path: Path,
    password: Callable[[], str],
    attachments_dir: Path | None,
    *,
    relative_to: Path,
    boards: Sequence[str],
    workspaces: Sequence[str],
    strict: bool,
    step: Callable[[str], None],
) -> ExportResult:
    """The decrypted export of a backup, offline; with `attachments_dir`, its attachments
    decrypted there from the backup's ciphertext."""
    with open_backup(path) as source:
        result = source.decrypt(
            password,
            boards=boards,
            workspaces=workspaces,
            strict=strict,
            on_progress=lambda cards: step(f"reading and decrypting the backup: {cards:,} cards"),
        )
        if attachments_dir is not None:
            step("decrypting attachments from the backup")
            result = save_attachments(result, attachments_dir, source.attachment_fetch(), relative_to=relative_to)
    return result


# --- msk doctor -----------------------------------------------------------------------------------


_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@click.command()
@global_options
def doctor(ctx: CliContext) -> None:
    """Check this machine's setup: server, protocol, clock, session, KDF, keys, files.

    One line per check (ok, warn or fail, with the fix); exits 1 if any check fails.
    """
    checks = diagnose(ctx.store, ctx.profile, ctx.server, ctx.new_client)
    failed = any(c.status == "fail" for c in checks)
    if ctx.json:
        ctx.print_json({"ok": not failed, "checks": [c.to_json() for c in checks]})
    else:
        for check in checks:
            click.echo(_line(check))
    if failed:
        raise SystemExit(DOCTOR_FAILED_EXIT_CODE)


def _line(check: Check) -> str:
    line = f"{_MARK[check.status]}  {check.name}: {visible(check.detail)}"
    return line + (f"\n      fix: {visible(check.fix)}" if check.fix else "")


# --- msk restore ----------------------------------------------------------------------------------


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="WS",
    help="Restore only this workspace of the backup (its id in the backup; repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan (counts, mutations, time); create nothing.")
@click.option("--as-new", is_flag=True, help="Restore another copy even if this backup was restored here before.")
@click.option(
    "--source-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The password of the backup's account, from this file's first line (else MSK_SOURCE_PASSWORD, "
    "else the account password as for every command).",
)
@global_options
def restore(
    ctx: CliContext,
    file: Path,
    workspaces: tuple[str, ...],
    dry_run: bool,
    as_new: bool,
    source_password_file: Path | None,
) -> None:
    """Recreate a backup's workspaces in the account logged in at --server.

    The backup's ciphertext is sent as it is: only the workspace keys are opened (with the
    password of the backup's account) and sealed to this account.  Ids, comment authors and
    times are the new server's; other members are listed, to be invited again.  A re-run
    resumes an interrupted restore and creates nothing twice.
    """
    for workspace in workspaces:
        if not is_valid_id(workspace):
            raise UsageError(f"--workspace takes a workspace id of the backup, not {workspace!r}")
    client = ctx.client()
    # The restore paces its mutations itself (under `limit`); the client keeps the read limit and Retry-After.
    client.pacer = Pacer({"read": RATE_LIMITS["read"]}, on_wait=client.pacer.on_wait)
    limit = mutation_limit()

    with open_backup(file) as backup:
        email = backup.manifest.account_email

        def password() -> str:
            if source_password_file is not None or os.environ.get("MSK_SOURCE_PASSWORD"):
                return read_secret(source_password_file, "MSK_SOURCE_PASSWORD", f"Password of {email}", "password")
            return ctx.password(f"Password of {email} (the backup's account)")

        def restorer(on_progress: Callable[[int, int], None] | None = None) -> Restorer:
            return Restorer(client, backup, password, journal_root=ctx.store.root, as_new=as_new,
                            workspaces=workspaces, limit=limit, on_progress=on_progress)  # fmt: skip

        if dry_run:
            plan = restorer().plan()
            ctx.emit(plan.to_json(), lambda: _render_restore_plan(plan))
            _restore_notes(ctx, plan.workspaces)
            return
        columns = (TextColumn("restoring"), BarColumn(), MofNCompleteColumn(), TextColumn("mutations"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=ctx.err, transient=True, disable=not ctx.err.is_terminal) as progress:
            task = progress.add_task("restore", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = restorer(advance).run()
    ctx.emit(summary.to_json(), lambda: _render_restore_summary(summary))
    _restore_notes(ctx, [plan for _, _, _, plan in summary.workspaces])


def _restore_table(title: str, rows: list[tuple[str, dict[str, int]]]) -> Table:
    table = Table(title=title)
    table.add_column("")
    for name, _ in rows:
        table.add_column(Text(name), justify="right")
    for kind in RESTORE_KINDS:
        if any(counts.get(kind, 0) for _, counts in rows):
            table.add_row(kind.replace("_", " "), *(str(counts.get(kind, 0)) for _, counts in rows))
    return table


def _render_restore_plan(plan: RestorePlan) -> Table:
    rows = [(f"{w.source_id} → {w.target or 'new'}", dict(w.create)) for w in plan.workspaces]
    return _restore_table(f"Plan: {paced_time(plan.mutations, plan.estimated_seconds, plan.limit)}", rows)


def _render_restore_summary(summary: RestoreSummary) -> Table:
    rows = [(f"{old} → {new}", dict(created)) for old, new, created, _ in summary.workspaces]
    title = f"Restored in {summary.seconds:.1f} s ({summary.requests} requests)"
    return _restore_table(title, rows)


def _restore_notes(ctx: CliContext, plans: Sequence[WorkspacePlan]) -> None:
    """What the restore does not carry, on stderr: members to invite, authorship, assignments."""
    for plan in plans:
        where = plan.target or f"the copy of {plan.source_id}"
        for email, role in plan.members:
            ctx.err.print(
                Text(f"note: {visible(email)} ({role}) was a member of {plan.source_id}; invite them with "
                     f"`msk members invite {visible(email)} --role {role} --workspace {where}`")
            )  # fmt: skip
        if plan.foreign_comments:
            ctx.err.print(f"note: {plan.foreign_comments} comment(s) by other members now show you as author")
        if plan.dropped_assignments:
            ctx.err.print(f"note: {plan.dropped_assignments} assignment(s) of other members are not carried")
