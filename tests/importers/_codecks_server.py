"""A fixture Codecks built from the "Codecks API" page: the one query endpoint and a file host.

`POST /` takes `{"query": {...}}`, a nested selection evaluated here the way Codecks
does: `_root` → `account` → relations such as `decks`, `projects`, `masterTags` or
`cards({...})`, each with its fields and nested relations; the answer is
entity-normalised (`{"_root": {"account": ID}, "card": {ID: {...}}, "user": {...}}`),
a relation given in its parent as an id or a list of ids under the key that asked
for it.  Filters: equality, `{"op": "gt"|"gte"|"lt"|"lte"|"contains"|"in", "value": …}`,
`$or`, `$order` (`-field` descending) and `$limit`.  A card list without a
visibility condition holds only visible cards (archived ones must be asked for).
The `at` token is required in `X-Auth-Token` and the subdomain in `X-Account`
(401 and 403 otherwise); an unknown field or relation is a 400 in Codecks' error
shape (`{"message": …}`); more than 40 queries in 5 seconds answer 429 with
Retry-After.  Files are served by a second app (another origin, as S3 is) that
records whether a token reached it.  Every request is recorded, and `faults`
injects 5xx, 429, stalls or malformed bodies for the next N matching requests.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class CxUser:
    id: str
    name: str
    email: str | None


@dataclass
class CxFile:
    id: str
    name: str
    content: bytes
    mime: str = "application/octet-stream"


@dataclass
class CxEntry:
    id: str
    author: str
    content: str
    created: str


@dataclass
class CxThread:
    id: str
    context: str
    created: str
    entries: list[CxEntry]
    closed: bool = False


@dataclass
class CxCard:
    id: str
    seq: int
    deck: str
    content: str
    status: str = "not_started"
    priority: str | None = None
    effort: float | None = None
    tags: list[str] = field(default_factory=list)
    assignee: str | None = None
    milestone: str | None = None
    due: str | None = None
    visibility: str = "default"
    threads: list[CxThread] = field(default_factory=list)
    files: list[CxFile] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.content.partition("\n")[0].strip()


@dataclass
class CxDeck:
    id: str
    title: str
    project: str
    deleted: bool = False


@dataclass
class CxProject:
    id: str
    name: str


@dataclass
class CxMilestone:
    id: str
    name: str
    date: str | None = None


@dataclass
class CxTag:
    id: str
    title: str
    color: str | None


@dataclass
class Fault:
    pattern: str
    times: int
    status: int = 503
    retry_after: str | None = None
    stall: float = 0.0
    body: bytes | None = None


@dataclass
class CodecksData:
    account_id: str
    subdomain: str
    token: str
    users: dict[str, CxUser]
    projects: list[CxProject]
    decks: list[CxDeck]
    cards: list[CxCard]
    milestones: list[CxMilestone]
    tags: list[CxTag]
    #: (method, path, query text) of every API request, whether a token came with it; the same for files
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    tokens: list[bool] = field(default_factory=list)
    file_requests: list[tuple[str, bool]] = field(default_factory=list)
    #: the status of every query answer, in order (the pacing tests look for 429s in a row)
    statuses: list[int] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    limit: tuple[int, float] = (40, 5.0)
    clock: Callable[[], float] = time.monotonic
    files_url: str = ""
    window: deque[float] = field(default_factory=deque)

    def fail(self, pattern: str, times: int = 1, **kwargs: Any) -> None:
        self.faults.append(Fault(pattern, times, **kwargs))

    def card(self, card_id: str) -> CxCard:
        return next(c for c in self.cards if c.id == card_id)


class QueryError(Exception):
    """A query Codecks would refuse (answered 400 in its error shape)."""


_KEY = re.compile(r"^([A-Za-z_]\w*)(?:\((.*)\))?$", re.S)


class _Evaluator:
    """Evaluates one nested query over the fixture's data into an entity-normalised answer."""

    def __init__(self, data: CodecksData) -> None:
        self.data = data
        self.out: dict[str, Any] = {}

    # kind -> (primary key field, scalar fields, relations: name -> (kind, getter))
    def scalars(self, kind: str, obj: Any) -> dict[str, Any]:
        d = self.data
        if kind == "account":
            return {"id": d.account_id, "name": d.subdomain.capitalize()}
        if kind == "project":
            return {"id": obj.id, "name": obj.name}
        if kind == "deck":
            return {"id": obj.id, "title": obj.title, "projectId": obj.project, "isDeleted": obj.deleted}
        if kind == "card":
            return {
                "cardId": obj.id, "accountSeq": obj.seq, "title": obj.title, "content": obj.content,
                "status": obj.status, "priority": obj.priority, "effort": obj.effort, "masterTags": list(obj.tags),
                "visibility": obj.visibility, "dueDate": obj.due, "deckId": obj.deck, "milestoneId": obj.milestone,
                "assigneeId": obj.assignee, "createdAt": "2024-01-01T00:00:00.000Z",
            }  # fmt: skip
        if kind == "user":
            return {"id": obj.id, "name": obj.name}
        if kind == "userEmail":
            return {"id": f"email-{obj.id}", "email": obj.email}
        if kind == "milestone":
            return {"id": obj.id, "name": obj.name, "date": obj.date}
        if kind == "masterTag":
            return {"id": obj.id, "title": obj.title, "color": obj.color}
        if kind == "resolvable":
            return {"id": obj.id, "context": obj.context, "isClosed": obj.closed, "createdAt": obj.created}
        if kind == "resolvableEntry":
            return {"id": obj.id, "content": obj.content, "createdAt": obj.created}
        if kind == "attachment":
            return {"id": f"att-{obj.id}"}
        if kind == "file":
            return {"id": obj.id, "fileName": obj.name, "url": f"{d.files_url}/files/{obj.id}/{obj.name}",
                    "size": len(obj.content), "type": obj.mime}  # fmt: skip
        raise QueryError(f"unknown entity {kind}")

    def relations(self, kind: str, obj: Any) -> dict[str, tuple[str, Any]]:
        d = self.data
        if kind == "account":
            live = [c for c in d.cards if c.visibility != "deleted"]
            return {
                "projects": ("project", d.projects), "decks": ("deck", d.decks), "cards": ("card", live),
                "milestones": ("milestone", d.milestones), "masterTags": ("masterTag", d.tags),
            }  # fmt: skip
        if kind == "project":
            return {"decks": ("deck", [x for x in d.decks if x.project == obj.id])}
        if kind == "deck":
            return {"cards": ("card", [c for c in d.cards if c.deck == obj.id and c.visibility != "deleted"])}
        if kind == "card":
            return {
                "assignee": ("user", d.users.get(obj.assignee or "")),
                "milestone": ("milestone", next((m for m in d.milestones if m.id == obj.milestone), None)),
                "deck": ("deck", next((x for x in d.decks if x.id == obj.deck), None)),
                "resolvables": ("resolvable", obj.threads),
                "attachments": ("attachment", obj.files),
            }
        if kind == "user":
            return {"primaryEmail": ("userEmail", obj if obj.email is not None else None)}
        if kind == "resolvable":
            return {"entries": ("resolvableEntry", obj.entries)}
        if kind == "resolvableEntry":
            return {"author": ("user", d.users.get(obj.author))}
        if kind == "attachment":
            return {"file": ("file", obj)}
        return {}

    def entity(self, kind: str, obj: Any, selection: Any) -> str:
        """Put `obj` (the fields `selection` asks) into the answer; return its id."""
        if not isinstance(selection, list):
            raise QueryError(f"the selection of {kind} must be a list")
        scalars = self.scalars(kind, obj)
        entity_id = scalars["cardId" if kind == "card" else "id"]
        row = self.out.setdefault(kind, {}).setdefault(entity_id, {})
        relations = self.relations(kind, obj)
        for item in selection:
            if isinstance(item, str):
                if item not in scalars:
                    raise QueryError(f"unknown field '{item}' on {kind}")
                row[item] = scalars[item]
                continue
            if not isinstance(item, dict):
                raise QueryError(f"bad selection item on {kind}")
            for key, sub in item.items():
                match = _KEY.match(key)
                if match is None or match.group(1) not in relations:
                    raise QueryError(f"unknown relation '{key}' on {kind}")
                target, value = relations[match.group(1)]
                if isinstance(value, list):
                    found = self.filtered(target, value, match.group(2))
                    row[key] = [self.entity(target, x, sub) for x in found]
                elif match.group(2) is not None:
                    raise QueryError(f"'{key}' on {kind} is not a list: it takes no filter")
                else:
                    row[key] = None if value is None else self.entity(target, value, sub)
        return str(entity_id)

    def filtered(self, kind: str, items: list[Any], args: str | None) -> list[Any]:
        condition: dict[str, Any] = {}
        if args is not None:
            try:
                condition = json.loads(args)
            except ValueError:
                raise QueryError(f"the filter of {kind} is not JSON") from None
            if not isinstance(condition, dict):
                raise QueryError(f"the filter of {kind} must be an object")
        if kind == "card" and "visibility" not in json.dumps(condition):
            items = [c for c in items if c.visibility == "default"]
        found = [x for x in items if self.matches(kind, self.scalars(kind, x), condition)]
        order = condition.get("$order")
        if order is not None:
            name = str(order).lstrip("-")
            self.check(kind, name)
            found.sort(key=lambda x: _sortable(self.scalars(kind, x)[name]), reverse=str(order).startswith("-"))
        limit = condition.get("$limit")
        if limit is not None:
            if type(limit) is not int or limit < 0:
                raise QueryError("$limit must be a non-negative integer")
            found = found[:limit]
        return found

    def check(self, kind: str, name: str) -> None:
        if name not in self.scalars(kind, self._sample(kind)):
            raise QueryError(f"unknown field '{name}' on {kind}")

    def _sample(self, kind: str) -> Any:
        d = self.data
        samples: dict[str, Any] = {
            "card": CxCard("x", 0, "", ""), "deck": CxDeck("x", "", ""), "project": CxProject("x", ""),
            "milestone": CxMilestone("x", ""), "masterTag": CxTag("x", "", None), "user": CxUser("x", "", None),
            "resolvable": CxThread("x", "", "", []), "resolvableEntry": CxEntry("x", "", "", ""),
            "attachment": CxFile("x", "", b""), "file": CxFile("x", "", b""), "account": d,
        }  # fmt: skip
        return samples[kind]

    def matches(self, kind: str, scalars: dict[str, Any], condition: dict[str, Any]) -> bool:
        for name, wanted in condition.items():
            if name in ("$order", "$limit"):
                continue
            if name == "$or":
                if not isinstance(wanted, list) or not any(self.matches(kind, scalars, c) for c in wanted):
                    return False
                continue
            if name not in scalars:
                raise QueryError(f"unknown field '{name}' on {kind}")
            if not _compare(scalars[name], wanted):
                return False
        return True


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def _compare(value: Any, wanted: Any) -> bool:
    if not isinstance(wanted, dict):
        return bool(value == wanted)
    op, operand = wanted.get("op"), wanted.get("value")
    if op == "eq":
        return bool(value == operand)
    if op == "neq":
        return bool(value != operand)
    if op == "in":
        return isinstance(operand, list) and value in operand
    if op == "contains":
        return isinstance(value, str) and isinstance(operand, str) and operand.lower() in value.lower()
    if op in ("gt", "gte", "lt", "lte"):
        if value is None or operand is None:
            return False
        try:
            return bool({"gt": value > operand, "gte": value >= operand, "lt": value < operand,
                         "lte": value <= operand}[op])  # fmt: skip
        except TypeError:
            raise QueryError(f"cannot compare {value!r} with {operand!r}") from None
    raise QueryError(f"unknown operator {op!r}")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def _fault(data: CodecksData, subject: str) -> Fault | None:
    for fault in data.faults:
        if fault.times > 0 and re.search(fault.pattern, subject):
            fault.times -= 1
            return fault
    return None


