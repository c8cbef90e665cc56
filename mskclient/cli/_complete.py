"""Shell completion of names (workspaces, boards, columns, cards, labels, members) without the
network and without plaintext on disk.

Completion runs on every TAB, cannot ask for a password and should not wait for a server.  So it
offers what ordinary commands listed in the last few minutes: a command run with `MSK_SESSION`
notes the ids and names it read (`note`), and at its end they are written (`save_noted`) to one
file per profile in the config directory, sealed as a whole (ids and names) under a key derived
from the session secret (keyed BLAKE2b), with the profile and the time written in the associated
data.  Each list carries the time it was read and is offered for `COMPLETION_CACHE_SECONDS`.
Without `MSK_SESSION` nothing is completed; a new `msk unlock` (a new secret) leaves the old
cache unreadable, and `msk lock` removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from .._errors import MskError
from .._models import Undecryptable
from .._profile import COMPLETION_AD_PREFIX, COMPLETION_CACHE_SECONDS, COMPLETION_KEY_INFO, FieldSpec, KeyRole
from .._session_store import SessionStore, atomic_write
from ..crypto import UserKey, b64u_decode, decrypt_field, encrypt_field
from ..crypto.hazmat import crypto_generichash

__all__ = [
    "CompletionCache",
    "complete_board",
    "complete_card",
    "complete_column",
    "complete_label",
    "complete_member",
    "complete_workspace",
    "completion",
    "note",
    "save_noted",
]

#: kind -> scope (workspace id for boards and members, board id for columns, cards and labels;
#: "" for workspaces) -> the (id, name) pairs read.
Listed = dict[str, dict[str, list[tuple[str, str]]]]

#: One list as cached: (unix time it was read, [(id, name)…]).
Read = tuple[float, list[tuple[str, str]]]

#: What a cache holds once opened: kind -> scope -> Read.
Entries = dict[str, dict[str, Read]]

_META_KEY = "mskclient.completion"

#: A cache written up to this long "in the future" still opens (clocks of machines sharing a
#: home directory differ a little); more than that, and its age cannot be trusted.
_CLOCK_SLACK_SECONDS = 60


class CompletionCache:
    """The sealed cache file of one profile, opened with the session secret."""

    def __init__(self, path: Path, profile: str, session: str, *, now: Callable[[], float] = time.time) -> None:
        self.path = path
        self.profile = profile
        self.session = session
        self.now = now

    def _key_and_spec(self, written: int) -> tuple[UserKey, FieldSpec] | None:
        """The cache key (keyed BLAKE2b of the session secret) and the AD binding profile and time."""
        try:
            secret = b64u_decode(self.session.strip())
        except ValueError:
            return None
        if not 16 <= len(secret) <= 64:  # what BLAKE2b takes as a key
            return None
        key = crypto_generichash(32, COMPLETION_KEY_INFO + b"\0" + self.profile.encode(), key=secret)
        ad = f"{COMPLETION_AD_PREFIX}{self.profile}:{written}".encode()
        return UserKey(key), FieldSpec("completion", "cache", KeyRole.USER, ad)

    def load(self) -> Entries:
        """The lists still fresh; empty if there is no cache, it is too old, or the secret is another."""
        try:
            header = json.loads(self.path.read_bytes())
            written, box = int(header["written"]), str(header["box"])
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        now = self.now()
        if not written - _CLOCK_SLACK_SECONDS <= now <= written + COMPLETION_CACHE_SECONDS:
            return {}
        sealing = self._key_and_spec(written)
        if sealing is None:
            return {}
        try:
            key, spec = sealing
            payload = json.loads(decrypt_field(key, box, spec, entity_id=self.profile))
        except (MskError, ValueError):  # another secret, or a damaged file: nothing to offer
            return {}
        entries: Entries = {}
        for kind, scopes in payload.items():
            for scope, (at, pairs) in scopes.items():
                if now - at <= COMPLETION_CACHE_SECONDS:
                    entries.setdefault(kind, {})[scope] = (at, [(str(i), str(n)) for i, n in pairs])
        return entries

    def merge(self, listed: Listed) -> None:
        """Add what a command just listed to the fresh part of the cache; written atomically, 0600."""
        entries = self.load()
        now = self.now()
        for kind, scopes in listed.items():
            for scope, pairs in scopes.items():
                entries.setdefault(kind, {})[scope] = (now, pairs)
        written = int(now)
        sealing = self._key_and_spec(written)
        if sealing is None:
            return
        payload = json.dumps({k: {s: [at, pairs] for s, (at, pairs) in v.items()} for k, v in entries.items()})
        box = encrypt_field(sealing[0], payload.encode(), sealing[1])
        atomic_write(self.path, json.dumps({"written": written, "box": str(box)}).encode())


def _session() -> str | None:
    return os.environ.get("MSK_SESSION") or None


# --- noting what a command listed ------------------------------------------------------------
def note(kind: str, scope: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Remember, for this command, that it listed these (id, name) pairs of `kind` in `scope`.

    Names that did not decrypt and names a shell would not show as they are (control or format
    characters: another member's name could otherwise forge completions) are left out.
    """
    current = click.get_current_context(silent=True)
    if current is None or _session() is None:
        return
    listed: Listed = current.find_root().meta.setdefault(_META_KEY, {})
    listed.setdefault(kind, {})[scope] = [(i, n) for i, n in pairs if _offerable(n)]


