"""Streaming `/me/export`: the parser reads any chunking exactly like `json.loads`, rejects broken
documents, and cards are decrypted while the body is still arriving."""

from __future__ import annotations

import copy
import io
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mskclient._errors import ProtocolError, UsageError
from mskclient._profile import JSON_MAX_DEPTH
from mskclient.crypto import AccountKeys
from mskclient.export import _document as document_module
from mskclient.export import _stream as stream_module
from mskclient.export import decrypt_document, decrypt_export_file, export_to_json
from mskclient.export._document import ExportDecryptor
from mskclient.export._stream import ExportParser, Level, replay
from mskclient.export._tree import unpack

from ._build import PASSWORD, Built


class _Recorder:
    """An ExportSink that writes down what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def begin(self, level: Level) -> None:
        self.events.append(("begin", level))

    def field(self, level: Level, key: str, value: object) -> None:
        self.events.append(("field", level, key, value))

    def card(self, card: object) -> None:
        self.events.append(("card", card))

    def end(self, level: Level) -> None:
        self.events.append(("end", level))


def _parse(body: bytes, cuts: list[int] | None = None) -> list[tuple[Any, ...]]:
    recorder = _Recorder()
    parser = ExportParser(recorder)
    edges = [0, *sorted(set(cuts or [])), len(body)]
    for start, stop in itertools.pairwise(edges):
        parser.feed(body[start:stop])
    parser.close()
    return recorder.events


def _replayed(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    recorder = _Recorder()
    replay(document, recorder)
    return recorder.events


def _streamed(body: bytes, keys: AccountKeys, chunk: int, **kw: Any) -> dict[str, Any]:
    decryptor = ExportDecryptor(keys, **kw)
    parser = ExportParser(decryptor)
    for start in range(0, len(body), chunk):
        parser.feed(body[start : start + chunk])
    parser.close()
    return export_to_json(decryptor.result())


def test_parser_reports_what_the_parsed_document_holds(built: Built) -> None:
    for body in (json.dumps(built.document), json.dumps(built.document, indent=2, ensure_ascii=False)):
        assert _parse(body.encode()) == _replayed(built.document)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_chunking_reads_the_same(built: Built, data: st.DataObject) -> None:
    """Cuts anywhere: inside strings, escapes, numbers, literals and multi-byte UTF-8 characters."""
    body = json.dumps(built.document, indent=1, ensure_ascii=False).encode()
    cuts = data.draw(st.lists(st.integers(1, len(body) - 1), max_size=40))
    assert _parse(body, cuts) == _replayed(built.document)


def test_streamed_decryption_equals_decrypting_the_parsed_document(built: Built, keys: AccountKeys) -> None:
    expected = export_to_json(decrypt_document(built.document, keys))
    body = json.dumps(built.document, ensure_ascii=False).encode()
    for chunk in (1, 7, 4096, len(body)):
        assert _streamed(body, keys, chunk) == expected


def test_other_member_orders_wait_for_what_they_need(built: Built, keys: AccountKeys) -> None:
    """Cards before the board's names, boards before the workspace's keys: same result."""
    expected = export_to_json(decrypt_document(built.document, keys))
    reordered = copy.deepcopy(built.document)
    reordered["workspaces"] = [
        {"boards": [dict(reversed(b.items())) for b in w["boards"]], **{k: v for k, v in w.items() if k != "boards"}}
        for w in reordered["workspaces"]
    ]
    reordered = {"workspaces": reordered["workspaces"], **{k: v for k, v in reordered.items() if k != "workspaces"}}
    assert _streamed(json.dumps(reordered).encode(), keys, 100) == expected
    assert export_to_json(decrypt_document(reordered, keys)) == expected


def test_selection_while_streaming(built: Built, keys: AccountKeys) -> None:
    body = json.dumps(built.document).encode()
    by_id = _streamed(body, keys, 512, boards=[built.board_id])
    by_name = _streamed(body, keys, 512, boards=["roadmap 🚀"])
    assert by_id == by_name == export_to_json(decrypt_document(built.document, keys, boards=[built.board_id]))
    with pytest.raises(UsageError, match="no board named"):
        _streamed(body, keys, 512, boards=["Nope"])


def test_cards_are_decrypted_before_the_body_ends(
    built: Built, keys: AccountKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(document_module, "_CARDS_PER_BATCH", 1)
    body = json.dumps(built.document).encode()
    decryptor = ExportDecryptor(keys)
    parser = ExportParser(decryptor)
    last_card = body.index(json.dumps(built.card("c3")["id"]).encode())  # the board's last card starts
    parser.feed(body[:last_card])
    assert decryptor._board.reader is not None
    decrypted = [card for cards in decryptor._board.reader._cards.values() for _, card in cards]
    assert [unpack(card).id for card in decrypted] == [built.ids["c2"], built.ids["c1"]]
    parser.feed(body[last_card:])
    parser.close()
    assert export_to_json(decryptor.result()) == export_to_json(decrypt_document(built.document, keys))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected '{'"),
        ({"workspaces": {}}, "expected '\\['"),
        ({"workspaces": [1]}, "expected '{'"),
        ({"workspaces": [{"boards": [{"cards": {}}]}]}, "expected '\\['"),
    ],
)
def test_replay_refuses_what_the_parser_refuses(document: object, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        replay(document, _Recorder())
    with pytest.raises(ProtocolError, match=message):
        _parse(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"workspaces": [', "end of the document"),
        (b'{"exportedAt": "2026', "not valid JSON"),
        (b'{"workspaces": []} x', "after the end"),
        (b'{"workspaces": [], "workspaces": []}', "twice"),
        (b'{"workspaces": [1]}', "expected '{'"),
        (b'{"workspaces": [{"boards": [{"cards": {}}]}]}', "expected '\\['"),
        (b'{"workspaces": {}}', "expected '\\['"),
        (b"[]", "expected '{'"),
        (b"{1: 2}", "key that is not a string"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": 1,}', "not valid JSON"),
        (b"", "end of the document"),
    ],
)
def test_broken_documents_are_protocol_errors(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        _parse(body, list(range(1, len(body))))


def test_every_truncation_is_refused(built: Built) -> None:
    body = json.dumps(built.document).encode()
    for end in range(0, len(body), max(1, len(body) // 300)):
        with pytest.raises(ProtocolError):
            _parse(body[:end], [end // 2])


def test_a_big_value_in_small_chunks_is_decoded_a_logarithmic_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value cut by many chunks is not rescanned at every chunk (which would be quadratic)."""
    members = [{"userId": f"cuser{i:08d}", "email": f"user{i}@example.org"} for i in range(20_000)]
    body = json.dumps({"workspaces": [{"members": members}]}).encode()
    calls = 0
    decode = stream_module._decode

    def counting(text: str, pos: int) -> Any:
        nonlocal calls
        calls += 1
        return decode(text, pos)

    monkeypatch.setattr(stream_module, "_decode", counting)
    events = _parse(body, list(range(100, len(body), 100)))
    assert ("field", "workspace", "members", members) in events
    assert calls < 40, calls


