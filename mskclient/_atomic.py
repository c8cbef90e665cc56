"""One atomic file write for sessions, key pins and exports: temp file + os.replace."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_replace"]


@contextlib.contextmanager
def atomic_replace(path: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Write to a temp file (given `mode`) beside `path`; it replaces `path` only if the block
    succeeds, so a crash or error never leaves a half-written file.  The directory must exist."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, mode)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
