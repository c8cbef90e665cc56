"""Decrypt one board bundle (the per-board shape of `/me/export`, profile §6) with its Board Key.

All envelopes of a board are collected first and opened in one `decrypt_batch` call
(the native path uses every core), then the tree is assembled.  A field that does not
open becomes `UNDECRYPTABLE` plus a `FieldFailure`; `strict=True` raises the first
failure instead.  Shapes and ids are checked as they are read, so a hostile server or a
damaged file gives a ProtocolError, not a crash.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import is_
from typing import Any

from .._errors import CryptoError, MskError, ProtocolError
from .._profile import ID_PATTERN, FieldSpec, field, is_valid_id
from ..crypto import BoardKey, FileKey, Where, decrypt_batch
from ._tree import (
    UNDECRYPTABLE,
    ExportAttachment,
    ExportBoard,
    ExportCard,
    ExportChecklist,
    ExportChecklistItem,
    ExportColumn,
    ExportComment,
    FieldFailure,
)

__all__ = ["decrypt_board", "members_by_id", "obj", "obj_list", "text", "valid_id"]

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


def obj(value: object, what: str) -> _Json:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise ProtocolError(f"{what} is not a JSON object")
    return value


def obj_list(parent: _Json, key: str, what: str) -> list[_Json]:
    value = parent.get(key, [])
    if type(value) is not list:
        raise ProtocolError(f"{what}.{key} is not a JSON array")
    if all(map(is_, map(type, value), repeat(dict))):  # what json.loads gives: no copy
        return value
    return [obj(item, f"{what}.{key}[]") for item in value]


def valid_id(parent: _Json, key: str, what: str, *, optional: bool = False) -> str | None:
    value = parent.get(key)
    if type(value) is str and _is_id(value) is not None:
        return value
    if value is None and optional:
        return None
    raise ProtocolError(f"{what}.{key} is not a valid id: {str(value)[:80]!r}")


def _id(parent: _Json, key: str, what: str) -> str:
    value = valid_id(parent, key, what)
    assert value is not None
    return value


def text(parent: _Json, key: str, what: str, *, default: str | None = None) -> str:
    value = parent.get(key, default)
    if not isinstance(value, str):
        raise ProtocolError(f"{what}.{key} is not a string")
    return value


def _opt_text(parent: _Json, key: str, what: str) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f"{what}.{key} is not a string or null")
    return value


def _bool(parent: _Json, key: str, what: str) -> bool:
    value = parent.get(key, False)
    if value is not True and value is not False:
        raise ProtocolError(f"{what}.{key} is not a boolean")
    return value


def _number(parent: _Json, key: str, what: str) -> float:
    value = parent.get(key, 0)
    if type(value) is not int and type(value) is not float:
        raise ProtocolError(f"{what}.{key} is not a number")
    return float(value)


def _ids(parent: _Json, key: str, what: str) -> list[str]:
    value = parent.get(key, [])
    if type(value) is not list or not all(type(v) is str and _is_id(v) is not None for v in value):
        raise ProtocolError(f"{what}.{key} is not an array of valid ids")
    return value


def _all_ids(values: list[object]) -> bool:
    """Every value is an id string (the fast path of `_ids`, which reports the error)."""
    return all(type(value) is str and _is_id(value) is not None for value in values)


def _order(items: list[_Json], what: str) -> list[_Json]:
    """Profile §6 order: position, then createdAt, then id (a single item needs no key)."""
    if len(items) < 2:
        return items
    for item in items:  # positions are checked first, so the key can convert without checks
        position = item.get("position", 0)
        if type(position) is not int and type(position) is not float:
            _number(item, "position", what)
    return sorted(items, key=_order_key)


def _order_key(item: _Json) -> tuple[float, str, str]:
    # a missing id sorts as "None"; the id check that follows reports it as a ProtocolError
    return float(item.get("position", 0)), str(item.get("createdAt", "")), str(item.get("id"))


def _comment_order(comment: _Json) -> tuple[str, str]:
    """Comments sort by createdAt (profile §6), then id."""
    return str(comment.get("createdAt", "")), str(comment.get("id"))


def members_by_id(members: Sequence[_Json]) -> dict[str, str]:
    """userId -> email of a workspace's members (authors and assignees are shown by email)."""
    return {_id(m, "userId", "member"): text(m, "email", "member") for m in members}


