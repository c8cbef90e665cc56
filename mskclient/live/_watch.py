"""Board ticks over SSE (docs/protocol.md#sse), resumed with Last-Event-ID, and turned into decrypted sentences.

The server only knows ids (it stores ciphertext), so a tick says "card X moved
from column A to B by user U"; `BoardNames` looks those ids up through the
client, decrypting titles with the board key, and `describe` writes the line
a person reads: card ‘Fix login’ moved from ‘Doing’ to ‘Done’ by alice.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ApiError, ForbiddenError, MskError, NotFoundError, ProtocolError, RateLimitError, TransportError
from .._json import loads
from .._profile import SSE_MAX_EVENT_CHARS, is_valid_id
from ..client import AsyncClient, Request
from ._channel import backoff_delay

__all__ = ["BoardNames", "SseParser", "Tick", "describe", "watch"]


@dataclass(frozen=True, slots=True)
class Tick:
    """One board event as the SSE stream (or a webhook) carries it."""

    id: str | None
    verb: str
    board_id: str
    card_id: str | None
    actor_id: str | None
    timestamp: str
    metadata: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: object, event_id: str | None = None) -> Tick:
        """Validate a webhook-shaped payload; ProtocolError if it is not one."""
        if not isinstance(data, dict):
            raise ProtocolError("board event is not a JSON object")
        verb, board_id, card_id = data.get("verb"), data.get("boardId"), data.get("cardId")
        actor_id, timestamp, metadata = data.get("actorId"), data.get("timestamp"), data.get("metadata", {})
        if not isinstance(verb, str) or not is_valid_id(board_id) or not isinstance(timestamp, str):
            raise ProtocolError("board event lacks verb, boardId or timestamp")
        if card_id is not None and not is_valid_id(card_id):
            raise ProtocolError("board event has a malformed cardId")
        if actor_id is not None and not is_valid_id(actor_id):
            raise ProtocolError("board event has a malformed actorId")
        if not isinstance(metadata, dict):
            raise ProtocolError("board event metadata is not an object")
        assert isinstance(board_id, str)
        return cls(event_id, verb, board_id, card_id, actor_id, timestamp, metadata)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verb": self.verb,
            "boardId": self.board_id,
            "cardId": self.card_id,
            "actorId": self.actor_id,
            "timestamp": self.timestamp,
            "metadata": dict(self.metadata),
        }


class SseParser:
    """Incremental text/event-stream parser (the WHATWG rules this profile needs)."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._size = 0
        self._event = "message"
        self._id: str | None = None
        self.last_id: str | None = None

    def feed(self, line: str) -> tuple[str, str, str | None] | None:
        """One line without its newline; returns (event, data, id) when an event completes.

        An event whose data grows over `SSE_MAX_EVENT_CHARS` is a ProtocolError.
        """
        if line == "":
            if not self._data:
                self._event = "message"
                return None
            event = (self._event, "\n".join(self._data), self._id)
            self._data, self._size, self._event = [], 0, "message"
            return event
        if line.startswith(":"):
            return None  # comment: the heartbeat
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._size += len(value) + 1
            if self._size > SSE_MAX_EVENT_CHARS:
                raise ProtocolError(f"SSE event data over {SSE_MAX_EVENT_CHARS:,} characters")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = self.last_id = value
        return None


_NEWLINE = re.compile(r"\r\n|\r|\n")


async def _bounded_lines(chunks: AsyncIterator[str], limit: int = SSE_MAX_EVENT_CHARS) -> AsyncIterator[str]:
    """The complete lines of an event stream (ended by CRLF, LF or CR), without their ends.

    A line still growing past `limit` characters is a ProtocolError as soon as it is that long,
    so an endless line costs `limit` characters of memory, not the whole stream.
    """
    pending = ""
    async for text in chunks:
        pending += text
        held = pending.endswith("\r")  # maybe the first half of a CRLF split between chunks
        *lines, pending = _NEWLINE.split(pending[:-1] if held else pending)
        for line in lines:
            if len(line) > limit:
                raise _line_too_long(limit)
            yield line
        if len(pending) > limit:
            raise _line_too_long(limit)
        pending += "\r" if held else ""


def _line_too_long(limit: int) -> ProtocolError:
    return ProtocolError(f"SSE line over {limit:,} characters")


