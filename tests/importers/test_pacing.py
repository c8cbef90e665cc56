"""Pacing under a sandbox that allows 60 mutations per minute, on a manual clock: no 429 at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mskclient import Client, Pacer
from mskclient.importers import DeckSource, Importer
from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig

from ._deck_server import create_app, sample_deck
from .conftest import PASSWORD, ServerThread, fresh_email


@pytest.fixture(scope="module")
def limited() -> Iterator[tuple[str, ManualClock]]:
    clock = ManualClock()
    with Sandbox(SandboxConfig(clock=clock, rate_limits={"mutation": (60, 60)})) as url:
        yield url, clock


def test_a_paced_import_meets_no_429_and_takes_the_estimated_time(
    limited: tuple[str, ManualClock], tmp_path: Path
) -> None:
    url, clock = limited
    retries: list[float] = []
    # max_retries=0: a single 429 would raise instead of being waited out
    client = Client(url, pacer=Pacer.unlimited(max_retries=0, on_wait=lambda s, _: retries.append(s)))
    email = fresh_email("paced")
    client.register(email, PASSWORD)
    workspace = client.create_workspace("Paced")
    clock.advance(60)  # the setup's mutations leave the server's window
    data = sample_deck()
    data.users["ana"].email = email
    with ServerThread(create_app(data)) as deck, DeckSource(deck.url, "ana", "app-password-1") as source, client:
        boards = [source.read_board(ref) for ref in source.boards(["10"])]
        importer = Importer(
            client, workspace.id, journal_root=tmp_path, limit=(60, 60), clock=clock.time, sleep=clock.advance
        )
        plan = importer.plan(source, boards)
        started = clock.time()
        summary = importer.run(source, boards)
    elapsed = clock.time() - started
    assert retries == []  # not one 429: the run stayed under the limit by itself
    assert summary.totals() == plan.totals() and plan.mutations == 83
    # 83 mutations at 54 per minute: the first 54 at once, the rest when the window slides
    assert elapsed == pytest.approx(60.0, abs=0.5)
    assert plan.estimated_seconds == pytest.approx(60 + 29 * 0.03)
