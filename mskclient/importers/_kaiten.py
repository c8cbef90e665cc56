"""Reading Kaiten: spaces, boards, columns and subcolumns, lanes, cards (paged), comments,
blockers and custom properties, with GET requests only and a bearer token.

From the "Kaiten API" page: the API lives at `https://COMPANY.kaiten.ru/api/latest`, ids are
integers (a file's id may also be a UUID string, a blocking card's id is a string), the
card list is paged with `limit`/`offset` (at most 100 a page), checklists and their items,
tags, members and files come only with `GET /cards/{id}`, subcolumns hang below their
parent column, and the limit is 5 requests per second (429 beyond, with
`X-RateLimit-Remaining` and `X-RateLimit-Reset`).  User values of custom properties are
user uids (strings) under the old `broken_api` format and user ids (integers) under the
new one: the reader asks for the new one and understands both.
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final
from urllib.parse import urljoin, urlsplit

import httpx

from .._errors import UsageError
from ._model import (
    BoardRef,
    SourceAttachment,
    SourceBoard,
    SourceCard,
    SourceChecklist,
    SourceChecklistItem,
    SourceColumn,
    SourceComment,
    SourceField,
    SourceLabel,
    SourceUser,
)
from ._source_http import Record, SourceAuth, SourceHttp, SourcePace, records

__all__ = ["KAITEN_API", "KAITEN_RATE", "TAG_COLORS", "KaitenSource", "kaiten_base_url", "tag_color"]

KAITEN_API: Final = "/api/latest"
#: Kaiten allows 5 requests per second (the reader counts each when its answer arrives).
KAITEN_RATE: Final = (5, 1.0)
#: Cards asked per page of `GET /cards` (Kaiten's maximum).
CARDS_PAGE: Final = 100
#: Kaiten's API gives tags a colour *number* and the "Kaiten API" page has no palette: the
#: importer's choice, close to the colours Kaiten's tag picker shows, in its order.  A number
#: outside the table gets the neutral grey.
TAG_COLORS: Final = (
    "#8b949e",  # 0: none
    "#e5484d",  # 1: red
    "#f76b15",  # 2: orange
    "#ffc53d",  # 3: yellow
    "#46a758",  # 4: green
    "#12a594",  # 5: teal
    "#0090ff",  # 6: blue
    "#3e63dd",  # 7: indigo
    "#8e4ec6",  # 8: purple
    "#d6409f",  # 9: pink
    "#a18072",  # 10: brown
    "#6f6e77",  # 11: dark grey
    "#99d52a",  # 12: lime
    "#00a2c7",  # 13: cyan
    "#e54666",  # 14: crimson
    "#ab4aba",  # 15: plum
    "#978365",  # 16: gold
)
#: The label blocked cards get (the reasons go into the "Block reason" field).
BLOCKED_COLOR: Final = "#e5484d"
_NAME = "Kaiten"
#: File types carried as attachments: 1 attachment, 7 a comment's email, 8 a comment's attachment.
_STORED_FILES: Final = frozenset({1, 7, 8})
_EXTERNAL_FILES: Final = {2: "Google Drive", 3: "Dropbox", 4: "Box", 5: "OneDrive", 6: "Yandex Disk"}
_TEXT_PROPERTIES: Final = frozenset({"string", "url", "email", "phone"})


def tag_color(number: object) -> str:
    """A Kaiten colour number as "#rrggbb" through `TAG_COLORS`."""
    if type(number) is int and 0 <= number < len(TAG_COLORS):
        return TAG_COLORS[number]
    return TAG_COLORS[0]


def kaiten_base_url(url: str) -> str:
    """The company's Kaiten address from what a user types (any page's URL works: Kaiten lives at the root)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("--source-url must be an http(s) address like https://company.kaiten.ru")
    if parts.username is not None or parts.password is not None:
        raise UsageError("--source-url must not hold a user or password: the token goes in MSK_SOURCE_TOKEN")
    return f"{parts.scheme}://{parts.netloc}"