async def _text(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """An event stream's bytes as text: always UTF-8, a character split between chunks kept whole."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in chunks:
        if text := decoder.decode(chunk):
            yield text


async def watch(
    client: AsyncClient,
    board_id: str,
    *,
    last_event_id: str | None = None,
    backoff: tuple[float, float] = (0.2, 10.0),
    max_failures: int = 10,
) -> AsyncIterator[Tick]:
    """Ticks of a board as they happen; after a drop it reconnects with Last-Event-ID (none lost).

    Authorisation and other client errors end the stream.  Network failures, server errors
    (5xx: a restart or a proxy in between) and 429s are retried with backoff (a 429 no sooner
    than its Retry-After), giving up after `max_failures` consecutive ones with the last error.
    """
    if not is_valid_id(board_id):
        raise ProtocolError(f"not a board id: {board_id!r}")
    failures = 0
    while True:
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        # the stream never ends: its lines are bounded here, not its whole body
        request = Request("GET", f"/boards/{board_id}/live", headers=headers, max_bytes=None)
        parser = SseParser()
        not_before = 0.0
        try:
            async with client.stream(request) as response:
                failures = 0
                async for line in _bounded_lines(_text(response.chunks)):
                    done = parser.feed(line)
                    if done is None or done[0] != "tick":
                        continue
                    tick = Tick.from_json(loads(done[1], "SSE tick data"), done[2])
                    if done[2] is not None:
                        last_event_id = done[2]
                    yield tick
        except ApiError as error:
            if error.status != 429 and error.status < 500:
                raise
            failures += 1
            if failures > max_failures:
                raise
            not_before = error.retry_after if isinstance(error, RateLimitError) else 0.0
        except TransportError as exc:
            failures += 1
            if failures > max_failures:
                raise TransportError(f"board stream lost: {exc}") from None
        await asyncio.sleep(max(not_before, backoff_delay(backoff, failures)))


class BoardNames:
    """Decrypted names for the ids in ticks, looked up once and cached."""

    def __init__(self, client: AsyncClient, board_id: str) -> None:
        self._client = client
        self.board_id = board_id
        self._cards: dict[str, str] = {}
        self._columns: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._users: dict[str, str] = {}

    async def card(self, card_id: str, *, fresh: bool = False) -> str:
        if fresh or card_id not in self._cards:
            try:
                self._cards[card_id] = (await self._client.card(card_id)).title
            except (NotFoundError, ForbiddenError):  # deleted, or an id a peer made up
                return self._cards.get(card_id, f"#{card_id}")
        return self._cards[card_id]

    async def column(self, column_id: str) -> str:
        if column_id not in self._columns:
            for column in await self._client.columns(self.board_id):
                self._columns[column.id] = column.title
        return self._columns.get(column_id, f"#{column_id}")

    async def label(self, label_id: str) -> str:
        if label_id not in self._labels:
            for label in await self._client.labels(self.board_id):
                self._labels[label.id] = label.name
        return self._labels.get(label_id, f"#{label_id}")

    async def user(self, user_id: str) -> str:
        if user_id not in self._users:
            board = await self._client.board(self.board_id)
            for member in await self._client.members(board.workspace_id):
                self._users[member.user_id] = member.display_name or member.email.split("@")[0]
        return self._users.get(user_id, f"#{user_id}")


_VERBS = {
    "CARD_CREATED": "created",
    "CARD_UPDATED": "edited",
    "CARD_ARCHIVED": "archived",
    "CARD_DELETED": "deleted",
    "COMMENT_CREATED": "commented on",
    "CHECKLIST_ITEM_TOGGLED": "checklist item toggled on",
    "MILESTONE_SET": "milestone set on",
}


async def describe(tick: Tick, names: BoardNames) -> str:
    """A sentence for a tick, with titles and names decrypted; ids where a lookup fails."""
    meta = tick.metadata
    card = "a card"
    if tick.card_id is not None:
        card = f"card ‘{await names.card(tick.card_id, fresh=tick.verb == 'CARD_UPDATED')}’"
    by = f" by {await names.user(tick.actor_id)}" if tick.actor_id else ""

    async def ident(key: str, lookup: Callable[[str], Awaitable[str]], *, quoted: bool = True) -> str:
        """The name of the id at `meta[key]` ("?" if there is none, "#id" if the lookup fails)."""
        value = meta.get(key)
        if not is_valid_id(value):
            return "?"
        assert isinstance(value, str)
        with contextlib.suppress(MskError):
            name = await lookup(value)
            return f"‘{name}’" if quoted else name
        return f"#{value}"

    if tick.verb == "CARD_MOVED":
        moved = f"from {await ident('fromColumnId', names.column)} to {await ident('toColumnId', names.column)}"
        return f"{card} moved {moved}{by}"
    if tick.verb in ("LABEL_ATTACHED", "LABEL_DETACHED"):
        how = "added to" if tick.verb == "LABEL_ATTACHED" else "removed from"
        return f"label {await ident('labelId', names.label)} {how} {card}{by}"
    if tick.verb in ("ASSIGNED", "UNASSIGNED"):
        how = "assigned to" if tick.verb == "ASSIGNED" else "unassigned from"
        return f"{await ident('userId', names.user, quoted=False)} {how} {card}{by}"
    if tick.verb == "CARD_DELETED":
        return f"{card} deleted{by}"
    action = _VERBS.get(tick.verb, tick.verb.lower().replace("_", " "))
    return f"{card} {action}{by}"
