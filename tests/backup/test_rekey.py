"""Key rotation by copy (`Rekeyer`, `msk workspaces rekey`) against a real sandbox: the copy equals
the original, survives a crash anywhere, shuts out a removed member who kept the old keys,
invites only pinned keys, and deletes the old workspace only after it verified."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _accounts import PASSWORD, fresh_email
from _hostile import HostileTransport, json_edit
from cli.conftest import new_user

from mskclient import Client, Pacer
from mskclient._errors import DecryptionError, EnvelopeError
from mskclient._profile import FIELDS, KeyRole
from mskclient._trust import TrustStore
from mskclient.backup import Rekeyer
from mskclient.crypto import BoardKey, WorkspaceKey, decrypt_field, open_file_key
from mskclient.export import ExportAttachment, attachment_fetch, export_online
from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig

#: Several secretstream chunks (64 KiB each) of text that is not ASCII.
CONTENT = "Anhang — 日本語 ✓\n".encode() * 9000


@dataclass
class Team:
    owner: Client
    alice: Client
    #: the member who leaves
    bob: Client
    workspace_id: str
    #: what bob kept of the workspace before he was removed
    kept: list[WorkspaceKey | BoardKey]

    def users(self) -> dict[str, str]:
        return {c.user.id: c.user.email for c in (self.owner, self.alice) if c.user is not None}


def _client(url: str) -> Client:
    client = Client(url, pacer=Pacer.unlimited())
    client.register(fresh_email("rekey"), PASSWORD)
    return client


@pytest.fixture(scope="module")
def people(sandbox_url: str) -> Iterator[tuple[Client, Client, Client]]:
    owner, alice, bob = _client(sandbox_url), _client(sandbox_url), _client(sandbox_url)
    yield owner, alice, bob
    for client in (owner, alice, bob):
        client.close()


def build_team(people: tuple[Client, Client, Client], name: str = "Team ✓") -> Team:
    """A workspace with two boards and everything a board holds; bob saves the keys, then leaves."""
    owner, alice, bob = people
    ws = owner.create_workspace(name)
    assert owner.user is not None and alice.user is not None and bob.user is not None
    owner.invite(ws.id, alice.user.email)
    owner.invite(ws.id, bob.user.email, "admin")
    main = owner.create_board(ws.id, "Produkt", "Die **Beschreibung**")
    side = owner.create_board(ws.id, "Archiv")
    urgent = owner.create_label(main.id, "Dringend", "#ff0000")
    owner.create_label(main.id, "Später", "#00ff00")
    lane = owner.create_custom_field(main.id, "Spur", "select", ("Schnell", "Normal"))
    size = owner.create_custom_field(main.id, "Größe", "number")
    alpha = owner.create_milestone(main.id, "Alpha", "2026-05-01T00:00:00Z")
    old = owner.create_milestone(main.id, "Alt")
    owner.update_milestone(old.id, archived=True, board_id=main.id)
    owner.create_card_template(main.id, "Fehler", "## Schritte\n- eins")
    todo = owner.create_column(main.id, "Zu tun", wip_limit=3)
    done = owner.create_column(main.id, "Erledigt")
    first = owner.create_card(todo.id, "Karte eins — ü", "Text mit **fett**", due_at="2026-03-01T12:00:00Z")
    owner.add_label(first.id, urgent.id)
    owner.assign(first.id, alice.user.id)
    owner.assign(first.id, bob.user.id)
    owner.edit_card(first.id, custom_fields={lane.id: "Schnell", size.id: "3"})
    owner.set_milestone(first.id, alpha.id)
    owner.add_comment(first.id, "erster Kommentar")
    owner.add_comment(first.id, "zweiter")
    steps = owner.add_checklist(first.id, "Schritte")
    owner.add_item(steps.id, "a", done=True, board_id=main.id)
    owner.add_item(steps.id, "b", board_id=main.id)
    owner.upload_attachment(first.id, io.BytesIO(CONTENT), "gross.txt", "text/plain")
    second = owner.create_card(todo.id, "Karte zwei")
    owner.set_milestone(second.id, old.id)
    assert owner.user is not None
    owner.assign(second.id, owner.user.id)
    gone = owner.create_card(done.id, "Archivierte Karte")
    owner.archive_card(gone.id)
    owner.create_automation(main.id, "Erledigt markieren", {"type": "card.moved", "columnId": done.id},
                            {"type": "label.attach", "labelId": urgent.id})  # fmt: skip
    owner.create_automation(main.id, "Alice", {"type": "label.attached", "labelId": urgent.id},
                            {"type": "card.assign", "userId": alice.user.id})  # fmt: skip
    owner.create_automation(main.id, "Bob", {"type": "card.moved", "columnId": todo.id},
                            {"type": "card.assign", "userId": bob.user.id}, enabled=False)  # fmt: skip
    owner.create_webhook(main.id, "https://hooks.example.test/msk", ["CARD_CREATED", "CARD_MOVED"])
    archived = owner.create_card(owner.create_column(side.id, "Alles").id, "Alte Karte")
    owner.add_comment(archived.id, "nur hier")
    owner.update_board(side.id, archived=True)
    kept: list[WorkspaceKey | BoardKey] = [bob.workspace_key(ws.id)]
    kept += [bob.board_key(b.id) for b in bob.boards(ws.id)]
    owner.remove_member(ws.id, bob.user.id)
    owner.members(ws.id)  # the owner has seen (and pinned) alice's key
    return Team(owner, alice, bob, ws.id, kept)


def rekeyer(client: Client, team: Team, root: Path, **kwargs: Any) -> Rekeyer:
    return Rekeyer(client, team.workspace_id, journal_root=root, limit=None, durable=False, **kwargs)


def comparable(value: Any) -> Any:
    """An export tree without what a copy cannot keep: ids, file keys, comment times."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        dropped = {"id", "workspace_id", "file_key", "file", "created_at"}
        return {k: comparable(v) for k, v in value.items() if k not in dropped}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):  # tuples, lists, the export's CardList
        return [comparable(v) for v in value]
    return value


