"""A big board is exported in memory proportional to its decrypted content, not to its formats.

The bound is on tracemalloc's peak of Python allocations per card (deterministic, unlike
time): decrypting streamed chunks as `msk export` does, then writing every format.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from mskclient._description import edit_to, empty_state
from mskclient.crypto import AccountKeys
from mskclient.export import ExportDecryptor, ExportParser, decrypt_document, render, write_export

from ._build import Built, enc, new_id

CARDS = 1500
#: Peak bytes per card allowed: measured 1.5 KB (the packed cards, a batch and a parser
#: buffer in flight); about 9 KB before the cards were packed and the files streamed.
BOUND_PER_CARD = 3000


def _grow(built: Built, cards: int) -> bytes:
    """The built board with `cards` more cards of the benchmark's shape (2 comments, a 3-item checklist)."""
    key, board = built.board_key, built.board()
    columns = [column["id"] for column in board["columns"]]
    description = enc(key, "card", "encDescription", edit_to(empty_state(), "## A card\n\nSome *Markdown* text.\n"))
    t = "2026-05-25T12:00:00.000Z"
    for i in range(cards):
        card_id = new_id()
        board["cards"].append(
            {
                "id": card_id,
                "columnId": columns[i % 2],
                "position": float(i),
                "createdAt": t,
                "encTitle": enc(key, "card", "encTitle", f"Card {i} — ünïcödé"),
                "encDescription": description,
                "comments": [
                    {
                        "id": new_id(),
                        "authorId": built.ids["user"],
                        "createdAt": t,
                        "encBody": enc(key, "comment", "encBody", f"Comment {n} on {i} 👍"),
                    }
                    for n in range(2)
                ],
                "checklists": [
                    {
                        "id": new_id(),
                        "position": 1,
                        "createdAt": t,
                        "encTitle": enc(key, "checklist", "encTitle", "Steps"),
                        "items": [
                            {
                                "id": new_id(),
                                "position": j,
                                "done": j == 0,
                                "encText": enc(key, "checklistItem", "encText", f"Step {j}"),
                            }
                            for j in range(3)
                        ],
                    }
                ],
            }
        )
    return json.dumps(built.document, ensure_ascii=False).encode()


def test_peak_heap_per_card_of_a_big_export(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    body = _grow(built, CARDS)
    tracemalloc.start()
    try:
        decryptor = ExportDecryptor(keys)
        parser = ExportParser(decryptor)
        for start in range(0, len(body), 1 << 16):
            parser.feed(body[start : start + (1 << 16)])
        parser.close()
        result = decryptor.result()
        for fmt in ("json", "markdown", "csv", "html"):
            write_export(result, fmt, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.card_count == CARDS + 3
    assert peak / CARDS < BOUND_PER_CARD, f"{peak / CARDS:.0f} bytes per card"
    # what was written is what rendering the whole tree at once gives
    whole = decrypt_document(json.loads(body), keys)
    for fmt in ("json", "markdown", "csv", "html"):
        for name, content in render(whole, fmt).items():
            assert (tmp_path / name).read_bytes() == content.encode()


def test_packed_cards_read_like_a_tuple_of_nodes(built: Built, keys: AccountKeys) -> None:
    cards = decrypt_document(built.document, keys).boards[0].columns[0].cards
    nodes = tuple(cards)  # the first card is held packed, the second (it has an attachment) as a node
    assert [card.title for card in nodes] == ['First <card> & "quotes"', "Zweite Karte — ünïcödé"]
    assert len(cards) == 2 and cards == nodes and cards[-1] == nodes[1] and cards[1:] == nodes[1:]
    assert nodes[1].comments[0].body == "first 👍" and nodes[1].checklists[0].items[0].done is True
    assert nodes[1].attachments[0].file_key is not None
