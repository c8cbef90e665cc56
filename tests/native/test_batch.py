"""decrypt_batch / encrypt_batch: the same results on the native and the pure path, item by item."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from _vectors import KEY_TYPES, cases
from hypothesis import given, settings
from hypothesis import strategies as st

from mskclient._errors import (
    CryptoError,
    DecryptionError,
    EnvelopeError,
    UnsupportedVersionError,
    UsageError,
)
from mskclient._profile import ENVELOPE_MAX_CHARS, FIELDS, FieldSpec, KeyRole, field
from mskclient.crypto import (
    BoardKey,
    Envelope,
    SymmetricKey,
    UserKey,
    b64u_decode,
    b64u_encode,
    decrypt_field,
    encrypt_field,
)
from mskclient.crypto.hazmat import decrypt_batch, encrypt_batch

from ._paths import PATHS, on_path, outcome

TITLE = field("card", "encTitle")
DESCRIPTION = field("card", "encDescription")
COMMENT = field("comment", "encBody")
KEY = BoardKey(bytes(range(32)))
OTHER_KEY = BoardKey(bytes(range(1, 33)))
CARD = "ck3v9q2x0000abcd"


def seal(plaintext: bytes, spec: FieldSpec = TITLE, key: SymmetricKey = KEY) -> str:
    return str(encrypt_field(key, plaintext, spec))


def reference(key: SymmetricKey, items: list[tuple[object, FieldSpec, str | None]]) -> list[object]:
    """What one decrypt_field call per item gives: the contract both paths must meet."""
    out: list[object] = []
    for text, spec, entity_id in items:
        try:
            out.append(decrypt_field(key, text, spec, entity_id=entity_id))  # type: ignore[arg-type]
        except CryptoError as exc:
            out.append(outcome(exc))
    return out


def check(key: SymmetricKey, items: list[tuple[object, FieldSpec, str | None]], **kw: int) -> list[object]:
    got = [outcome(r) for r in decrypt_batch(key, items, **kw)]  # type: ignore[arg-type]
    assert got == reference(key, items)
    return got


def parts(text: str) -> tuple[str, str]:
    _, nonce, body = text.split(".")
    return nonce, body


GOOD = seal("Grüße, 世界 🎉".encode())
NONCE, BODY = parts(GOOD)
NONCE_23 = b64u_encode(b64u_decode(NONCE)[:23])
NONCE_25 = b64u_encode(b64u_decode(NONCE) + b"\0")
BODY_15 = b64u_encode(b64u_decode(BODY)[:15])


def flip(text: str, index: int) -> str:
    """The envelope with one bit of its decoded ciphertext‖tag flipped."""
    body = bytearray(b64u_decode(parts(text)[1]))
    body[index] ^= 1
    return f"v1.{parts(text)[0]}.{b64u_encode(bytes(body))}"


#: DecryptionError's reason for a forged or misplaced envelope.
NOT_AUTHENTIC = "does not authenticate (wrong key, tampered or moved)"
# Every per-item error kind, with the class and reason decrypt_field gives it.
BAD: list[tuple[str, object, type[CryptoError], str]] = [
    ("not-a-string", None, EnvelopeError, "not a string"),
    ("bytes", GOOD.encode(), EnvelopeError, "not a string"),
    ("number", 42, EnvelopeError, "not a string"),
    ("over-size", "v1." + NONCE + "." + "A" * ENVELOPE_MAX_CHARS, EnvelopeError, "over the 4 MiB field limit"),
    ("over-size-non-ascii", "é" * (ENVELOPE_MAX_CHARS + 1), EnvelopeError, "over the 4 MiB field limit"),
    ("empty", "", EnvelopeError, "not three dot-separated parts"),
    ("two-parts", f"v1.{NONCE}", EnvelopeError, "not three dot-separated parts"),
    ("four-parts", f"{GOOD}.", EnvelopeError, "not three dot-separated parts"),
    ("non-ascii-parts", "é.é", EnvelopeError, "not three dot-separated parts"),
    ("v2", f"v2.{NONCE}.{BODY}", UnsupportedVersionError, "unsupported envelope version"),
    ("V1", f"V1.{NONCE}.{BODY}", UnsupportedVersionError, "unsupported envelope version"),
    ("v10", f"v10.{NONCE}.{BODY}", UnsupportedVersionError, "unsupported envelope version"),
    ("no-version", f".{NONCE}.{BODY}", UnsupportedVersionError, "unsupported envelope version"),
    ("non-ascii-version", f"vé.{NONCE}.{BODY}", UnsupportedVersionError, "unsupported envelope version"),
    ("std-alphabet", f"v1.{NONCE}.{BODY[:-2]}+/", EnvelopeError, "not base64url"),
    ("space", f"v1.{NONCE}.{BODY} ", EnvelopeError, "not base64url"),
    ("non-ascii-body", f"v1.{NONCE}.{BODY}é", EnvelopeError, "not base64url"),
    ("bad-nonce-char", f"v1.{NONCE[:-1]}!.{BODY}", EnvelopeError, "not base64url"),
    (
        "impossible-length",
        f"v1.{NONCE}.{BODY}A" if len(BODY) % 4 == 0 else f"v1.{NONCE}.A",
        EnvelopeError,
        "not base64url",
    ),
    ("padding-on-whole", f"v1.{NONCE}=.{BODY}", EnvelopeError, "not base64url"),
    ("three-pads", f"v1.{NONCE}.AA===", EnvelopeError, "not base64url"),
    ("short-padding", f"v1.{NONCE}.AA=", EnvelopeError, "not base64url"),
    ("pad-in-middle", f"v1.{NONCE}.AA==AAAA", EnvelopeError, "not base64url"),
    ("bad-body-and-short-nonce", f"v1.{NONCE_23}.!!!!", EnvelopeError, "not base64url"),
    ("nonce-23", f"v1.{NONCE_23}.{BODY}", EnvelopeError, "nonce must be 24 bytes"),
    ("nonce-25", f"v1.{NONCE_25}.{BODY}", EnvelopeError, "nonce must be 24 bytes"),
    ("nonce-empty", f"v1..{BODY}", EnvelopeError, "nonce must be 24 bytes"),
    ("nonce-before-short-body", f"v1.{NONCE_23}.", EnvelopeError, "nonce must be 24 bytes"),
    ("body-15", f"v1.{NONCE}.{BODY_15}", EnvelopeError, "ciphertext too short"),
    ("body-empty", f"v1.{NONCE}.", EnvelopeError, "ciphertext too short"),
    ("tag-only", f"v1.{NONCE}.{b64u_encode(bytes(16))}", DecryptionError, NOT_AUTHENTIC),
    ("flipped-first", flip(GOOD, 0), DecryptionError, NOT_AUTHENTIC),
    ("flipped-tag", flip(GOOD, -1), DecryptionError, NOT_AUTHENTIC),
    ("other-key", seal(b"x", key=OTHER_KEY), DecryptionError, NOT_AUTHENTIC),
    ("other-field", seal(b"x", DESCRIPTION), DecryptionError, NOT_AUTHENTIC),
    ("other-nonce", f"v1.{parts(seal(b'x'))[0]}.{BODY}", DecryptionError, NOT_AUTHENTIC),
]


@pytest.mark.parametrize(("name", "text", "kind", "reason"), BAD, ids=[b[0] for b in BAD])
def test_each_error_kind(path: str, name: str, text: object, kind: type[CryptoError], reason: str) -> None:
    good = seal(b"fine")
    [before, error, after] = decrypt_batch(KEY, [(good, TITLE, CARD), (text, TITLE, CARD), (good, TITLE, None)])  # type: ignore[list-item]
    assert before == after == b"fine"
    assert type(error) is kind
    assert isinstance(error, EnvelopeError | DecryptionError)
    assert (error.reason, error.entity, error.entity_id, error.field) == (reason, "card", CARD, "encTitle")
    assert outcome(error) == reference(KEY, [(text, TITLE, CARD)])[0]


def test_mixed_batch_matches_one_call_per_item(path: str) -> None:
    items: list[tuple[object, FieldSpec, str | None]] = []
    for i, (_, text, _, _) in enumerate(BAD):
        spec = (TITLE, DESCRIPTION, COMMENT)[i % 3]
        items.append((seal(f"item {i} ünïcødé".encode(), spec), spec, f"c{i:08d}"))
        items.append((text, TITLE, None if i % 2 else f"c{i:08d}"))  # BAD is made for TITLE
    got = check(KEY, items)
    assert got[0::2] == [f"item {i} ünïcødé".encode() for i in range(len(BAD))]
    assert all(isinstance(r, tuple) for r in got[1::2])


def test_padding_accepted_and_unused_bits_refused(path: str) -> None:
    odd = seal(b"x" * 18)  # 34 bytes of ciphertext: 46 characters, 2 of padding possible, 4 unused bits
    nonce, body = parts(odd)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(body[-1]) ^ 1]
    items: list[tuple[object, FieldSpec, str | None]] = [
        (seal(b"seventeen bytes!!"), TITLE, None),  # 33 bytes: 44 characters, no unused bits
        (f"v1.{nonce}.{body}==", TITLE, None),
        (f"v1.{nonce}.{body[:-1]}{sibling}", TITLE, None),
        (f"v1.{nonce}.{body[:-1]}{sibling}==", TITLE, None),
    ]
    got = check(KEY, items)
    assert got[:2] == [b"seventeen bytes!!", b"x" * 18]
    assert [g[2] for g in got[2:]] == ["not base64url"] * 2  # type: ignore[index]


def test_envelope_objects_are_opened_too(path: str) -> None:
    env = encrypt_field(KEY, b"object", TITLE)
    assert decrypt_batch(KEY, [(env, TITLE, None), (str(env), TITLE, None)]) == [b"object", b"object"]


def test_empty_batch(path: str) -> None:
    assert decrypt_batch(KEY, []) == []
    assert encrypt_batch(KEY, []) == []


@pytest.mark.parametrize("threads", [1, 2, 7])
def test_large_batch_split_across_threads(path: str, threads: int) -> None:
    specs = list(FIELDS.values())
    board = [s for s in specs if s.key is KeyRole.BOARD]
    plain = [(f"{i:05d} " + "ü" * (i % 97)).encode() for i in range(6000)]
    items: list[tuple[object, FieldSpec, str | None]] = [
        (seal(p, board[i % len(board)]), board[i % len(board)], f"c{i:08d}") for i, p in enumerate(plain)
    ]
    for i in range(0, len(items), 499):  # a failure now and then, spread over every worker's share
        text, spec, entity_id = items[i]
        items[i] = (flip(str(text), 3) if i % 2 else "v1.x", spec, entity_id)
    got = check(KEY, items, threads=threads)
    assert [g for i, g in enumerate(got) if i % 499] == [p for i, p in enumerate(plain) if i % 499]


def test_large_fields(path: str) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB of plaintext: about 2.8 M characters, under the limit
    items: list[tuple[object, FieldSpec, str | None]] = [(seal(big, DESCRIPTION), DESCRIPTION, CARD)] * 3
    assert check(KEY, items, threads=2) == [big] * 3


def test_wrong_key_role_raises_before_anything(path: str) -> None:
    user_spec = field("user", "encPrivateKey")
    items = [(seal(b"a"), TITLE, None), (seal(b"b"), user_spec, None)]
    with pytest.raises(TypeError, match="needs a UserKey"):
        decrypt_batch(KEY, items)
    with pytest.raises(TypeError, match="needs a BoardKey"):
        decrypt_batch(UserKey(bytes(32)), items)
    with pytest.raises(TypeError, match="needs a UserKey"):
        encrypt_batch(KEY, [(b"a", TITLE), (b"b", user_spec)])


@pytest.mark.parametrize("threads", [0, -1, True, 1.5])
def test_thread_count_must_be_positive(path: str, threads: object) -> None:
    with pytest.raises(UsageError):
        decrypt_batch(KEY, [(GOOD, TITLE, None)], threads=threads)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        encrypt_batch(KEY, [(b"a", TITLE)], threads=threads)  # type: ignore[arg-type]


def test_plaintext_must_be_bytes(path: str) -> None:
    with pytest.raises(TypeError):
        encrypt_batch(KEY, [(b"a", TITLE), ("text", TITLE)])  # type: ignore[list-item]


@pytest.mark.parametrize("threads", [1, 2])
def test_encrypt_batch_round_trip(path: str, threads: int) -> None:
    specs = [TITLE, DESCRIPTION, COMMENT]
    plain = [b"", "ünïcødé 🎉".encode(), bytes(range(256)) * 40] + [f"{i}".encode() for i in range(3000)]
    items = [(p, specs[i % 3]) for i, p in enumerate(plain)]
    envs = encrypt_batch(KEY, items, threads=threads)
    assert all(isinstance(e, Envelope) for e in envs)
    assert len({e.nonce for e in envs}) == len(envs)  # a fresh nonce each
    assert [decrypt_field(KEY, str(e), spec) for e, (_, spec) in zip(envs, items, strict=True)] == plain
    moved = decrypt_batch(KEY, [(str(envs[1]), TITLE, None)])[0]  # sealed for DESCRIPTION: AD binds it
    assert isinstance(moved, DecryptionError)


def test_both_paths_seal_what_the_other_opens() -> None:
    items = [(f"{i} ✓".encode(), (TITLE, COMMENT)[i % 2]) for i in range(300)]
    for sealer, opener in [("native", "pure"), ("pure", "native")]:
        with on_path(sealer):
            envs = encrypt_batch(KEY, items)
        with on_path(opener):
            assert decrypt_batch(KEY, [(str(e), s, None) for e, (_, s) in zip(envs, items, strict=True)]) == [
                p for p, _ in items
            ]


def _vector_batches() -> list[tuple[SymmetricKey, list[tuple[object, FieldSpec, str | None]], list[bytes]]]:
    """vectors/envelope.json grouped by key: one batch per key, specs found by their AD."""
    by_ad = {spec.ad.decode(): spec for spec in FIELDS.values()}
    groups: dict[tuple[str, KeyRole], tuple[list[tuple[object, FieldSpec, str | None]], list[bytes]]] = {}
    for case in cases("envelope.json"):
        spec = by_ad[case["ad"]]
        texts, plain = groups.setdefault((case["key"], spec.key), ([], []))
        assert b64u_decode(case["nonce"]) == b64u_decode(parts(case["envelope"])[0])
        texts.append((case["envelope"], spec, None))
        plain.append(b64u_decode(case["plaintext"]))
    return [(KEY_TYPES[role](b64u_decode(key)), texts, plain) for (key, role), (texts, plain) in groups.items()]


def test_envelope_vectors(path: str) -> None:
    batches = _vector_batches()
    assert sum(len(p) for _, _, p in batches) == len(cases("envelope.json")) > 0
    for key, items, plain in batches:
        assert decrypt_batch(key, items) == plain
        wrong = type(key)(bytes(32))
        assert all(isinstance(r, DecryptionError) for r in decrypt_batch(wrong, items))


ENVELOPE_CHARS = st.sampled_from([*"v1.=AQgw-_+/é", NONCE, BODY, "v1.", "."])


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.lists(ENVELOPE_CHARS, max_size=8).map("".join), max_size=6), flips=st.data())
def test_paths_agree_on_random_and_mutated_envelopes(texts: list[str], flips: st.DataObject) -> None:
    mutated = [
        GOOD[:i] + c + GOOD[i + 1 :]
        for i, c in flips.draw(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), ENVELOPE_CHARS), max_size=4))
    ]
    items: list[tuple[object, FieldSpec, str | None]] = [(t, TITLE, CARD) for t in [*texts, *mutated, GOOD]]
    results = {}
    for name in PATHS:
        with on_path(name):
            results[name] = [outcome(r) for r in decrypt_batch(KEY, items)]  # type: ignore[arg-type]
    assert results["native"] == results["pure"] == reference(KEY, items)


def test_concurrent_batches_from_python_threads(path: str) -> None:
    """The GIL is released during a native batch: other Python threads run their own at the same time."""
    plain = [f"{i} ✓".encode() * 20 for i in range(2000)]
    items: list[tuple[object, FieldSpec, str | None]] = [(seal(p), TITLE, None) for p in plain]
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(decrypt_batch, KEY, items, threads=2) for _ in range(8)]  # type: ignore[arg-type]
        assert all(run.result() == plain for run in runs)


def test_bad_item_late_in_a_large_batch_stops_cleanly(path: str) -> None:
    """Threads already at work on the first items stop; nothing half-done comes back."""
    user_spec = field("user", "encPrivateKey")
    with pytest.raises(TypeError, match="needs a UserKey"):
        decrypt_batch(KEY, [(GOOD, TITLE, None)] * 8000 + [(GOOD, user_spec, None)], threads=4)
    with pytest.raises(TypeError, match="needs a UserKey"):
        encrypt_batch(KEY, [(b"x" * 100, TITLE)] * 8000 + [(b"x", user_spec)], threads=4)
    assert decrypt_batch(KEY, [(GOOD, TITLE, None)] * 8000, threads=4) == [decrypt_field(KEY, GOOD, TITLE)] * 8000


def test_every_ascii_character_at_every_place_of_nonce_and_ciphertext(path: str) -> None:
    """A ciphertext long enough for whole 32-character blocks (the native path decodes those
    with vector instructions where the CPU has them) and a tail: any character anywhere is
    accepted or refused exactly as b64u_decode does, and a changed one never opens."""
    nonce, body = parts(seal(bytes(range(200)), DESCRIPTION))  # 216 bytes: 288 characters
    ascii_chars = [chr(c) for c in range(128)]
    texts = [f"v1.{nonce[:i]}{c}{nonce[i + 1 :]}.{body}" for i in range(len(nonce)) for c in ascii_chars]
    texts += [f"v1.{nonce}.{body[:i]}{c}{body[i + 1 :]}" for i in range(len(body)) for c in ascii_chars]
    items: list[tuple[object, FieldSpec, str | None]] = [(text, DESCRIPTION, None) for text in texts]
    got = check(KEY, items)
    assert got.count(bytes(range(200))) == len(nonce) + len(body)  # each place's own character


def test_items_list_emptied_while_a_batch_runs() -> None:
    """Reading the associated data runs Python code, which may change the caller's list: the
    native path keeps its own reference to each item it took and refuses to go on once the list
    is shorter than the batch, never reading a freed item."""

    class Emptying(FieldSpec):
        def __getattribute__(self, name: str) -> object:
            if name == "ad":
                items.clear()
            return super().__getattribute__(name)

    spec = Emptying(TITLE.entity, TITLE.name, TITLE.key, TITLE.ad)
    items: list[tuple[object, FieldSpec, str | None]] = [(seal(b"%d" % i), spec, None) for i in range(500)]
    with on_path("native"), pytest.raises(RuntimeError, match="items changed size during the batch"):
        decrypt_batch(KEY, items)  # type: ignore[arg-type]
