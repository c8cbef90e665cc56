"""Decrypt one board bundle (the per-board shape of `/me/export`, docs/protocol.md#export) with its Board Key.

`BoardDecryptor` opens the board's names first, then takes its cards in batches (all of a
parsed bundle at once, or batch by batch while an export streams in): each batch's
envelopes are collected, opened in one `decrypt_batch` call per kind (the native path
uses every core), then its cards are built (`BoardChecker` takes the same steps and
builds nothing: what a backup's verify needs).  A field that does not open becomes
`UNDECRYPTABLE` plus a `FieldFailure`; `strict=True` raises the first failure instead.
Shapes and ids are checked as they are read, so a hostile server or a damaged file gives
a ProtocolError, not a crash: the hot loops check inline and call `.._json` only to raise.
"""

from __future__ import annotations

import contextlib
import gc
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from .._errors import CryptoError, MskError, ProtocolError
from .._json import flag, ids, json_object, number, obj_list, opt_id, opt_text, text, valid_id
from .._profile import ID_PATTERN, FieldSpec, field, is_valid_id
from ..crypto import BoardKey, FileKey, Where
from ..crypto.hazmat import decrypt_batch
from ._tree import (
    UNDECRYPTABLE,
    CardList,
    CheckedBoard,
    ExportAttachment,
    ExportBoard,
    ExportCard,
    ExportColumn,
    FieldFailure,
    PackedCard,
    pack,
    unpack,
)

__all__ = ["BoardChecker", "BoardDecryptor", "BoardReader", "decrypt_board", "members_by_id", "no_collections"]

_Json = Mapping[str, Any]
_is_id = ID_PATTERN.fullmatch
_NO_FIELDS: Mapping[str, object] = {}
_NO_IDS: list[str] = []
_ATTACHMENT_ENCFILEKEY = field("attachment", "encFileKey")
_ATTACHMENT_ENCMIME = field("attachment", "encMime")
_ATTACHMENT_ENCNAME = field("attachment", "encName")
_BOARD_ENCDESCRIPTION = field("board", "encDescription")
_BOARD_ENCTITLE = field("board", "encTitle")
_CARD_CUSTOMFIELDS = field("card", "customFields")
_CARD_ENCDESCRIPTION = field("card", "encDescription")
_CARD_ENCTITLE = field("card", "encTitle")
_CHECKLIST_ENCTITLE = field("checklist", "encTitle")
_CHECKLISTITEM_ENCTEXT = field("checklistItem", "encText")
_COLUMN_ENCTITLE = field("column", "encTitle")
_COMMENT_ENCBODY = field("comment", "encBody")
_CUSTOMFIELD_ENCNAME = field("customField", "encName")
_LABEL_ENCNAME = field("label", "encName")
_MILESTONE_ENCTITLE = field("milestone", "encTitle")


#: An attachment queued: id, name and mime indexes in the texts, size, file key index in the binaries.
_QueuedAttachment = tuple[str, int, int, int, int]
#: A card checked and queued (`BoardReader._queue`): its values, and its fields as indexes in the
#: opened texts (binaries for the description), in `BoardDecryptor._take`'s order.
_Queued = tuple[
    str,  # id
    str,  # column id
    tuple[float, str, str],  # place in the column
    int,  # title
    int,  # description (binary)
    list[str],  # label ids
    list[str],  # assignee ids
    str | None,  # milestone id
    str | None,  # due at
    list[tuple[str, int]] | None,  # custom field values
    list[tuple[str, str, int, str]],  # comments: id, author, body, createdAt
    list[tuple[str, int, list[tuple[str, int, bool]]]],  # checklists: id, title, items
    list[_QueuedAttachment] | None,
    bool,  # archived
]


def _all_ids(values: list[object]) -> bool:
    """Every value is an id string (the fast path of `ids`, which reports the error)."""
    return all(type(value) is str and _is_id(value) is not None for value in values)


#: Sort keys of well-formed items (every key present, with its JSON type): C-speed `sorted`.
_BY_POSITION = itemgetter("position", "createdAt", "id")
_BY_CREATED = itemgetter("createdAt", "id")
_FIRST = itemgetter(0)


