"""`msk import kaiten` end to end: plan then run, export round trip, exit codes, kill -9 and resume."""

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

from ._kaiten_server import KaitenData, create_app, sample_kaiten
from .conftest import CliUser, Ran, ServerThread
from .test_cli_import import _export, _without_ids

TOKEN = "kaiten-token-1"


@pytest.fixture
def source_token() -> str:
    return TOKEN


@pytest.fixture
def kaiten_data(user: CliUser) -> KaitenData:
    data = sample_kaiten()
    data.users[1].email = user.email
    data.rate_limit = 5  # Kaiten's limit: the CLI's reader stays under it
    return data


@pytest.fixture
def kaiten_url(kaiten_data: KaitenData) -> Iterator[str]:
    with ServerThread(create_app(kaiten_data)) as server:
        yield server.url


def run_import(user: CliUser, url: str, *args: str, ok: bool = True, **env: str | None) -> Ran:
    return user("import", "kaiten", "--source-url", url, *args, ok=ok, **{"MSK_SOURCE_TOKEN": TOKEN, **env})


def test_dry_run_then_run_creates_exactly_the_plan(user: CliUser, kaiten_url: str, kaiten_data: KaitenData) -> None:
    plan = json.loads(run_import(user, kaiten_url, "--source-space", "Product", "--dry-run", "--json").out)
    assert user.json("boards", "list") == []  # the plan wrote nothing
    assert [b["title"] for b in plan["boards"]] == ["Roadmap ✓", "Side project"]
    assert plan["source"] == "Kaiten" and plan["mutations"] == sum(plan["create"].values()) == 113
    assert any("bob@elsewhere.test" in w for w in plan["boards"][0]["warnings"])
    summary = json.loads(run_import(user, kaiten_url, "--source-space", "Product", "--json").out)
    assert summary["created"] == plan["create"]
    assert [b["created"] for b in summary["boards"]] == [b["create"] for b in plan["boards"]]
    assert {m for m, _ in kaiten_data.requests} == {"GET"}
    assert 429 not in kaiten_data.statuses  # paced under 5 requests per second
    replan = json.loads(run_import(user, kaiten_url, "--source-space", "Product", "--dry-run", "--json").out)
    assert replan["mutations"] == 0 and replan["boards"][0]["target"] == summary["boards"][0]["board"]


def test_round_trip_through_msk_export(user: CliUser, kaiten_url: str, kaiten_data: KaitenData, tmp_path: Path) -> None:
    summary = json.loads(run_import(user, kaiten_url, "--source-board", "Roadmap ✓", "--json").out)
    exported = _export(user, summary["boards"][0]["board"], tmp_path)
    board = kaiten_data.board(70)
    assert board is not None and exported["title"] == board.title
    assert [c["title"] for c in exported["columns"]] == ["To do", "Doing › Build", "Doing › Review", "Done"]
    cards = {c["title"]: c for column in exported["columns"] for c in column["cards"]}
    assert sorted(cards) == sorted(c.title for c in board.cards)
    tags = kaiten_data.tags
    for source in board.cards:
        card = cards[source.title]
        assert card["archived"] == source.archived
        labels = [tags[t].name for t in source.tags] + (["Blocked"] if source.blocked else [])
        assert sorted(card["labels"]) == sorted(labels)
        assert card["assignees"] == ([user.email] if any(u == 1 for u, _ in source.members) else [])
        live = [c for c in source.comments if not c.deleted]
        bodies = [c["body"].split("\n\n", 1)[1] for c in card["comments"][: len(live)]]
        assert bodies == [c.text for c in sorted(live, key=lambda c: (c.created, c.id))]
        stored = [f for f in source.files if not f.deleted and f.type == 1]
        assert [(a["name"], a["size"]) for a in card["attachments"]] == [(f.name, len(f.content)) for f in stored]
        for exported_file, original in zip(card["attachments"], stored, strict=True):
            assert (tmp_path / exported_file["file"]).read_bytes() == original.content
        items = [(i["text"], i["done"]) for cl in card["checklists"] for i in cl["items"]]
        expected = [(i.text, i.checked) for cl in source.checklists if not cl.deleted
                    for i in sorted(cl.items, key=lambda i: i.sort_order) if not i.deleted]  # fmt: skip
        assert items == expected


def test_wrong_token_exit_5_and_nothing_is_created(user: CliUser, kaiten_url: str) -> None:
    ran = user("import", "kaiten", "--source-url", kaiten_url, ok=False, MSK_SOURCE_TOKEN="not the token")
    assert ran.code == 5
    assert ran.err.strip().splitlines() == [
        "msk: error: SOURCE_UNAUTHORIZED (401): Kaiten refused the user or password/token"
    ]
    assert user.json("boards", "list") == []


def test_unknown_space_or_board_is_named(user: CliUser, kaiten_url: str) -> None:
    ran = run_import(user, kaiten_url, "--source-space", "Nope", ok=False)
    assert ran.code == 2 and "Kaiten space 'Nope': no space with this id or title is visible" in ran.err
    ran = run_import(user, kaiten_url, "--source-space", "Operations", "--source-board", "71", ok=False)
    assert ran.code == 2 and "Kaiten board '71': no board" in ran.err  # board 71 is in the other space


def test_token_file(user: CliUser, kaiten_url: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", "utf-8")
    args = ("--source-board", "80", "--source-token-file", str(token), "--dry-run", "--json")
    plan = json.loads(run_import(user, kaiten_url, *args, MSK_SOURCE_TOKEN=None).out)
    assert plan["create"]["board"] == 1 and plan["create"]["column"] == 1


def test_kill_9_mid_import_then_rerun_gives_one_copy(
    user: CliUser, kaiten_url: str, config: Path, tmp_path: Path
) -> None:
    """A real `msk import kaiten` process, paced at 25 mutations per second, is killed with SIGKILL twice."""
    env = {**os.environ, **user.env, "MSK_MUTATION_LIMIT": "25/1", "MSK_SOURCE_TOKEN": TOKEN}
    env = {k: v for k, v in env.items() if v is not None}
    args = ["import", "kaiten", "--source-url", kaiten_url, "--source-board", "70"]
    code = "import sys; from mskclient.cli import main; sys.argv = ['msk', *sys.argv[1:]]; main()"
    journals = config / "imports"
    killed_at = []
    for threshold in (10, 50):
        child = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 90
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
    summary = json.loads(run_import(user, kaiten_url, "--source-board", "70", "--json").out)
    resumed = _export(user, summary["boards"][0]["board"], tmp_path / "resumed")
    assert [b["title"] for b in user.json("boards", "list")] == ["Roadmap ✓"]  # one board, not three
    journals.rename(tmp_path / "resumed-journals")  # the same login without journals: an uninterrupted import
    fresh = json.loads(run_import(user, kaiten_url, "--source-board", "70", "--json").out)
    clean: Any = _export(user, fresh["boards"][0]["board"], tmp_path / "clean")
    assert _without_ids(resumed) == _without_ids(clean)
    assert killed_at[0] >= 10 and killed_at[1] >= 50
