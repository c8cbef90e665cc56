"""An in-memory relay for participant tests: channel pairs, and a relay that forwards each frame to
every other socket of a room."""

from __future__ import annotations

import asyncio
import contextlib

from mskclient._errors import MskError, TransportError
from mskclient.live import Channel

__all__ = ["MemoryChannel", "MemoryRelay", "memory_pair"]


_CLOSED = object()


class MemoryChannel:
    """One end of an in-memory channel pair (for tests and in-process peers)."""

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[bytes | object] = asyncio.Queue()
        self.peer: MemoryChannel | None = None
        self.closed = False
        self._error: MskError | None = None

    async def send(self, data: bytes) -> None:
        if self.closed or self.peer is None or self.peer.closed:
            raise self._error or TransportError("in-memory channel is closed")
        self.peer._inbox.put_nowait(bytes(data))

    async def recv(self) -> bytes:
        if self.closed:
            raise self._error or TransportError("in-memory channel is closed")
        item = await self._inbox.get()
        if isinstance(item, bytes):
            return item
        self.closed = True
        raise self._error or TransportError("in-memory channel closed by the peer")

    async def close(self) -> None:
        self.drop()

    def drop(self, error: MskError | None = None) -> None:
        """Break both ends at once, as a network failure would; `error` is what each end raises."""
        for end in (self, self.peer):
            if end is not None and not end.closed:
                end.closed = True
                end._error = error
                end._inbox.put_nowait(_CLOSED)


def memory_pair() -> tuple[MemoryChannel, MemoryChannel]:
    """Two connected in-memory channel ends."""
    a, b = MemoryChannel(), MemoryChannel()
    a.peer, b.peer = b, a
    return a, b


class MemoryRelay:
    """Stores nothing, reads nothing: like the real relay, it only fans frames out."""

    def __init__(self) -> None:
        self.sockets: dict[str, list[MemoryChannel]] = {}
        self.frames: list[tuple[str, bytes]] = []
        self.refuse: MskError | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connector(self, room: str, log: list[MemoryChannel] | None = None):  # type: ignore[no-untyped-def]
        async def connect() -> Channel:
            if self.refuse is not None:
                raise self.refuse
            client, server = memory_pair()
            self.sockets.setdefault(room, []).append(server)
            task = asyncio.create_task(self._pump(room, server))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if log is not None:
                log.append(client)
            return client

        return connect

    async def _pump(self, room: str, server: MemoryChannel) -> None:
        try:
            while True:
                frame = await server.recv()
                self.frames.append((room, frame))
                for other in list(self.sockets.get(room, [])):
                    if other is not server and not other.closed:
                        with contextlib.suppress(TransportError):
                            await other.send(frame)
        except TransportError:
            pass
        finally:
            self.sockets[room].remove(server)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
