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
    export_online,
    save_attachments,
    write_export,
)
from ._backup import export_from_backup
from ._context import PARTIAL_EXIT_CODE, CliContext, global_options
from ._untrusted import json_text, markup, visible

__all__ = ["PARTIAL_EXIT_CODE", "export"]


def _decrypt_file(path: Path, password: Callable[[], str], **selection: Any) -> ExportResult:
    try:
        with path.open("rb") as handle:
            return decrypt_export_file(handle, password, **selection)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except ProtocolError as exc:
        raise ProtocolError(f"{path} is not a usable /me/export file: {exc}") from None


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
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="json", show_default=True)
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
    help="Also decrypt every attachment into this directory (streamed, constant memory).",
)
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
    fmt: str,
    out_dir: Path,
    attachments_dir: Path | None,
    strict: bool,
    via: str,
) -> None:
    """Export boards decrypted, as JSON, Markdown, CSV or HTML.

    BOARD and --workspace take ids or names (a name must be unambiguous).  Online, give
    BOARD…, --workspace or --all; with --from-file or --from-backup every board in the file
    is exported unless some are named.  Progress goes to stderr; stdout gets a summary (JSON with --json).
    """
    if everything and (boards or workspaces):
        raise UsageError("--all exports everything: give no BOARD or --workspace with it")
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
        else:
            if not (boards or workspaces or everything):
                raise UsageError("what to export? give BOARD…, --workspace WS or --all (or --from-file FILE)")
            client = ctx.unlocked_client()
            client.core.lenient_reads = not strict  # names read on the way (board titles) follow --strict too
            online = export_online(client, boards=boards, workspaces=workspaces, strict=strict, strategy=via, step=step)
            result, strategy = online.result, online.strategy
            if attachments_dir is not None:
                progress.update(task, description="attachments", total=_count_attachments(result), completed=0)

                def advance(_: ExportAttachment) -> None:
                    progress.advance(task)

                result = save_attachments(
                    result, attachments_dir, attachment_fetch(client), relative_to=out_dir, on_file=advance
                )
            requests = client.requests
        step("writing")
        written = write_export(result, fmt, out_dir)

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
        click.echo(json_text(summary))
    else:
        how = "from the file" if requests is None else f"with {requests} requests ({strategy} reads)"
        click.echo(
            visible(
                f"Exported {summary['boards']} board(s), {summary['cards']} card(s) {how} to "
                + ", ".join(str(p) for p in written)
            )
        )
    if failures:
        raise SystemExit(PARTIAL_EXIT_CODE)
