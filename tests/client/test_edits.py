"""Safe edits: If-Match, re-read and merge on 409, never a silent overwrite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _accounts import Account

from mskclient import Client, ConflictError, Pacer


@pytest.fixture(scope="module")
def second_device(alice: Account, sandbox_url: str) -> Iterator[Client]:
    """The same account on another device: its own session and keys."""
    client = Client(sandbox_url, token=alice.client.token, email=alice.email, pacer=Pacer.unlimited())
    client.use_keys(alice.client.keys)
    yield client
    client.close()


@pytest.fixture
def card_id(alice: Account) -> str:
    c = alice.client
    ws = c.create_workspace("Edits")
    board = c.create_board(ws.id, "Edits")
    column = c.create_column(board.id, "Col")
    return c.create_card(column.id, "Title", "alpha\nbeta\ngamma").id


def test_concurrent_description_edits_are_merged(alice: Account, second_device: Client, card_id: str) -> None:
    stale = alice.client.card(card_id)
    second_device.edit_card(card_id, description="alpha\nbeta\ngamma\ndelta from B")
    merged = alice.client.edit_card(card_id, description="alpha from A\nbeta\ngamma", base=stale)
    assert merged.description == "alpha from A\nbeta\ngamma\ndelta from B"
    assert second_device.card(card_id).description == merged.description
    assert merged.version > stale.version + 1


def test_title_changed_elsewhere_is_a_conflict_not_an_overwrite(
    alice: Account, second_device: Client, card_id: str
) -> None:
    stale = alice.client.card(card_id)
    second_device.edit_card(card_id, title="Title by B")
    with pytest.raises(ConflictError, match="title"):
        alice.client.edit_card(card_id, title="Title by A", base=stale)
    assert alice.client.card(card_id).title == "Title by B"


def test_same_title_or_other_fields_retry_cleanly(alice: Account, second_device: Client, card_id: str) -> None:
    stale = alice.client.card(card_id)
    second_device.edit_card(card_id, due_at="2026-09-01T00:00:00.000Z")
    edited = alice.client.edit_card(card_id, title="New title", base=stale)
    assert (edited.title, edited.due_at) == ("New title", "2026-09-01T00:00:00.000Z")


def test_live_state_is_merged_not_replaced(alice: Account, second_device: Client, card_id: str) -> None:
    """A live editor's Yjs state joins the server's state (both edits kept)."""
    from mskclient import _description

    base = alice.client.card(card_id)
    live_state = _description.edit_to(base.description_state, "alpha\nbeta\ngamma\nlive line")
    second_device.edit_card(card_id, description="alpha\nbeta B\ngamma")
    merged = alice.client.edit_card(card_id, description_state=live_state, base=base)
    assert merged.description == "alpha\nbeta B\ngamma\nlive line"
