"""Live collaboration: the encrypted Yjs relay participant, scripted description edits, presence.

Everything here talks to MSKanban's relay (`/api/ws`) as the browser clients do,
y-protocols inside XChaCha20-Poly1305 frames sealed with the board key (docs/protocol.md#relay).
This layer may import the crypto core, the client's public API and the shared top-level
modules; never export, importers, backup, the CLI or the sandbox.
"""

from __future__ import annotations

from ._awareness import Awareness, AwarenessChange, user_name
from ._channel import Channel, ReadOnlyFrame, WebSocketChannel, close_error
from ._participant import ConnectionChanged, LiveEvent, Participant, PresenceChanged, TextChanged
from ._protocol import (
    AwarenessEntry,
    AwarenessMessage,
    Message,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_awareness_update,
    decode_message,
    encode_awareness_update,
    encode_message,
)
from ._session import (
    AsyncCardClient,
    CardClient,
    aedit_description,
    edit_description,
    open_board,
    open_card,
    presence_for,
    relay_connector,
    user_color,
    ws_url,
)
from ._watch import BoardNames, SseParser, Tick, describe, watch

__all__ = [
    "BoardNames",
    "SseParser",
    "Tick",
    "describe",
    "watch",
    "AsyncCardClient",
    "CardClient",
    "aedit_description",
    "edit_description",
    "open_board",
    "open_card",
    "presence_for",
    "relay_connector",
    "user_color",
    "ws_url",
    "Awareness",
    "AwarenessChange",
    "AwarenessEntry",
    "AwarenessMessage",
    "Channel",
    "ConnectionChanged",
    "LiveEvent",
    "Message",
    "Participant",
    "PresenceChanged",
    "QueryAwareness",
    "ReadOnlyFrame",
    "SyncStep1",
    "SyncStep2",
    "SyncUpdate",
    "TextChanged",
    "WebSocketChannel",
    "close_error",
    "decode_awareness_update",
    "decode_message",
    "encode_awareness_update",
    "encode_message",
    "user_name",
]
