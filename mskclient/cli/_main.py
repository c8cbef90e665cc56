"""Entry point of `msk`: one place that turns MskError into a one-line message and exit code.

Subcommands live in their own modules and are imported only when used, so
`msk --version` and completion stay fast.
"""

from __future__ import annotations

import difflib
import importlib

import click

from .._errors import MskError
from .._harden import harden_process
from .._version import __version__
from ._options import with_global_options

__all__ = ["cli", "main"]

#: command name -> "module:attribute" (relative to mskclient.cli)
_COMMANDS: dict[str, str] = {
    "sandbox": "._sandbox:sandbox",
    "export": "._export:export",
    "import": "._import:import_group",
    "workspaces": "._resources:workspaces",
    "members": "._resources:members",
    "boards": "._resources:boards",
    "columns": "._resources:columns",
    "labels": "._resources:labels",
    "milestones": "._resources:milestones",
    "fields": "._resources:fields",
    "templates": "._resources:templates",
    "automations": "._resources:automations",
    "cards": "._cards:cards",
    "demo": "._demo:demo",
    "register": "._account:register",
    "login": "._account:login",
    "logout": "._account:logout",
    "whoami": "._account:whoami",
    "recover": "._account:recover",
    "unlock": "._account:unlock",
    "lock": "._account:lock",
    "2fa": "._account:two_factor",
    "live": "._live:live",
    "watch": "._live:watch_board",
    "webhooks": "._live:webhooks",
    "backup": "._backup:backup",
    "account": "._backup:account",
    "doctor": "._backup:doctor",
    "restore": "._backup:restore",
    "completion": "._complete:completion",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name, __package__), attribute)
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint} (msk --help lists them)", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msk")
@with_global_options
def cli(**global_options: object) -> None:
    """mskclient: zero-knowledge client for MSKanban.

    The global options (--server, --profile, --json, --jq, --password-file) may stand before the
    command or after it; after it wins.
    """


def main() -> None:
    harden_process()  # before any key is derived: no core dump may hold one
    try:
        code = cli.main(prog_name="msk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except MskError as exc:
        from ._untrusted import visible  # here, not at the top: `msk --version` stays fast

        click.echo(f"msk: error: {visible(exc)}", err=True)  # may quote the server or another member
        raise SystemExit(exc.exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)
