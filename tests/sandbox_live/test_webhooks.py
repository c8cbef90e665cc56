"""Webhook deliveries to a real receiver: signatures, the retry schedule on a ManualClock,
dead letter, requeue, and what is not retried."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from mskclient._errors import NotFoundError
from mskclient._profile import WEBHOOK_RETRY_SCHEDULE, is_valid_delivery_id
from mskclient.crypto import verify_webhook_signature
from mskclient.sandbox._config import ManualClock
from mskclient.sandbox._realtime import Realtime

from ._harness import Engine, Receiver, receiver

ALICE = "cuseralice1"


@pytest.fixture
def hook() -> Iterator[tuple[Receiver, str]]:
    with receiver() as running:
        yield running


@pytest.fixture
def board(engine: Engine) -> str:
    return engine.board(engine.workspace({ALICE: "owner"}))


def received_bodies(hook: Receiver) -> list[dict[str, object]]:
    return [json.loads(item.body) for item in hook.drain()]


async def test_a_delivery_is_signed_and_shaped_like_the_event(
    engine: Engine, board: str, hook: tuple[Receiver, str]
) -> None:
    receiver_, url = hook
    hook_id, secret = engine.webhook(board, url, ["CARD_MOVED"])
    event, wire = engine.card_moved(board)
    engine.realtime.publish(event)
    [row] = engine.deliveries(hook_id)
    assert row["status"] == "pending" and row["event_id"] == event and is_valid_delivery_id(row["id"])
    await engine.realtime.run_due_deliveries()
    [post] = receiver_.drain()
    assert post.headers["x-mskanban-event"] == "CARD_MOVED"
    assert post.headers["x-mskanban-delivery-id"] == row["id"]
    assert post.headers["content-type"] == "application/json"
    t = verify_webhook_signature(secret, post.headers["x-mskanban-signature"], post.body, now=engine.clock.time())
    assert t == int(engine.clock.time())
    assert json.loads(post.body) == wire
    [row] = engine.deliveries(hook_id)
    assert (row["status"], row["attempts"], row["last_status"], row["next_attempt_at"]) == ("delivered", 1, 200, None)


async def test_only_active_webhooks_subscribed_to_the_verb_get_it(
    engine: Engine, board: str, hook: tuple[Receiver, str]
) -> None:
    receiver_, url = hook
    moved_only, _ = engine.webhook(board, url, ["CARD_MOVED"])
    inactive, _ = engine.webhook(board, url, ["CARD_CREATED"], active=False)
    created, _ = engine.webhook(board, url, ["CARD_CREATED", "CARD_MOVED"])
    other_board = engine.board(engine.workspace({ALICE: "owner"}))
    elsewhere, _ = engine.webhook(other_board, url, ["CARD_CREATED"])
    engine.realtime.publish(engine.event(board, "CARD_CREATED", "ccard00001"))
    assert [len(engine.deliveries(h)) for h in (moved_only, inactive, created, elsewhere)] == [0, 0, 1, 0]
    await engine.realtime.run_due_deliveries()
    assert [body["verb"] for body in received_bodies(receiver_)] == ["CARD_CREATED"]


async def test_5xx_is_retried_on_the_schedule_then_dead_lettered_then_requeued(
    engine: Engine, board: str, hook: tuple[Receiver, str]
) -> None:
    receiver_, url = hook
    receiver_.statuses.extend([500, 502, 503, 500, 504, 500, 599])
    hook_id, secret = engine.webhook(board, url, ["COMMENT_CREATED"])
    engine.realtime.publish(engine.event(board, "COMMENT_CREATED", "ccard00001", commentId="ccomment01"))
    await engine.realtime.run_due_deliveries()
    bodies = {receiver_.drain()[0].body}
    for attempt, delay in enumerate(WEBHOOK_RETRY_SCHEDULE, start=1):
        [row] = engine.deliveries(hook_id)
        assert (row["status"], row["attempts"]) == ("pending", attempt)
        assert row["next_attempt_at"] == engine.clock.time() + delay
        engine.clock.advance(delay - 1)
        await engine.realtime.run_due_deliveries()
        assert receiver_.drain() == [], f"retry {attempt} went out early"
        engine.clock.advance(1)
        await engine.realtime.run_due_deliveries()
        [post] = receiver_.drain()
        verify_webhook_signature(secret, post.headers["x-mskanban-signature"], post.body, now=engine.clock.time())
        assert post.headers["x-mskanban-delivery-id"] == row["id"]
        bodies.add(post.body)
    assert len(bodies) == 1, "every attempt sends the same body"
    [row] = engine.deliveries(hook_id)
    assert (row["status"], row["attempts"], row["last_status"], row["next_attempt_at"]) == ("dead", 7, 599, None)
    engine.clock.advance(7 * 86400)
    await engine.realtime.run_due_deliveries()
    assert receiver_.drain() == []

    engine.realtime.requeue(row["id"])
    await engine.realtime.run_due_deliveries()
    [post] = receiver_.drain()
    assert post.body in bodies
    [row] = engine.deliveries(hook_id)
    assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 1, 200)


async def test_network_errors_are_retried(engine: Engine, board: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    hook_id, _ = engine.webhook(board, f"http://127.0.0.1:{closed_port}/hook", ["ASSIGNED"])
    engine.realtime.publish(engine.event(board, "ASSIGNED", "ccard00001", userId="cuserbob001"))
    await engine.realtime.run_due_deliveries()
    [row] = engine.deliveries(hook_id)
    assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, None)
    assert row["last_error"] and "Connect" in row["last_error"]
    assert row["next_attempt_at"] == engine.clock.time() + WEBHOOK_RETRY_SCHEDULE[0]


async def test_a_4xx_answer_is_not_retried(engine: Engine, board: str, hook: tuple[Receiver, str]) -> None:
    receiver_, url = hook
    receiver_.statuses.append(410)
    hook_id, _ = engine.webhook(board, url, ["LABEL_ATTACHED"])
    engine.realtime.publish(engine.event(board, "LABEL_ATTACHED", "ccard00001", labelId="clabel0001"))
    await engine.realtime.run_due_deliveries()
    [row] = engine.deliveries(hook_id)
    assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 1, 410)
    assert len(receiver_.drain()) == 1


async def test_a_webhook_switched_off_before_the_retry_dead_letters_it(
    engine: Engine, board: str, hook: tuple[Receiver, str]
) -> None:
    receiver_, url = hook
    receiver_.statuses.append(500)
    hook_id, _ = engine.webhook(board, url, ["CARD_DELETED"])
    engine.realtime.publish(engine.event(board, "CARD_DELETED", "ccard00001"))
    await engine.realtime.run_due_deliveries()
    engine.execute("UPDATE webhooks SET active = 0 WHERE id = ?", (hook_id,))
    engine.clock.advance(WEBHOOK_RETRY_SCHEDULE[0])
    await engine.realtime.run_due_deliveries()
    assert len(receiver_.drain()) == 1
    [row] = engine.deliveries(hook_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 2, "webhook inactive")


async def test_requeue_of_an_unknown_delivery_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFoundError):
        engine.realtime.requeue("01JZZZZZZZZZZZZZZZZZZZZZZZ")


async def test_two_engines_on_one_database_send_each_delivery_once(
    engine: Engine, board: str, hook: tuple[Receiver, str]
) -> None:
    """Two sandbox processes share the database: each delivery is claimed by one worker only."""
    receiver_, url = hook
    engine.webhook(board, url, ["CARD_UPDATED"])
    other = Realtime(replace(engine.config, clock=ManualClock(engine.clock.time())))
    await other.start()
    try:
        for n in range(30):
            event = engine.event(board, "CARD_UPDATED", f"ccard{n:05d}")
            (engine.realtime if n % 2 else other).publish(event)
        await asyncio.gather(*(rt.run_due_deliveries() for rt in (engine.realtime, other, engine.realtime, other)))
    finally:
        await other.stop()
    cards = sorted(str(body["cardId"]) for body in received_bodies(receiver_))
    assert cards == [f"ccard{n:05d}" for n in range(30)]
