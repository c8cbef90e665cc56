"""Board routes over HTTP: every family works, and a second user gets nothing of a workspace
they are not in (404), an observer reads but never writes (403)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _accounts import Board, User, env, make_board

from mskclient._profile import field
from mskclient.crypto import FileKey, decrypt_field, encrypt_file, wrap_file_key

from ._helpers import error


def _world(alice: User) -> dict[str, Any]:
    """A board with one of everything, and the routes that touch each thing."""
    b = make_board(alice)
    bk = b.bk
    http = alice.http
    card = alice.card(b.column, bk, "First")
    other = alice.card(b.column, bk, "Second")
    label = http.post(
        f"/boards/{b.id}/labels", json={"encName": env(bk, "label", "encName", "bug"), "color": "#FF0000"}
    )
    milestone = http.post(f"/boards/{b.id}/milestones", json={"encTitle": env(bk, "milestone", "encTitle", "v1")})
    comment = http.post(f"/cards/{card['id']}/comments", json={"encBody": env(bk, "comment", "encBody", "hi")})
    checklist = http.post(f"/cards/{card['id']}/checklists", json={"encTitle": env(bk, "checklist", "encTitle", "c")})
    item = http.post(
        f"/checklists/{checklist.json()['id']}/items", json={"encText": env(bk, "checklistItem", "encText", "i")}
    )
    template = http.post(f"/boards/{b.id}/card-templates", json={"encTitle": env(bk, "cardTemplate", "encTitle", "t")})
    custom = http.post(
        f"/boards/{b.id}/custom-fields", json={"encName": env(bk, "customField", "encName", "n"), "type": "text"}
    )
    automation = http.post(
        f"/boards/{b.id}/automations",
        json={
            "encName": env(bk, "automation", "encName", "a"),
            "trigger": {"type": "card.moved", "columnId": b.column},
            "action": {"type": "label.attach", "labelId": label.json()["id"]},
        },
    )
    webhook = http.post(f"/boards/{b.id}/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["CARD_MOVED"]})
    attachment = _upload(alice, card["id"], bk, b"attachment bytes")
    for r in (label, milestone, comment, checklist, item, template, custom, automation, webhook):
        assert r.status_code == 201, r.text
    ids = {
        "ws": b.ws, "board": b.id, "column": b.column, "card": card["id"], "other": other["id"],
        "label": label.json()["id"], "milestone": milestone.json()["id"], "comment": comment.json()["id"],
        "checklist": checklist.json()["id"], "item": item.json()["id"], "template": template.json()["id"],
        "custom": custom.json()["id"], "automation": automation.json()["id"], "webhook": webhook.json()["id"],
        "attachment": attachment["id"], "owner": alice.id,
    }  # fmt: skip
    return {"board": b, "ids": ids}


def _upload(user: User, card_id: str, bk: Any, content: bytes, meta: dict[str, Any] | None = None) -> Any:
    fk = FileKey.generate()
    sink = io.BytesIO()
    encrypt_file(fk, io.BytesIO(content), sink)
    meta = meta or {
        "encName": env(bk, "attachment", "encName", "notes.txt"),
        "encMime": env(bk, "attachment", "encMime", "text/plain"),
        "encFileKey": str(wrap_file_key(bk, fk)),
        "size": len(content),
    }
    r = user.http.post(
        f"/cards/{card_id}/attachments",
        files={"meta": (None, json.dumps(meta)), "file": ("blob", sink.getvalue(), "application/octet-stream")},
    )
    assert r.status_code == 201, r.text
    return r.json() | {"_cipher": sink.getvalue(), "_fk": fk}


def _routes(ids: dict[str, str], bk: Any) -> list[tuple[str, str, Any]]:
    e = env(bk, "card", "encTitle", "x")
    return [
        ("GET", "/workspaces/{ws}", None),
        ("PATCH", "/workspaces/{ws}", {"encName": e}),
        ("GET", "/workspaces/{ws}/members", None),
        ("GET", "/workspaces/{ws}/boards", None),
        ("POST", "/workspaces/{ws}/boards", {"encTitle": e, "encBoardKey": e}),
        ("GET", "/boards/{board}", None),
        ("PATCH", "/boards/{board}", {"archived": True}),
        ("GET", "/boards/{board}/columns", None),
        ("POST", "/boards/{board}/columns", {"encTitle": e}),
        ("PATCH", "/columns/{column}", {"wipLimit": 3}),
        ("POST", "/columns/{column}/cards", {"encTitle": e}),
        ("GET", "/boards/{board}/cards", None),
        ("GET", "/cards/{card}", None),
        ("PATCH", "/cards/{card}", {"encTitle": e}),
        ("PATCH", "/cards/{card}/move", {"toColumnId": ids["column"]}),
        ("POST", "/cards/{card}/labels", {"labelId": ids["label"]}),
        ("DELETE", "/cards/{card}/labels", {"labelId": ids["label"]}),
        ("POST", "/cards/{card}/assignments", {"userId": ids["owner"]}),
        ("DELETE", "/cards/{card}/assignments/{owner}", None),
        ("PUT", "/cards/{card}/milestone", {"milestoneId": ids["milestone"]}),
        ("GET", "/cards/{card}/comments", None),
        ("POST", "/cards/{card}/comments", {"encBody": e}),
        ("PATCH", "/comments/{comment}", {"encBody": e}),
        ("GET", "/cards/{card}/checklists", None),
        ("POST", "/cards/{card}/checklists", {"encTitle": e}),
        ("PATCH", "/checklists/{checklist}", {"encTitle": e}),
        ("POST", "/checklists/{checklist}/items", {"encText": e}),
        ("PATCH", "/checklist-items/{item}", {"done": True}),
        ("GET", "/cards/{card}/attachments", None),
        ("GET", "/attachments/{attachment}", None),
        ("GET", "/attachments/{attachment}/content", None),
        ("GET", "/boards/{board}/labels", None),
        ("POST", "/boards/{board}/labels", {"encName": e, "color": "#000000"}),
        ("PATCH", "/labels/{label}", {"color": "#00ff00"}),
        ("GET", "/boards/{board}/milestones", None),
        ("POST", "/boards/{board}/milestones", {"encTitle": e}),
        ("PATCH", "/milestones/{milestone}", {"archived": True}),
        ("GET", "/boards/{board}/card-templates", None),
        ("POST", "/boards/{board}/card-templates", {"encTitle": e}),
        ("GET", "/boards/{board}/custom-fields", None),
        ("POST", "/boards/{board}/custom-fields", {"encName": e, "type": "number"}),
        ("PATCH", "/custom-fields/{custom}", {"encName": e}),
        ("GET", "/boards/{board}/automations", None),
        ("POST", "/boards/{board}/automations",
         {"encName": e, "trigger": {"type": "label.attached", "labelId": ids["label"]},
          "action": {"type": "card.assign", "userId": ids["owner"]}}),
        ("PATCH", "/automations/{automation}", {"enabled": False}),
        ("GET", "/boards/{board}/webhooks", None),
        ("POST", "/boards/{board}/webhooks", {"url": "https://example.org/h", "events": ["CARD_CREATED"]}),
        ("PATCH", "/webhooks/{webhook}", {"active": False}),
        ("GET", "/webhooks/{webhook}/deliveries", None),
        ("GET", "/boards/{board}/activity", None),
        ("POST", "/auth/ws-ticket", {"room": "board:" + ids["board"]}),
        ("DELETE", "/checklist-items/{item}", None),
        ("DELETE", "/checklists/{checklist}", None),
        ("DELETE", "/comments/{comment}", None),
        ("DELETE", "/attachments/{attachment}", None),
        ("DELETE", "/labels/{label}", None),
        ("DELETE", "/milestones/{milestone}", None),
        ("DELETE", "/card-templates/{template}", None),
        ("DELETE", "/custom-fields/{custom}", None),
        ("DELETE", "/automations/{automation}", None),
        ("DELETE", "/webhooks/{webhook}", None),
        ("DELETE", "/cards/{other}", None),
        ("DELETE", "/columns/{column}", None),
        ("DELETE", "/boards/{board}", None),
        ("DELETE", "/workspaces/{ws}", None),
    ]  # fmt: skip


def _send(user: User, method: str, path: str, body: Any, ids: dict[str, str]) -> httpx.Response:
    return (
        user.http.request(method, path.format(**ids), json=body)
        if body is not None
        else user.http.request(method, path.format(**ids))
    )


def test_outsider_gets_404_everywhere(alice: User, bob: User) -> None:
    world = _world(alice)
    ids, bk = world["ids"], world["board"].bk
    for method, path, body in _routes(ids, bk):
        error(_send(bob, method, path, body, ids), 404, "NOT_FOUND")
    # The owner still sees everything intact afterwards.
    assert alice.http.get(f"/cards/{ids['card']}").json()["commentCount"] == 1
    assert bob.http.get("/workspaces").json() == []


def test_observer_reads_but_never_writes(alice: User, bob: User) -> None:
    world = _world(alice)
    ids, b = world["ids"], world["board"]
    assert alice.invite(b.ws, b.wk, bob, "observer").status_code == 201
    manager_only = ("/webhooks", "/deliveries")
    for method, path, body in _routes(ids, b.bk):
        r = _send(bob, method, path, body, ids)
        if method == "GET" and not any(m in path for m in manager_only):
            assert r.status_code == 200, (path, r.text)
        elif path == "/auth/ws-ticket":
            assert r.status_code == 200
        else:
            error(r, 403, "FORBIDDEN")


def test_owner_runs_every_route(alice: User, bob: User) -> None:
    world = _world(alice)
    ids, b = world["ids"], world["board"]
    for method, path, body in _routes(ids, b.bk):
        r = _send(alice, method, path, body, ids)
        assert r.status_code in (200, 201, 204), (method, path, r.text)
    error(alice.http.get(f"/workspaces/{ids['ws']}"), 404)


def test_members_roles_and_removal(alice: User, bob: User, users: Callable[[str], User]) -> None:
    carol = users("carol")
    b = make_board(alice)
    assert alice.invite(b.ws, b.wk, bob, "member").status_code == 201
    error(alice.invite(b.ws, b.wk, bob, "member"), 409, "CONFLICT")
    # A member may not invite, remove or change roles.
    error(bob.invite(b.ws, b.wk, carol), 403, "FORBIDDEN")
    error(bob.http.patch(f"/workspaces/{b.ws}/members/{alice.id}", json={"role": "observer"}), 403)
    members = {m["userId"]: m for m in alice.http.get(f"/workspaces/{b.ws}/members").json()}
    assert members[alice.id]["encWorkspaceKey"] and members[bob.id]["encWorkspaceKey"] is None
    assert members[bob.id]["role"] == "member"
    # An admin may invite; only an owner makes owners.
    r = alice.http.patch(f"/workspaces/{b.ws}/members/{bob.id}", json={"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    error(bob.invite(b.ws, b.wk, carol, "owner"), 403)
    assert bob.invite(b.ws, b.wk, carol, "observer").status_code == 201
    # The last owner stays.
    error(alice.http.patch(f"/workspaces/{b.ws}/members/{alice.id}", json={"role": "member"}), 409)
    error(alice.http.delete(f"/workspaces/{b.ws}/members/{alice.id}"), 409)
    # Removing a member ends their access at once.
    assert bob.http.get(f"/boards/{b.id}").status_code == 200
    assert alice.http.delete(f"/workspaces/{b.ws}/members/{bob.id}").status_code == 204
    error(bob.http.get(f"/boards/{b.id}"), 404)
    # Anyone may leave.
    assert carol.http.delete(f"/workspaces/{b.ws}/members/{carol.id}").status_code == 204
    me = carol.http.get("/me").json()
    assert me["memberships"] == []


def test_card_versions_and_if_match(board: Board) -> None:
    alice = board.owner
    card = alice.card(board.column, board.bk)
    assert card["version"] == 1
    r = alice.http.patch(
        f"/cards/{card['id']}", json={"dueAt": "2026-05-25T12:00:00.000Z"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    error(
        alice.http.patch(f"/cards/{card['id']}", json={"archived": True}, headers={"If-Match": '"1"'}), 409, "CONFLICT"
    )
    r = alice.http.patch(f"/cards/{card['id']}", json={"archived": True}, headers={"If-Match": '"2"'})
    assert r.json()["archived"] is True and r.json()["version"] == 3
    verbs = [e["verb"] for e in alice.http.get(f"/boards/{board.id}/activity").json()]
    assert verbs[:3] == ["CARD_ARCHIVED", "CARD_UPDATED", "CARD_CREATED"]


def test_moves_keep_order_over_thousands_of_moves(board: Board) -> None:
    alice = board.owner
    second = alice.column(board.id, board.bk, "Doing")
    cards = [alice.card(board.column, board.bk, f"c{i}")["id"] for i in range(4)]
    order = list(cards)
    # Repeatedly squeeze a card between the first two: gaps halve until the column renumbers.
    for i in range(1200):
        mover = order[-1]
        r = alice.http.patch(f"/cards/{mover}/move", json={"toColumnId": board.column, "afterCardId": order[0]})
        assert r.status_code == 200, r.text
        order = [order[0], mover, *order[1:-1]]
        if i % 300 == 0:
            listed = [
                c["id"] for c in alice.http.get(f"/boards/{board.id}/cards").json() if c["columnId"] == board.column
            ]
            assert listed == order
    listed = alice.http.get(f"/boards/{board.id}/cards").json()
    assert [c["id"] for c in listed] == order
    positions = [c["position"] for c in listed]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    # Moves across columns, before/after a card, and bad neighbours.
    r = alice.http.patch(f"/cards/{order[2]}/move", json={"toColumnId": second})
    assert r.json()["columnId"] == second
    r = alice.http.patch(f"/cards/{order[3]}/move", json={"toColumnId": second, "beforeCardId": order[2]})
    assert r.json()["position"] < alice.http.get(f"/cards/{order[2]}").json()["position"]
    error(alice.http.patch(f"/cards/{order[0]}/move", json={"toColumnId": second, "afterCardId": order[1]}), 400)
    error(alice.http.patch(f"/cards/{order[0]}/move", json={"toColumnId": second, "afterCardId": order[0]}), 400)


def test_automations_run_on_ids(board: Board, bob: User) -> None:
    alice, bk = board.owner, board.bk
    alice.invite(board.ws, board.wk, bob)
    done = alice.column(board.id, bk, "Done")
    label = alice.http.post(
        f"/boards/{board.id}/labels", json={"encName": env(bk, "label", "encName", "ok"), "color": "#00aa00"}
    ).json()["id"]
    for trigger, action in (
        ({"type": "card.moved", "columnId": done}, {"type": "label.attach", "labelId": label}),
        ({"type": "label.attached", "labelId": label}, {"type": "card.assign", "userId": bob.id}),
    ):
        r = alice.http.post(
            f"/boards/{board.id}/automations",
            json={"encName": env(bk, "automation", "encName", "rule"), "trigger": trigger, "action": action},
        )
        assert r.status_code == 201 and r.json()["enabled"] is True and r.json()["trigger"] == trigger
    card = alice.card(board.column, bk)
    moved = alice.http.patch(f"/cards/{card['id']}/move", json={"toColumnId": done}).json()
    assert moved["labelIds"] == [label] and moved["assigneeIds"] == [bob.id]
    events = alice.http.get(f"/boards/{board.id}/activity").json()
    assert [e["verb"] for e in events[:3]] == ["ASSIGNED", "LABEL_ATTACHED", "CARD_MOVED"]
    assert events[0]["actorId"] is None
    bad = {"encName": env(bk, "automation", "encName", "x"), "trigger": {"type": "card.moved", "columnId": done}}
    error(alice.http.post(f"/boards/{board.id}/automations", json={**bad, "action": {"type": "explode"}}), 400)
    error(
        alice.http.post(
            f"/boards/{board.id}/automations",
            json={**bad, "action": {"type": "label.attach", "labelId": "cnotalabel0000"}},
        ),
        404,
    )


def test_attachments_round_trip_and_limit(board: Board, url: str) -> None:
    alice, bk = board.owner, board.bk
    card = alice.card(board.column, bk)
    content = bytes(range(256)) * 1000
    made = _upload(alice, card["id"], bk, content)
    assert made["size"] == len(content)
    meta = alice.http.get(f"/attachments/{made['id']}").json()
    assert meta["cardId"] == card["id"] and "content" not in meta
    with alice.http.stream("GET", f"/attachments/{made['id']}/content") as r:
        assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
        cipher = b"".join(r.iter_bytes())
    assert cipher == made["_cipher"]
    from mskclient.crypto import decrypt_file, open_file_key

    fk = open_file_key(bk, meta["encFileKey"], made["id"])
    sink = io.BytesIO()
    decrypt_file(fk, io.BytesIO(cipher), sink, attachment_id=made["id"])
    assert sink.getvalue() == content
    assert decrypt_field(bk, meta["encName"], field("attachment", "encName")) == b"notes.txt"
    assert alice.http.get(f"/cards/{card['id']}").json()["attachmentCount"] == 1
    # Over 25 MiB of ciphertext: 413 in the error shape.
    big = b"\0" * (25 * 1024 * 1024 + 1)
    meta_json = json.dumps({k: made[k] for k in ("encName", "encMime", "encFileKey", "size")})
    r = alice.http.post(
        f"/cards/{card['id']}/attachments",
        files={"meta": (None, meta_json), "file": ("b", big, "application/octet-stream")},
    )
    error(r, 413, "PAYLOAD_TOO_LARGE")
    r = alice.http.post(f"/cards/{card['id']}/attachments", files={"meta": (None, "{")})
    error(r, 400)


def test_milestones_archived_filter_and_card_milestone(board: Board) -> None:
    alice, bk = board.owner, board.bk
    ms = [
        alice.http.post(f"/boards/{board.id}/milestones", json={"encTitle": env(bk, "milestone", "encTitle", t)}).json()
        for t in ("a", "b")
    ]
    alice.http.patch(f"/milestones/{ms[0]['id']}", json={"archived": True})
    assert [m["id"] for m in alice.http.get(f"/boards/{board.id}/milestones").json()] == [ms[1]["id"]]
    assert len(alice.http.get(f"/boards/{board.id}/milestones?archived=1").json()) == 2
    card = alice.card(board.column, bk)
    r = alice.http.put(f"/cards/{card['id']}/milestone", json={"milestoneId": ms[1]["id"]})
    assert r.json()["milestoneId"] == ms[1]["id"]
    assert alice.http.put(f"/cards/{card['id']}/milestone", json={"milestoneId": None}).json()["milestoneId"] is None


def test_webhooks_secret_once_and_deliveries(board: Board) -> None:
    alice = board.owner
    r = alice.http.post(
        f"/boards/{board.id}/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["CARD_CREATED"]}
    )
    hook = r.json()
    assert hook["secret"] and hook["active"] is True and hook["events"] == ["CARD_CREATED"]
    listed = alice.http.get(f"/boards/{board.id}/webhooks").json()
    assert "secret" not in listed[0]
    alice.card(board.column, board.bk)
    deliveries = alice.http.get(f"/webhooks/{hook['id']}/deliveries").json()
    assert [d["verb"] for d in deliveries] == ["CARD_CREATED"]
    r = alice.http.post(f"/webhooks/deliveries/{deliveries[0]['id']}/requeue")
    assert r.status_code == 202 and r.json()["id"] == deliveries[0]["id"]
    error(alice.http.post("/webhooks/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV/requeue"), 404)
    error(alice.http.post(f"/boards/{board.id}/webhooks", json={"url": "ftp://x", "events": ["CARD_CREATED"]}), 400)
    error(alice.http.post(f"/boards/{board.id}/webhooks", json={"url": "http://x", "events": ["NOPE"]}), 400)


def test_custom_field_values_on_cards(board: Board) -> None:
    alice, bk = board.owner, board.bk
    cf = alice.http.post(
        f"/boards/{board.id}/custom-fields",
        json={"encName": env(bk, "customField", "encName", "Points"), "type": "number"},
    ).json()
    card = alice.card(board.column, bk)
    value = env(bk, "card", "customFields", "5")
    r = alice.http.patch(f"/cards/{card['id']}", json={"customFields": {cf["id"]: value}})
    assert r.json()["customFields"] == {cf["id"]: value}
    error(alice.http.patch(f"/cards/{card['id']}", json={"customFields": {"cnosuchfield0": value}}), 404)
    assert (
        alice.http.patch(f"/cards/{card['id']}", json={"customFields": {cf["id"]: None}}).json()["customFields"] == {}
    )


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_only_managers_see_webhooks(board: Board, bob: User, role: str) -> None:
    alice = board.owner
    alice.invite(board.ws, board.wk, bob, "member")
    error(bob.http.get(f"/boards/{board.id}/webhooks"), 403)
    alice.http.patch(f"/workspaces/{board.ws}/members/{bob.id}", json={"role": role})
    assert bob.http.get(f"/boards/{board.id}/webhooks").status_code == 200


def test_unarchive_is_an_update(board: Board) -> None:
    alice = board.owner
    card = alice.card(board.column, board.bk)
    alice.http.patch(f"/cards/{card['id']}", json={"archived": True})
    alice.http.patch(f"/cards/{card['id']}", json={"archived": True})
    r = alice.http.patch(f"/cards/{card['id']}", json={"archived": False})
    assert r.json()["archived"] is False and r.json()["version"] == 4
    events = alice.http.get(f"/boards/{board.id}/activity").json()
    assert [(e["verb"], e["metadata"].get("fields")) for e in events[:3]] == [
        ("CARD_UPDATED", ["archived"]),
        ("CARD_ARCHIVED", None),
        ("CARD_CREATED", None),
    ]


def test_comments_belong_to_their_author(board: Board, bob: User, users: Callable[[str], User]) -> None:
    alice, bk = board.owner, board.bk
    carol = users("carol")
    alice.invite(board.ws, board.wk, bob, "member")
    alice.invite(board.ws, board.wk, carol, "admin")
    card = alice.card(board.column, bk)
    mine = alice.http.post(f"/cards/{card['id']}/comments", json={"encBody": env(bk, "comment", "encBody", "a")}).json()
    assert mine["authorId"] == alice.id
    theirs = bob.http.post(f"/cards/{card['id']}/comments", json={"encBody": env(bk, "comment", "encBody", "b")}).json()
    error(bob.http.patch(f"/comments/{mine['id']}", json={"encBody": env(bk, "comment", "encBody", "x")}), 403)
    error(bob.http.delete(f"/comments/{mine['id']}"), 403)
    assert (
        bob.http.patch(f"/comments/{theirs['id']}", json={"encBody": env(bk, "comment", "encBody", "c")}).status_code
        == 200
    )
    assert carol.http.delete(f"/comments/{theirs['id']}").status_code == 204
    listed = alice.http.get(f"/cards/{card['id']}/comments").json()
    assert [c["id"] for c in listed] == [mine["id"]]


def test_checklist_items_toggle_and_order(board: Board) -> None:
    alice, bk = board.owner, board.bk
    card = alice.card(board.column, bk)
    checklist = alice.http.post(
        f"/cards/{card['id']}/checklists", json={"encTitle": env(bk, "checklist", "encTitle", "c")}
    )
    cl = checklist.json()
    assert cl["items"] == [] and cl["position"] == 1024.0
    items = [
        alice.http.post(
            f"/checklists/{cl['id']}/items", json={"encText": env(bk, "checklistItem", "encText", t)}
        ).json()
        for t in ("one", "two")
    ]
    assert [i["position"] for i in items] == [1024.0, 2048.0] and items[0]["done"] is False
    alice.http.patch(f"/checklist-items/{items[1]['id']}", json={"position": 1.0})
    r = alice.http.patch(f"/checklist-items/{items[0]['id']}", json={"done": True})
    assert r.json()["done"] is True
    (listed,) = alice.http.get(f"/cards/{card['id']}/checklists").json()
    assert [i["id"] for i in listed["items"]] == [items[1]["id"], items[0]["id"]]
    (event, *_) = alice.http.get(f"/boards/{board.id}/activity").json()
    assert event["verb"] == "CHECKLIST_ITEM_TOGGLED" and event["cardId"] == card["id"]
    assert event["metadata"] == {"cardId": card["id"], "checklistId": cl["id"], "itemId": items[0]["id"], "done": True}
    assert alice.http.get(f"/cards/{card['id']}").json()["checklistCount"] == 1


def test_random_moves_match_a_model(board: Board) -> None:
    """Random moves (end of column, before or after a card, across columns) keep the server's
    order equal to a plain list model."""
    import random

    alice = board.owner
    rng = random.Random(1234)
    columns = [board.column, alice.column(board.id, board.bk, "B")]
    model: dict[str, list[str]] = {c: [] for c in columns}
    for i in range(6):
        column = columns[i % 2]
        model[column].append(alice.card(column, board.bk)["id"])
    for _ in range(300):
        source = rng.choice([c for c in columns if model[c]])
        card = rng.choice(model[source])
        model[source].remove(card)
        target = rng.choice(columns)
        others = model[target]
        how = rng.choice(["end", "before", "after"]) if others else "end"
        body: dict[str, Any] = {"toColumnId": target}
        if how == "end":
            others.append(card)
        else:
            ref = rng.choice(others)
            body[f"{how}CardId"] = ref
            others.insert(others.index(ref) + (how == "after"), card)
        r = alice.http.patch(f"/cards/{card}/move", json=body)
        assert r.status_code == 200, r.text
    listed = alice.http.get(f"/boards/{board.id}/cards").json()
    for column in columns:
        assert [c["id"] for c in listed if c["columnId"] == column] == model[column]
