"""The exporter over genuine ciphertext: content, order, schema, failure marking, hostile input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from mskclient._errors import DecryptionError, KdfParametersError, ProtocolError, UsageError
from mskclient.crypto import AccountKeys
from mskclient.export import (
    UNDECRYPTABLE,
    decrypt_document,
    export_to_json,
    keys_from_password,
    render,
    resolve,
)

from ._build import PASSWORD, Built, enc, new_id
from ._schema import errors, load_schema


def _flip(envelope: str) -> str:
    """Change one symbol of the ciphertext part (a tampering server)."""
    head, tail = envelope.rsplit(".", 1)
    return f"{head}.{tail[:5]}{'B' if tail[5] == 'A' else 'A'}{tail[6:]}"


def _export(built: Built, keys: AccountKeys, **kw: object) -> dict[str, object]:
    return export_to_json(decrypt_document(built.document, keys, **kw))  # type: ignore[arg-type]


def test_json_content_order_and_schema(built: Built, keys: AccountKeys) -> None:
    doc = _export(built, keys)
    assert errors(doc, load_schema()) == []
    assert doc["exportedAt"] == "2026-05-25T12:34:56.789Z" and doc["errors"] == []
    (board,) = doc["boards"]  # type: ignore[misc]
    assert list(board) == ["id", "title", "description", "columns"]
    assert (board["id"], board["title"], board["description"]) == (built.board_id, "Roadmap 🚀", "The *plan*.")
    assert [c["title"] for c in board["columns"]] == ["To do", "Done"]
    first, second = board["columns"][0]["cards"]
    assert first["title"] == 'First <card> & "quotes"' and first["description"] == ""
    assert list(second) == [
        "id",
        "title",
        "description",
        "labels",
        "assignees",
        "milestone",
        "dueAt",
        "customFields",
        "comments",
        "checklists",
        "attachments",
        "archived",
    ]
    assert second["title"] == "Zweite Karte — ünïcödé"
    assert second["description"] == "## Plan\n\n- write *Markdown*\n"
    assert second["labels"] == ["urgent", "backend"]
    assert second["assignees"] == ["ana@example.org", "bo@example.org"]
    assert (second["milestone"], second["dueAt"]) == ("v1.0", "2026-06-01T00:00:00.000Z")
    assert second["customFields"] == {"Priority": "High"}
    assert second["comments"] == [
        {"author": "ana@example.org", "body": "first 👍", "createdAt": "2026-05-25T12:00:01.000Z"},
        {"author": "bo@example.org", "body": "second\nline two", "createdAt": "2026-05-25T12:00:02.000Z"},
    ]
    assert second["checklists"] == [
        {
            "title": "Steps",
            "items": [
                {"text": "one", "done": True},
                {"text": "two", "done": False},
                {"text": "=cmd|' /C calc'!A0", "done": False},
            ],
        }
    ]
    assert second["attachments"] == [{"name": "../../etc/pässwd", "mime": "text/plain", "size": 85000}]
    (archived,) = board["columns"][1]["cards"]
    assert archived["archived"] is True and second["archived"] is False


def test_schema_checker_is_not_vacuous(built: Built, keys: AccountKeys) -> None:
    doc = _export(built, keys)
    card = doc["boards"][0]["columns"][0]["cards"][0]  # type: ignore[index]
    card["extra"] = 1
    card["archived"] = "no"
    del card["labels"]
    doc["boards"][0]["id"] = "NOT-AN-ID"  # type: ignore[index]
    found = errors(doc, load_schema())
    assert len(found) == 4, found


def test_tampered_field_is_marked_and_reported(built: Built, keys: AccountKeys) -> None:
    card = built.card("c2")
    card["encTitle"] = _flip(card["encTitle"])
    doc = _export(built, keys)
    assert errors(doc, load_schema()) == []
    second = doc["boards"][0]["columns"][0]["cards"][1]  # type: ignore[index]
    assert second["title"] == UNDECRYPTABLE
    assert second["comments"][0]["body"] == "first 👍"  # the rest of the card still decrypts
    (error,) = doc["errors"]  # type: ignore[misc]
    assert error == {
        "boardId": built.board_id,
        "entity": "card",
        "id": built.ids["c2"],
        "field": "encTitle",
        "reason": "does not authenticate (wrong key, tampered or moved)",
    }


def test_strict_makes_a_failure_fatal(built: Built, keys: AccountKeys) -> None:
    item = built.card("c2")["checklists"][0]["items"][0]
    item["encText"] = _flip(item["encText"])
    with pytest.raises(DecryptionError) as info:
        decrypt_document(built.document, keys, strict=True)
    assert (info.value.entity, info.value.entity_id, info.value.field) == (
        "checklistItem",
        built.ids["item2"],
        "encText",
    )


def test_fields_swapped_between_entities_do_not_open(built: Built, keys: AccountKeys) -> None:
    card, column = built.card("c1"), built.board()["columns"][1]
    card["encTitle"], column["encTitle"] = column["encTitle"], card["encTitle"]
    comment = built.card("c2")["comments"][0]
    comment["encBody"] = built.card("c3")["encTitle"]
    result = decrypt_document(built.document, keys)
    assert {(f.entity, f.entity_id, f.field) for f in result.failures} == {
        ("card", built.ids["c1"], "encTitle"),
        ("column", built.ids["todo"], "encTitle"),
        ("comment", built.ids["comment2"], "encBody"),
    }


def test_description_that_is_not_yjs_is_marked(built: Built, keys: AccountKeys) -> None:
    built.card("c2")["encDescription"] = enc(built.board_key, "card", "encDescription", b"\xff\x00not yjs")
    result = decrypt_document(built.document, keys)
    assert result.boards[0].columns[0].cards[1].description == UNDECRYPTABLE
    assert [(f.entity, f.field) for f in result.failures] == [("card", "encDescription")]


def test_board_key_that_does_not_open(built: Built, keys: AccountKeys) -> None:
    board = built.board()["board"]
    board["encBoardKey"] = _flip(board["encBoardKey"])
    result = decrypt_document(built.document, keys)
    assert result.boards[0].title == UNDECRYPTABLE and result.boards[0].columns == ()
    assert [(f.entity, f.field) for f in result.failures] == [("board", "encBoardKey")]
    assert errors(export_to_json(result), load_schema()) == []
    with pytest.raises(DecryptionError):
        decrypt_document(built.document, keys, strict=True)


def test_wrong_password(built: Built) -> None:
    with pytest.raises(DecryptionError, match="wrong password"):
        keys_from_password(built.document, PASSWORD + "!")


def test_kdf_downgrade_in_the_file_is_refused(built: Built) -> None:
    built.document["kdf"]["memoryKiB"] = 8
    with pytest.raises(KdfParametersError, match="downgrade"):
        keys_from_password(built.document, PASSWORD)


@pytest.mark.parametrize(
    ("where", "value"),
    [("cardId", "../../admin"), ("columnId", "cunknowncolumn"), ("labelIds", ["BAD"]), ("archived", "yes")],
)
def test_malformed_structure_is_a_protocol_error(built: Built, keys: AccountKeys, where: str, value: object) -> None:
    card = built.card("c1")
    if where == "cardId":
        card["id"] = value
    else:
        card[where] = value
    with pytest.raises(ProtocolError):
        decrypt_document(built.document, keys)


def test_missing_id_among_siblings_is_a_protocol_error(built: Built, keys: AccountKeys) -> None:
    assert len(built.board()["cards"]) > 1  # so the cards are sorted before their ids are checked
    del built.card("c1")["id"]
    with pytest.raises(ProtocolError, match=r"card\.id: missing"):
        decrypt_document(built.document, keys)


def test_selection_by_id_title_and_workspace(built: Built, keys: AccountKeys) -> None:
    assert [b.id for b in decrypt_document(built.document, keys, boards=["roadmap 🚀"]).boards] == [built.board_id]
    assert len(decrypt_document(built.document, keys, workspaces=["Acme"]).boards) == 1
    with pytest.raises(UsageError, match="no board named 'Nope'"):
        decrypt_document(built.document, keys, boards=["Nope"])
    twin = json.loads(json.dumps(built.board()))
    twin["board"]["id"] = new_id()
    twin["cards"] = []
    built.document["workspaces"][0]["boards"].append(twin)
    with pytest.raises(UsageError, match="ambiguous") as info:
        decrypt_document(built.document, keys, boards=["Roadmap 🚀"])
    assert built.board_id in str(info.value) and twin["board"]["id"] in str(info.value)
    only = decrypt_document(built.document, keys, boards=[twin["board"]["id"]])
    assert [b.id for b in only.boards] == [twin["board"]["id"]]


def test_resolve_prefers_exact_ids_and_exact_case() -> None:
    cands = [("cabcdefgh1", "Plan"), ("cabcdefgh2", "plan")]
    assert resolve("board", "Plan", cands) == "cabcdefgh1"
    assert resolve("board", "cabcdefgh2", cands) == "cabcdefgh2"
    with pytest.raises(UsageError, match="ambiguous"):
        resolve("board", "PLAN", cands)


def test_markdown(built: Built, keys: AccountKeys) -> None:
    files = render(decrypt_document(built.document, keys), "markdown")
    (name,) = files
    assert name == f"{built.board_id}-Roadmap 🚀.md"
    text = files[name]
    assert text.startswith("# Roadmap 🚀\n\nThe *plan*.\n")
    assert text.index("## To do") < text.index("### Zweite Karte") < text.index("## Done")
    assert "### Archived one (archived)" in text
    assert "#### Steps\n\n- [x] one\n- [ ] two\n" in text
    assert "**bo@example.org, 2026-05-25T12:00:02.000Z:**\n\n> second\n> line two\n" in text
    assert "- **Labels:** urgent, backend" in text and "- **Priority:** High" in text
    assert "\n###### Plan\n\n- write *Markdown*" in text  # below the card's heading and its sections


def test_csv_row_per_card_and_formula_neutralised(built: Built, keys: AccountKeys) -> None:
    built.card("c1")["encTitle"] = enc(built.board_key, "card", "encTitle", '=HYPERLINK("http://x")')
    (content,) = render(decrypt_document(built.document, keys), "csv").values()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [r["cardId"] for r in rows] == [built.ids["c1"], built.ids["c2"], built.ids["c3"]]
    assert rows[0]["title"] == '\'=HYPERLINK("http://x")'
    assert rows[1]["labels"] == "urgent; backend" and rows[1]["checklistItems"] == "3"
    assert rows[1]["checklistItemsDone"] == "1" and rows[1]["comments"] == "2"
    assert json.loads(rows[1]["customFields"]) == {"Priority": "High"}
    assert rows[2]["archived"] == "true" and rows[1]["column"] == "To do"


def test_html_is_self_contained_and_escaped(built: Built, keys: AccountKeys) -> None:
    built.card("c1")["encTitle"] = enc(built.board_key, "card", "encTitle", "<script>alert(1)</script>")
    (page,) = render(decrypt_document(built.document, keys), "html").values()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('class="column"') == 2 and page.count('<div class="card') == 3
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere
    assert "☑ one" in page and "☐ two" in page


def test_unknown_format(built: Built, keys: AccountKeys) -> None:
    with pytest.raises(UsageError, match="unknown export format"):
        render(decrypt_document(built.document, keys), "pdf")


def test_undecryptable_marks_appear_in_every_format(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    built.board()["columns"][0]["encTitle"] = _flip(built.board()["columns"][0]["encTitle"])
    result = decrypt_document(built.document, keys)
    for fmt in ("json", "markdown", "csv", "html"):
        (content,) = render(result, fmt).values()
        assert UNDECRYPTABLE in content, fmt
