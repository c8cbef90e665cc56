"""Client pieces that need no server: pacing, session files, unlock, trust, wire reading, streaming."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from mskclient import (
    ApiError,
    AsyncClient,
    AuthError,
    Client,
    ConflictError,
    KeyTrustError,
    Member,
    NotFoundError,
    Pacer,
    ProtocolError,
    RateLimitError,
    TransportError,
    TrustStore,
    UsageError,
    _trust,
)
from mskclient._pacing import CreationOrder, request_group
from mskclient._profile import CREATION_ORDER_SECONDS
from mskclient._session_store import SessionRecord, SessionStore
from mskclient.client._core import Core
from mskclient.client._crypt import EncryptingReader
from mskclient.client._wire import Obj, Request, Response, error_from, path
from mskclient.crypto import (
    FileKey,
    KeyPair,
    b64u_encode,
    decrypt_file,
    fingerprint,
    fingerprint_matches,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_spaces_requests_within_the_window_and_counts_them() -> None:
    clock = FakeClock()
    waits: list[tuple[float, str]] = []
    pacer = Pacer({"read": (10, 60)}, share=0.5, clock=clock, on_wait=lambda s, r: waits.append((s, r)))
    delays = [pacer.reserve("read") for _ in range(7)]
    assert delays[:5] == [0.0] * 5  # 50 % of 10 per minute
    assert delays[5] == pytest.approx(60.0) and delays[6] == pytest.approx(60.0)
    assert waits == [(pytest.approx(60.0), "read"), (pytest.approx(60.0), "read")]
    assert pacer.requests == 7
    clock.now += 61
    assert pacer.reserve("read") == 0.0  # the first five left the window
    assert pacer.reserve("mutation") == 0.0  # no limit configured for the group


def test_pacer_retry_after_is_bounded() -> None:
    pacer = Pacer(max_retries=2, max_retry_after=10)
    assert pacer.retry_delay(1, 3.0) == 3.0
    assert pacer.retry_delay(3, 3.0) is None
    assert pacer.retry_delay(1, 11.0) is None
    with pytest.raises(UsageError):
        Pacer(concurrency=0)


def test_a_cards_comments_labels_and_assignees_go_out_a_server_millisecond_apart() -> None:
    clock = FakeClock()
    order = CreationOrder(clock)
    assert order.wait("comment", "c1") == 0.0
    order.answered("comment", "c1")
    assert order.wait("note", "c1") == pytest.approx(CREATION_ORDER_SECONDS)  # a note is a comment too
    assert order.wait("comment", "c2") == 0.0  # another card's comments
    assert order.wait("label_link", "c1") == 0.0  # labels are listed apart from comments
    assert order.wait("checklist", "c1") == 0.0  # checklists are ordered by position
    order.answered("comment", "c2")  # another card's comment in between: c1's still counts
    clock.now += CREATION_ORDER_SECONDS / 2
    assert order.wait("comment", "c1") == pytest.approx(CREATION_ORDER_SECONDS / 2)
    clock.now += CREATION_ORDER_SECONDS
    assert order.wait("comment", "c1") == 0.0


def test_request_groups() -> None:
    assert request_group("POST", "/auth/login") == "login"
    assert request_group("POST", "/auth/recovery") == "login"
    assert request_group("POST", "/auth/login-init") == "read"
    assert request_group("POST", "/auth/register") == "register"
    assert request_group("GET", "/boards/cabcdefgh") == "read"
    assert request_group("GET", "/users/lookup") == "lookup"
    assert request_group("PATCH", "/cards/cabcdefgh") == "mutation"


def test_paths_refuse_bad_ids() -> None:
    assert path("/cards/{}/move", "cabcdefgh1") == "/cards/cabcdefgh1/move"
    for bad in ("../me", "c", "Cabcdefgh", "cabc/defgh", "cabcdefgh?x=1", ""):
        with pytest.raises(UsageError):
            path("/cards/{}", bad)


def test_obj_validates_ids_and_types() -> None:
    obj = Obj({"id": "c../../x", "n": "1", "ids": ["cabcdefgh", "bad"]}, "card")
    with pytest.raises(ProtocolError, match=r"card\.id"):
        obj.id()
    with pytest.raises(ProtocolError):
        obj.integer("n")
    with pytest.raises(ProtocolError):
        obj.ids("ids")
    with pytest.raises(ProtocolError):
        Obj([1], "card")


def _answer(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, headers or {}, raw)


def test_error_bodies_map_to_the_tree() -> None:
    def err(code: str, message: str) -> dict[str, object]:
        return {"error": {"code": code, "message": message}}

    assert isinstance(error_from(_answer(401, err("TOTP_REQUIRED", "x"))), AuthError)
    assert isinstance(error_from(_answer(404, err("NOT_FOUND", "x"))), NotFoundError)
    assert isinstance(error_from(_answer(409, err("CONFLICT", "x"))), ConflictError)
    limited = error_from(_answer(429, err("RATE_LIMITED", "x"), {"retry-after": "7"}))
    assert isinstance(limited, RateLimitError) and limited.retry_after == 7.0
    shapeless = error_from(_answer(502, b"<html>bad gateway</html>"))
    assert isinstance(shapeless, ApiError) and shapeless.code == "HTTP_502"
    with pytest.raises(ProtocolError):
        _answer(200, b"not json").json()


def test_foreign_exceptions_are_translated() -> None:
    """httpx failures → TransportError; a non-JSON 200 → ProtocolError (no sandbox can show these)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with Client("http://127.0.0.1:9", transport=httpx.MockTransport(refuse)) as client, pytest.raises(TransportError):
        client.health()

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with Client("http://127.0.0.1:9", transport=httpx.MockTransport(timeout)) as client, pytest.raises(TransportError):
        client.health()

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\xff{not json")

    with Client("http://127.0.0.1:9", transport=httpx.MockTransport(garbage)) as client, pytest.raises(ProtocolError):
        client.health()
    with pytest.raises(UsageError):
        Client("ftp://example")


def test_session_files_are_0600_and_atomic(tmp_path: os.PathLike[str]) -> None:
    store = SessionStore(tmp_path)  # type: ignore[arg-type]
    store.save("work", SessionRecord("http://127.0.0.1:1", "a@b.c", "cabcdefgh1", "tok"))
    path_ = store.session_path("work")
    assert stat.S_IMODE(path_.stat().st_mode) == 0o600
    assert store.load("work") == SessionRecord("http://127.0.0.1:1", "a@b.c", "cabcdefgh1", "tok")
    assert [p.name for p in path_.parent.iterdir()] == ["work.json"]  # no temp file left behind
    with pytest.raises(UsageError):
        store.session_path("../evil")
    path_.write_text("{broken")
    with pytest.raises(UsageError):
        store.load("work")
    store.forget("work")
    assert store.load("work") is None


def test_trust_store_pins_on_first_use_and_blocks_a_changed_key(tmp_path: os.PathLike[str]) -> None:
    file = tmp_path / "trust.json"  # type: ignore[operator]
    store = TrustStore(file)
    first, second = KeyPair.generate().public, KeyPair.generate().public
    store.require("cabcdefgh1", "bob@x.y", first)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    reloaded = TrustStore(file)
    assert reloaded.check("cabcdefgh1", "bob@x.y", first)
    with pytest.raises(KeyTrustError, match=fingerprint(second)):
        reloaded.require("cabcdefgh1", "bob@x.y", second)
    reloaded.trust("cabcdefgh1", "bob@x.y", second)
    TrustStore(file).require("cabcdefgh1", "bob@x.y", second)


def test_trust_store_tells_first_seen_from_verified_and_reads_old_pins(tmp_path: os.PathLike[str]) -> None:
    file = tmp_path / "trust.json"  # type: ignore[operator]
    old, new = KeyPair.generate().public, KeyPair.generate().public
    file.write_text(json.dumps({"cabcdefgh1": {"email": "bob@x.y", "publicKey": b64u_encode(old)}}))  # older format
    store = TrustStore(file)
    assert store.state("cabcdefgh1", old) == "first seen" and store.state("cabcdefgh1", new) == "changed"
    assert store.state("cnobody000", new) == "first seen"
    store.verify("cabcdefgh1", "bob@x.y", old)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert TrustStore(file).state("cabcdefgh1", old) == "verified"
    TrustStore(file).trust("cabcdefgh1", "bob@x.y", new)  # accepting a changed key does not verify it
    assert TrustStore(file).state("cabcdefgh1", new) == "first seen"
    file.write_text(json.dumps({"cabcdefgh1": {"email": "bob@x.y", "publicKey": b64u_encode(old), "verified": "yes"}}))
    with pytest.raises(UsageError, match="damaged"):
        TrustStore(file)


def test_spoken_fingerprints_compare_without_spacing_or_case() -> None:
    key = KeyPair.generate().public
    shown = fingerprint(key)
    assert fingerprint_matches(key, shown) and fingerprint_matches(key, shown.upper().replace(" ", ""))
    assert fingerprint_matches(key, "  " + shown.replace(" ", "\t") + "\n")
    assert not fingerprint_matches(key, fingerprint(KeyPair.generate().public))
    for bad in ("", shown[:-1], shown[:-1] + "g", shown + " 0"):
        with pytest.raises(UsageError, match="32 hex digits"):
            fingerprint_matches(key, bad)


def test_members_listing_pins_all_new_keys_with_one_write(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "trust.json"  # type: ignore[operator]
    writes: list[bytes] = []
    real_write = _trust.atomic_write

    def counting_write(path: Path, data: bytes, mode: int = 0o600) -> None:
        writes.append(data)
        real_write(path, data, mode)

    monkeypatch.setattr(_trust, "atomic_write", counting_write)
    keys = {f"cmember{i}00": KeyPair.generate().public for i in range(4)}
    rows = [
        {"userId": uid, "email": f"{uid}@x.y", "role": "member", "publicKey": b64u_encode(key)}
        for uid, key in keys.items()
    ]
    core = Core(trust=TrustStore(file))

    def listing(body: object) -> list[Member]:
        flow = core.members("cworkspace1")
        next(flow)
        with pytest.raises(StopIteration) as done:
            flow.send(Response(200, {}, json.dumps(body).encode()))
        result: list[Member] = done.value.value
        return result

    assert [m.user_id for m in listing(rows)] == list(keys)
    assert len(writes) == 1
    reloaded = TrustStore(file)
    assert all(reloaded.pinned(uid) == key for uid, key in keys.items())
    listing(rows)  # nothing new: no write
    assert len(writes) == 1
    changed = KeyPair.generate().public
    listing([*rows, {**rows[0], "publicKey": b64u_encode(changed)}])  # a changed key is not re-pinned
    assert len(writes) == 1 and core.trust.pinned("cmember000") == keys["cmember000"]
    assert not core.key_trusted(Member("cmember000", "a@x.y", None, "member", changed, fingerprint(changed)))


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 200_000])
def test_encrypting_reader_matches_the_file_format(size: int) -> None:
    key = FileKey.generate()
    plain = os.urandom(size)
    reader = EncryptingReader(key, io.BytesIO(plain))
    cipher = b"".join(iter(lambda: reader.read(10_000), b""))
    out = io.BytesIO()
    assert decrypt_file(key, io.BytesIO(cipher), out) == size
    assert out.getvalue() == plain and reader.size == size


