"""Shared by the test packages (pytest puts tests/ on sys.path, there being no tests/__init__.py):
the committed vectors/*.json files and the key class of each key role."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from mskclient._profile import KeyRole
from mskclient.crypto import BoardKey, MasterKey, RecoveryKey, SymmetricKey, UserKey, WorkspaceKey

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

__all__ = ["KEY_TYPES", "VECTORS", "cases", "each_case", "load_file"]

KEY_TYPES: dict[KeyRole, type[SymmetricKey]] = {
    KeyRole.MASTER: MasterKey,
    KeyRole.USER: UserKey,
    KeyRole.RECOVERY: RecoveryKey,
    KeyRole.WORKSPACE: WorkspaceKey,
    KeyRole.BOARD: BoardKey,
}


@functools.cache
def load_file(name: str) -> dict[str, Any]:
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def cases(name: str) -> list[dict[str, Any]]:
    found = load_file(name)["cases"]
    assert isinstance(found, list)
    return found


def each_case(name: str) -> pytest.MarkDecorator:
    """Parametrize a test over every case of one vector file, named by the case."""
    return pytest.mark.parametrize("case", cases(name), ids=[c["name"] for c in cases(name)])
