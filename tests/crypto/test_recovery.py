"""Recovery key text (docs/protocol.md#recovery-key): Crockford base32 + check symbol, groups of 4, typos caught."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mskclient._errors import RecoveryKeyError
from mskclient.crypto import RecoveryKey, format_recovery_key, parse_recovery_key

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
KEY = RecoveryKey(bytes.fromhex("8f3a1c0e5b7d2468ace13579bdf02468fedcba9876543210a5a5a5a55a5a5a5a"))
TEXT = format_recovery_key(KEY)
SYMBOLS = TEXT.replace("-", "")


def test_shape_52_symbols_and_a_check_in_groups_of_four() -> None:
    assert len(SYMBOLS) == 53
    assert re.fullmatch(r"([0-9A-Z*~$=]{4}-){13}[0-9A-Z*~$=]", TEXT)
    assert all(symbol in ALPHABET for symbol in SYMBOLS[:52])
    assert SYMBOLS[52] in CHECK_ALPHABET


def test_known_answer() -> None:
    """Most significant bit first, last data symbol zero-padded, check = key mod 37."""
    value = int.from_bytes(KEY.raw, "big")
    bits = bin(value)[2:].zfill(256) + "0000"
    expected = "".join(ALPHABET[int(bits[i : i + 5], 2)] for i in range(0, 260, 5)) + CHECK_ALPHABET[value % 37]
    assert expected == SYMBOLS


@pytest.mark.parametrize("raw", [bytes(32), b"\xff" * 32, bytes(31) + b"\x01", b"\x80" + bytes(31)])
def test_round_trip_of_edge_keys(raw: bytes) -> None:
    assert parse_recovery_key(format_recovery_key(RecoveryKey(raw))) == RecoveryKey(raw)


@settings(max_examples=200)
@given(st.binary(min_size=32, max_size=32))
def test_round_trip(raw: bytes) -> None:
    assert parse_recovery_key(format_recovery_key(RecoveryKey(raw))).raw == raw


@pytest.mark.parametrize(
    "typed",
    [
        TEXT.lower(),
        TEXT.replace("-", ""),
        TEXT.replace("-", " "),
        "  " + TEXT.replace("-", " - ") + "\n",
        "\t".join(TEXT.split("-")),
        TEXT.swapcase(),
    ],
)
def test_case_hyphens_and_spaces_do_not_matter(typed: str) -> None:
    assert parse_recovery_key(typed) == KEY


def test_i_l_o_are_read_as_1_1_0() -> None:
    raw = bytes.fromhex("0842108421084210842108421084210842108421084210842108421084210842")  # many 1 and 0 digits
    text = format_recovery_key(RecoveryKey(raw))
    assert "1" in text and "0" in text
    for ones, zero in [("I", "O"), ("L", "O"), ("i", "o"), ("l", "o")]:
        assert parse_recovery_key(text.replace("1", ones).replace("0", zero)).raw == raw


def _substitutions() -> list[tuple[int, str]]:
    cases = []
    for position, symbol in enumerate(SYMBOLS):
        alphabet = ALPHABET if position < 52 else CHECK_ALPHABET
        cases += [(position, other) for other in alphabet if other != symbol]
    return cases


def test_every_single_symbol_typo_is_caught() -> None:
    """Each of the 52 x 31 + 36 substitutions by another valid symbol raises before any network call."""
    substitutions = _substitutions()
    assert len(substitutions) == 52 * 31 + 36
    for position, other in substitutions:
        typo = SYMBOLS[:position] + other + SYMBOLS[position + 1 :]
        with pytest.raises(RecoveryKeyError, match="mistyped"):
            parse_recovery_key(typo)


def test_every_adjacent_transposition_is_caught() -> None:
    swaps = 0
    for position in range(52):
        a, b = SYMBOLS[position], SYMBOLS[position + 1]
        if a == b:
            continue
        swapped = SYMBOLS[:position] + b + a + SYMBOLS[position + 2 :]
        with pytest.raises(RecoveryKeyError):
            parse_recovery_key(swapped)
        swaps += 1
    assert swaps > 40


@pytest.mark.parametrize("length", [0, 1, 52, 54, 60])
def test_wrong_length_is_refused(length: int) -> None:
    text = (SYMBOLS * 2)[:length]
    with pytest.raises(RecoveryKeyError, match=f"has {length}"):
        parse_recovery_key(text)


@pytest.mark.parametrize(("position", "symbol"), [(0, "U"), (10, "*"), (51, "~"), (3, "!"), (20, "\u00e9")])
def test_symbols_outside_crockford_are_refused_with_their_position(position: int, symbol: str) -> None:
    text = SYMBOLS[:position] + symbol + SYMBOLS[position + 1 :]
    with pytest.raises(RecoveryKeyError, match=f"symbol {position + 1}"):
        parse_recovery_key(text)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_is_a_key_or_a_recovery_key_error(text: str) -> None:
    try:
        key = parse_recovery_key(text)
    except RecoveryKeyError:
        return
    assert format_recovery_key(key).replace("-", "") == "".join(text.split()).replace("-", "").upper().translate(
        str.maketrans("ILO", "110")
    )
