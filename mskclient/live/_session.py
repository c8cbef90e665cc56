"""Joining relay rooms with a logged-in client, and scripted description edits that reach live peers.

A scripted edit (`msk cards edit --append ...`) is computed as the smallest
Yjs text operations against the stored document, saved with If-Match (the
client merges and retries on 409), and then also sent into the card's room as
a sync update, so people editing the card in a browser see it at once and
their own later saves keep it.  When nobody is in the room the relay simply
forwards the frame to no one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from .._errors import MskError, UsageError
from .._models import Card, WsTicket
from .._profile import API_PREFIX, AWARENESS_RENEW_SECONDS
from ..client import DescriptionEdit
from ..crypto import BoardKey, seal_relay_frame
from ._channel import Channel, WebSocketChannel
from ._participant import Connector, Participant
from ._protocol import SyncUpdate, encode_message

__all__ = [
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
]


class AsyncCardClient(Protocol):
    """What live needs of `mskclient.AsyncClient`."""

    server: str

    async def card(self, card_id: str) -> Card: ...

    async def edit_card(
        self, card_id: str, *, description_state: bytes | None = ..., base: Card | None = ...
    ) -> Card: ...

    async def edit_description(
        self, card_id: str, transform: Callable[[str], str], *, base: Card | None = ..., live: bool = ...
    ) -> DescriptionEdit: ...

    async def ws_ticket(self, room: str) -> WsTicket: ...

    async def board_key(self, board_id: str) -> BoardKey: ...


class CardClient(Protocol):
    """What live needs of the blocking `mskclient.Client`."""

    server: str

    def edit_description(
        self, card_id: str, transform: Callable[[str], str], *, base: Card | None = ..., live: bool = ...
    ) -> DescriptionEdit: ...


def ws_url(server: str, ticket: str) -> str:
    """The relay address for `ticket` on `server` (http→ws, https→wss)."""
    parts = urlsplit(server.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        raise UsageError(f"server must be an http(s) URL: {server!r}")
    return urlunsplit((scheme, parts.netloc, parts.path + API_PREFIX + "/ws", "t=" + quote(ticket, safe=""), ""))


def relay_connector(client: AsyncCardClient, room: str) -> Connector:
    """A connector that takes a fresh one-shot ticket for `room` at every (re)connect."""

    async def connect() -> Channel:
        ticket = await client.ws_ticket(room)
        return await WebSocketChannel.open(ws_url(client.server, ticket.ticket))

    return connect


def user_color(user_id: str) -> str:
    """A stable `#rrggbb` colour for a user (the same in every session)."""
    return "#" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:6]


def presence_for(user_id: str, name: str, card_id: str | None = None) -> dict[str, Any]:
    """An awareness state as the profile shapes it (`cardId` only in board rooms)."""
    state: dict[str, Any] = {"user": {"id": user_id, "name": name, "color": user_color(user_id)}}
    if card_id is not None:
        state["cardId"] = card_id
    return state


async def open_card(
    client: AsyncCardClient,
    card_id: str,
    *,
    presence: Mapping[str, Any] | None = None,
    renew_seconds: float = AWARENESS_RENEW_SECONDS,
    backoff: tuple[float, float] = (0.05, 5.0),
) -> Participant:
    """A participant for `card:<id>` loaded with the stored description (not started yet).

    Its `save()` stores the merged document with If-Match (merging again on 409).
    """
    card = await client.card(card_id)
    key = await client.board_key(card.board_id)

    async def persist(state: bytes) -> bytes:
        saved = await client.edit_card(card_id, description_state=state)
        return saved.description_state

    room = f"card:{card_id}"
    return Participant(
        room,
        key,
        relay_connector(client, room),
        presence=presence,
        state=card.description_state,
        persist=persist,
        renew_seconds=renew_seconds,
        backoff=backoff,
    )


async def open_board(
    client: AsyncCardClient,
    board_id: str,
    *,
    presence: Mapping[str, Any] | None = None,
    renew_seconds: float = AWARENESS_RENEW_SECONDS,
    backoff: tuple[float, float] = (0.05, 5.0),
) -> Participant:
    """A participant for `board:<id>` (awareness only: who is on the board, on which card)."""
    key = await client.board_key(board_id)
    room = f"board:{board_id}"
    return Participant(
        room, key, relay_connector(client, room), presence=presence, renew_seconds=renew_seconds, backoff=backoff
    )


async def _share(server: str, edit: DescriptionEdit) -> None:
    """Send a stored edit into the card's room as a sync update (best effort: it is stored already)."""
    if edit.update is None or edit.ticket is None or edit.key is None:
        return  # nothing changed, not asked for, or no ticket: peers get it from the next load or save
    room = f"card:{edit.card.id}"
    with contextlib.suppress(MskError):
        channel = await WebSocketChannel.open(ws_url(server, edit.ticket.ticket))
        try:
            await channel.send(seal_relay_frame(edit.key, room, encode_message(SyncUpdate(edit.update))))
        finally:
            await channel.close()


async def aedit_description(
    client: AsyncCardClient,
    card_id: str,
    transform: Callable[[str], str],
    *,
    live: bool = True,
    base: Card | None = None,
) -> Card:
    """Apply `transform` to a card's description as a minimal Yjs edit, save it, share it live.

    The client's `edit_description` flow reads (unless `base` is given), diffs and stores the
    edit; this sends it into the card's room, so people editing it in a browser see it at once.
    """
    edit = await client.edit_description(card_id, transform, base=base, live=live)
    await _share(client.server, edit)
    return edit.card


def edit_description(
    client: CardClient,
    card_id: str,
    transform: Callable[[str], str],
    *,
    live: bool = True,
    base: Card | None = None,
) -> Card:
    """Blocking `aedit_description` for `mskclient.Client` (what `msk cards edit` uses)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop in this thread: the blocking live send below may run its own
    else:
        raise UsageError("edit_description blocks: inside an event loop use aedit_description")
    edit = client.edit_description(card_id, transform, base=base, live=live)
    if edit.ticket is not None:  # an event loop of its own only when there is something to send
        asyncio.run(_share(client.server, edit))
    return edit.card
