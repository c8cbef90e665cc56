"""`msk live`, `msk watch` and `msk webhooks`: live collaboration and board events from a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from .._errors import MskError, OverLimitError, ProtocolError, TransportError, UsageError
from .._profile import WEBHOOK_EVENTS, WEBHOOK_TOLERANCE_SECONDS, is_valid_id
from ..client import AsyncClient, Client
from ..live import (
    BoardNames,
    ConnectionChanged,
    LiveEvent,
    Participant,
    PresenceChanged,
    TextChanged,
    Tick,
    describe,
    open_board,
    open_card,
    presence_for,
    user_name,
    watch,
)
from ..webhooks import Receiver, ReplayError, WebhookSignatureError
from ._context import CliContext, global_options, read_secret
from ._resolve import Resolver, appended_line, board_option, emit_models, model_json, yes_option
from ._untrusted import visible

__all__ = ["live", "watch_board", "webhooks"]


#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
_INTERRUPTED = 130


def _run(
    ctx: CliContext,
    client: Client,
    work: Callable[[AsyncClient], Coroutine[Any, Any, None]],
    *,
    interrupt_is_abort: bool = False,
) -> None:
    """Run `work` with an async twin of `client` until done or Ctrl-C; the work's cleanup
    (leaving the room) runs and the twin is closed either way.

    Ctrl-C is the normal way to leave a live session (exit 0), but it aborts a command that
    would otherwise run on (`interrupt_is_abort`: exit 130, so a script tells it apart).
    """

    async def main() -> None:
        async with ctx.async_client(client) as twin:
            await work(twin)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        if interrupt_is_abort:
            raise SystemExit(_INTERRUPTED) from None


def _me(client: Client, card_id: str | None = None) -> dict[str, Any]:
    user = client.user or client.me().user
    name = user.display_name or user.email.split("@")[0]
    return presence_for(user.id, name, card_id)


def _emit(ctx: CliContext, data: dict[str, Any], text: str) -> None:
    """One JSON line (`--json`) or `text`, whose lines come from the caller but whose other
    control characters are shown, never sent to the terminal as they are."""
    if ctx.json:
        ctx.print_json(data, indent=None)
    else:
        click.echo(visible(text, multiline=True))


def _stdin_lines(loop: asyncio.AbstractEventLoop, out: asyncio.Queue[str | None]) -> None:
    """Feed stdin lines to the loop from a daemon thread (Ctrl-C must not wait for a blocked read)."""

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(out.put_nowait, line)
        loop.call_soon_threadsafe(out.put_nowait, None)

    threading.Thread(target=pump, name="msk live stdin", daemon=True).start()


def _names(peers: dict[int, dict[str, Any]]) -> str:
    return ", ".join(sorted({visible(user_name(s) or "?") for s in peers.values()})) or "nobody else"


async def _live_card(
    ctx: CliContext, client: AsyncClient, card_id: str, board_id: str, presence: dict[str, Any]
) -> None:
    participant = await open_card(client, card_id, presence=presence)
    # Also say on the board which card we are on, as the browser clients do.
    board = await open_board(client, board_id, presence=presence | {"cardId": card_id})
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    async with participant, board:
        events = participant.events()
        await participant.wait_connected()
        _emit(ctx, {"type": "text", "text": participant.text}, participant.text)
        if not ctx.json:
            click.echo("── live: lines you type are appended; Ctrl-C leaves ──", err=True)
        _stdin_lines(asyncio.get_running_loop(), lines)
        reader = asyncio.create_task(_append_lines(participant, lines))
        printer = asyncio.create_task(_print_events(ctx, participant, events))
        try:
            # Until stdin ends (Ctrl-D) or Ctrl-C; leaving then sends the null awareness and saves.
            done, _ = await asyncio.wait({reader, printer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (reader, printer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _print_events(ctx: CliContext, participant: Participant, events: AsyncIterator[LiveEvent]) -> None:
    shown = participant.text
    async for event in events:
        shown = _show_event(ctx, participant, event, shown)


async def _append_lines(participant: Participant, lines: asyncio.Queue[str | None]) -> None:
    while (line := await lines.get()) is not None:
        try:
            await participant.append(appended_line(participant.text, line))
        except OverLimitError as exc:  # that line only: the session goes on
            click.echo(f"msk: not appended: {visible(exc)}", err=True)
            continue
        await participant.save()


def _show_event(ctx: CliContext, participant: Participant, event: object, shown: str) -> str:
    if isinstance(event, TextChanged):
        who = ", ".join(visible(a) for a in event.authors) or "someone"
        diff = [
            line.rstrip("\n")
            for line in difflib.ndiff(shown.splitlines(keepends=True), event.text.splitlines(keepends=True))
            if line.startswith(("+ ", "- "))
        ]
        _emit(
            ctx,
            {"type": "change", "by": list(event.authors), "text": event.text},
            f"── changed by {who} ──\n" + "\n".join(diff),
        )
        return event.text
    if isinstance(event, PresenceChanged):
        peers = participant.peers()
        _emit(ctx, {"type": "presence", "peers": list(peers.values())}, f"── here: {_names(peers)} ──")
    elif isinstance(event, ConnectionChanged) and not event.connected:
        if participant.error is not None:
            raise participant.error  # membership revoked, frame too big, or out of retries
        reason = f" ({visible(event.error)})" if event.error else ""
        _emit(
            ctx,
            {"type": "connection", "connected": False, "error": str(event.error or "")},
            f"── disconnected{reason}; reconnecting ──",
        )
    return shown


async def _live_board(ctx: CliContext, client: AsyncClient, board_id: str, presence: dict[str, Any]) -> None:
    participant = await open_board(client, board_id, presence=presence)
    names = BoardNames(client, board_id)
    async with participant:
        events = participant.events()
        await participant.wait_connected()
        if not ctx.json:
            click.echo("── who is on the board (Ctrl-C leaves) ──", err=True)
        async for event in events:
            if isinstance(event, ConnectionChanged) and participant.error is not None:
                raise participant.error
            if isinstance(event, PresenceChanged):
                rows = []
                for state in participant.peers().values():
                    card_id = state.get("cardId")
                    card = None
                    if is_valid_id(card_id):
                        assert isinstance(card_id, str)
                        card = await names.card(card_id)
                    rows.append({"user": user_name(state) or "?", "cardId": card_id, "card": card})
                text = "\n".join(
                    f"  {visible(r['user'])}" + (f" on ‘{visible(r['card'])}’" if r["card"] else "") for r in rows
                )
                _emit(ctx, {"type": "presence", "peers": rows}, f"── {len(rows)} here ──\n{text}".rstrip())


@click.command("live")
@click.argument("card", required=False)
@board_option
@global_options
def live(ctx: CliContext, card: str | None, board: str | None) -> None:
    """Edit CARD live (print, stream changes, append typed lines); with only --board: who is where."""
    client = ctx.unlocked_client()
    resolver = Resolver(client)
    if card is None:
        board_id = resolver.board(board).id
        presence = _me(client) | {"cardId": None}
        _run(ctx, client, lambda twin: _live_board(ctx, twin, board_id, presence))
        return
    found = resolver.card(card, board)
    me = _me(client)
    _run(ctx, client, lambda twin: _live_card(ctx, twin, found.id, found.board_id, me))


async def _watch(ctx: CliContext, client: AsyncClient, board_id: str, since: str | None) -> None:
    names = BoardNames(client, board_id)
    async for tick in watch(client, board_id, last_event_id=since):
        line = await describe(tick, names)
        _emit(ctx, tick.to_json() | {"text": line}, f"{visible(tick.timestamp)}  {visible(line)}")


@click.command("watch")
@click.argument("board")
@click.option("--since", metavar="EVENT_ID", help="Replay events after this id first (0: from the start).")
@global_options
def watch_board(ctx: CliContext, board: str, since: str | None) -> None:
    """Follow BOARD's events as decrypted lines (resumes by Last-Event-ID after a drop)."""
    client = ctx.unlocked_client()
    board_id = Resolver(client).board(board).id
    _run(ctx, client, lambda twin: _watch(ctx, twin, board_id, since), interrupt_is_abort=True)


