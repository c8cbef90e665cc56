"""Reading Nextcloud Deck: its REST API (boards, stacks, cards, labels, attachments) and its
OCS API (comments, user emails), with GET requests only.

From the address a user types in a browser (`https://cloud.example.org`) it derives
the REST root `/index.php/apps/deck/api/v1.0` and the OCS root
`/ocs/v2.php/apps/deck/api/v1.0`, and sends what Deck requires: HTTP basic auth
with the user and an app password, and `OCS-APIRequest: true`.  Deck's quirks,
from the "Nextcloud Deck REST API" page and the OCS comments API: integer ids;
`labels`, `assignedUsers`, `attachments` and a stack's `cards` may be null;
archived cards are served only by the archived-stacks route; comments come in an
OCS envelope (`{"ocs": {"meta": …, "data": […]}}`), newest first, a page at a time
with `limit`/`offset`; due dates are ISO 8601 (older servers: epoch seconds).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final
from urllib.parse import quote, urlsplit

import httpx

from .._errors import ForbiddenError, NotFoundError, UsageError
from ._model import (
    BoardRef,
    SourceAttachment,
    SourceBoard,
    SourceCard,
    SourceChecklist,
    SourceChecklistItem,
    SourceColumn,
    SourceComment,
    SourceLabel,
    SourceUser,
)
from ._source_http import BasicAuth, Record, SourceHttp, records

__all__ = ["DECK_API", "DECK_OCS", "DeckSource", "deck_base_url", "split_tasks"]

DECK_API: Final = "/index.php/apps/deck/api/v1.0"
DECK_OCS: Final = "/ocs/v2.php/apps/deck/api/v1.0"
_USERS_OCS: Final = "/ocs/v2.php/cloud/users"
#: Comments asked per page (Deck's OCS route pages with limit/offset).
COMMENTS_PAGE: Final = 50
_TASK = re.compile(r"^\s*[-*+] \[([ xX])\] (.*?)\s*$")
_HEX = re.compile(r"[0-9a-fA-F]{6}")
_NAME = "Nextcloud Deck"


def deck_base_url(url: str) -> str:
    """The Nextcloud root from what a user types ("https://cloud.example.org/", or a Deck page's URL)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("--source-url must be an http(s) address like https://cloud.example.org")
    if parts.username is not None or parts.password is not None:
        raise UsageError("--source-url must not hold a user or password: use --source-user and MSK_SOURCE_TOKEN")
    path = parts.path
    for marker in ("/index.php", "/apps/deck", "/ocs/"):
        if marker in path:
            path = path[: path.index(marker)]
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"


def split_tasks(description: str, card_key: str) -> tuple[str, tuple[SourceChecklist, ...]]:
    """Deck's task lines (`- [ ] …`, `- [x] …`) become one checklist "Tasks"; they leave the description.

    The checklist is then the one place to tick them off in MSKanban (a line kept in the
    description as well would soon disagree with it)."""
    kept: list[str] = []
    items: list[SourceChecklistItem] = []
    for line in description.split("\n"):
        match = _TASK.match(line)
        if match is None:
            if not line.strip() and kept and not kept[-1].strip() and items:
                continue  # the blank lines around a removed task block collapse into one
            kept.append(line)
        else:
            key = f"{card_key}:tasks:{len(items)}"
            items.append(SourceChecklistItem(key, match.group(2), match.group(1) != " "))
    if not items:
        return description, ()
    return "\n".join(kept).strip("\n"), (SourceChecklist(f"{card_key}:tasks", "Tasks", tuple(items)),)


def _instant(record: Record, name: str) -> str | None:
    """A Deck time (ISO 8601, or epoch seconds on old servers) as an ISO 8601 instant in UTC."""
    value = record.data.get(name)
    if value is None or value == "":
        return None
    try:
        if type(value) is int:
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        else:
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise record.fail(name, "is not a date") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeckSource:
    """A Nextcloud Deck account, read-only; `transport` and `sleep` let tests stand in for the network."""

    name = _NAME

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = deck_base_url(url)
        self.user = user
        self._http = SourceHttp(
            _NAME,
            auth=BasicAuth(user, password),
            headers={"OCS-APIRequest": "true", "Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
        )
        self._emails: dict[str, str | None] = {}

    @property
    def requests(self) -> int:
        return self._http.requests

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DeckSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, route: str, params: dict[str, str] | None = None) -> Any:
        return self._http.get_json(self.url + DECK_API + route, route, params)

    @staticmethod
    def _where(route: str) -> str:
        return f"{_NAME} GET {route}"

    def _ocs(self, route: str, params: dict[str, str] | None = None) -> Any:
        """The `data` of an OCS answer (`{"ocs": {"meta": …, "data": …}}`)."""
        envelope = Record(self._http.get_json(self.url + route, route, params), self._where(route), "OCS answer")
        return envelope.child("ocs", "ocs").data.get("data")

    # --- boards -------------------------------------------------------------------------------
    def boards(self, selectors: Sequence[str] = ()) -> list[BoardRef]:
        listed = [
            BoardRef(str(r.integer("id")), r.text("title"))
            for r in records(self._get("/boards"), self._where("/boards"), "board")
            if not r.data.get("deletedAt")
        ]
        chosen: list[BoardRef] = []
        for selector in selectors:
            by_id = [b for b in listed if b.key == selector.strip()]
            by_title = [b for b in listed if b.title == selector]
            if not by_id and len(by_title) > 1:
                ids = ", ".join(b.key for b in by_title)
                raise UsageError(f"{_NAME} has several boards titled {selector!r} (ids {ids}): give the id")
            found = by_id or by_title
            if not found:
                raise UsageError(
                    f"{_NAME} board {selector!r}: no board with this id or title is visible to {self.user}"
                )
            if found[0] not in chosen:
                chosen.append(found[0])
        return chosen if selectors else listed

    def read_board(self, ref: BoardRef) -> SourceBoard:
        route = f"/boards/{ref.key}"
        board = Record(self._get(route), self._where(route), f"board {ref.key}")
        board_id = board.integer("id")
        labels = tuple(self._label(r) for r in board.records("labels", "label"))
        notes = ["card creators and the times cards were created or changed (MSKanban stamps the import)"]
        color = board.opt_text("color")
        if color:
            notes.append(f"the board colour #{color.lower()}")
        shared = len(board.records("acl", "acl rule"))
        if shared:
            notes.append(f"sharing with {shared} users, groups or circles (invite workspace members instead)")
        stacks = self._stacks(f"/boards/{board_id}/stacks")
        archived = self._stacks(f"/boards/{board_id}/stacks/archived")
        active_ids = {s.integer("id") for s in stacks}
        columns = []
        for stack in stacks + [s for s in archived if s.integer("id") not in active_ids]:
            stack_id = stack.integer("id")
            cards = [(c, False) for c in _ordered(stack.records("cards", "card"))]
            for twin in (s for s in archived if s.integer("id") == stack_id):
                cards += [(c, True) for c in _ordered(twin.records("cards", "card"))]
            columns.append(
                SourceColumn(
                    str(stack_id),
                    stack.text("title"),
                    tuple(self._card(board_id, stack_id, c, archived_stack) for c, archived_stack in cards),
                )
            )
        return SourceBoard(
            str(board_id),
            board.text("title"),
            board.flag("archived"),
            labels=labels,
            columns=tuple(columns),
            notes=tuple(notes),
        )

    def _stacks(self, route: str) -> list[Record]:
        return _ordered([r.named("stack") for r in records(self._get(route), self._where(route), "stack")])

    @staticmethod
    def _label(record: Record) -> SourceLabel:
        color = record.opt_text("color") or "8b949e"
        if _HEX.fullmatch(color) is None:
            raise record.fail("color", "is not a hex colour")
        return SourceLabel(str(record.integer("id")), record.text("title"), f"#{color.lower()}")

    # --- cards --------------------------------------------------------------------------------
    def _card(self, board_id: int, stack_id: int, card: Record, archived_stack: bool) -> SourceCard:
        card_id = card.integer("id")
        card.named("card")
        description, checklists = split_tasks(card.opt_text("description") or "", str(card_id))
        notes: list[str] = []
        assignees = []
        for assigned in card.records("assignedUsers", "assigned user"):
            participant = assigned.child("participant", "participant")
            uid, display = participant.text("uid"), participant.opt_text("displayname") or participant.text("uid")
            if assigned.data.get("type", participant.data.get("type", 0)) not in (0, None):
                notes.append(f"assigned group or circle {display!r} (only users can be assignees)")
                continue
            assignees.append(SourceUser(uid, display, self._email(uid)))
        attachments = []
        count = card.data.get("attachmentCount")
        if count is None or (type(count) is int and count > 0):
            for attachment in self._attachments(board_id, stack_id, card_id):
                if isinstance(attachment, str):
                    notes.append(attachment)
                else:
                    attachments.append(attachment)
        return SourceCard(
            key=str(card_id),
            title=card.text("title"),
            description=description,
            due_at=_instant(card, "duedate"),
            archived=archived_stack or card.flag("archived"),
            label_keys=tuple(str(r.integer("id")) for r in card.records("labels", "label")),
            assignees=tuple(assignees),
            comments=tuple(self._comments(card_id)),
            checklists=checklists,
            attachments=tuple(attachments),
            notes=tuple(notes),
        )

    def _comments(self, card_id: int) -> list[SourceComment]:
        route = f"{DECK_OCS}/cards/{card_id}/comments"
        found: list[SourceComment] = []
        offset = 0
        while True:
            data = self._ocs(route, {"limit": str(COMMENTS_PAGE), "offset": str(offset)})
            page = records(data, self._where(route), f"card {card_id}: comment", "ocs.data")
            for comment in page:
                comment_id = comment.integer("id")
                comment.what = f"card {card_id}: comment {comment_id}"
                when = _instant(comment, "creationDateTime")
                if when is None:
                    raise comment.fail("creationDateTime", "is missing")
                author = comment.opt_text("actorDisplayName") or comment.text("actorId")
                found.append(SourceComment(str(comment_id), author, when, comment.text("message")))
            if len(page) < COMMENTS_PAGE:
                break
            offset += len(page)
        return sorted(found, key=lambda c: (c.created_at, int(c.key)))

    def _attachments(self, board_id: int, stack_id: int, card_id: int) -> Iterator[SourceAttachment | str]:
        base = f"/boards/{board_id}/stacks/{stack_id}/cards/{card_id}/attachments"
        for item in records(self._get(base), self._where(base), "attachment"):
            attachment_id = item.integer("id")
            item.what = f"card {card_id}: attachment {attachment_id}"
            if item.data.get("deletedAt"):
                continue
            extended = item.child("extendedData", "extendedData")
            info = extended.data.get("info")
            name = info.get("basename") if isinstance(info, dict) else None
            name = name if isinstance(name, str) and name else item.text("data")
            kind = item.text("type")
            if kind != "deck_file":
                notes = f"attachment {name!r} of type {kind!r} (only files stored in Deck can be carried)"
                yield notes
                continue
            size = extended.data.get("filesize")
            if type(size) is not int or size < 0:
                raise extended.fail("filesize", "is not a size in bytes")
            mime = extended.opt_text("mimetype") or "application/octet-stream"
            yield SourceAttachment(str(attachment_id), name, mime, size, self._opener(f"{base}/{attachment_id}"))

    def _opener(self, route: str) -> Callable[[], AbstractContextManager[tuple[BinaryIO, int]]]:
        def open_content() -> AbstractContextManager[tuple[BinaryIO, int]]:
            return self._http.download(self.url + DECK_API + route, route)

        return open_content

    def _email(self, uid: str) -> str | None:
        """A Nextcloud user's email from the provisioning API (None when not shown to this user)."""
        if uid not in self._emails:
            route = f"{_USERS_OCS}/{quote(uid, safe='')}"
            try:
                data = Record(self._ocs(route), self._where(route), "user")
                email = data.opt_text("email")
            except (ForbiddenError, NotFoundError):
                email = None
            if email is None and "@" in uid:
                email = uid  # accounts named by their address
            self._emails[uid] = email or None
        return self._emails[uid]


def _ordered(rows: list[Record]) -> list[Record]:
    """Deck's order: `order`, then id (both integers)."""

    def key(row: Record) -> tuple[int, int]:
        order = row.data.get("order")
        return (order if type(order) is int else 0, row.integer("id"))

    return sorted(rows, key=key)
