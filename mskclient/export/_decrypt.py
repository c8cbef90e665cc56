"""Decrypt one board bundle (the per-board shape of `/me/export`, profile §6) with its Board Key.

All envelopes of a board are collected first and opened in one `decrypt_batch` call
(the native path uses every core), then the tree is assembled.  A field that does not
open becomes `UNDECRYPTABLE` plus a `FieldFailure`; `strict=True` raises the first
failure instead.  Shapes and ids are checked as they are read, so a hostile server or a
damaged file gives a ProtocolError, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    if all(type(item) is dict for item in value):  # what json.loads gives: no copy
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


def _order(items: list[_Json], what: str) -> list[_Json]:
    """Profile §6 order: position, then createdAt, then id (a single item needs no key)."""
    if len(items) < 2:
        return items
    return sorted(items, key=lambda o: (_number(o, "position", what), str(o.get("createdAt", "")), str(o["id"])))


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
    add = op.add
    queued = []
    for card in cards:
        cid = _id(card, "id", "card")
        if valid_id(card, "columnId", "card") not in col_titles:
            raise ProtocolError(f"card {cid} is in a column that is not on board {board_id}")
        fields = card.get("customFields") or {}
        if not isinstance(fields, Mapping) or not all(is_valid_id(k) for k in fields):
            raise ProtocolError(f"card {cid}.customFields is not an object keyed by field ids")
        card_comments = obj_list(card, "comments", "card")
        if len(card_comments) > 1:
            card_comments = sorted(card_comments, key=_comment_order)
        files = obj_list(card, "attachments", "card")
        queued.append(
            (
                card,
                add(card.get("encTitle"), _CARD_ENCTITLE, cid),
                add(card.get("encDescription"), _CARD_ENCDESCRIPTION, cid),
                {fid: add(v, _CARD_CUSTOMFIELDS, cid) for fid, v in fields.items()},
                [(c, add(c.get("encBody"), _COMMENT_ENCBODY, _id(c, "id", "comment"))) for c in card_comments],
                [
                    (
                        cl,
                        add(cl.get("encTitle"), _CHECKLIST_ENCTITLE, _id(cl, "id", "checklist")),
                        [
                            (it, add(it.get("encText"), _CHECKLISTITEM_ENCTEXT, _id(it, "id", "checklistItem")))
                            for it in _order(obj_list(cl, "items", "checklist"), "checklistItem")
                        ],
                    )
                    for cl in _order(obj_list(card, "checklists", "card"), "checklist")
                ],
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
    by_column: dict[str, list[ExportCard]] = {cid: [] for cid in col_titles}
    for card, title, description, custom_values, queued_comments, queued_checklists, queued_files in queued:
        milestone_id = valid_id(card, "milestoneId", "card", optional=True)
        comments = [
            ExportComment(
                c["id"],
                members.get(str(c.get("authorId")), str(c.get("authorId"))),
                t(n),
                text(c, "createdAt", "comment", default=""),
            )
            for c, n in queued_comments
        ]
        checklists = [
            ExportChecklist(
                cl["id"],
                t(n),
                tuple([ExportChecklistItem(it["id"], t(m), _bool(it, "done", "checklistItem")) for it, m in items]),
            )
            for cl, n, items in queued_checklists
        ]
        attachments = [
            ExportAttachment(a["id"], t(n), t(m), int(_number(a, "size", "attachment")), op.file_key(k))
            for a, n, m, k in queued_files
        ]
        by_column[card["columnId"]].append(
            ExportCard(
                id=card["id"],
                title=t(title),
                description=op.converted(description, description_text, "a Yjs document"),
                labels=tuple([label_names.get(i, i) for i in _ids(card, "labelIds", "card")]),
                assignees=tuple([members.get(i, i) for i in _ids(card, "assigneeIds", "card")]),
                milestone=None if milestone_id is None else milestone_titles.get(milestone_id, milestone_id),
                due_at=_opt_text(card, "dueAt", "card"),
                custom_fields={field_names.get(fid, fid): t(n) for fid, n in custom_values.items()},
                comments=tuple(comments),
                checklists=tuple(checklists),
                attachments=tuple(attachments),
                archived=_bool(card, "archived", "card"),
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
