"""Reading a source's HTTP API: reads only, timeouts, bounded retries with backoff, clear errors.

Requests are GETs, or POSTs to a query endpoint that only reads (Codecks answers every
read through `POST /`).  A 5xx, a 429 (its reset or Retry-After obeyed) or a timeout is
retried with growing waits; when the attempts run out the import stops with a
TransportError naming the route, and a re-run resumes.  Wrong credentials raise AuthError
(exit 5) before anything is written.  A source with a published request limit is paced
under it (`SourcePace`), so a steady run meets at most one 429 in a row.  Bodies are
parsed through `Record`, which names the route and the object when the source sends
something unexpected.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import json
import tempfile
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, cast
from urllib.parse import urlsplit

import httpx

from .._errors import ProtocolError, TransportError, api_error
from ..client import REQUEST_HEADERS, DeadlineTransport

__all__ = ["BasicAuth", "ErrorText", "Record", "SourceAuth", "SourceHttp", "SourcePace", "SourceUnavailable"]

_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Longest Retry-After the reader waits for; a source asking more stops the run (resumable).
_MAX_RETRY_AFTER: Final = 120.0


#: HTTP status of a source's refusal (credentials apart) -> (error code, what it means), for `api_error`.
_SOURCE_REFUSALS: dict[int, tuple[str, str]] = {
    403: ("SOURCE_FORBIDDEN", "not visible to this user"),
    404: ("SOURCE_NOT_FOUND", "not found"),
}


class SourceUnavailable(TransportError):
    """The source kept failing (5xx, 429, timeouts) through every retry: the run stops, a re-run resumes."""


class SourcePace:
    """Source-side pacing under the source's documented request limit, and its rate-limit
    headers (`remaining` requests left, `reset` as epoch seconds) when it sends them.

    Each request's slot in the sliding window is taken when its *answer* arrives: the
    source counted it earlier, so however long the network took, no window of the source
    ever holds more than the limit.  When an answer says no request is left, the next one
    waits for the reset.  So a steady run meets no 429, and after one that other activity
    caused (waited out until the reset) the next request finds room: at most one in a row.
    """

    def __init__(
        self,
        limit: tuple[int, float],
        *,
        remaining_header: str = "x-ratelimit-remaining",
        reset_header: str = "x-ratelimit-reset",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._seconds = limit[1]
        #: When the last `limit` answers arrived (monotonic).
        self._answered: deque[float] = deque(maxlen=max(1, limit[0]))
        self._remaining_header = remaining_header
        self._reset_header = reset_header
        self._clock = clock
        self._wall = wall
        #: Monotonic time before which the source said no request is left.
        self._not_before = 0.0

    @property
    def window(self) -> float:
        """The length of the source's counting window, in seconds."""
        return self._seconds

    def delay(self, requests: int = 1) -> float:
        """Seconds to wait before sending the next request, which may become `requests` (redirects)."""
        now = self._clock()
        wait = self._not_before - now
        assert self._answered.maxlen is not None
        oldest_in_the_way = len(self._answered) - self._answered.maxlen + min(requests, self._answered.maxlen) - 1
        if oldest_in_the_way >= 0:
            wait = max(wait, self._answered[oldest_in_the_way] + self._seconds - now)
        return max(0.0, wait)

    def until_reset(self, headers: Mapping[str, str]) -> float | None:
        """Seconds until the reset the headers announce, or None when they announce none."""
        value = headers.get(self._reset_header)
        try:
            reset = float(value) if value else None
        except ValueError:
            return None
        return None if reset is None else min(_MAX_RETRY_AFTER, max(0.0, reset - self._wall()))

    def answered(self, headers: Mapping[str, str] | None, requests: int = 1) -> None:
        """`requests` requests got their answer now (None: lost, though the source may have
        counted them); an answer with nothing left makes the next request wait for the reset."""
        now = self._clock()
        self._answered.extend([now] * requests)
        if headers is None:
            return
        remaining = headers.get(self._remaining_header, "").strip()
        wait = self.until_reset(headers)
        if remaining.lstrip("-").isdigit() and int(remaining) <= 0 and wait is not None:
            self._not_before = max(self._not_before, now + wait)


#: Reads the source's own error text from a 4xx body (None when the body is not its error shape).
ErrorText = Callable[[bytes], str | None]


class SourceAuth(httpx.Auth):
    """A source's credentials as the headers one request carries, chosen by its method and URL
    (none where they must not go, e.g. a file's URL taken from an answer).  Both ways a read
    is sent take them from here: the transport's own and httpx.Client's (redirects, downloads)."""

    def headers_for(self, method: str, url: str) -> Mapping[str, str]:
        raise NotImplementedError

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers_for(request.method, str(request.url)))
        yield request


class BasicAuth(SourceAuth):
    """HTTP basic auth (user and password, UTF-8, as httpx.BasicAuth encodes them), on every request."""

    def __init__(self, user: str, password: str) -> None:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {pair}"}

    def headers_for(self, method: str, url: str) -> Mapping[str, str]:
        return self._headers


