"""Entry point of `msk`: one place that turns MskError into a one-line message and exit code.

Subcommands live in their own modules and are imported only when used, so
`msk --version` and completion stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

from .._errors import MskError
from .._harden import harden_process
from .._version import __version__
from ._options import with_global_options

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

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

#: command name -> its short help, as `msk --help` and shell completion list it without importing
#: the command's module (tests/cli/test_startup.py keeps it equal to the commands' own help)
_SHORT_HELP: dict[str, str] = {
    "sandbox": "Run a local MSKanban-compatible server; prints its URL, stops on Ctrl-C or SIGTERM.",
    "export": "Export boards decrypted, as JSON, Markdown, CSV or HTML.",
    "import": "Import boards from another kanban tool (the source is only read).",
    "workspaces": "List, create, rename and delete workspaces.",
    "members": "Workspace members: invite (seals the workspace key to them), remove, role, trust, verify.",
    "boards": "List, show, create, edit and delete boards.",
    "columns": "Columns of a board.",
    "labels": "Labels of a board.",
    "milestones": "Milestones of a board.",
    "fields": "Custom fields of a board (values are set with `msk cards field`).",
    "templates": "Card templates of a board.",
    "automations": "Automations of a board (trigger and action hold ids only: the server runs them without keys).",
    "cards": "Cards: everything on and around a card.",
    "demo": "Show end-to-end encryption at work on a throwaway local server (exits 0 on success).",
    "register": "Create an account and log in; prints the recovery key ONCE.",
    "login": "Log in (Argon2id from the password; the password never leaves this machine).",
    "logout": "End the session on the server and forget it (and any unlock) here.",
    "whoami": "Show the account of this profile (no password needed).",
    "recover": "Set a new password with the recovery key (the data stays readable).",
    "unlock": "Keep the keys unlocked for a while; prints a secret to export as MSK_SESSION.",
    "lock": "End this profile's unlock: its agent forgets the keys and exits.",
    "2fa": "Two-factor authentication (TOTP).",
    "live": "Edit CARD live (print, stream changes, append typed lines); with only --board: who is where.",
    "watch": "Follow BOARD's events as decrypted lines (resumes by Last-Event-ID after a drop).",
    "webhooks": "Manage a board's webhooks, and receive them locally.",
    "backup": "Back up the account's ciphertext into one file: `msk backup --out FILE`.",
    "account": "The account's own data on the server.",
    "doctor": "Check this machine's setup: server, protocol, clock, session, KDF, keys, files.",
    "restore": "Recreate a backup's workspaces in the account logged in at --server.",
    "completion": 'Print the completion script for SHELL, e.g. in ~/.bashrc: eval "$(msk completion bash)".',
}


class _LazyGroup(click.Group):
    """Imports a command's module only to run it (or its own help): listings use _SHORT_HELP."""

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

    def listed_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command as a listing shows it: a stand-in with its short help, the module not imported."""
        short_help = _SHORT_HELP.get(cmd_name)
        if short_help is None:
            return self.get_command(ctx, cmd_name)
        return click.Command(cmd_name, help=short_help)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = [(name, self.listed_command(ctx, name)) for name in self.list_commands(ctx)]
        commands = [(name, command) for name, command in listed if command is not None and not command.hidden]
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in commands])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        names = [name for name in self.list_commands(ctx) if name.startswith(incomplete)]
        listed = [(name, self.listed_command(ctx, name)) for name in names]
        results = [
            CompletionItem(name, help=command.get_short_help_str())
            for name, command in listed
            if command is not None and not command.hidden
        ]
        return results + click.Command.shell_complete(self, ctx, incomplete)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib  # here, not at the top: only a mistyped command needs it

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