def _order(items: list[_Json], what: str) -> list[_Json]:
    """Order of docs/protocol.md#resources: position, then createdAt, then id (a single item needs no key)."""
    if len(items) < 2:
        return items
    for item in items:
        position = item.get("position")
        if (
            (type(position) is not int and type(position) is not float)
            or type(item.get("createdAt")) is not str
            or type(item.get("id")) is not str
        ):
            return _order_lenient(items, what)
    return sorted(items, key=_BY_POSITION)


def _order_lenient(items: list[_Json], what: str) -> list[_Json]:
    """`_order` when a key is missing or oddly typed: a bad position is an error, the rest sort as text."""
    return sorted(
        items,
        key=lambda item: (number(item, "position", what, 0.0), str(item.get("createdAt", "")), str(item.get("id"))),
    )


def _order_comments(comments: list[_Json]) -> list[_Json]:
    """Comments sort by createdAt (docs/protocol.md#resources), then id; each createdAt must be a string."""
    for comment in comments:
        if type(comment.get("createdAt", "")) is not str:
            text(comment, "createdAt", "comment")
    if len(comments) < 2:
        return comments
    if all("createdAt" in c and type(c.get("id")) is str for c in comments):
        return sorted(comments, key=_BY_CREATED)
    return sorted(comments, key=lambda c: (c.get("createdAt", ""), str(c.get("id"))))


def members_by_id(members: Sequence[_Json]) -> dict[str, str]:
    """userId -> email of a workspace's members (authors and assignees are shown by email)."""
    return {valid_id(m, "userId", "member"): text(m, "email", "member") for m in members}


