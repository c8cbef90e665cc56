"""A fixture Kaiten server built from the "Kaiten API" page, with Kaiten's real shapes and quirks:
integer ids (a file's id may be a UUID string, a blocking card's id is a string), spaces
listing their boards, subcolumns below their parent column (nested in the columns list, or
only through `GET /columns/{id}/subcolumns`), lanes, the card list paged with limit/offset
(at most 100) and filtered by `condition`, checklists, tags, members and files only on
`GET /cards/{id}`, files at their own unguessable URL (no token), custom properties
company-wide, user values of custom properties as uids
unless `broken_api=false`, a bearer token, and 5 requests per second: beyond, 429 with
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds), headers sent on every answer.

`faults` injects a status, a stall or a malformed body for the next N requests whose path
matches; every request and every status is recorded.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

API = "/api/latest"


@dataclass
class KUser:
    id: int
    uid: str
    full_name: str
    email: str


@dataclass
class KTag:
    id: int
    name: str
    color: int


@dataclass
class KItem:
    id: int
    text: str
    checked: bool
    sort_order: float
    deleted: bool = False


@dataclass
class KChecklist:
    id: int
    name: str
    items: list[KItem]
    sort_order: float = 1
    deleted: bool = False


@dataclass
class KComment:
    id: int
    author_id: int
    text: str
    created: int  # epoch seconds
    deleted: bool = False


@dataclass
class KFile:
    id: int | str  # Kaiten's ids are integers, some files carry a UUID instead
    name: str
    content: bytes = b""
    mime: str | None = "application/octet-stream"
    type: int = 1
    deleted: bool = False
    external_url: str | None = None
    sort_order: float = 1
    #: False: stream the body without Content-Length (chunked).
    length_header: bool = True
    #: Where the file's URL redirects to (a storage host), or None to serve it directly.
    redirect: str | None = None


@dataclass
class KBlocker:
    id: int
    reason: str
    released: bool = False
    blocker_card_id: str | None = None
    blocker_card_title: str | None = None


@dataclass
class KCard:
    id: int
    title: str
    column_id: int
    lane_id: int
    sort_order: float
    description: str | None = None
    due_date: str | None = None
    archived: bool = False
    state: int = 1
    type_id: int = 1
    size: float | None = None
    size_unit: str | None = None
    size_text: str | None = None
    tags: list[int] = field(default_factory=list)
    #: (user id, 1 member | 2 responsible)
    members: list[tuple[int, int]] = field(default_factory=list)
    checklists: list[KChecklist] = field(default_factory=list)
    comments: list[KComment] = field(default_factory=list)
    files: list[KFile] = field(default_factory=list)
    blockers: list[KBlocker] = field(default_factory=list)
    #: property id -> value in the new format (users as integer ids)
    properties: dict[int, Any] = field(default_factory=dict)
    asap: bool = False
    links: list[tuple[str, str]] = field(default_factory=list)
    children: list[int] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(not b.released for b in self.blockers)


@dataclass
class KColumn:
    id: int
    title: str
    sort_order: float
    type: int = 1
    subcolumns: list[KColumn] = field(default_factory=list)


@dataclass
class KLane:
    id: int
    title: str
    sort_order: float
    condition: int = 1


@dataclass
class KBoard:
    id: int
    title: str
    description: str = ""
    columns: list[KColumn] = field(default_factory=list)
    lanes: list[KLane] = field(default_factory=list)
    cards: list[KCard] = field(default_factory=list)


@dataclass
class KSpace:
    id: int
    title: str
    boards: list[KBoard]


@dataclass
class KProperty:
    id: int
    name: str
    type: str
    multi_select: bool = False
    #: (id, value, sort order)
    select_values: list[tuple[int, str, float]] = field(default_factory=list)


@dataclass
class Fault:
    pattern: str
    times: int
    status: int = 503
    retry_after: str | None = None
    reset_in: int | None = None
    stall: float = 0.0
    body: bytes | None = None
    #: a redirect (with `status` 3xx) to this URL
    location: str | None = None


@dataclass
class KaitenData:
    token: str
    users: dict[int, KUser]
    spaces: list[KSpace]
    tags: dict[int, KTag]
    card_types: dict[int, str]
    properties: dict[int, KProperty]
    #: Requests per second before 429 (None: no limit).
    rate_limit: int | None = None
    #: False: an older server that ignores `broken_api` and always sends user uids.
    honours_broken_api: bool = True
    #: False: `GET /boards/{id}/columns` leaves subcolumns out (only their own route has them).
    nested_subcolumns: bool = True
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: The Authorization header of each request (None when absent).
    authorizations: list[str | None] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    _window: dict[int, int] = field(default_factory=dict)

    def fail(self, pattern: str, times: int = 1, **kwargs: Any) -> None:
        self.faults.append(Fault(pattern, times, **kwargs))

    def board(self, board_id: int) -> KBoard | None:
        return next((b for s in self.spaces for b in s.boards if b.id == board_id), None)

    def card(self, card_id: int) -> tuple[KBoard, KCard] | None:
        for space in self.spaces:
            for board in space.boards:
                for card in board.cards:
                    if card.id == card_id:
                        return board, card
        return None


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


STAMP = "2024-01-10T10:52:45.915Z"


def create_app(data: KaitenData) -> Starlette:
    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"message": message}, status_code=status, headers=headers)

    def user_json(user: KUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "uid": user.uid,
            "full_name": user.full_name,
            "email": user.email,
            "username": user.full_name.split()[0].lower(),
            "activated": True,
            "virtual": False,
            "created": STAMP,
            "updated": STAMP,
        }

    def column_json(column: KColumn, board: KBoard, parent: int | None, nested: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": column.id,
            "title": column.title,
            "sort_order": column.sort_order,
            "col_count": 1,
            "type": column.type,
            "board_id": board.id,
            "column_id": parent,
            "rules": 0,
            "wip_limit": None,
            "created": STAMP,
            "updated": STAMP,
        }
        if nested:
            out["subcolumns"] = [column_json(s, board, column.id, False) for s in column.subcolumns]
        return out

    def lane_json(lane: KLane, board: KBoard) -> dict[str, Any]:
        return {
            "id": lane.id,
            "title": lane.title,
            "sort_order": lane.sort_order,
            "board_id": board.id,
            "condition": lane.condition,
            "row_count": 1,
            "created": STAMP,
            "updated": STAMP,
        }

    def property_values(card: KCard, uids: bool) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for prop_id, value in card.properties.items():
            if uids and data.properties[prop_id].type == "user":
                ids = value if isinstance(value, list) else [value]
                value = [data.users[i].uid for i in ids] if isinstance(value, list) else data.users[ids[0]].uid
            out[f"id_{prop_id}"] = value
        return out or None

    def card_summary(board: KBoard, card: KCard, uids: bool) -> dict[str, Any]:
        return {
            "id": card.id,
            "title": card.title,
            "board_id": board.id,
            "column_id": card.column_id,
            "lane_id": card.lane_id,
            "sort_order": card.sort_order,
            "archived": card.archived,
            "condition": 2 if card.archived else 1,
            "state": card.state,
            "blocked": card.blocked,
            "asap": card.asap,
            "due_date": card.due_date,
            "due_date_time_present": bool(card.due_date),
            "comments_total": len([c for c in card.comments if not c.deleted]),
            "type_id": card.type_id,
            "size": card.size,
            "size_unit": card.size_unit,
            "size_text": card.size_text,
            "properties": property_values(card, uids),
            "owner_id": 1,
            "created": STAMP,
            "updated": STAMP,
            "version": 3,
            "children_count": len(card.children),
            "time_spent_sum": 0,
        }

    def card_full(request: Request, board: KBoard, card: KCard, uids: bool) -> dict[str, Any]:
        out = card_summary(board, card, uids)
        base = str(request.base_url).rstrip("/")
        members = []
        for user_id, kind in card.members:
            member = user_json(data.users[user_id])
            member.update(card_id=card.id, user_id=user_id, type=kind)
            members.append(member)
        files = []
        for f in card.files:
            url = f.external_url or f"{base}/files/{f.id}/{f.name}"
            files.append(
                {
                    "id": f.id,
                    "uid": str(f.id),
                    "name": f.name,
                    "size": len(f.content),
                    "type": f.type,
                    "url": url,
                    "mime_type": f.mime,
                    "deleted": f.deleted,
                    "external": f.type in (2, 3, 4, 5, 6),
                    "card_id": card.id,
                    "author_id": 1,
                    "sort_order": f.sort_order,
                    "card_cover": False,
                    "created": STAMP,
                    "updated": STAMP,
                }
            )
        active = [b for b in card.blockers if not b.released]
        out.update(
            description=card.description,
            checklists=[
                {
                    "id": cl.id,
                    "name": cl.name,
                    "sort_order": cl.sort_order,
                    "deleted": cl.deleted,
                    "policy_id": None,
                    "items": [
                        {
                            "id": i.id,
                            "text": i.text,
                            "checked": i.checked,
                            "sort_order": i.sort_order,
                            "deleted": i.deleted,
                            "checker_id": None,
                        }
                        for i in cl.items
                    ],
                }
                for cl in card.checklists
            ],
            members=members,
            owner=user_json(data.users[1]),
            type={"id": card.type_id, "name": data.card_types[card.type_id], "color": 3, "letter": "C"},
            tags=[
                {
                    "id": 9000 + t,
                    "tag_id": t,
                    "name": data.tags[t].name,
                    "color": data.tags[t].color,
                    "card_id": card.id,
                }
                for t in card.tags
            ],
            files=files,
            blockers=[user_json(data.users[1])] if active else [],
            block_reason=active[0].reason if active else None,
            external_links=[
                {"id": i, "url": u, "description": d, "card_id": card.id} for i, (u, d) in enumerate(card.links)
            ],
            children=[{"id": c, "title": data.card(c)[1].title if data.card(c) else "?"} for c in card.children],  # type: ignore[index]
            parents=[],
            planned_start=None,
            planned_end=None,
        )
        return out

    def rate(headers: dict[str, str]) -> bool:
        """Count the request in its second; False when over the limit."""
        if data.rate_limit is None:
            return True
        now = data.clock()
        second = int(now)
        for old in [s for s in data._window if s < second]:
            del data._window[old]
        data._window[second] = data._window.get(second, 0) + 1
        used = data._window[second]
        headers["X-RateLimit-Remaining"] = str(max(0, data.rate_limit - used))
        headers["X-RateLimit-Reset"] = str(second + 1)
        return used <= data.rate_limit

    async def dispatch(request: Request) -> Response:
        response = await answer(request)
        data.statuses.append(response.status_code)
        return response

    async def answer(request: Request) -> Response:
        path = request.url.path
        data.requests.append((request.method, path))
        data.authorizations.append(request.headers.get("authorization"))
        headers: dict[str, str] = {}
        if not rate(headers):
            return error(429, "Too many requests", headers)
        for fault in data.faults:
            if fault.times > 0 and re.search(fault.pattern, path):
                fault.times -= 1
                if fault.stall:
                    await asyncio.sleep(fault.stall)
                if fault.body is not None:
                    return Response(fault.body, media_type="application/json", headers=headers)
                if fault.location is not None:
                    headers["Location"] = fault.location
                if fault.retry_after:
                    headers["Retry-After"] = fault.retry_after
                if fault.reset_in is not None:
                    headers.update(
                        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(data.clock()) + fault.reset_in)}
                    )
                return error(fault.status, "injected", headers)
        if request.method != "GET":
            return error(405, "the fixture serves reads only")
        if (
            not path.startswith(("/files/", "/blobs/"))
            and request.headers.get("authorization") != f"Bearer {data.token}"
        ):
            return error(401, "Invalid token")
        found = route(request, path)
        found.headers.update(headers)
        return found

    def route(request: Request, path: str) -> Response:
        if m := re.fullmatch(r"/(files|blobs)/([^/]+)/[^/]+", path):
            for _, card in ((b, c) for s in data.spaces for b in s.boards for c in b.cards):
                for f in card.files:
                    if str(f.id) == m.group(2):
                        if m.group(1) == "files" and f.redirect is not None:
                            target = f.redirect or f"{str(request.base_url).rstrip('/')}/blobs/{f.id}/{f.name}"
                            return Response(status_code=302, headers={"Location": target})
                        return file_response(f)
            return error(404, "Not found")
        if not path.startswith(API):
            return error(404, "Not found")
        rest = path[len(API) :]
        uids = not (data.honours_broken_api and request.query_params.get("broken_api") == "false")
        if rest == "/spaces":
            return JSONResponse(
                [
                    {
                        "id": s.id,
                        "uid": f"space-{s.id}",
                        "title": s.title,
                        "archived": False,
                        "created": STAMP,
                        "updated": STAMP,
                        "boards": [
                            {
                                "id": b.id,
                                "title": b.title,
                                "description": b.description,
                                "created": STAMP,
                                "updated": STAMP,
                            }
                            for b in s.boards
                        ],
                    }
                    for s in data.spaces
                ]
            )
        if m := re.fullmatch(r"/spaces/(\d+)/users", rest):
            return JSONResponse([user_json(u) for u in data.users.values()])
        if rest == "/card-types":
            return JSONResponse([{"id": i, "name": n, "color": 1, "letter": n[0]} for i, n in data.card_types.items()])
        if rest == "/company/custom-properties":
            return JSONResponse(
                [
                    {
                        "id": p.id,
                        "name": p.name,
                        "type": p.type,
                        "multi_select": p.multi_select,
                        "condition": "active",
                        "created": STAMP,
                        "updated": STAMP,
                    }
                    for p in data.properties.values()
                ]
            )
        if m := re.fullmatch(r"/company/custom-properties/(\d+)/select-values", rest):
            prop = data.properties.get(int(m.group(1)))
            if prop is None:
                return error(404, "Not found")
            return JSONResponse(
                [
                    {
                        "id": i,
                        "custom_property_id": prop.id,
                        "value": v,
                        "color": 1,
                        "condition": "active",
                        "sort_order": o,
                    }
                    for i, v, o in prop.select_values
                ]
            )
        if m := re.fullmatch(r"/boards/(\d+)(/columns|/lanes)?", rest):
            board = data.board(int(m.group(1)))
            if board is None:
                return error(404, "Not found")
            if m.group(2) == "/columns":
                return JSONResponse([column_json(c, board, None, data.nested_subcolumns) for c in board.columns])
            if m.group(2) == "/lanes":
                return JSONResponse([lane_json(lane, board) for lane in board.lanes])
            return JSONResponse(
                {
                    "id": board.id,
                    "title": board.title,
                    "description": board.description,
                    "created": STAMP,
                    "updated": STAMP,
                    "columns": [column_json(c, board, None, False) for c in board.columns],
                    "lanes": [lane_json(lane, board) for lane in board.lanes],
                    "cards": [card_summary(board, c, uids) for c in board.cards if not c.archived],
                }
            )
        if m := re.fullmatch(r"/columns/(\d+)/subcolumns", rest):
            for board in (b for s in data.spaces for b in s.boards):
                for column in board.columns:
                    if column.id == int(m.group(1)):
                        return JSONResponse([column_json(s, board, column.id, False) for s in column.subcolumns])
            return error(404, "Not found")
        if rest == "/cards":
            params = request.query_params
            board = data.board(int(params.get("board_id", "0")))
            if board is None:
                return JSONResponse([])
            condition = params.get("condition")
            cards = [c for c in board.cards if condition is None or (2 if c.archived else 1) == int(condition)]
            limit = min(100, int(params.get("limit", "100")))
            offset = int(params.get("offset", "0"))
            return JSONResponse([card_summary(board, c, uids) for c in cards[offset : offset + limit]])
        if m := re.fullmatch(r"/cards/(\d+)(/comments|/blockers)?", rest):
            found = data.card(int(m.group(1)))
            if found is None:
                return error(404, "Not found")
            board, card = found
            if m.group(2) == "/comments":
                return JSONResponse(
                    [
                        {
                            "id": c.id,
                            "uid": f"comment-{c.id}",
                            "text": c.text,
                            "type": 1,
                            "edited": False,
                            "card_id": card.id,
                            "author_id": c.author_id,
                            "deleted": c.deleted,
                            "internal": False,
                            "created": _iso(c.created),
                            "updated": _iso(c.created),
                            "author": {
                                "id": c.author_id,
                                "full_name": data.users[c.author_id].full_name,
                                "email": data.users[c.author_id].email,
                            },
                        }
                        for c in card.comments
                    ]
                )
            if m.group(2) == "/blockers":
                return JSONResponse(
                    [
                        {
                            "id": b.id,
                            "reason": b.reason,
                            "card_id": card.id,
                            "blocker_id": 1,
                            "released": b.released,
                            "blocker_card_id": b.blocker_card_id,
                            "blocker_card_title": b.blocker_card_title,
                            "due_date": None,
                            "created": STAMP,
                            "updated": STAMP,
                        }
                        for b in card.blockers
                    ]
                )
            return JSONResponse(card_full(request, board, card, uids))
        return error(404, "Not found")

    def file_response(f: KFile) -> Response:
        mime = f.mime or "application/octet-stream"
        if f.length_header:
            return Response(f.content, media_type=mime)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(f.content), 65536):
                yield f.content[start : start + 65536]

        return StreamingResponse(chunks(), media_type=mime)

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])


FILE_UUID = "3f2a9c1e-7b4d-4e8a-9c61-2d5e8f0a1b7c"


def sample_kaiten(token: str = "kaiten-token-1") -> KaitenData:
    """Two spaces, three boards, every feature the importer carries and the things it must report."""
    users = {
        1: KUser(1, "uid-ana", "Ana Lima", "ana@example.test"),  # email set by the test (a workspace member)
        2: KUser(2, "uid-bob", "Bob Stone", "bob@elsewhere.test"),  # not a member
        3: KUser(3, "uid-cy", "Cy Field", "cy@elsewhere.test"),  # only named by a property
    }
    tags = {300: KTag(300, "bug", 1), 301: KTag(301, "ux", 6), 302: KTag(302, "odd", 99)}
    properties = {
        10: KProperty(10, "Customer", "string"),
        11: KProperty(11, "Estimate", "number"),
        12: KProperty(12, "Deadline", "date"),
        13: KProperty(13, "Approved", "checkbox"),
        14: KProperty(14, "Priority", "select", select_values=[(141, "High", 2), (140, "Low", 1)]),
        15: KProperty(
            15, "Platforms", "select", multi_select=True, select_values=[(150, "iOS", 1), (151, "Android", 2)]
        ),
        16: KProperty(16, "Reviewer", "user"),
        17: KProperty(17, "Score", "collective_score"),
    }
    many = [KComment(2000 + i, 1 if i % 2 else 2, f"comment number {i}", 1_700_000_000 + i) for i in range(57)]
    diagram = bytes(range(256)) * 40
    roadmap = KBoard(
        70,
        "Roadmap ✓",
        description="The **product** roadmap",
        columns=[
            KColumn(100, "To do", 1),
            KColumn(101, "Doing", 2, 2, [KColumn(102, "Review", 2, 2), KColumn(103, "Build", 1, 2)]),
            KColumn(104, "Done", 3, 3),
        ],
        lanes=[KLane(201, "Normal", 2), KLane(200, "Expedite", 1), KLane(202, "Gone", 3, condition=3)],
        cards=[
            KCard(
                1000,
                "Write the spec",
                100,
                201,
                2,
                description="Intro **bold**\n\nMore text",
                due_date="2026-12-24T19:29:30+01:00",
                type_id=2,
                size=3,
                tags=[300, 301, 302],
                members=[(1, 2), (2, 1)],
                checklists=[
                    KChecklist(
                        500,
                        "Steps",
                        [
                            KItem(600, "draft", False, 2),
                            KItem(601, "outline", True, 1),
                            KItem(602, "dropped", False, 3, deleted=True),
                        ],
                    ),
                    KChecklist(501, "Old list", [], deleted=True),
                ],
                comments=[
                    KComment(901, 2, "Looks good", 1_700_000_100),
                    KComment(902, 1, "Thanks!\nSecond line", 1_700_000_200),
                    KComment(903, 1, "removed", 1_700_000_300, deleted=True),
                ],
                files=[
                    KFile(5001, "notes.txt", b"hello from kaiten\n" * 30, "text/plain"),
                    KFile(FILE_UUID, "diagram.png", diagram, None, sort_order=2, redirect=""),  # to storage
                    KFile(5003, "Plan.docx", type=2, external_url="https://drive.example.test/plan", sort_order=3),
                    KFile(5004, "old.txt", b"gone", deleted=True),
                ],
                properties={
                    10: "ACME",
                    11: 2.5,
                    12: {"date": "2026-03-01", "time": None},
                    13: True,
                    14: [141],
                    15: [150, 151],
                    16: 3,
                    17: {"score": 4},
                },
                asap=True,
                links=[("https://example.test/spec", "the spec")],
                children=[1003],
            ),
            KCard(
                1001,
                "Busy card",
                100,
                200,
                5,
                size_text="XL",
                comments=many,
                blockers=[
                    KBlocker(1, "waiting for legal"),
                    KBlocker(2, "old reason", released=True),
                    KBlocker(3, "", blocker_card_id="1003", blocker_card_title="Build it"),
                ],
                properties={16: [1, 2]},
            ),
            KCard(1002, "In review", 102, 201, 1, members=[(1, 1)]),
            KCard(1003, "Build it", 103, 201, 1, properties={14: [140]}),
            KCard(1004, "Shipped", 104, 201, 1, state=3, due_date="2026-01-02"),
            KCard(
                1005,
                "Old thing",
                104,
                201,
                2,
                archived=True,
                state=3,
                tags=[300],
                files=[KFile(5005, "big.bin", bytes(range(256)) * 700, length_header=False)],
            ),
        ],
    )
    side = KBoard(
        71,
        "Side project",
        columns=[KColumn(110, "Ideas", 1)],
        lanes=[KLane(210, "Default", 1)],
        cards=[KCard(1100, "Idea", 110, 210, 1)],
    )
    ops = KBoard(80, "Ops", columns=[KColumn(120, "Queue", 1)], lanes=[KLane(220, "Default", 1)])
    spaces = [KSpace(7, "Product", [roadmap, side]), KSpace(8, "Operations", [ops, roadmap])]
    return KaitenData(token, users, spaces, tags, {1: "Card", 2: "Bug"}, properties)


def add_big_board(data: KaitenData, cards: int, board_id: int = 90) -> KBoard:
    """A board with `cards` plain cards (several pages of the card list) in a space of its own."""
    board = KBoard(
        board_id,
        f"Big board {board_id}",
        columns=[KColumn(board_id * 10, "All", 1)],
        lanes=[KLane(board_id * 10, "Default", 1)],
    )
    board.cards = [KCard(board_id * 100_000 + i, f"Card {i}", board_id * 10, board_id * 10, i) for i in range(cards)]
    data.spaces.append(KSpace(board_id, f"Space {board_id}", [board]))
    return board
