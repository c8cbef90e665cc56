"""Work handed to one worker thread, in order, with a bounded backlog.

A verify's SHA-256 (hashlib releases the GIL on large updates) and its export parser then
run while the main thread reads the archive, instead of after it; at most `limit` chunks
wait, so memory stays bounded however large the member.  (Making a backup needs none: it
keeps up with the server on the thread receiving the bytes.)
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["Backlog", "BackgroundHash"]

#: Chunks (of up to 1 MiB) that may wait for the worker.
_LIMIT = 4


class Backlog:
    """Calls run by one worker thread in the order given; `wait()` re-raises their errors."""

    def __init__(self, name: str, limit: int = _LIMIT) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending: deque[Future[None]] = deque()
        self._limit = limit

    def submit(self, call: Callable[[bytes], None], chunk: bytes) -> None:
        if len(self._pending) >= self._limit:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(call, chunk))

    def wait(self) -> None:
        """Until everything submitted has run (its first error raised here)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Stop the worker, abandoning what has not started (after an error, nothing is needed)."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)


class BackgroundHash:
    """SHA-256 of the chunks given to `update`, computed on `backlog`'s worker."""

    def __init__(self, backlog: Backlog) -> None:
        self._backlog = backlog
        self._digest = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self._backlog.submit(self._digest.update, chunk)

    def hexdigest(self) -> str:
        self._backlog.wait()
        return self._digest.hexdigest()
