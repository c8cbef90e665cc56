"""`msk export` against the real sandbox: both read strategies, selection, formats, attachments,
a server that swaps ciphertext between fields, and --strict."""

from __future__ import annotations

import io
import json
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from _accounts import PASSWORD
from export._schema import errors, load_schema

from mskclient import AsyncClient, Client, Pacer
from mskclient.client import Request, Response
from mskclient.export import UNDECRYPTABLE, aexport_online, export_online

from .conftest import User, new_user

ATTACHMENT = "Anhang — 日本語 ✓\n".encode() * 9000  # several secretstream chunks


@pytest.fixture(scope="module")
def owner(sandbox_url: str, config_dir: Path) -> Iterator[tuple[User, Client, dict[str, str]]]:
    """An account with boards A, B (workspace W1) and C (W2), built through the Python client."""
    user = new_user(sandbox_url, config_dir, "exp")
    client = Client(sandbox_url, pacer=Pacer.unlimited())
    client.login(user.email, PASSWORD)
    w1, w2 = client.create_workspace("Werkstatt"), client.create_workspace("Zweiter Raum")
    a = client.create_board(w1.id, "Board A ✓", "Beschreibung *A*")
    b = client.create_board(w1.id, "Board B")
    c = client.create_board(w2.id, "Board C")
    todo = client.create_column(a.id, "Zu tun")
    done = client.create_column(a.id, "Fertig")
    label = client.create_label(a.id, "dringend", "#ff0000")
    milestone = client.create_milestone(a.id, "v1")
    field = client.create_custom_field(a.id, "Aufwand", "number")
    card = client.create_card(todo.id, "Karte eins — ü", "# Titel\n\nText mit **fett**\n")
    client.add_label(card.id, label.id)
    client.set_milestone(card.id, milestone.id)
    client.update_milestone(milestone.id, archived=True, board_id=a.id)  # still named in the export
    client.set_custom_field_value(card.id, field.id, "3")
    client.assign(card.id, client.user.id if client.user else "")
    client.add_comment(card.id, "erster Kommentar")
    steps = client.add_checklist(card.id, "Schritte")
    client.add_item(steps.id, "a", done=True, board_id=a.id)
    client.add_item(steps.id, "b", board_id=a.id)
    attachment = client.upload_attachment(card.id, io.BytesIO(ATTACHMENT), "../böse/../name.txt", "text/plain")
    plain = client.create_card(done.id, "Karte zwei")
    for board in (b, c):
        client.create_card(client.create_column(board.id, "Spalte").id, f"Karte auf {board.title}")
    ids = {"A": a.id, "B": b.id, "C": c.id, "card": card.id, "plain": plain.id, "todo": todo.id,
           "attachment": attachment.id, "w2": w2.id}  # fmt: skip
    yield user, client, ids
    client.close()


def _export(user: User, out: Path, *args: str, ok: bool = True) -> tuple[Any, dict[str, Any] | None]:
    ran = user("export", *args, "--out", str(out), "--json", ok=ok)
    summary = json.loads(ran.out) if ran.out else None
    path = out / "export.json"
    return summary, json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def test_one_board_with_per_card_reads(owner: tuple[User, Client, dict[str, str]], tmp_path: Path) -> None:
    user, _, ids = owner
    summary, doc = _export(user, tmp_path, "Board A ✓")
    assert summary["read"] == "cards" and summary["boards"] == 1 and summary["cards"] == 2
    assert 5 < summary["requests"] < 30
    assert doc is not None and errors(doc, load_schema()) == [] and doc["errors"] == []
    (board,) = doc["boards"]
    assert (board["id"], board["title"], board["description"]) == (ids["A"], "Board A ✓", "Beschreibung *A*")
    assert [c["title"] for c in board["columns"]] == ["Zu tun", "Fertig"]
    card = board["columns"][0]["cards"][0]
    assert card["title"] == "Karte eins — ü" and card["description"] == "# Titel\n\nText mit **fett**\n"
    assert (card["labels"], card["assignees"], card["milestone"]) == (["dringend"], [user.email], "v1")
    assert card["customFields"] == {"Aufwand": "3"}
    assert [c["body"] for c in card["comments"]] == ["erster Kommentar"]
    assert card["comments"][0]["author"] == user.email
    assert card["checklists"] == [{"title": "Schritte", "items": [{"text": "a", "done": True},
                                                                    {"text": "b", "done": False}]}]  # fmt: skip
    assert card["attachments"] == [{"name": "../böse/../name.txt", "mime": "text/plain", "size": len(ATTACHMENT)}]