def test_core_without_keys_says_so() -> None:
    with pytest.raises(UsageError, match="no account keys"):
        _ = Core().keys


async def test_async_foreign_exceptions_are_translated() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with AsyncClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(TransportError):
            await client.health()

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[1, 2")

    async with AsyncClient("http://127.0.0.1:9", transport=httpx.MockTransport(garbage)) as client:
        with pytest.raises(ProtocolError):
            await client.health()


def _stream_server(seen: list[httpx.Request], *, asynchronous: bool) -> httpx.MockTransport:
    """/stream: a body in three chunks; /limited: a 429 with Retry-After; /broken: a body cut mid-way."""
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10]

    async def async_body(cut: bool) -> AsyncIterator[bytes]:
        for chunk in chunks[: 1 if cut else 3]:
            yield chunk
        if cut:
            raise httpx.ReadError("cut")

    def sync_body(cut: bool) -> Iterator[bytes]:
        yield from chunks[: 1 if cut else 3]
        if cut:
            raise httpx.ReadError("cut")

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/limited"):
            error = {"error": {"code": "RATE_LIMITED", "message": "slow down"}}
            return httpx.Response(429, headers={"retry-after": "7"}, json=error)
        cut = request.url.path.endswith("/broken")
        return httpx.Response(200, content=async_body(cut) if asynchronous else sync_body(cut))

    return httpx.MockTransport(handle)