class _Fields:
    """A board's envelopes, queued in document order and opened in one batch per kind.

    Text fields come back decoded in one list and binary ones (Yjs states, file keys) in
    another; index 0 of each is the absent field's empty value, so building the tree is
    plain list indexing.  A field that does not open is recorded (or raised, strict) once.
    """

    def __init__(self, board_id: str, key: BoardKey, strict: bool, failures: list[FieldFailure]) -> None:
        self._board_id = board_id
        self._key = key
        self._strict = strict
        self._text_items: list[tuple[str, FieldSpec, str | None]] = []
        self._binary_items: list[tuple[str, FieldSpec, str | None]] = []
        self.failures = failures

    def text(self, envelope: object, spec: FieldSpec, entity_id: str | None) -> int:
        """Queue a text field; its index in `open()`'s texts (0 for null or missing: "")."""
        if type(envelope) is str:
            self._text_items.append((envelope, spec, entity_id))
            return len(self._text_items)
        return self._absent(envelope, spec, entity_id)

    def binary(self, envelope: object, spec: FieldSpec, entity_id: str | None) -> int:
        """Queue a binary field; its index in `open()`'s binaries (0 for null or missing: b"")."""
        if type(envelope) is str:
            self._binary_items.append((envelope, spec, entity_id))
            return len(self._binary_items)
        return self._absent(envelope, spec, entity_id)

    def names(self, items: Iterable[_Json], spec: FieldSpec) -> dict[str, int]:
        """Queue the text field `spec` of each item (a column's title, a label's name…) by its checked id."""
        queued = {}
        for item in items:
            item_id = valid_id(item, "id", spec.entity)
            queued[item_id] = self.text(item.get(spec.name), spec, item_id)
        return queued

    @staticmethod
    def _absent(envelope: object, spec: FieldSpec, entity_id: str | None) -> int:
        if envelope is None:
            return 0
        raise ProtocolError(f"{spec.entity} {entity_id} field {spec.name} is not an envelope string")

    def open(self) -> tuple[list[str], list[bytes | None]]:
        """Open every queued field: texts (the failure mark where one failed) and binaries (None)."""
        opened = decrypt_batch(self._key, self._text_items)
        try:  # the usual case: every field opened and is UTF-8
            texts = ["", *[r.decode() if type(r) is bytes else UNDECRYPTABLE for r in opened]]
        except UnicodeDecodeError:
            texts = ["", *[self._decoded(r, item) for r, item in zip(opened, self._text_items, strict=True)]]
        else:
            for r, item in zip(opened, self._text_items, strict=True):
                if type(r) is not bytes:
                    self._fail(r, item)
        binaries: list[bytes | None] = [b""]
        for r, item in zip(decrypt_batch(self._key, self._binary_items), self._binary_items, strict=True):
            if type(r) is not bytes:
                self._fail(r, item)
                binaries.append(None)
            else:
                binaries.append(r)
        return texts, binaries

    def _decoded(self, result: bytes | CryptoError, item: tuple[str, FieldSpec, str | None]) -> str:
        if type(result) is not bytes:
            self._fail(result, item)
            return UNDECRYPTABLE
        try:
            return result.decode()
        except UnicodeDecodeError:
            self._fail_because(item, "plaintext is not UTF-8")
            return UNDECRYPTABLE

    def _fail(self, error: object, item: tuple[str, FieldSpec, str | None]) -> None:
        assert isinstance(error, MskError)
        if self._strict:
            raise error
        _, spec, entity_id = item
        reason = str(getattr(error, "reason", error))
        self.failures.append(FieldFailure(self._board_id, spec.entity, entity_id, spec.name, reason))

    def _fail_because(self, item: tuple[str, FieldSpec, str | None], reason: str) -> None:
        """A field that opened but whose plaintext is not what the field holds."""
        self._fail(Where.of(item[1], item[2]).decryption_error(reason), item)

    def converted(self, binaries: list[bytes | None], index: int, convert: Callable[[bytes], str], what: str) -> str:
        """A binary field through `convert` (a Yjs state to Markdown); its failure is a field failure."""
        data = binaries[index]
        if data is None:
            return UNDECRYPTABLE
        if not data:
            return ""
        try:
            return convert(data)
        except Exception:  # a foreign decoder (pycrdt) rejects the bytes: report the field
            self._fail_because(self._binary_items[index - 1], f"plaintext is not {what}")
            return UNDECRYPTABLE

    def checked(self, binaries: list[bytes | None], index: int, check: Callable[[bytes], object], what: str) -> None:
        """A binary field through `check` alone (a Yjs state loaded): the failure `converted`
        records for it, without the value, which nobody reads."""
        data = binaries[index]
        if not data:
            return  # absent, or did not open (already recorded)
        try:
            check(data)
        except Exception:  # as in `converted`
            self._fail_because(self._binary_items[index - 1], f"plaintext is not {what}")

    def file_key(self, binaries: list[bytes | None], index: int) -> FileKey | None:
        data = binaries[index]
        if data is None:
            return None
        try:
            return FileKey(data)
        except (TypeError, ValueError):
            self._fail_because(self._binary_items[index - 1], "not a 32-byte file key")
            return None


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """Pause the cyclic GC while a big tree of acyclic containers is built.

    Building a board allocates tens of thousands of them; each collection that would
    trigger re-traverses everything alive, e.g. the just-parsed export document (~15 %
    of the decryption time of a 2,000-card board).  The previous state is restored, so a
    caller that disabled the GC keeps it disabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decrypt_board(bundle: _Json, key: BoardKey, members: Mapping[str, str], *, strict: bool = False) -> ExportBoard:
    """Decrypt `{board, columns, labels, milestones, customFields, cardTemplates, cards}`.

    `members` maps user ids to emails (see `members_by_id`); unknown ids are shown as ids.
    """
    board = BoardDecryptor(bundle, key, members, strict=strict)
    board.add_cards(obj_list(bundle, "cards", "board"))
    return board.finish()


def _checked_id(value: object, parent: _Json, key: str, what: str) -> str:
    """`value` (read from `parent[key]`) if it is a valid id; else the ProtocolError `valid_id` gives."""
    if type(value) is str and _is_id(value) is not None:
        return value
    return valid_id(parent, key, what)


def _card_order(card: _Json, card_id: str) -> tuple[float, str, str]:
    """A card's place in its column (docs/protocol.md#resources): position, then createdAt, then id."""
    position = card.get("position", 0)
    created_at = card.get("createdAt", "")
    if (type(position) is int or type(position) is float) and type(created_at) is str:
        return position, created_at, card_id
    return number(card, "position", "card", 0.0), str(created_at), card_id