def _offerable(name: str) -> bool:
    return bool(name) and not isinstance(name, Undecryptable) and name.isprintable()


def save_noted(store: SessionStore, profile: str) -> None:
    """At the end of a command: merge what it listed into the profile's cache (if MSK_SESSION is set).

    The cache only saves the user a lookup, so a failure to write it is not the command's failure.
    """
    current = click.get_current_context(silent=True)
    session = _session()
    if current is None or session is None:
        return
    listed: Listed = current.find_root().meta.pop(_META_KEY, {})
    if listed:
        with contextlib.suppress(OSError, ValueError):
            CompletionCache(store.completion_path(profile), profile, session).merge(listed)


# --- completing -------------------------------------------------------------------------------
def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _cached(ctx: click.Context) -> Entries:
    session = _session()
    if session is None:
        return {}
    profile = ctx.params.get("profile") or ctx.find_root().params.get("profile") or "default"
    try:
        path = SessionStore().completion_path(str(profile))
    except MskError:  # an invalid profile name: nothing to offer
        return {}
    return CompletionCache(path, str(profile), session).load()


def _scope(entries: Entries, kind: str, query: object) -> str | None:
    """The id of the one cached `kind` (boards, workspaces) named `query` (id or name), if any."""
    if not isinstance(query, str) or not query:
        return None
    pairs = [p for _, (_, listed) in entries.get(kind, {}).items() for p in listed]
    by_id = [i for i, _ in pairs if i == query]
    by_name = [i for i, n in pairs if _folded(n) == _folded(query)]
    found = by_id or by_name
    return found[0] if len(set(found)) == 1 else None


def _offer(entries: Mapping[str, Read], scope: str | None, incomplete: str) -> list[CompletionItem]:
    """The names starting with `incomplete` (any case, any normal form), each once, the id as help."""
    chosen = [entries[scope]] if scope is not None and scope in entries else entries.values()
    wanted = _folded(incomplete)
    seen: dict[str, str] = {}
    for _, pairs in chosen:
        for item_id, name in pairs:
            if _folded(name).startswith(wanted) and name not in seen:
                seen[name] = item_id
    return [CompletionItem(name, help=item_id) for name, item_id in sorted(seen.items())]


def _board_of(entries: Entries, ctx: click.Context) -> str | None:
    """The board the command line already names: by --board, else by the CARD given before."""
    board = _scope(entries, "boards", ctx.params.get("board"))
    card = ctx.params.get("card")
    if board is not None or not isinstance(card, str) or not card:
        return board
    boards = {
        scope
        for scope, (_, pairs) in entries.get("cards", {}).items()
        for item_id, name in pairs
        if card in (item_id, name) or _folded(name) == _folded(card)
    }
    return boards.pop() if len(boards) == 1 else None


def _board_scoped(kind: str) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        entries = _cached(ctx)
        return _offer(entries.get(kind, {}), _board_of(entries, ctx), incomplete)

    return complete


def complete_workspace(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _offer(_cached(ctx).get("workspaces", {}), None, incomplete)


def complete_board(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    entries = _cached(ctx)
    return _offer(entries.get("boards", {}), _scope(entries, "workspaces", ctx.params.get("workspace")), incomplete)


def complete_member(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    entries = _cached(ctx)
    return _offer(entries.get("members", {}), _scope(entries, "workspaces", ctx.params.get("workspace")), incomplete)


complete_column = _board_scoped("columns")
complete_card = _board_scoped("cards")
complete_label = _board_scoped("labels")


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL, e.g. in ~/.bashrc: eval "$(msk completion bash)".

    Names (boards, columns, cards, labels, members) are offered from what commands listed in the
    last few minutes under the same MSK_SESSION; without MSK_SESSION only commands and options.
    """
    root = click.get_current_context().find_root()
    script = get_completion_class(shell)
    assert script is not None  # the choice allows only shells click knows
    click.echo(script(root.command, {}, root.info_name or "msk", "_MSK_COMPLETE").source())
