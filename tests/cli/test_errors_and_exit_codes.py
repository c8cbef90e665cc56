"""Errors a person can act on, and the exit codes of docs/cli.md, each from a real situation."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mskclient import Client, CredentialsError, MskError, Pacer, TransportError, UsageError, _errors
from mskclient._profile import ATTACHMENT_MAX_CIPHERTEXT, SESSION_COOKIE, UNLOCK_MAX_SECONDS
from mskclient._session_store import SessionStore
from mskclient.sandbox import Sandbox, SandboxConfig

from ._run import MSK_INTERRUPTIBLE, msk
from .conftest import PASSWORD, User, new_user

_DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
_n = iter(range(10_000))


def _card(user: User) -> dict[str, str]:
    """A fresh workspace, board, column and card titled "Original title"; their ids."""
    ws = user.json("workspaces", "create", f"Errors WS {next(_n)}")
    board = user.json("boards", "create", f"Errors board {next(_n)}", "--workspace", ws["id"])
    column = user.json("columns", "create", "To do", "--board", board["id"])
    card = user.json("cards", "create", "Original title", "--board", board["id"], "--column", column["id"])
    return {"board": board["id"], "column": column["id"], "card": card["id"]}


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


#: What a fixture site answers to (method, path, headers, body): status, headers, body.
_Header = tuple[str, str]
_Answer = Callable[[str, str, dict[str, str], bytes], tuple[int, list[_Header], bytes]]


class _Site:
    """A fixture HTTP server on a free port, answering every request through `answer`."""

    def __init__(self, answer: _Answer) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, headers, content = answer(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _static(status: int, kind: str, body: bytes) -> _Site:
    return _Site(lambda method, path, headers, sent: (status, [("content-type", kind)], body))


_HOP = {"host", "content-length", "connection", "transfer-encoding", "content-encoding", "accept-encoding"}


def _relay(upstream: str, before: Callable[[str, str], None]) -> _Site:
    """A proxy to `upstream` that calls `before(method, path)` ahead of forwarding each request."""

    def answer(
        method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        before(method, path)
        sent = {k: v for k, v in headers.items() if k.lower() not in _HOP}
        got = httpx.request(method, upstream + path, content=body, headers=sent)
        return got.status_code, [(k, v) for k, v in got.headers.multi_items() if k.lower() not in _HOP], got.content

    return _Site(answer)


# --- the sandbox extra ---------------------------------------------------------------------
_WITHOUT_EXTRA = """
import sys

