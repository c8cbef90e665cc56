"""Awareness bookkeeping with the rules of y-protocols ``applyAwarenessUpdate``.

A remote entry is taken when its clock is newer, or equal with a ``null``
state for a client we hold (a leave).  A remote ``null`` for *our* own client
makes us re-announce with a higher clock, as the JavaScript code does.  The
local clock starts at 0 and every local change increments it first, so the
first announced state has clock 1: peers that never saw us ignore clock 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ._protocol import AwarenessEntry

__all__ = ["OUTDATED_SECONDS", "Awareness", "AwarenessChange", "user_name"]

#: y-protocols drops a remote state not renewed for 30 s.
OUTDATED_SECONDS: Final = 30.0


def user_name(state: Mapping[str, Any]) -> str | None:
    """The `user.name` of an awareness state; None when absent (peers are not trusted to shape it right)."""
    user = state.get("user")
    name = user.get("name") if isinstance(user, dict) else None
    return name if isinstance(name, str) and name else None


@dataclass(frozen=True, slots=True)
class AwarenessChange:
    """Client ids added, updated and removed by one awareness update."""

    added: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class _Meta:
    clock: int
    seen: float


@dataclass
class Awareness:
    """Awareness states of one room as this participant knows them."""

    client_id: int
    clock_fn: Callable[[], float] = time.monotonic
    _states: dict[int, dict[str, Any]] = field(default_factory=dict)
    _meta: dict[int, _Meta] = field(default_factory=dict)

    @property
    def local_state(self) -> dict[str, Any] | None:
        return self._states.get(self.client_id)

    @property
    def local_clock(self) -> int:
        meta = self._meta.get(self.client_id)
        return 0 if meta is None else meta.clock

    def states(self) -> dict[int, dict[str, Any]]:
        """Every known state (ours included), by client id."""
        return dict(self._states)

    def set_local(self, state: dict[str, Any] | None) -> AwarenessEntry:
        """Set (or with None, clear) our state; returns the entry to broadcast."""
        clock = self.local_clock + 1
        self._meta[self.client_id] = _Meta(clock, self.clock_fn())
        if state is None:
            self._states.pop(self.client_id, None)
        else:
            self._states[self.client_id] = dict(state)
        return AwarenessEntry(self.client_id, clock, None if state is None else dict(state))

    def renew(self) -> AwarenessEntry:
        """Re-announce our state with a new clock (the 15 s keep-alive)."""
        return self.set_local(self.local_state)

    def entries(self, client_ids: list[int] | None = None) -> list[AwarenessEntry]:
        """Entries for `client_ids` (default: every state we hold), for an awareness message."""
        ids = list(self._states) if client_ids is None else client_ids
        return [
            AwarenessEntry(cid, self._meta[cid].clock, self._states.get(cid))
            for cid in ids
            if cid in self._meta
        ]

    def apply(self, entries: tuple[AwarenessEntry, ...]) -> tuple[AwarenessChange, AwarenessEntry | None]:
        """Apply a remote update; returns what changed and, if a peer declared us gone, our re-announcement."""
        now = self.clock_fn()
        added: list[int] = []
        updated: list[int] = []
        removed: list[int] = []
        reannounce: AwarenessEntry | None = None
        for entry in entries:
            meta = self._meta.get(entry.client_id)
            current = 0 if meta is None else meta.clock
            held = entry.client_id in self._states
            if not (current < entry.clock or (current == entry.clock and entry.state is None and held)):
                continue
            if entry.state is None:
                if entry.client_id == self.client_id and self.local_state is not None:
                    self._meta[self.client_id] = _Meta(entry.clock, now)
                    reannounce = self.renew()
                    continue
                self._states.pop(entry.client_id, None)
                if held:
                    removed.append(entry.client_id)
            else:
                previous = self._states.get(entry.client_id)
                self._states[entry.client_id] = entry.state
                if previous is None:
                    added.append(entry.client_id)
                elif previous != entry.state:
                    updated.append(entry.client_id)
            self._meta[entry.client_id] = _Meta(entry.clock, now)
        return AwarenessChange(tuple(added), tuple(updated), tuple(removed)), reannounce

    def expire(self) -> AwarenessChange:
        """Drop remote states not renewed for OUTDATED_SECONDS (a peer that vanished)."""
        now = self.clock_fn()
        gone = [
            cid
            for cid, meta in self._meta.items()
            if cid != self.client_id and cid in self._states and now - meta.seen >= OUTDATED_SECONDS
        ]
        for cid in gone:
            del self._states[cid]
        return AwarenessChange(removed=tuple(gone))

    def forget_remote(self) -> AwarenessChange:
        """Drop every remote state (our socket dropped: we no longer know who is there)."""
        gone = [cid for cid in self._states if cid != self.client_id]
        for cid in gone:
            del self._states[cid]
        # Forget their clocks too, so the same states re-sent after we rejoin count again.
        self._meta = {cid: meta for cid, meta in self._meta.items() if cid == self.client_id}
        return AwarenessChange(removed=tuple(gone))
