"""Load the committed vectors/*.json files for the tests."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "vectors"

__all__ = ["VECTORS", "cases", "each_case", "load_file"]


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
