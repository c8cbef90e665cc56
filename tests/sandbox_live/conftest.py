from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._harness import Engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """The realtime engine on a bare app over a fresh database file (ManualClock)."""
    with Engine(str(tmp_path / "sandbox.db"), heartbeat_seconds=0.3, recheck_seconds=0.2) as running:
        yield running
