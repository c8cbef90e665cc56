"""Online export: fetch the chosen boards' ciphertext from the server, then decrypt locally.

Two ways to read, chosen by cost under the read limit:
- one `GET /me/export` (1 request, but it carries every board of the account), or
- per-board and per-card reads (5 per board + 1 per workspace + 1 per card that has
  comments, checklists or attachments).
`auto` reads per card only when the chosen boards are less than half of the account's and
that plan needs at most `EXPORT_PER_CARD_BUDGET` reads; otherwise one bulk read serves.
The bulk read is decrypted while it downloads (`ExportParser` feeding `ExportDecryptor`), so
opening the cards overlaps the server's sending them.  Both paths decrypt through the same
`BoardDecryptor`, so marking of undecryptable fields is identical.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from .._errors import UsageError
from .._json import json_array, json_object, valid_id
from .._profile import ANSWER_MAX_ATTACHMENT, ANSWER_MAX_LIST, EXPORT_DEADLINE_SECONDS, EXPORT_PER_CARD_BUDGET
from ..client import Client, Request, Response
from ..client._crypt import DecryptingSink
from ..client._wire import path
from ..crypto import Where
from ._attachments import Fetch
from ._decrypt import decrypt_board, members_by_id
from ._document import ExportDecryptor
from ._select import resolve
from ._stream import ExportParser
from ._tree import ExportAttachment, ExportResult

__all__ = ["STRATEGIES", "OnlineExport", "attachment_fetch", "exchange", "export_online"]

STRATEGIES = ("auto", "export", "cards")
_PER_BOARD_READS = 5  # board, columns, labels, milestones, cards list


def exchange(client: Client, request: Request) -> Response:
    """Send one request through the client's driver (pacing, 429 retries, errors) for its answer."""

    def flow() -> Generator[Request, Response, Response]:
        return (yield request)

    return client.run(flow())


def _get(client: Client, template: str, *ids: str, params: Mapping[str, str] | None = None) -> Any:
    return exchange(client, Request("GET", path(template, *ids), params=params, max_bytes=ANSWER_MAX_LIST)).json()


@dataclass(frozen=True, slots=True)
class OnlineExport:
    result: ExportResult
    #: "export" (one /me/export read) or "cards" (per-board and per-card reads)
    strategy: str
    requests: int


def _plan(client: Client, boards: Sequence[str], step: Callable[[str], None]) -> tuple[list[str], int]:
    """Resolve board names to ids; return them and how many boards the account has."""
    candidates: list[tuple[str, str]] = []
    step("listing boards")
    for workspace in client.workspaces():
        candidates += [(b.id, b.title) for b in client.boards(workspace.id)]
    chosen = list(dict.fromkeys(resolve("board", query, candidates) for query in boards))
    return chosen, len(candidates)


def export_online(
    client: Client,
    *,
    boards: Sequence[str] = (),
    workspaces: Sequence[str] = (),
    strict: bool = False,
    strategy: str = "auto",
    step: Callable[[str], None] = lambda _: None,
) -> OnlineExport:
    """Export the chosen boards (`boards` and/or `workspaces`; neither means all)."""
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown read strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    start = client.requests
    bulk = strategy == "export" or workspaces or not boards
    chosen: list[str] = []
    listings: dict[str, list[Mapping[str, Any]]] = {}
    if not bulk:
        chosen, total = _plan(client, boards, step)
        # half the account or more: the bulk read carries little else, skip listing the cards
        bulk = strategy == "auto" and 2 * len(chosen) >= total
    if not bulk:
        for board_id in chosen:
            step(f"listing cards of {board_id}")
            listings[board_id] = _list(_get(client, "/boards/{}/cards", board_id), "cards")
        detail = sum(1 for cards in listings.values() for c in cards if _has_children(c))
        reads = _PER_BOARD_READS * len(chosen) + detail + len(chosen)
        bulk = strategy == "auto" and reads > EXPORT_PER_CARD_BUDGET
    if bulk:
        step("reading and decrypting /me/export")
        result = _stream_export(client, boards=chosen or boards, workspaces=workspaces, strict=strict, step=step)
        return OnlineExport(result, "export", client.requests - start)
    exported = []
    members: dict[str, Mapping[str, str]] = {}
    for board_id in chosen:
        step(f"reading board {board_id}")
        board = json_object(_get(client, "/boards/{}", board_id), "board")
        ws_id = valid_id(board, "workspaceId", "board")
        if ws_id not in members:
            members[ws_id] = members_by_id(_list(_get(client, "/workspaces/{}/members", ws_id), "members"))
        cards = []
        for card in listings[board_id]:
            card_id = valid_id(card, "id", "card")
            cards.append(json_object(_get(client, "/cards/{}", card_id), "card") if _has_children(card) else card)
        bundle = {
            "board": board,
            "columns": _get(client, "/boards/{}/columns", board_id),
            "labels": _get(client, "/boards/{}/labels", board_id),
            "milestones": _get(client, "/boards/{}/milestones", board_id, params={"archived": "1"}),
            "customFields": _get(client, "/boards/{}/custom-fields", board_id),
            "cards": cards,
        }
        step(f"decrypting board {board_id}")
        exported.append(decrypt_board(bundle, client.board_key(board_id), members[ws_id], strict=strict))
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return OnlineExport(ExportResult(stamp, tuple(exported)), "cards", client.requests - start)


def _stream_export(
    client: Client, *, boards: Sequence[str], workspaces: Sequence[str], strict: bool, step: Callable[[str], None]
) -> ExportResult:
    """`GET /me/export`, decrypted while it downloads: each batch of cards is opened as it arrives."""

    def progress(cards: int) -> None:
        step(f"reading and decrypting /me/export: {cards:,} cards")

    decryptor = ExportDecryptor(
        client.core.keys, boards=boards, workspaces=workspaces, strict=strict, on_progress=progress
    )
    parser = ExportParser(decryptor)
    # no bound on the whole: the parser bounds each value it holds, and the deadline is an export's
    exchange(client, Request("GET", "/me/export", sink=parser.feed, max_bytes=None, deadline=EXPORT_DEADLINE_SECONDS))
    parser.close()
    return decryptor.result()


def _list(value: object, what: str) -> list[Mapping[str, Any]]:
    return [json_object(item, f"{what}[]") for item in json_array(value, what)]


def _has_children(card: Mapping[str, Any]) -> bool:
    return any(card.get(k) for k in ("commentCount", "checklistCount", "attachmentCount"))


def attachment_fetch(client: Client) -> Fetch:
    """A Fetch streaming `GET /attachments/:id/content` through the file key already in the tree."""

    def fetch(attachment: ExportAttachment, dst: BinaryIO) -> int:
        if attachment.file_key is None:
            raise Where("attachment", "encFileKey", attachment.id).decryption_error("its file key did not decrypt")
        sink = DecryptingSink(attachment.file_key, dst, attachment.id)
        content = path("/attachments/{}/content", attachment.id)
        exchange(client, Request("GET", content, sink=sink.feed, max_bytes=ANSWER_MAX_ATTACHMENT))
        return sink.finish()

    return fetch
