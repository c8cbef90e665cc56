"""Bad input: every malformed, mutated or misdirected envelope fails cleanly.

Only the envelope/decryption errors of the one exception tree may come out;
the error names entity, id and field and never holds a key or plaintext.
"""

from __future__ import annotations

import base64
import string

import pytest
from _vectors import KEY_TYPES
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mskclient._errors import DecryptionError, EnvelopeError, UnsupportedVersionError
from mskclient._profile import ENVELOPE_MAX_CHARS, FIELDS, FieldSpec, KeyRole, field
from mskclient.crypto import (
    BoardKey,
    Envelope,
    KeyPair,
    SealedEnvelope,
    SymmetricKey,
    Where,
    WorkspaceKey,
    _envelope,
    b64u_encode,
    decrypt_field,
    encrypt_field,
)
from mskclient.crypto.hazmat import open_sealed, seal_to

from ._leaks import renderings

FIELD_ERRORS = (EnvelopeError, DecryptionError)
SOME = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPEC = field("card", "encTitle")
CARD_ID = "ckv9x2m3p0000abcd"
KEY = BoardKey(bytes(range(100, 132)))
PLAINTEXT = "TOP-SECRET launch plan \U0001f680".encode()
ENVELOPE = encrypt_field(KEY, PLAINTEXT, SPEC, nonce=bytes(range(24)))
WIRE = str(ENVELOPE)
B64_CHARS = string.ascii_letters + string.digits + "-_"
MEMBER = KeyPair.from_secret(bytes(range(32)))


def open_card_title(text: object, key: SymmetricKey = KEY, spec: FieldSpec = SPEC) -> bytes:
    return decrypt_field(key, text, spec, entity_id=CARD_ID)  # type: ignore[arg-type]


b64_text = st.text(alphabet=B64_CHARS, max_size=80)
envelope_like = st.one_of(
    st.text(max_size=200),
    st.builds(lambda a, b: f"v1.{a}.{b}", b64_text, b64_text),
    st.builds(
        lambda a, b: f"v1.{b64u_encode(a)}.{b64u_encode(b)}",
        st.binary(min_size=20, max_size=28),
        st.binary(min_size=0, max_size=64),
    ),
    st.builds(lambda parts: ".".join(parts), st.lists(st.text(alphabet=B64_CHARS + "=.", max_size=40), max_size=5)),
)


@SOME
@given(envelope_like)
def test_random_envelopes_raise_only_field_errors(text: str) -> None:
    with pytest.raises(FIELD_ERRORS):
        open_card_title(text)


@SOME
@given(envelope_like)
def test_random_sealed_envelopes_raise_only_field_errors(text: str) -> None:
    with pytest.raises(FIELD_ERRORS):
        open_sealed(text, MEMBER, Where("membership", "encWorkspaceKey", "cworkspace01"))


@pytest.mark.parametrize("value", [None, 1, b"v1.AAAA.AAAA", ["v1", "a", "b"], {"v1": 1}, 1.5])
def test_non_strings_are_envelope_errors(value: object) -> None:
    with pytest.raises(EnvelopeError, match="not a string"):
        open_card_title(value)


mutation = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, len(WIRE) - 1), st.characters()),
    st.tuples(st.just("replace"), st.integers(0, len(WIRE) - 1), st.sampled_from(B64_CHARS + ".=")),
    st.tuples(st.just("insert"), st.integers(0, len(WIRE)), st.sampled_from(B64_CHARS + ".= \n")),
    st.tuples(st.just("delete"), st.integers(0, len(WIRE) - 1), st.just("")),
    st.tuples(st.just("truncate"), st.integers(0, len(WIRE) - 1), st.just("")),
)


def mutate(text: str, edits: list[tuple[str, int, str]]) -> str:
    for kind, index, char in edits:
        index = min(index, len(text))
        if kind == "replace":
            text = text[:index] + char + text[index + 1 :]
        elif kind == "insert":
            text = text[:index] + char + text[index:]
        elif kind == "delete":
            text = text[:index] + text[index + 1 :]
        else:
            text = text[:index]
    return text