class _Bearer(SourceAuth):
    """The token, sent to the Kaiten address only (a file may be served from another host)."""

    def __init__(self, origin: str, token: str) -> None:
        self._origin = origin
        self._headers = {"Authorization": f"Bearer {token}"}

    def headers_for(self, method: str, url: str) -> Mapping[str, str]:
        parts = urlsplit(url)
        return self._headers if f"{parts.scheme}://{parts.netloc}" == self._origin else {}


def _instant(record: Record, name: str) -> str | None:
    """A Kaiten time (ISO 8601) as an ISO 8601 instant in UTC."""
    value = record.data.get(name)
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise record.fail(name, "is not a date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ident(record: Record) -> Record:
    """Name a listed object by its integer id in later errors ("card 12: checklist 5")."""
    value = record.data.get("id")
    if type(value) is int:
        record.what = f"{record.what} {value}"
    return record


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _user_text(user: SourceUser) -> str:
    return f"{user.name} <{user.email}>" if user.email else user.name


def _order(record: Record) -> tuple[float, int]:
    order = record.data.get("sort_order")
    return (
        float(order) if isinstance(order, int | float) and not isinstance(order, bool) else 0.0,
        record.integer("id"),
    )


@dataclass
class _BoardFields:
    """The typed fields one board needs, filled while its cards are read."""

    lanes: dict[int, str]
    types: dict[str, None] = field(default_factory=dict)
    sizes: list[tuple[str, bool]] = field(default_factory=list)
    done: bool = False
    responsible: bool = False
    blocked: bool = False
    properties: dict[int, SourceField] = field(default_factory=dict)
    tags: dict[str, SourceLabel] = field(default_factory=dict)


class KaitenSource:
    """A Kaiten company, read-only; `transport`, `sleep` and `rate_limit` let tests stand in for the network."""

    name = _NAME

    def __init__(
        self,
        url: str,
        token: str,
        *,
        spaces: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit: tuple[int, float] | None = KAITEN_RATE,
    ) -> None:
        self.url = kaiten_base_url(url)
        self._space_selectors = tuple(spaces)
        self._http = SourceHttp(
            _NAME,
            auth=_Bearer(self.url, token),
            headers={"Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
            pace=None if rate_limit is None else SourcePace(rate_limit),
            follow_redirects=True,  # files may be handed over to a storage host
        )
        #: board id -> the space it was listed in (its users resolve user ids)
        self._space_of: dict[str, int] = {}
        self._users_by_id: dict[int, SourceUser] = {}
        self._users_by_uid: dict[str, SourceUser] = {}
        self._spaces_read: set[int] = set()
        self._properties: dict[int, Record] | None = None
        self._select_values: dict[int, dict[int, tuple[str, float]]] = {}
        self._card_types: dict[int, str] | None = None

    @property
    def requests(self) -> int:
        return self._http.requests

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KaitenSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, route: str, params: dict[str, str] | None = None) -> Any:
        return self._http.get_json(self.url + KAITEN_API + route, route, params)

    @staticmethod
    def _where(route: str) -> str:
        return f"{_NAME} GET {route}"

    def _list(self, route: str, what: str, params: dict[str, str] | None = None) -> list[Record]:
        return records(self._get(route, params), self._where(route), what)

    # --- boards -------------------------------------------------------------------------------
    def boards(self, selectors: Sequence[str] = ()) -> list[BoardRef]:
        spaces = [_ident(s) for s in self._list("/spaces", "space")]
        for selector in self._space_selectors:
            if not any(str(s.integer("id")) == selector.strip() or s.data.get("title") == selector for s in spaces):
                raise UsageError(f"{_NAME} space {selector!r}: no space with this id or title is visible to this token")
        listed: list[BoardRef] = []
        for space in spaces:
            space_id = space.integer("id")
            if self._space_selectors and not any(
                str(space_id) == s.strip() or space.data.get("title") == s for s in self._space_selectors
            ):
                continue
            for board in space.records("boards", "board"):
                ref = BoardRef(str(_ident(board).integer("id")), board.text("title"))
                if ref.key not in self._space_of:
                    self._space_of[ref.key] = space_id
                    listed.append(ref)
        chosen: list[BoardRef] = []
        for selector in selectors:
            by_id = [b for b in listed if b.key == selector.strip()]
            by_title = [b for b in listed if b.title == selector]
            if not by_id and len(by_title) > 1:
                ids = ", ".join(b.key for b in by_title)
                raise UsageError(f"{_NAME} has several boards titled {selector!r} (ids {ids}): give the id")
            found = by_id or by_title
            if not found:
                raise UsageError(f"{_NAME} board {selector!r}: no board with this id or title is visible to this token")
            if found[0] not in chosen:
                chosen.append(found[0])
        return chosen if selectors else listed

    def read_board(self, ref: BoardRef) -> SourceBoard:
        route = f"/boards/{ref.key}"
        board = Record(self._get(route), self._where(route), f"board {ref.key}")
        board_id = board.integer("id")
        lanes = sorted((_ident(r) for r in board.records("lanes", "lane")), key=_order)
        live_lanes = [lane for lane in lanes if lane.data.get("condition", 1) != 3]
        fields = _BoardFields({lane.integer("id"): lane.text("title") for lane in live_lanes})
        columns, parents = self._columns(board_id)
        cards = self._cards(board_id)
        lane_rank = {lane.integer("id"): rank for rank, lane in enumerate(live_lanes)}
        by_column: dict[int, list[SourceCard]] = {cid: [] for cid, _ in columns}
        known = dict(columns)
        ordered = sorted(
            cards,
            key=lambda c: (c.flag("archived"), lane_rank.get(c.data.get("lane_id", -1), len(lane_rank)), *_order(c)),
        )
        for listed in ordered:
            column_id = listed.integer("column_id")
            if column_id not in known:
                known[column_id] = f"Column {column_id} (no longer on the board)"
                columns.append((column_id, known[column_id]))
                by_column[column_id] = []
            by_column[column_id].append(self._card(listed, fields))
        blocked = (SourceLabel("blocked", "Blocked", BLOCKED_COLOR),) if fields.blocked else ()
        notes = [
            "card owners and the times cards were created, moved or changed (MSKanban stamps the import)",
            "WIP limits, column types and rules, and the board's place in its space",
        ]
        return SourceBoard(
            str(board_id),
            board.text("title"),
            labels=tuple(fields.tags.values()) + blocked,
            columns=tuple(
                SourceColumn(str(cid), title, tuple(by_column[cid]))
                for cid, title in columns
                if by_column[cid] or cid not in parents
            ),
            fields=self._fields(fields),
            notes=tuple(notes),
            description=board.opt_text("description") or "",
        )

    def _columns(self, board_id: int) -> tuple[list[tuple[int, str]], set[int]]:
        """Columns in order, a column's subcolumns following it as "Parent › Sub"; and the
        parents that have subcolumns (they stay a column only when cards sit in them directly)."""
        route = f"/boards/{board_id}/columns"
        tops = sorted((_ident(c) for c in self._list(route, "column")), key=_order)
        out: list[tuple[int, str]] = []
        parents: set[int] = set()
        for column in tops:
            if column.data.get("column_id") is not None:
                continue  # a subcolumn listed flat: it comes below its parent
            title = column.text("title")
            if "subcolumns" in column.data:
                subs = column.records("subcolumns", "subcolumn")
            else:
                sub_route = f"/columns/{column.integer('id')}/subcolumns"
                subs = self._list(sub_route, "subcolumn")
            out.append((column.integer("id"), title))
            if subs:
                parents.add(column.integer("id"))
            ordered = sorted((_ident(s) for s in subs), key=_order)
            out += [(s.integer("id"), f"{title} › {s.text('title')}") for s in ordered]
        return out, parents

    def _cards(self, board_id: int) -> list[Record]:
        """Every card of the board, live then archived, a page at a time."""
        seen: dict[int, Record] = {}
        for condition in ("1", "2"):
            offset = 0
            while True:
                params = {"board_id": str(board_id), "condition": condition, "limit": str(CARDS_PAGE),
                          "offset": str(offset), "broken_api": "false"}  # fmt: skip
                page = self._list("/cards", "card", params)
                for card in page:
                    seen.setdefault(_ident(card).integer("id"), card)
                if len(page) < CARDS_PAGE:
                    break
                offset += len(page)
        return list(seen.values())

    # --- cards --------------------------------------------------------------------------------
    def _card(self, listed: Record, fields: _BoardFields) -> SourceCard:
        card_id = listed.integer("id")
        route = f"/cards/{card_id}"
        card = Record(self._get(route, {"broken_api": "false"}), self._where(route), f"card {card_id}")
        notes: list[str] = []
        values: list[tuple[str, str]] = []
        assignees = []
        for member in card.records("members", "member"):
            user = self._user(_ident(member))
            assignees.append(user)
            if member.data.get("type") == 2:
                fields.responsible = True
                values.append(("responsible", _user_text(user)))
        lane = card.data.get("lane_id")
        if type(lane) is int and lane in fields.lanes and len(fields.lanes) > 1:
            values.append(("lane", fields.lanes[lane]))
        card_type = self._card_type(card)
        if card_type:
            fields.types[card_type] = None
            values.append(("type", card_type))
        size = self._size(card)
        if size is not None:
            fields.sizes.append(size)
            values.append(("size", size[0]))
        if card.data.get("state") == 3:
            fields.done = True
            values.append(("done", "true"))
        labels = []
        for tag in card.records("tags", "tag"):
            key = str(tag.data.get("tag_id") if type(tag.data.get("tag_id")) is int else tag.integer("id"))
            fields.tags.setdefault(key, SourceLabel(key, tag.text("name"), tag_color(tag.data.get("color"))))
            labels.append(key)
        if card.flag("blocked"):
            fields.blocked = True
            labels.append("blocked")
            reasons = self._block_reasons(card_id, card)
            if reasons:
                values.append(("blocked", "; ".join(reasons)))
        values += self._properties_of(card, fields, notes)
        notes += self._unmapped(card)
        attachments = list(self._files(card, notes))
        comments: list[SourceComment] = []
        total = listed.data.get("comments_total", card.data.get("comments_total"))
        if total is None or (type(total) is int and total > 0):
            comments = self._comments(card_id)
        return SourceCard(
            key=str(card_id),
            title=card.text("title"),
            description=card.opt_text("description") or "",
            due_at=_instant(card, "due_date"),
            archived=card.flag("archived") or card.data.get("condition") == 2,
            label_keys=tuple(labels),
            assignees=tuple(assignees),
            comments=tuple(comments),
            checklists=self._checklists(card),
            attachments=tuple(attachments),
            field_values=tuple(values),
            notes=tuple(notes),
        )

    def _user(self, record: Record) -> SourceUser:
        """A user object (a member, an author): remembered by id and uid for user-valued properties."""
        listed_as = record.data.get("user_id")  # a card member: its own id is the membership's
        user_id = listed_as if type(listed_as) is int else record.integer("id")
        name = record.opt_text("full_name") or record.opt_text("username") or f"user {user_id}"
        user = SourceUser(str(user_id), name, record.opt_text("email") or None)
        self._users_by_id.setdefault(user_id, user)
        uid = record.data.get("uid")
        if isinstance(uid, str) and uid:
            self._users_by_uid.setdefault(uid, user)
        return user

    def _card_type(self, card: Record) -> str | None:
        kind = card.data.get("type")
        if isinstance(kind, dict):
            return card.child("type", "type").text("name")
        type_id = card.data.get("type_id")
        if type(type_id) is not int:
            return None
        if self._card_types is None:
            self._card_types = {_ident(r).integer("id"): r.text("name")
                                for r in self._list("/card-types", "card type")}  # fmt: skip
        return self._card_types.get(type_id)

    @staticmethod
    def _size(card: Record) -> tuple[str, bool] | None:
        """The card's size as text, and whether it is a plain number (then the field is a number)."""
        text = card.opt_text("size_text")
        number = card.data.get("size")
        unit = card.opt_text("size_unit")
        if isinstance(number, int | float) and not isinstance(number, bool) and not unit:
            return _number(number), True
        if text:
            return text, False
        return None

    def _block_reasons(self, card_id: int, card: Record) -> list[str]:
        """The reasons of the card's blocks still in force (a block by another card names it)."""
        route = f"/cards/{card_id}/blockers"
        reasons = []
        for block in self._list(route, f"card {card_id}: blocker", {"broken_api": "false"}):
            _ident(block)
            if block.flag("released"):
                continue
            reason = (block.opt_text("reason") or "").strip()
            other = block.data.get("blocker_card_id")
            if other not in (None, ""):
                if not isinstance(other, str | int) or isinstance(other, bool):
                    raise block.fail("blocker_card_id", "is not a card id")
                title = block.data.get("blocker_card_title")
                by = f"card {other}" + (f" {title!r}" if isinstance(title, str) and title else "")
                reason = f"{reason} (blocked by {by})" if reason else f"blocked by {by}"
            if reason:
                reasons.append(reason)
        if not reasons and card.opt_text("block_reason"):
            reasons.append(card.text("block_reason"))
        return reasons

    def _checklists(self, card: Record) -> tuple[SourceChecklist, ...]:
        out = []
        for checklist in sorted((_ident(c) for c in card.records("checklists", "checklist")), key=_order):
            if checklist.flag("deleted"):
                continue
            items = [
                SourceChecklistItem(str(item.integer("id")), item.text("text"), item.flag("checked"))
                for item in sorted((_ident(i) for i in checklist.records("items", "item")), key=_order)
                if not item.flag("deleted")
            ]
            out.append(SourceChecklist(str(checklist.integer("id")), checklist.text("name"), tuple(items)))
        return tuple(out)

    def _comments(self, card_id: int) -> list[SourceComment]:
        route = f"/cards/{card_id}/comments"
        found = []
        for comment in self._list(route, f"card {card_id}: comment"):
            comment_id = comment.integer("id")
            comment.what = f"card {card_id}: comment {comment_id}"
            if comment.flag("deleted"):
                continue
            when = _instant(comment, "created")
            if when is None:
                raise comment.fail("created", "is missing")
            author = comment.child("author", "author") if isinstance(comment.data.get("author"), dict) else None
            name = (author.opt_text("full_name") if author else None) or f"user {comment.data.get('author_id')}"
            found.append(SourceComment(str(comment_id), name, when, comment.text("text")))
        return sorted(found, key=lambda c: (c.created_at, int(c.key)))

    def _files(self, card: Record, notes: list[str]) -> Iterable[SourceAttachment]:
        for item in sorted(card.records("files", "file"), key=_file_order):
            file_id = item.data.get("id")
            if not (type(file_id) is int or (isinstance(file_id, str) and file_id.strip())):
                raise item.fail("id", "is neither an integer nor a UUID")
            item.what = f"{card.what}: file {file_id}"
            if item.flag("deleted"):
                continue
            name = item.text("name")
            kind = item.data.get("type", 1)
            url = item.opt_text("url")
            if kind in _EXTERNAL_FILES or item.flag("external"):
                where = _EXTERNAL_FILES.get(kind, "an external storage")
                notes.append(f"file {name!r} stored on {where}" + (f": {url}" if url else ""))
                continue
            if kind not in _STORED_FILES or not url:
                notes.append(f"file {name!r} of type {kind!r} (no content to download)")
                continue
            size = item.data.get("size")
            if type(size) is not int or size < 0:
                raise item.fail("size", "is not a size in bytes")
            mime = item.opt_text("mime_type") or mimetypes.guess_type(name)[0] or "application/octet-stream"
            address = urljoin(self.url + "/", url)
            if urlsplit(address).scheme not in ("http", "https"):
                raise item.fail("url", "is not an http(s) address")
            yield SourceAttachment(str(file_id), name, mime, size, self._opener(address, file_id))

    def _opener(self, url: str, file_id: object) -> Callable[[], AbstractContextManager[tuple[BinaryIO, int]]]:
        route = f"file {file_id}"

        def open_content() -> AbstractContextManager[tuple[BinaryIO, int]]:
            return self._http.download(url, route)

        return open_content

    @staticmethod
    def _unmapped(card: Record) -> list[str]:
        """What a card holds that MSKanban has no place for, one note line each."""
        notes = []
        if card.flag("asap"):
            notes.append("the ASAP flag")
        start, end = card.opt_text("planned_start"), card.opt_text("planned_end")
        if start or end:
            notes.append(f"the planned timeline {start or '…'} – {end or '…'}")
        for link in card.records("external_links", "external link"):
            description = link.opt_text("description")
            notes.append(f"link {link.text('url')}" + (f" ({description})" if description else ""))
        for relation, name in (("parents", "parent card"), ("children", "child card")):
            for other in card.records(relation, name):
                notes.append(f"{name} {other.integer('id')} {other.text('title')!r}")
        spent = card.data.get("time_spent_sum")
        if type(spent) is int and spent > 0:
            notes.append(f"{spent} minutes of logged time")
        return notes

    # --- custom properties --------------------------------------------------------------------
    def _properties_of(self, card: Record, fields: _BoardFields, notes: list[str]) -> list[tuple[str, str]]:
        values = card.data.get("properties")
        if values is None:
            return []
        if not isinstance(values, dict):
            raise card.fail("properties", "is not an object")
        out = []
        for name, value in sorted(values.items()):
            if value is None or value == [] or value == "":
                continue
            if not name.startswith("id_") or not name[3:].isdigit():
                raise card.fail("properties", f"has a key {name!r} that is not id_<number>")
            definition = self._property(int(name[3:]))
            if definition is None:
                notes.append(f"the value {_json(value)} of custom property {name[3:]} (not visible to this token)")
                continue
            text = self._property_value(card, definition, value, fields)
            if text is None:
                notes.append(
                    f"custom property {definition.text('name')!r} of type {definition.text('type')!r}: {_json(value)}"
                )
            else:
                out.append((f"property:{definition.integer('id')}", text))
        return out

    def _property(self, property_id: int) -> Record | None:
        if self._properties is None:
            listed = self._list("/company/custom-properties", "custom property")
            self._properties = {_ident(r).integer("id"): r for r in listed}
        return self._properties.get(property_id)

    def _property_value(self, card: Record, definition: Record, value: object, fields: _BoardFields) -> str | None:
        """A property's value as the text of an MSKanban field (registering the field), or None
        for a kind MSKanban has no field for (catalogs, votes, scores, formulas)."""
        property_id, kind, name = definition.integer("id"), definition.text("type"), definition.text("name")
        where = f"properties.id_{property_id}"
        text: str
        field_type = "text"
        options: tuple[str, ...] = ()
        if kind in _TEXT_PROPERTIES:
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise card.fail(where, "is not text")
            text = str(value)
        elif kind == "number":
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise card.fail(where, "is not a number") from None
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise card.fail(where, "is not a number")
            text, field_type = _number(value), "number"
        elif kind == "date":
            day = value.get("date") if isinstance(value, dict) else value
            probe = Record({"date": day}, card.route, card.what)
            instant = _instant(probe, "date")
            if instant is None:
                raise card.fail(where, "is not a date")
            text, field_type = instant[:10] if len(str(day)) <= 10 else instant, "date"
        elif kind == "checkbox":
            if value not in (True, False, 0, 1):
                raise card.fail(where, "is not a checkbox value")
            text, field_type = ("true" if value else "false"), "checkbox"
        elif kind == "select":
            chosen = value if isinstance(value, list) else [value]
            if not all(type(v) is int for v in chosen):
                raise card.fail(where, "is not a list of select value ids")
            known = self._select(property_id)
            picked = [known[v][0] if v in known else f"option {v}" for v in chosen]
            if definition.flag("multi_select"):
                text = ", ".join(picked)
            else:
                field_type = "select"
                options = tuple(label for label, _ in sorted(known.values(), key=lambda option: option[1]))
                options += tuple(p for p in picked if p not in options)
                text = picked[0]
        elif kind == "user":
            chosen = value if isinstance(value, list) else [value]
            text = ", ".join(self._property_user(card, where, v) for v in chosen)
        else:
            return None
        key = f"property:{property_id}"
        previous = fields.properties.get(property_id)
        if previous is not None and previous.type == "select":
            options = previous.options + tuple(o for o in options if o not in previous.options)
        fields.properties[property_id] = SourceField(key, name, field_type, options)
        return text

    def _select(self, property_id: int) -> dict[int, tuple[str, float]]:
        if property_id not in self._select_values:
            route = f"/company/custom-properties/{property_id}/select-values"
            self._select_values[property_id] = {
                _ident(r).integer("id"): (r.text("value"), _order(r)[0]) for r in self._list(route, "select value")
            }
        return self._select_values[property_id]

    def _property_user(self, card: Record, where: str, value: object) -> str:
        """A user-valued property: an id (integer, the new format) or a uid (string, `broken_api`)."""
        if type(value) is int:
            user = self._users_by_id.get(value) or self._space_user(card, value)
            return _user_text(user) if user else f"user {value}"
        if isinstance(value, str) and value:
            if value not in self._users_by_uid:
                self._space_user(card, -1)
            user = self._users_by_uid.get(value)
            return _user_text(user) if user else f"user {value}"
        raise card.fail(where, "is neither a user id nor a user uid")

    def _space_user(self, card: Record, user_id: int) -> SourceUser | None:
        """Users of the card's space, read once, when a property names a user not met on a card."""
        space_id = self._space_of.get(str(card.data.get("board_id")))
        if space_id is not None and space_id not in self._spaces_read:
            self._spaces_read.add(space_id)
            for user in self._list(f"/spaces/{space_id}/users", "user"):
                self._user(_ident(user))
        return self._users_by_id.get(user_id)

    # --- the board's fields -------------------------------------------------------------------
    @staticmethod
    def _fields(fields: _BoardFields) -> tuple[SourceField, ...]:
        out = []
        if len(fields.lanes) > 1:
            out.append(SourceField("lane", "Lane", "select", tuple(fields.lanes.values())))
        if fields.types:
            out.append(SourceField("type", "Type", "select", tuple(fields.types)))
        if fields.sizes:
            numeric = all(is_number for _, is_number in fields.sizes)
            out.append(SourceField("size", "Size", "number" if numeric else "text"))
        if fields.done:
            out.append(SourceField("done", "Done", "checkbox"))
        if fields.responsible:
            out.append(SourceField("responsible", "Responsible", "text"))
        if fields.blocked:
            out.append(SourceField("blocked", "Block reason", "text"))
        out += [fields.properties[k] for k in sorted(fields.properties)]
        return tuple(out)


def _file_order(record: Record) -> tuple[float, str]:
    order = record.data.get("sort_order")
    rank = float(order) if isinstance(order, int | float) and not isinstance(order, bool) else 0.0
    return rank, str(record.data.get("id"))


def _json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"
