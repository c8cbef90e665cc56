"""Webhook verification against deliveries the sandbox signs, and the receiver's replay refusal."""

from __future__ import annotations

import json
import queue
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from _accounts import World

from mskclient import webhooks
from mskclient.crypto import sign_webhook
from mskclient.webhooks import Receiver, ReplayError, WebhookSignatureError, verify

Captured = tuple[dict[str, str], bytes]


@pytest.fixture
def inbox() -> Iterator[tuple[str, queue.Queue[Captured]]]:
    received: queue.Queue[Captured] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.put((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()
    thread.join(5)


def _later(seconds: float) -> types.SimpleNamespace:
    return types.SimpleNamespace(time=lambda: time.time() + seconds)


def test_a_sandbox_signed_delivery_verifies_and_tampering_is_rejected(
    world: World, inbox: tuple[str, queue.Queue[Captured]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = inbox
    hook = world.alice.client.create_webhook(world.board_id, url, ["CARD_MOVED"])
    assert hook.secret
    card_id = world.new_card("Webhook me")
    world.alice.client.move_card(card_id, world.column_ids[1])
    headers, body = received.get(timeout=15)
    header = headers["X-MSKanban-Signature"]
    assert headers["X-MSKanban-Event"] == "CARD_MOVED"
    assert json.loads(body)["cardId"] == card_id

    t = verify(hook.secret, header, body)
    assert abs(t - time.time()) < 300
    delivery = Receiver(hook.secret).accept(headers, body)
    assert delivery.event == "CARD_MOVED" and delivery.payload["cardId"] == card_id

    changed = bytearray(body)
    changed[len(changed) // 2] ^= 0x01
    with pytest.raises(WebhookSignatureError):
        verify(hook.secret, header, bytes(changed))
    with pytest.raises(WebhookSignatureError):
        verify(hook.secret + "x", header, body)
    monkeypatch.setattr(webhooks, "time", _later(301))
    with pytest.raises(WebhookSignatureError, match="300"):
        verify(hook.secret, header, body)


def test_a_stale_but_correctly_signed_delivery_is_rejected() -> None:
    body = b'{"verb":"CARD_CREATED"}'
    with pytest.raises(WebhookSignatureError):
        verify("s3cret", sign_webhook("s3cret", int(time.time()) - 301, body), body)
    assert verify("s3cret", sign_webhook("s3cret", int(time.time()) - 290, body), body)


def _delivery(secret: str, t: int, delivery_id: str, verb: str = "CARD_CREATED") -> tuple[dict[str, str], bytes]:
    body = json.dumps({"verb": verb, "boardId": "cboard0001"}).encode()
    headers = {
        "x-mskanban-event": verb,
        "X-MSKanban-Delivery-Id": delivery_id,
        "X-MSKanban-Signature": sign_webhook(secret, t, body),
    }
    return headers, body


def test_receiver_refuses_replays_within_the_window() -> None:
    now = [1_800_000_000.0]
    receiver = Receiver("s3cret", clock=lambda: now[0])
    headers, body = _delivery("s3cret", int(now[0]), "01JABCDEFGHJKMNPQRSTVWXYZ0")
    receiver.accept(headers, body)
    with pytest.raises(ReplayError):
        receiver.accept(headers, body)  # the same delivery again
    same_signature = dict(headers, **{"X-MSKanban-Delivery-Id": "01JABCDEFGHJKMNPQRSTVWXYZ1"})
    with pytest.raises(ReplayError):
        receiver.accept(same_signature, body)  # a new id on a captured signature
    now[0] += 10
    fresh = _delivery("s3cret", int(now[0]), "01JABCDEFGHJKMNPQRSTVWXYZ2")
    assert receiver.accept(*fresh).id == "01JABCDEFGHJKMNPQRSTVWXYZ2"
    now[0] += 301
    with pytest.raises(WebhookSignatureError):
        receiver.accept(headers, body)  # out of the window: stale, not remembered


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"X-MSKanban-Signature": ""}, WebhookSignatureError),
        ({"X-MSKanban-Delivery-Id": "not-a-ulid"}, webhooks.ProtocolError),
        ({"x-mskanban-event": "CARD_DELETED"}, webhooks.ProtocolError),
    ],
)
def test_receiver_rejects_malformed_deliveries(change: dict[str, str], error: type[Exception]) -> None:
    receiver = Receiver("s3cret")
    headers, body = _delivery("s3cret", int(time.time()), "01JABCDEFGHJKMNPQRSTVWXYZ3")
    with pytest.raises(error):
        receiver.accept({**headers, **change}, body)