def exported(client: Client, workspace_id: str) -> Any:
    result = export_online(client, workspaces=[workspace_id]).result
    assert not result.failures
    return sorted((comparable(b) for b in result.boards), key=repr)


def envelopes(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from envelopes(item)
    elif isinstance(value, list):
        for item in value:
            yield from envelopes(item)
    elif isinstance(value, str) and value.startswith("v1."):
        yield value


def test_rekey_copies_everything_and_shuts_out_the_removed_member(
    people: tuple[Client, Client, Client], tmp_path: Path
) -> None:
    team = build_team(people)
    owner, alice, bob = team.owner, team.alice, team.bob
    plan = rekeyer(owner, team, tmp_path).plan()
    assert [i.email for i in plan.invite] == [alice.user.email if alice.user else ""]
    assert plan.new_id is None and plan.mutations == 1 + 1 + plan.boards.mutations
    result = rekeyer(owner, team, tmp_path).run()
    assert result.verified and result.differences == [] and not result.old_deleted
    assert result.summary.totals() == plan.boards.totals()
    assert {k: v for k, v in result.summary.totals().items() if v} == {
        "board": 2, "label": 2, "custom_field": 2, "milestone": 2, "column": 3, "card": 4, "label_link": 1,
        "assignment": 2, "field_values": 1, "milestone_link": 2, "checklist": 1, "checklist_item": 2,
        "comment": 3, "attachment": 1, "template": 1, "automation": 2, "webhook": 1, "archive": 3,
    }  # fmt: skip
    assert [url for url, _ in result.webhook_secrets] == ["https://hooks.example.test/msk"]
    assert any("automation 'Bob'" in w for w in result.warnings)
    # the decrypted export of the copy equals the original's, ids aside
    assert exported(owner, result.new_id) == exported(owner, team.workspace_id)
    # the remaining member was invited to her pinned key and reads the copy, attachment included
    assert result.new_id in {w.id for w in alice.workspaces()}
    assert exported(alice, result.new_id) == exported(owner, team.workspace_id)
    # bob kept the old keys: not one envelope of the new workspace opens with any of them
    document = owner.export_me()
    (entry,) = [w for w in document["workspaces"] if w["workspace"]["id"] == result.new_id]
    found = list(envelopes(entry))
    assert len(found) > 30
    opened = 0
    for envelope in found:
        for spec in FIELDS.values():
            for key in team.kept:
                wanted = KeyRole.WORKSPACE if isinstance(key, WorkspaceKey) else KeyRole.BOARD
                if spec.key != wanted:
                    continue
                try:
                    decrypt_field(key, envelope, spec)
                    opened += 1
                except (DecryptionError, EnvelopeError):
                    pass
    assert opened == 0
    # the same keys do open the old workspace's envelopes (the check above can see a success)
    (before,) = [w for w in document["workspaces"] if w["workspace"]["id"] == team.workspace_id]
    title = before["boards"][0]["board"]["encTitle"]
    assert any(_opens(key, title, FIELDS[("board", "encTitle")]) for key in team.kept if isinstance(key, BoardKey))
    # nor do the file keys bob could open before: not one decrypts the new attachment's content
    (old_attachment,) = attachments(before)
    (new_attachment,) = attachments(entry)
    old_file_keys = []
    for key in team.kept:
        if isinstance(key, BoardKey):
            with contextlib.suppress(DecryptionError):
                old_file_keys.append(open_file_key(key, old_attachment["encFileKey"], old_attachment["id"]))
    assert len(old_file_keys) == 1
    stolen = ExportAttachment(new_attachment["id"], "x", "x", len(CONTENT), old_file_keys[0])
    with pytest.raises(DecryptionError):
        attachment_fetch(owner)(stolen, io.BytesIO())
    assert result.new_id not in {w.id for w in bob.workspaces()}


def attachments(value: Any) -> Iterator[dict[str, Any]]:
    """Every attachment row (with its wrapped file key) in a piece of `/me/export`."""
    if isinstance(value, dict):
        if "encFileKey" in value:
            yield value
        for item in value.values():
            yield from attachments(item)
    elif isinstance(value, list):
        for item in value:
            yield from attachments(item)


def _opens(key: BoardKey, envelope: str, spec: Any) -> bool:
    try:
        decrypt_field(key, envelope, spec)
    except DecryptionError:
        return False
    return True


@pytest.mark.parametrize(
    ("stage", "at"),
    [("sealed", 1), ("created", 1), ("sealed", 7), ("created", 12), ("sealed", 18), ("created", 23),
     ("sealed", "attachment:"), ("created", "attachment:"), ("sealed", "template:"), ("created", "automation:"),
     ("sealed", "webhook:"), ("created", "webhook:"), ("recorded", "archive:")],
)  # fmt: skip
def test_crash_anywhere_then_resume_gives_exactly_one_copy(
    people: tuple[Client, Client, Client], tmp_path: Path, stage: str, at: int | str
) -> None:
    """Killed at the n-th create, or at the first create of a kind (`at` a key prefix)."""
    team = build_team(people, f"Crash {stage} {at}")
    seen = Counter[str]()

    def crash(reached: str, key: str) -> None:
        seen[reached] += 1
        hit = seen[reached] == at if isinstance(at, int) else key.startswith(at)
        if reached == stage and hit:
            raise KeyboardInterrupt(key)

    shown: list[str] = []

    def show(url: str, secret: str) -> None:
        shown.append(secret)

    before = {w.id for w in team.owner.workspaces()}
    with Client(team.owner.server, token=team.owner.token, pacer=Pacer.unlimited()) as first:
        first.use_keys(team.owner.keys)
        first.core.trust = team.owner.core.trust
        with pytest.raises(KeyboardInterrupt):
            rekeyer(first, team, tmp_path, on_stage=crash, on_secret=show).run()
    with Client(team.owner.server, token=team.owner.token, pacer=Pacer.unlimited()) as second:
        second.use_keys(team.owner.keys)
        second.core.trust = team.owner.core.trust
        result = rekeyer(second, team, tmp_path, on_secret=show).run()
        again = rekeyer(second, team, tmp_path, on_secret=show).run()
    assert result.verified and again.verified and again.new_id == result.new_id
    assert sum(again.summary.totals().values()) == 0
    assert {w.id for w in team.owner.workspaces()} - before == {result.new_id}
    assert len(team.owner.webhooks(next(b.id for b in team.owner.boards(result.new_id) if b.title == "Produkt"))) == 1
    # every webhook's secret was shown: one killed between its creation and its journal record was
    # deleted and made again (a second secret, the first one now signs nothing)
    assert len(set(shown)) == len(shown) == (2 if (stage, at) == ("created", "webhook:") else 1)


def test_unpinned_and_changed_keys_are_not_invited(people: tuple[Client, Client, Client], tmp_path: Path) -> None:
    team = build_team(people, "Pins")
    alice = team.alice.user
    assert alice is not None
    with Client(team.owner.server, token=team.owner.token, trust=TrustStore(), pacer=Pacer.unlimited()) as fresh:
        fresh.use_keys(team.owner.keys)
        plan = rekeyer(fresh, team, tmp_path).plan()
        assert plan.invite == [] and [e.email for e in plan.not_invited] == [alice.email]
        assert "no key is pinned" in plan.not_invited[0].reason
        changed = TrustStore()
        changed.trust(alice.id, alice.email, team.bob.keys.keypair.public)
        fresh.core.trust = changed
        result = rekeyer(fresh, team, tmp_path).run()
    assert result.invited == [] and "changed" in result.not_invited[0].reason
    assert result.verified  # alice's assignments are left out of both sides of the comparison
    assert result.new_id not in {w.id for w in team.alice.workspaces()}


def test_delete_old_only_after_the_copy_verified(people: tuple[Client, Client, Client], tmp_path: Path) -> None:
    team = build_team(people, "Race")
    card = next(c for c in team.owner.cards(next(b.id for b in team.owner.boards(team.workspace_id)
                                                  if b.title == "Produkt")) if c.title == "Karte zwei")  # fmt: skip

    def edit_meanwhile(reached: str, key: str) -> None:
        if reached == "recorded" and key.startswith("webhook:"):
            team.owner.edit_card(card.id, title="changed during the copy")

    raced = rekeyer(team.owner, team, tmp_path, on_stage=edit_meanwhile).run(delete_old=True)
    assert not raced.verified and not raced.old_deleted
    assert raced.differences == ["board 'Produkt': columns differ"]
    assert team.workspace_id in {w.id for w in team.owner.workspaces()}

    clean = build_team(people, "Clean")
    result = rekeyer(team.owner, clean, tmp_path / "clean").run(delete_old=True)
    assert result.verified and result.old_deleted
    assert clean.workspace_id not in {w.id for w in team.owner.workspaces()}
    assert result.new_id in {w.id for w in team.alice.workspaces()}


def test_cli_rekey_dry_run_then_run(sandbox_url: str, config_dir: Path) -> None:
    user = new_user(sandbox_url, config_dir, "rekeycli")
    ws = user.json("workspaces", "create", "Klein")["id"]
    board = user.json("boards", "create", "Tafel", "--workspace", ws)["id"]
    user("columns", "create", "Spalte", "--board", board)
    plan = user.json("workspaces", "rekey", ws, "--dry-run")
    assert plan["create"]["board"] == 1 and plan["create"]["column"] == 1 and plan["mutations"] == 3
    assert plan["new_workspace"] == "new workspace"
    others = [w["id"] for w in user.json("workspaces", "list") if w["id"] != ws]
    done = user.json("workspaces", "rekey", ws, "--name", "Klein neu", "--delete-old", "--yes")
    assert done["verified"] and done["old_deleted"]
    listed = [(w["id"], w["name"]) for w in user.json("workspaces", "list") if w["id"] not in others]
    assert listed == [(done["new_workspace"], "Klein neu")]
    text = user("workspaces", "rekey", done["new_workspace"], "--dry-run").out
    assert "3 mutations, under a second at the server's limit" in " ".join(text.split())
    assert json.loads(user("workspaces", "rekey", done["new_workspace"], "--dry-run", "--json").out)["mutations"] == 3
    again = user("workspaces", "rekey", done["new_workspace"])
    assert "copy verified, old workspace kept" in again.out and again.err == ""


@pytest.fixture(scope="module")
def limited() -> Iterator[tuple[str, ManualClock]]:
    clock = ManualClock()
    with Sandbox(SandboxConfig(clock=clock, rate_limits={"mutation": (60, 60)})) as url:
        yield url, clock


def test_a_paced_rekey_meets_no_429_and_takes_the_estimated_time(
    limited: tuple[str, ManualClock], tmp_path: Path
) -> None:
    url, clock = limited
    retries: list[float] = []
    # max_retries=0: a single 429 would raise instead of being waited out
    with Client(url, pacer=Pacer.unlimited(max_retries=0, on_wait=lambda s, _: retries.append(s))) as client:
        client.register(fresh_email("paced"), PASSWORD)
        workspace = client.create_workspace("Paced")
        column = client.create_column(client.create_board(workspace.id, "Tafel").id, "Spalte")
        for number in range(60):
            if number % 50 == 0:
                clock.advance(60)  # the setup's mutations leave the server's window
            client.create_card(column.id, f"Karte {number}")
        clock.advance(60)
        rekeyer = Rekeyer(client, workspace.id, journal_root=tmp_path, limit=(60, 60), clock=clock.time,
                          sleep=clock.advance)  # fmt: skip
        plan = rekeyer.plan()
        started = clock.time()
        result = rekeyer.run()
    assert retries == [] and result.verified  # not one 429: the run stayed under the limit by itself
    assert plan.mutations == 63 and result.summary.totals() == plan.boards.totals()
    # 63 mutations at 54 per minute: the first 54 at once, the rest when the window slides
    assert clock.time() - started == pytest.approx(60.0, abs=0.5)
    assert plan.estimated_seconds == pytest.approx(60 + 9 * 0.03)


def test_a_field_that_does_not_decrypt_stops_the_rekey_before_anything_is_written(
    people: tuple[Client, Client, Client], tmp_path: Path
) -> None:
    team = build_team(people, "Tampered")
    board = next(b for b in team.owner.boards(team.workspace_id) if b.title == "Produkt")
    first = next(c for c in team.owner.cards(board.id) if c.title == "Karte eins — ü")

    def move_title_into_comment(card: dict[str, Any]) -> dict[str, Any]:
        card["comments"][0]["encBody"] = card["encTitle"]  # a real envelope, of another field
        return card

    hostile = HostileTransport()
    hostile.edit = json_edit(f"/cards/{first.id}", move_title_into_comment)
    before = {w.id for w in team.owner.workspaces()}
    with Client(team.owner.server, token=team.owner.token, transport=hostile, pacer=Pacer.unlimited()) as client:
        client.use_keys(team.owner.keys)
        client.core.trust = team.owner.core.trust
        client.core.lenient_reads = True  # as the CLI reads: a placeholder must still never be copied
        with pytest.raises(DecryptionError) as caught:
            rekeyer(client, team, tmp_path).run()
        assert client.core.lenient_reads
    assert caught.value.entity == "comment" and caught.value.field == "encBody"
    assert {w.id for w in team.owner.workspaces()} == before
    assert not list(tmp_path.rglob("*.jsonl"))
