"""Every resource command against the real sandbox, through `msk` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _accounts import PASSWORD

from mskclient.export import UNDECRYPTABLE

from .conftest import User

_n = iter(range(10_000))


def _board(user: User, workspace: str | None = None) -> tuple[str, str]:
    """A fresh workspace and board; returns (workspace id, board title)."""
    ws_name = workspace or f"WS {next(_n)} ✓"
    ws = user.json("workspaces", "create", ws_name)
    title = f"Board {next(_n)} — ü"
    user("boards", "create", title, "--workspace", ws["id"], "--description", "*Beschreibung*")
    return ws["id"], title


def test_workspaces(ana: User) -> None:
    ws = ana.json("workspaces", "create", "Ünïcode workspace")
    assert ws["name"] == "Ünïcode workspace" and ws["ownerId"]
    assert ws["id"] in [w["id"] for w in ana.json("workspaces", "list")]
    assert "Ünïcode workspace" in ana("workspaces", "list").out
    renamed = ana.json("workspaces", "rename", "Ünïcode workspace", "Renamed 🚀")
    assert renamed["name"] == "Renamed 🚀"
    shown = ana.json("workspaces", "show", ws["id"])
    assert shown["name"] == "Renamed 🚀" and shown["boards"] == []
    ana("workspaces", "delete", "Renamed 🚀", "--yes")
    assert ws["id"] not in [w["id"] for w in ana.json("workspaces", "list")]


def test_boards_and_columns(ana: User) -> None:
    ws_id, title = _board(ana)
    (board,) = ana.json("boards", "list", "--workspace", ws_id)
    assert (board["title"], board["description"], board["archived"]) == (title, "*Beschreibung*", False)
    todo = ana.json("columns", "create", "To do", "--board", title, "--wip-limit", "2")
    assert (todo["title"], todo["wipLimit"]) == ("To do", 2)
    ana("columns", "create", "Done", "--board", title)
    edited = ana.json("columns", "edit", "To do", "--board", title, "--title", "Doing", "--no-wip-limit")
    assert (edited["title"], edited["wipLimit"]) == ("Doing", None)
    assert [c["title"] for c in ana.json("columns", "list", "--board", title)] == ["Doing", "Done"]
    shown = ana.json("boards", "show", title)
    assert [c["title"] for c in shown["columns"]] == ["Doing", "Done"]
    assert "Doing [0]" in ana("boards", "show", board["id"]).out
    ana("columns", "delete", "Done", "--board", title, "--yes")
    assert [c["title"] for c in ana.json("columns", "list", "--board", title)] == ["Doing"]
    edited_board = ana.json("boards", "edit", title, "--title", title + " 2", "--archive")
    assert edited_board["archived"] is True and edited_board["title"] == title + " 2"
    ana("boards", "delete", title + " 2", "--yes")
    assert ana.json("boards", "list", "--workspace", ws_id) == []


def test_labels_milestones_fields_templates_automations(ana: User) -> None:
    _, title = _board(ana)
    label = ana.json("labels", "create", "dringend", "--board", title, "--color", "#ff0000")
    assert (label["name"], label["color"]) == ("dringend", "#ff0000")
    ana("labels", "edit", "dringend", "--board", title, "--name", "sehr dringend")
    assert [x["name"] for x in ana.json("labels", "list", "--board", title)] == ["sehr dringend"]
    ana("labels", "delete", "sehr dringend", "--board", title, "--yes")
    assert ana.json("labels", "list", "--board", title) == []

    ms = ana.json("milestones", "create", "v1 — Frühling", "--board", title, "--due", "2026-06-01T00:00:00.000Z")
    assert (ms["title"], ms["dueAt"]) == ("v1 — Frühling", "2026-06-01T00:00:00.000Z")
    ana("milestones", "edit", "v1 — Frühling", "--board", title, "--archive")
    assert ana.json("milestones", "list", "--board", title) == []
    assert [m["archived"] for m in ana.json("milestones", "list", "--board", title, "--archived")] == [True]
    ana("milestones", "delete", ms["id"], "--board", title, "--yes")

    field = ana.json("fields", "create", "Priorität", "--board", title, "--type", "select", "--option", "hoch",
                     "--option", "niedrig")  # fmt: skip
    assert (field["name"], field["type"], field["options"]) == ("Priorität", "select", ["hoch", "niedrig"])
    ana("fields", "edit", "Priorität", "--board", title, "--option", "hoch", "--option", "mittel")
    assert ana.json("fields", "list", "--board", title)[0]["options"] == ["hoch", "mittel"]
    bad = ana("fields", "create", "X", "--board", title, "--option", "a", ok=False)
    assert bad.code == 2 and "--type select" in bad.err
    ana("fields", "delete", "Priorität", "--board", title, "--yes")

    tpl = ana.json("templates", "create", "Bug", "--board", title, "--body", "## Schritte")
    assert (tpl["title"], tpl["body"]) == ("Bug", "## Schritte")
    assert [t["title"] for t in ana.json("templates", "list", "--board", title)] == ["Bug"]
    ana("templates", "delete", "Bug", "--board", title, "--yes")
    assert ana.json("templates", "list", "--board", title) == []

    column = ana.json("columns", "create", "Done", "--board", title)
    label = ana.json("labels", "create", "erledigt", "--board", title)
    trigger = json.dumps({"type": "card.moved", "columnId": column["id"]})
    auto = ana.json("automations", "create", "Archive done", "--board", title, "--trigger", trigger,
                    "--action", json.dumps({"type": "label.attach", "labelId": label["id"]}))  # fmt: skip
    assert auto["name"] == "Archive done" and auto["enabled"] is True and auto["trigger"]["columnId"] == column["id"]
    ana("automations", "edit", "Archive done", "--board", title, "--disable")
    assert [a["enabled"] for a in ana.json("automations", "list", "--board", title)] == [False]
    bad = ana("automations", "create", "X", "--board", title, "--trigger", "{", "--action", "{}", ok=False)
    assert bad.code == 2 and "--trigger is not JSON" in bad.err
    ana("automations", "delete", "Archive done", "--board", title, "--yes")
    assert ana.json("automations", "list", "--board", title) == []


def test_members(ana: User, bo: User) -> None:
    ws_id, _ = _board(ana)
    invited = ana.json("members", "invite", bo.email, "--workspace", ws_id, "--role", "admin")
    assert invited["email"] == bo.email and invited["role"] == "admin"
    members = ana.json("members", "list", "--workspace", ws_id)
    assert {m["email"]: m["role"] for m in members} == {ana.email: "owner", bo.email: "admin"}
    assert all(m["trusted"] for m in members) and all(len(m["fingerprint"]) == 39 for m in members)
    assert ws_id in [w["id"] for w in bo.json("workspaces", "list")]  # bo can open the sealed workspace key
    assert ana.json("members", "role", bo.email, "member", "--workspace", ws_id)["role"] == "member"
    trusted = ana.json("members", "trust", bo.email)
    assert trusted["email"] == bo.email
    ana("members", "remove", bo.email, "--workspace", ws_id, "--yes")
    assert [m["email"] for m in ana.json("members", "list", "--workspace", ws_id)] == [ana.email]


def test_cards_everything(ana: User, bo: User, tmp_path: Path) -> None:
    ws_id, title = _board(ana)
    ana("members", "invite", bo.email, "--workspace", ws_id)
    for name in ("To do", "Done"):
        ana("columns", "create", name, "--board", title)
    desc = tmp_path / "desc.md"
    desc.write_text("Zeile 1\n", encoding="utf-8")
    card = ana.json("cards", "create", "Karte ✓", "--board", title, "--column", "To do", "--description-file",
                    str(desc), "--due", "2026-07-01T00:00:00.000Z")  # fmt: skip
    assert (card["title"], card["description"], card["dueAt"]) == ("Karte ✓", "Zeile 1\n", "2026-07-01T00:00:00.000Z")
    other = ana.json("cards", "create", "Andere", "--board", title, "--column", "To do")
    ana("cards", "edit", "Karte ✓", "--board", title, "--append", "Zeile 2")
    ana("cards", "edit", card["id"], "--replace", "Zeile 1", "Erste Zeile")
    edited = ana.json("cards", "edit", card["id"], "--title", "Karte ✓✓", "--due", "")
    assert edited["title"] == "Karte ✓✓" and edited["dueAt"] is None
    assert edited["description"] == "Erste Zeile\nZeile 2\n"
    missing = ana("cards", "edit", card["id"], "--replace", "nicht da", "x", ok=False)
    assert missing.code == 2 and "does not contain" in missing.err

    ana("labels", "create", "dringend", "--board", title)
    ana("milestones", "create", "v1", "--board", title)
    ana("fields", "create", "Priorität", "--board", title, "--type", "select", "--option", "hoch")
    ana("cards", "label", card["id"], "dringend", "--board", title)
    ana("cards", "assign", card["id"], bo.email)
    ana("cards", "milestone", card["id"], "v1", "--board", title)
    ana("cards", "field", card["id"], "Priorität", "hoch")
    bad = ana("cards", "field", card["id"], "Priorität", "mittel", ok=False)
    assert bad.code == 2 and "not an option" in bad.err
    comment = ana.json("cards", "comment", card["id"], "Kommentar 👍")
    assert comment["body"] == "Kommentar 👍"
    ana("cards", "comment", card["id"], "-", input="von stdin\n")
    checklist = ana.json("cards", "checklist", card["id"], "Schritte", "--item", "eins", "--item", "zwei")
    assert [i["text"] for i in checklist["items"]] == ["eins", "zwei"]
    assert ana.json("cards", "check", card["id"], "eins")["done"] is True
    payload = tmp_path / "anhang.bin"
    payload.write_bytes(bytes(range(256)) * 700)
    attached = ana.json("cards", "attach", card["id"], str(payload), "--name", "Anhang ü.bin")
    assert (attached["name"], attached["size"], attached["mime"]) == (
        "Anhang ü.bin",
        179200,
        "application/octet-stream",
    )

    shown = ana.json("cards", "show", "Karte ✓✓", "--board", title)
    assert len(shown["labelIds"]) == 1 and len(shown["assigneeIds"]) == 1 and shown["milestoneId"]
    assert list(shown["customFields"].values()) == ["hoch"]
    assert [c["body"] for c in shown["comments"]] == ["Kommentar 👍", "von stdin\n"]
    assert [[i["done"] for i in cl["items"]] for cl in shown["checklists"]] == [[True, False]]
    text = ana("cards", "show", card["id"]).out
    assert "Karte ✓✓" in text and "☑ eins" in text and "Kommentar 👍" in text and "Anhang ü.bin" in text
    assert f"assignees: {bo.email}" in text
    members = ana.json("members", "list", "--workspace", ws_id)
    ana_key = next(m["fingerprint"] for m in members if m["email"] == ana.email)
    short = " ".join(ana_key.split()[:4])  # a comment's author with the start of their key fingerprint
    assert f"{ana.email} [{short}] · " in text

    out = tmp_path / "dl"
    out.mkdir()
    ana("cards", "download", card["id"], "Anhang ü.bin", "--out", str(out))
    assert (out / "Anhang ü.bin").read_bytes() == payload.read_bytes()
    again = ana("cards", "download", card["id"], attached["id"], "--out", str(out), ok=False)
    assert again.code == 2 and "--force" in again.err

    moved = ana.json("cards", "move", card["id"], "--to", "Done")
    assert moved["columnId"] != card["columnId"]
    ana("cards", "move", other["id"], "--to", "Done", "--before", card["id"], "--board", title)
    assert [c["title"] for c in ana.json("cards", "list", "--board", title, "--column", "Done")] == [
        "Andere",
        "Karte ✓✓",
    ]
    ana("cards", "milestone", card["id"], "--clear")
    ana("cards", "label", card["id"], "dringend", "--remove", "--board", title)
    ana("cards", "assign", card["id"], bo.email, "--remove")
    cleared = ana.json("cards", "show", card["id"])
    assert cleared["labelIds"] == [] and cleared["assigneeIds"] == [] and cleared["milestoneId"] is None
    assert ana.json("cards", "archive", card["id"])["archived"] is True
    assert [c["id"] for c in ana.json("cards", "list", "--board", title)] == [other["id"]]
    assert len(ana.json("cards", "list", "--board", title, "--archived")) == 2
    ana("cards", "archive", card["id"], "--undo")
    ana("cards", "delete", card["id"], "--yes")
    assert [c["id"] for c in ana.json("cards", "list", "--board", title)] == [other["id"]]


def test_names_errors_and_exit_codes(ana: User) -> None:
    ws_id, title = _board(ana)
    ana("boards", "create", title, "--workspace", ws_id)  # a second board with the same title
    ran = ana("columns", "list", "--board", title, ok=False)
    assert ran.code == 2 and "ambiguous" in ran.err and ran.err.count("(c") >= 2
    ran = ana("columns", "list", "--board", "No such board", ok=False)
    assert ran.code == 2 and "no board named" in ran.err
    ran = ana("cards", "show", "cnotthere00000000", ok=False)
    assert ran.code == 4 and "NOT_FOUND" in ran.err
    ran = ana("cards", "show", "../etc", "--board", "x", ok=False)
    assert ran.code == 2
    ran = ana("workspaces", "delete", ws_id, input="n\n", ok=False)
    assert ran.code == 130 and "Aborted" in ran.err
    assert ws_id in [w["id"] for w in ana.json("workspaces", "list")]


def test_wrong_password_and_unlock_session(ana: User) -> None:
    with_password = {**ana.env, "MSK_SESSION": None, "MSK_PASSWORD": PASSWORD}
    ran = User(ana.email, {**with_password, "MSK_PASSWORD": "wrong"})("workspaces", "list", ok=False)
    assert ran.code in (5, 8)
    listed = User(ana.email, with_password).json("workspaces", "list")
    assert listed == ana.json("workspaces", "list") and UNDECRYPTABLE not in json.dumps(listed)


@pytest.mark.parametrize("group", ["workspaces", "members", "boards", "columns", "cards", "labels", "milestones",
                                   "fields", "templates", "automations", "export", "demo"])  # fmt: skip
def test_help(group: str) -> None:
    from ._run import msk

    ran = msk(group, "--help")
    assert ran.code == 0 and "Usage: msk " + group in ran.out


def test_every_command_has_help() -> None:
    import click

    from mskclient.cli._main import cli

    def leaves(command: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
        if not isinstance(command, click.Group):
            return [(path, command)]
        ctx = click.Context(command)
        return [
            leaf
            for name in command.list_commands(ctx)
            for leaf in leaves(command.get_command(ctx, name) or command, (*path, name))
        ]

    found = leaves(cli, ())
    assert len(found) > 50
    assert [" ".join(path) for path, command in found if not command.get_short_help_str()] == []


def test_shell_completion() -> None:
    from ._run import msk

    ran = msk(env={"_MSK_COMPLETE": "bash_complete", "COMP_WORDS": "msk cards ed", "COMP_CWORD": "2"})
    assert ran.code == 0 and ran.out.split() == ["plain,edit"]
    ran = msk(env={"_MSK_COMPLETE": "bash_source"})
    assert ran.code == 0 and "_msk_completion" in ran.out
