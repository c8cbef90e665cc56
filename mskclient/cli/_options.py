"""The global options of `msk` (light: imported at start-up, before any command is chosen)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["GLOBAL_NAMES", "GLOBAL_OPTIONS", "resolved_global_options", "with_global_options"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: The options every command takes, also accepted before the subcommand (`msk --json boards list`).
GLOBAL_OPTIONS: tuple[Callable[[_F], _F], ...] = (
    click.option("--server", envvar="MSK_SERVER", help="Server URL (env MSK_SERVER); default: the profile's."),
    click.option(
        "--profile", envvar="MSK_PROFILE", default="default", show_default=True, help="Saved login (env MSK_PROFILE)."
    ),
    click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables."),
    click.option(
        "--jq",
        "jq",
        metavar="EXPR",
        help="Filter the JSON output with a jq expression (implies --json; strings print raw, one per line;"
        " needs `pip install 'mskclient[jq]'`).",
    ),
    click.option(
        "--password-file",
        type=click.Path(dir_okay=False),  # a str here (pathlib costs start-up); a Path once resolved
        help="Read the password from this file's first line (else MSK_PASSWORD or a prompt).",
    ),
)
GLOBAL_NAMES = ("server", "profile", "as_json", "jq", "password_file")


def with_global_options(command: _F) -> _F:
    """Decorate `command` with the global options (as they are, no CliContext)."""
    for option in reversed(GLOBAL_OPTIONS):
        command = option(command)
    return command


def resolved_global_options(given: dict[str, Any]) -> dict[str, Any]:
    """A global option given after the subcommand wins; one given before it comes next; then the
    environment and the defaults (as the subcommand resolved them).  --password-file becomes a Path."""
    resolved = dict(given)
    current = click.get_current_context(silent=True)
    if current is not None:
        root = current.find_root()
        for name in GLOBAL_NAMES:
            mine = current.get_parameter_source(name)
            theirs = root.get_parameter_source(name) if root is not current else None
            if mine is not click.core.ParameterSource.COMMANDLINE and theirs is click.core.ParameterSource.COMMANDLINE:
                resolved[name] = root.params[name]
    if resolved["password_file"] is not None:
        from pathlib import Path  # here, not at the top: `msk --help` and completion do without it

        resolved["password_file"] = Path(resolved["password_file"])
    return resolved
