"""Every case of every vectors/*.json file, checked independently in JavaScript."""

from __future__ import annotations

from _vectors import VECTORS, cases

from ._node import run_node


def test_javascript_checks_every_vector_case() -> None:
    returncode, answer = run_node("check_vectors.mjs")
    assert answer["failures"] == []
    expected = {path.name: len(cases(path.name)) for path in VECTORS.glob("*.json")}
    assert answer["checked"] == expected
    assert returncode == 0
