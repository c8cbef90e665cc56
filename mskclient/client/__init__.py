"""The MSKanban client: `Client` (blocking) and `AsyncClient` (asyncio) over one implementation."""

from ._core import UNSET, Core, DescriptionEdit, Registration, SealedHook, envelope_digest
from ._drivers import AsyncClient, Client, Streamed
from ._wire import Flow, Request, Response

__all__ = [
    "UNSET",
    "AsyncClient",
    "Client",
    "Core",
    "DescriptionEdit",
    "Flow",
    "Registration",
    "Request",
    "Response",
    "SealedHook",
    "Streamed",
    "envelope_digest",
]