async def _faulted(fault: Fault) -> Response:
    if fault.stall:
        await asyncio.sleep(fault.stall)
    if fault.body is not None:
        return Response(fault.body, media_type="application/json")
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
    return _error(fault.status, "injected", headers)


def create_app(data: CodecksData) -> Starlette:
    """The API: `POST /` evaluates queries; anything else (e.g. `/dispatch/…`, a write) is recorded and refused."""

    async def dispatch(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        data.requests.append((request.method, request.url.path, body))
        data.tokens.append("x-auth-token" in request.headers)
        response = await answer(request, body)
        data.statuses.append(response.status_code)
        return response

    async def answer(request: Request, body: str) -> Response:
        fault = _fault(data, f"{request.method} {request.url.path} {body}")
        if fault is not None:
            return await _faulted(fault)
        if request.method != "POST" or request.url.path != "/":
            return _error(404, "the fixture serves only the query endpoint")
        now = data.clock()
        while data.window and data.window[0] <= now - data.limit[1]:
            data.window.popleft()
        if len(data.window) >= data.limit[0]:
            wait = math.ceil(data.window[0] + data.limit[1] - now)
            return _error(429, "Too many requests", {"Retry-After": str(max(1, wait))})
        data.window.append(now)
        if request.headers.get("x-auth-token") != data.token:
            return _error(401, "Not logged in")
        if request.headers.get("x-account") != data.subdomain:
            return _error(403, "You are not a member of this organisation")
        try:
            query = json.loads(body)["query"]
            if not isinstance(query, dict) or not isinstance(query.get("_root"), list):
                raise QueryError("the query needs a _root list")
            evaluator = _Evaluator(data)
            root: dict[str, Any] = {}
            for item in query["_root"]:
                if not isinstance(item, dict):
                    raise QueryError("bad _root item")
                for key, sub in item.items():
                    if key != "account":
                        raise QueryError(f"unknown root relation '{key}'")
                    root["account"] = evaluator.entity("account", data, sub)
        except QueryError as exc:
            return _error(400, f"Invalid query: {exc}")
        except (ValueError, KeyError, TypeError):
            return _error(400, 'Invalid query: the body must be {"query": {...}}')
        return JSONResponse({"_root": root, **evaluator.out})

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "DELETE"])])


