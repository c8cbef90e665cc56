"""`msk import codecks` end to end: plan then run, round trip through `msk export`, exit codes, kill -9."""

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

from ._codecks_server import CodecksData, sample_codecks
from .conftest import CliUser, Ran, serve_codecks

TOKEN = "at-token-1"


@pytest.fixture
def source_token() -> str:
    return TOKEN


@pytest.fixture
def data(user: CliUser) -> CodecksData:
    made = sample_codecks()
    made.users["u-ana"].email = user.email
    return made


@pytest.fixture
def url(data: CodecksData) -> Iterator[str]:
    with serve_codecks(data) as served:
        yield served


def run_import(user: CliUser, url: str, *args: str, ok: bool = True, **env: str | None) -> Ran:
    return user("import", "codecks", "--source-url", url, "--source-account", "team123", *args, ok=ok, **env)


def test_dry_run_then_run_creates_exactly_the_plan(user: CliUser, url: str, data: CodecksData) -> None:
    plan = json.loads(run_import(user, url, "--dry-run", "--json").out)
    assert user.json("boards", "list") == []  # the plan wrote nothing
    assert [b["title"] for b in plan["boards"]] == ["Game ✓ › Gameplay", "Game ✓ › Art", "Website › Pages"]
    assert plan["source"] == "Codecks" and plan["mutations"] == sum(plan["create"].values())
    files = [f for c in data.cards for f in c.files]
    assert plan["boards"][0]["attachment_bytes"] == sum(len(f.content) for f in files)
    assert any("bob@elsewhere.test" in w for w in plan["boards"][0]["warnings"])
    summary = json.loads(run_import(user, url, "--json").out)
    assert summary["created"] == plan["create"]
    assert [b["created"] for b in summary["boards"]] == [b["create"] for b in plan["boards"]]
    assert {(method, path) for method, path, _ in data.requests} == {("POST", "/")}  # only the query endpoint
    again = json.loads(run_import(user, url, "--json").out)
    assert sum(again["created"].values()) == 0
    replan = json.loads(run_import(user, url, "--dry-run", "--json").out)
    assert replan["mutations"] == 0 and replan["boards"][0]["target"] == summary["boards"][0]["board"]


def test_round_trip_through_msk_export(user: CliUser, url: str, data: CodecksData, tmp_path: Path) -> None:
    args = ("--source-project", "Game ✓", "--source-deck", "Gameplay", "--json")
    summary = json.loads(run_import(user, url, *args).out)
    board_id = summary["boards"][0]["board"]
    exported = _export(user, board_id, tmp_path)
    assert exported["title"] == "Game ✓ › Gameplay"
    columns = {"not_started": "Not started", "started": "Started", "review": "In review", "blocked": "Blocked",
               "done": "Done", "snoozing": "snoozing"}  # fmt: skip
    assert [c["title"] for c in exported["columns"]] == list(columns.values())
    by_title = {card["title"]: (column["title"], card) for column in exported["columns"] for card in column["cards"]}
    deck_cards = [c for c in data.cards if c.deck == "d-play" and c.visibility != "deleted"]
    assert sorted(by_title) == sorted(c.title for c in deck_cards)
    priorities = {"a": "High", "b": "Medium", "c": "Low"}
    milestones = {m.id: m.name for m in data.milestones}
    for source in deck_cards:
        column, card = by_title[source.title]
        assert column == columns[source.status]
        assert card["archived"] == (source.visibility == "archived")
        assert source.title not in card["description"]  # the title line is not repeated
        assert card["description"] == source.content.partition("\n")[2].strip("\n")
        assert sorted(card["labels"]) == sorted(t for t in source.tags if t != "legacy")
        assert card["assignees"] == ([user.email] if source.assignee == "u-ana" else [])
        expected_fields = {}
        if source.priority:
            expected_fields["Priority"] = priorities[source.priority]
        if source.effort is not None:
            expected_fields["Effort"] = f"{source.effort:g}"
        assert card["customFields"] == expected_fields
        assert card["milestone"] == (milestones[source.milestone] if source.milestone else None)
        assert card["dueAt"] == source.due
        entries = [(data.users[e.author].name, e.created, e.content) for t in source.threads for e in t.entries]
        bodies = [c["body"] for c in card["comments"] if not c["body"].startswith("Imported from Codecks.")]
        assert len(bodies) == len(entries)
        for (author, created, text), body in zip(entries, bodies, strict=True):
            assert body.startswith(f"{author} · {created}\n\n") and body.endswith(text)
        assert [(a["name"], a["size"]) for a in card["attachments"]] == [(f.name, len(f.content)) for f in source.files]
        for exported_file, original in zip(card["attachments"], source.files, strict=True):
            assert (tmp_path / exported_file["file"]).read_bytes() == original.content