class Missing:
    '''What Python finds when the sandbox extra is not installed.'''
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn", "python_multipart", "multipart"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())
sys.argv = ["msk", *sys.argv[1:]]
from mskclient.cli import main
main()
"""


@pytest.mark.parametrize("command", [["demo"], ["sandbox", "--port", "0", "--db", ":memory:"]])
def test_without_the_sandbox_extra_msk_says_what_to_install(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "MSK_CONFIG_DIR": str(tmp_path)}
    ran = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA, *command], capture_output=True, text=True, env=env, timeout=60
    )
    assert ran.returncode == 2, ran.stderr
    assert "pip install 'mskclient[sandbox]'" in ran.stderr and "starlette" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_quick_start_installs_the_extra() -> None:
    assert "pip install 'mskclient[sandbox]' && msk demo" in _DOCS.read_text(encoding="utf-8")


# --- servers that are down, misnamed or not MSKanban ----------------------------------------
def test_a_server_that_is_down_is_named(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {"MSK_CONFIG_DIR": str(tmp_path), "MSK_PASSWORD": PASSWORD, "MSK_SERVER": url}
    ran = msk("login", "someone@example.test", env=env)
    assert ran.code == 3
    assert f"is the server running at {url}?" in ran.err and "Errno" not in ran.err and "ConnectError" not in ran.err
    with Client(url) as client, pytest.raises(TransportError, match=re.escape(f"is the server running at {url}?")):
        client.health()  # Python callers get the same words


def test_a_server_url_ending_in_api_gets_a_hint(sandbox_url: str, tmp_path: Path) -> None:
    env = {"MSK_CONFIG_DIR": str(tmp_path), "MSK_PASSWORD": PASSWORD, "MSK_SERVER": sandbox_url + "/api"}
    ran = msk("register", f"api{time.time_ns()}@example.test", env=env)
    assert ran.code == 2, ran.err
    assert "without the trailing /api" in ran.err and sandbox_url in ran.err
    assert not list(tmp_path.glob("sessions/*.json"))  # nothing was remembered


@pytest.mark.parametrize(
    ("status", "kind", "body"),
    [
        (200, "text/html", b"<!doctype html><title>Welcome to nginx!</title>"),
        (404, "text/html", b"<h1>Not Found</h1>"),
        (405, "application/json", b'{"detail": "Method Not Allowed"}'),
        (401, "application/json", b'{"message": "Unauthorized", "statusCode": 401}'),
        (200, "application/json", b'{"ok": true}'),
    ],
    ids=["html-page", "html-404", "foreign-error", "other-api", "json-without-kdf"],
)
def test_a_site_that_is_not_mskanban_is_said_to_be_so(status: int, kind: str, body: bytes, tmp_path: Path) -> None:
    with _static(status, kind, body) as url:
        env = {"MSK_CONFIG_DIR": str(tmp_path), "MSK_PASSWORD": PASSWORD, "MSK_SERVER": url}
        ran = msk("login", "someone@example.test", env=env)
    assert ran.code == 2, ran.err
    assert f"msk: error: {url} does not look like an MSKanban server" in ran.err


def test_an_mskanban_error_on_login_init_is_still_the_servers(tmp_path: Path) -> None:
    """An answer in MSKanban's error shape is the server speaking: shown as such, not as a foreign site."""
    refusal = b'{"error": {"code": "BAD_REQUEST", "message": "email is not valid"}}'
    with _static(400, "application/json", refusal) as url:
        env = {"MSK_CONFIG_DIR": str(tmp_path), "MSK_PASSWORD": PASSWORD, "MSK_SERVER": url}
        ran = msk("login", "someone@example.test", env=env)
    assert ran.code == 4 and "BAD_REQUEST (400): email is not valid" in ran.err


def test_an_attachment_over_the_limit_names_limit_and_size(ana: User, tmp_path: Path) -> None:
    ids = _card(ana)
    big = tmp_path / "video.mp4"
    with big.open("wb") as f:
        f.truncate(ATTACHMENT_MAX_CIPHERTEXT)  # sparse; the encryption overhead takes it over
    ran = ana("cards", "attach", ids["card"], str(big), ok=False)
    assert ran.code == 2, ran.err
    assert "limit of 25 MiB" in ran.err and f"{ATTACHMENT_MAX_CIPHERTEXT} bytes" in ran.err and "(413)" not in ran.err
    assert ana.json("cards", "show", ids["card"])["attachments"] == []


# --- local refusals, unlock timeout, Ctrl-C -------------------------------------------------
def test_local_refusals_wear_no_http_status(ana: User, sandbox_url: str) -> None:
    locked = msk("boards", "list", env={**ana.env, "MSK_SESSION": "AAAA"})
    assert locked.code == 5 and "MSK_SESSION does not open" in locked.err
    assert not re.search(r"\(\d{3}\)", locked.err) and "LOCKED" not in locked.err
    with Client(sandbox_url, pacer=Pacer.unlimited()) as client:
        client.login(ana.email, PASSWORD)
        with pytest.raises(UsageError, match="not a member of workspace") as foreign:
            client.workspace_key("cz0000000000000000000000z")
        assert "(404)" not in str(foreign.value)
        with pytest.raises(CredentialsError, match="wrong password") as wrong:
            client.unlock("not the password at all")
        assert not isinstance(wrong.value, _errors.ApiError) and "(401)" not in str(wrong.value)