class BoardReader(ABC):
    """A board read as its cards arrive: the header first, then `add_cards` (each batch checked
    and opened, `_take` does the rest), then the subclass's `finish`.

    The header is the board bundle's `board, columns, labels, milestones, customFields`
    (cards in it are ignored): its names are opened at once, so each batch of cards is
    opened on its own while the rest of the export is still on its way.
    """

    def __init__(self, header: _Json, key: BoardKey, members: Mapping[str, str], *, strict: bool = False) -> None:
        board = json_object(header.get("board"), "board")
        self.board_id = board_id = valid_id(board, "id", "board")
        self._key = key
        self._member = members.get
        self._strict = strict
        self._failures: list[FieldFailure] = []
        fields = _Fields(board_id, key, strict, self._failures)
        queue = fields.text
        title = queue(board.get("encTitle"), _BOARD_ENCTITLE, board_id)
        description = queue(board.get("encDescription"), _BOARD_ENCDESCRIPTION, board_id)
        self._workspace_id = text(board, "workspaceId", "board", default="")
        self._archived = flag(board, "archived", "board", False)
        columns = fields.names(_order(obj_list(header, "columns", "board"), "column"), _COLUMN_ENCTITLE)
        labels = fields.names(obj_list(header, "labels", "board"), _LABEL_ENCNAME)
        milestones = fields.names(obj_list(header, "milestones", "board"), _MILESTONE_ENCTITLE)
        custom = fields.names(obj_list(header, "customFields", "board"), _CUSTOMFIELD_ENCNAME)
        texts, _ = fields.open()
        self._title, self._description = texts[title], texts[description]
        self._columns = {i: texts[n] for i, n in columns.items()}
        self._label_names = {i: texts[n] for i, n in labels.items()}
        self._milestone_titles = {i: texts[n] for i, n in milestones.items()}
        self._field_names = {i: texts[n] for i, n in custom.items()}

    def add_cards(self, cards: Sequence[object]) -> None:
        """Check and open a batch of cards (one native batch per kind of field), then take them."""
        with no_collections():
            fields, queued = self._queue(cards)
            texts, binaries = fields.open()
            self._take(fields, queued, texts, binaries)

    @abstractmethod
    def _take(self, fields: _Fields, queued: list[_Queued], texts: list[str], binaries: list[bytes | None]) -> None:
        """What becomes of a batch of checked cards, once `texts` and `binaries` hold their opened fields."""

    def _queue(self, cards: Sequence[object]) -> tuple[_Fields, list[_Queued]]:
        """First pass: check every card's shape and ids, queue its envelopes (opened by the caller)."""
        board_id, member, columns = self.board_id, self._member, self._columns
        fields = _Fields(board_id, self._key, self._strict, self._failures)
        queue, binary = fields.text, fields.binary
        # The loops run per card, comment and item, so ids are checked inline; the validators only raise.
        queued: list[_Queued] = []
        for value in cards:
            card = value if type(value) is dict else json_object(value, "board.cards[]")
            cid = _checked_id(card.get("id"), card, "id", "card")
            column_id = card.get("columnId")
            if type(column_id) is not str or column_id not in columns:
                valid_id(card, "columnId", "card")
                raise ProtocolError(f"card {cid} is in a column that is not on board {board_id}")
            milestone_id = card.get("milestoneId")
            if milestone_id is not None and (type(milestone_id) is not str or _is_id(milestone_id) is None):
                milestone_id = opt_id(card, "milestoneId", "card")
            label_ids = card.get("labelIds", _NO_IDS)
            if type(label_ids) is not list or (label_ids and not _all_ids(label_ids)):
                label_ids = ids(card, "labelIds", "card")
            assignee_ids = card.get("assigneeIds", _NO_IDS)
            if type(assignee_ids) is not list or (assignee_ids and not _all_ids(assignee_ids)):
                assignee_ids = ids(card, "assigneeIds", "card")
            due_at = card.get("dueAt")
            if due_at is not None and type(due_at) is not str:
                due_at = opt_text(card, "dueAt", "card")
            archived = card.get("archived", False)
            if archived is not True and archived is not False:
                archived = flag(card, "archived", "card", False)
            values = card.get("customFields") or _NO_FIELDS
            if values and (not isinstance(values, Mapping) or not all(is_valid_id(k) for k in values)):
                raise ProtocolError(f"card {cid}.customFields is not an object keyed by field ids")
            comments = []
            for c in _order_comments(obj_list(card, "comments", "card")):
                comment_id = _checked_id(c.get("id"), c, "id", "comment")
                author = str(c.get("authorId"))
                body = queue(c.get("encBody"), _COMMENT_ENCBODY, comment_id)
                comments.append((comment_id, member(author, author), body, c.get("createdAt", "")))
            checklists = []
            for cl in _order(obj_list(card, "checklists", "card"), "checklist"):
                checklist_id = _checked_id(cl.get("id"), cl, "id", "checklist")
                title = queue(cl.get("encTitle"), _CHECKLIST_ENCTITLE, checklist_id)
                items = []
                for it in _order(obj_list(cl, "items", "checklist"), "checklistItem"):
                    done = it.get("done", False)
                    if done is not True and done is not False:
                        done = flag(it, "done", "checklistItem", False)
                    item_id = _checked_id(it.get("id"), it, "id", "checklistItem")
                    items.append((item_id, queue(it.get("encText"), _CHECKLISTITEM_ENCTEXT, item_id), done))
                checklists.append((checklist_id, title, items))
            files = obj_list(card, "attachments", "card")
            queued.append(
                (
                    cid,
                    column_id,
                    _card_order(card, cid),
                    queue(card.get("encTitle"), _CARD_ENCTITLE, cid),
                    binary(card.get("encDescription"), _CARD_ENCDESCRIPTION, cid),
                    label_ids,
                    assignee_ids,
                    milestone_id,
                    due_at,
                    [(fid, queue(v, _CARD_CUSTOMFIELDS, cid)) for fid, v in values.items()] if values else None,
                    comments,
                    checklists,
                    [_queue_attachment(a, queue, binary) for a in files] if files else None,
                    archived,
                )
            )
        return fields, queued


