"""The MSKanban client: `Client` (blocking) and `AsyncClient` (asyncio) over one implementation.

Every operation is a flow in `Core` (a generator yielding `Request`s, sans I/O); the two
drivers send them with httpx, pacing under the server's limits and mapping every failure to
the one error tree.  This layer may import the crypto core and the shared top-level modules
(`_profile`, `_errors`, `_json`, `_models`, `_pacing`, `_trust`, `_description`); never export,
live, importers, backup, the CLI or the sandbox.
"""

from ._core import UNSET, Core, DescriptionEdit, Registration, SealedHook, envelope_digest
from ._deadline import REQUEST_HEADERS, DeadlineTransport
from ._drivers import AsyncClient, Client, Streamed
from ._wire import Flow, Request, Response, primed

__all__ = [
    "REQUEST_HEADERS",
    "UNSET",
    "AsyncClient",
    "Client",
    "Core",
    "DeadlineTransport",
    "DescriptionEdit",
    "Flow",
    "Registration",
    "Request",
    "Response",
    "SealedHook",
    "Streamed",
    "envelope_digest",
    "primed",
]