class _Opener:
    """Collects envelopes, opens them in one batch, hands back text or the failure mark."""

    def __init__(self, board_id: str, key: BoardKey, strict: bool) -> None:
        self._board_id = board_id
        self._key = key
        self._strict = strict
        self._items: list[tuple[str, FieldSpec, str | None]] = []
        self._results: list[bytes | CryptoError] = []
        self.failures: list[FieldFailure] = []

    def add(self, envelope: object, spec: FieldSpec, entity_id: str | None) -> int:
        """Queue one envelope; -1 for an absent optional field (null or missing)."""
        if envelope is None:
            return -1
        if not isinstance(envelope, str):
            raise ProtocolError(f"{spec.entity} {entity_id} field {spec.name} is not an envelope string")
        self._items.append((envelope, spec, entity_id))
        return len(self._items) - 1

    def run(self) -> None:
        self._results = decrypt_batch(self._key, self._items)

    def _fail(self, index: int, error: MskError, reason: str | None = None) -> None:
        if self._strict:
            raise error
        _, spec, entity_id = self._items[index]
        self.failures.append(
            FieldFailure(
                self._board_id, spec.entity, entity_id, spec.name, reason or str(getattr(error, "reason", error))
            )
        )

    def raw(self, index: int) -> bytes | None:
        """The plaintext bytes, or None after recording the failure."""
        if index < 0:
            return b""
        result = self._results[index]
        if isinstance(result, CryptoError):
            self._fail(index, result)
            return None
        return result

    def text(self, index: int) -> str:
        result = self._results[index] if index >= 0 else b""
        if isinstance(result, bytes):
            data = result
        else:  # the failure path records it
            self._fail(index, result)
            return UNDECRYPTABLE
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(index, self._where(index).decryption_error("plaintext is not UTF-8"))
            return UNDECRYPTABLE

    def converted(self, index: int, convert: Callable[[bytes], str], what: str) -> str:
        """Plaintext through `convert` (e.g. Yjs state -> Markdown); its failure is a field failure."""
        data = self.raw(index)
        if data is None:
            return UNDECRYPTABLE
        if not data:
            return ""
        try:
            return convert(data)
        except Exception:  # a foreign decoder (pycrdt) rejects the bytes: report the field
            self._fail(index, self._where(index).decryption_error(f"plaintext is not {what}"))
            return UNDECRYPTABLE

    def file_key(self, index: int) -> FileKey | None:
        data = self.raw(index)
        if data is None:
            return None
        try:
            return FileKey(data)
        except (TypeError, ValueError):
            self._fail(index, self._where(index).decryption_error("not a 32-byte file key"))
            return None

    def _where(self, index: int) -> Where:
        _, spec, entity_id = self._items[index]
        return Where.of(spec, entity_id)


def _yjs_markdown(state: bytes) -> str:
    from .._description import text_of

    return text_of(state)