class BoardDecryptor(BoardReader):
    """One board decrypted as its cards arrive: the header first, then `add_cards`, then `finish`.

    Cards may come in any order; `finish` puts each column's cards in profile order.
    """

    def __init__(self, header: _Json, key: BoardKey, members: Mapping[str, str], *, strict: bool = False) -> None:
        super().__init__(header, key, members, strict=strict)
        self._markdown = _markdown_of()
        self._cards: dict[str, list[tuple[tuple[float, str, str], bytes | ExportCard]]] = {i: [] for i in self._columns}

    def finish(self) -> ExportBoard:
        """The board, each column's cards in profile order (position, createdAt, id)."""
        return ExportBoard(
            id=self.board_id,
            workspace_id=self._workspace_id,
            title=self._title,
            description=self._description,
            archived=self._archived,
            columns=tuple(
                ExportColumn(
                    id=i, title=title, cards=CardList([card for _, card in sorted(self._cards[i], key=_FIRST)])
                )
                for i, title in self._columns.items()
            ),
            failures=tuple(self._failures),
        )

    def _take(self, fields: _Fields, queued: list[_Queued], texts: list[str], binaries: list[bytes | None]) -> None:
        """Build the cards of an opened batch by indexing, each kept packed in its column."""
        label_names, milestone_titles, field_names = self._label_names, self._milestone_titles, self._field_names
        member, markdown, by_column = self._member, self._markdown, self._cards
        for (
            cid,
            column_id,
            order,
            title,
            description,
            label_ids,
            assignee_ids,
            milestone_id,
            due_at,
            values,
            comments,
            checklists,
            attachments,
            archived,
        ) in queued:
            packed: PackedCard = (
                cid,
                texts[title],
                fields.converted(binaries, description, markdown, "a Yjs document"),
                tuple([label_names.get(i, i) for i in label_ids]) if label_ids else (),
                tuple([member(i, i) for i in assignee_ids]) if assignee_ids else (),
                None if milestone_id is None else milestone_titles.get(milestone_id, milestone_id),
                due_at,
                {field_names.get(fid, fid): texts[n] for fid, n in values} if values else {},
                tuple([(i, author, texts[n], created_at) for i, author, n, created_at in comments]),
                tuple(
                    [
                        (checklist_id, texts[n], tuple([(item_id, texts[m], done) for item_id, m, done in items]))
                        for checklist_id, n, items in checklists
                    ]
                ),
                (),
                archived,
            )
            if not attachments:
                by_column[column_id].append((order, pack(packed)))
                continue
            # a file key is an object, not a value: such a card is kept as nodes
            nodes = _attachment_nodes(fields, texts, binaries, attachments)
            by_column[column_id].append((order, unpack(pack(packed))._replace(attachments=nodes)))


