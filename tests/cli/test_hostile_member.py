"""A workspace member attacks the others through what they write: terminal escapes and rich
markup in every field (read back from a real pty), and envelopes that do not authenticate."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from _accounts import PASSWORD

from mskclient import AsyncClient, Client, DecryptionError, Undecryptable
from mskclient._profile import field
from mskclient.crypto import BoardKey, WorkspaceKey, encrypt_field, wrap_board_key
from mskclient.live import open_board, presence_for

from ._run import MSK_INTERRUPTIBLE, msk
from .conftest import User

#: Every kind of sequence a terminal or rich acts on: OSC 0 title, OSC 8 link, CSI clear, 8-bit
#: CSI, BEL, CR, backspace, a bidi override, a line break, rich markup and an emoji code.
HOSTILE = (
    "T\x1b]0;pwned\x07 \x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\ \x1b[2J\x9b31m\x07\r\x08"
    " \u202egnp.exe \u2066x\u2069 [link=https://evil.example]x[/link] [/dim] [b]b[/b] :warning:\nforged"
)
_MARKUP = ("[link=https://evil.example]x[/link]", "[/dim]", "[b]b[/b]", ":warning:")
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _hostile(tag: str) -> str:
    return f"{tag} {HOSTILE}"


@dataclass
class Scene:
    ws_id: str
    board_id: str
    board_title: str
    card_id: str


@pytest.fixture(scope="module")
def scene(ana: User, bo: User, tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """ana's workspace and board; bo, a member, fills it with hostile text through `msk`."""
    ws_id = ana.json("workspaces", "create", "Hostile member")["id"]
    ana("members", "invite", bo.email, "--workspace", ws_id)
    title = "Plain board"
    board_id = ana.json("boards", "create", title, "--workspace", ws_id)["id"]
    ana("columns", "create", "To do", "--board", board_id)
    bo("boards", "create", _hostile("board"), "--workspace", ws_id)
    card_id = bo.json("cards", "create", _hostile("card"), "--board", board_id, "--column", "To do")["id"]
    bo("cards", "comment", card_id, _hostile("comment"))
    bo("cards", "checklist", card_id, _hostile("checklist"), "--item", _hostile("item"), "--item", "[/dim]")
    label = bo.json("labels", "create", _hostile("label"), "--board", board_id)["id"]
    bo("cards", "label", card_id, label, "--board", board_id)
    milestone = bo.json("milestones", "create", _hostile("milestone"), "--board", board_id)["id"]
    bo("cards", "milestone", card_id, milestone, "--board", board_id)
    bo("fields", "create", _hostile("field"), "--board", board_id)
    bo("templates", "create", _hostile("template"), "--board", board_id, "--body", _hostile("body"))
    attached = tmp_path_factory.mktemp("attach") / "a.bin"
    attached.write_bytes(b"x")
    bo("cards", "attach", card_id, str(attached), "--name", _hostile("name"), "--mime", _hostile("mime"))
    return Scene(ws_id, board_id, title, card_id)