def test_stream_goes_through_the_driver() -> None:
    """Cookie, pacer count, the body's bound, error answers and failures: as for a flow's requests."""
    seen: list[httpx.Request] = []
    transport = _stream_server(seen, asynchronous=False)
    with Client("http://127.0.0.1:9", token="t0k", pacer=Pacer.unlimited(), transport=transport) as client:
        with client.stream(Request("GET", "/stream", max_bytes=None)) as answer:
            assert answer.status == 200 and b"".join(answer.chunks) == b"a" * 10 + b"b" * 10 + b"c" * 10
        assert seen[-1].headers["cookie"] == "msk_session=t0k" and client.requests == 1
        with (
            pytest.raises(ProtocolError, match="stopped reading"),
            client.stream(Request("GET", "/stream", max_bytes=15)) as answer,
        ):
            b"".join(answer.chunks)
        with pytest.raises(RateLimitError) as limited, client.stream(Request("GET", "/limited")):
            pass
        assert limited.value.retry_after == 7 and client.requests == 3  # raised at once, not retried
        with pytest.raises(TransportError), client.stream(Request("GET", "/broken", max_bytes=None)) as answer:
            list(answer.chunks)


async def test_async_stream_goes_through_the_driver() -> None:
    seen: list[httpx.Request] = []
    transport = _stream_server(seen, asynchronous=True)
    async with AsyncClient("http://127.0.0.1:9", token="t0k", pacer=Pacer.unlimited(), transport=transport) as client:
        async with client.stream(Request("GET", "/stream", max_bytes=None)) as answer:
            assert (
                answer.status == 200 and b"".join([c async for c in answer.chunks]) == b"a" * 10 + b"b" * 10 + b"c" * 10
            )
        assert seen[-1].headers["cookie"] == "msk_session=t0k" and client.requests == 1
        with pytest.raises(ProtocolError, match="stopped reading"):
            async with client.stream(Request("GET", "/stream", max_bytes=15)) as answer:
                _ = [c async for c in answer.chunks]
        with pytest.raises(RateLimitError) as limited:
            async with client.stream(Request("GET", "/limited")):
                pass
        assert limited.value.retry_after == 7 and client.requests == 3  # raised at once, not retried
        with pytest.raises(TransportError):
            async with client.stream(Request("GET", "/broken", max_bytes=None)) as answer:
                _ = [c async for c in answer.chunks]