@SOME
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutated_envelopes_fail_unless_only_the_spelling_changed(edits: list[tuple[str, int, str]]) -> None:
    """A mutation either fails with a field error or is padding the profile allows (same bytes)."""
    mutated = mutate(WIRE, edits)
    assume(mutated != WIRE)
    try:
        opened = open_card_title(mutated)
    except FIELD_ERRORS:
        return
    assert opened == PLAINTEXT
    assert Envelope.parse(mutated, Where.of(SPEC)) == ENVELOPE
    assert mutated.rstrip("=") == WIRE


def test_every_single_bit_flip_of_nonce_ciphertext_or_tag_is_detected() -> None:
    short = encrypt_field(KEY, b"8 bytes!", SPEC)
    flips = 0
    for part in ("head", "body"):
        original = getattr(short, part)
        for bit in range(len(original) * 8):
            altered = bytearray(original)
            altered[bit // 8] ^= 1 << (bit % 8)
            parts = {"head": short.head, "body": short.body, part: bytes(altered)}
            with pytest.raises(DecryptionError):
                open_card_title(Envelope(parts["head"], parts["body"]))
            with pytest.raises(DecryptionError):
                open_card_title(str(Envelope(parts["head"], parts["body"])))
            flips += 1
    assert flips == (24 + 8 + 16) * 8


def test_every_other_field_of_the_table_refuses_the_envelope() -> None:
    """Same key bytes, another row's associated data: never opens (fields cannot be moved)."""
    for spec in FIELDS.values():
        if spec.ad == SPEC.ad:
            continue
        with pytest.raises(DecryptionError):
            open_card_title(WIRE, KEY_TYPES[spec.key](KEY.raw), spec)


def test_every_single_bit_flip_of_the_associated_data_is_detected() -> None:
    for bit in range(len(SPEC.ad) * 8):
        ad = bytearray(SPEC.ad)
        ad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionError):
            open_card_title(WIRE, KEY, FieldSpec("card", "encTitle", KeyRole.BOARD, bytes(ad)))


@SOME
@given(st.binary(max_size=64))
def test_any_other_associated_data_is_detected(ad: bytes) -> None:
    assume(ad != SPEC.ad)
    with pytest.raises(DecryptionError):
        open_card_title(WIRE, KEY, FieldSpec("card", "encTitle", KeyRole.BOARD, ad))


def test_every_single_bit_flip_of_the_key_is_detected() -> None:
    for bit in range(256):
        raw = bytearray(KEY.raw)
        raw[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionError):
            open_card_title(WIRE, BoardKey(bytes(raw)))


@SOME
@given(st.binary(min_size=32, max_size=32))
def test_any_other_key_is_detected(raw: bytes) -> None:
    assume(raw != KEY.raw)
    with pytest.raises(DecryptionError):
        open_card_title(WIRE, BoardKey(raw))


@pytest.mark.parametrize("version", ["v2", "v3", "v0", "V1", "v11", "", "1"])
def test_other_versions_are_unsupported_not_a_crash(version: str) -> None:
    rest = WIRE.split(".", 1)[1]
    for text in (f"{version}.{rest}", f"{version}.!!not base64!!.??"):
        with pytest.raises(UnsupportedVersionError, match="unsupported envelope version") as caught:
            open_card_title(text)
        assert (caught.value.entity, caught.value.entity_id, caught.value.field) == ("card", CARD_ID, "encTitle")
    with pytest.raises(UnsupportedVersionError):
        SealedEnvelope.parse(f"{version}.{rest}", Where("membership", "encWorkspaceKey"))