def _pty_run(user: User, *args: str, until: str | None = None) -> tuple[int, str]:
    """Run `msk ARGS` as `user` on a real pseudo-terminal; the exit code and every byte it printed.

    A command that runs until stopped gets Ctrl-C (SIGINT) once a line holding `until` is out.
    """
    env = {k: v for k, v in os.environ.items() if k not in user.env}
    env.update({k: v for k, v in user.env.items() if v is not None})
    env.update(TERM="xterm-256color", COLUMNS="400", LINES="50")
    env.pop("NO_COLOR", None)
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 400, 0, 0))
    command = [*MSK_INTERRUPTIBLE, *args]
    process = subprocess.Popen(command, stdin=child, stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    received = bytearray()
    deadline = time.monotonic() + 60
    stopped = until is None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(main, 65536)
        except OSError as exc:  # EIO: the child side is closed
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        received += chunk
        shown = received.decode("utf-8", "replace")
        if not stopped and until is not None and re.search(re.escape(until) + ".*\n", shown):
            process.send_signal(signal.SIGINT)
            stopped = True
    os.close(main)
    code = process.wait(timeout=30)
    assert stopped, f"{until!r} never shown"
    return code, received.decode("utf-8").replace("\r\n", "\n")


def _assert_inert(raw: str) -> str:
    """No sequence from the data reached the terminal; returns the text without rich's own colours."""
    assert "\x1b]" not in raw and "\x1b[2J" not in raw  # no OSC (title, link), no screen clear
    text = _SGR.sub("", raw)
    assert "\x1b" not in text, "an escape sequence other than rich's colours"
    for char in "\x9b\x07\r\x08" + _BIDI:
        assert char not in text, f"{char!r} reached the terminal"
    return text


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("boards", "list"), ["board T"]),
        (("cards", "list", "--board", "Plain board"), ["card T"]),
        (("labels", "list", "--board", "Plain board"), ["label T"]),
        (("milestones", "list", "--board", "Plain board"), ["milestone T"]),
        (("fields", "list", "--board", "Plain board"), ["field T"]),
        (("templates", "list", "--board", "Plain board"), ["template T", "body T"]),
        (("boards", "show", "Plain board"), ["card T"]),
    ],
)
def test_lists_show_hostile_text_inert(ana: User, scene: Scene, args: tuple[str, ...], shown: list[str]) -> None:
    code, raw = _pty_run(ana, *args)
    text = _assert_inert(raw)
    assert code == 0, text
    for tag in shown:
        assert f"{tag}\\x1b]0;pwned\\x07" in text  # visible, as an escape
        assert "<U+202E>gnp.exe" in text and "\\nforged" in text  # no reordering, no forged line
        for literal in _MARKUP:
            assert literal in text  # markup shown, not interpreted


def test_cards_show_hostile_card_inert(ana: User, bo: User, scene: Scene) -> None:
    code, raw = _pty_run(ana, "cards", "show", scene.card_id)
    text = _assert_inert(raw)
    assert code == 0, text
    for tag in ("card", "comment", "checklist", "item", "name", "mime", "label", "milestone"):
        assert f"{tag} T\\x1b]0;pwned\\x07" in text, tag
    assert "☐ [/dim]" in text  # a checklist item that is markup: shown, not a MarkupError
    assert f"{bo.email} [" in text  # the comment's author with the start of their key fingerprint


def test_error_line_quoting_hostile_names_inert(ana: User, scene: Scene) -> None:
    code, raw = _pty_run(ana, "cards", "list", "--board", "no such board")
    text = _assert_inert(raw)
    assert code == 2 and "msk: error: no board named 'no such board'" in text
    assert "board T" in text  # the candidates, hostile title included, made visible


def test_watch_shows_hostile_titles_inert(ana: User, scene: Scene) -> None:
    code, raw = _pty_run(ana, "watch", scene.board_id, "--since", "0", until="card T")
    text = _assert_inert(raw)
    assert code == 130 and "card ‘card T\\x1b]0;pwned\\x07" in text and "<U+202E>gnp.exe" in text


