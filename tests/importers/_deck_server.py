"""A fixture Nextcloud Deck server built from the "Nextcloud Deck REST API" page and the OCS
comments API, with Deck's real shapes and quirks: integer ids, `labels`/`assignedUsers`/
`attachments` and a stack's `cards` null when empty, archived cards only on the archived-stacks
route, comments in an OCS envelope, newest first, paged with limit/offset, basic auth with an
app password and the `OCS-APIRequest: true` header required.

`faults` injects what real servers do on a bad day: a status (5xx, 429 with Retry-After), a
stall longer than the client's timeout, or a malformed body, for the next N requests whose
path matches.  Every request is recorded, so tests can prove the importer only ever reads.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

API = "/index.php/apps/deck/api/v1.0"
OCS = "/ocs/v2.php/apps/deck/api/v1.0"


@dataclass
class DeckUser:
    uid: str
    display: str
    email: str | None
    #: False: the provisioning API answers 403 for this user (email not shown to others).
    visible: bool = True


@dataclass
class DeckComment:
    id: int
    actor: str
    message: str
    created: int  # epoch seconds


@dataclass
class DeckAttachment:
    id: int
    name: str
    content: bytes
    mime: str = "application/octet-stream"
    type: str = "deck_file"
    deleted: bool = False
    #: False: stream the body without Content-Length (chunked).
    length_header: bool = True


@dataclass
class DeckCard:
    id: int
    title: str
    order: int
    description: str | None = None
    duedate: str | None = None
    archived: bool = False
    labels: list[int] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)
    group_assigned: list[str] = field(default_factory=list)
    comments: list[DeckComment] = field(default_factory=list)
    attachments: list[DeckAttachment] = field(default_factory=list)


@dataclass
class DeckStack:
    id: int
    title: str
    order: int
    cards: list[DeckCard] = field(default_factory=list)


@dataclass
class DeckLabel:
    id: int
    title: str
    color: str


@dataclass
class DeckBoard:
    id: int
    title: str
    color: str = "0082c9"
    archived: bool = False
    deleted: bool = False
    labels: list[DeckLabel] = field(default_factory=list)
    stacks: list[DeckStack] = field(default_factory=list)
    acl: int = 0
    #: uids that may see the board (the fixture's account sees every board unless listed here).
    hidden_from: list[str] = field(default_factory=list)

    def card(self, card_id: int) -> tuple[DeckStack, DeckCard] | None:
        for stack in self.stacks:
            for card in stack.cards:
                if card.id == card_id:
                    return stack, card
        return None


@dataclass
class Fault:
    pattern: str
    times: int
    status: int = 503
    retry_after: str | None = None
    stall: float = 0.0
    body: bytes | None = None


@dataclass
class DeckData:
    user: str
    password: str
    users: dict[str, DeckUser]
    boards: list[DeckBoard]
    requests: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def fail(self, pattern: str, times: int = 1, **kwargs: Any) -> None:
        self.faults.append(Fault(pattern, times, **kwargs))

    def board(self, board_id: int) -> DeckBoard | None:
        return next((b for b in self.boards if b.id == board_id and not b.deleted), None)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _label_json(label: DeckLabel, board_id: int, card_id: int | None = None) -> dict[str, Any]:
    return {"title": label.title, "color": label.color, "boardId": board_id, "cardId": card_id, "id": label.id}


def _participant(user: DeckUser, kind: int = 0) -> dict[str, Any]:
    return {"primaryKey": user.uid, "uid": user.uid, "displayname": user.display, "type": kind}


def create_app(data: DeckData) -> Starlette:
    def ocs(payload: Any, status: int = 200) -> JSONResponse:
        meta = {"status": "ok" if status < 300 else "failure", "statuscode": status, "message": "OK"}
        return JSONResponse({"ocs": {"meta": meta, "data": payload}}, status_code=status)

    def deck_error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"status": status, "message": message}, status_code=status)

    def card_json(board: DeckBoard, stack: DeckStack, card: DeckCard, counted: bool) -> dict[str, Any]:
        """A card as a stacks route lists it.  `counted`: with its attachment count, as the
        active stacks give it (Nextcloud Deck, lib/Service/StackService.php: findAll enriches
        every card with the count, findAllArchived does not, so an archived card says null)."""
        labels = [_label_json(lab, board.id, card.id) for lab in board.labels if lab.id in card.labels]
        assigned = [
            {"id": 100 + i, "participant": _participant(data.users[uid]), "cardId": card.id, "type": 0}
            for i, uid in enumerate(card.assigned)
        ] + [
            {
                "id": 200 + i,
                "participant": {"primaryKey": g, "uid": g, "displayname": g, "type": 1},
                "cardId": card.id,
                "type": 1,
            }
            for i, g in enumerate(card.group_assigned)
        ]
        live = [a for a in card.attachments if not a.deleted]
        return {
            "title": card.title,
            "description": card.description,
            "stackId": stack.id,
            "type": "plain",
            "lastModified": 1541528026,
            "createdAt": 1541528026,
            "labels": labels or None,  # Deck sends null, not [], for a card without labels
            "assignedUsers": assigned or None,
            "attachments": None,
            "attachmentCount": len(live) if counted else None,
            "owner": data.user,
            "order": card.order,
            "archived": card.archived,
            "duedate": card.duedate,
            "deletedAt": 0,
            "commentsUnread": 0,
            "id": card.id,
            "overdue": 0,
        }

    def stacks_json(board: DeckBoard, archived: bool) -> list[dict[str, Any]]:
        out = []
        for stack in board.stacks:
            cards = [card_json(board, stack, c, not archived) for c in stack.cards if c.archived == archived]
            if archived and not cards:
                continue
            out.append(
                {
                    "title": stack.title,
                    "boardId": board.id,
                    "deletedAt": 0,
                    "lastModified": 1541426139,
                    "cards": cards or None,
                    "order": stack.order,
                    "id": stack.id,
                }
            )
        return out

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        data.requests.append((request.method, path))
        for fault in data.faults:
            if fault.times > 0 and re.search(fault.pattern, path):
                fault.times -= 1
                if fault.stall:
                    await asyncio.sleep(fault.stall)
                if fault.body is not None:
                    return Response(fault.body, media_type="application/json")
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return (
                    deck_error(fault.status, "injected")
                    if not headers
                    else JSONResponse(
                        {"status": fault.status, "message": "slow down"}, status_code=fault.status, headers=headers
                    )
                )
        if request.method != "GET":
            return deck_error(405, "the fixture serves reads only")
        if request.headers.get("ocs-apirequest") != "true":
            return deck_error(412, "CSRF check failed")
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{data.user}:{data.password}".encode()).decode()
        if auth != expected:
            return deck_error(401, "Unauthorized")
        return route(request, path)

    def route(request: Request, path: str) -> Response:
        if m := re.fullmatch(r"/ocs/v2\.php/cloud/users/([^/]+)", path):
            user = data.users.get(m.group(1))
            if user is None or (not user.visible and user.uid != data.user):
                return ocs([], 403) if user else ocs([], 404)
            return ocs({"id": user.uid, "displayname": user.display, "email": user.email})
        if m := re.fullmatch(OCS.replace(".", r"\.") + r"/cards/(\d+)/comments", path):
            card = next((c for b in data.boards for s in b.stacks for c in s.cards if c.id == int(m.group(1))), None)
            if card is None:
                return ocs([], 404)
            limit = int(request.query_params.get("limit", "20"))
            offset = int(request.query_params.get("offset", "0"))
            newest_first = sorted(card.comments, key=lambda c: (-c.created, -c.id))
            page = [
                {
                    "id": c.id,
                    "objectId": card.id,
                    "message": c.message,
                    "actorId": c.actor,
                    "actorType": "users",
                    "actorDisplayName": data.users[c.actor].display,
                    "creationDateTime": _iso(c.created),
                    "mentions": [],
                }
                for c in newest_first[offset : offset + limit]
            ]
            return ocs(page)
        if not path.startswith(API):
            return deck_error(404, "not found")
        rest = path[len(API) :]
        if rest == "/boards":
            return JSONResponse([board_json(b) for b in data.boards if data.user not in b.hidden_from])
        if not (m := re.fullmatch(r"/boards/(\d+)(/.*)?", rest)):
            return deck_error(404, "not found")
        board = data.board(int(m.group(1)))
        if board is None or data.user in board.hidden_from:
            return deck_error(403, "Permission denied")
        tail = m.group(2) or ""
        if tail == "":
            return JSONResponse(board_json(board, details=True))
        if tail == "/stacks":
            return JSONResponse(stacks_json(board, False))
        if tail == "/stacks/archived":
            return JSONResponse(stacks_json(board, True))
        if m := re.fullmatch(r"/stacks/(\d+)/cards/(\d+)/attachments(?:/(\d+))?", tail):
            found = board.card(int(m.group(2)))
            if found is None or found[0].id != int(m.group(1)):
                return deck_error(404, "not found")
            card = found[1]
            if m.group(3) is None:
                return JSONResponse([attachment_json(card, a) for a in card.attachments])
            attachment = next((a for a in card.attachments if a.id == int(m.group(3))), None)
            if attachment is None:
                return deck_error(404, "not found")
            return file_response(attachment)
        return deck_error(404, "not found")

    def board_json(board: DeckBoard, details: bool = False) -> dict[str, Any]:
        owner = _participant(data.users[data.user])
        return {
            "title": board.title,
            "owner": owner,
            "color": board.color,
            "archived": board.archived,
            "labels": [_label_json(lab, board.id) for lab in board.labels] if details else [],
            "acl": [{"participant": owner, "type": 0, "boardId": board.id, "id": i} for i in range(board.acl)],
            "permissions": {
                "PERMISSION_READ": True,
                "PERMISSION_EDIT": True,
                "PERMISSION_MANAGE": True,
                "PERMISSION_SHARE": True,
            },
            "users": [owner] if details else [],
            "shared": 0,
            "deletedAt": 1541500000 if board.deleted else 0,
            "id": board.id,
        }

    def attachment_json(card: DeckCard, attachment: DeckAttachment) -> dict[str, Any]:
        stem, _, extension = attachment.name.rpartition(".")
        return {
            "cardId": card.id,
            "type": attachment.type,
            "data": attachment.name,
            "lastModified": 1541529048,
            "createdAt": 1541529048,
            "createdBy": data.user,
            "deletedAt": 1541529999 if attachment.deleted else 0,
            "extendedData": {
                "filesize": len(attachment.content),
                "mimetype": attachment.mime,
                "info": {"dirname": ".", "basename": attachment.name, "extension": extension, "filename": stem},
            },
            "id": attachment.id,
        }

    def file_response(attachment: DeckAttachment) -> Response:
        if attachment.length_header:
            return Response(attachment.content, media_type=attachment.mime)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(attachment.content), 65536):
                yield attachment.content[start : start + 65536]

        return StreamingResponse(chunks(), media_type=attachment.mime)

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "DELETE"])])


def sample_deck(user: str = "ana", password: str = "app-password-1") -> DeckData:
    """Two boards with every feature the importer carries, and the things it must report."""
    users = {
        "ana": DeckUser("ana", "Ana Lima", None),  # email filled in by the test (a workspace member)
        "bob": DeckUser("bob", "Bob Stone", "bob@elsewhere.test"),  # not a member
        "cy": DeckUser("cy", "Cy Hidden", "cy@example.test", visible=False),  # email not shown
    }
    labels = [
        DeckLabel(37, "Finished", "31CC7C"),
        DeckLabel(38, "To review", "317CCC"),
        DeckLabel(39, "Later", "F1DB50"),
    ]
    many = [
        DeckComment(1000 + i, "ana" if i % 2 else "bob", f"comment number {i}", 1_700_000_000 + i) for i in range(57)
    ]
    roadmap = DeckBoard(
        10,
        "Roadmap ✓",
        color="ff0000",
        labels=labels,
        acl=2,
        stacks=[
            DeckStack(
                4,
                "To do",
                1,
                [
                    DeckCard(
                        11,
                        "Write the spec",
                        2,
                        description="Intro **bold**\n\n- [ ] draft\n- [x] outline\n\nMore text",
                        duedate="2026-12-24T19:29:30+01:00",
                        labels=[37, 38],
                        assigned=["ana", "bob"],
                        comments=[
                            DeckComment(501, "bob", "Looks good", 1_700_000_100),
                            DeckComment(502, "ana", "Thanks!\nSecond line", 1_700_000_200),
                        ],
                        attachments=[
                            DeckAttachment(6, "notes.eml", b"From: a@b\r\n\r\nhello\r\n" * 50, "message/rfc822"),
                            DeckAttachment(7, "gone.txt", b"deleted", deleted=True),
                            DeckAttachment(8, "shared.pdf", b"%PDF", "application/pdf", type="file"),
                        ],
                    ),
                    DeckCard(
                        12, "Busy card", 1, description=None, assigned=["cy"], group_assigned=["admins"], comments=many
                    ),
                ],
            ),
            DeckStack(5, "Doing", 2, []),  # empty: Deck sends "cards": null
            DeckStack(
                6,
                "Done",
                3,
                [
                    DeckCard(13, "Shipped", 1, description="Done.", labels=[39], duedate="2026-01-02T03:04:05+00:00"),
                    DeckCard(
                        14,
                        "Old thing",
                        2,
                        archived=True,
                        labels=[37],
                        attachments=[DeckAttachment(9, "big.bin", bytes(range(256)) * 700, length_header=False)],
                    ),
                ],
            ),
        ],
    )
    side = DeckBoard(20, "Side project", color="00ff00", stacks=[DeckStack(21, "Ideas", 0, [DeckCard(22, "Idea", 0)])])
    deleted = DeckBoard(30, "Deleted board", deleted=True)
    return DeckData(user, password, users, [roadmap, side, deleted])