def test_over_size_fields_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[str] = []
    real = _envelope.b64u_decode

    def spy(text: str) -> bytes:
        decoded.append(text[:10])
        return real(text)

    monkeypatch.setattr(_envelope, "b64u_decode", spy)
    five_mib = "\u00a7" * (5 * 1024 * 1024)  # not one valid character
    for text in (five_mib, "v1." + five_mib, "v1." + "A" * (ENVELOPE_MAX_CHARS - 5) + ".AA"):
        with pytest.raises(EnvelopeError, match="over the 4 MiB field limit"):
            open_card_title(text)
        with pytest.raises(EnvelopeError, match="over the 4 MiB field limit"):
            SealedEnvelope.parse(text, Where("membership", "encWorkspaceKey"))
    assert decoded == []
    # At exactly the limit the text is decoded (and here found wanting): the limit is the boundary.
    at_limit = "v1." + "\u00a7" * (ENVELOPE_MAX_CHARS - 6) + ".AA"
    assert len(at_limit) == ENVELOPE_MAX_CHARS
    with pytest.raises(EnvelopeError, match="not base64url"):
        open_card_title(at_limit)
    assert decoded


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("v1.AAAA", "not three dot-separated parts"),
        ("v1.a.b.c", "not three dot-separated parts"),
        (f"v1.{b64u_encode(bytes(23))}.{b64u_encode(bytes(16))}", "nonce must be 24 bytes"),
        (f"v1.{b64u_encode(bytes(25))}.{b64u_encode(bytes(16))}", "nonce must be 24 bytes"),
        (f"v1.{b64u_encode(bytes(24))}.{b64u_encode(bytes(15))}", "ciphertext too short"),
        (f"v1.{b64u_encode(bytes(24))}.", "ciphertext too short"),
        (f"v1.{base64.b64encode(bytes(24)).decode()}.AA+/", "not base64url"),
        ("v1.\u0410AAA.AAAA", "not base64url"),
    ],
)
def test_malformed_envelopes_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        open_card_title(text)


def test_sealed_envelope_lengths() -> None:
    where = Where("membership", "encWorkspaceKey", "cworkspace01")
    with pytest.raises(EnvelopeError, match="nonce must be 32 bytes"):
        open_sealed(f"v1.{b64u_encode(bytes(24))}.{b64u_encode(bytes(16))}", MEMBER, where)
    with pytest.raises(EnvelopeError, match="ciphertext too short"):
        open_sealed(f"v1.{b64u_encode(bytes(32))}.{b64u_encode(bytes(15))}", MEMBER, where)


def _failures() -> list[tuple[str, Exception]]:
    other_key = BoardKey(bytes(32))
    wk_spec = field("board", "encBoardKey")
    cases: list[tuple[str, object, SymmetricKey, FieldSpec]] = [
        ("wrong key", WIRE, other_key, SPEC),
        ("moved to another field", WIRE, KEY, field("card", "encDescription")),
        ("flipped tag", WIRE[:-2] + ("A" if WIRE[-2] != "A" else "B") + WIRE[-1], KEY, SPEC),
        ("unsupported version", "v2" + WIRE[2:], KEY, SPEC),
        ("not base64url", WIRE[:10] + "!" + WIRE[11:], KEY, SPEC),
        ("over-size", "v1." + "A" * ENVELOPE_MAX_CHARS, KEY, SPEC),
        ("not a string", 42, KEY, SPEC),
        (
            "wrapped key, wrong workspace key",
            str(encrypt_field(WorkspaceKey(KEY.raw), KEY.raw, wk_spec)),
            WorkspaceKey(bytes(32)),
            wk_spec,
        ),
    ]
    caught: list[tuple[str, Exception]] = []
    for name, text, key, spec in cases:
        with pytest.raises(FIELD_ERRORS) as info:
            decrypt_field(key, text, spec, entity_id=CARD_ID)  # type: ignore[arg-type]
        caught.append((name, info.value))
    with pytest.raises(FIELD_ERRORS) as info:
        open_sealed(str(seal_to(PLAINTEXT, KeyPair.generate().public)), MEMBER, Where("card", "encTitle", CARD_ID))
    caught.append(("sealed to someone else", info.value))
    return caught


@pytest.mark.parametrize(("name", "error"), _failures(), ids=[name for name, _ in _failures()])
def test_errors_name_entity_id_and_field_and_hold_no_secret(name: str, error: Exception) -> None:
    assert isinstance(error, EnvelopeError | DecryptionError)
    assert error.entity_id == CARD_ID
    text = " ".join([str(error), repr(error), *map(str, error.args)])
    assert CARD_ID in str(error)
    assert f"{error.entity} {CARD_ID} field {error.field}" in str(error)
    secrets = [KEY.raw, MEMBER.secret, PLAINTEXT]
    for secret in secrets:
        for leak in renderings(secret):
            assert leak not in text, name
    assert PLAINTEXT.decode() not in text
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None
