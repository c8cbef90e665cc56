"""Byte channels a relay participant talks through: a Protocol and its WebSocket implementation.

The participant only needs "send a frame, receive a frame, close" (`Channel`), so tests
run it over an in-memory pair of their own and production over a WebSocket.  Every failure
surfaces as an error of the one tree: a drop is a TransportError; the relay's
close codes 4401 (bad ticket, or its session ended), 4403 (membership revoked) and 1009 (frame over
1 MiB) become AuthError, ForbiddenError and PayloadTooLargeError.  A frame the
relay marked as sent by a read-only member (a text message, `_profile.RELAY_READ_ONLY_ROLES`)
is received as a `ReadOnlyFrame`, so the participant can refuse its document changes.
"""

from __future__ import annotations

import contextlib
import random
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import Close, CloseCode

from .._errors import ApiError, MskError, ProtocolError, TransportError, api_error
from .._profile import (
    RELAY_CLOSE_BAD_TICKET,
    RELAY_CLOSE_FORBIDDEN,
    RELAY_CLOSE_TOO_BIG,
    RELAY_MAX_FRAME,
    RELAY_MAX_TEXT_FRAME,
)
from ..crypto import b64u_decode

__all__ = [
    "Channel",
    "ReadOnlyFrame",
    "WebSocketChannel",
    "backoff_delay",
    "close_error",
    "is_fatal",
]


class ReadOnlyFrame(bytes):
    """A sealed relay frame the relay says a read-only member (an observer) sent."""


class Channel(Protocol):
    """A bidirectional, message-oriented byte channel."""

    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes: ...

    async def close(self) -> None: ...


def close_error(code: int | None, reason: str = "") -> MskError:
    """The tree's error for a relay close code."""
    detail = f" ({reason})" if reason else ""
    if code == RELAY_CLOSE_BAD_TICKET:
        return api_error(401, "UNAUTHORIZED", f"relay refused the ticket or ended the session{detail}")
    if code == RELAY_CLOSE_FORBIDDEN:
        return api_error(403, "FORBIDDEN", f"relay closed the room: membership revoked{detail}")
    if code == RELAY_CLOSE_TOO_BIG:
        return api_error(413, "PAYLOAD_TOO_LARGE", f"relay closed the socket: frame over 1 MiB{detail}")
    return TransportError(f"relay connection closed (code {code}){detail}")


class WebSocketChannel:
    """A relay socket (`GET /api/ws?t=<ticket>`): binary frames, and text ones for read-only senders."""

    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection

    @classmethod
    async def open(cls, url: str, *, timeout: float = 10.0) -> WebSocketChannel:
        """Connect to `url` (ws:// or wss://, ticket included); TransportError/AuthError on failure."""
        try:
            connection = await connect(
                url,
                # text frames (an observer's, base64url) are the longer kind; binary ones are checked below
                max_size=RELAY_MAX_TEXT_FRAME,
                open_timeout=timeout,
                compression=None,
                ping_interval=None,
            )
        except InvalidURI as exc:
            raise TransportError(f"bad relay address: {exc}") from None
        except InvalidHandshake as exc:
            raise TransportError(f"relay refused the WebSocket upgrade: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise TransportError(f"cannot reach the relay: {exc}") from None
        return cls(connection)

    def _closed_error(self, exc: ConnectionClosed) -> MskError:
        close: Close | None = exc.rcvd
        if close is None:
            ours: Close | None = exc.sent
            if ours is not None and ours.code == CloseCode.MESSAGE_TOO_BIG:
                return ProtocolError(f"relay sent a frame over {RELAY_MAX_FRAME:,} bytes, the relay's own limit")
            return TransportError("relay connection dropped")
        return close_error(close.code, close.reason)

    async def send(self, data: bytes) -> None:
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from None
        except OSError as exc:
            raise TransportError(f"relay connection failed: {exc}") from None

    async def recv(self) -> bytes:
        try:
            data = await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from None
        except OSError as exc:
            raise TransportError(f"relay connection failed: {exc}") from None
        if isinstance(data, str):
            try:
                return ReadOnlyFrame(b64u_decode(data))
            except ValueError:
                raise ProtocolError("relay sent a text frame that is not a base64url relay frame") from None
        if len(data) > RELAY_MAX_FRAME:
            raise ProtocolError(f"relay sent a frame over {RELAY_MAX_FRAME:,} bytes, the relay's own limit")
        return data

    async def close(self) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            await self._ws.close()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (tests of reconnect use it)."""
        self._ws.transport.abort()


def is_fatal(error: MskError) -> bool:
    """Errors a reconnect cannot cure (membership revoked, frame too big)."""
    return isinstance(error, ApiError) and error.status in (403, 413)


def backoff_delay(backoff: tuple[float, float], failures: int) -> float:
    """Seconds to wait before reconnecting after `failures` failures in a row.

    Doubles from `low` up to `high`, with jitter so clients dropped together do not return together.
    """
    low, high = backoff
    return min(high, low * 2.0 ** max(0, failures - 1)) * random.uniform(0.5, 1.0)