# --- webhooks ------------------------------------------------------------------------------
@click.group("webhooks")
def webhooks() -> None:
    """Manage a board's webhooks, and receive them locally."""


@webhooks.command("create")
@click.argument("url")
@board_option
@click.option("--event", "events", multiple=True, type=click.Choice(WEBHOOK_EVENTS), help="Repeat; default: all.")
@global_options
def webhooks_create(ctx: CliContext, url: str, board: str | None, events: tuple[str, ...]) -> None:
    """Create a webhook; its signing secret is shown this once."""
    client = ctx.unlocked_client()  # resolving a board by title decrypts titles
    board_id = Resolver(client).board(board).id
    hook = client.create_webhook(board_id, url, list(events or WEBHOOK_EVENTS))
    data = model_json(hook) | {"secret": hook.secret}
    _emit(ctx, data, f"Created webhook {hook.id} → {visible(hook.url)}\nsecret (shown once): {visible(hook.secret)}")


@webhooks.command("list")
@board_option
@global_options
def webhooks_list(ctx: CliContext, board: str | None) -> None:
    """List a board's webhooks (secrets are never shown again)."""
    client = ctx.unlocked_client()  # resolving a board by title decrypts titles
    hooks = client.webhooks(Resolver(client).board(board).id)
    emit_models(
        ctx,
        "Webhooks",
        ["id", "url", "events", "active"],
        hooks,
        lambda h: (h.id, h.url, ", ".join(h.events), h.active),
    )


