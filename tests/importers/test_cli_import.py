"""`msk import deck` end to end: plan then run, export round trip, exit codes, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._deck_server import DeckData, create_app, sample_deck
from .conftest import CliUser, Ran, ServerThread

APP_PASSWORD = "app-password-1"


@pytest.fixture
def source_token() -> str:
    return APP_PASSWORD


@pytest.fixture
def deck_data(user: CliUser) -> DeckData:
    data = sample_deck()
    data.users["ana"].email = user.email
    return data


@pytest.fixture
def deck_url(deck_data: DeckData) -> Iterator[str]:
    with ServerThread(create_app(deck_data)) as server:
        yield server.url


def run_import(user: CliUser, url: str, *args: str, ok: bool = True, **env: str | None) -> Ran:
    return user("import", "deck", "--source-url", url, "--source-user", "ana", *args, ok=ok, **env)


def test_dry_run_then_run_creates_exactly_the_plan(user: CliUser, deck_url: str, deck_data: DeckData) -> None:
    plan = json.loads(run_import(user, deck_url, "--dry-run", "--json").out)
    assert user.json("boards", "list") == []  # the plan wrote nothing
    assert [b["title"] for b in plan["boards"]] == ["Roadmap ✓", "Side project"]
    assert plan["mutation_limit"] is None and plan["mutations"] == sum(plan["create"].values()) == 86
    files = [a for s in deck_data.boards[0].stacks for c in s.cards for a in c.attachments]
    assert plan["boards"][0]["attachment_bytes"] == len(files[0].content) + len(files[3].content)
    assert any("bob@elsewhere.test" in w for w in plan["boards"][0]["warnings"])
    table = run_import(user, deck_url, "--dry-run", MSK_MUTATION_LIMIT=None)
    assert "86 mutations, about 1.0 min at the server's limit (60 per 60 s)" in " ".join(table.out.split())
    summary = json.loads(run_import(user, deck_url, "--json").out)
    assert summary["created"] == plan["create"]
    assert [b["created"] for b in summary["boards"]] == [b["create"] for b in plan["boards"]]
    assert {m for m, _ in deck_data.requests} == {"GET"}
    again = json.loads(run_import(user, deck_url, "--json").out)
    assert sum(again["created"].values()) == 0 and [b["board"] for b in again["boards"]] == [
        b["board"] for b in summary["boards"]
    ]
    replan = json.loads(run_import(user, deck_url, "--dry-run", "--json").out)
    assert replan["mutations"] == 0 and replan["boards"][0]["target"] == summary["boards"][0]["board"]


def _export(user: CliUser, board_id: str, out: Path) -> dict[str, Any]:
    user("export", board_id, "--format", "json", "--out", str(out), "--attachments", str(out / "files"))
    document = json.loads((out / "export.json").read_text("utf-8"))
    return dict(document["boards"][0])


def test_round_trip_through_msk_export(user: CliUser, deck_url: str, deck_data: DeckData, tmp_path: Path) -> None:
    summary = json.loads(run_import(user, deck_url, "--source-board", "Roadmap ✓", "--json").out)
    exported = _export(user, summary["boards"][0]["board"], tmp_path)
    source = deck_data.boards[0]
    assert exported["title"] == source.title
    assert [c["title"] for c in exported["columns"]] == [s.title for s in source.stacks]
    names = {label.id: label.title for label in source.labels}
    for column, stack in zip(exported["columns"], source.stacks, strict=True):
        deck_cards = sorted(stack.cards, key=lambda c: (c.archived, c.order, c.id))
        assert [c["title"] for c in column["cards"]] == [c.title for c in deck_cards]
        for card, deck_card in zip(column["cards"], deck_cards, strict=True):
            assert card["archived"] == deck_card.archived
            assert sorted(card["labels"]) == sorted(names[i] for i in deck_card.labels)
            assert card["assignees"] == ([user.email] if "ana" in deck_card.assigned else [])
            bodies = [c["body"] for c in card["comments"]]
            assert [b.split("\n\n", 1)[1] for b in bodies[: len(deck_card.comments)]] == [
                c.message for c in sorted(deck_card.comments, key=lambda c: (c.created, c.id))
            ]
            assert {c["author"] for c in card["comments"]} <= {user.email}
            live = [a for a in deck_card.attachments if not a.deleted and a.type == "deck_file"]
            assert [(a["name"], a["size"]) for a in card["attachments"]] == [(a.name, len(a.content)) for a in live]
            for exported_file, attachment in zip(card["attachments"], live, strict=True):
                assert (tmp_path / exported_file["file"]).read_bytes() == attachment.content
            if deck_card.duedate is None:
                assert card["dueAt"] is None
            items = [(i["text"], i["done"]) for cl in card["checklists"] for i in cl["items"]]
            tasks = [line for line in (deck_card.description or "").split("\n") if line.startswith("- [")]
            assert items == [(t[6:], t[3] == "x") for t in tasks]


def test_wrong_credentials_exit_5_and_nothing_is_created(user: CliUser, deck_url: str) -> None:
    ran = run_import(user, deck_url, ok=False, MSK_SOURCE_TOKEN="not the app password")
    assert ran.code == 5
    assert ran.err.strip().splitlines() == [
        "msk: error: SOURCE_UNAUTHORIZED (401): Nextcloud Deck refused the user or password/token"
    ]
    assert user.json("boards", "list") == []


def test_a_board_the_user_cannot_see_is_named(user: CliUser, deck_url: str, deck_data: DeckData) -> None:
    deck_data.boards[1].hidden_from.append("ana")
    ran = run_import(user, deck_url, "--source-board", "20", ok=False)
    assert ran.code == 2 and "Nextcloud Deck board '20': no board with this id or title is visible to ana" in ran.err


def test_token_file(user: CliUser, deck_url: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(APP_PASSWORD + "\n", "utf-8")
    plan = json.loads(
        run_import(user, deck_url, "--source-token-file", str(token), "--dry-run", "--json", MSK_SOURCE_TOKEN=None).out
    )
    assert plan["mutations"] == 86


def test_kill_9_mid_import_then_rerun_gives_one_copy(
    user: CliUser, deck_url: str, config: Path, tmp_path: Path
) -> None:
    """A real `msk import` process, paced at 25 mutations per second, is killed with SIGKILL."""
    env = {k: v for k, v in {**os.environ, **user.env, "MSK_MUTATION_LIMIT": "25/1"}.items() if v is not None}
    args = ["import", "deck", "--source-url", deck_url, "--source-user", "ana", "--source-board", "10"]
    code = "import sys; from mskclient.cli import main; sys.argv = ['msk', *sys.argv[1:]]; main()"
    journals = config / "imports"
    killed_at = []
    for threshold in (12, 45):
        child = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        lines = 0
        while time.monotonic() < deadline and child.poll() is None:
            files = list(journals.glob("*.jsonl")) if journals.exists() else []
            lines = sum(len(f.read_bytes().splitlines()) for f in files)
            if lines >= threshold:
                break
            time.sleep(0.01)
        assert child.poll() is None, "the import finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        killed_at.append(lines)
    summary = json.loads(run_import(user, deck_url, "--source-board", "10", "--json").out)
    resumed = _export(user, summary["boards"][0]["board"], tmp_path / "resumed")
    assert [b["title"] for b in user.json("boards", "list")] == ["Roadmap ✓"]  # one board, not three

    journals.rename(tmp_path / "resumed-journals")  # the same login without journals: an uninterrupted import
    fresh = json.loads(run_import(user, deck_url, "--source-board", "10", "--json").out)
    clean = _export(user, fresh["boards"][0]["board"], tmp_path / "clean")
    assert _without_ids(resumed) == _without_ids(clean)
    assert killed_at[0] >= 12 and killed_at[1] >= 45


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "file", "createdAt")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value