def test_every_local_refusal_of_the_client_is_said_in_words() -> None:
    """Outside the error tree no error with an HTTP status is built from a literal status: those
    come from the server's answers (`api_error`); the client's own refusals have their classes."""
    root = Path(_errors.__file__).parent
    statused = "|".join(cls.__name__ for cls in _subclasses(_errors.ApiError) if cls is not _errors.EditConflictError)
    by_hand = re.compile(rf"\b({statused})\(\s*\d")
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "sandbox" not in path.parts and path.name != "_errors.py"
        if by_hand.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_unlock_timeout_is_bounded(ana: User) -> None:
    hours = UNLOCK_MAX_SECONDS // 3600
    env = {**ana.env, "MSK_PASSWORD": None}  # refused before any password is asked for
    ran = msk("unlock", "--timeout", f"{hours + 1}h", env=env)
    assert ran.code == 2 and f"at most {hours} h" in ran.err
    assert msk("unlock", "--timeout", f"{UNLOCK_MAX_SECONDS + 1}", env=env).code == 2
    assert f"at most {hours}h" in " ".join(msk("unlock", "--help").out.split())
    assert f"at most {hours} h" in _DOCS.read_text(encoding="utf-8")


def test_ctrl_c_on_watch_is_130(ana: User) -> None:
    ids = _card(ana)
    env = {**os.environ, **{k: v for k, v in ana.env.items() if v is not None}}
    command = [*MSK_INTERRUPTIBLE, "watch", ids["board"], "--since", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) as process:
        assert process.stdout is not None
        shown, deadline = b"", time.monotonic() + 60
        try:
            while b"Original title" not in shown and time.monotonic() < deadline:
                if select.select([process.stdout], [], [], 1.0)[0]:
                    chunk = os.read(process.stdout.fileno(), 65536)
                    assert chunk, f"msk watch ended first: {shown!r}"
                    shown += chunk
            assert b"Original title" in shown
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 130
        finally:
            if process.poll() is None:
                process.kill()


# --- the exit-code table, walked --------------------------------------------------------------
def _documented_codes() -> dict[int, str]:
    text = _DOCS.read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \| (.+) \|$", text, re.MULTILINE)}


def _swap_title_with_column(url: str, config: Path, user: User, ids: dict[str, str]) -> None:
    """What a hostile server or member can do: put the column title's ciphertext in the card's title."""
    record = SessionStore(config).load(user.env["MSK_PROFILE"] or "")
    assert record is not None and record.token is not None
    with httpx.Client(base_url=url + "/api", cookies={SESSION_COOKIE: record.token}) as raw:
        column = next(c for c in raw.get(f"/boards/{ids['board']}/columns").json() if c["id"] == ids["column"])
        version = raw.get(f"/cards/{ids['card']}").json()["version"]
        raw.patch(
            f"/cards/{ids['card']}", json={"encTitle": column["encTitle"]}, headers={"If-Match": f'"{version}"'}
        ).raise_for_status()


@pytest.fixture
def limited_sandbox() -> Iterator[str]:
    """A sandbox that lets one account register per hour (its Retry-After is beyond the client's patience)."""
    config = replace(SandboxConfig().lift_limits(), rate_limits={"register": (1, 3600)})
    with Sandbox(config) as url:
        yield url