def test_bulk_read_gives_the_same_content(owner: tuple[User, Client, dict[str, str]], tmp_path: Path) -> None:
    user, _, _ = owner
    per_card = _export(user, tmp_path / "a", "Board A ✓")[1]
    summary, bulk = _export(user, tmp_path / "b", "Board A ✓", "--via", "export")
    assert summary["read"] == "export" and summary["requests"] <= 8
    assert per_card is not None and bulk is not None and per_card["boards"] == bulk["boards"]


def test_all_and_workspace(owner: tuple[User, Client, dict[str, str]], tmp_path: Path) -> None:
    user, _, ids = owner
    summary, doc = _export(user, tmp_path / "all", "--all")
    assert summary["read"] == "export" and doc is not None
    assert sorted(b["id"] for b in doc["boards"]) == sorted([ids["A"], ids["B"], ids["C"]])
    summary, doc = _export(user, tmp_path / "ws", "--workspace", "Zweiter Raum")
    assert doc is not None and [b["title"] for b in doc["boards"]] == ["Board C"]
    summary, doc = _export(user, tmp_path / "ids", ids["B"], ids["C"], "--via", "cards")
    assert summary["read"] == "cards" and doc is not None and [b["id"] for b in doc["boards"]] == [ids["B"], ids["C"]]


def test_attachments_are_streamed_to_safe_names(owner: tuple[User, Client, dict[str, str]], tmp_path: Path) -> None:
    user, _, ids = owner
    files = tmp_path / "files"
    for via in ("cards", "export"):  # the second run replaces the first one's attachment: --force
        summary, doc = _export(user, tmp_path / via, "Board A ✓", "--attachments", str(files), "--via", via, "--force")
        assert summary["attachments"] == 1 and doc is not None
        (saved,) = files.iterdir()
        assert saved.name == f"{ids['attachment']}-_böse_.._name.txt"
        assert saved.read_bytes() == ATTACHMENT
        (attachment,) = doc["boards"][0]["columns"][0]["cards"][0]["attachments"]
        assert attachment["file"] == f"../files/{saved.name}"
        assert errors(doc, load_schema()) == []


def test_formats_online(owner: tuple[User, Client, dict[str, str]], tmp_path: Path) -> None:
    user, _, ids = owner
    for fmt, name in (("markdown", f"{ids['A']}-Board A ✓.md"), ("csv", "cards.csv"), ("html", "export.html")):
        user("export", "Board A ✓", "--format", fmt, "--out", str(tmp_path / fmt))
        content = (tmp_path / fmt / name).read_text(encoding="utf-8")
        assert "Karte eins — ü" in content


def test_several_formats_share_one_read_and_one_copy_of_each_attachment(
    owner: tuple[User, Client, dict[str, str]], tmp_path: Path
) -> None:
    user, _, ids = owner
    files = tmp_path / "files"
    one, _ = _export(user, tmp_path / "one", "Board A ✓", "--via", "cards", "--attachments", str(tmp_path / "f1"))
    summary, doc = _export(
        user, tmp_path / "all", "Board A ✓", "--via", "cards", "--attachments", str(files),
        "--format", "json,markdown", "--format", "csv", "--format", "html", "--format", "json",
    )  # fmt: skip
    # every format from the same reads: no more requests than one format, the attachment fetched once
    assert summary["requests"] == one["requests"] and summary["attachments"] == 1
    out = tmp_path / "all"
    assert summary["files"] == [
        str(out / n) for n in ("export.json", f"{ids['A']}-Board A ✓.md", "cards.csv", "export.html")
    ]
    (saved,) = files.iterdir()
    link = f"../files/{saved.name}"
    assert doc is not None and doc["boards"][0]["columns"][0]["cards"][0]["attachments"][0]["file"] == link
    encoded = quote(link)
    assert f"]({encoded})" in (out / f"{ids['A']}-Board A ✓.md").read_text(encoding="utf-8")
    assert f'href="{encoded}"' in (out / "export.html").read_text(encoding="utf-8")
    assert link in (out / "cards.csv").read_text(encoding="utf-8")
    ran = user("export", "Board A ✓", "--format", "json,pdf", "--out", str(tmp_path / "x"), ok=False)
    assert ran.code == 2 and "'pdf' is not one of json, markdown, csv, html" in ran.err


