"""`GET /me/export` streamed: the same document a whole-document read gives, sent a page of
cards at a time from one snapshot while other requests are served, and cut short (never a
complete-looking document) when reading fails half-way."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _accounts import User, env

from mskclient.crypto import FileKey, encrypt_file, wrap_file_key
from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig, _routes_auth
from mskclient.sandbox._core import out
from mskclient.sandbox._routes_auth import user_json

from ._helpers import config


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), (response.status_code, response.text[:300])
    return response.json() if response.content else None


def _upload(user: User, card_id: str, bk: Any, content: bytes) -> None:
    fk = FileKey.generate()
    sink = io.BytesIO()
    encrypt_file(fk, io.BytesIO(content), sink)
    meta = {
        "encName": env(bk, "attachment", "encName", "notes.txt"),
        "encMime": env(bk, "attachment", "encMime", "text/plain"),
        "encFileKey": str(wrap_file_key(bk, fk)),
        "size": len(content),
    }
    files = {"meta": (None, json.dumps(meta)), "file": ("blob", sink.getvalue(), "application/octet-stream")}
    _ok(user.http.post(f"/cards/{card_id}/attachments", files=files))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _served(cfg: SandboxConfig) -> Iterator[tuple[str, SandboxConfig]]:
    with Sandbox(cfg) as url:
        yield url, cfg


@pytest.fixture
def memory(clock: ManualClock) -> Iterator[tuple[str, SandboxConfig]]:
    """An in-memory sandbox (shared cache) and its configuration."""
    yield from _served(config(clock=clock))


@pytest.fixture(params=["memory", "file"])
def either(request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path) -> Iterator[tuple[str, SandboxConfig]]:
    """An in-memory sandbox, then one on a WAL database file."""
    db_path = ":memory:" if request.param == "memory" else str(tmp_path / "sandbox.db")
    yield from _served(config(clock=clock, db_path=db_path))


def _database(cfg: SandboxConfig) -> sqlite3.Connection:
    """A connection of the test's own to the sandbox database (read only here)."""
    if cfg.db_path == ":memory:":
        conn = sqlite3.connect(f"file:{cfg.memory_name}?mode=memory&cache=shared", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(cfg.db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


# --- a world to export, and the document the whole-document read gave ------------------------------


def _world(alice: User, bob: User, clock: ManualClock, cards: int) -> dict[str, Any]:
    """Two workspaces (one Bob's, Alice an admin there); in Alice's, a big board of `cards` cards
    over three columns with comments, checklists with items, attachments, labels, assignees,
    custom field values, milestones and archived cards, a small board and an empty one."""
    http = alice.http
    ws, wk = alice.workspace("Main")
    assert alice.invite(ws, wk, bob).status_code == 201
    big, bk = alice.board(ws, wk, "Big")
    columns = [alice.column(big, bk, f"Column {i}") for i in range(3)]
    labels = [
        _ok(http.post(f"/boards/{big}/labels", json={"encName": env(bk, "label", "encName", n), "color": c}))["id"]
        for n, c in (("bug", "#ff0000"), ("idea", "#00ff00"))
    ]
    milestone = _ok(http.post(f"/boards/{big}/milestones", json={"encTitle": env(bk, "milestone", "encTitle", "v1")}))
    field_id = _ok(
        http.post(
            f"/boards/{big}/custom-fields", json={"encName": env(bk, "customField", "encName", "n"), "type": "text"}
        )
    )["id"]
    _ok(http.post(f"/boards/{big}/card-templates", json={"encTitle": env(bk, "cardTemplate", "encTitle", "t")}))
    ids = []
    for i in range(cards):
        if i % 40 == 0:
            clock.advance(1)  # runs of equal createdAt (ordered by id) and later ones
        card = alice.card(columns[i % 3], bk, f"Card {i} — ünïcödé")["id"]
        ids.append(card)
        if i % 3 == 0:
            for text in ("first", "second 👍")[: 1 + i % 2]:
                _ok(http.post(f"/cards/{card}/comments", json={"encBody": env(bk, "comment", "encBody", text)}))
        if i % 5 == 0:
            checklist = _ok(
                http.post(f"/cards/{card}/checklists", json={"encTitle": env(bk, "checklist", "encTitle", "c")})
            )["id"]
            for j in range(2):
                item = {"encText": env(bk, "checklistItem", "encText", f"i{j}"), "done": j == 0}
                _ok(http.post(f"/checklists/{checklist}/items", json=item))
        if i % 4 == 0:
            for label in labels[: 1 + i % 8 // 4]:
                _ok(http.post(f"/cards/{card}/labels", json={"labelId": label}))
        if i % 6 == 0:
            for user in (bob, alice)[: 1 + i % 12 // 6]:
                _ok(http.post(f"/cards/{card}/assignments", json={"userId": user.id}))
        if i % 7 == 0:
            value = env(bk, "card", "customFields", str(i))
            _ok(http.patch(f"/cards/{card}", json={"customFields": {field_id: value}}))
        if i % 9 == 0:
            _ok(http.patch(f"/cards/{card}", json={"archived": True}))
        if i % 11 == 0:
            _ok(http.put(f"/cards/{card}/milestone", json={"milestoneId": milestone["id"]}))
        if i % 60 == 1:
            _upload(alice, card, bk, b"attachment %d" % i)
    # Moved cards: positions between others, and a column change.
    _ok(http.patch(f"/cards/{ids[10]}/move", json={"toColumnId": columns[0], "beforeCardId": ids[0]}))
    _ok(http.patch(f"/cards/{ids[20]}/move", json={"toColumnId": columns[1]}))
    clock.advance(1)
    small, sbk = alice.board(ws, wk, "Small")
    alice.card(alice.column(small, sbk), sbk, "Alone")
    clock.advance(1)
    alice.board(ws, wk, "Empty")
    ws2, wk2 = bob.workspace("Bob's")
    assert bob.invite(ws2, wk2, alice, "admin").status_code == 201
    theirs, tbk = bob.board(ws2, wk2, "Theirs")
    bob.card(bob.column(theirs, tbk), tbk, "Bob's card")
    return {"board": big, "columns": columns, "cards": ids, "bk": bk}


def _expected(conn: sqlite3.Connection, cfg: SandboxConfig, user_id: str, exported_at: str) -> dict[str, Any]:
    """The export as the whole-document implementation built it, read here with plain SQL."""

    def rows(sql: str, *args: Any) -> list[sqlite3.Row]:
        return conn.execute(sql, args).fetchall()

    def by(found: list[sqlite3.Row], key: str) -> dict[str, list[sqlite3.Row]]:
        grouped: dict[str, list[sqlite3.Row]] = {}
        for row in found:
            grouped.setdefault(row[key], []).append(row)
        return grouped

    def bundle(board: sqlite3.Row) -> dict[str, Any]:
        bid = board["id"]

        def of_board(table: str, order: str = "created_at, id") -> list[dict[str, Any]]:
            return [out(r) for r in rows(f"SELECT * FROM {table} WHERE board_id = ? ORDER BY {order}", bid)]

        def children(table: str, order: str) -> dict[str, list[sqlite3.Row]]:
            sql = f"SELECT t.* FROM {table} t JOIN cards c ON c.id = t.card_id WHERE c.board_id = ? ORDER BY {order}"
            return by(rows(sql, bid), "card_id")

        def counts(table: str) -> dict[str, int]:
            sql = f"SELECT t.card_id, count(*) FROM {table} t JOIN cards c ON c.id = t.card_id WHERE c.board_id = ? GROUP BY t.card_id"  # noqa: E501
            return {r[0]: r[1] for r in rows(sql, bid)}

        labels, assignees = (
            children("card_labels", "t.created_at, t.label_id"),
            children("card_assignees", "t.created_at, t.user_id"),
        )
        comments, checklists = (
            children("comments", "t.created_at, t.id"),
            children("checklists", "t.position, t.created_at, t.id"),
        )
        files = children("attachments", "t.created_at, t.id")
        items = by(
            rows(
                "SELECT i.* FROM checklist_items i JOIN checklists t ON t.id = i.checklist_id "
                "JOIN cards c ON c.id = t.card_id WHERE c.board_id = ? ORDER BY i.position, i.created_at, i.id",
                bid,
            ),
            "checklist_id",
        )
        n_comments, n_checklists, n_files = counts("comments"), counts("checklists"), counts("attachments")
        cards = []
        for card in rows("SELECT * FROM cards WHERE board_id = ? ORDER BY column_id, position, created_at, id", bid):
            cid = card["id"]
            cards.append(
                {
                    **out(
                        card,
                        labelIds=[r["label_id"] for r in labels.get(cid, [])],
                        assigneeIds=[r["user_id"] for r in assignees.get(cid, [])],
                        commentCount=n_comments.get(cid, 0),
                        checklistCount=n_checklists.get(cid, 0),
                        attachmentCount=n_files.get(cid, 0),
                    ),
                    "comments": [out(r) for r in comments.get(cid, [])],
                    "checklists": [
                        out(r, items=[out(i) for i in items.get(r["id"], [])]) for r in checklists.get(cid, [])
                    ],
                    "attachments": [out(r) for r in files.get(cid, [])],
                }
            )
        return {
            "board": out(board),
            "columns": of_board("columns", "position, created_at, id"),
            "labels": of_board("labels"),
            "milestones": of_board("milestones"),
            "customFields": of_board("custom_fields"),
            "cardTemplates": of_board("card_templates"),
            "cards": cards,
        }

    (user,) = rows("SELECT * FROM users WHERE id = ?", user_id)
    workspaces = []
    for membership in rows("SELECT * FROM memberships WHERE user_id = ? ORDER BY created_at", user_id):
        (ws,) = rows("SELECT * FROM workspaces WHERE id = ?", membership["workspace_id"])
        members = rows(
            "SELECT m.*, u.email, u.display_name, u.public_key FROM memberships m JOIN users u ON u.id = m.user_id "
            "WHERE m.workspace_id = ? ORDER BY m.created_at, m.user_id",
            ws["id"],
        )
        workspaces.append(
            {
                "workspace": out(ws),
                "membership": {
                    "workspaceId": ws["id"],
                    "role": membership["role"],
                    "encWorkspaceKey": membership["enc_workspace_key"],
                },
                "members": [
                    {
                        "userId": m["user_id"],
                        "email": m["email"],
                        "displayName": m["display_name"],
                        "publicKey": m["public_key"],
                        "role": m["role"],
                        "encWorkspaceKey": m["enc_workspace_key"] if m["user_id"] == user_id else None,
                        "createdAt": m["created_at"],
                        "updatedAt": m["updated_at"],
                    }
                    for m in members
                ],
                "boards": [
                    bundle(b)
                    for b in rows("SELECT * FROM boards WHERE workspace_id = ? ORDER BY created_at, id", ws["id"])
                ],
            }
        )
    kdf = {"salt": user["salt"], **cfg.kdf.to_json()}
    return {"exportedAt": exported_at, "user": user_json(user), "kdf": kdf, "workspaces": workspaces}


def _encoded(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# --- slow pages, to watch an export while it streams ------------------------------------------


class _Timeline:
    """What happened, in order, on the server (pages read, snapshot ended) and in the test."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.ended = threading.Event()

    def add(self, event: str) -> None:
        self.events.append(event)

    def last(self, event: str) -> int:
        return max(i for i, e in enumerate(self.events) if e == event)


@pytest.fixture
def timeline(monkeypatch: pytest.MonkeyPatch) -> _Timeline:
    """Pages of 5 cards, each read in 20 ms (the event loop runs between two pages), logged:
    the 60-card world of the tests below is 14 pages (12 of the big board, 1 of the small one,
    1 of the board in Bob's workspace)."""
    line = _Timeline()
    read, end = _routes_auth._export_cards, _routes_auth._end_snapshot

    def slow_page(*args: Any) -> list[dict[str, Any]]:
        time.sleep(0.02)
        page = read(*args)
        if page:
            line.add("page")
        return page

    def ended(conn: sqlite3.Connection) -> None:
        end(conn)
        line.add("snapshot ended")
        line.ended.set()

    monkeypatch.setattr(_routes_auth, "EXPORT_PAGE", 5)
    monkeypatch.setattr(_routes_auth, "_export_cards", slow_page)
    monkeypatch.setattr(_routes_auth, "_end_snapshot", ended)
    return line


# --- tests -----------------------------------------------------------------------------------


def test_streamed_export_is_the_whole_document(
    memory: tuple[str, SandboxConfig], people: Callable[[str, str], User], clock: ManualClock
) -> None:
    url, cfg = memory
    alice, bob = people(url, "alice"), people(url, "bob")
    world = _world(alice, bob, clock, cards=260)
    chunks = []
    with alice.http.stream("GET", "/me/export") as response:
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        chunks = list(response.iter_raw())
    body = b"".join(chunks)
    document = json.loads(body)
    conn = _database(cfg)
    try:
        expected = _expected(conn, cfg, alice.id, document["exportedAt"])
    finally:
        conn.close()
    # Same document, same key order, same bytes as the whole-document read sent.
    assert document == expected and body == _encoded(expected)
    first, second = document["workspaces"]
    assert [len(b["cards"]) for b in first["boards"]] == [260, 1, 0] and len(second["boards"][0]["cards"]) == 1
    assert [m["userId"] for m in second["members"] if m["encWorkspaceKey"]] == [alice.id]
    cards = first["boards"][0]["cards"]
    assert sorted(c["id"] for c in cards) == sorted(world["cards"])
    assert sum(c["archived"] for c in cards) == 29 and sum(c["attachmentCount"] for c in cards) == 5
    assert {len(c["assigneeIds"]) for c in cards} == {0, 1, 2} and {len(c["labelIds"]) for c in cards} == {0, 1, 2}
    assert any(c["customFields"] for c in cards) and any(c["milestoneId"] for c in cards)
    # Each card is what GET /cards/:id answers (a separate code path).
    for card in cards[::7] + cards[-3:]:
        assert card == alice.http.get(f"/cards/{card['id']}").json()
    theirs = bob.http.get("/me/export").json()["workspaces"]
    assert [w["workspace"]["id"] for w in theirs] == [first["workspace"]["id"], second["workspace"]["id"]]


def test_export_streams_while_other_requests_are_served(
    memory: tuple[str, SandboxConfig], people: Callable[[str, str], User], clock: ManualClock, timeline: _Timeline
) -> None:
    url, _ = memory
    alice, bob = people(url, "alice"), people(url, "bob")
    _world(alice, bob, clock, cards=60)
    whole = alice.http.get("/me/export").content
    timeline.events.clear()
    chunks: list[bytes] = []
    with httpx.Client(base_url=url) as other, alice.http.stream("GET", "/me/export") as response:
        raw = response.iter_raw()
        chunks.append(next(raw))
        timeline.add("first chunk")
        assert other.get("/api/health").json()["ok"] is True
        timeline.add("health")
        chunks += raw
    assert b"".join(chunks) == whole
    assert len(chunks) > 1 and timeline.events.count("page") == 14
    # The first bytes and another answer came while pages were still being read.
    assert timeline.events.index("first chunk") < timeline.last("page")
    assert timeline.events.index("health") < timeline.last("page")


def test_export_is_one_snapshot_and_writers_are_not_broken(
    either: tuple[str, SandboxConfig], people: Callable[[str, str], User], clock: ManualClock, timeline: _Timeline
) -> None:
    url, cfg = either
    alice, bob = people(url, "alice"), people(url, "bob")
    world = _world(alice, bob, clock, cards=60)
    before = alice.http.get("/me/export").json()
    first, last = before["workspaces"][0]["boards"][0]["cards"][0], before["workspaces"][0]["boards"][0]["cards"][-1]
    timeline.events.clear()
    answers: list[httpx.Response] = []

    def write() -> None:
        """Move the first card (sent) to the end, comment on the last one (not sent yet)."""
        with httpx.Client(base_url=url + "/api", cookies=alice.http.cookies, timeout=30) as http:
            to = max(world["columns"])
            answers.append(http.patch(f"/cards/{first['id']}/move", json={"toColumnId": to}))
            body = env(world["bk"], "comment", "encBody", "late")
            answers.append(http.post(f"/cards/{last['id']}/comments", json={"encBody": body}))
        timeline.add("written")

    with alice.http.stream("GET", "/me/export") as response:
        raw = response.iter_raw()
        chunks = [next(raw)]
        writer = threading.Thread(target=write)
        writer.start()
        if cfg.db_path != ":memory:":
            writer.join(10)  # WAL: the writer does not wait for the export
        chunks += raw
    writer.join(30)
    assert [a.status_code for a in answers] == [200, 201], [a.text for a in answers]
    document = json.loads(b"".join(chunks))
    # The export is the moment it began: neither the move nor the comment is in it.
    assert document == {**before, "exportedAt": document["exportedAt"]}
    cards = document["workspaces"][0]["boards"][0]["cards"]
    assert len({c["id"] for c in cards}) == len(cards) == 60
    assert all(c["commentCount"] == len(c["comments"]) for c in cards)
    if cfg.db_path == ":memory:":
        # Table locks held the writer (SQLITE_LOCKED, retried) until the export ended.
        assert timeline.events.index("written") > timeline.events.index("snapshot ended")
    else:
        assert timeline.events.index("written") < timeline.last("page")
    after = alice.http.get("/me/export").json()["workspaces"][0]["boards"][0]["cards"]
    moved = next(c for c in after if c["id"] == first["id"])
    assert moved["columnId"] == max(world["columns"]) and after[-1]["id"] == first["id"]
    assert next(c for c in after if c["id"] == last["id"])["commentCount"] == last["commentCount"] + 1


def test_abandoned_export_releases_its_snapshot(
    memory: tuple[str, SandboxConfig], people: Callable[[str, str], User], clock: ManualClock, timeline: _Timeline
) -> None:
    url, _ = memory
    alice, bob = people(url, "alice"), people(url, "bob")
    world = _world(alice, bob, clock, cards=60)
    with alice.http.stream("GET", "/me/export") as response:
        next(response.iter_raw())
    assert timeline.ended.wait(10)
    assert timeline.events.count("page") < 14
    # No table lock left behind: a write goes through at once.
    started = time.monotonic()
    _ok(alice.http.patch(f"/cards/{world['cards'][0]}", json={"archived": False}))
    assert time.monotonic() - started < 1


def test_failure_mid_stream_cuts_the_response(
    memory: tuple[str, SandboxConfig],
    people: Callable[[str, str], User],
    clock: ManualClock,
    timeline: _Timeline,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, _ = memory
    alice, bob = people(url, "alice"), people(url, "bob")
    world = _world(alice, bob, clock, cards=60)
    read = _routes_auth._export_cards

    def failing(*args: Any) -> list[dict[str, Any]]:
        if timeline.events.count("page") == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return read(*args)

    monkeypatch.setattr(_routes_auth, "_export_cards", failing)
    received: list[bytes] = []
    with (
        caplog.at_level(logging.ERROR, logger="mskclient.sandbox"),
        pytest.raises(httpx.RemoteProtocolError),
        alice.http.stream("GET", "/me/export") as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_raw():
            received.append(chunk)
    body = b"".join(received)
    assert body.startswith(b'{"exportedAt":') and b'"cards":[' in body
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert timeline.ended.wait(10)
    logged = [r for r in caplog.records if "GET /me/export" in r.getMessage() and r.exc_info]
    assert logged and f"cut after {2 * _routes_auth.EXPORT_PAGE} cards" in logged[0].getMessage()
    # A plain read fails too (incomplete body), and the sandbox goes on serving.
    with pytest.raises(httpx.HTTPError):
        alice.http.get("/me/export")
    _ok(alice.http.patch(f"/cards/{world['cards'][0]}", json={"archived": False}))
    monkeypatch.setattr(_routes_auth, "_export_cards", read)
    assert len(alice.http.get("/me/export").json()["workspaces"]) == 2