def create_files_app(data: CodecksData) -> Starlette:
    """The file host (S3 in production): public URLs, no token needed (and none should arrive)."""

    async def serve(request: Request) -> Response:
        path = request.url.path
        data.file_requests.append((path, "x-auth-token" in request.headers))
        fault = _fault(data, f"GET {path}")
        if fault is not None:
            return await _faulted(fault)
        match = re.fullmatch(r"/files/([^/]+)/.*", path)
        found = [f for c in data.cards for f in c.files if match and f.id == match.group(1)]
        if not found:
            return Response(b"NoSuchKey", status_code=404)
        return Response(found[0].content, media_type=found[0].mime)

    return Starlette(routes=[Route("/{path:path}", serve, methods=["GET"])])


def sample_codecks(token: str = "at-token-1") -> CodecksData:
    """Two projects with every feature the importer carries, and the things it must report."""
    users = {
        "u-ana": CxUser("u-ana", "Ana Lima", None),  # email filled in by the test (a workspace member)
        "u-bob": CxUser("u-bob", "Bob Stone", "bob@elsewhere.test"),  # not a member
        "u-cy": CxUser("u-cy", "Cy Hidden", None),  # email not shown to this token
    }
    tags = [CxTag("t-1", "bug", "#E5484D"), CxTag("t-2", "ui", "30a46c"), CxTag("t-3", "perf", None)]
    milestones = [CxMilestone("m-alpha", "Alpha", "2026-05-01"), CxMilestone("m-beta", "Beta", None)]
    png = bytes(range(256)) * 40
    big = b"level data " * 30_000
    cards = [
        CxCard(
            "c-jump", 1, "d-play", "Jump higher\n\nThe jump feels **weak**.\n\n- tune gravity", status="started",
            priority="a", effort=3, tags=["bug", "ui"], assignee="u-ana", milestone="m-alpha",
            due="2026-03-01T17:00:00Z",
            threads=[
                CxThread("r-1", "comment", "2024-02-01T10:00:00Z", [
                    CxEntry("e-1", "u-bob", "Can we try 1.5×?", "2024-02-01T10:00:00Z"),
                    CxEntry("e-2", "u-ana", "Yes, done.\nSecond line", "2024-02-01T11:30:00Z"),
                ]),
                CxThread("r-2", "review", "2024-02-02T09:00:00Z", [
                    CxEntry("e-3", "u-ana", "Looks right", "2024-02-02T09:00:00Z"),
                ], closed=True),
            ],
            files=[CxFile("f-1", "jump.png", png, "image/png")],
        ),
        CxCard(
            "c-block", 2, "d-play", "Blocked by the engine", status="blocked", priority="c", effort=0.5,
            tags=["perf", "legacy"], assignee="u-bob",
            threads=[CxThread("r-3", "block", "2024-02-03T08:00:00Z", [
                CxEntry("e-4", "u-cy", "Waiting for the engine update", "2024-02-03T08:00:00Z"),
            ])],
        ),
        CxCard("c-old", 3, "d-play", "Old level\nkept for reference", status="done", visibility="archived",
               milestone="m-beta", files=[CxFile("f-2", "level.bin", big)]),
        CxCard("c-review", 4, "d-play", "Review the menu\n\nAll buttons.", status="review", assignee="u-cy",
               priority="b"),
        CxCard("c-idea", 5, "d-play", "An idea"),
        CxCard("c-gone", 6, "d-play", "Deleted card", visibility="deleted"),
        CxCard("c-snooze", 7, "d-play", "Snoozed card", status="snoozing"),
        CxCard("c-sky", 8, "d-art", "Paint the sky", status="done"),
        CxCard("c-home", 9, "d-web", "Home page", status="started", tags=["ui"]),
    ]  # fmt: skip
    return CodecksData(
        "acc-1",
        "team123",
        token,
        users,
        [CxProject("p-game", "Game ✓"), CxProject("p-web", "Website")],
        [
            CxDeck("d-play", "Gameplay", "p-game"),
            CxDeck("d-art", "Art", "p-game"),
            CxDeck("d-web", "Pages", "p-web"),
            CxDeck("d-old", "Old deck", "p-game", deleted=True),
        ],
        cards,
        milestones,
        tags,
    )
