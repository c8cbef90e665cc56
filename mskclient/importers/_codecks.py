"""Reading Codecks through its one query endpoint (`POST /` with a nested query), read-only.

Codecks answers every read through `POST /` with `{"query": {...}}`: a nested,
GraphQL-like selection whose answer is entity-normalised — `{"_root": {"account":
ID}, "account": {ID: {...}}, "card": {ID: {...}}, "user": {...}}`, a relation
given in its parent as an id (or a list of ids) under the very key that asked for
it, filters and all (`"cards({...})"`).  So one request reads a page of a deck's
cards together with their assignees, milestones, conversations and files, each
user or milestone sent once however many cards share it.  From the "Codecks API"
page: the `at` token goes in `X-Auth-Token` with `X-Account: SUBDOMAIN`; filters,
`$or`, `{"op": "gt", "value": …}`, `$order` and `$limit`; 40 requests per 5
seconds per IP (the reader paces itself under it).  Cards are paged by their
account number (`accountSeq > last`, ordered, limited), using only those documented
forms.  Files live at public URLs elsewhere (S3): they are fetched without the token.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final
from urllib.parse import urlsplit

import httpx

from .._errors import ProtocolError, UsageError
from ._model import (
    BoardRef,
    SourceAttachment,
    SourceBoard,
    SourceCard,
    SourceColumn,
    SourceComment,
    SourceField,
    SourceLabel,
    SourceMilestone,
    SourceUser,
)
from ._source_http import Record, SourceAuth, SourceHttp, SourcePace

__all__ = ["CODECKS_LIMIT", "CODECKS_STATUSES", "CodecksSource", "codecks_error_text", "split_title"]

_NAME: Final = "Codecks"
_ROUTE: Final = "/"
#: Codecks' published limit: 40 requests per 5 seconds per IP.
CODECKS_LIMIT: Final = (40, 5.0)
#: Cards asked per query page.
CARDS_PAGE: Final = 200
#: Card status -> column title, in workflow order (every column is created, so the workflow shows).
CODECKS_STATUSES: Final = (
    ("not_started", "Not started"),
    ("started", "Started"),
    ("review", "In review"),
    ("blocked", "Blocked"),
    ("done", "Done"),
)
_STATUS_ALIASES: Final = {"in_review": "review"}
#: Codecks' priorities a/b/c, as the options of a select field.
_PRIORITIES: Final = {"a": "High", "b": "Medium", "c": "Low"}
_THREADS: Final = {"comment": "Comment", "review": "Review", "block": "Blocker"}
_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")
_GREY: Final = "#8b949e"

_CARD_FIELDS: Final[list[Any]] = [
    "cardId", "accountSeq", "title", "content", "status", "priority", "effort", "masterTags", "visibility",
    "dueDate",
    {"assignee": ["id", "name", {"primaryEmail": ["email"]}]},
    {"milestone": ["id", "name", "date"]},
    {"resolvables": ["id", "context", "isClosed", "createdAt",
                     {"entries": ["id", "content", "createdAt", {"author": ["id", "name"]}]}]},
    {"attachments": ["id", {"file": ["id", "fileName", "url", "size", "type"]}]},
]  # fmt: skip


def codecks_api_url(url: str) -> str:
    """The API root from what the user gives (https://api.codecks.io)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("--source-url must be an http(s) address like https://api.codecks.io")
    if parts.username is not None or parts.password is not None:
        raise UsageError("--source-url must not hold a user or password: the token goes in MSK_SOURCE_TOKEN")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def codecks_account(account: str) -> str:
    """The organisation's subdomain ("team123" for team123.codecks.io; the full host is accepted too)."""
    name = account.strip().lower()
    if name.endswith(".codecks.io"):
        name = name[: -len(".codecks.io")]
    if _SUBDOMAIN.fullmatch(name) is None:
        raise UsageError("--source-account must be the organisation's subdomain, e.g. team123 for team123.codecks.io")
    return name


def codecks_error_text(body: bytes) -> str | None:
    """Codecks' own error text from an error answer (`{"message": …}` or `{"error": …}`), if any."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    said = data.get("message", data.get("error"))
    if isinstance(said, dict):
        said = said.get("message")
    return " ".join(said.split())[:300] if isinstance(said, str) and said.strip() else None


def split_title(title: str, content: str) -> str:
    """The description: Codecks' content without its first line when that line is the title."""
    first, _, rest = content.partition("\n")
    if first.strip().lstrip("#").strip() != title.strip():
        return content.strip("\n")
    return rest.strip("\n")


class _TokenAuth(SourceAuth):
    """The token and account headers, sent only with the query itself (never to a file's URL,
    which comes from the answer: an address there must not receive the token)."""

    def __init__(self, query_url: str, account: str, token: str) -> None:
        self._query_url = query_url
        self._headers = {"X-Auth-Token": token, "X-Account": account}

    def headers_for(self, method: str, url: str) -> Mapping[str, str]:
        return self._headers if method == "POST" and url == self._query_url else {}


def _instant(record: Record, name: str) -> str | None:
    """A Codecks time or date (ISO 8601) as an ISO 8601 instant in UTC."""
    value = record.data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise record.fail(name, "is not a date")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise record.fail(name, "is not a date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Answer:
    """One normalised query answer: entities by kind and id; errors name the route and the object."""

    def __init__(self, data: object, where: str) -> None:
        self.where = where
        self.root = Record(data, where, "answer")

    def entity(self, kind: str, entity_id: object) -> Record:
        if not isinstance(entity_id, str):
            raise ProtocolError(f"{self.where}: a {kind} reference is not an id")
        table = self.root.data.get(kind)
        if not isinstance(table, dict) or entity_id not in table:
            raise ProtocolError(f"{self.where}: {kind} {entity_id}: missing from the answer")
        return Record(table[entity_id], self.where, f"{kind} {entity_id}")

    def one(self, parent: Record, key: str, kind: str) -> Record | None:
        """A to-one relation (an id or null)."""
        value = parent.data.get(key)
        return None if value is None else self.entity(kind, value)

    def many(self, parent: Record, key: str, kind: str) -> list[Record]:
        """A to-many relation (a list of ids; missing or null reads as none)."""
        value = parent.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise parent.fail(key, "is not a list of ids")
        return [self.entity(kind, item) for item in value]

    def account(self) -> Record:
        return self.entity("account", self.root.child("_root", "_root").data.get("account"))


def _number(record: Record, name: str) -> float | int | None:
    value = record.data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise record.fail(name, "is not a number")
    return value


def _strings(record: Record, name: str) -> list[str]:
    value = record.data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise record.fail(name, "is not a list of strings")
    return value


class CodecksSource:
    """A Codecks organisation, read-only: one MSKanban board per deck (see docs/import.md).

    `projects` (ids or names) limits the decks to those projects; `boards(selectors)`
    then picks decks by id or title.  `transport`, `sleep` and `clock` let tests stand
    in for the network and for time; `limit` is the source's request limit to pace under.
    """

    name = _NAME

    def __init__(
        self,
        url: str,
        account: str,
        token: str,
        *,
        projects: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        limit: tuple[int, float] | None = CODECKS_LIMIT,
        page: int = CARDS_PAGE,
    ) -> None:
        api = codecks_api_url(url)
        self.account = codecks_account(account)
        #: The journal's identity: the API and the organisation.
        self.url = f"{api}#{self.account}"
        self._api = api
        self._projects = tuple(projects)
        self._page = page
        self._http = SourceHttp(
            _NAME,
            auth=_TokenAuth(api + _ROUTE, self.account, token),
            headers={"Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
            pace=None if limit is None else SourcePace(limit, clock=clock),
            auth_statuses=frozenset({401, 403}),
            refused=f"{_NAME} refused the token for the organisation {self.account!r}",
            error_text=codecks_error_text,
        )
        #: deck id -> (project name, deck title), from the listing
        self._decks: dict[str, tuple[str, str]] = {}

    @property
    def requests(self) -> int:
        return self._http.requests

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CodecksSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, query: dict[str, Any], what: str) -> _Answer:
        where = f"{_NAME} POST {_ROUTE} ({what})"
        return _Answer(self._http.query_json(self._api + _ROUTE, _ROUTE, {"query": query}), where)

    # --- decks --------------------------------------------------------------------------------
    def boards(self, selectors: Sequence[str] = ()) -> list[BoardRef]:
        """The decks to import (one request): those of the chosen projects, then those chosen by id or title."""
        answer = self._query(
            {"_root": [{"account": ["id", "name", {"projects": ["id", "name"]},
                                    {"decks": ["id", "title", "projectId", "isDeleted"]}]}]},
            "projects and decks",
        )  # fmt: skip
        account = answer.account()
        projects = {p.text("id"): p.text("name") for p in answer.many(account, "projects", "project")}
        chosen_projects = self._chosen_projects(projects)
        listed: list[tuple[BoardRef, str]] = []
        for deck in answer.many(account, "decks", "deck"):
            project_id = deck.opt_text("projectId")
            if deck.flag("isDeleted") or project_id not in projects:  # deleted, or in an archived project
                continue
            deck_id, title = deck.text("id"), deck.text("title")
            self._decks[deck_id] = (projects[project_id], title)
            if project_id in chosen_projects:
                listed.append((BoardRef(deck_id, f"{projects[project_id]} › {title}"), title))
        if not selectors:
            return [ref for ref, _ in listed]
        chosen: list[BoardRef] = []
        for selector in selectors:
            by_id = [ref for ref, _ in listed if ref.key == selector.strip()]
            by_title = [ref for ref, title in listed if selector in (title, ref.title)]
            if not by_id and len(by_title) > 1:
                named = ", ".join(f"{ref.title!r} ({ref.key})" for ref in by_title)
                raise UsageError(f"{_NAME} has several decks titled {selector!r}: {named}: give the id")
            found = by_id or by_title
            if not found:
                raise UsageError(f"{_NAME} deck {selector!r}: no deck with this id or title in the chosen projects")
            if found[0] not in chosen:
                chosen.append(found[0])
        return chosen

    def _chosen_projects(self, projects: dict[str, str]) -> set[str]:
        if not self._projects:
            return set(projects)
        chosen: set[str] = set()
        for selector in self._projects:
            found = [pid for pid, name in projects.items() if selector.strip() == pid or selector == name]
            if len(found) > 1:
                ids = ", ".join(found)
                raise UsageError(f"{_NAME} has several projects named {selector!r} (ids {ids}): give the id")
            if not found:
                raise UsageError(f"{_NAME} project {selector!r}: no project with this id or name is visible")
            chosen.update(found)
        return chosen

    # --- one deck -----------------------------------------------------------------------------
    def read_board(self, ref: BoardRef) -> SourceBoard:
        """Read one deck completely: a query per page of cards, everything about them in the same answer."""
        if ref.key not in self._decks:
            self.boards()
        if ref.key not in self._decks:
            raise UsageError(f"{_NAME} deck {ref.key!r}: not visible")
        tags: dict[str, SourceLabel] = {}
        cards: list[tuple[str, SourceCard]] = []
        milestones: dict[str, SourceMilestone] = {}
        last = -1
        while True:
            answer, page = self._page_of_cards(ref.key, last, first=last < 0)
            if last < 0:
                for tag in answer.many(answer.account(), "masterTags", "masterTag"):
                    color = _HEX.fullmatch(tag.opt_text("color") or "")
                    hex_color = f"#{color.group(1).lower()}" if color else _GREY
                    label = SourceLabel(tag.text("id"), tag.text("title"), hex_color)
                    tags[label.name] = label
            previous = last
            for card in page:
                cards.append(self._card(answer, card, tags, milestones))
                last = max(last, card.integer("accountSeq"))
            if len(page) < self._page:
                break
            if last <= previous:  # the filter was not applied: the same page would come forever
                raise ProtocolError(f"{answer.where}: the page of cards after number {previous} repeats earlier cards")
        return self._board(ref, tags, cards, milestones)

    def _page_of_cards(self, deck_id: str, last: int, *, first: bool) -> tuple[_Answer, list[Record]]:
        selection: dict[str, Any] = {
            "deckId": deck_id,
            "$or": [{"visibility": "default"}, {"visibility": "archived"}],
            "$order": "accountSeq",
            "$limit": self._page,
        }
        if last >= 0:
            selection["accountSeq"] = {"op": "gt", "value": last}
        key = f"cards({json.dumps(selection, separators=(',', ':'))})"
        account_query: list[Any] = [{key: _CARD_FIELDS}]
        if first:
            account_query.insert(0, {"masterTags": ["id", "title", "color"]})
        answer = self._query({"_root": [{"account": account_query}]}, f"deck {deck_id} cards")
        return answer, answer.many(answer.account(), key, "card")

    def _card(
        self, answer: _Answer, card: Record, tags: dict[str, SourceLabel], milestones: dict[str, SourceMilestone]
    ) -> tuple[str, SourceCard]:
        card_id = card.text("cardId")
        card.what = f"card {card_id}"
        content = card.opt_text("content") or ""
        title = card.opt_text("title") or content.partition("\n")[0].strip() or f"Card {card.integer('accountSeq')}"
        notes: list[str] = []
        raw_status = card.opt_text("status") or "not_started"
        status = _STATUS_ALIASES.get(raw_status, raw_status)
        label_keys = []
        for tag in _strings(card, "masterTags"):
            if tag in tags:
                label_keys.append(tags[tag].key)
            else:
                notes.append(f"tag #{tag} (not among the organisation's tags)")
        values: list[tuple[str, str]] = []
        priority = card.opt_text("priority")
        if priority in _PRIORITIES:
            values.append(("priority", _PRIORITIES[priority]))
        elif priority is not None:
            notes.append(f"priority {priority!r} (Codecks' priorities are a, b and c)")
        effort = _number(card, "effort")
        if effort is not None:
            values.append(("effort", f"{effort:g}"))
        assignees = []
        if (user := answer.one(card, "assignee", "user")) is not None:
            email = answer.one(user, "primaryEmail", "userEmail")
            address = email.opt_text("email") if email is not None else None
            assignees.append(SourceUser(user.text("id"), user.opt_text("name") or user.text("id"), address))
        milestone_key = None
        if (milestone := answer.one(card, "milestone", "milestone")) is not None:
            milestone_key = milestone.text("id")
            milestones.setdefault(
                milestone_key, SourceMilestone(milestone_key, milestone.text("name"), _instant(milestone, "date"))
            )
        attachments: list[SourceAttachment] = []
        for attachment in answer.many(card, "attachments", "attachment"):
            found = answer.one(attachment, "file", "file")
            if found is None:
                continue
            item = self._attachment(found)
            if isinstance(item, str):
                notes.append(item)
            else:
                attachments.append(item)
        return status, SourceCard(
            key=card_id,
            title=title,
            description=split_title(title, content),
            due_at=_instant(card, "dueDate"),
            archived=card.opt_text("visibility") == "archived",
            label_keys=tuple(label_keys),
            assignees=tuple(assignees),
            comments=tuple(self._comments(answer, card)),
            attachments=tuple(attachments),
            field_values=tuple(values),
            milestone_key=milestone_key,
            notes=tuple(notes),
        )

    @staticmethod
    def _comments(answer: _Answer, card: Record) -> list[SourceComment]:
        """Every entry of every conversation, oldest first; a thread's kind and state head its first entry."""
        found: list[SourceComment] = []
        threads = sorted(answer.many(card, "resolvables", "resolvable"), key=lambda r: r.opt_text("createdAt") or "")
        for thread in threads:
            context = thread.opt_text("context") or "comment"
            closed = thread.flag("isClosed")
            entries = answer.many(thread, "entries", "resolvableEntry")
            entries.sort(key=lambda e: (e.opt_text("createdAt") or "", e.text("id")))
            for position, entry in enumerate(entries):
                when = _instant(entry, "createdAt")
                if when is None:
                    raise entry.fail("createdAt", "is missing")
                author = answer.one(entry, "author", "user")
                name = "(unknown author)" if author is None else author.opt_text("name") or author.text("id")
                text = entry.opt_text("content") or ""
                if position == 0 and (context != "comment" or closed):
                    kind = _THREADS.get(context, context.capitalize())
                    text = f"**{kind}** ({'closed' if closed else 'open'})\n\n{text}"
                elif position > 0:
                    text = f"↳ {text}"
                found.append(SourceComment(entry.text("id"), name, when, text))
        return found

    def _attachment(self, file: Record) -> SourceAttachment | str:
        name = file.opt_text("fileName") or file.text("id")
        url = file.opt_text("url") or ""
        if urlsplit(url).scheme not in ("http", "https"):
            return f"attachment {name!r}: no downloadable address"
        size = file.data.get("size")
        if type(size) is not int or size < 0:
            raise file.fail("size", "is not a size in bytes")
        mime = file.opt_text("type") or "application/octet-stream"
        return SourceAttachment(file.text("id"), name, mime, size, self._opener(url, name))

    def _opener(self, url: str, name: str) -> Callable[[], AbstractContextManager[tuple[BinaryIO, int]]]:
        def open_content() -> AbstractContextManager[tuple[BinaryIO, int]]:
            return self._http.download(url, f"file {name!r}")

        return open_content

    def _board(
        self,
        ref: BoardRef,
        tags: dict[str, SourceLabel],
        cards: list[tuple[str, SourceCard]],
        milestones: dict[str, SourceMilestone],
    ) -> SourceBoard:
        known = [status for status, _ in CODECKS_STATUSES]
        columns = [
            SourceColumn(f"{ref.key}:{status}", title, tuple(c for s, c in cards if s == status))
            for status, title in CODECKS_STATUSES
        ]
        notes = [
            "card numbers, creators and the times cards were created or changed (MSKanban stamps the import)",
        ]
        for status in sorted({s for s, _ in cards if s not in known}):
            columns.append(SourceColumn(f"{ref.key}:{status}", status, tuple(c for s, c in cards if s == status)))
            notes.append(f"the unknown card status {status!r} (kept as a column of that name)")
        used = {key for _, card in cards for key in card.label_keys}
        valued = {key for _, card in cards for key, _ in card.field_values}
        fields = []
        if "priority" in valued:
            fields.append(SourceField("priority", "Priority", "select", tuple(_PRIORITIES.values())))
        if "effort" in valued:
            fields.append(SourceField("effort", "Effort", "number"))
        return SourceBoard(
            ref.key,
            ref.title,
            labels=tuple(label for label in tags.values() if label.key in used),
            columns=tuple(columns),
            fields=tuple(fields),
            milestones=tuple(milestones.values()),
            notes=tuple(notes),
        )
