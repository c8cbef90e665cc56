"""Login-init checks (docs/protocol.md#kdf-bounds: downgrade refusal and caps), normalisation, key derivation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mskclient._errors import KdfParametersError, UsageError
from mskclient._profile import KDF_CAPS, KDF_DEFAULT, KDF_MINIMUM, KdfParams
from mskclient.crypto import (
    b64u_encode,
    check_login_init,
    derivation_cost,
    derivation_seconds,
    derive_login_keys,
    normalize_email,
    normalize_password,
)

SALT = bytes(range(16))
#: Cheap parameters for tests about inputs, not cost (derive_login_keys takes any KdfParams).
CHEAP = KdfParams(memory_kib=1024, iterations=1, parallelism=1)


def answer(**kdf: object) -> dict[str, Any]:
    base: dict[str, Any] = {"salt": b64u_encode(SALT), "kdf": KDF_DEFAULT.to_json()}
    base["kdf"].update(kdf)
    return base


def test_profile_defaults_are_accepted() -> None:
    salt, params = check_login_init(answer())
    assert salt == SALT
    assert params == KDF_DEFAULT


def test_the_caps_are_bitwardens() -> None:
    assert (KDF_CAPS.memory_kib, KDF_CAPS.iterations, KDF_CAPS.parallelism) == (1024 * 1024, 10, 16)


@pytest.mark.parametrize(("name", "value"), [("iterations", 64), ("parallelism", 64)])
def test_a_server_weaponising_the_cost_is_refused(name: str, value: int) -> None:
    """m = 1 GiB with t = 64 or p = 64 (once accepted: a login of about a minute and 1 GB)."""
    with pytest.raises(KdfParametersError, match=f"{name}={value} is above the client's cap"):
        check_login_init(answer(memoryKiB=KDF_CAPS.memory_kib, **{name: value}))


def test_the_cost_estimate_scales_with_memory_and_passes_only() -> None:
    assert derivation_cost(KDF_DEFAULT) == 1
    assert derivation_cost(KdfParams(memory_kib=131072, iterations=6, parallelism=16)) == 4
    assert derivation_seconds(KDF_CAPS) == pytest.approx(derivation_seconds(KDF_DEFAULT) * 1024 * 10 / (64 * 3))


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("memoryKiB", KDF_MINIMUM.memory_kib - 1, "below the profile minimum"),
        ("memoryKiB", 4096, "below the profile minimum"),
        ("iterations", KDF_MINIMUM.iterations - 1, "below the profile minimum"),
        ("iterations", 1, "below the profile minimum"),
        ("parallelism", 0, "below the profile minimum"),
        ("memoryKiB", KDF_CAPS.memory_kib + 1, "above the client's cap"),
        ("iterations", KDF_CAPS.iterations + 1, "above the client's cap"),
        ("parallelism", KDF_CAPS.parallelism + 1, "above the client's cap"),
        ("algorithm", "argon2i", "refusing argon2i"),
        ("algorithm", "argon2d", "refusing argon2d"),
        ("algorithm", "scrypt", "refusing scrypt"),
        ("version", 16, "version 16"),
        ("version", 20, "version 20"),
    ],
)
def test_downgrade_and_absurd_costs_are_refused(name: str, value: object, words: str) -> None:
    with pytest.raises(KdfParametersError, match=words):
        check_login_init(answer(**{name: value}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("memoryKiB", KDF_CAPS.memory_kib),
        ("iterations", KDF_CAPS.iterations),
        ("parallelism", KDF_CAPS.parallelism),
        ("memoryKiB", 98304),
        ("iterations", 4),
        ("parallelism", 1),
    ],
)
def test_stronger_values_up_to_the_cap_are_used_as_given(name: str, value: int) -> None:
    _, params = check_login_init(answer(**{name: value}))
    assert params.to_json()[name] == value


@pytest.mark.parametrize("salt_bytes", [0, 8, 15, 17, 32])
def test_salt_must_be_16_bytes(salt_bytes: int) -> None:
    bad = answer()
    bad["salt"] = b64u_encode(bytes(salt_bytes))
    with pytest.raises(KdfParametersError, match="salt must be 16 bytes"):
        check_login_init(bad)


@pytest.mark.parametrize("salt", [None, 16, "not base64!", "AAECAwQFBgcICQoLDA0ODw==="])
def test_salt_must_be_base64url_text(salt: object) -> None:
    bad = answer()
    bad["salt"] = salt
    with pytest.raises(KdfParametersError, match="salt"):
        check_login_init(bad)


@pytest.mark.parametrize("name", ["memoryKiB", "iterations", "parallelism", "version"])
@pytest.mark.parametrize("value", ["65536", 65536.0, None, True, [3]])
def test_cost_fields_must_be_json_integers(name: str, value: object) -> None:
    with pytest.raises(KdfParametersError, match=f"{name}: not an integer"):
        check_login_init(answer(**{name: value}))


@pytest.mark.parametrize("name", ["memoryKiB", "iterations", "parallelism", "version", "algorithm"])
def test_missing_kdf_fields_are_refused(name: str) -> None:
    bad = answer()
    del bad["kdf"][name]
    with pytest.raises(KdfParametersError):
        check_login_init(bad)


@pytest.mark.parametrize("shape", [None, [], "argon2id", {"salt": b64u_encode(SALT)}, {"kdf": {}}, {"kdf": []}])
def test_malformed_answers_are_refused(shape: object) -> None:
    with pytest.raises(KdfParametersError):
        check_login_init(shape)


def test_check_does_not_modify_the_answer() -> None:
    given = answer(iterations=5)
    kept = copy.deepcopy(given)
    check_login_init(given)
    assert given == kept


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("  Alice@Example.COM \n", "alice@example.com"),
        ("bob@example.com", "bob@example.com"),
        ("\tCAROL+kanban@EXAMPLE.org", "carol+kanban@example.org"),
    ],
)
def test_email_is_trimmed_and_lower_cased(typed: str, normal: str) -> None:
    assert normalize_email(typed) == normal


@pytest.mark.parametrize(
    ("composed", "decomposed"),
    [
        ("\u00e9", "e\u0301"),
        ("caf\u00e9 cr\u00e8me", "cafe\u0301 cre\u0300me"),
        ("\u03a9", "\u2126"),  # OHM SIGN is a singleton decomposition of GREEK CAPITAL OMEGA
        ("\u00c5", "\u212b"),  # ANGSTROM SIGN
        ("\uac00", "\u1100\u1161"),  # Hangul jamo compose
    ],
)
def test_password_is_nfc_normalised_before_hashing(composed: str, decomposed: str) -> None:
    assert normalize_password(decomposed) == normalize_password(composed) == composed.encode("utf-8")
    assert derive_login_keys(decomposed, SALT, CHEAP) == derive_login_keys(composed, SALT, CHEAP)


def test_password_is_not_otherwise_folded() -> None:
    """NFC only: case, width and compatibility forms stay distinct (NFKC would merge them)."""
    assert normalize_password("Password") != normalize_password("password")
    assert normalize_password("\uff21") == "\uff21".encode()  # FULLWIDTH A is not folded to A
    assert normalize_password("\ufb01") == "\ufb01".encode()  # the fi ligature is kept


def test_every_input_changes_both_subkeys() -> None:
    base = derive_login_keys("pw", SALT, CHEAP)
    variants = [
        derive_login_keys("pw2", SALT, CHEAP),
        derive_login_keys("pw", bytes(16), CHEAP),
        derive_login_keys("pw", SALT, KdfParams(memory_kib=2048, iterations=1, parallelism=1)),
        derive_login_keys("pw", SALT, KdfParams(memory_kib=1024, iterations=2, parallelism=1)),
        derive_login_keys("pw", SALT, KdfParams(memory_kib=1024, iterations=1, parallelism=2)),
    ]
    for other in variants:
        assert other.auth_hash != base.auth_hash
        assert other.master_key != base.master_key


def test_auth_hash_and_master_key_are_independent_subkeys() -> None:
    keys = derive_login_keys("pw", SALT, CHEAP)
    assert keys.auth_hash != b64u_encode(keys.master_key.raw)
    assert len(keys.master_key.raw) == 32
    assert len(keys.auth_hash) == 43  # 32 bytes, base64url without padding


def test_login_keys_repr_shows_neither_secret() -> None:
    keys = derive_login_keys("hunter2", SALT, CHEAP)
    text = repr(keys)
    assert keys.auth_hash not in text
    assert keys.master_key.raw.hex() not in text
    assert b64u_encode(keys.master_key.raw) not in text


@pytest.mark.parametrize("password", ["pa\udcffss", "\ud800", "ok\udfff"])
def test_a_password_with_lone_surrogates_is_a_usage_error_that_does_not_echo_it(password: str) -> None:
    """getpass on a non-UTF-8 terminal can yield surrogate escapes: no UnicodeEncodeError, no echo."""
    with pytest.raises(UsageError, match="not valid Unicode text") as caught:
        derive_login_keys(password, SALT, CHEAP)
    assert password not in str(caught.value)
    assert caught.value.__cause__ is None
