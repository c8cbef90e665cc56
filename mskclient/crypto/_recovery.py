"""Recovery key text (docs/protocol.md#recovery-key): Crockford base32, check symbol, groups of 4."""

from __future__ import annotations

from .._errors import RecoveryKeyError
from ._keys import RecoveryKey

__all__ = ["format_recovery_key", "parse_recovery_key"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CHECK_ALPHABET = _ALPHABET + "*~$=U"
_KEY_BITS = 256
_SYMBOLS = 52  # ceil(256 / 5); the last symbol carries 1 bit, zero-padded
_PAD_BITS = _SYMBOLS * 5 - _KEY_BITS
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def format_recovery_key(key: RecoveryKey) -> str:
    value = int.from_bytes(key.raw, "big")
    padded = value << _PAD_BITS
    symbols = [_ALPHABET[(padded >> (5 * (_SYMBOLS - 1 - i))) & 31] for i in range(_SYMBOLS)]
    symbols.append(_CHECK_ALPHABET[value % 37])
    text = "".join(symbols)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> RecoveryKey:
    """Read a typed recovery key; RecoveryKeyError for a wrong symbol, length or check."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_ALIASES)
    if len(cleaned) != _SYMBOLS + 1:
        raise RecoveryKeyError(f"a recovery key has {_SYMBOLS + 1} symbols, this one has {len(cleaned)}")
    padded = 0
    for position, symbol in enumerate(cleaned[:_SYMBOLS], start=1):
        digit = _ALPHABET.find(symbol)
        if digit < 0:
            raise RecoveryKeyError(f"symbol {position} ({symbol!r}) is not Crockford base32")
        padded = (padded << 5) | digit
    if padded & ((1 << _PAD_BITS) - 1):
        raise RecoveryKeyError("the recovery key's last symbol is impossible (mistyped)")
    value = padded >> _PAD_BITS
    check = _CHECK_ALPHABET.find(cleaned[-1])
    if check < 0 or check != value % 37:
        raise RecoveryKeyError("the recovery key's check symbol does not match (mistyped)")
    return RecoveryKey(value.to_bytes(32, "big"))
