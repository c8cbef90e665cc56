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
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from .. import _description as ydesc
from .._errors import MskError, UsageError
from .._models import Card, WsTicket
from .._profile import API_PREFIX, AWARENESS_RENEW_SECONDS
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

    async def ws_ticket(self, room: str) -> WsTicket: ...

    async def board_key(self, board_id: str) -> BoardKey: ...


class CardClient(Protocol):
    """What live needs of the blocking `mskclient.Client`."""

    server: str

    def card(self, card_id: str) -> Card: ...

    def edit_card(self, card_id: str, *, description_state: bytes | None = ..., base: Card | None = ...) -> Card: ...

    def ws_ticket(self, room: str) -> WsTicket: ...

    def board_key(self, board_id: str) -> BoardKey: ...


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


def _prepare(base: Card, transform: Callable[[str], str]) -> bytes | None:
    new_text = transform(base.description)
    if not isinstance(new_text, str):
        raise UsageError("the description transform must return text")
    if new_text == base.description:
        return None
    return ydesc.diff_update(base.description_state, new_text)


async def _send_live(server: str, ticket: WsTicket, key: BoardKey, room: str, update: bytes) -> None:
    channel = await WebSocketChannel.open(ws_url(server, ticket.ticket))
    try:
        await channel.send(seal_relay_frame(key, room, encode_message(SyncUpdate(update))))
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

    `base` is the card as the caller already read it (else it is read now).  The save is a
    safe edit (If-Match; on 409 the client re-reads, merges and retries).  The live send is
    best effort: the edit is already stored, and live peers merge the stored document when
    they save.
    """
    if base is None:
        base = await client.card(card_id)
    update = _prepare(base, transform)
    if update is None:
        return base
    card = await client.edit_card(card_id, description_state=update, base=base)
    if live:
        room = f"card:{card_id}"
        try:
            ticket = await client.ws_ticket(room)
            key = await client.board_key(card.board_id)
            await _send_live(client.server, ticket, key, room, update)
        except MskError:
            pass  # stored already; peers that missed the frame get it from the next load or save
    return card


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
    if base is None:
        base = client.card(card_id)
    update = _prepare(base, transform)
    if update is None:
        return base
    card = client.edit_card(card_id, description_state=update, base=base)
    if live:
        room = f"card:{card_id}"
        try:
            ticket = client.ws_ticket(room)
            key = client.board_key(card.board_id)
            asyncio.run(_send_live(client.server, ticket, key, room, update))
        except MskError:
            pass  # stored already; peers that missed the frame get it from the next load or save
    return card