@webhooks.command("deliveries")
@click.argument("webhook_id")
@global_options
def webhooks_deliveries(ctx: CliContext, webhook_id: str) -> None:
    """Delivery attempts of a webhook: status, attempts, last answer."""
    deliveries = ctx.client().deliveries(webhook_id)
    emit_models(
        ctx,
        "Deliveries",
        ["id", "event", "status", "attempts", "last status", "last error", "created"],
        deliveries,
        lambda d: (d.id, d.verb, d.status, d.attempts, d.last_status, d.last_error, d.created_at),
    )


@webhooks.command("requeue")
@click.argument("delivery_id")
@global_options
def webhooks_requeue(ctx: CliContext, delivery_id: str) -> None:
    """Send a failed or dead-lettered delivery again now."""
    ctx.client().requeue_delivery(delivery_id)
    _emit(ctx, {"ok": True, "requeued": delivery_id}, f"Requeued delivery {delivery_id}")


@webhooks.command("delete")
@click.argument("webhook_id")
@yes_option
@global_options
def webhooks_delete(ctx: CliContext, webhook_id: str, yes: bool) -> None:
    """Delete a webhook (asks first unless --yes)."""
    if not yes and not ctx.json:
        click.confirm(f"Delete webhook {webhook_id}?", abort=True, err=True)
    ctx.client().delete_webhook(webhook_id)
    _emit(ctx, {"ok": True, "deleted": webhook_id}, f"Deleted webhook {webhook_id}")


class _Describer:
    """Decrypted sentences for deliveries, on one event loop in a helper thread (the server is threaded)."""

    #: seconds a delivery may wait for its board, column and member names
    lookup_timeout = 30.0

    def __init__(self, ctx: CliContext, client: Client) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="msk webhooks decrypt", daemon=True)
        self._thread.start()
        self._client = ctx.async_client(client)
        self._names: dict[str, BoardNames] = {}

    def describe(self, tick: Tick) -> str:
        names = self._names.setdefault(tick.board_id, BoardNames(self._client, tick.board_id))
        future = asyncio.run_coroutine_threadsafe(describe(tick, names), self._loop)
        try:
            return future.result(timeout=self.lookup_timeout)
        except TimeoutError:
            future.cancel()
            raise TransportError(f"looking up names took over {self.lookup_timeout:g} s") from None

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def make_listener(receiver: Receiver, report: Any, describer: _Describer | None = None) -> type[BaseHTTPRequestHandler]:
    """The request handler of `msk webhooks listen`: 204 accepted, 401 bad/stale, 409 replay, 400 malformed."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= 1024 * 1024:
                self._answer(413 if length > 0 else 400, "bad length")
                return
            body = self.rfile.read(length)
            try:
                with lock:
                    delivery = receiver.accept(dict(self.headers.items()), body)
            except ReplayError as exc:
                self._answer(409, str(exc))
                return
            except WebhookSignatureError as exc:
                self._answer(401, str(exc))
                return
            except ProtocolError as exc:
                self._answer(400, str(exc))
                return
            self._answer(204, "")
            try:
                tick = Tick.from_json(delivery.payload, delivery.id)
                text = describer.describe(tick) if describer else _plain(tick)
            except MskError as exc:
                text = f"(cannot describe: {exc})"
            report(
                {"delivery": delivery.id, "event": delivery.event, "payload": dict(delivery.payload), "text": text},
                f"{visible(delivery.event):<22} {visible(delivery.id)}  {visible(text)}",
            )

        def _answer(self, status: int, message: str) -> None:
            if status != 204:
                report({"rejected": status, "reason": message}, f"rejected ({status}): {visible(message)}")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the command prints its own lines."""

    return Handler


def _plain(tick: Tick) -> str:
    meta = ", ".join(f"{k}={v}" for k, v in tick.metadata.items())
    text = f"board {tick.board_id} card {tick.card_id or '-'} by {tick.actor_id or '-'}"
    return text + (f" ({meta})" if meta else "")


@webhooks.command("listen")
@click.option("--port", type=click.IntRange(0, 65535), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the signing secret from this file's first line (else MSK_WEBHOOK_SECRET or a prompt).",
)
@click.option("--tolerance", type=click.IntRange(1, 3600), default=WEBHOOK_TOLERANCE_SECONDS, show_default=True)
@click.option("--decrypt", is_flag=True, help="Show card titles, column and member names (needs your keys).")
@global_options
def webhooks_listen(
    ctx: CliContext, port: int, host: str, secret_file: Path | None, tolerance: int, decrypt: bool
) -> None:
    """Receive deliveries locally: verify, refuse stale and replayed ones, print events."""
    secret = read_secret(secret_file, "MSK_WEBHOOK_SECRET", "Webhook signing secret", "signing secret")
    describer = _Describer(ctx, ctx.unlocked_client()) if decrypt else None

    def report(data: dict[str, Any], text: str) -> None:
        _emit(ctx, data, text)
        sys.stdout.flush()

    try:
        server = ThreadingHTTPServer((host, port), make_listener(Receiver(secret, tolerance), report, describer))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"listening on http://{host}:{server.server_address[1]}/ (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if describer is not None:
            describer.close()