class BoardChecker(BoardReader):
    """One board checked as `BoardDecryptor` decrypts it, without building its cards.

    Every check is the same: shapes and ids, every envelope opened under its key and
    associated data, texts UTF-8, descriptions Yjs states (each loaded into a document, its
    Markdown not read out), file keys of 32 bytes.  What is
    kept is what a backup's verify reports: the number of cards and the attachments (with
    their file keys, to open their content).
    """

    def __init__(
        self,
        header: _Json,
        key: BoardKey,
        members: Mapping[str, str],
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(header, key, members, strict=strict)
        self._loads = _loads_of()
        self._card_count = 0
        self._attachments: list[ExportAttachment] = []

    def finish(self) -> CheckedBoard:
        return CheckedBoard(
            self.board_id,
            self._workspace_id,
            self._title,
            self._card_count,
            tuple(self._attachments),
            tuple(self._failures),
        )

    def _take(self, fields: _Fields, queued: list[_Queued], texts: list[str], binaries: list[bytes | None]) -> None:
        """Load each description into a Yjs document, as the decryptor does before it reads the
        Markdown out (the only step that can refuse one); keep the attachments."""
        loads = self._loads
        for card in queued:
            fields.checked(binaries, card[4], loads, "a Yjs document")
            if card[12]:
                self._attachments += _attachment_nodes(fields, texts, binaries, card[12])
        self._card_count += len(queued)


def _attachment_nodes(
    fields: _Fields, texts: list[str], binaries: list[bytes | None], attachments: list[_QueuedAttachment]
) -> tuple[ExportAttachment, ...]:
    """A card's attachments from their opened fields (a file key that does not open is None)."""
    return tuple(
        [
            ExportAttachment(a_id, texts[n], texts[m], size, fields.file_key(binaries, k))
            for a_id, n, m, size, k in attachments
        ]
    )


def _queue_attachment(
    attachment: _Json, queue: Callable[[object, FieldSpec, str], int], binary: Callable[[object, FieldSpec, str], int]
) -> _QueuedAttachment:
    attachment_id = valid_id(attachment, "id", "attachment")
    return (
        attachment_id,
        queue(attachment.get("encName"), _ATTACHMENT_ENCNAME, attachment_id),
        queue(attachment.get("encMime"), _ATTACHMENT_ENCMIME, attachment_id),
        int(number(attachment, "size", "attachment", 0.0)),
        binary(attachment.get("encFileKey"), _ATTACHMENT_ENCFILEKEY, attachment_id),
    )


def _markdown_of() -> Callable[[bytes], str]:
    """Yjs state -> Markdown; a card never given a description stores the empty state: no Y.Doc."""
    from .._description import EMPTY_UPDATE, text_of

    def markdown(state: bytes) -> str:
        return "" if state == EMPTY_UPDATE else text_of(state)

    return markdown


def _loads_of() -> Callable[[bytes], object]:
    """Yjs state -> a Y.Doc holding it (the empty state needs none), its text never read.

    Applying the state is what can fail, and what costs: a structural check alone (pycrdt's
    `get_state`, which only decodes it) passes states whose items name a parent that is not a
    shared type, which no document takes.  Reading the text out of a document that took the
    state has not been seen to fail, and costs as much again as the rest of a card's check."""
    from .._description import load

    return load
