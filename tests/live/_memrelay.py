"""An in-memory relay for participant tests: forwards each frame to every other socket of a room."""

from __future__ import annotations

import asyncio
import contextlib

from mskclient._errors import MskError, TransportError
from mskclient.live import Channel, MemoryChannel, memory_pair

__all__ = ["MemoryRelay"]


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
