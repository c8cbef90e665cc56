"""The live `msk` commands (live, watch, webhooks), run as real processes against the sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from _accounts import PASSWORD, World

from mskclient._errors import TransportError
from mskclient.cli._context import CliContext
from mskclient.cli._live import _Describer, make_listener
from mskclient.crypto import sign_webhook
from mskclient.live import Participant, Tick, open_card, presence_for, relay_connector
from mskclient.webhooks import Receiver

from ._run import MSK_INTERRUPTIBLE

T = 60.0
MSK = MSK_INTERRUPTIBLE


@pytest.fixture(scope="module")
def env(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    config = tmp_path_factory.mktemp("config")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSK_")}
    env |= {"MSK_CONFIG_DIR": str(config), "MSK_SERVER": world.url, "MSK_PASSWORD": PASSWORD}
    for profile, member in (("alice", world.alice), ("bob", world.bob)):
        msk(env, "login", member.email, profile=profile)
    return env


def msk(env: dict[str, str], *args: str, profile: str = "alice", stdin: str | None = None) -> str:
    done = subprocess.run(
        [*MSK, *args, "--profile", profile],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=T,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def test_two_cards_edit_appends_started_together_both_land(world: World, env: dict[str, str]) -> None:
    card_id = world.new_card("Concurrent", "notes:\n")
    runs = [
        subprocess.Popen(
            [*MSK, "cards", "edit", card_id, "--append", f"- from {who}", "--profile", who],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("alice", "bob")
    ]
    for run in runs:
        _out, err = run.communicate(timeout=T)
        assert run.returncode == 0, err
    text = world.alice.client.card(card_id).description
    assert text.startswith("notes:\n")
    # Both appended at the same position concurrently: Yjs keeps both, each on its own line.
    assert sorted(text.splitlines()[1:]) == ["- from alice", "- from bob"]


async def test_msk_live_appends_typed_lines_live_and_leaves_cleanly(world: World, env: dict[str, str]) -> None:
    card_id = world.new_card("Live CLI", "first line\n")
    async with world.bob.async_client() as bc:
        bob = await open_card(bc, card_id, presence=presence_for("cbob000001", "bob"))
        async with bob:
            await bob.wait_connected(15)
            out = await asyncio.to_thread(msk, env, "live", card_id, stdin="typed in the terminal\n")
            assert out.startswith("first line\n")
            await bob.wait_until(lambda p: "typed in the terminal\n" in p.text, 15, "the typed line")
            await bob.wait_until(lambda p: not p.peers(), 15, "alice leaving (null awareness)")
    assert world.alice.client.card(card_id).description == "first line\ntyped in the terminal\n"


def test_msk_live_refuses_a_line_too_big_for_the_relay_and_goes_on(world: World, env: dict[str, str]) -> None:
    card_id = world.new_card("Too big", "start\n")
    typed = "x" * 1_100_000 + "\nsmall line\n"
    done = subprocess.run(
        [*MSK, "live", card_id, "--profile", "alice"], env=env, input=typed, capture_output=True, text=True, timeout=T
    )
    assert done.returncode == 0, done.stderr
    assert "msk: not appended: " in done.stderr and "too large for the relay" in done.stderr
    assert world.alice.client.card(card_id).description == "start\nsmall line\n"


@pytest.fixture
def listener() -> Iterator[tuple[str, list[dict[str, Any]], Receiver]]:
    receiver = Receiver("")
    seen: list[dict[str, Any]] = []
    event = threading.Event()

    def report(data: dict[str, Any], text: str) -> None:
        seen.append(data | {"line": text})
        event.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), make_listener(receiver, report))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", seen, receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_webhooks_commands_and_the_listener(
    world: World, env: dict[str, str], listener: tuple[str, list[dict[str, Any]], Receiver]
) -> None:
    url, seen, receiver = listener
    created = json.loads(
        msk(env, "webhooks", "create", url, "--board", world.board_id, "--event", "CARD_ARCHIVED", "--json")
    )
    receiver.secret = created["secret"]
    listed = json.loads(msk(env, "webhooks", "list", "--board", world.board_id, "--json"))
    assert created["id"] in [h["id"] for h in listed]

    card_id = world.new_card("Hooked")
    world.alice.client.archive_card(card_id)
    deadline = time.monotonic() + 15
    while not any(s.get("event") == "CARD_ARCHIVED" for s in seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    accepted = next(s for s in seen if s.get("event") == "CARD_ARCHIVED")
    assert accepted["payload"]["cardId"] == card_id

    # The same delivery again, a tampered one and a stale one are refused.
    body = json.dumps(accepted["payload"]).encode()
    now = int(time.time())
    headers = {
        "X-MSKanban-Event": "CARD_ARCHIVED",
        "X-MSKanban-Delivery-Id": accepted["delivery"],
        "X-MSKanban-Signature": sign_webhook(receiver.secret, now, body),
    }
    assert httpx.post(url, content=body, headers=headers).status_code == 409
    other = headers | {"X-MSKanban-Delivery-Id": "01JZZZZZZZZZZZZZZZZZZZZZZZ"}
    assert httpx.post(url, content=body + b" ", headers=other).status_code == 401
    stale = other | {"X-MSKanban-Signature": sign_webhook(receiver.secret, now - 301, body)}
    assert httpx.post(url, content=body, headers=stale).status_code == 401

    deliveries = json.loads(msk(env, "webhooks", "deliveries", created["id"], "--json"))
    assert [d["status"] for d in deliveries] == ["delivered"]
    msk(env, "webhooks", "requeue", deliveries[0]["id"])
    msk(env, "webhooks", "delete", created["id"], "--yes")
    assert created["id"] not in [
        h["id"] for h in json.loads(msk(env, "webhooks", "list", "--board", world.board_id, "--json"))
    ]


async def test_msk_live_board_shows_who_is_on_which_card_and_ctrl_c_leaves(world: World, env: dict[str, str]) -> None:
    card_id = world.new_card("Presence card")
    async with world.bob.async_client() as bc:
        key = await bc.board_key(world.board_id)
        bob = Participant(
            f"board:{world.board_id}",
            key,
            relay_connector(bc, f"board:{world.board_id}"),
            presence=presence_for("cbob000001", "bob", card_id),
        )
        async with bob:
            await bob.wait_connected(15)
            proc = await asyncio.create_subprocess_exec(
                *MSK,
                "live",
                "--board",
                world.board_id,
                "--profile",
                "alice",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            assert proc.stdout is not None
            try:
                async with asyncio.timeout(T):
                    while b"bob on \xe2\x80\x98Presence card\xe2\x80\x99" not in await proc.stdout.readline():
                        pass
                await bob.wait_until(
                    lambda p: any(s["user"]["id"] != "cbob000001" for s in p.peers().values()), 15, "alice on the board"
                )
                proc.send_signal(signal.SIGINT)
                await bob.wait_until(lambda p: not p.peers(), 15, "alice leaving (null awareness)")
                async with asyncio.timeout(T):
                    assert await proc.wait() == 0
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()


def test_listen_decrypt_names_cards_and_columns(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MSK_CONFIG_DIR", str(tmp_path))
    seen: list[str] = []
    got = threading.Event()

    def report(data: dict[str, Any], text: str) -> None:
        seen.append(text)
        got.set()

    ctx = CliContext(server=None, profile="x", json=False, password_file=None)
    describer = _Describer(ctx, world.alice.client)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_listener(Receiver(""), report, describer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = world.alice.client.create_webhook(
            world.board_id, f"http://127.0.0.1:{server.server_address[1]}/", ["CARD_MOVED"]
        )
        assert hook.secret
        server.RequestHandlerClass = make_listener(Receiver(hook.secret), report, describer)
        card_id = world.new_card("Decrypt me")
        world.alice.client.move_card(card_id, world.column_ids[1])
        assert got.wait(15)
        assert "card ‘Decrypt me’ moved from ‘Doing’ to ‘Done’ by alice" in seen[0]
        world.alice.client.delete_webhook(hook.id)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        describer.close()


def test_describer_turns_a_slow_lookup_into_a_transport_error(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MSK_CONFIG_DIR", str(tmp_path))

    async def never(tick: object, names: object) -> str:
        await asyncio.Event().wait()
        return ""

    monkeypatch.setattr("mskclient.cli._live.describe", never)
    describer = _Describer(CliContext(server=None, profile="x", json=False, password_file=None), world.alice.client)
    describer.lookup_timeout = 0.2
    tick = Tick.from_json(
        {"verb": "CARD_MOVED", "boardId": world.board_id, "cardId": None, "actorId": None,
         "timestamp": "2026-01-01T00:00:00.000Z", "metadata": {}},
        "01HZZZZZZZZZZZZZZZZZZZZZZZ",
    )  # fmt: skip
    try:
        with pytest.raises(TransportError, match=r"over 0\.2 s"):
            describer.describe(tick)
    finally:
        describer.close()
