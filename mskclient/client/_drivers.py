"""`Client` and `AsyncClient`: two thin drivers over the one set of flows in `_core`.

A driver sends each `Request` a flow yields (after the pacer's wait),
translates httpx failures into TransportError, retries 429s after
Retry-After, raises error answers through the exception tree, and sends the
`Response` back into the flow.  Every public method is declared once per
driver as `name = _sync(Core.name)` / `_async(Core.name)`, keeping the types.
`stream()` is the one exchange that is not a flow's: a body the caller reads
as it arrives (an SSE stream), sent through the same pacer, cookie and transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from http.cookies import CookieError, SimpleCookie
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar

import httpx

from .._errors import ProtocolError, RateLimitError, TransportError, UsageError
from .._models import Member, User, UserLookup
from .._pacing import Pacer
from .._profile import ANSWER_DEADLINE_SECONDS, ANSWER_MAX_OBJECT, API_PREFIX, SESSION_COOKIE, KdfParams
from .._trust import TrustStore
from ..crypto import AccountKeys
from ._core import Core
from ._deadline import REQUEST_HEADERS, AnswerHeaders, DeadlineTransport, Received
from ._wire import Flow, Request, Response, error_from

__all__ = ["AsyncClient", "Client", "Streamed"]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Chunks = TypeVar("_Chunks", Iterator[bytes], AsyncIterator[bytes])
_DEFAULT_TIMEOUT = 30.0


def _base_url(server: str) -> str:
    """The API root below `server` (given without a trailing "/")."""
    if not server.startswith(("http://", "https://")):
        raise UsageError(f"server must be an http(s) URL: {server!r}")
    return server + API_PREFIX


class _NoCookies(DefaultCookiePolicy):
    """httpx keeps no cookie jar of its own: `Core.token` is the one session cookie, sent explicitly."""

    def set_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False


def _no_jar() -> CookieJar:
    return CookieJar(policy=_NoCookies())


def _cookies(headers: httpx.Headers | AnswerHeaders) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(line)
        except CookieError:
            continue
        found.update({name: morsel.value for name, morsel in jar.items()})
    return found


def _headers(core: Core, request: Request) -> dict[str, str]:
    headers = {**REQUEST_HEADERS, **(request.headers or {})}
    if core.token is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={core.token}"
    return headers


def _kwargs(core: Core, request: Request) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"headers": _headers(core, request), "params": request.params}
    if request.files is not None:
        kwargs["files"] = request.files
    elif request.json is not None:
        kwargs["json"] = request.json
    return kwargs


def _outgoing(client: _Base, request: Request, timeouts: dict[str, float | None]) -> httpx.Request:
    """The httpx request a transport sends for `request` (what httpx.Client would build, without a jar)."""
    return httpx.Request(
        request.method,
        client.base_url + request.path,
        **_kwargs(client.core, request),
        extensions={"timeout": timeouts},
    )


def _what(request: Request) -> str:
    return f"{request.method} {API_PREFIX}{request.path}"


def _transport_error(request: Request, exc: httpx.HTTPError, *, server: str | None = None) -> TransportError:
    """A failure said so that the person knows what to check: no connection at all is most
    often a server that is not running or a mistyped URL (`server`, where the connection began)."""
    if server is not None and isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        reason = re.sub(r"^\[Errno -?\d+\] ", "", str(exc)) or type(exc).__name__
        return TransportError(f"cannot connect ({reason}): is the server running at {server}?")
    return TransportError(f"{_what(request)}: {type(exc).__name__}: {exc}")


class _Deadline:
    """When the exchange of one request must be over (the client's deadline unless it names its own)."""

    def __init__(self, request: Request, default: float) -> None:
        self.seconds = request.deadline if request.deadline is not None else default
        self.until = time.monotonic() + self.seconds
        self._request = request

    def passed(self) -> bool:
        return time.monotonic() >= self.until

    def check(self) -> None:
        if self.passed():
            raise self.error()

    def error(self) -> TransportError:
        return TransportError(
            f"{_what(self._request)}: no complete answer within {self.seconds:g} s (the server is stalling)"
        )


class _Body:
    """An answer's body, gathered (or fed to the request's sink) within the request's size bound.

    The bound is checked as the bytes arrive, so a hostile server's endless answer costs at
    most one chunk over the bound, never the whole of it.
    """

    def __init__(self, request: Request, status: int, headers: Mapping[str, str]) -> None:
        success = status < 300
        self._sink = request.sink if success else None
        #: an error answer is one small object whatever the route returns on success
        self._limit = request.max_bytes if success else ANSWER_MAX_OBJECT
        self._request = request
        self._chunks: list[bytes] = []
        self._size = 0
        declared = headers.get("content-length", "")
        if self._limit is not None and declared.isdigit() and int(declared) > self._limit:
            raise self._too_big()

    def count(self, chunk: bytes) -> bytes:
        """`chunk`, once it is known to keep the body within its bound."""
        self._size += len(chunk)
        if self._limit is not None and self._size > self._limit:
            raise self._too_big()
        return chunk

    def take(self, chunk: bytes) -> None:
        self.count(chunk)
        if self._sink is not None:
            self._sink(chunk)
        else:
            self._chunks.append(chunk)

    def response(self, status: int, headers: httpx.Headers | AnswerHeaders) -> Response:
        return Response(status, headers, b"".join(self._chunks), _cookies(headers))

    def _too_big(self) -> ProtocolError:
        assert self._limit is not None
        return ProtocolError(
            f"{_what(self._request)}: the answer is over {self._limit / 2**20:g} MiB, more than this route"
            " ever needs; stopped reading"
        )


@dataclass(frozen=True, slots=True)
class Streamed(Generic[_Chunks]):
    """An answer whose body the caller reads as it arrives (`Client.stream`, `AsyncClient.stream`).

    Never an error answer, unless the request's `ok` lists its status: those are raised.

    `chunks` stays within the request's `max_bytes` (None: the caller bounds what it keeps,
    as an endless event stream needs) and raises TransportError if the connection fails.
    """

    status: int
    headers: Mapping[str, str]
    chunks: _Chunks


def _sync_chunks(request: Request, body: _Body, chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield body.count(chunk)
    except httpx.HTTPError as exc:
        raise _transport_error(request, exc) from None


async def _async_chunks(request: Request, body: _Body, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield body.count(chunk)
    except httpx.HTTPError as exc:
        raise _transport_error(request, exc) from None


def _retry_wait(pacer: Pacer, request: Request, response: Response, attempt: int) -> float | None:
    """After answer number `attempt`: seconds to wait before resending a 429, or None when
    `response` is the flow's answer.  Raises an error answer the flow did not ask to see,
    and a 429 the pacer gives up on."""
    if response.status == 429 and 429 not in request.ok:
        error = error_from(response)
        assert isinstance(error, RateLimitError)
        wait = pacer.retry_delay(attempt, error.retry_after)
        if wait is None:
            raise error
        return wait
    if response.status >= 400 and response.status not in request.ok:
        raise error_from(response)
    return None


@dataclass(frozen=True, slots=True)
class _Done(Generic[_T]):
    value: _T


def _resume(flow: Flow[_T], response: Response) -> Request | _Done[_T]:
    """flow.send for a worker thread (StopIteration cannot cross a Future)."""
    try:
        return flow.send(response)
    except StopIteration as stop:
        return _Done(stop.value)


class _Base:
    def __init__(
        self,
        server: str,
        *,
        token: str | None,
        email: str | None,
        pacer: Pacer | None,
        trust: TrustStore | None,
        on_slow_kdf: Callable[[KdfParams, float], None] | None,
    ) -> None:
        self.server = server.rstrip("/")
        self.base_url = _base_url(self.server)
        self.core = Core(token=token, email=email, trust=trust, on_slow_kdf=on_slow_kdf, server=self.server)
        self.pacer = pacer if pacer is not None else Pacer()

    @property
    def requests(self) -> int:
        """Requests sent so far (retries included)."""
        return self.pacer.requests

    @property
    def token(self) -> str | None:
        """The session cookie's value (to persist a login between processes)."""
        return self.core.token

    @property
    def email(self) -> str | None:
        """The account's email: given to the constructor, or the one logged in or registered with."""
        return self.core.email

    @property
    def has_keys(self) -> bool:
        return self.core.has_keys

    @property
    def keys(self) -> AccountKeys:
        """The unlocked account keys (UsageError before login/unlock)."""
        return self.core.keys

    @property
    def user(self) -> User | None:
        """The account, once logged in or after `me()`."""
        return self.core.user

    def use_keys(self, keys: AccountKeys) -> None:
        """Use keys unlocked elsewhere (e.g. `msk unlock`) instead of deriving them from the password."""
        self.core.use_keys(keys)

    def key_trusted(self, member: Member | UserLookup) -> bool:
        """False if this member's public key differs from the one pinned for them."""
        return self.core.key_trusted(member)

    def key_state(self, member: Member | UserLookup) -> str:
        """The state of this member's key against the pins: "verified", "first seen" or "changed"."""
        return self.core.key_state(member)

    def verify_member(self, user: UserLookup) -> None:
        """Pin `user`'s looked-up key as verified, once you compared its fingerprint with them."""
        self.core.verify_member(user)


class _sync(Generic[_P, _T]):
    """Turns a Core flow into a blocking method of Client."""

    def __init__(self, flow: Callable[Concatenate[Core, _P], Flow[_T]]) -> None:
        self._flow = flow
        self.__doc__ = flow.__doc__

    def __get__(self, obj: Client | None, owner: type | None = None) -> Callable[_P, _T]:
        flow = self._flow
        if obj is None:
            raise AttributeError("a client method needs an instance")
        client = obj

        def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            return client.run(flow(client.core, *args, **kwargs))

        call.__doc__ = flow.__doc__
        return call


class _async(Generic[_P, _T]):
    """Turns a Core flow into a coroutine method of AsyncClient."""

    def __init__(self, flow: Callable[Concatenate[Core, _P], Flow[_T]]) -> None:
        self._flow = flow
        self.__doc__ = flow.__doc__

    def __get__(self, obj: AsyncClient | None, owner: type | None = None) -> Callable[_P, Coroutine[Any, Any, _T]]:
        flow = self._flow
        if obj is None:
            raise AttributeError("a client method needs an instance")
        client = obj

        async def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            return await client.run(flow(client.core, *args, **kwargs))

        call.__doc__ = flow.__doc__
        return call


class Client(_Base):
    """Blocking MSKanban client: every operation returns decrypted, typed models.

    `with Client("http://127.0.0.1:8765") as c: c.login(email, password)`.
    """

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        email: str | None = None,
        pacer: Pacer | None = None,
        trust: TrustStore | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        deadline: float = ANSWER_DEADLINE_SECONDS,
        on_slow_kdf: Callable[[KdfParams, float], None] | None = None,
    ) -> None:
        super().__init__(server, token=token, email=email, pacer=pacer, trust=trust, on_slow_kdf=on_slow_kdf)
        #: seconds a request may take in all (each socket wait is bounded by `timeout` besides)
        self.deadline = deadline
        #: the default transport bounds each socket wait by the deadline too; another
        #: (a test's, a proxy's) is checked against it between the chunks of a body.
        #: Requests go to the transport itself: httpx.Client's URL merging and cookie
        #: extraction cost more CPU per request than the exchange (`bench/import.py`), and
        #: this driver already does what it adds (the cookie, no redirects, the timeouts).
        #: The default one takes them as plain values (`DeadlineTransport.exchange`), no
        #: `httpx.Request` built; an upload's multipart body is still httpx's to encode
        self._bounded: DeadlineTransport | None = None
        self._transport: httpx.BaseTransport
        if transport is None:
            self._transport = self._bounded = DeadlineTransport()
        else:
            self._transport = transport
        self._timeouts = httpx.Timeout(timeout).as_dict()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def run(self, flow: Flow[_T]) -> _T:
        """Drive one flow to its result."""
        try:
            request = next(flow)
            while True:
                try:
                    response = self._send(request)
                except Exception as exc:  # the flow may clean up (temp files) or translate it
                    request = flow.throw(exc)
                    continue
                request = flow.send(response)
        except StopIteration as stop:
            result: _T = stop.value
            return result
        finally:
            flow.close()

    def _send(self, request: Request) -> Response:
        attempt = 0
        while True:
            attempt += 1
            delay = self.pacer.reserve(request.group)
            if delay > 0:
                time.sleep(delay)
            response = self._exchange(request)
            wait = _retry_wait(self.pacer, request, response, attempt)
            if wait is None:
                return response
            time.sleep(wait)

    def _exchange(self, request: Request) -> Response:
        deadline = _Deadline(request, self.deadline)
        try:
            answer = self._open(request, deadline.until)
            try:
                body = _Body(request, answer.status_code, answer.headers)
                whole = answer.whole() if isinstance(answer, Received) else None
                if whole is not None:
                    body.take(whole)
                else:
                    for chunk in answer.iter_bytes():
                        deadline.check()
                        body.take(chunk)
                return body.response(answer.status_code, answer.headers)
            finally:
                answer.close()
        except httpx.HTTPError as exc:
            failure = deadline.error() if deadline.passed() else _transport_error(request, exc, server=self.server)
            raise failure from None

    def _open(self, request: Request, until: float) -> Received | httpx.Response:
        """Send `request` and read the answer's head (by `until`, time.monotonic, on the default
        transport); its body is read from what this returns."""
        if self._bounded is None:
            return self._transport.handle_request(_outgoing(self, request, self._timeouts))
        if request.files is not None:
            with self._bounded.until(until):
                return self._bounded.handle_request(_outgoing(self, request, self._timeouts))
        return self._bounded.exchange(
            request.method,
            self.base_url,
            request.path,
            params=request.params,
            headers=_headers(self.core, request),
            json_body=request.json,
            timeouts=self._timeouts,
            until=until,
        )

    @contextlib.contextmanager
    def stream(self, request: Request) -> Iterator[Streamed[Iterator[bytes]]]:
        """Send `request` and hand its answer over as it arrives, for a body read bit by bit.

        The same driver as a flow's requests (pacing, the session cookie, `transport=`,
        TransportError for a failed connection), but no 429 retry: an error answer is raised
        at once (ApiError, RateLimitError with its Retry-After), for the caller's own policy.
        The deadline (the request's, else the client's) bounds the wait for the answer's head.
        """
        delay = self.pacer.reserve(request.group)
        if delay > 0:
            time.sleep(delay)
        deadline = _Deadline(request, self.deadline)
        try:
            answer = self._open(request, deadline.until)
        except httpx.HTTPError as exc:
            failure = deadline.error() if deadline.passed() else _transport_error(request, exc, server=self.server)
            raise failure from None
        try:
            body = _Body(request, answer.status_code, answer.headers)
            if answer.status_code >= 400 and answer.status_code not in request.ok:
                error_body = b"".join(_sync_chunks(request, body, answer.iter_bytes()))
                raise error_from(Response(answer.status_code, answer.headers, error_body))
            yield Streamed(answer.status_code, answer.headers, _sync_chunks(request, body, answer.iter_bytes()))
        finally:
            answer.close()

    health = _sync(Core.health)
    get_json = _sync(Core.get_json)
    register = _sync(Core.register)
    login = _sync(Core.login)
    unlock = _sync(Core.unlock)
    logout = _sync(Core.logout)
    recover = _sync(Core.recover)
    totp_enroll = _sync(Core.totp_enroll)
    totp_verify = _sync(Core.totp_verify)
    totp_disable = _sync(Core.totp_disable)
    ws_ticket = _sync(Core.ws_ticket)
    me = _sync(Core.me)
    export_me = _sync(Core.export_me)
    stream_export = _sync(Core.stream_export)
    notifications = _sync(Core.notifications)
    delete_account = _sync(Core.delete_account)
    workspace_key = _sync(Core.workspace_key)
    board_key = _sync(Core.board_key)
    workspaces = _sync(Core.workspaces)
    workspace = _sync(Core.workspace)
    create_workspace = _sync(Core.create_workspace)
    rename_workspace = _sync(Core.rename_workspace)
    delete_workspace = _sync(Core.delete_workspace)
    members = _sync(Core.members)
    lookup_user = _sync(Core.lookup_user)
    invite = _sync(Core.invite)
    trust_member = _sync(Core.trust_member)
    remove_member = _sync(Core.remove_member)
    set_role = _sync(Core.set_role)
    boards = _sync(Core.boards)
    board = _sync(Core.board)
    create_board = _sync(Core.create_board)
    update_board = _sync(Core.update_board)
    delete_board = _sync(Core.delete_board)
    columns = _sync(Core.columns)
    create_column = _sync(Core.create_column)
    update_column = _sync(Core.update_column)
    delete_column = _sync(Core.delete_column)
    cards = _sync(Core.cards)
    card = _sync(Core.card)
    create_card = _sync(Core.create_card)
    edit_card = _sync(Core.edit_card)
    edit_description = _sync(Core.edit_description)
    set_custom_field_value = _sync(Core.set_custom_field_value)
    archive_card = _sync(Core.archive_card)
    move_card = _sync(Core.move_card)
    delete_card = _sync(Core.delete_card)
    add_label = _sync(Core.add_label)
    remove_label = _sync(Core.remove_label)
    assign = _sync(Core.assign)
    unassign = _sync(Core.unassign)
    set_milestone = _sync(Core.set_milestone)
    add_comment = _sync(Core.add_comment)
    edit_comment = _sync(Core.edit_comment)
    delete_comment = _sync(Core.delete_comment)
    checklists = _sync(Core.checklists)
    add_checklist = _sync(Core.add_checklist)
    rename_checklist = _sync(Core.rename_checklist)
    delete_checklist = _sync(Core.delete_checklist)
    add_item = _sync(Core.add_item)
    update_item = _sync(Core.update_item)
    delete_item = _sync(Core.delete_item)
    attachments = _sync(Core.attachments)
    attachment = _sync(Core.attachment)
    upload_attachment = _sync(Core.upload_attachment)
    download_attachment = _sync(Core.download_attachment)
    download_content = _sync(Core.download_content)
    save_attachment = _sync(Core.save_attachment)
    delete_attachment = _sync(Core.delete_attachment)
    labels = _sync(Core.labels)
    create_label = _sync(Core.create_label)
    update_label = _sync(Core.update_label)
    delete_label = _sync(Core.delete_label)
    milestones = _sync(Core.milestones)
    create_milestone = _sync(Core.create_milestone)
    update_milestone = _sync(Core.update_milestone)
    delete_milestone = _sync(Core.delete_milestone)
    card_templates = _sync(Core.card_templates)
    create_card_template = _sync(Core.create_card_template)
    delete_card_template = _sync(Core.delete_card_template)
    custom_fields = _sync(Core.custom_fields)
    create_custom_field = _sync(Core.create_custom_field)
    update_custom_field = _sync(Core.update_custom_field)
    delete_custom_field = _sync(Core.delete_custom_field)
    automations = _sync(Core.automations)
    create_automation = _sync(Core.create_automation)
    update_automation = _sync(Core.update_automation)
    delete_automation = _sync(Core.delete_automation)
    webhooks = _sync(Core.webhooks)
    create_webhook = _sync(Core.create_webhook)
    update_webhook = _sync(Core.update_webhook)
    delete_webhook = _sync(Core.delete_webhook)
    deliveries = _sync(Core.deliveries)
    requeue_delivery = _sync(Core.requeue_delivery)
    activity = _sync(Core.activity)
    sealed_digests = _sync(Core.sealed_digests)


class AsyncClient(_Base):
    """asyncio MSKanban client, same operations as `Client` as coroutines.

    `gather()` runs many reads at once, bounded by the pacer's concurrency.
    """

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        email: str | None = None,
        pacer: Pacer | None = None,
        trust: TrustStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        deadline: float = ANSWER_DEADLINE_SECONDS,
        on_slow_kdf: Callable[[KdfParams, float], None] | None = None,
    ) -> None:
        super().__init__(server, token=token, email=email, pacer=pacer, trust=trust, on_slow_kdf=on_slow_kdf)
        #: seconds a request may take in all (each socket wait is bounded by `timeout` besides)
        self.deadline = deadline
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=timeout, cookies=_no_jar())
        self._slots: asyncio.Semaphore | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def gather(self, aws: Iterable[Awaitable[_T]]) -> list[_T]:
        """Await many operations concurrently, at most `pacer.concurrency` at a time, in order."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.pacer.concurrency)
        slots = self._slots

        async def bounded(aw: Awaitable[_T]) -> _T:
            async with slots:
                return await aw

        return list(await asyncio.gather(*(bounded(aw) for aw in aws)))

    async def run(self, flow: Flow[_T]) -> _T:
        """Drive one flow to its result."""
        try:
            request = next(flow)
            while True:
                try:
                    response = await self._send(request)
                except Exception as exc:  # the flow may clean up (temp files) or translate it
                    request = flow.throw(exc)
                    continue
                if request.cpu_after:
                    step = await asyncio.to_thread(_resume, flow, response)
                    if isinstance(step, _Done):
                        return step.value
                    request = step
                else:
                    request = flow.send(response)
        except StopIteration as stop:
            result: _T = stop.value
            return result
        finally:
            flow.close()

    async def _send(self, request: Request) -> Response:
        attempt = 0
        while True:
            attempt += 1
            delay = self.pacer.reserve(request.group)
            if delay > 0:
                await asyncio.sleep(delay)
            response = await self._exchange(request)
            wait = _retry_wait(self.pacer, request, response, attempt)
            if wait is None:
                return response
            await asyncio.sleep(wait)

    async def _exchange(self, request: Request) -> Response:
        deadline = _Deadline(request, self.deadline)
        try:
            async with (
                asyncio.timeout(deadline.seconds),
                self._http.stream(request.method, request.path, **_kwargs(self.core, request)) as answer,
            ):
                body = _Body(request, answer.status_code, answer.headers)
                async for chunk in answer.aiter_bytes():
                    body.take(chunk)
                return body.response(answer.status_code, answer.headers)
        except TimeoutError:
            raise deadline.error() from None
        except httpx.HTTPError as exc:
            raise _transport_error(request, exc, server=self.server) from None

    @contextlib.asynccontextmanager
    async def stream(self, request: Request) -> AsyncIterator[Streamed[AsyncIterator[bytes]]]:
        """Send `request` and hand its answer over as it arrives, for a body read bit by bit.

        The same driver as a flow's requests (pacing, the session cookie, `transport=`,
        TransportError for a failed connection), but no 429 retry: an error answer is raised
        at once (ApiError, RateLimitError with its Retry-After), for the caller's own policy
        (`mskclient.live.watch` reconnects with backoff).  The deadline (the request's, else
        the client's) bounds the wait for the answer's head; an event stream never ends.
        """
        delay = self.pacer.reserve(request.group)
        if delay > 0:
            await asyncio.sleep(delay)
        deadline = _Deadline(request, self.deadline)
        outgoing = self._http.build_request(request.method, request.path, **_kwargs(self.core, request))
        try:
            async with asyncio.timeout(deadline.seconds):
                answer = await self._http.send(outgoing, stream=True)
        except TimeoutError:
            raise deadline.error() from None
        except httpx.HTTPError as exc:
            raise _transport_error(request, exc, server=self.server) from None
        try:
            body = _Body(request, answer.status_code, answer.headers)
            if answer.status_code >= 400 and answer.status_code not in request.ok:
                error_body = b"".join([chunk async for chunk in _async_chunks(request, body, answer.aiter_bytes())])
                raise error_from(Response(answer.status_code, answer.headers, error_body))
            yield Streamed(answer.status_code, answer.headers, _async_chunks(request, body, answer.aiter_bytes()))
        finally:
            await answer.aclose()

    health = _async(Core.health)
    get_json = _async(Core.get_json)
    register = _async(Core.register)
    login = _async(Core.login)
    unlock = _async(Core.unlock)
    logout = _async(Core.logout)
    recover = _async(Core.recover)
    totp_enroll = _async(Core.totp_enroll)
    totp_verify = _async(Core.totp_verify)
    totp_disable = _async(Core.totp_disable)
    ws_ticket = _async(Core.ws_ticket)
    me = _async(Core.me)
    export_me = _async(Core.export_me)
    stream_export = _async(Core.stream_export)
    notifications = _async(Core.notifications)
    delete_account = _async(Core.delete_account)
    workspace_key = _async(Core.workspace_key)
    board_key = _async(Core.board_key)
    workspaces = _async(Core.workspaces)
    workspace = _async(Core.workspace)
    create_workspace = _async(Core.create_workspace)
    rename_workspace = _async(Core.rename_workspace)
    delete_workspace = _async(Core.delete_workspace)
    members = _async(Core.members)
    lookup_user = _async(Core.lookup_user)
    invite = _async(Core.invite)
    trust_member = _async(Core.trust_member)
    remove_member = _async(Core.remove_member)
    set_role = _async(Core.set_role)
    boards = _async(Core.boards)
    board = _async(Core.board)
    create_board = _async(Core.create_board)
    update_board = _async(Core.update_board)
    delete_board = _async(Core.delete_board)
    columns = _async(Core.columns)
    create_column = _async(Core.create_column)
    update_column = _async(Core.update_column)
    delete_column = _async(Core.delete_column)
    cards = _async(Core.cards)
    card = _async(Core.card)
    create_card = _async(Core.create_card)
    edit_card = _async(Core.edit_card)
    edit_description = _async(Core.edit_description)
    set_custom_field_value = _async(Core.set_custom_field_value)
    archive_card = _async(Core.archive_card)
    move_card = _async(Core.move_card)
    delete_card = _async(Core.delete_card)
    add_label = _async(Core.add_label)
    remove_label = _async(Core.remove_label)
    assign = _async(Core.assign)
    unassign = _async(Core.unassign)
    set_milestone = _async(Core.set_milestone)
    add_comment = _async(Core.add_comment)
    edit_comment = _async(Core.edit_comment)
    delete_comment = _async(Core.delete_comment)
    checklists = _async(Core.checklists)
    add_checklist = _async(Core.add_checklist)
    rename_checklist = _async(Core.rename_checklist)
    delete_checklist = _async(Core.delete_checklist)
    add_item = _async(Core.add_item)
    update_item = _async(Core.update_item)
    delete_item = _async(Core.delete_item)
    attachments = _async(Core.attachments)
    attachment = _async(Core.attachment)
    upload_attachment = _async(Core.upload_attachment)
    download_attachment = _async(Core.download_attachment)
    download_content = _async(Core.download_content)
    save_attachment = _async(Core.save_attachment)
    delete_attachment = _async(Core.delete_attachment)
    labels = _async(Core.labels)
    create_label = _async(Core.create_label)
    update_label = _async(Core.update_label)
    delete_label = _async(Core.delete_label)
    milestones = _async(Core.milestones)
    create_milestone = _async(Core.create_milestone)
    update_milestone = _async(Core.update_milestone)
    delete_milestone = _async(Core.delete_milestone)
    card_templates = _async(Core.card_templates)
    create_card_template = _async(Core.create_card_template)
    delete_card_template = _async(Core.delete_card_template)
    custom_fields = _async(Core.custom_fields)
    create_custom_field = _async(Core.create_custom_field)
    update_custom_field = _async(Core.update_custom_field)
    delete_custom_field = _async(Core.delete_custom_field)
    automations = _async(Core.automations)
    create_automation = _async(Core.create_automation)
    update_automation = _async(Core.update_automation)
    delete_automation = _async(Core.delete_automation)
    webhooks = _async(Core.webhooks)
    create_webhook = _async(Core.create_webhook)
    update_webhook = _async(Core.update_webhook)
    delete_webhook = _async(Core.delete_webhook)
    deliveries = _async(Core.deliveries)
    requeue_delivery = _async(Core.requeue_delivery)
    activity = _async(Core.activity)
    sealed_digests = _async(Core.sealed_digests)
