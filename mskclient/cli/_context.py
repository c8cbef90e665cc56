"""Shared helpers of every `msk` command: global options, password sources, output, clients.

Use it as::

    @click.command()
    @global_options
    def boards(ctx: CliContext) -> None:
        client = ctx.unlocked_client()          # keys from MSK_SESSION or the password
        ctx.emit([...json...], lambda: table)   # --json prints JSON, else the rich renderable

Passwords come from `--password-file`, `MSK_PASSWORD` or a prompt; never from
an option value (it would land in shell history and `ps`).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console, RenderableType

from .._errors import CredentialsError, UsageError
from .._pacing import Pacer
from .._profile import KdfParams
from .._session_store import SessionRecord, SessionStore
from .._trust import TrustStore
from ..client import AsyncClient, Client
from ._complete import save_noted
from ._options import GLOBAL_NAMES, resolved_global_options, with_global_options
from ._untrusted import json_text, markup, visible

__all__ = ["PARTIAL_EXIT_CODE", "CliContext", "apply_jq", "global_options", "parse_duration", "read_secret"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: Exit code when a command showed everything but some fields, which did not decrypt and are
#: marked (see docs/cli.md).
PARTIAL_EXIT_CODE = 10


@dataclass
class CliContext:
    """What the global options resolved to, and the ways to get a client from them."""

    server: str | None
    profile: str
    json: bool
    password_file: Path | None
    #: a jq expression for --jq (which implies --json), applied by `print_json`
    jq: str | None = None
    store: SessionStore = field(default_factory=SessionStore)
    #: no `:name:` emoji codes: text that reaches rich as markup is escaped, but emoji codes cannot be
    console: Console = field(default_factory=lambda: Console(emoji=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, emoji=False))
    #: Every client of this command: their lenient reads' placeholders are reported at the end.
    clients: list[Client | AsyncClient] = field(default_factory=list)

    # --- sessions ------------------------------------------------------------------------
    def record(self) -> SessionRecord:
        """The profile's saved session; UsageError if it has none (or is for another server)."""
        record = self.store.load(self.profile)
        if record is None:
            raise CredentialsError(f"profile {self.profile!r} is not logged in; run `msk login EMAIL`")
        if self.server is not None and self.server.rstrip("/") != record.server:
            raise UsageError(
                f"profile {self.profile!r} is for {record.server}, not {self.server}; use --profile for another server"
            )
        return record

    def server_url(self) -> str:
        """--server / MSK_SERVER, else the profile's server."""
        if self.server:
            return self.server.rstrip("/")
        record = self.store.load(self.profile)
        if record is None:
            raise UsageError("which server? pass --server URL or set MSK_SERVER")
        return record.server

    def trust_store(self, server: str, email: str) -> TrustStore:
        return TrustStore(self.store.trust_path(server, email))

    def _client_options(self, server: str, email: str | None, token: str | None) -> dict[str, Any]:
        """What every client of a command gets: the session, the pinned keys of this server and
        account, and pacing and slow-KDF notices on stderr."""
        return {
            "token": token,
            "email": email,
            "trust": self.trust_store(server, email) if email else None,
            "pacer": Pacer(on_wait=self._show_wait),
            "on_slow_kdf": self._show_slow_kdf,
        }

    def new_client(self, server: str, email: str | None = None, token: str | None = None) -> Client:
        """A Client closed when the command ends; pins public keys per server + account (0600 file)."""
        client = Client(server, **self._client_options(server, email, token))
        self._read_leniently(client)
        current = click.get_current_context(silent=True)
        if current is not None:  # outside a command the caller closes it
            current.call_on_close(client.close)
        return client

    def client(self) -> Client:
        """A logged-in client without keys (enough for metadata-only commands)."""
        record = self.record()
        return self.new_client(record.server, record.email, record.token)

    def unlocked_client(self) -> Client:
        """A logged-in client with the account keys: from `msk unlock` (MSK_SESSION) or the password.

        An explicit --password-file wins over MSK_SESSION, which may be left over from before `msk lock`.
        """
        record = self.record()
        client = self.new_client(record.server, record.email, record.token)
        session = os.environ.get("MSK_SESSION")
        if session and self.password_file is None:
            client.use_keys(self.store.unlocked_keys(self.profile, session))
        else:
            client.unlock(self.password())
        return client

    def async_client(self, client: Client | None = None, *, unlocked: bool = True) -> AsyncClient:
        """An AsyncClient for this profile's session (keys resolved as for `unlocked_client`).

        Given a command's blocking `client`, it takes that client's session and
        unlocked keys instead (no second password prompt).  The caller closes
        it (`async with ctx.async_client() as client:`).
        """
        email: str | None
        if client is None:
            record = self.record()
            server, email, token = record.server, record.email, record.token
            keys = self.unlocked_client().keys if unlocked else None
        else:
            server, email, token, keys = client.server, client.email, client.token, client.keys
        twin = AsyncClient(server, **self._client_options(server, email, token))
        self._read_leniently(twin)
        if keys is not None:
            twin.use_keys(keys)
        return twin

    def save_session(self, client: Client) -> None:
        """Remember the client's login under this profile (mode 0600, atomic)."""
        user = client.user
        if client.email is None:
            raise UsageError("no account to remember")
        self.store.save(
            self.profile,
            SessionRecord(client.server, client.email, user.id if user else None, client.token),
        )

    # --- fields that do not decrypt ------------------------------------------------------
    def _read_leniently(self, client: Client | AsyncClient) -> None:
        """One member's tampered field must not hide everything else: show the rest, mark it."""
        client.core.lenient_reads = True
        self.clients.append(client)

    def report_undecryptable(self) -> None:
        """At the end of a command: a warning per field that did not decrypt (named by entity,
        id and field, each once), then exit PARTIAL_EXIT_CODE if there was any."""
        seen: set[tuple[str, str | None, str]] = set()
        for client in self.clients:
            for marker in client.core.undecryptable:
                error = marker.error
                where = (error.entity, error.entity_id, error.field)
                if where not in seen:
                    seen.add(where)
                    click.echo(f"warning: not decrypted: {visible(error)}", err=True)
        if seen:
            raise SystemExit(PARTIAL_EXIT_CODE)

    # --- secrets -------------------------------------------------------------------------
    def password(self, prompt: str = "Password", *, confirm: bool = False) -> str:
        """From --password-file, then MSK_PASSWORD, then a hidden prompt."""
        return read_secret(self.password_file, "MSK_PASSWORD", prompt, "password", confirm=confirm)

    # --- output --------------------------------------------------------------------------
    def emit(self, data: Any, render: Callable[[], RenderableType | str] | None = None) -> None:
        """`--json`: print `data` as JSON on stdout; otherwise print the rich renderable."""
        if self.json or render is None:
            self.print_json(data)
        else:
            self.console.print(render())

    def print_json(self, data: Any, *, indent: int | None = 2) -> None:
        """`data` as JSON on stdout, or with --jq what the expression makes of it: each result on
        its own line, strings raw (as `gh --jq` and `jq -r` print them), made `visible`."""
        if self.jq is None:
            click.echo(json_text(data, indent=indent))
            return
        for result in apply_jq(self.jq, json.loads(json_text(data, indent=None))):
            click.echo(visible(result) if isinstance(result, str) else json_text(result, indent=indent))

    def _show_slow_kdf(self, params: KdfParams, seconds: float) -> None:
        """Say why the command pauses before a derivation costlier than the default (a server's choice)."""
        self.err.print(
            "The server asks for stronger key derivation than usual "
            f"(m={params.memory_kib // 1024} MiB, t={params.iterations}, p={params.parallelism}): "
            f"this takes about {max(1, round(seconds))} s",
            soft_wrap=True,
        )

    def _show_wait(self, seconds: float, reason: str) -> None:
        if seconds >= 1:
            self.err.print(f"[dim]waiting {seconds:.0f} s ({markup(reason)} rate limit)[/dim]")


