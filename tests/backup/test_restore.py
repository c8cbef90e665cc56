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
from _hostile import HostileTransport, json_edit
from cli.conftest import PASSWORD, new_user

from mskclient import Client, DecryptionError, Pacer, ProtocolError, UsageError
from mskclient.backup import Restorer, create_backup, open_backup
from mskclient.export import board_to_json, export_online
from mskclient.sandbox import Sandbox, SandboxConfig

#: The second member of the source's second workspace.
ANA = fresh_email("ana")
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
    column = client.create_column(client.create_board(other.id, "Board C").id, "Spalte")
    shared = client.create_card(column.id, "Karte C")
    client.add_comment(shared.id, "von mir")
    # a second member, who comments and is assigned: neither their membership nor their
    # assignment can be carried, their comment's authorship is kept in a note
    with Client(source_url, pacer=Pacer.unlimited()) as ana:
        ana.register(ANA, PASSWORD)
        client.invite(other.id, ANA)
        ana.add_comment(shared.id, "von Ana")
        client.assign(shared.id, user_id(ana))
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
    """The decrypted export of a workspace without what a restore changes (ids, times, authors,
    the assignment of the other member) or adds (the note naming the authors of comments)."""
    result = export_online(client, workspaces=[workspace_id]).result
    text = json.dumps([board_to_json(b) for b in result.boards], sort_keys=True)
    text = re.sub(r'"(id|cardId|createdAt|updatedAt|author|authorId|authorEmail)": "[^"]*"', r'"\1": ""', text)
    boards: list[dict[str, Any]] = json.loads(text)
    for board, exported in zip(boards, result.boards, strict=True):
        for column, exported_column in zip(board["columns"], exported.columns, strict=True):
            for card, exported_card in zip(column["cards"], exported_column.cards, strict=True):
                # the original user's assignment is the restoring user's; another member's is not carried
                card["assignees"] = len([a for a in card["assignees"] if a != ANA])
                card["comments"] = [c for c in card["comments"] if not c["body"].startswith(NOTE)]
                card["bytes"] = [_content(client, a.id) for a in exported_card.attachments]
    return boards


def _content(client: Client, attachment_id: str) -> bytes:
    out = io.BytesIO()
    client.download_attachment(attachment_id, out)
    return out.getvalue()


#: The first line of the note a restore adds for comments written by other members.
NOTE = "Restored from a backup. The comments above by other members were written by:"


def _restorer(client: Client, path: Path, root: Path, **options: Any) -> Restorer:
    return Restorer(client, open_backup(path), lambda: PASSWORD, journal_root=root, limit=None, **options)


def test_restore_into_another_server_equals_the_original(
    source: Client, backup_file: Path, target: Client, tmp_path: Path
) -> None:
    restorer = _restorer(target, backup_file, tmp_path)
    plan = restorer.plan()
    summary = restorer.run()
    assert summary.totals() == plan.totals()
    assert plan.totals()["workspace"] == 2 and plan.totals()["attachment"] == 2 and plan.totals()["note"] == 1
    shared = next(w for w in plan.workspaces if w.members)
    assert shared.members == [(ANA, "member")]
    assert (shared.foreign_comments, shared.dropped_assignments) == (1, 1)
    pairs = {old: new for old, new, _, _ in summary.workspaces}
    for old, new in pairs.items():
        assert _comparable(target, new) == _comparable(source, old)
    restored_card = next(
        card for w in target.workspaces() for b in target.boards(w.id) for card in target.cards(b.id)
        if card.title == "Karte C"
    )  # fmt: skip
    comments = [c.body for c in target.card(restored_card.id).comments or ()]
    assert comments[:2] == ["von mir", "von Ana"] and comments[2].startswith(NOTE + f"\n- {ANA} · 20")
    # the same backup again: the journal says everything is there
    again = _restorer(target, backup_file, tmp_path)
    assert again.plan().mutations == 0
    assert sum(again.run().totals().values()) == 0
    assert len(target.workspaces()) == 2


