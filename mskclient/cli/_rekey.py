"""`msk workspaces rekey WS`: the plan, the progress and the report of a key rotation.

The rotation itself (copy, journal, pacing, verification) is `mskclient.backup.Rekeyer`;
this module only resolves the workspace, shows the plan or a progress bar, prints each new
webhook secret once, as soon as it exists, and asks before the old workspace is deleted.
"""

from __future__ import annotations

from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .._errors import MskError
from .._pacing import Pacer
from .._profile import RATE_LIMITS
from ..backup import Rekeyer, RekeyPlan, RekeyResult
from ..importers import KINDS
from ._context import CliContext
from ._import import mutation_limit
from ._resolve import Resolver, confirm_delete
from ._units import paced_time

__all__ = ["rekey_workspace"]


def rekey_workspace(
    ctx: CliContext, workspace: str, new_name: str | None, dry_run: bool, delete_old: bool, yes: bool
) -> None:
    limit = mutation_limit()
    client = ctx.unlocked_client()
    # the rekey paces its mutations itself (under `limit`); the client keeps the read limit and Retry-After
    client.pacer = Pacer({"read": RATE_LIMITS["read"]}, on_wait=client.pacer.on_wait)
    old = Resolver(client).workspace(workspace)
    if dry_run:
        plan = Rekeyer(client, old.id, journal_root=ctx.store.root, new_name=new_name, limit=limit).plan()
        ctx.emit(plan.to_json(), lambda: _render_plan(plan))
        _echo_lines(ctx, plan.warnings, [f"{e.email}: {e.reason}" for e in plan.not_invited])
        return
    if delete_old:
        confirm_delete(yes, f"the old workspace {old.name!r} ({old.id}) once its copy verified")
    bar = (
        TextColumn("rekeying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("mutations"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*bar, console=ctx.err, transient=True, disable=not ctx.err.is_terminal) as progress:
        task = progress.add_task("rekey", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        def show_secret(url: str, secret: str) -> None:
            # at once: a run that dies later has still shown it (one that dies before re-creates the webhook)
            ctx.err.print(Text(f"webhook {url}: new signing secret {secret} (shown once; give it to the receiver)"))

        rekeyer = Rekeyer(
            client,
            old.id,
            journal_root=ctx.store.root,
            new_name=new_name,
            limit=limit,
            on_progress=advance,
            on_secret=show_secret,
        )
        result = rekeyer.run(delete_old=delete_old)
    ctx.emit(result.to_json(), lambda: _render_result(result))
    _echo_lines(ctx, result.warnings, [f"{e.email}: {e.reason}" for e in result.not_invited])
    if not result.verified:
        raise MskError(
            f"the copy {result.new_id} does not equal {old.id} ({'; '.join(result.differences)}); the old "
            "workspace is kept: run the command again once nobody edits it"
        )


def _counts(headline: str, counts: dict[str, int]) -> Group:
    """The headline on its own line (it holds ids, too long for a table title), then the counts."""
    table = Table()
    table.add_column("to copy")
    table.add_column("count", justify="right")
    for kind in KINDS:
        if counts.get(kind, 0):
            table.add_row(kind.replace("_", " "), str(counts[kind]))
    return Group(Text(headline), table)


def _render_plan(plan: RekeyPlan) -> Group:
    target = plan.new_id or "a new workspace"
    title = (
        f"Plan: rekey {plan.old_name} ({plan.old_id}) into {target}: invite {len(plan.invite)} member(s), "
        f"{paced_time(plan.mutations, plan.estimated_seconds, plan.limit)}"
    )
    return _counts(title, plan.boards.totals())


def _render_result(result: RekeyResult) -> Group:
    state = "verified" if result.verified else "NOT verified"
    old = "deleted" if result.old_deleted else "kept"
    title = (
        f"Rekeyed {result.old_id} into {result.new_id} in {result.seconds:.1f} s: copy {state}, old workspace {old}, "
        f"{len(result.invited)} member(s) invited"
    )
    return _counts(title, result.summary.totals())


def _echo_lines(ctx: CliContext, warnings: list[str], not_invited: list[str]) -> None:
    for warning in warnings:
        ctx.err.print(Text(f"warning: {warning}"))
    for line in not_invited:
        ctx.err.print(Text(f"not invited: {line}"))
