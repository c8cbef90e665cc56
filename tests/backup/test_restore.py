"""`msk restore`: a backup of one sandbox's account restored into another sandbox's account."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _accounts import fresh_email
from cli.conftest import PASSWORD, new_user

from mskclient import Client, Pacer
from mskclient.backup import Restorer, create_backup, open_backup
from mskclient.export import board_to_json, export_online
from mskclient.sandbox import Sandbox, SandboxConfig

#: Several secretstream chunks, text that is not ASCII.
BIG = "Anhang — 日本語 ✓\n".encode() * 9000


class Stop(Exception):
    """Raised at a chosen stage of a chosen step: the process "dies" there."""


@pytest.fixture(scope="module")
def source_url() -> Iterator[str]:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        yield url


@pytest.fixture(scope="module")
def target_url() -> Iterator[str]:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        yield url


@pytest.fixture(scope="module")
def source(source_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """An account with one workspace holding everything a card can carry, and a second workspace."""
    user = new_user(source_url, tmp_path_factory.mktemp("src"), "src")
    client = Client(source_url, pacer=Pacer.unlimited())
    client.login(user.email, PASSWORD)
    ws = client.create_workspace("Werkstatt ✓")
    board = client.create_board(ws.id, "Board A", "Beschreibung")
    todo, done = client.create_column(board.id, "Zu tun"), client.create_column(board.id, "Fertig")
    label = client.create_label(board.id, "dringend", "#ff0000")
    select = client.create_custom_field(board.id, "Größe", "select", ["S", "M"])
    note = client.create_custom_field(board.id, "Notiz", "text")
    milestone = client.create_milestone(board.id, "Release", "2027-01-01T00:00:00Z")
    client.create_card_template(board.id, "Vorlage", "Text der Vorlage")
    first = client.create_card(todo.id, "Karte eins — ü", "Text mit **fett**", due_at="2027-02-03T04:05:06Z")
    client.add_label(first.id, label.id)
    client.assign(first.id, user_id(client))
    client.edit_card(first.id, custom_fields={select.id: "M", note.id: "eine Notiz"})
    client.set_milestone(first.id, milestone.id)
    client.add_comment(first.id, "erster Kommentar")
    client.add_comment(first.id, "zweiter Kommentar")
    checklist = client.add_checklist(first.id, "Schritte")
    client.add_item(checklist.id, "eins", done=True, board_id=board.id)
    client.add_item(checklist.id, "zwei", board_id=board.id)
    client.upload_attachment(first.id, io.BytesIO(BIG), "gross.txt", "text/plain")
    client.upload_attachment(first.id, io.BytesIO(b"klein"), "klein.txt", "text/plain")
    client.create_card(todo.id, "Karte zwei")
    archived = client.create_card(done.id, "Erledigt")
    client.archive_card(archived.id)
    other = client.create_workspace("Zweiter Raum")
    client.create_card(client.create_column(client.create_board(other.id, "Board C").id, "Spalte").id, "Karte C")
    yield client
    client.close()


def user_id(client: Client) -> str:
    assert client.user is not None
    return client.user.id


@pytest.fixture(scope="module")
def backup_file(source: Client, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backup") / "account.mskbackup"
    create_backup(source, out)
    return out


@pytest.fixture
def target(target_url: str) -> Iterator[Client]:
    """A fresh account on the second sandbox."""
    with Client(target_url, pacer=Pacer.unlimited()) as client:
        client.register(fresh_email("restore"), PASSWORD)
        yield client


def _comparable(client: Client, workspace_id: str) -> list[dict[str, Any]]:
    """The decrypted export of a workspace without what a restore changes (ids, times, authors)."""
    result = export_online(client, workspaces=[workspace_id]).result
    text = json.dumps([board_to_json(b) for b in result.boards], sort_keys=True)
    text = re.sub(r'"(id|cardId|createdAt|updatedAt|author|authorId|authorEmail)": "[^"]*"', r'"\1": ""', text)
    boards: list[dict[str, Any]] = json.loads(text)
    for board, exported in zip(boards, result.boards, strict=True):
        for column, exported_column in zip(board["columns"], exported.columns, strict=True):
            for card, exported_card in zip(column["cards"], exported_column.cards, strict=True):
                card["assignees"] = len(card["assignees"])  # the original user, now the restoring one
                card["bytes"] = [_content(client, a.id) for a in exported_card.attachments]
    return boards


def _content(client: Client, attachment_id: str) -> bytes:
    out = io.BytesIO()
    client.download_attachment(attachment_id, out)
    return out.getvalue()


def _restorer(client: Client, path: Path, root: Path, **options: Any) -> Restorer:
    return Restorer(client, open_backup(path), lambda: PASSWORD, journal_root=root, limit=None, **options)


def test_restore_into_another_server_equals_the_original(
    source: Client, backup_file: Path, target: Client, tmp_path: Path
) -> None:
    restorer = _restorer(target, backup_file, tmp_path)
    plan = restorer.plan()
    summary = restorer.run()
    assert summary.totals() == plan.totals()
    assert plan.totals()["workspace"] == 2 and plan.totals()["attachment"] == 2
    pairs = {old: new for old, new, _, _ in summary.workspaces}
    for old, new in pairs.items():
        assert _comparable(target, new) == _comparable(source, old)
    # the same backup again: the journal says everything is there
    again = _restorer(target, backup_file, tmp_path)
    assert again.plan().mutations == 0
    assert sum(again.run().totals().values()) == 0
    assert len(target.workspaces()) == 2
