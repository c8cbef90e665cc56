"""An encrypted relay participant: y-protocols sync and awareness over sealed frames (docs/protocol.md#participants).

The relay stores nothing and cannot read frames, so every participant does
what a y-websocket server would: on joining it sends step 1, step 2 with its
*full* state (edits made while offline reach the room), its awareness and a
queryAwareness; it answers every step 1 with step 2 and every queryAwareness
with all states it holds; it applies remote updates without echoing them.
From a frame the relay marks as a read-only member's (an observer's) it takes
awareness, queryAwareness and step 1 only: their updates and step 2 are
neither applied nor, so, ever persisted.

Local edits live in the document itself, so a dropped socket loses nothing:
the full-state step 2 of the next join carries them.  Remote updates are
queued and merged before they are applied, because pycrdt's apply cost grows
faster than linear with the number of small updates.

A room may hold dozens of participants in one event loop (a board open in many
windows, or the fan-out benchmark), so the receive path avoids task switches:
the queue is applied by a callback scheduled once per batch, and `wait_until`
checks its predicate right where the change happens (no Condition to take and
no `wait_for` task per wait), then once more on waking.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeAlias

from pycrdt import Doc, Text

from .. import _description as ydesc
from .._errors import MskError, OverLimitError, PayloadTooLargeError, ProtocolError, TransportError, UsageError
from .._profile import AWARENESS_RENEW_SECONDS, RELAY_MAX_FRAME
from ..crypto import RELAY_FRAME_OVERHEAD, BoardKey, open_relay_frame, seal_relay_frame
from ._awareness import Awareness, AwarenessChange, user_name
from ._channel import Channel, ReadOnlyFrame, backoff_delay, is_fatal
from ._protocol import (
    AwarenessMessage,
    Message,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    encode_message,
)

__all__ = [
    "ConnectionChanged",
    "LiveEvent",
    "Participant",
    "PresenceChanged",
    "TextChanged",
]

@dataclass(frozen=True, slots=True)
class TextChanged:
    """The description changed because of peers; `authors` are their awareness names."""

    text: str
    authors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """Who is in the room now (awareness states by client id, ours excluded)."""

    peers: Mapping[int, Mapping[str, Any]]
    joined: tuple[int, ...]
    left: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The socket came up or went down; `error` says why it went down."""

    connected: bool
    error: MskError | None = None


LiveEvent: TypeAlias = TextChanged | PresenceChanged | ConnectionChanged
Connector: TypeAlias = Callable[[], Awaitable[Channel]]
Persister: TypeAlias = Callable[[bytes], Awaitable[bytes]]