def test_a_value_that_never_ends_is_refused_at_the_value_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The document has no size bound, but one value held whole does (lowered here to 1 MiB)."""
    monkeypatch.setattr(stream_module, "EXPORT_MAX_VALUE", 2**20)
    parser = ExportParser(_Recorder())
    parser.feed(b'{"workspaces": [{"boards": [{"cards": [{"encTitle": "')
    fed = 0
    with pytest.raises(ProtocolError, match=r"export.workspaces\[\].boards\[\].cards\[\] is over 1 MiB"):
        while fed < 64 * 2**20:
            parser.feed(b"a" * 65536)
            fed += 65536
    assert fed <= 2**20 + 65536


def test_a_deeply_nested_card_is_refused() -> None:
    """Once a RecursionError out of the C decoder; now a ProtocolError, nested past the limit or far past it."""
    for depth in (JSON_MAX_DEPTH + 1, 100_000):
        body = b'{"workspaces": [{"boards": [{"cards": [' + b"[" * depth + b"]" * depth + b"]}]}]}"
        with pytest.raises(ProtocolError, match=f"cards\\[\\] nests deeper than {JSON_MAX_DEPTH} levels"):
            _parse(body)


def test_a_wide_card_and_brackets_in_strings_are_not_taken_for_depth() -> None:
    """More brackets than the depth limit, side by side or inside strings, nest no deeper: such cards are read."""
    wide = {"id": "c1", "comments": [{"id": f"m{i}", "labelIds": []} for i in range(JSON_MAX_DEPTH)]}
    brackets = {"id": "c2", "encTitle": "[{" * JSON_MAX_DEPTH, "tags": [[[]]]}
    body = json.dumps({"workspaces": [{"boards": [{"cards": [wide, brackets]}]}]}).encode()
    assert [event[1] for event in _parse(body) if event[0] == "card"] == [wide, brackets]


def test_export_file_is_decrypted_while_read(built: Built, keys: AccountKeys) -> None:
    """Offline: the password is asked for once, after the file's own KDF parameters and keys."""
    expected = export_to_json(decrypt_document(built.document, keys))
    asked: list[int] = []

    class Source(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            return super().read(min(size or 4096, 4096))  # small reads: many chunks

    def password() -> str:
        asked.append(source.tell())
        return PASSWORD

    source = Source(json.dumps(built.document).encode())
    assert export_to_json(decrypt_export_file(source, password)) == expected
    assert len(asked) == 1 and asked[0] < len(source.getvalue())

    workspaces_first = {"workspaces": built.document["workspaces"], **built.document}
    source = Source(json.dumps(workspaces_first).encode())
    assert export_to_json(decrypt_export_file(source, password, boards=[built.board_id])) == expected

    without_kdf = {k: v for k, v in built.document.items() if k != "kdf"}
    with pytest.raises(ProtocolError, match="kdf"):
        decrypt_export_file(Source(json.dumps(without_kdf).encode()), password)


def test_progress_counts_the_cards_decrypted(built: Built, keys: AccountKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document_module, "_CARDS_PER_BATCH", 2)
    seen: list[int] = []
    decryptor = ExportDecryptor(keys, on_progress=seen.append)
    parser = ExportParser(decryptor)
    parser.feed(json.dumps(built.document).encode())
    parser.close()
    assert seen == [2, 3]  # a full batch while reading, the rest when the board ends