def test_an_earlier_export_is_not_overwritten_without_force(
    owner: tuple[User, Client, dict[str, str]], tmp_path: Path
) -> None:
    user, _, ids = owner
    out, files = tmp_path / "out", tmp_path / "files"
    user("export", "Board A ✓", "--out", str(out), "--format", "markdown,json", "--attachments", str(files))
    before = {p: p.read_bytes() for p in [*out.iterdir(), *files.iterdir()]}
    ran = user("export", "Board A ✓", "--out", str(out), ok=False)  # json: refused before any read
    assert ran.code == 2 and ran.out == ""
    assert ran.err == f"msk: error: {out / 'export.json'} exists; pass --force to overwrite an earlier export\n"
    markdown = out / f"{ids['A']}-Board A ✓.md"
    ran = user("export", "Board A ✓", "--out", str(out), "--format", "markdown", ok=False)  # named after the read
    assert ran.code == 2 and f"{markdown} exists;" in ran.err
    ran = user("export", "Board A ✓", "--out", str(tmp_path / "new"), "--attachments", str(files), ok=False)
    assert ran.code == 2 and f"{next(files.iterdir())} exists;" in ran.err and not (tmp_path / "new").exists()
    ran = user("export", "Board A ✓", "--out", str(out), "--format", "csv,markdown", ok=False)
    assert ran.code == 2 and f"{markdown} exists;" in ran.err and not (out / "cards.csv").exists()
    assert {p: p.read_bytes() for p in [*out.iterdir(), *files.iterdir()]} == before
    forced = user("export", "Board A ✓", "--out", str(out), "--format", "markdown,json", "--force")
    assert forced.out.startswith("Exported 1 board, 2 cards with ") and " requests (" in forced.out
    assert json.loads((out / "export.json").read_text(encoding="utf-8"))["exportedAt"] != ""


def _patch(client: Client, card_id: str, body: dict[str, Any]) -> None:
    """What a hostile server can do: put another entity's ciphertext into a card."""

    def flow() -> Generator[Request, Response, None]:
        version = (yield Request("GET", f"/cards/{card_id}")).json()["version"]
        yield Request("PATCH", f"/cards/{card_id}", json=body, headers={"If-Match": f'"{version}"'})

    client.run(flow())


def test_swapped_field_is_marked_and_strict_fails(owner: tuple[User, Client, dict[str, str]], tmp_path: Path) -> None:
    user, client, ids = owner
    bundle = next(b for w in client.export_me()["workspaces"] for b in w["boards"] if b["board"]["id"] == ids["A"])
    original = next(c for c in bundle["cards"] if c["id"] == ids["plain"])["encTitle"]
    column = next(c for c in bundle["columns"] if c["id"] == ids["todo"])
    _patch(client, ids["plain"], {"encTitle": column["encTitle"]})
    for via in ("cards", "export"):
        ran = user("export", "Board A ✓", "--via", via, "--out", str(tmp_path / via), ok=False)
        assert ran.code == 10 and f"card {ids['plain']} field encTitle" in ran.err
        doc = json.loads((tmp_path / via / "export.json").read_text(encoding="utf-8"))
        assert doc["boards"][0]["columns"][1]["cards"][0]["title"] == UNDECRYPTABLE
        assert [(e["entity"], e["id"], e["field"]) for e in doc["errors"]] == [("card", ids["plain"], "encTitle")]
        strict = user("export", "Board A ✓", "--via", via, "--strict", "--out", str(tmp_path / f"s{via}"), ok=False)
        assert strict.code == 8 and not (tmp_path / f"s{via}").exists()
    _patch(client, ids["plain"], {"encTitle": original})
    assert client.card(ids["plain"]).title == "Karte zwei"


