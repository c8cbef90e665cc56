from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._harness import Engine


@pytest.fixture(params=["file", "memory"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The realtime engine on a bare app (ManualClock) over a fresh WAL database file or a
    shared-cache in-memory database (where SQLite reports contention without waiting)."""
    db_path = str(tmp_path / "sandbox.db") if request.param == "file" else ":memory:"
    with Engine(db_path, heartbeat_seconds=0.3, recheck_seconds=0.2) as running:
        yield running
