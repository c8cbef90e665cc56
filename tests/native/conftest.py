"""Every batch test runs on both paths: the C extension and the pure-Python loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._paths import PATHS, on_path


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    with on_path(request.param):
        yield request.param
