"""`msk` starts without the heavy packages: the short commands import only what they need.

A script or a TAB press starts `msk` again and again; importing httpx, pycrdt, PyNaCl or rich
(and every subcommand module) before a command is chosen made start-up most of the time of a
short command.  Each check runs in a fresh interpreter, where nothing was imported before; the
timings themselves are in bench/cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest

from mskclient.cli._main import _COMMANDS, _SHORT_HELP, cli

from ._run import msk

HEAVY = ("httpx", "pycrdt", "nacl", "rich")

# Runs `msk`'s console entry with the given argv and environment, then reports which of the
# heavy packages (and which subcommand modules) the process imported.
_PROBE = """
import json, sys
args, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
from mskclient.cli import main
sys.argv = ["msk", *args]
try:
    main()
except SystemExit:
    pass
heavy = [name for name in heavy if name in sys.modules]
commands = sorted(name for name in sys.modules if name.startswith("mskclient.cli._") and name not in (
    "mskclient.cli._main", "mskclient.cli._options"))
print(json.dumps({"heavy": heavy, "commands": commands}), file=sys.stderr)
"""

_COMPLETE_COMMAND_NAME = {"_MSK_COMPLETE": "bash_complete", "COMP_WORDS": "msk ca", "COMP_CWORD": "1"}


def _imported_by(args: list[str], env: dict[str, str] | None = None) -> dict[str, list[str]]:
    ran = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**_clean_environment(), **(env or {})},
    )
    report: dict[str, list[str]] = json.loads(ran.stderr.splitlines()[-1])
    return report


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("_MSK_COMPLETE", "COMP_"))}


def test_importing_the_cli_imports_no_heavy_package() -> None:
    code = f"import sys, mskclient.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert ran.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--version"], None), (["--help"], None), ([], _COMPLETE_COMMAND_NAME)],
    ids=["--version", "--help", "complete-command-name"],
)
def test_short_commands_import_neither_heavy_packages_nor_subcommands(
    args: list[str], env: dict[str, str] | None
) -> None:
    assert _imported_by(args, env) == {"heavy": [], "commands": []}


def test_a_command_is_imported_when_it_runs() -> None:
    """The probe does see imports: `msk cards --help` loads the cards module."""
    assert "mskclient.cli._cards" in _imported_by(["cards", "--help"])["commands"]


def test_the_short_help_table_matches_the_commands() -> None:
    """`msk --help` and completion show a command's short help without importing it: the table
    must say what the command itself says, at every width a listing cuts it to."""
    assert set(_SHORT_HELP) == set(_COMMANDS)
    ctx = click.Context(cli)
    for name in _COMMANDS:
        real, listed = cli.get_command(ctx, name), cli.listed_command(ctx, name)
        assert real is not None and listed is not None
        assert (listed.hidden, listed.deprecated) == (real.hidden, real.deprecated), name
        for limit in (30, 45, 60, 68, 80, 1000):
            assert listed.get_short_help_str(limit) == real.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_help_lists_the_commands_as_click_would(width: int) -> None:
    ctx = click.Context(cli, terminal_width=width)
    ours, clicks = ctx.make_formatter(), ctx.make_formatter()
    cli.format_commands(ctx, ours)
    click.Group.format_commands(cli, ctx, clicks)  # imports every command to ask for its help
    assert ours.getvalue() == clicks.getvalue()
    assert "cards" in ours.getvalue()


def test_completion_of_command_names() -> None:
    assert msk(env={"_MSK_COMPLETE": "bash_complete", "COMP_WORDS": "msk ca", "COMP_CWORD": "1"}).out == "plain,cards\n"
    zsh = msk(env={"_MSK_COMPLETE": "zsh_complete", "COMP_WORDS": "msk lo", "COMP_CWORD": "1"}).out.splitlines()
    assert zsh == [
        "plain", "lock", "End this profile's unlock: its agent...",
        "plain", "login", "Log in (Argon2id from the password; the...",
        "plain", "logout", "End the session on the server and forget...",
    ]  # fmt: skip
    options = msk(env={"_MSK_COMPLETE": "bash_complete", "COMP_WORDS": "msk --pro", "COMP_CWORD": "1"}).out
    assert options == "plain,--profile\n"