def test_the_exit_code_table_walked(
    ana: User, sandbox_url: str, config_dir: Path, limited_sandbox: str, tmp_path: Path
) -> None:
    """Each code of docs/cli.md's table, produced by a real situation against the sandbox."""
    seen: dict[int, str] = {}

    def expect(code: int, ran_code: int, err: str, situation: str) -> None:
        assert ran_code == code, f"{situation}: exit {ran_code}, not {code}\n{err}"
        seen[code] = situation

    ids = _card(ana)
    ran = ana("whoami")
    expect(0, ran.code, ran.err, "success")

    ran = ana("boards", "list", "--workspace", "no such workspace", ok=False)
    expect(2, ran.code, ran.err, "an unknown name")
    ran = ana("unlock", "--timeout", "1000d", ok=False)
    expect(2, ran.code, ran.err, "a bad argument")
    ran = ana("cards", "list", "--bogus-option", ok=False)
    expect(2, ran.code, ran.err, "click's own usage error")

    down = {
        **ana.env,
        "MSK_PROFILE": "down",
        "MSK_SERVER": f"http://127.0.0.1:{_closed_port()}",
        "MSK_PASSWORD": PASSWORD,
    }
    ran = msk("login", ana.email, env=down)
    expect(3, ran.code, ran.err, "the server is down")

    ran = ana("boards", "show", "cz0000000000000000000000z", ok=False)
    expect(4, ran.code, ran.err, "NOT_FOUND from the server")
    again = {**ana.env, "MSK_PROFILE": "again", "MSK_PASSWORD": PASSWORD}
    ran = msk("register", ana.email, env=again)
    assert "CONFLICT (409)" in ran.err
    expect(4, ran.code, ran.err, "registering an email that is registered")

    nobody = {**ana.env, "MSK_PROFILE": "nobody"}
    ran = msk("whoami", env=nobody)
    expect(5, ran.code, ran.err, "not logged in")
    wrong = {**ana.env, "MSK_PROFILE": "wrong", "MSK_PASSWORD": "not the password at all"}
    ran = msk("login", ana.email, env=wrong)
    expect(5, ran.code, ran.err, "a wrong password")

    # someone else renames the card between our read and our write: not overwritten
    carl_config = tmp_path / "carl"
    renamed: list[str] = []

    def rename_first(method: str, path: str) -> None:
        """Before carl's first card PATCH reaches the server, carl on another device renames the card."""
        if method == "PATCH" and path.startswith("/api/cards/") and not renamed:
            renamed.append(path)
            with Client(sandbox_url, pacer=Pacer.unlimited()) as device:
                device.login(carl.email, PASSWORD)
                device.edit_card(path.rsplit("/", 1)[1], title="Their title")

    with _relay(sandbox_url, rename_first) as proxy:
        carl = new_user(proxy, carl_config, "carl")
        try:
            card = _card(carl)["card"]
            ran = carl("cards", "edit", card, "--title", "My title", ok=False)
        finally:
            SessionStore(carl_config).lock("carl")  # stop carl's unlock agent
    expect(6, ran.code, ran.err, "an edit that could not be merged")
    assert renamed and "changed by someone else" in ran.err and "(409)" not in ran.err

    limited = {"MSK_CONFIG_DIR": str(tmp_path / "limited"), "MSK_SERVER": limited_sandbox, "MSK_PASSWORD": PASSWORD}
    assert msk("register", f"first{time.time_ns()}@example.test", env=limited).code == 0
    ran = msk("register", f"second{time.time_ns()}@example.test", env=limited)
    expect(7, ran.code, ran.err, "rate limited beyond the retries")

    _swap_title_with_column(sandbox_url, config_dir, ana, ids)
    ran = ana("export", ids["board"], "--strict", "--out", str(tmp_path / "strict"), ok=False)
    expect(8, ran.code, ran.err, "a field that does not decrypt, with --strict")

    garbage = tmp_path / "garbage.json"
    garbage.write_text("<html>not an export</html>", encoding="utf-8")
    offline = {**ana.env, "MSK_SESSION": None, "MSK_PASSWORD": PASSWORD}
    ran = msk("export", "--from-file", str(garbage), "--out", str(tmp_path / "g"), env=offline)
    expect(9, ran.code, ran.err, "not an export file")

    ran = ana("cards", "list", "--board", ids["board"], ok=False)
    expect(10, ran.code, ran.err, "a field that does not decrypt, the rest shown")

    backup = tmp_path / "account.mskbackup"
    ana("backup", "--out", str(backup))
    damaged = bytearray(backup.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01  # one bit inside a stored member
    backup.write_bytes(bytes(damaged))
    ran = ana("backup", "verify", str(backup), ok=False)
    expect(11, ran.code, ran.err, "a backup with one flipped bit")

    ran = msk("boards", "delete", ids["board"], env=ana.env, input="n\n")
    expect(130, ran.code, ran.err, "a declined confirmation")

    documented = _documented_codes()
    # 1 is the catch-all for an MskError of no other kind: no error of mskclient uses it today
    assert set(documented) - set(seen) == {1}
    tree = {cls.exit_code for cls in _subclasses(MskError)}
    assert tree <= set(documented), "an error class exits with a code the table does not list"


def _subclasses(cls: type[MskError]) -> list[type[MskError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found
