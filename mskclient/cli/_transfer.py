"""Progress bars for attachment transfers: on a terminal only, never with --json.

The bar follows the plaintext bytes: read from the file while it is encrypted and
uploaded, or written to the file as they are decrypted.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ._context import CliContext
from ._untrusted import markup

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["ReadProgress", "WriteProgress", "transfer_progress"]

Advance = Callable[[int], None]


@contextlib.contextmanager
def transfer_progress(ctx: CliContext, what: str, total: int) -> Iterator[Advance]:
    """A bar on stderr for `total` bytes; yields the function to call with each chunk's size."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    shown = not ctx.json and ctx.err.is_terminal
    with Progress(*columns, TimeRemainingColumn(), console=ctx.err, transient=True, disable=not shown) as progress:
        task = progress.add_task(markup(what), total=total)
        yield lambda size: progress.advance(task, size)


class ReadProgress(io.BufferedReader):
    """A file opened for reading that reports the size of every `read` (what the upload uses)."""

    def __init__(self, path: Path, advance: Advance) -> None:
        super().__init__(io.FileIO(path, "r"))
        self._advance = advance

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._advance(len(data))
        return data


class _CountedWrites(io.RawIOBase):
    """Raw writes passed on to `target`, each one's size reported."""

    def __init__(self, target: BinaryIO, advance: Advance) -> None:
        self._target, self._advance = target, advance

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer, /) -> int:
        written = self._target.write(data)
        self._advance(written)
        return written


class WriteProgress(io.BufferedWriter):
    """`target` behind a writer that reports the size of every write; close it to flush
    (closing leaves `target` open)."""

    def __init__(self, target: BinaryIO, advance: Advance) -> None:
        super().__init__(_CountedWrites(target, advance))