@pytest.fixture
def hostile_peer(sandbox_url: str, bo: User, scene: Scene) -> Iterator[None]:
    """bo in the board's relay room, under a presence name full of escapes, while the test runs."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()

    async def stay() -> None:
        async with AsyncClient(sandbox_url) as client:
            user = await client.login(bo.email, PASSWORD)
            presence = presence_for(user.id, _hostile("peer"), scene.card_id)
            async with await open_board(client, scene.board_id, presence=presence) as participant:
                await participant.wait_connected()
                ready.set()
                await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(stay(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the peer never joined"
    yield
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    loop.close()


@pytest.mark.usefixtures("hostile_peer")
def test_live_board_shows_hostile_presence_inert(ana: User, scene: Scene) -> None:
    code, raw = _pty_run(ana, "live", "--board", scene.board_id, until="peer T")
    text = _assert_inert(raw)
    assert code == 0 and "peer T\\x1b]0;pwned\\x07" in text and " on ‘card T\\x1b]0;pwned\\x07" in text
    assert "\\nforged" in text  # a name cannot forge a line of its own


class _HostileServer(BaseHTTPRequestHandler):
    """A server whose every answer is an error whose message holds escape sequences and markup."""

    def _refuse(self) -> None:
        body = json.dumps({"error": {"code": "BAD_REQUEST", "message": HOSTILE}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_error_line_quoting_a_hostile_server_inert(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        user = User("x@example.test", {"MSK_SERVER": f"http://127.0.0.1:{server.server_address[1]}",
                                       "MSK_CONFIG_DIR": str(tmp_path), "MSK_PASSWORD": PASSWORD})  # fmt: skip
        code, raw = _pty_run(user, "login", user.email)
    finally:
        server.shutdown()
        server.server_close()
    text = _assert_inert(raw)
    assert code == 4 and "msk: error: BAD_REQUEST (400): T\\x1b]0;pwned\\x07" in text
    assert "\\nforged" in text  # the message cannot forge a line of its own


def test_json_output_escapes_controls(ana: User, scene: Scene) -> None:
    code, raw = _pty_run(ana, "boards", "list", "--json")
    assert code == 0
    assert "\x1b" not in raw and "\x9b" not in raw and not set(_BIDI) & set(raw)
    assert "\\u001b]0;pwned\\u0007" in raw and "\\u202e" in raw


def test_register_refuses_implausible_emails(sandbox_url: str, tmp_path: Path) -> None:
    env = {"MSK_SERVER": sandbox_url, "MSK_CONFIG_DIR": str(tmp_path), "MSK_PASSWORD": PASSWORD, "MSK_SESSION": None}
    for email in ("own[b][/b]er@x.org", "own\u202ere@x.org", "<owner@x.org>", "owner@localhost", "a@@x.org"):
        ran = msk("register", email, env=env)
        assert ran.code == 4 and "BAD_REQUEST (400)" in ran.err and "not a plausible email address" in ran.err


# --- envelopes that do not authenticate ---------------------------------------------------------
def _forged(entity: str, name: str) -> str:
    """A well-shaped envelope under a key nobody has: it parses, and never authenticates."""
    return str(encrypt_field(BoardKey.generate(), b"forged", field(entity, name)))


@pytest.fixture(scope="module")
def bo_session(sandbox_url: str, bo: User) -> Iterator[httpx.Client]:
    """bo's own session, used directly against the API as a hostile member's client would."""
    with Client(sandbox_url) as client:
        client.login(bo.email, PASSWORD)
        token = client.token
    assert token is not None
    with httpx.Client(base_url=sandbox_url + "/api", headers={"Cookie": f"msk_session={token}"}) as http:
        yield http


@dataclass
class Forged:
    ws_id: str
    good_board: str
    bad_title_board: str
    bad_key_board: str
    card_id: str
    comment_id: str
    described_card: str


@pytest.fixture(scope="module")
def forged(ana: User, bo: User, bo_session: httpx.Client) -> Forged:
    ws_id = ana.json("workspaces", "create", "Forged envelopes")["id"]
    ana("members", "invite", bo.email, "--workspace", ws_id)
    good = ana.json("boards", "create", "Good board", "--workspace", ws_id)["id"]
    ana("columns", "create", "To do", "--board", good)
    card = ana.json("cards", "create", "Readable card", "--board", good, "--column", "To do")["id"]
    ana("cards", "comment", card, "first, readable")
    comment = bo.json("cards", "comment", card, "to be forged")["id"]
    ana("cards", "comment", card, "last, readable")
    described = ana.json("cards", "create", "Described card", "--board", good, "--column", "To do")["id"]
    bad_title = ana.json("boards", "create", "Title will be forged", "--workspace", ws_id)["id"]
    bad_key = ana.json("boards", "create", "Key will be forged", "--workspace", ws_id)["id"]

    def patch(route: str, body: dict[str, str], **headers: str) -> None:
        answer = bo_session.patch(route, json=body, headers=headers)
        assert answer.status_code == 200, answer.text

    patch(f"/boards/{bad_title}", {"encTitle": _forged("board", "encTitle")})
    patch(f"/boards/{bad_key}", {"encBoardKey": str(wrap_board_key(WorkspaceKey.generate(), BoardKey.generate()))})
    patch(f"/comments/{comment}", {"encBody": _forged("comment", "encBody")})
    version = ana.json("cards", "show", described)["version"]
    patch(f"/cards/{described}", {"encDescription": _forged("card", "encDescription")}, **{"If-Match": f'"{version}"'})
    return Forged(ws_id, good, bad_title, bad_key, card, comment, described)


def test_boards_list_shows_the_rest_and_warns(ana: User, forged: Forged) -> None:
    ran = ana("boards", "list", "--workspace", forged.ws_id, ok=False)
    assert ran.code == 10, ran.err
    assert "Good board" in ran.out and ran.out.count("⚠ undecryptable") == 2
    assert f"warning: not decrypted: board {forged.bad_title_board} field encTitle" in ran.err
    assert f"warning: not decrypted: board {forged.bad_key_board} field encBoardKey" in ran.err
    as_json = ana("boards", "list", "--workspace", forged.ws_id, "--json", ok=False)
    assert as_json.code == 10
    listed = {b["id"]: b["title"] for b in json.loads(as_json.out)}
    assert listed == {
        forged.good_board: "Good board",
        forged.bad_title_board: "⚠ undecryptable",
        forged.bad_key_board: "⚠ undecryptable",
    }


def test_names_resolve_past_undecryptable_ones(ana: User, forged: Forged) -> None:
    ran = ana("cards", "list", "--board", "Good board", ok=False)
    assert ran.code == 10  # the tampered boards met while resolving the name are reported
    assert "Readable card" in ran.out and "Described card" in ran.out
    assert f"board {forged.bad_title_board} field encTitle" in ran.err
    gone = ana("cards", "list", "--board", "Title will be forged", ok=False)
    assert gone.code == 2 and "no board named" in gone.err  # an undecryptable title matches nothing


def test_cards_show_marks_the_one_bad_comment(ana: User, forged: Forged) -> None:
    ran = ana("cards", "show", forged.card_id, ok=False)
    assert ran.code == 10, ran.err
    assert "first, readable" in ran.out and "last, readable" in ran.out and "⚠ undecryptable" in ran.out
    assert ran.err.strip() == (
        f"warning: not decrypted: comment {forged.comment_id} field encBody: "
        "does not authenticate (wrong key, tampered or moved)"
    )


def test_an_undecryptable_description_is_never_overwritten(ana: User, forged: Forged, sandbox_url: str) -> None:
    shown = ana("cards", "show", forged.described_card, ok=False)
    assert shown.code == 10 and "⚠ undecryptable" in shown.out
    edit = ana("cards", "edit", forged.described_card, "--append", "a line", ok=False)
    assert edit.code == 8 and f"card {forged.described_card} field encDescription" in edit.err
    retitled = ana("cards", "edit", forged.described_card, "--title", "Renamed", ok=False)
    assert retitled.code == 10  # other fields can still be edited; the description stays as it was
    with Client(sandbox_url) as client:
        client.login(ana.email, PASSWORD)
        with pytest.raises(DecryptionError, match="encDescription"):
            client.card(forged.described_card)


def test_python_api_reads_strictly_unless_asked(ana: User, forged: Forged, sandbox_url: str) -> None:
    with Client(sandbox_url) as client:
        client.login(ana.email, PASSWORD)
        with pytest.raises(DecryptionError, match=f"board {forged.bad_title_board} field encTitle"):
            client.boards(forged.ws_id)
        client.core.lenient_reads = True
        boards = {b.id: b.title for b in client.boards(forged.ws_id)}
        assert boards[forged.good_board] == "Good board"
        placeholder = boards[forged.bad_key_board]
        assert isinstance(placeholder, Undecryptable) and placeholder.error.field == "encBoardKey"
        assert [(m.error.entity, m.error.entity_id) for m in client.core.undecryptable] == [
            ("board", forged.bad_title_board),
            ("board", forged.bad_key_board),
        ]
