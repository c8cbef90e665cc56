"""Fingerprints, relay frames and webhook signatures (docs/protocol.md#fingerprints, #relay-frames, #webhooks)."""

from __future__ import annotations

import hashlib
import hmac
import re

import nacl.bindings
import pytest

from mskclient._errors import ProtocolError
from mskclient._profile import RELAY_MAX_FRAME, WEBHOOK_TOLERANCE_SECONDS, field
from mskclient.crypto import (
    BoardKey,
    Envelope,
    KeyPair,
    WebhookSignatureError,
    Where,
    WorkspaceKey,
    _misc,
    _sodium,
    decrypt_field,
    fingerprint,
    open_relay_frame,
    seal_field,
    seal_relay_frame,
    sign_webhook,
    verify_webhook_signature,
)

# --- fingerprints ---------------------------------------------------------------------------


def test_fingerprint_is_blake2b_16_in_eight_groups_of_four_hex_digits() -> None:
    pk = KeyPair.generate().public
    text = fingerprint(pk)
    assert re.fullmatch(r"([0-9a-f]{4} ){7}[0-9a-f]{4}", text)
    assert text.replace(" ", "") == hashlib.blake2b(pk, digest_size=16).hexdigest()


def test_fingerprint_known_answer() -> None:
    assert fingerprint(bytes(32)) == " ".join(
        hashlib.blake2b(bytes(32), digest_size=16).hexdigest()[i : i + 4] for i in range(0, 32, 4)
    )


def test_fingerprints_tell_keys_apart() -> None:
    keys = [KeyPair.generate().public for _ in range(50)]
    assert len({fingerprint(pk) for pk in keys}) == 50
    pk = keys[0]
    assert fingerprint(pk) != fingerprint(bytes([pk[0] ^ 1]) + pk[1:])


# --- relay frames ---------------------------------------------------------------------------

ROOM = "card:ckv9x2m3p0000abcd"


def test_relay_frame_round_trip_and_layout() -> None:
    key = BoardKey.generate()
    frame = seal_relay_frame(key, ROOM, b"\x00\x00\x01\x00")
    assert len(frame) == 24 + 4 + 16
    assert open_relay_frame(key, ROOM, frame) == b"\x00\x00\x01\x00"
    assert seal_relay_frame(key, ROOM, b"x")[:24] != seal_relay_frame(key, ROOM, b"x")[:24]


def test_relay_frame_is_bound_to_its_room_and_key() -> None:
    key = BoardKey.generate()
    frame = seal_relay_frame(key, ROOM, b"update")
    for room in ("card:ckv9x2m3p0000abce", "board:ckv9x2m3p0000abcd", "card:ckv9x2m3p0000abcd ", ""):
        with pytest.raises(ProtocolError, match="does not authenticate"):
            open_relay_frame(key, room, frame)
    with pytest.raises(ProtocolError, match="does not authenticate"):
        open_relay_frame(BoardKey.generate(), ROOM, frame)


