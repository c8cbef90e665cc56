"""`msk export`: decrypted export of boards, online or from a `/me/export` file (offline)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from .._errors import ProtocolError, UsageError
from ..export import (
    FORMATS,
    STRATEGIES,
    ExportAttachment,
    ExportResult,
    attachment_fetch,
    decrypt_export_file,
    existing_outputs,
    export_online,
    save_attachments,
    write_export,
)
from ._backup import export_from_backup
from ._context import PARTIAL_EXIT_CODE, CliContext, global_options
from ._units import counted
from ._untrusted import markup, visible

__all__ = ["PARTIAL_EXIT_CODE", "export"]


def _decrypt_file(path: Path, password: Callable[[], str], **selection: Any) -> ExportResult:
    try:
        with path.open("rb") as handle:
            return decrypt_export_file(handle, password, **selection)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except ProtocolError as exc:
        raise ProtocolError(f"{path} is not a usable /me/export file: {exc}") from None


def _formats(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--format json --format html` or `--format json,html`: each format once, in the order given."""
    chosen: list[str] = []
    for value in values:
        for name in (part.strip().lower() for part in value.split(",")):
            if name not in FORMATS:
                raise click.BadParameter(f"{name!r} is not one of {', '.join(FORMATS)}")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen) or ("json",)


def _refuse_overwrite(result: ExportResult, formats: tuple[str, ...], out_dir: Path, attachments: Path | None) -> None:
    existing = existing_outputs(result, formats, out_dir, attachments)
    if existing:
        raise UsageError(f"{existing[0]} exists; pass --force to overwrite an earlier export")


def _refuse_nonempty(directory: Path) -> None:
    earlier = min(directory.iterdir(), default=None) if directory.is_dir() else None
    if earlier is not None:
        raise UsageError(f"{earlier} exists; pass --force to overwrite an earlier export")


def _count_attachments(result: ExportResult) -> int:
    return sum(len(k.attachments) for b in result.boards for c in b.columns for k in c.cards)


@click.command()
@click.argument("boards", nargs=-1, metavar="[BOARD]...")
@click.option(
    "--workspace", "workspaces", multiple=True, metavar="WS", help="Every board of this workspace (id or name)."
)
@click.option("--all", "everything", is_flag=True, help="Every board of the account.")
@click.option(
    "--from-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Decrypt a /me/export file offline (only the password is needed, no network).",
)
@click.option(
    "--from-backup",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Decrypt a `msk backup` file offline, attachments included (only the password is needed).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    callback=_formats,
    metavar="FORMAT",
    help=f"{' | '.join(FORMATS)} (default json); repeat it or separate with commas for several in one run.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory for the exported files.",
)
@click.option(
    "--attachments",
    "attachments_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also decrypt every attachment into this directory once (streamed), linked from every format.",
)
@click.option("--force", is_flag=True, help="Overwrite the files of an earlier export.")
@click.option("--strict", is_flag=True, help="Fail (exit 8) on the first field that does not decrypt.")
@click.option(
    "--via",
    type=click.Choice(STRATEGIES),
    default="auto",
    show_default=True,
    help="How to read online: one /me/export read, per-card reads, or whichever costs fewer reads.",
)
@global_options
def export(
    ctx: CliContext,
    boards: tuple[str, ...],
    workspaces: tuple[str, ...],
    everything: bool,
    from_file: Path | None,
    from_backup: Path | None,
    formats: tuple[str, ...],
    out_dir: Path,
    attachments_dir: Path | None,
    force: bool,
    strict: bool,
    via: str,
) -> None:
    """Export boards decrypted, as JSON, Markdown, CSV or HTML.

    BOARD and --workspace take ids or names (a name must be unambiguous).  Online, give
    BOARD…, --workspace or --all; with --from-file or --from-backup every board in the file
    is exported unless some are named.  Several formats share one read and one decryption of
    the attachments.  An existing export is never replaced without --force.  Progress goes
    to stderr; stdout gets a summary (JSON with --json).
    """
    if everything and (boards or workspaces):
        raise UsageError("--all exports everything: give no BOARD or --workspace with it")
    if not force:  # the files whose names do not depend on the boards: refused before any read
        _refuse_overwrite(ExportResult(exported_at="", boards=()), formats, out_dir, None)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=ctx.err, transient=True, disable=not ctx.err.is_terminal) as progress:
        task = progress.add_task("starting", total=None)

        def step(text: str) -> None:
            progress.update(task, description=markup(text))

        requests: int | None = None
        strategy = "file"
        if from_file is not None and from_backup is not None:
            raise UsageError("give --from-file or --from-backup, not both")
        if from_backup is not None:
            if not force and attachments_dir is not None:
                # the backup is decrypted and its attachments saved in one pass: their names are
                # not known before, so any earlier file there stops the export
                _refuse_nonempty(attachments_dir)
            step("reading and decrypting the backup")
            result = export_from_backup(
                from_backup,
                ctx.password,
                attachments_dir,
                relative_to=out_dir,
                boards=boards,
                workspaces=workspaces,
                strict=strict,
                step=step,
            )
            if not force:
                _refuse_overwrite(result, formats, out_dir, None)
        elif from_file is not None:
            if attachments_dir is not None:
                raise UsageError("--attachments needs the server: a /me/export file holds no attachment contents")
            step("reading and decrypting the file")
            result = _decrypt_file(
                from_file,
                ctx.password,
                boards=boards,
                workspaces=workspaces,
                strict=strict,
                on_progress=lambda cards: step(f"reading and decrypting the file: {cards:,} cards"),
            )
            if not force:
                _refuse_overwrite(result, formats, out_dir, None)
        else:
            if not (boards or workspaces or everything):
                raise UsageError("what to export? give BOARD…, --workspace WS or --all (or --from-file FILE)")
            client = ctx.unlocked_client()
            client.core.lenient_reads = not strict  # names read on the way (board titles) follow --strict too
            online = export_online(client, boards=boards, workspaces=workspaces, strict=strict, strategy=via, step=step)
            result, strategy = online.result, online.strategy
            if not force:
                _refuse_overwrite(result, formats, out_dir, attachments_dir)
            if attachments_dir is not None:
                progress.update(task, description="attachments", total=_count_attachments(result), completed=0)

                def advance(_: ExportAttachment) -> None:
                    progress.advance(task)

                result = save_attachments(
                    result, attachments_dir, attachment_fetch(client), relative_to=out_dir, on_file=advance
                )
            requests = client.requests
        step("writing")
        written = [path for fmt in formats for path in write_export(result, fmt, out_dir)]

    failures = result.failures
    summary = {
        "files": [str(p) for p in written],
        "boards": len(result.boards),
        "cards": result.card_count,
        "attachments": _count_attachments(result) if attachments_dir is not None else 0,
        "read": strategy,
        "requests": requests,
        "errors": [f.to_json() for f in failures],
    }
    for failure in failures:
        click.echo(f"warning: not decrypted: {visible(failure)}", err=True)
    if ctx.json:
        ctx.print_json(summary)
    else:
        how = "from the file" if requests is None else f"with {counted(requests, 'request')} ({strategy} reads)"
        click.echo(
            visible(
                f"Exported {counted(len(result.boards), 'board')}, {counted(result.card_count, 'card')} {how} to "
                + ", ".join(str(p) for p in written)
            )
        )
    if failures:
        raise SystemExit(PARTIAL_EXIT_CODE)
