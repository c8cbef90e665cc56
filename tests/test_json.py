"""The one vocabulary for checking server JSON: its wording, its defaults, its error types."""

from __future__ import annotations

from typing import Any

import pytest

from mskclient._errors import KdfParametersError, ProtocolError
from mskclient._json import (
    Obj,
    flag,
    ids,
    integer,
    json_object,
    mapping,
    number,
    obj_list,
    opt_id,
    opt_text,
    read_array,
    text,
    valid_id,
)

CARD_ID = "ckv9x2m3p0000abcd"


@pytest.mark.parametrize(
    ("read", "data", "message"),
    [
        (lambda d: text(d, "title", "card"), {}, "card.title: missing"),
        (lambda d: text(d, "title", "card"), {"title": None}, "card.title: not a string"),
        (lambda d: text(d, "title", "card", ""), {"title": 3}, "card.title: not a string"),
        (lambda d: opt_text(d, "dueAt", "card"), {"dueAt": 3}, "card.dueAt: not a string"),
        (lambda d: valid_id(d, "id", "card"), {}, "card.id: missing"),
        (lambda d: valid_id(d, "id", "card"), {"id": "../x"}, "card.id: not a valid id: '../x'"),
        (lambda d: valid_id(d, "id", "card"), {"id": "c" * 200}, f"card.id: not a valid id: '{'c' * 80}'"),
        (lambda d: opt_id(d, "milestoneId", "card"), {"milestoneId": 7}, "card.milestoneId: not a valid id: '7'"),
        (lambda d: ids(d, "labelIds", "card"), {"labelIds": ["BAD"]}, "card.labelIds: not an array of valid ids"),
        (lambda d: ids(d, "labelIds", "card"), {"labelIds": CARD_ID}, "card.labelIds: not an array of valid ids"),
        (lambda d: flag(d, "done", "checklistItem"), {}, "checklistItem.done: missing"),
        (lambda d: flag(d, "done", "checklistItem", False), {"done": None}, "checklistItem.done: not a boolean"),
        (lambda d: flag(d, "done", "checklistItem", False), {"done": 1}, "checklistItem.done: not a boolean"),
        (lambda d: integer(d, "size", "attachment"), {"size": True}, "attachment.size: not an integer"),
        (lambda d: integer(d, "size", "attachment"), {"size": 1.0}, "attachment.size: not an integer"),
        (lambda d: integer(d, "size", "attachment"), {}, "attachment.size: missing"),
        (lambda d: number(d, "position", "card", 0.0), {"position": "1"}, "card.position: not a number"),
        (lambda d: number(d, "position", "card"), {"position": False}, "card.position: not a number"),
        (lambda d: mapping(d, "metadata", "event"), {"metadata": [1]}, "event.metadata: not a JSON object"),
        (lambda d: obj_list(d, "cards", "board"), {"cards": {}}, "board.cards: not a JSON array"),
        (lambda d: obj_list(d, "cards", "board"), {"cards": [{}, 1]}, "board.cards[]: not a JSON object"),
    ],
)
def test_each_check_says_entity_field_and_what(read: Any, data: dict[str, object], message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        read(data)
    assert str(caught.value) == message


def test_defaults_stand_for_what_is_absent() -> None:
    assert text({}, "workspaceId", "board", "") == ""
    assert opt_text({"dueAt": None}, "dueAt", "card") is None and opt_id({}, "milestoneId", "card") is None
    assert ids({}, "labelIds", "card") == [] and ids({"labelIds": None}, "labelIds", "card") == []
    assert flag({}, "archived", "card", False) is False
    assert integer({"attempts": None}, "attempts", "delivery", 0) == 0
    assert number({}, "position", "card", 0.0) == 0.0 and number({"position": 2}, "position", "card") == 2.0
    assert mapping({"metadata": None}, "metadata", "event") == {}
    assert obj_list({}, "cards", "board") == [] and obj_list({"cards": None}, "cards", "board") == []


def test_a_list_of_dicts_is_returned_uncopied() -> None:
    cards = [{"id": CARD_ID}]
    assert obj_list({"cards": cards}, "cards", "board") is cards


def test_whole_answers_that_are_not_objects_or_arrays() -> None:
    with pytest.raises(ProtocolError, match=r"^board: not a JSON object$"):
        Obj([], "board")
    with pytest.raises(ProtocolError, match=r"^export\.kdf: not a JSON object$"):
        json_object(None, "export.kdf")
    with pytest.raises(ProtocolError, match=r"^board list: not a JSON array$"):
        read_array({}, "board")
    with pytest.raises(ProtocolError, match=r"^board: not a JSON object$"):
        read_array([{}, "x"], "board")


def test_obj_reads_through_the_same_checks() -> None:
    card = Obj({"id": CARD_ID, "labelIds": [CARD_ID], "archived": True, "comments": [{"id": CARD_ID}]}, "card")
    assert card.id() == CARD_ID and card.ids("labelIds") == (CARD_ID,) and card.flag("archived") is True
    assert [c.id() for c in card.children("comments", "comment")] == [CARD_ID]
    assert card.children("checklists", "checklist", default=True) == []
    with pytest.raises(ProtocolError, match=r"^card\.checklists: missing$"):
        card.children("checklists", "checklist")
    with pytest.raises(ProtocolError, match=r"^card\.user: missing$"):
        card.child("user", "user")


def test_the_caller_names_the_error_type_and_children_inherit_it() -> None:
    init = Obj({"kdf": {"memoryKiB": "65536"}}, "login-init", KdfParametersError)
    kdf = init.child("kdf", "login-init.kdf")
    with pytest.raises(KdfParametersError, match=r"^login-init\.kdf\.memoryKiB: not an integer$"):
        kdf.integer("memoryKiB")
    with pytest.raises(KdfParametersError, match=r"^login-init\.salt: missing$"):
        init.text("salt")
    with pytest.raises(KdfParametersError, match=r"^login-init: not a JSON object$"):
        Obj(None, "login-init", KdfParametersError)