@contextlib.contextmanager
def _no_collections() -> Iterator[None]:
    """Pause the cyclic GC while a board's tree is built.

    Building allocates tens of thousands of acyclic containers; each collection it would
    trigger re-traverses the just-parsed export document (~15 % of the decryption time on
    a 2,000-card board).  The previous state is restored, so a caller that disabled the GC
    keeps it disabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decrypt_board(
    bundle: _Json,
    key: BoardKey,
    members: Mapping[str, str],
    *,
    strict: bool = False,
    description_text: Callable[[bytes], str] = _yjs_markdown,
) -> ExportBoard:
    """Decrypt `{board, columns, labels, milestones, customFields, cardTemplates, cards}`.

    `members` maps user ids to emails (see `members_by_id`); unknown ids are shown as ids.
    """
    with _no_collections():
        return _decrypt_board(bundle, key, members, strict, description_text)


def _decrypt_board(
    bundle: _Json, key: BoardKey, members: Mapping[str, str], strict: bool, description_text: Callable[[bytes], str]
) -> ExportBoard:
    board = obj(bundle.get("board"), "board")
    board_id = _id(board, "id", "board")
    op = _Opener(board_id, key, strict)
    b_title = op.add(board.get("encTitle"), _BOARD_ENCTITLE, board_id)
    b_desc = op.add(board.get("encDescription"), _BOARD_ENCDESCRIPTION, board_id)

    columns = _order(obj_list(bundle, "columns", "board"), "column")
    col_titles = {_id(c, "id", "column"): op.add(c.get("encTitle"), _COLUMN_ENCTITLE, str(c["id"])) for c in columns}
    labels = {
        _id(x, "id", "label"): op.add(x.get("encName"), _LABEL_ENCNAME, str(x["id"]))
        for x in obj_list(bundle, "labels", "board")
    }
    milestones = {
        _id(x, "id", "milestone"): op.add(x.get("encTitle"), _MILESTONE_ENCTITLE, str(x["id"]))
        for x in obj_list(bundle, "milestones", "board")
    }
    custom = {
        _id(x, "id", "customField"): op.add(x.get("encName"), _CUSTOMFIELD_ENCNAME, str(x["id"]))
        for x in obj_list(bundle, "customFields", "board")
    }

    cards = _order(obj_list(bundle, "cards", "board"), "card")
    # The loops below run per card, comment and item: ids are checked inline and the
    # validators above are called only to raise their error, in the same order as before.
    add = op.add
    queued = []
    for card in cards:
        cid = card.get("id")
        if type(cid) is not str or _is_id(cid) is None:
            cid = _id(card, "id", "card")
        column_id = card.get("columnId")
        if type(column_id) is not str or _is_id(column_id) is None:
            column_id = valid_id(card, "columnId", "card")
        if column_id not in col_titles:
            raise ProtocolError(f"card {cid} is in a column that is not on board {board_id}")
        fields = card.get("customFields") or _NO_FIELDS
        if fields and (not isinstance(fields, Mapping) or not all(is_valid_id(k) for k in fields)):
            raise ProtocolError(f"card {cid}.customFields is not an object keyed by field ids")
        card_comments = obj_list(card, "comments", "card")
        if len(card_comments) > 1:
            card_comments = sorted(card_comments, key=_comment_order)
        files = obj_list(card, "attachments", "card")
        title = add(card.get("encTitle"), _CARD_ENCTITLE, cid)
        description = add(card.get("encDescription"), _CARD_ENCDESCRIPTION, cid)
        custom_values = {fid: add(v, _CARD_CUSTOMFIELDS, cid) for fid, v in fields.items()}
        queued_comments = []
        for c in card_comments:
            comment_id = c.get("id")
            if type(comment_id) is not str or _is_id(comment_id) is None:
                comment_id = _id(c, "id", "comment")
            queued_comments.append((c, add(c.get("encBody"), _COMMENT_ENCBODY, comment_id)))
        queued_checklists = []
        for cl in _order(obj_list(card, "checklists", "card"), "checklist"):
            checklist_id = cl.get("id")
            if type(checklist_id) is not str or _is_id(checklist_id) is None:
                checklist_id = _id(cl, "id", "checklist")
            checklist_title = add(cl.get("encTitle"), _CHECKLIST_ENCTITLE, checklist_id)
            queued_items = []
            for it in _order(obj_list(cl, "items", "checklist"), "checklistItem"):
                item_id = it.get("id")
                if type(item_id) is not str or _is_id(item_id) is None:
                    item_id = _id(it, "id", "checklistItem")
                queued_items.append((it, add(it.get("encText"), _CHECKLISTITEM_ENCTEXT, item_id)))
            queued_checklists.append((cl, checklist_title, queued_items))
        queued.append(
            (
                card,
                title,
                description,
                custom_values,
                queued_comments,
                queued_checklists,
                [
                    (
                        a,
                        add(a.get("encName"), _ATTACHMENT_ENCNAME, _id(a, "id", "attachment")),
                        add(a.get("encMime"), _ATTACHMENT_ENCMIME, a["id"]),
                        add(a.get("encFileKey"), _ATTACHMENT_ENCFILEKEY, a["id"]),
                    )
                    for a in files
                ]
                if files
                else [],
            )
        )

    op.run()
    t = op.text
    label_names = {i: t(n) for i, n in labels.items()}
    milestone_titles = {i: t(n) for i, n in milestones.items()}
    field_names = {i: t(n) for i, n in custom.items()}
    convert = description_text
    if convert is _yjs_markdown:  # resolve the lazy import once per board, not once per card
        from .._description import empty_state, text_of

        empty = empty_state()

        def convert(state: bytes) -> str:
            """A card never given a description stores the empty state: no Y.Doc needed."""
            return "" if state == empty else text_of(state)

    get_member = members.get
    by_column: dict[str, list[ExportCard]] = {cid: [] for cid in col_titles}
    for card, title, description, custom_values, queued_comments, queued_checklists, queued_files in queued:
        milestone_id = card.get("milestoneId")
        if milestone_id is not None and (type(milestone_id) is not str or _is_id(milestone_id) is None):
            milestone_id = valid_id(card, "milestoneId", "card", optional=True)
        comments = []
        for c, n in queued_comments:
            author = str(c.get("authorId"))
            body = t(n)
            created_at = c.get("createdAt", "")
            if type(created_at) is not str:
                created_at = text(c, "createdAt", "comment", default="")
            comments.append(ExportComment(c["id"], get_member(author, author), body, created_at))
        checklists = []
        for cl, n, queued_items in queued_checklists:
            list_title = t(n)
            entries = []
            for it, m in queued_items:
                item_text = t(m)
                done = it.get("done", False)
                if done is not True and done is not False:
                    done = _bool(it, "done", "checklistItem")
                entries.append(ExportChecklistItem(it["id"], item_text, done))
            checklists.append(ExportChecklist(cl["id"], list_title, tuple(entries)))
        attachments = [
            ExportAttachment(a["id"], t(n), t(m), int(_number(a, "size", "attachment")), op.file_key(k))
            for a, n, m, k in queued_files
        ]
        card_title = t(title)
        card_description = op.converted(description, convert, "a Yjs document")
        label_ids = card.get("labelIds", _NO_IDS)
        if type(label_ids) is not list or (label_ids and not _all_ids(label_ids)):
            label_ids = _ids(card, "labelIds", "card")
        assignee_ids = card.get("assigneeIds", _NO_IDS)
        if type(assignee_ids) is not list or (assignee_ids and not _all_ids(assignee_ids)):
            assignee_ids = _ids(card, "assigneeIds", "card")
        due_at = card.get("dueAt")
        if due_at is not None and type(due_at) is not str:
            due_at = _opt_text(card, "dueAt", "card")
        custom_fields = {field_names.get(fid, fid): t(n) for fid, n in custom_values.items()} if custom_values else {}
        archived = card.get("archived", False)
        if archived is not True and archived is not False:
            archived = _bool(card, "archived", "card")
        by_column[card["columnId"]].append(
            ExportCard(
                card["id"],
                card_title,
                card_description,
                tuple([label_names.get(i, i) for i in label_ids]) if label_ids else (),
                tuple([get_member(i, i) for i in assignee_ids]) if assignee_ids else (),
                None if milestone_id is None else milestone_titles.get(milestone_id, milestone_id),
                due_at,
                custom_fields,
                tuple(comments),
                tuple(checklists),
                tuple(attachments),
                archived,
            )
        )
    return ExportBoard(
        id=board_id,
        workspace_id=text(board, "workspaceId", "board", default=""),
        title=op.text(b_title),
        description=op.text(b_desc),
        archived=_bool(board, "archived", "board"),
        columns=tuple(
            ExportColumn(id=cid, title=op.text(n), cards=tuple(by_column[cid])) for cid, n in col_titles.items()
        ),
        failures=tuple(op.failures),
    )