@dataclass(frozen=True, slots=True)
class _Answer:
    """One attempt's answer: its status and headers, how many requests it took (each redirect
    followed is one more) and its body, read whole or, for a download, open in `stream`."""

    status_code: int
    headers: Mapping[str, str]
    requests: int
    content: bytes = b""
    stream: httpx.Response | None = None


class SourceHttp:
    """Read requests to one source; `pace` keeps them under its limit.

    `auth_statuses` are the answers that mean wrong credentials (`refused` is then the
    message); `error_text` reads the source's own error shape for other refusals.
    """

    def __init__(
        self,
        name: str,
        *,
        auth: SourceAuth | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        pace: SourcePace | None = None,
        follow_redirects: bool = False,
        auth_statuses: frozenset[int] = frozenset({401}),
        refused: str = "",
        error_text: ErrorText | None = None,
    ) -> None:
        self.name = name
        self._pace = pace
        self._auth_statuses = auth_statuses
        self._refused = refused or f"{name} refused the user or password/token"
        self._error_text = error_text
        self._auth = auth
        self._headers = {**REQUEST_HEADERS, **(headers or {})}
        self._timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout)
        # the MSKanban client's transport: httpx's default one costs several times its CPU per request
        self._transport = transport or DeadlineTransport()
        # httpx drops the Authorization header when a redirect leaves the origin
        self._http = httpx.Client(
            auth=auth,
            headers=self._headers,
            transport=self._transport,
            timeout=timeout,
            follow_redirects=follow_redirects,
        )
        self._follow_redirects = follow_redirects
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        #: Requests sent (retries included).
        self.requests = 0

    def close(self) -> None:
        self._http.close()

    def _open(
        self,
        url: str,
        params: Mapping[str, str] | None,
        route: str,
        *,
        read: bool,
        method: str = "GET",
        body: Any = None,
    ) -> _Answer:
        """A 2xx answer of `method url` after the retries (body read if `read`, else open for streaming)."""
        last, attempt = "", 0
        while attempt < self._attempts:
            attempt += 1
            self.requests += 1
            wait = self._backoff * 2 ** (attempt - 1)
            # a download may be redirected to where the file lies: room for that request too
            hops = 2 if self._follow_redirects and not read else 1
            if self._pace is not None and (delay := self._pace.delay(hops)) > 0:
                self._sleep(delay)
            try:
                try:
                    if read:
                        answer = self._read(method, url, params, body)
                    else:
                        answer = self._via_httpx(method, url, params, None, read=False)
                except httpx.TransportError:
                    if self._pace is not None:
                        self._pace.answered(None)
                    raise
                if self._pace is not None:
                    self._pace.answered(answer.headers, answer.requests)
                if answer.status_code < 300:
                    return answer
                if answer.status_code not in _RETRY_STATUSES:
                    raise self._error(answer.status_code, f"{method} {route}", answer.content)
                last = f"HTTP {answer.status_code}"
                wait = max(wait, self._retry_wait(answer.status_code, answer.headers))
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if wait > _MAX_RETRY_AFTER:
                break
            if attempt < self._attempts:
                self._sleep(wait)
        raise SourceUnavailable(f"{self.name} {method} {route}: still failing after {attempt} attempts ({last})")

    def _read(self, method: str, url: str, params: Mapping[str, str] | None, body: Any) -> _Answer:
        """A read sent by the transport itself, its body read whole: through httpx.Client it
        cost several times the CPU (a URL model, a Request and a Response built, a cookie jar
        run over every answer), and a source's API is read with its token, no session.  A
        redirect, where this reader follows them, goes through httpx.Client after all (it
        keeps the token on the origin)."""
        if not isinstance(self._transport, DeadlineTransport):
            return self._via_httpx(method, url, params, body, read=True)
        parts = urlsplit(url)
        path = f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
        headers = self._headers if self._auth is None else {**self._headers, **self._auth.headers_for(method, url)}
        received = self._transport.exchange(
            method,
            f"{parts.scheme}://{parts.netloc}",
            path,
            params=params,
            headers=headers,
            json_body=body,
            timeouts=self._timeouts,
        )
        try:
            if self._follow_redirects and 300 <= received.status_code < 400 and "location" in received.headers:
                # that answer was a request of its own: its slot is taken in the source's window
                if self._pace is not None:
                    self._pace.answered(received.headers)
                received.close()
                return self._via_httpx(method, url, params, body, read=True)
            content = received.whole()
            if content is None:
                content = b"".join(received.iter_bytes())
        finally:
            received.close()
        return _Answer(received.status_code, received.headers, 1, content)

    def _via_httpx(self, method: str, url: str, params: Mapping[str, str] | None, body: Any, *, read: bool) -> _Answer:
        """Through httpx.Client (following redirects where this reader does): read whole, or a
        2xx answer left open for streaming."""
        request = self._http.build_request(method, url, params=params, json=body)
        response = self._http.send(request, stream=True)
        requests = 1 + len(response.history)
        if read or response.status_code >= 300:
            try:
                response.read()
            finally:
                response.close()
            return _Answer(response.status_code, response.headers, requests, response.content)
        return _Answer(response.status_code, response.headers, requests, stream=response)

    def _retry_wait(self, status: int, headers: Mapping[str, str]) -> float:
        """The source's own reset when it names one, else its Retry-After; a 429 with neither
        under a known limit waits a whole window, so the next try has room."""
        reset = None if self._pace is None else self._pace.until_reset(headers)
        if reset is not None:
            return reset
        if status == 429 and not headers.get("retry-after") and self._pace is not None:
            return self._pace.window
        return _retry_after(headers.get("retry-after"))

    def _error(self, status: int, request: str, body: bytes = b"") -> Exception:
        """The source's refusal as the error of that status (exit 5 for bad credentials)."""
        if status in self._auth_statuses:
            return api_error(401, "SOURCE_UNAUTHORIZED", self._refused)
        refusal = _SOURCE_REFUSALS.get(status)
        if refusal is not None:
            code, what = refusal
            return api_error(status, code, f"{self.name} {request}: {what}")
        said = self._error_text(body) if self._error_text is not None else None
        if said:
            return ProtocolError(f"{self.name} {request}: the source refused the request (HTTP {status}): {said}")
        return ProtocolError(f"{self.name} {request}: unexpected HTTP {status}")

    def get_json(self, url: str, route: str, params: Mapping[str, str] | None = None) -> Any:
        """The parsed JSON of GET `url` (`route` names it in errors, without the host)."""
        return self._json(self._open(url, params, route, read=True).content, f"GET {route}")

    def query_json(self, url: str, route: str, body: Any) -> Any:
        """The parsed JSON of POST `url` with a JSON `body`: for a query endpoint that only reads."""
        return self._json(self._open(url, None, route, read=True, method="POST", body=body).content, f"POST {route}")

    def _json(self, body: bytes, request: str) -> Any:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(f"{self.name} {request}: the answer is not JSON") from None

    @contextlib.contextmanager
    def download(self, url: str, route: str) -> Iterator[tuple[BinaryIO, int]]:
        """The content of GET `url` as a stream read chunk by chunk, and its exact size.

        The size comes from Content-Length; without it the body is read through once to a
        temporary file (constant memory).  A connection lost mid-stream surfaces as the
        upload's TransportError, and the runner retries the step from the start."""
        response = self._open(url, None, route, read=False).stream
        assert response is not None  # a 2xx download is left open
        try:
            length = response.headers.get("content-length", "")
            if length.isdigit() and "content-encoding" not in response.headers:
                yield cast(BinaryIO, _ChunkReader(response.iter_bytes())), int(length)
                return
            with tempfile.TemporaryFile() as spool:
                for chunk in response.iter_bytes():
                    spool.write(chunk)
                size = spool.tell()
                spool.seek(0)
                yield cast(BinaryIO, spool), size
        finally:
            response.close()


