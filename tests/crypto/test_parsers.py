"""The other parsers of untrusted input: base64url, login-init, relay frames, webhook headers.

Each either succeeds or raises its own error (ValueError for b64u_decode, the
one exception tree for the rest); nothing foreign escapes.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mskclient._errors import KdfParametersError, ProtocolError
from mskclient._profile import KDF_CAPS, KDF_MINIMUM
from mskclient.crypto import (
    BoardKey,
    WebhookSignatureError,
    b64u_decode,
    b64u_encode,
    check_login_init,
    open_relay_frame,
    seal_relay_frame,
    verify_webhook_signature,
)

SOME = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- base64url (docs/protocol.md#encodings) ----------------------------------------------


@SOME
@given(st.binary(max_size=100))
def test_b64u_round_trip_without_padding(data: bytes) -> None:
    text = b64u_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64u_decode(text) == data
    assert b64u_decode(base64.urlsafe_b64encode(data).decode()) == data  # padded input is accepted


@pytest.mark.parametrize("text", ["AB", "AAB", "AAAAAB", "_x", "AAAAAAB", "AAAAAAB="])
def test_b64u_refuses_non_canonical_last_symbols(text: str) -> None:
    """Unused low bits set: libsodium refuses these, and one byte string must have one spelling."""
    with pytest.raises(ValueError, match="non-canonical"):
        b64u_decode(text)


@pytest.mark.parametrize(
    "text", ["A", "AAAAA", "AA=", "AA===", "A===", "AAAA=", "AA+/", "AA/A", "AA A", "AA\n", "\u00c4A"]
)
def test_b64u_refuses_other_characters_lengths_and_padding(text: str) -> None:
    with pytest.raises(ValueError):
        b64u_decode(text)


@SOME
@given(st.text(max_size=40))
def test_b64u_decodes_or_raises_value_error(text: str) -> None:
    try:
        data = b64u_decode(text)
    except ValueError:
        return
    assert b64u_encode(data) == text.rstrip("=")


# --- login-init ---------------------------------------------------------------------------

json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=20)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
kdf_value = st.one_of(json_value, st.integers(0, 2 * KDF_CAPS.memory_kib))
login_init = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {
            "salt": st.one_of(json_value, st.binary(min_size=14, max_size=18).map(b64u_encode)),
            "kdf": st.one_of(
                json_value,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "algorithm": st.sampled_from(["argon2id", "argon2i", "ARGON2ID", ""]) | json_value,
                        "memoryKiB": kdf_value,
                        "iterations": kdf_value,
                        "parallelism": kdf_value,
                        "version": st.sampled_from([19, 16]) | json_value,
                    },
                ),
            ),
        }
    ),
)


@SOME
@given(login_init)
def test_login_init_answers_are_accepted_in_range_or_refused(answer: object) -> None:
    try:
        salt, params = check_login_init(answer)
    except KdfParametersError:
        return
    assert len(salt) == 16
    assert params.algorithm == "argon2id" and params.version == 19
    for name in ("memory_kib", "iterations", "parallelism"):
        assert getattr(KDF_MINIMUM, name) <= getattr(params, name) <= getattr(KDF_CAPS, name)


# --- relay frames -------------------------------------------------------------------------

RELAY_KEY = BoardKey(bytes(range(32)))


@SOME
@given(st.binary(max_size=200), st.text(max_size=30))
def test_random_relay_frames_raise_only_protocol_errors(frame: bytes, room: str) -> None:
    with pytest.raises(ProtocolError):
        open_relay_frame(RELAY_KEY, room, frame)


@SOME
@given(st.binary(max_size=100), st.text(max_size=30))
def test_relay_frames_round_trip_for_any_room_text(message: bytes, room: str) -> None:
    assert open_relay_frame(RELAY_KEY, room, seal_relay_frame(RELAY_KEY, room, message)) == message


# --- webhook headers ----------------------------------------------------------------------

header_text = st.one_of(
    st.text(max_size=120),
    st.builds(
        lambda t, v: f"t={t},v1={v}",
        st.text(alphabet="0123456789\u00b2\u0661-+ ", max_size=12),
        st.text(alphabet="0123456789abcdef", max_size=70),
    ),
    st.lists(st.sampled_from(["t=1", "v1=00", "t=", "v1=", "=", "", " ", "x=y", "t=1=2"]), max_size=6).map(",".join),
)


@SOME
@given(header_text, st.binary(max_size=50))
def test_random_webhook_headers_raise_only_signature_errors(header: str, body: bytes) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_webhook_signature("whsec_x", header, body, now=1)
