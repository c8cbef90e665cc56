"""Configuration of the sandbox server and the clock it reads (tests swap in a manual one)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from .._profile import ATTACHMENT_MAX_CIPHERTEXT, KDF_DEFAULT, RATE_LIMITS, KdfParams

__all__ = ["Clock", "ManualClock", "SandboxConfig", "SystemClock"]


class Clock(Protocol):
    """Where the sandbox reads the time: sessions, tickets, TOTP, rate limits, webhook retries."""

    def time(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def time(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when a test advances it; listeners hear every advance."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[float], None]] = []

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move forward by `seconds`, then call every listener with the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        with self._lock:
            self._now += seconds
            now = self._now
            listeners = list(self._listeners)
        for callback in listeners:
            callback(now)

    def on_advance(self, callback: Callable[[float], None]) -> None:
        """Register `callback(now)` to run after each advance (e.g. to wake the webhook worker)."""
        with self._lock:
            self._listeners.append(callback)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox instance needs; shared by the HTTP app and the realtime engine.

    `rate_limits` maps a group (login, register, mutation, read, lookup) to (limit, window seconds);
    a group missing from the map is not limited.  `server_secret` keys the stable salts, the
    authHash verifiers and the session tokens; None means "the one stored in the database"
    (generated on first use), so several processes on one file agree.
    """

    db_path: str = ":memory:"
    rate_limits: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(RATE_LIMITS))
    server_secret: bytes | None = None
    clock: Clock = field(default_factory=SystemClock)
    log_path: str | None = None
    max_attachment: int = ATTACHMENT_MAX_CIPHERTEXT
    #: Largest JSON body accepted (a card may hold a 4 MiB description and custom fields).
    max_json_body: int = 16 * 1024 * 1024
    login_backoff: bool = True
    kdf: KdfParams = KDF_DEFAULT
    session_ttl: float = 30 * 24 * 3600
    #: Name of the shared-cache in-memory database when db_path is ":memory:".
    memory_name: str = field(default_factory=lambda: f"msk-{uuid.uuid4().hex}")

    def lift_limits(self) -> SandboxConfig:
        """The same configuration without rate limits or login backoff (tests, benchmarks)."""
        return replace(self, rate_limits={}, login_backoff=False)
