"""Entry point of `msk`: one place that turns MskError into a one-line message and exit code.

Subcommands live in their own modules and are imported only when used, so
`msk --version` and completion stay fast.
"""

from __future__ import annotations

import importlib

import click

from .._errors import MskError
from .._version import __version__

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


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msk")
def cli() -> None:
    """mskclient: zero-knowledge client for MSKanban."""


def main() -> None:
    try:
        code = cli.main(prog_name="msk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except MskError as exc:
        click.echo(f"msk: error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)
