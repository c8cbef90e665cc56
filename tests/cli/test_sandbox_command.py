"""`msk sandbox`: its options and the default database file in the user's data directory
(the server it runs is tested in tests/sandbox)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_cli_help_lists_options() -> None:
    from click.testing import CliRunner

    from mskclient.cli._main import cli

    result = CliRunner().invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--reset", "--no-rate-limits", "--log"):
        assert option in result.output


def test_default_database_in_the_user_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mskclient.cli._sandbox import default_db

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = Path(default_db())
    assert path == tmp_path / "mskclient" / "sandbox.db"
    assert path.parent.stat().st_mode & 0o777 == 0o700
