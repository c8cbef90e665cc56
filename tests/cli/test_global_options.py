"""Global options stand before or after the command (`msk --json boards list`); typos get a suggestion."""

from __future__ import annotations

import json

from ._run import msk
from .conftest import User


def test_global_options_before_the_command(ana: User) -> None:
    ana("workspaces", "create", "Before and after")
    before = json.loads(msk("--json", "workspaces", "list", env=ana.env).out)
    after = json.loads(msk("workspaces", "list", "--json", env=ana.env).out)
    assert before == after
    assert "Before and after" in [w["name"] for w in before]


def test_after_the_command_wins(ana: User) -> None:
    env = {**ana.env, "MSK_PROFILE": None}
    # the profile named after the command is the logged-in one; the one before it does not exist
    ran = msk("--profile", "nobody", "whoami", "--profile", ana.env["MSK_PROFILE"] or "", env=env)
    assert ran.code == 0, ran.err
    assert ana.email in ran.out
    ran = msk("--profile", "nobody", "whoami", env=env)
    assert ran.code != 0
    assert "'nobody' is not logged in" in ran.err


def test_before_the_command_beats_the_environment(ana: User) -> None:
    ran = msk("--server", "http://127.0.0.1:9", "whoami", env=ana.env)  # MSK_SERVER names the sandbox
    assert ran.code != 0
    assert "http://127.0.0.1:9" in ran.err


def test_a_mistyped_command_gets_a_suggestion() -> None:
    ran = msk("boardz")
    assert ran.code == 2
    assert "No such command 'boardz'. Did you mean 'boards'?" in ran.err
    ran = msk("xyzzy")
    assert ran.code == 2
    assert "No such command 'xyzzy'." in ran.err and "Did you mean" not in ran.err