def test_big_boards_use_one_bulk_read(sandbox_url: str, config_dir: Path, tmp_path: Path) -> None:
    user = new_user(sandbox_url, config_dir, "big")
    with Client(sandbox_url, pacer=Pacer.unlimited()) as client:
        client.login(user.email, PASSWORD)
        ws = client.create_workspace("W")
        big = client.create_board(ws.id, "Groß")
        client.create_board(ws.id, "Klein")
        client.create_board(ws.id, "Klein 2")  # so "Groß" is a third of the account: the card count decides
        column = client.create_column(big.id, "Spalte")
        for i in range(31):
            client.add_comment(client.create_card(column.id, f"Karte {i}").id, f"Kommentar {i}")
    summary, doc = _export(user, tmp_path, "Groß")
    assert summary["read"] == "export" and summary["cards"] == 31 and summary["requests"] < 10
    assert _export(user, tmp_path / "k", "Klein", "Klein 2")[0]["read"] == "export"  # two thirds of the account
    assert doc is not None and [len(c["cards"]) for c in doc["boards"][0]["columns"]] == [31]
    forced, _ = _export(user, tmp_path / "cards", "Groß", "--via", "cards")
    assert forced["read"] == "cards" and forced["requests"] > 31 + 5


def test_truncated_attachment_leaves_nothing(sandbox_url: str, config_dir: Path, tmp_path: Path) -> None:
    """A server that cuts an attachment short: the export fails clearly and writes no file at all."""
    from mskclient._profile import field as spec
    from mskclient.crypto import FileKey, encrypt_field, encrypt_file, wrap_file_key

    user = new_user(sandbox_url, config_dir, "trunc")
    with Client(sandbox_url, pacer=Pacer.unlimited()) as client:
        client.login(user.email, PASSWORD)
        board = client.create_board(client.create_workspace("W").id, "B")
        card = client.create_card(client.create_column(board.id, "C").id, "K")
        bk, fk = client.board_key(board.id), FileKey.generate()
        cipher = io.BytesIO()
        encrypt_file(fk, io.BytesIO(ATTACHMENT), cipher)
        meta = {
            "encName": str(encrypt_field(bk, b"cut.txt", spec("attachment", "encName"))),
            "encMime": str(encrypt_field(bk, b"text/plain", spec("attachment", "encMime"))),
            "encFileKey": str(wrap_file_key(bk, fk)),
            "size": len(ATTACHMENT),
        }
        truncated = cipher.getvalue()[: 24 + 65536 + 17 + 100]

        def upload() -> Generator[Request, Response, None]:
            yield Request("POST", f"/cards/{card.id}/attachments", files={
                "meta": (None, json.dumps(meta), "application/json"),
                "file": ("x", truncated, "application/octet-stream"),
            })  # fmt: skip

        client.run(upload())
    out, files = tmp_path / "out", tmp_path / "files"
    for via in ("cards", "export"):
        ran = user("export", "B", "--attachments", str(files), "--out", str(out), "--via", via, ok=False)
        assert ran.code == 8 and "attachment" in ran.err
        assert not out.exists() and (not files.exists() or list(files.iterdir()) == [])


@pytest.mark.parametrize("strategy", ["export", "cards"])
async def test_the_async_client_exports_what_the_blocking_one_does(
    owner: tuple[User, Client, dict[str, str]], sandbox_url: str, strategy: str
) -> None:
    _, client, ids = owner
    blocking = export_online(client, boards=[ids["A"], ids["C"]], strategy=strategy)
    steps: list[str] = []
    async with AsyncClient(sandbox_url, token=client.token, email=client.email, pacer=Pacer.unlimited()) as api:
        api.use_keys(client.keys)
        online = await aexport_online(api, boards=[ids["A"], ids["C"]], strategy=strategy, step=steps.append)
        assert online.requests == api.requests > 0
    assert online.strategy == blocking.strategy == strategy
    assert [b.id for b in online.result.boards] == [ids["A"], ids["C"]]
    assert online.result.boards == blocking.result.boards
    assert steps and all(isinstance(step, str) for step in steps)
