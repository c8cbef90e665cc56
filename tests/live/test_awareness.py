"""Awareness bookkeeping with an injected clock: the 30 s timeout of a vanished peer."""

from __future__ import annotations

from mskclient.live._awareness import OUTDATED_SECONDS, Awareness
from mskclient.live._protocol import AwarenessEntry


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_peer_not_renewed_for_30_seconds_is_dropped_and_a_renewed_one_kept() -> None:
    clock = _Clock()
    mine = Awareness(client_id=1, clock_fn=clock)
    mine.set_local({"user": {"name": "me"}})
    change, _ = mine.apply((AwarenessEntry(2, 1, {"user": {"name": "gone"}}), AwarenessEntry(3, 1, {"user": {}})))
    assert change.added == (2, 3)

    clock.now += OUTDATED_SECONDS / 2
    mine.apply((AwarenessEntry(3, 2, {"user": {}}),))  # peer 3 renews (its 15 s keep-alive)
    clock.now += OUTDATED_SECONDS / 2 - 0.001
    assert not mine.expire()  # 2 was seen 29.999 s ago: still there

    clock.now += 0.001
    assert mine.expire().removed == (2,)
    assert set(mine.states()) == {1, 3}  # our own state never expires

    clock.now += OUTDATED_SECONDS
    assert mine.expire().removed == (3,)
    assert set(mine.states()) == {1}

    change, _ = mine.apply((AwarenessEntry(2, 2, {"user": {"name": "back"}}),))  # a newer clock: back again
    assert change.added == (2,)
