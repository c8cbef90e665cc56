"""Fixture Deck and Codecks servers and a real sandbox (limits lifted), and accounts to import into."""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from mskclient import Client, Pacer
from mskclient.cli import main
from mskclient.sandbox import Sandbox, SandboxConfig

from ._codecks_server import CodecksData, create_files_app, sample_codecks
from ._codecks_server import create_app as create_codecks_app
from ._deck_server import DeckData, create_app, sample_deck

PASSWORD = "import tests pässword ✓"
_counter = itertools.count()


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Deck:
    """A running fixture Deck server; `data` is its live state (edit it between runs)."""

    url: str
    data: DeckData


@dataclass
class Account:
    email: str
    client: Client
    workspace_id: str


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        yield url


def fresh_email(prefix: str) -> str:
    return f"{prefix}{next(_counter)}-{time.time_ns()}@example.test"


def new_account(url: str, prefix: str = "importer") -> Account:
    client = Client(url, pacer=Pacer.unlimited())
    email = fresh_email(prefix)
    client.register(email, PASSWORD)
    workspace = client.create_workspace("Imports")
    return Account(email, client, workspace.id)


@pytest.fixture(scope="module")
def account(sandbox_url: str) -> Iterator[Account]:
    made = new_account(sandbox_url)
    yield made
    made.client.close()


@pytest.fixture
def deck(account: Account) -> Iterator[Deck]:
    """A fresh sample Deck whose user "ana" has the account's email (so she is matched)."""
    data = sample_deck()
    data.users["ana"].email = account.email
    with ServerThread(create_app(data)) as server:
        yield Deck(server.url, data)


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def msk(*args: str, env: Mapping[str, str | None]) -> Ran:
    """Run `msk` in-process exactly as the console script does (exit codes, stderr)."""
    runner = CliRunner()
    saved = sys.argv
    with runner.isolation(env=dict(env)) as (out, err, _):
        sys.argv = ["msk", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved
        return Ran(code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    return path


@dataclass
class CliUser:
    """A registered account on the sandbox, with an unlocked session, run through `msk`."""

    email: str
    env: dict[str, str | None]

    def __call__(self, *args: str, ok: bool = True, **env: str | None) -> Ran:
        ran = msk(*args, env={**self.env, **env})
        if ok:
            assert ran.code == 0, f"msk {' '.join(args)} -> {ran.code}\n{ran.err}\n{ran.out}"
        return ran

    def json(self, *args: str, **env: str | None) -> Any:
        return json.loads(self(*args, "--json", **env).out)


@pytest.fixture
def user(sandbox_url: str, config: Path, source_token: str) -> CliUser:
    """A CLI user with a workspace to import into; `source_token` (each CLI test module's) in its environment."""
    email = fresh_email("cli")
    env: dict[str, str | None] = {
        "MSK_SERVER": sandbox_url, "MSK_CONFIG_DIR": str(config), "MSK_PROFILE": "importer",
        "MSK_PASSWORD": PASSWORD, "MSK_SESSION": None, "COLUMNS": "200", "MSK_MUTATION_LIMIT": "off",
        "MSK_SOURCE_TOKEN": source_token,
    }  # fmt: skip
    made = CliUser(email, env)
    made("register", email)
    secret = made.json("unlock", "--timeout", "30m")["session"]
    made.env.update(MSK_SESSION=secret, MSK_PASSWORD=None)
    made("workspaces", "create", "Imports")
    return made


@dataclass
class Codecks:
    """A running fixture Codecks (the query endpoint at `url`, files on another origin)."""

    url: str
    data: CodecksData


@pytest.fixture
def codecks(account: Account) -> Iterator[Codecks]:
    """A fresh sample Codecks whose user Ana has the account's email (so she is matched)."""
    data = sample_codecks()
    data.users["u-ana"].email = account.email
    with serve_codecks(data) as url:
        yield Codecks(url, data)


@contextlib.contextmanager
def serve_codecks(data: CodecksData) -> Iterator[str]:
    """Serve `data`: its file host first (the answers name its URLs), then the API; yields the API's URL."""
    with ServerThread(create_files_app(data)) as files, ServerThread(create_codecks_app(data)) as api:
        data.files_url = files.url
        yield api.url
