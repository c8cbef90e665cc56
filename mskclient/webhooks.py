"""Receiving MSKanban webhooks: signature check with the real clock, and replay refusal (docs/protocol.md#webhooks).

`verify` is what a receiver calls on each delivery.  `Receiver` adds what a
signature cannot give: a delivery captured and sent again within the
tolerance window carries a valid signature, so a receiver also refuses a
delivery id or a signature it has already accepted in that window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ._errors import ProtocolError
from ._json import loads
from ._profile import WEBHOOK_EVENTS, WEBHOOK_TOLERANCE_SECONDS, is_valid_delivery_id
from .crypto import WebhookSignatureError, verify_webhook_signature

__all__ = [
    "HEADER_DELIVERY",
    "HEADER_EVENT",
    "HEADER_SIGNATURE",
    "Receiver",
    "ReplayError",
    "WebhookDelivery",
    "WebhookSignatureError",
    "verify",
]

HEADER_EVENT: Final = "X-MSKanban-Event"
HEADER_DELIVERY: Final = "X-MSKanban-Delivery-Id"
HEADER_SIGNATURE: Final = "X-MSKanban-Signature"


class ReplayError(WebhookSignatureError):
    """A delivery id or signature already accepted within the tolerance window came again."""


def verify(secret: str, header: str, body: bytes, tolerance: int = WEBHOOK_TOLERANCE_SECONDS) -> int:
    """Check `X-MSKanban-Signature` against the raw body at the current time; returns its `t`.

    Raises WebhookSignatureError (a ProtocolError) when the header is
    malformed, no `v1` matches (constant-time comparison), or `t` is more
    than `tolerance` seconds from now.
    """
    return verify_webhook_signature(secret, header, body, now=time.time(), tolerance=tolerance)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One accepted delivery."""

    id: str
    event: str
    t: int
    payload: Mapping[str, Any]


@dataclass
class Receiver:
    """Checks deliveries for one secret: signature, freshness, shape, and replays."""

    secret: str = field(repr=False)
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS
    clock: Callable[[], float] = time.time
    _seen: dict[str, float] = field(default_factory=dict)

    def accept(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """The delivery if it is genuine, fresh and new; WebhookSignatureError/ReplayError/ProtocolError else."""
        lower = {k.lower(): v for k, v in headers.items()}
        signature = lower.get(HEADER_SIGNATURE.lower())
        if not signature:
            raise WebhookSignatureError("delivery has no X-MSKanban-Signature header")
        now = self.clock()
        t = verify_webhook_signature(self.secret, signature, body, now=now, tolerance=self.tolerance)
        delivery_id = lower.get(HEADER_DELIVERY.lower(), "")
        event = lower.get(HEADER_EVENT.lower(), "")
        if not is_valid_delivery_id(delivery_id):
            raise ProtocolError("delivery id is not a ULID")
        payload = loads(body, "delivery body")
        if not isinstance(payload, dict) or payload.get("verb") != event or event not in WEBHOOK_EVENTS:
            raise ProtocolError("delivery event header and body verb disagree or are unknown")
        self._forget(now)
        keys = ("id:" + delivery_id, "sig:" + signature.strip())
        if any(key in self._seen for key in keys):
            raise ReplayError(f"delivery {delivery_id} replayed")
        for key in keys:
            self._seen[key] = t + self.tolerance
        return WebhookDelivery(delivery_id, event, t, payload)

    def _forget(self, now: float) -> None:
        # After t + tolerance a replay fails the timestamp check, so it need not be remembered.
        for key in [k for k, until in self._seen.items() if until < now]:
            del self._seen[key]
