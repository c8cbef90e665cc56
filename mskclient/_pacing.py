"""Client-side pacing: stay under the server's rate limits and obey Retry-After.

Sans-I/O: `Pacer` only computes how long to wait; the sync and async drivers
do the sleeping (time.sleep / asyncio.sleep), so both share one policy.  It
also counts requests (the exporter reports the count) and calls a hook before
every wait so a progress bar can show it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from ._errors import UsageError
from ._profile import CREATION_ORDER_SECONDS, RATE_LIMITS

__all__ = ["CreationOrder", "Pacer", "WaitHook", "request_group"]

#: Called before each wait with (seconds, reason); reason is a rate-limit group or "retry-after".
WaitHook = Callable[[float, str], None]

#: Fraction of each server limit the client allows itself by default, so its own
#: clock skew against the server's window never produces a 429.
_DEFAULT_SHARE = 0.9


def request_group(method: str, path: str) -> str:
    """The rate-limit group of a request (docs/protocol.md#errors)."""
    if path in ("/auth/login", "/auth/recovery"):  # recovery answers for a login: same budget
        return "login"
    if path == "/auth/register":
        return "register"
    if path == "/auth/login-init":  # a POST that changes nothing: counted as a read
        return "read"
    if path == "/users/lookup":  # tells whether an account exists: its own, small quota
        return "lookup"
    return "read" if method in ("GET", "HEAD") else "mutation"


@dataclass(frozen=True, slots=True)
class _Window:
    limit: int
    seconds: float


class Pacer:
    """Sliding-window limiter per group, bounded Retry-After retries, a request counter.

    `limits=None` disables client-side limiting (Retry-After is still obeyed).
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]] | None = RATE_LIMITS,
        *,
        share: float = _DEFAULT_SHARE,
        max_retries: int = 5,
        max_retry_after: float = 300.0,
        concurrency: int = 8,
        on_wait: WaitHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1 or max_retries < 0 or concurrency < 1:
            raise UsageError("pacer: share must be in (0, 1], max_retries >= 0, concurrency >= 1")
        self._windows: dict[str, _Window] = {}
        for group, (limit, seconds) in (limits or {}).items():
            self._windows[group] = _Window(max(1, int(limit * share)), float(seconds))
        self._sent: dict[str, deque[float]] = {}
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.on_wait = on_wait
        self._clock = clock
        read = self._windows.get("read")
        #: How many reads an async bulk operation may have in flight.
        self.concurrency = min(concurrency, read.limit) if read else concurrency
        #: Requests sent through this pacer (retries included).
        self.requests = 0

    @classmethod
    def unlimited(cls, *, max_retries: int = 5, on_wait: WaitHook | None = None) -> Pacer:
        """No client-side limits (for a sandbox with lifted limits); Retry-After still obeyed."""
        return cls(None, max_retries=max_retries, on_wait=on_wait)

    def reserve(self, group: str) -> float:
        """Book a slot for one request of `group`; returns the seconds to wait before sending it."""
        self.requests += 1
        window = self._windows.get(group)
        if window is None:
            return 0.0
        now = self._clock()
        sent = self._sent.setdefault(group, deque())
        while sent and sent[0] <= now - window.seconds:
            sent.popleft()
        at = now
        if len(sent) >= window.limit:
            at = max(now, sent[-window.limit] + window.seconds)
        sent.append(at)
        delay = at - now
        if delay > 0:
            self._notify(delay, group)
        return delay

    def retry_delay(self, attempt: int, retry_after: float) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based) after a 429, or None to give up."""
        if attempt > self.max_retries or retry_after > self.max_retry_after:
            return None
        delay = max(0.0, retry_after)
        self._notify(delay, "retry-after")
        return delay

    def _notify(self, seconds: float, reason: str) -> None:
        if self.on_wait is not None:
            self.on_wait(seconds, reason)


#: Cards whose last answer `CreationOrder` keeps before it forgets those long past.
_CREATION_ORDER_CARDS: Final = 1024


class CreationOrder:
    """Keeps a card's comments, labels and assignees in the order a bulk writer sends them.

    The server lists them by their creation stamp, in milliseconds, then by random id
    (`CREATION_ORDER_SECONDS`): each of a card's links of one kind waits until the previous
    one's answer is that long past.  Sans-I/O like `Pacer`: the caller sleeps.  Steps are
    named by the import journal's kinds, which restore and re-key share."""

    #: journal step kind -> what the server lists by creation time
    KINDS: Final = {"comment": "comments", "note": "comments", "label_link": "labels", "assignment": "assignees"}

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: (list, card) -> when the answer to the last step that added to it came
        self._last: dict[tuple[str, str], float] = {}

    def wait(self, kind: str, card: str) -> float:
        """Seconds to wait before sending a step of `kind` that adds to `card` (its id or route)."""
        listed = self.KINDS.get(kind)
        answered = None if listed is None else self._last.get((listed, card))
        return 0.0 if answered is None else max(0.0, answered + CREATION_ORDER_SECONDS - self._clock())

    def answered(self, kind: str, card: str) -> None:
        """The step of `kind` that added to `card` got its answer now."""
        listed = self.KINDS.get(kind)
        if listed is not None:
            now = self._clock()
            if len(self._last) >= _CREATION_ORDER_CARDS:  # only the last few milliseconds matter
                self._last = {where: at for where, at in self._last.items() if at > now - CREATION_ORDER_SECONDS}
            self._last[listed, card] = now
