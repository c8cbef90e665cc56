"""`msk sandbox`: run the local MSKanban-compatible server in the foreground."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from .._errors import UsageError

__all__ = ["require_sandbox_extra", "sandbox"]

#: The packages of the `sandbox` extra (pyproject.toml), each with the names it is imported by.
_SANDBOX_EXTRA = {
    "starlette": ("starlette",),
    "uvicorn": ("uvicorn",),
    "python-multipart": ("python_multipart", "multipart"),
}


def _importable(names: tuple[str, ...]) -> bool:
    for name in names:
        try:
            if importlib.util.find_spec(name) is not None:
                return True
        except ImportError:  # an import hook that refuses it
            continue
    return False


def require_sandbox_extra() -> None:
    """Say which extra to install, rather than a traceback, when the sandbox's packages are missing."""
    missing = [package for package, names in _SANDBOX_EXTRA.items() if not _importable(names)]
    if missing:
        raise UsageError(
            f"the sandbox needs the 'sandbox' extra ({', '.join(missing)} not installed):"
            " pip install 'mskclient[sandbox]'"
        )


def default_db() -> str:
    """The sandbox database in the user's data directory (created on first use)."""
    folder = Path(click.get_app_dir("mskclient"))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(folder / "sandbox.db")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--db", "db_path", default=None, help="SQLite file (default: in the user data directory); :memory: allowed."
)
@click.option("--reset", is_flag=True, help="Delete the database first.")
@click.option("--no-rate-limits", is_flag=True, help="Lift every rate limit and the login backoff (tests, benchmarks).")
@click.option(
    "--log", "log_path", default=None, help="Append one line per request (method, path, status) to this file."
)
def sandbox(host: str, port: int, db_path: str | None, reset: bool, no_rate_limits: bool, log_path: str | None) -> None:
    """Run a local MSKanban-compatible server; prints its URL, stops on Ctrl-C or SIGTERM."""
    require_sandbox_extra()
    from ..sandbox import SandboxConfig, reset_database, serve

    db_path = db_path or default_db()
    if reset:
        reset_database(db_path)
    config = SandboxConfig(db_path=db_path, log_path=log_path)

    def announce(url: str) -> None:
        click.echo(url)
        click.echo(f"database: {db_path} (Ctrl-C stops)", err=True)

    serve(config.lift_limits() if no_rate_limits else config, host=host, port=port, announce=announce)
    click.echo("sandbox stopped", err=True)