class _ChunkReader:
    """A read-only file object over an iterator of byte chunks (an HTTP body being streamed)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0 or size >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:size])
            del self._buffer[:size]
        return out


def _retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    return 0.0 if parsed is None else max(0.0, parsed.timestamp() - time.time())


class Record:
    """Typed reads of one JSON object a source sent; errors name the route and the object."""

    __slots__ = ("data", "route", "what")

    def __init__(self, data: object, route: str, what: str) -> None:
        if not isinstance(data, Mapping):
            raise ProtocolError(f"{route}: {what}: expected a JSON object")
        self.data: Mapping[str, Any] = data
        self.route = route
        self.what = what

    def fail(self, name: str, problem: str) -> ProtocolError:
        return ProtocolError(f"{self.route}: {self.what}: {name!r} {problem}")

    def integer(self, name: str) -> int:
        value = self.data.get(name)
        if type(value) is not int:
            raise self.fail(name, "is not an integer")
        return value

    def text(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self.fail(name, "is not a string")
        return value

    def opt_text(self, name: str) -> str | None:
        return None if self.data.get(name) is None else self.text(name)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(name, "is not a boolean")
        return value

    def records(self, name: str, what: str) -> list[Record]:
        """The objects of array `name`; missing or null (as Deck sends an empty list) reads as none."""
        value = self.data.get(name)
        if value is None:
            return []
        return records(value, self.route, f"{self.what}: {what}", f"{self.what}: {name!r}")

    def named(self, kind: str) -> Record:
        """Name this object by its integer id in later errors ("card 12")."""
        value = self.data.get("id")
        self.what = f"{kind} {value}" if type(value) is int else kind
        return self

    def child(self, name: str, what: str) -> Record:
        return Record(self.data.get(name), self.route, f"{self.what}: {what}")


def records(value: object, route: str, what: str, context: str = "answer") -> list[Record]:
    if not isinstance(value, list):
        raise ProtocolError(f"{route}: {context} is not a JSON array")
    return [Record(item, route, what) for item in value]
