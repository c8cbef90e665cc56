"""Entry point of `msk`: one place that turns MskError into a one-line message and exit code."""

from __future__ import annotations

import click

from .._errors import MskError
from .._version import __version__

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msk")
def cli() -> None:
    """mskclient: zero-knowledge client for MSKanban."""


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except MskError as exc:
        click.echo(f"msk: error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