def test_wrong_token_exit_5_and_nothing_is_created(user: CliUser, url: str) -> None:
    ran = run_import(user, url, ok=False, MSK_SOURCE_TOKEN="not the token")
    assert ran.code == 5
    assert ran.err.strip().splitlines() == [
        "msk: error: SOURCE_UNAUTHORIZED (401): Codecks refused the token for the organisation 'team123'"
    ]
    assert user.json("boards", "list") == []


def test_token_file_and_unknown_deck(user: CliUser, url: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", "utf-8")
    args = ("--source-token-file", str(token), "--source-deck", "d-art", "--dry-run", "--json")
    plan = json.loads(run_import(user, url, *args, MSK_SOURCE_TOKEN=None).out)
    assert [b["title"] for b in plan["boards"]] == ["Game ✓ › Art"]
    ran = run_import(user, url, "--source-deck", "Nope", ok=False)
    assert ran.code == 2 and "Codecks deck 'Nope': no deck with this id or title" in ran.err


def test_a_source_that_keeps_failing_exits_3_and_a_rerun_resumes(user: CliUser, url: str, data: CodecksData) -> None:
    data.fail(r"^GET /files/f-2/", times=5, status=503)
    ran = run_import(user, url, "--source-deck", "d-play", ok=False)
    assert ran.code == 3 and "Codecks GET file 'level.bin': still failing after 5 attempts (HTTP 503)" in ran.err
    summary = json.loads(run_import(user, url, "--source-deck", "d-play", "--json").out)
    assert summary["created"]["attachment"] == 1 and summary["created"]["board"] == 0
    assert [b["title"] for b in user.json("boards", "list")] == ["Game ✓ › Gameplay"]


def test_kill_9_mid_import_then_rerun_gives_one_copy(user: CliUser, url: str, config: Path, tmp_path: Path) -> None:
    """A real `msk import codecks` process, paced at 20 mutations per second, is killed with SIGKILL twice."""
    env = {k: v for k, v in {**os.environ, **user.env, "MSK_MUTATION_LIMIT": "20/1"}.items() if v is not None}
    args = ["import", "codecks", "--source-url", url, "--source-account", "team123", "--source-deck", "d-play"]
    code = "import sys; from mskclient.cli import main; sys.argv = ['msk', *sys.argv[1:]]; main()"
    journals = config / "imports"
    for threshold in (8, 25):
        child = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            files = list(journals.glob("*.jsonl")) if journals.exists() else []
            if sum(len(f.read_bytes().splitlines()) for f in files) >= threshold:
                break
            time.sleep(0.01)
        assert child.poll() is None, "the import finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    summary = json.loads(run_import(user, url, "--source-deck", "d-play", "--json").out)
    resumed = _export(user, summary["boards"][0]["board"], tmp_path / "resumed")
    assert [b["title"] for b in user.json("boards", "list")] == ["Game ✓ › Gameplay"]  # one board, not three

    (config / "imports").rename(tmp_path / "resumed-journals")  # the same login, no journal: an uninterrupted import
    fresh = json.loads(run_import(user, url, "--source-deck", "d-play", "--json").out)
    assert _without_ids(resumed) == _without_ids(_export(user, fresh["boards"][0]["board"], tmp_path / "clean"))


def _export(user: CliUser, board_id: str, out: Path) -> dict[str, Any]:
    user("export", board_id, "--format", "json", "--out", str(out), "--attachments", str(out / "files"))
    return dict(json.loads((out / "export.json").read_text("utf-8"))["boards"][0])


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "file", "createdAt")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value
