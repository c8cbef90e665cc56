"""Accounts registered through `msk register` on the shared sandbox, shared per module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _accounts import PASSWORD, fresh_email

from mskclient._session_store import SessionStore

from ._run import Ran, msk


@dataclass
class User:
    """One `msk` profile: run commands as this account."""

    email: str
    env: dict[str, str | None]
    ids: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> Ran:
        ran = msk(*args, env=self.env, input=input)
        if ok:
            assert ran.code == 0, f"msk {' '.join(args)} -> {ran.code}\n{ran.err}\n{ran.out}"
        return ran

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").out)


def new_user(url: str, config: Path, name: str) -> User:
    email = fresh_email(name)
    env: dict[str, str | None] = {
        "MSK_SERVER": url, "MSK_CONFIG_DIR": str(config), "MSK_PROFILE": name, "MSK_PASSWORD": PASSWORD,
        "MSK_SESSION": None, "COLUMNS": "200",
    }  # fmt: skip
    user = User(email, env)
    user("register", email)
    # `msk unlock` once, so the many commands of a test module need no KDF (MSK_SESSION holds the key)
    secret = user.json("unlock", "--timeout", "30m")["session"]
    user.env.update(MSK_SESSION=secret, MSK_PASSWORD=None)
    return user


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    config = tmp_path_factory.mktemp("config")
    yield config
    store = SessionStore(config)
    for session in config.glob("sessions/*.json"):
        store.lock(session.stem)  # stop the unlock agents of this module's users


@pytest.fixture(scope="module")
def ana(sandbox_url: str, config_dir: Path) -> User:
    return new_user(sandbox_url, config_dir, "ana")


@pytest.fixture(scope="module")
def bo(sandbox_url: str, config_dir: Path) -> User:
    return new_user(sandbox_url, config_dir, "bo")