class Participant:
    """One peer in a relay room (`card:<id>` with a document, or `board:<id>`, awareness only).

    `connect` opens a fresh channel (a new one-shot ticket each time);
    `persist`, when given, stores a full state and returns what is stored
    afterwards (the server's merge), which is folded back into the document.
    """

    def __init__(
        self,
        room: str,
        board_key: BoardKey,
        connect: Connector,
        *,
        presence: Mapping[str, Any] | None = None,
        state: bytes = b"",
        persist: Persister | None = None,
        renew_seconds: float = AWARENESS_RENEW_SECONDS,
        backoff: tuple[float, float] = (0.05, 5.0),
        max_failures: int = 8,
    ) -> None:
        if not (room.startswith("card:") or room.startswith("board:")):
            raise UsageError(f"relay room must be card:<id> or board:<id>, not {room!r}")
        self.room = room
        self._key = board_key
        self._connect = connect
        self._persist = persist
        self._renew_seconds = renew_seconds
        self._backoff = backoff
        self._max_failures = max_failures
        self.doc: Doc[Text] = ydesc.load(state)
        self._text = self.doc.get(ydesc.TEXT_NAME, type=Text)
        self.awareness = Awareness(self.doc.client_id)
        self._presence = dict(presence) if presence is not None else None
        self._channel: Channel | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._incoming: list[bytes] = []
        self._drain_scheduled = False
        self._stopping = asyncio.Event()
        self._connected = asyncio.Event()
        #: `wait_until` callers: their predicate and the future that wakes them once it holds.
        self._waiters: list[tuple[Callable[[Participant], bool], asyncio.Future[None]]] = []
        self._events: asyncio.Queue[LiveEvent | None] = asyncio.Queue()
        self._listening = False
        self._saved_vector: dict[int, int] = ydesc.state_vector(state)
        self._send_lock = asyncio.Lock()
        self.error: MskError | None = None
        self.frames_dropped = 0
        #: Document changes refused because a read-only member (an observer) sent them.
        self.updates_refused = 0

    # --- lifecycle ------------------------------------------------------------------
    async def __aenter__(self) -> Participant:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see `wait_connected`)."""
        if self._tasks:
            raise UsageError("participant already started")
        if self._presence is not None:
            self.awareness.set_local(self._presence)
        self._tasks = [
            asyncio.create_task(self._run(), name=f"relay {self.room}"),
            asyncio.create_task(self._renew_loop(), name=f"awareness {self.room}"),
        ]

    async def stop(self) -> None:
        """Leave: null awareness to the room, persist unsaved changes, close the socket."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._drain_incoming()
        channel = self._channel
        if channel is not None and self.awareness.local_state is not None:
            entry = self.awareness.set_local(None)
            with contextlib.suppress(MskError):
                await self._send(AwarenessMessage((entry,)), channel)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if channel is not None:
            with contextlib.suppress(MskError):
                await channel.close()
        self._channel = None
        try:
            if self._persist is not None and self.dirty:
                await self.save()
        finally:
            self._events.put_nowait(None)

    # --- state ----------------------------------------------------------------------
    @property
    def text(self) -> str:
        return str(self._text)

    @property
    def connected(self) -> bool:
        return self._channel is not None and self._connected.is_set()

    @property
    def dirty(self) -> bool:
        """True when the document holds changes not yet persisted."""
        return not ydesc.covers(self._saved_vector, self._vector())

    def _vector(self) -> dict[int, int]:
        """The document's state vector, read directly (not decoded from an encoded full state)."""
        return ydesc.decode_state_vector(self.doc.get_state())

    def state(self) -> bytes:
        """The full document state (update format v1), as encDescription stores it."""
        return self.doc.get_update()

    def peers(self) -> dict[int, dict[str, Any]]:
        """Awareness states of the other clients in the room."""
        return {cid: s for cid, s in self.awareness.states().items() if cid != self.awareness.client_id}

    def events(self) -> AsyncIterator[LiveEvent]:
        """Remote text changes, presence and connection changes from now on, until `stop`."""
        self._listening = True
        return self._iterate_events()

    async def _iterate_events(self) -> AsyncIterator[LiveEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until joined (our step 1, step 2 and awareness are sent); TransportError on timeout."""
        await self.wait_until(lambda p: p.connected, timeout, "joining the relay room")

    async def wait_until(self, predicate: Callable[[Participant], bool], timeout: float, what: str) -> None:
        """Wait until `predicate(self)` holds; re-checked after every change. Raises on failure."""
        if predicate(self):
            return
        if self.error is None:
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        waiter = (predicate, loop.create_future())
                        self._waiters.append(waiter)
                        try:
                            await waiter[1]
                        finally:
                            # Timed out (or the caller was cancelled) while waiting: unless a change
                            # already dropped it, take the waiter out.
                            if waiter[1].cancelled() and waiter in self._waiters:
                                self._waiters.remove(waiter)
                        # Checked again on waking: the state may have moved on since the change that woke us.
                        if predicate(self) or self.error is not None:
                            break
            except TimeoutError:
                raise TransportError(f"timed out after {timeout:g} s {what}") from None
        if self.error is not None and not predicate(self):
            raise self.error

    def _notify(self, event: LiveEvent | None = None) -> None:
        """Queue `event` for `events()` listeners and wake the `wait_until` callers whose predicate holds now."""
        if event is not None and self._listening:
            self._events.put_nowait(event)
        if not self._waiters:
            return
        waiting = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            try:
                holds = predicate(self) or self.error is not None
            except Exception as exc:  # the waiter's own predicate failed: it raises in the waiter
                future.set_exception(exc)
                continue
            if holds:
                future.set_result(None)
            else:
                waiting.append((predicate, future))
        self._waiters = waiting

    # --- local changes ----------------------------------------------------------------
    async def edit(self, new_text: str) -> None:
        """Turn the description into `new_text` by the smallest operations and send them."""
        await self._change(lambda doc: ydesc.apply_text(doc, new_text))

    async def append(self, text: str) -> None:
        """Append `text` at the end of the description (one insert, no diff of the whole text)."""

        def append_to(doc: Doc[Text]) -> None:
            description = doc.get(ydesc.TEXT_NAME, type=Text)
            description += text

        await self._change(append_to)

    async def apply_local_update(self, update: bytes) -> None:
        """Merge an update made elsewhere by this user (e.g. a scripted edit) and send it."""
        await self._change(lambda doc: ydesc.load(update, doc))

    async def _change(self, change: Callable[[Doc[Text]], object]) -> None:
        """Make a local change and send it, unless the document would no longer fit the relay.

        Whoever joins the room sends the whole document in one sync step 2: past the relay's
        frame limit nobody could join again.  So the change is tried on a copy first and
        refused (OverLimitError, the document untouched) if its full state would not fit.
        """
        trial = ydesc.load(self.doc.get_update())
        change(trial)
        if len(encode_message(SyncStep2(trial.get_update()))) + RELAY_FRAME_OVERHEAD > RELAY_MAX_FRAME:
            raise OverLimitError("this edit would make the description too large for the relay (1 MiB)")
        before = self.doc.get_state()
        change(self.doc)
        await self._publish_since(before)

    async def _publish_since(self, before: bytes) -> None:
        """Send what our own change added to the document since the state `before`, then notify."""
        update = self.doc.get_update(before)
        if update != ydesc.EMPTY_UPDATE:
            await self._send_update(update)
        self._notify()

    async def set_presence(self, presence: Mapping[str, Any] | None) -> None:
        """Change our awareness state (e.g. the card we are on in a board room)."""
        self._presence = dict(presence) if presence is not None else None
        entry = self.awareness.set_local(self._presence)
        if self._channel is not None:
            with contextlib.suppress(TransportError):
                await self._send(AwarenessMessage((entry,)), self._channel)

    async def save(self) -> None:
        """Persist the merged state now; what the server merged in is applied and shared."""
        if self._persist is None:
            raise UsageError("this participant has no persist callback")
        state = self.state()
        stored = await self._persist(state)
        self._saved_vector = ydesc.state_vector(state)
        before = self.doc.get_state()
        ydesc.load(stored, self.doc)
        extra = self.doc.get_update(before)
        if extra != ydesc.EMPTY_UPDATE:
            self._saved_vector = self._vector()
            await self._send_update(extra)
            self._notify(TextChanged(self.text, ()))

    async def _send_update(self, update: bytes) -> None:
        channel = self._channel
        if channel is None or not self._connected.is_set():
            return  # kept in the document: the full-state step 2 of the next join sends it
        try:
            await self._send(SyncUpdate(update), channel)
        except (OverLimitError, PayloadTooLargeError):
            raise
        except MskError:
            pass  # the read loop sees the drop; the next join's step 2 carries the update

    # --- wire -------------------------------------------------------------------------
    async def _send(self, message: Message, channel: Channel) -> None:
        data = encode_message(message)
        if len(data) + RELAY_FRAME_OVERHEAD > RELAY_MAX_FRAME:
            raise OverLimitError("relay message over 1 MiB")
        frame = seal_relay_frame(self._key, self.room, data)
        async with self._send_lock:
            await channel.send(frame)

    async def _join(self, channel: Channel) -> None:
        await self._send(SyncStep1(self.doc.get_state()), channel)
        await self._send(SyncStep2(self.doc.get_update()), channel)
        if self.awareness.local_state is not None:
            await self._send(AwarenessMessage(tuple(self.awareness.entries([self.awareness.client_id]))), channel)
        await self._send(QueryAwareness(), channel)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            error: MskError | None = None
            was_connected = False
            try:
                channel = await self._connect()
            except MskError as exc:
                error = exc
            else:
                self._channel = channel
                try:
                    await self._join(channel)
                    failures = 0
                    was_connected = True
                    self._connected.set()
                    self._notify(ConnectionChanged(True))
                    await self._read_loop(channel)
                except MskError as exc:
                    error = exc
                finally:
                    self._connected.clear()
                    self._channel = None
                    with contextlib.suppress(MskError):
                        await channel.close()
            if self._stopping.is_set():
                return
            failures += 1
            if error is not None and (is_fatal(error) or failures > self._max_failures):
                self.error = error  # set before the event, so listeners see why it is final
            change = self.awareness.forget_remote()
            if was_connected or self.error is not None:
                self._notify(ConnectionChanged(False, error))
            if change:
                self._notify(self._presence_event(change))
            if self.error is not None:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff_delay(self._backoff, failures))

    async def _read_loop(self, channel: Channel) -> None:
        while True:
            frame = await channel.recv()
            try:
                message = decode_message(open_relay_frame(self._key, self.room, frame))
            except ProtocolError:
                # Not sealed for this room with this key, or not y-protocols: ignore it.
                self.frames_dropped += 1
                self._notify()
                continue
            if isinstance(frame, ReadOnlyFrame) and isinstance(message, (SyncStep2, SyncUpdate)):
                self.updates_refused += 1
                self._notify()
                continue
            await self._handle(message, channel)

    async def _handle(self, message: Message, channel: Channel) -> None:
        if isinstance(message, SyncStep1):
            try:
                reply = self.doc.get_update(message.state_vector)
            except ValueError:
                self.frames_dropped += 1
                return
            await self._send(SyncStep2(reply), channel)
        elif isinstance(message, (SyncStep2, SyncUpdate)):
            if message.update != ydesc.EMPTY_UPDATE:
                self._incoming.append(message.update)
                if not self._drain_scheduled:
                    # After the frames already received (the read loop takes them without
                    # waiting), so a burst is merged and applied at once.
                    self._drain_scheduled = True
                    asyncio.get_running_loop().call_soon(self._drain_incoming)
        elif isinstance(message, AwarenessMessage):
            change, reannounce = self.awareness.apply(message.entries)
            if reannounce is not None:
                await self._send(AwarenessMessage((reannounce,)), channel)
            if change:
                self._notify(self._presence_event(change))
        else:
            entries = self.awareness.entries()
            if entries:
                await self._send(AwarenessMessage(tuple(entries)), channel)

    def _presence_event(self, change: AwarenessChange) -> PresenceChanged:
        return PresenceChanged(self.peers(), change.added, change.removed)

    # --- applying remote updates --------------------------------------------------------
    def _drain_incoming(self) -> None:
        self._drain_scheduled = False
        batch, self._incoming = self._incoming, []
        if not batch:
            return
        # Text and authors only make the TextChanged event: not worth reading with nobody listening.
        listening = self._listening
        before = self.text if listening else ""
        try:
            authors = self._authors(batch) if listening else ()
            ydesc.apply_updates(self.doc, batch)
        except ProtocolError:
            self.frames_dropped += len(batch)
            self._notify()
            return
        after = self.text if listening else ""
        self._notify(TextChanged(after, authors) if after != before else None)

    def _authors(self, updates: list[bytes]) -> tuple[str, ...]:
        """Names (from awareness) of the clients whose new content `updates` carry."""
        mine = self._vector()
        theirs: dict[int, int] = {}
        for update in updates:
            for cid, clock in ydesc.state_vector(update).items():
                theirs[cid] = max(clock, theirs.get(cid, 0))
        names: list[str] = []
        states = self.awareness.states()
        for cid, clock in theirs.items():
            if clock > mine.get(cid, 0) and cid != self.awareness.client_id:
                label = user_name(states.get(cid, {})) or f"client {cid}"
                if label not in names:
                    names.append(label)
        return tuple(names)

    # --- awareness keep-alive -------------------------------------------------------------
    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            channel = self._channel
            if channel is not None and self._connected.is_set() and self.awareness.local_state is not None:
                with contextlib.suppress(TransportError):
                    await self._send(AwarenessMessage((self.awareness.renew(),)), channel)
            change = self.awareness.expire()
            if change:
                self._notify(self._presence_event(change))
