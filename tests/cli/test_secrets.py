"""Secrets never come from a command-line flag: a file, the environment, or a hidden prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from mskclient._errors import UsageError
from mskclient.cli._context import read_secret

from ._run import msk


def test_a_file_then_the_environment_then_a_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from the file\nsecond line ignored\n", encoding="utf-8")
    monkeypatch.setenv("MSK_TEST_SECRET", "from the environment")
    assert read_secret(secret, "MSK_TEST_SECRET", "Secret", "secret") == "from the file"
    assert read_secret(None, "MSK_TEST_SECRET", "Secret", "secret") == "from the environment"
    monkeypatch.delenv("MSK_TEST_SECRET")
    monkeypatch.setattr("click.prompt", lambda *a, **kw: "typed")
    assert read_secret(None, "MSK_TEST_SECRET", "Secret", "secret") == "typed"


def test_unusable_secret_files_are_usage_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(UsageError, match="the signing secret file is empty"):
        read_secret(empty, "MSK_TEST_SECRET", "Secret", "signing secret")
    with pytest.raises(UsageError, match="cannot read the signing secret file"):
        read_secret(tmp_path / "missing", "MSK_TEST_SECRET", "Secret", "signing secret")


def test_the_webhook_secret_is_not_a_flag() -> None:
    ran = msk("webhooks", "listen", "--port", "0", "--secret", "visible-in-ps")
    assert ran.code == 2 and "No such option '--secret'" in ran.err
    assert "--secret-file" in msk("webhooks", "listen", "--help").out
