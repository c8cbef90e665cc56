"""Webhooks through the HTTP app: an event committed by a route is delivered, signed, retried
on the profile's schedule when the receiver fails (driven by the manual clock) and requeued."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _accounts import Board

from mskclient.crypto import verify_webhook_signature
from mskclient.sandbox import ManualClock

DEADLINE = 15.0


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses: list[int] = []  # answers to give, in order (then 200)
        self.received: list[tuple[dict[str, str], bytes]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _wait_for(board: Board, hook: str, predicate: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        deliveries: list[dict[str, Any]] = board.owner.http.get(f"/webhooks/{hook}/deliveries").json()
        if predicate(deliveries):
            return deliveries
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.05)


def test_delivery_signed_retried_and_requeued(board: Board, receiver: _Receiver, clock: ManualClock) -> None:
    alice = board.owner
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    hook = alice.http.post(f"/boards/{board.id}/webhooks", json={"url": url, "events": ["CARD_CREATED", "CARD_MOVED"]})
    secret, hook_id = hook.json()["secret"], hook.json()["id"]
    receiver.statuses = [500]
    card = alice.card(board.column, board.bk)
    (first,) = _wait_for(board, hook_id, lambda d: d and d[0]["attempts"] == 1)
    assert first["status"] == "pending" and first["lastStatus"] == 500
    assert first["nextAttemptAt"] == pytest.approx(clock.time() + 30, abs=1)
    clock.advance(30)
    (done,) = _wait_for(board, hook_id, lambda d: d and d[0]["status"] == "delivered")
    assert done["attempts"] == 2
    headers, body = receiver.received[-1]
    assert headers["x-mskanban-event"] == "CARD_CREATED"
    assert headers["x-mskanban-delivery-id"] == done["id"]
    verify_webhook_signature(secret, headers["x-mskanban-signature"], body, now=clock.time())
    assert card["id"].encode() in body and b"enc" not in body
    # Requeue sends it again at once.
    assert alice.http.post(f"/webhooks/deliveries/{done['id']}/requeue").status_code == 202
    _wait_for(board, hook_id, lambda d: d and d[0]["status"] == "delivered" and d[0]["attempts"] == 1)
    assert len(receiver.received) == 3
