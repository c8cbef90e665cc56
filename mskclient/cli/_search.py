"""`msk cards list --all` and its filters: cards found across boards, decrypted and matched
locally (the server sees only which boards and cards were read, never what was looked for)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .._errors import UsageError
from .._models import Board, Card, Undecryptable
from ..export import name_matches
from ._params import due_date
from ._resolve import Resolver

__all__ = ["CardFilter", "Found", "search_boards"]


def _folded(text: str) -> str:
    """`text` as compared by --text: Unicode NFC, then case-folded."""
    return unicodedata.normalize("NFC", text).casefold()


def _instant(stamp: str | None) -> datetime | None:
    """A card's due date as an instant; None when it has none (or the server sent no date)."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CardFilter:
    """The filters of `cards list`, all of which a card must pass (AND)."""

    label: str | None = None
    #: "me", an email or a user id
    assignee: str | None = None
    #: an ISO 8601 instant (from `due_date`): only cards due strictly before it
    due_before: str | None = None
    #: every word must occur in the title, description or a comment (NFC, any case)
    text: str | None = None

    @classmethod
    def parse(cls, label: str | None, assignee: str | None, due_before: str | None, text: str | None) -> CardFilter:
        """Checked before any request: a bad date exits 2 with an example."""
        if due_before is not None:
            try:
                due_before = due_date(due_before)
            except ValueError as exc:
                raise UsageError(f"--due-before: {exc}") from None
        if text is not None and not text.strip():
            raise UsageError("--text needs at least one word")
        return cls(label, assignee, due_before, text)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.label, self.assignee, self.due_before, self.text))

    def matching(self, r: Resolver, board: Board, cards: Sequence[Card]) -> list[Card]:
        """The `cards` of `board` that pass every filter.  Cheap filters first: a card's
        comments are read (one request) only when --text did not match its title or description."""
        chosen = list(cards)
        if self.label is not None:
            labels = r.labels(board.id)
            named = [(x.id, x.name) for x in labels if not isinstance(x.name, Undecryptable)]
            wanted = {x.id for x in labels if x.id == self.label} or {i for i, _ in name_matches(self.label, named)}
            chosen = [c for c in chosen if wanted.intersection(c.label_ids)]
        if self.assignee is not None and chosen:
            user_ids = self._assignee_ids(r, board)
            chosen = [c for c in chosen if user_ids.intersection(c.assignee_ids)]
        if self.due_before is not None:
            limit = datetime.fromisoformat(self.due_before)
            chosen = [c for c in chosen if (due := _instant(c.due_at)) is not None and due < limit]
        if self.text is not None:
            chosen = [c for c in chosen if self._text_matches(r, c)]
        return chosen

    def _assignee_ids(self, r: Resolver, board: Board) -> set[str]:
        assert self.assignee is not None
        if self.assignee.lower() == "me":
            user = r.client.user or r.client.me().user
            return {user.id}
        members = r.members(board.workspace_id)
        if any(m.user_id == self.assignee for m in members):
            return {self.assignee}
        return {i for i, _ in name_matches(self.assignee, [(m.user_id, m.email) for m in members])}

    def _text_matches(self, r: Resolver, card: Card) -> bool:
        assert self.text is not None
        words = _folded(self.text).split()
        haystack = _folded(_readable([card.title, card.description]))
        missing = [w for w in words if w not in haystack]
        if not missing or not card.comment_count:
            return not missing
        comments = _folded(_readable(c.body for c in r.client.card(card.id).comments or ()))
        return all(w in comments or w in haystack for w in missing)


def _readable(texts: Iterable[str]) -> str:
    """The texts that decrypted, one per line (a placeholder matches nothing)."""
    return "\n".join(t for t in texts if not isinstance(t, Undecryptable))


@dataclass(frozen=True)
class Found:
    """A card with the names of its board and column, as `cards list --all` shows it."""

    card: Card
    board: Board
    column: str


def search_boards(r: Resolver, boards: Iterable[Board], wanted: CardFilter, *, archived: bool) -> list[Found]:
    """The cards of `boards` that pass `wanted` (archived ones too with `archived`)."""
    found: list[Found] = []
    for board in boards:
        cards = [c for c in r.cards(board.id) if archived or not c.archived]
        cards = wanted.matching(r, board, cards)
        if cards:
            columns = {c.id: c.title for c in r.columns(board.id)}
            found.extend(Found(c, board, columns.get(c.column_id, c.column_id)) for c in cards)
    return found
