"""Shell completion of names from the short-lived cache sealed under the session secret."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from mskclient._profile import COMPLETION_CACHE_SECONDS
from mskclient._session_store import SessionStore
from mskclient.cli._complete import CompletionCache

from ._run import msk
from .conftest import User

_n = iter(range(1000))


def _complete(user: User, line: str, *, session: str | None = "inherit") -> list[str]:
    """What TAB offers after `line` (its last word being completed), as the bash script asks."""
    words = line.split(" ")
    env = {**user.env, "_MSK_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    if session != "inherit":
        env["MSK_SESSION"] = session
    ran = msk(*words[1:], env=env)
    assert ran.code == 0, ran.err
    return [entry.split(",", 1)[1] for entry in ran.out.splitlines() if entry.startswith("plain,")]


def _board(user: User) -> tuple[str, str]:
    """A board with two columns, two cards and a label, listed once (which fills the cache)."""
    ws = user.json("workspaces", "create", f"Vervollständigung {next(_n)}")
    board = f"Zuhause-{next(_n)}"
    user("boards", "create", board, "--workspace", ws["id"])
    user("columns", "create", "Heute", "--board", board)
    user("columns", "create", "Später", "--board", board)
    user("labels", "create", "Garten", "--board", board)
    user("cards", "create", "Rasen mähen", "--board", board)
    user("cards", "create", "Rosen schneiden", "--board", board)
    user("boards", "list", "--workspace", ws["id"])
    user("boards", "show", board)
    user("labels", "list", "--board", board)
    user("members", "list", "--workspace", ws["id"])
    return ws["id"], board


def _cache(user: User) -> Path:
    return SessionStore(Path(str(user.env["MSK_CONFIG_DIR"]))).completion_path(str(user.env["MSK_PROFILE"]))


def test_names_a_command_listed_are_completed(ana: User) -> None:
    _, board = _board(ana)
    assert board in _complete(ana, "msk cards list --board Zuh")
    assert _complete(ana, f"msk cards create X --board {board} --column ") == ["Heute", "Später"]
    assert _complete(ana, f"msk cards show --board {board} R") == ["Rasen mähen", "Rosen schneiden"]
    assert _complete(ana, f"msk cards show --board {board} ro") == ["Rosen schneiden"]  # any case
    assert _complete(ana, "msk cards label --board " + board + " X g") == ["Garten"]
    assert _complete(ana, "msk cards assign X ") == [ana.email]


def test_a_card_named_before_narrows_to_its_board(ana: User) -> None:
    _, board = _board(ana)
    unique = f"Einzigartig{next(_n)}"
    ana("cards", "create", unique, "--board", board)
    ana("cards", "list", "--board", board)
    _, other = _board(ana)
    ana("labels", "create", "Gemüse", "--board", other)
    ana("labels", "list", "--board", other)
    assert _complete(ana, f"msk cards label {unique} G") == ["Garten"]
    assert _complete(ana, "msk cards label unbekannt G") == ["Garten", "Gemüse"]


def test_the_cache_holds_no_plaintext_and_is_private(ana: User) -> None:
    ws, board = _board(ana)
    raw = _cache(ana).read_bytes()
    for name in (board, "Heute", "Später", "Rasen mähen", "Garten", ana.email, ws):
        assert name.encode() not in raw and json.dumps(name).encode() not in raw
    assert b"Rasen" not in raw and b"Zuhause" not in raw
    assert stat.S_IMODE(os.stat(_cache(ana)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(_cache(ana).parent).st_mode) == 0o700


def test_without_the_session_secret_nothing_is_completed(ana: User) -> None:
    _board(ana)
    assert _complete(ana, "msk cards list --board Zuh")
    assert _complete(ana, "msk cards list --board Zuh", session=None) == []
    other = "A" * 43  # a well-formed secret, not this unlock's
    assert _complete(ana, "msk cards list --board Zuh", session=other) == []


def test_names_expire(ana: User) -> None:
    _board(ana)
    profile, session = str(ana.env["MSK_PROFILE"]), str(ana.env["MSK_SESSION"])
    written = json.loads(_cache(ana).read_bytes())["written"]
    fresh = CompletionCache(_cache(ana), profile, session, now=lambda: written + 10).load()
    assert any(name.startswith("Zuhause") for _, pairs in fresh["boards"].values() for _, name in pairs)
    late = CompletionCache(_cache(ana), profile, session, now=lambda: written + COMPLETION_CACHE_SECONDS + 1)
    assert late.load() == {}


def test_a_list_read_long_ago_expires_while_newer_ones_stay(tmp_path: Path) -> None:
    path, session = tmp_path / "completion" / "p.json", "A" * 43
    clock = [1_000_000.0]
    cache = CompletionCache(path, "p", session, now=lambda: clock[0])
    cache.merge({"boards": {"ws1": [("b1", "Alt")]}})
    clock[0] += COMPLETION_CACHE_SECONDS - 10
    cache.merge({"boards": {"ws2": [("b2", "Neu")]}})
    clock[0] += 20
    assert cache.load() == {"boards": {"ws2": (clock[0] - 20, [("b2", "Neu")])}}
    moved = CompletionCache(path, "another", session, now=lambda: clock[0])
    assert moved.load() == {}  # the profile is in the associated data


def test_a_hostile_name_is_not_offered(ana: User) -> None:
    ws = ana.json("workspaces", "create", f"Feindlich {next(_n)}")
    ana("boards", "create", "Zwei\nZeilen", "--workspace", ws["id"])
    ana("boards", "create", "Zweites Brett", "--workspace", ws["id"])
    ana("boards", "list", "--workspace", ws["id"])
    assert _complete(ana, "msk boards show Zwei") == ["Zweites Brett"]


def test_lock_removes_the_cache(sandbox_url: str, tmp_path: Path) -> None:
    from .conftest import new_user

    user = new_user(sandbox_url, tmp_path, "locker")
    try:
        _board(user)
        assert _cache(user).exists()
        user("lock")
        assert not _cache(user).exists()
    finally:
        SessionStore(tmp_path).lock("locker")  # the agent ends even if an assertion failed


@pytest.mark.parametrize(
    ("shell", "marker"), [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --no-files --command msk")]
)
def test_completion_prints_the_script(shell: str, marker: str) -> None:
    ran = msk("completion", shell)
    assert ran.code == 0 and marker in ran.out and "_MSK_COMPLETE" in ran.out.upper()
    assert msk("completion", "tcsh").code == 2


def test_completion_runs_in_a_real_process(ana: User) -> None:
    """The whole path a shell takes: a fresh interpreter, the environment the script sets."""
    import subprocess

    _, board = _board(ana)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSK_")}
    env.update({k: v for k, v in ana.env.items() if v is not None})
    env.update(_MSK_COMPLETE="bash_complete", COMP_WORDS=f"msk boards show {board[:5]}", COMP_CWORD="3")
    ran = subprocess.run(
        [sys.executable, "-c", "from mskclient.cli import main; main()"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.returncode == 0 and f"plain,{board}" in ran.stdout.splitlines()