def test_every_bit_of_a_relay_frame_is_authenticated() -> None:
    key = BoardKey.generate()
    frame = seal_relay_frame(key, ROOM, b"0123456789")
    for index in range(len(frame) * 8):
        altered = bytearray(frame)
        altered[index // 8] ^= 1 << (index % 8)
        with pytest.raises(ProtocolError):
            open_relay_frame(key, ROOM, bytes(altered))


@pytest.mark.parametrize("size", [0, 1, 39])
def test_short_relay_frames_are_refused(size: int) -> None:
    with pytest.raises(ProtocolError, match="too short"):
        open_relay_frame(BoardKey.generate(), ROOM, bytes(size))


def test_over_size_relay_frames_are_refused_before_decrypting(monkeypatch: pytest.MonkeyPatch) -> None:
    key = BoardKey.generate()
    at_limit = seal_relay_frame(key, ROOM, bytes(RELAY_MAX_FRAME - 40))
    assert len(at_limit) == RELAY_MAX_FRAME
    assert open_relay_frame(key, ROOM, at_limit) == bytes(RELAY_MAX_FRAME - 40)

    def must_not_run(*args: object) -> bytes:
        raise AssertionError("decryption reached")

    monkeypatch.setattr(_misc._sodium, "crypto_aead_xchacha20poly1305_ietf_decrypt", must_not_run)
    with pytest.raises(ProtocolError, match="over 1 MiB"):
        open_relay_frame(key, ROOM, at_limit + b"\x00")


# --- webhook signatures ---------------------------------------------------------------------

SECRET = "whsec_3f9a1c0e5b7d2468"
BODY = b'{"verb":"CARD_CREATED","boardId":"cl0b0ard00001xyz"}'
T = 1764061200


def mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_signature_format() -> None:
    assert sign_webhook(SECRET, T, BODY) == f"t={T},v1={mac(SECRET, T, BODY)}"


def test_a_fresh_signature_verifies_and_returns_t() -> None:
    header = sign_webhook(SECRET, T, BODY)
    assert verify_webhook_signature(SECRET, header, BODY, now=T) == T
    assert verify_webhook_signature(SECRET, header, BODY, now=T + WEBHOOK_TOLERANCE_SECONDS) == T
    assert verify_webhook_signature(SECRET, header, BODY, now=T - WEBHOOK_TOLERANCE_SECONDS) == T


def test_every_changed_byte_of_the_body_is_refused() -> None:
    header = sign_webhook(SECRET, T, BODY)
    for index in range(len(BODY)):
        altered = bytearray(BODY)
        altered[index] ^= 0x01
        with pytest.raises(WebhookSignatureError, match="does not match"):
            verify_webhook_signature(SECRET, header, bytes(altered), now=T)
    for body in (BODY + b" ", BODY[:-1], b""):
        with pytest.raises(WebhookSignatureError, match="does not match"):
            verify_webhook_signature(SECRET, header, body, now=T)


def test_wrong_secret_is_refused() -> None:
    header = sign_webhook(SECRET, T, BODY)
    for secret in (SECRET + "x", SECRET[:-1], SECRET.upper(), ""):
        with pytest.raises(WebhookSignatureError, match="does not match"):
            verify_webhook_signature(secret, header, BODY, now=T)


def test_a_changed_timestamp_is_refused() -> None:
    """t is signed: moving it (to dodge the staleness check) breaks the MAC."""
    header = sign_webhook(SECRET, T, BODY).replace(f"t={T}", f"t={T + 1}")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_webhook_signature(SECRET, header, BODY, now=T)


@pytest.mark.parametrize("skew", [WEBHOOK_TOLERANCE_SECONDS + 1, 3600, -(WEBHOOK_TOLERANCE_SECONDS + 1), -86400])
def test_stale_or_future_timestamps_are_refused(skew: int) -> None:
    header = sign_webhook(SECRET, T, BODY)
    with pytest.raises(WebhookSignatureError, match="300 s"):
        verify_webhook_signature(SECRET, header, BODY, now=T + skew)


def test_several_v1_values_while_a_secret_rotates() -> None:
    old, new = "whsec_old", "whsec_new"
    header = f"t={T},v1={mac(old, T, BODY)},v1={mac(new, T, BODY)}"
    assert verify_webhook_signature(old, header, BODY, now=T) == T
    assert verify_webhook_signature(new, header, BODY, now=T) == T
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_webhook_signature("whsec_other", header, BODY, now=T)
    spaced = f"t={T}, v1={'0' * 64}, v1={mac(new, T, BODY)}"
    assert verify_webhook_signature(new, spaced, BODY, now=T) == T


def test_every_candidate_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_misc.hmac, "compare_digest", spy)
    header = f"t={T},v1={mac(SECRET, T, BODY)},v1={'f' * 64}"
    verify_webhook_signature(SECRET, header, BODY, now=T)
    assert len(compared) == 2  # no early exit after the first match


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1764061200",
        f"v1={'0' * 64}",
        f"t=abc,v1={'0' * 64}",
        f"t=-5,v1={'0' * 64}",
        f"t=1,t=2,v1={'0' * 64}",
        f"t=\u00b2,v1={'0' * 64}",  # a digit to str.isdigit, not to int()
        f"t=\u0661\u0667\u0666\u0664\u0660\u0666\u0661\u0662\u0660\u0660,v1={'0' * 64}",  # Arabic-Indic digits
        f"t=1764061200,v1{'0' * 64}",
        "garbage",
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_webhook_signature(SECRET, header, BODY, now=T)


def test_unknown_schemes_alone_are_not_enough() -> None:
    header = f"t={T},v0={mac(SECRET, T, BODY)}"
    with pytest.raises(WebhookSignatureError, match="lacks t or v1"):
        verify_webhook_signature(SECRET, header, BODY, now=T)


def test_webhook_signature_error_is_a_protocol_error() -> None:
    assert issubclass(WebhookSignatureError, ProtocolError)


def test_the_aead_calls_match_pynacls_binding_and_refuse_what_it_refuses() -> None:
    key, nonce, ad = bytes(range(32)), bytes(range(24)), b"comment:encBody"
    for message in (b"", b"a comment \xf0\x9f\x91\x8d", bytes(70_000)):
        sealed = _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, nonce, key)
        assert sealed == nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, nonce, key)
        assert _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, ad, nonce, key) == message
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for ciphertext, extra in ((tampered, ad), (sealed, b"card:encTitle"), (sealed[:15], ad)):
        with pytest.raises(_sodium.SodiumFailure):
            _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, extra, nonce, key)
    with pytest.raises(TypeError):
        _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(b"x", ad, nonce[:23], key)
    with pytest.raises(TypeError):
        _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, ad, nonce, key[:31])


def test_seal_field_is_the_wire_text_of_encrypt_field() -> None:
    """The bulk path's wire text opens like `encrypt_field`'s, under a fresh nonce each time,
    and refuses the key type its field does not take."""
    spec = field("comment", "encBody")
    key = BoardKey.generate()
    texts = {seal_field(key, b"a comment", spec) for _ in range(3)}
    assert len(texts) == 3  # a fresh nonce each time
    for text in texts:
        assert Envelope.parse(text, Where.of(spec)).nonce != bytes(24)
        assert decrypt_field(key, text, spec) == b"a comment"
    with pytest.raises(TypeError, match="needs a BoardKey"):
        seal_field(WorkspaceKey(key.raw), b"a comment", spec)