def apply_jq(expression: str, data: Any) -> list[Any]:
    """Every result of the jq `expression` run on `data`.  The jq binding is an optional extra,
    imported only here: a missing extra or a bad expression is a UsageError (exit 2)."""
    try:
        import jq
    except ImportError:
        raise UsageError("--jq needs the jq extra: pip install 'mskclient[jq]'") from None
    try:
        program = jq.compile(expression)
    except ValueError as exc:
        raise UsageError(f"--jq: {visible(str(exc).splitlines()[0])}") from None
    try:
        return list(program.input_value(data).all())
    except ValueError as exc:
        raise UsageError(f"--jq: {visible(str(exc).splitlines()[0])}") from None


def read_secret(path: Path | None, env: str, prompt: str, what: str, *, confirm: bool = False) -> str:
    """A secret from a file's first line, else the environment variable `env`, else a hidden
    prompt: never from a command-line flag, where other users and shell history would see it."""
    if path is not None:
        try:
            lines = path.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the {what} file: {exc}") from None
        if not lines or not lines[0]:
            raise UsageError(f"the {what} file is empty")
        return lines[0]
    value = os.environ.get(env)
    if value:
        return value
    value = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    assert isinstance(value, str)
    if not value:
        raise UsageError(f"empty {what}")
    return value


def global_options(command: _F) -> _F:
    """Add --server, --profile, --json and --password-file; pass a CliContext first."""

    @with_global_options
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = resolved_global_options({name: kwargs.pop(name) for name in GLOBAL_NAMES})
        ctx = CliContext(
            server=options["server"],
            profile=options["profile"],
            json=options["as_json"] or options["jq"] is not None,
            jq=options["jq"],
            password_file=options["password_file"],
        )
        result = command(ctx, *args, **kwargs)
        save_noted(ctx.store, ctx.profile)  # what the command listed, for shell completion
        ctx.report_undecryptable()
        return result

    return wrapper  # type: ignore[return-value]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '2h', '1d' → seconds."""
    text = text.strip().lower()
    unit = text[-1:] if text[-1:] in _UNITS else "s"
    number = text[:-1] if text[-1:] in _UNITS else text
    try:
        value = float(number)
    except ValueError:
        raise UsageError(f"not a duration: {text!r} (use e.g. 15m, 2h, 90s)") from None
    if value <= 0:
        raise UsageError("a duration must be positive")
    return value * _UNITS[unit]
