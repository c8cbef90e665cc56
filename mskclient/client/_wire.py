"""The seam between flows and drivers: request descriptions, responses, JSON reading.

Flows (generators in `_core`) yield `Request`s and receive `Response`s; they
never touch httpx.  Everything the server sends is read through `.._json.Obj`,
which checks types and validates every id, so a hostile or broken server produces
a ProtocolError rather than a crash or a wrong path.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .._errors import ProtocolError, UsageError, api_error
from .._json import Obj, loads
from .._pacing import request_group
from .._profile import ANSWER_MAX_OBJECT, is_valid_id

__all__ = ["Flow", "Request", "Response", "error_from", "has_error_shape", "path", "primed", "read_object"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request of a flow.  `path` is below `/api` and already id-checked.

    `ok` lists the non-2xx statuses the flow wants to see itself (e.g. 409 for a
    merge); any other error answer is raised by the driver.  `sink`, when set,
    receives the body of a 2xx answer chunk by chunk instead of buffering it.
    `cpu_after` marks a request whose answer feeds a slow computation.
    `max_bytes` bounds the answer's body (None: a sink that bounds what it keeps
    itself), `deadline` the whole exchange in seconds (None: the client's).
    """

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str | None, Any, str]] | None = None
    sink: Callable[[bytes], None] | None = None
    ok: frozenset[int] = frozenset()
    #: The flow runs Argon2id on this answer: an async driver resumes it in a worker
    #: thread so the event loop is not blocked for the KDF's ~0.1 s or more.
    cpu_after: bool = False
    max_bytes: int | None = ANSWER_MAX_OBJECT
    deadline: float | None = None

    @property
    def group(self) -> str:
        return request_group(self.method, self.path)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    #: Cookies set by this answer (name -> value), parsed by the driver.
    cookies: Mapping[str, str] = field(default_factory=dict, repr=False)

    def json(self) -> Any:
        return loads(self.body, f"the server's {self.status} answer")


Flow = Generator[Request, Response, _T]


def primed(flow: Flow[_T]) -> Flow[_T]:
    """`flow` run now up to its first request, the rest left for a driver's `run`.

    What a create does before its request leaves (sealing, the `on_sealed` hook) happens
    at once, so a caller can seal several creates, make their write-ahead records durable
    together, and only then send them one by one."""
    request = next(flow)
    return _from_first(flow, request)


def _from_first(flow: Flow[_T], request: Request) -> Flow[_T]:
    try:
        while True:
            try:
                response = yield request
            except Exception as exc:  # what the driver throws in (as its run does, a failed exchange) is the flow's
                request = flow.throw(exc)
                continue
            request = flow.send(response)
    except StopIteration as stop:
        result: _T = stop.value
        return result
    finally:
        flow.close()


def error_from(response: Response) -> Exception:
    """The ApiError for an error answer (ProtocolError if it lacks the error shape)."""
    retry_after = 0.0
    if response.status == 429:
        try:
            retry_after = float(response.headers.get("retry-after", "1"))
        except ValueError:
            retry_after = 1.0
    code, message = _error_fields(response) or (f"HTTP_{response.status}", "error answer without the error shape")
    return api_error(response.status, code, message, retry_after)


def has_error_shape(response: Response) -> bool:
    """True if an error answer is `{"error": {"code", "message"}}`, as every MSKanban error is."""
    return _error_fields(response) is not None


def _error_fields(response: Response) -> tuple[str, str] | None:
    try:
        body = loads(response.body, "error answer")
        error = body["error"]
        code, message = error["code"], error["message"]
    except (ProtocolError, TypeError, KeyError):
        return None
    return (code, message) if isinstance(code, str) and isinstance(message, str) else None


def path(template: str, *ids: str) -> str:
    """Fill `{}` slots of a route with ids, refusing any id that is not a profile CUID."""
    for value in ids:
        if not is_valid_id(value):
            raise UsageError(f"not a valid id: {value!r}")
    return template.format(*ids)


def read_object(response: Response, entity: str) -> Obj:
    """The answer's body as an `entity` object (see `.._json` for the checks)."""
    return Obj(response.json(), entity)
