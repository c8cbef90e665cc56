"""The MSKanban client: `Client` (blocking) and `AsyncClient` (asyncio) over one implementation."""

from ._core import UNSET, Core, Registration, SealedHook, envelope_digest
from ._drivers import AsyncClient, Client
from ._wire import Request, Response

__all__ = [
    "UNSET",
    "AsyncClient",
    "Client",
    "Core",
    "Registration",
    "Request",
    "Response",
    "SealedHook",
    "envelope_digest",
]