@pytest.mark.parametrize(
    ("kind", "stage"),
    [("workspace", "sealed"), ("workspace", "created"), ("card", "created"), ("checklist_item", "sealed"),
     ("comment", "created"), ("attachment", "sealed"), ("attachment", "created"), ("archive", "created")],
)  # fmt: skip
def test_a_restore_killed_anywhere_resumes_to_exactly_one_copy(
    source: Client, backup_file: Path, target: Client, tmp_path: Path, kind: str, stage: str
) -> None:
    prefixes = {"workspace": "workspace:", "card": "card:", "checklist_item": "item:", "comment": "comment:",
                "attachment": "attachment:", "archive": "archive:card:"}  # fmt: skip

    def die(at: str, key: str) -> None:
        if at == stage and key.startswith(prefixes[kind]):
            raise Stop(key)

    with pytest.raises(Stop):
        _restorer(target, backup_file, tmp_path, on_stage=die).run()
    resumed = _restorer(target, backup_file, tmp_path)
    summary = resumed.run()
    assert len(target.workspaces()) == 2
    for old, new, _, _ in summary.workspaces:
        assert _comparable(target, new) == _comparable(source, old)
    assert _restorer(target, backup_file, tmp_path).plan().mutations == 0


def test_as_new_restores_a_second_copy_and_a_dry_run_counts_what_runs(
    backup_file: Path, target: Client, tmp_path: Path
) -> None:
    first = _restorer(target, backup_file, tmp_path).run()
    plan = _restorer(target, backup_file, tmp_path, as_new=True, workspaces=[first.workspaces[0][0]]).plan()
    assert plan.mutations > 0 and plan.totals()["workspace"] == 1
    second = _restorer(target, backup_file, tmp_path, as_new=True, workspaces=[first.workspaces[0][0]]).run()
    assert second.totals() == plan.totals() == {k: first.workspaces[0][2].get(k, 0) for k in plan.totals()}
    assert len(target.workspaces()) == 3
    # without --as-new, a re-run resumes the latest copy: nothing new
    assert _restorer(target, backup_file, tmp_path).plan().mutations == 0


def test_truncated_and_foreign_files_are_clear_errors(tmp_path: Path, backup_file: Path, target: Client) -> None:
    truncated = tmp_path / "cut.mskbackup"
    truncated.write_bytes(backup_file.read_bytes()[: backup_file.stat().st_size // 2])
    foreign = tmp_path / "foreign.mskbackup"
    foreign.write_bytes(b'{"exportedAt": "2026-01-01"}')
    for path in (truncated, foreign):
        with pytest.raises(ProtocolError, match="is not an mskclient backup"):
            open_backup(path)


def test_wrong_password_opens_nothing(backup_file: Path, target: Client, tmp_path: Path) -> None:
    with pytest.raises(DecryptionError, match="wrong password"):
        Restorer(target, open_backup(backup_file), lambda: "not the password at all", journal_root=tmp_path)
    assert target.workspaces() == []


def test_an_account_without_a_public_key_is_refused(backup_file: Path, target_url: str, tmp_path: Path) -> None:
    hostile = HostileTransport()
    with Client(target_url, pacer=Pacer.unlimited(), transport=hostile) as client:
        client.register(fresh_email("nokey"), PASSWORD)
        hostile.edit = json_edit("/me", lambda me: {**me, "user": {**me["user"], "publicKey": None}})
        with pytest.raises(UsageError, match="has no public key to seal the workspace keys to"):
            _restorer(client, backup_file, tmp_path)
        hostile.edit = None
        assert client.workspaces() == []


def test_msk_restore_dry_run_then_run(backup_file: Path, target_url: str, tmp_path: Path) -> None:
    user = new_user(target_url, tmp_path / "config", "restorer")
    user.env["MSK_MUTATION_LIMIT"] = "off"
    user.env["MSK_SOURCE_PASSWORD"] = PASSWORD
    plan = json.loads(user("restore", str(backup_file), "--dry-run", "--json").out)
    ran = user("restore", str(backup_file), "--json")
    summary = json.loads(ran.out)
    assert summary["created"] == plan["create"] and plan["mutations"] == sum(plan["create"].values())
    again = json.loads(user("restore", str(backup_file), "--json").out)
    assert sum(again["created"].values()) == 0
    refused = user("restore", str(backup_file), "--workspace", "nonsense", ok=False)
    assert refused.code == 2 and "--workspace takes a workspace id" in refused.err


def test_a_restored_workspace_deleted_since_is_never_recreated_silently(
    backup_file: Path, target: Client, tmp_path: Path
) -> None:
    first = _restorer(target, backup_file, tmp_path).run()
    target.delete_workspace(first.workspaces[0][1])
    with pytest.raises(UsageError, match="is gone; pass --as-new"):
        _restorer(target, backup_file, tmp_path).run()
    again = _restorer(target, backup_file, tmp_path, as_new=True).run()
    assert again.totals()["workspace"] == 2 and len(target.workspaces()) == 3
