"""Every case of every vectors/*.json file, checked through mskclient.crypto.

Deterministic constructions are re-created byte-for-byte; sealed boxes and
secretstream (random ephemeral key / header) are opened with the stored keys.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pycrdt
import pytest
from _vectors import KEY_TYPES, VECTORS, each_case, load_file
from argon2.low_level import Type, core, ffi, lib

from mskclient import _profile
from mskclient._profile import FIELDS, FieldSpec, KdfParams, KeyRole
from mskclient.crypto import (
    BoardKey,
    Envelope,
    FileKey,
    KeyPair,
    MasterKey,
    RecoveryKey,
    SealedEnvelope,
    StreamDecryptor,
    Where,
    WorkspaceKey,
    b64u_decode,
    b64u_encode,
    check_login_init,
    ciphertext_size,
    decrypt_field,
    decrypt_file,
    derive_login_keys,
    encrypt_field,
    fingerprint,
    format_recovery_key,
    open_relay_frame,
    open_workspace_key,
    parse_recovery_key,
    seal_relay_frame,
    sign_webhook,
    verify_webhook_signature,
)
from mskclient.crypto.hazmat import encrypt_with_ad, open_sealed

SPEC_BY_AD = {spec.ad.decode("ascii"): spec for spec in FIELDS.values()}
CHECKED_FILES = {
    "kdf.json",
    "envelope.json",
    "sealed.json",
    "secretstream.json",
    "relay-frame.json",
    "webhook-signature.json",
    "argon2id-rfc9106.json",
    "xchacha20poly1305-draft03.json",
    "recovery-key.json",
    "fingerprint.json",
}


def test_every_vector_file_is_checked_here() -> None:
    assert {path.name for path in VECTORS.glob("*.json")} == CHECKED_FILES
    for name in CHECKED_FILES:
        data = load_file(name)
        assert set(data) == {"description", "cases"}
        assert data["description"] and data["cases"]


RANDOMISED = {"sealed.json": "envelope", "secretstream.json": "ciphertext"}


@pytest.mark.slow
def test_the_script_reproduces_the_committed_vectors(tmp_path: Path) -> None:
    """Re-running scripts/make_vectors.py gives the same files, except the RNG-drawn fields."""
    script = VECTORS.parent / "scripts" / "make_vectors.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True, timeout=120)
    assert {path.name for path in tmp_path.iterdir()} == CHECKED_FILES
    for name in CHECKED_FILES - RANDOMISED.keys():
        assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), name
    for name, drawn in RANDOMISED.items():
        fresh = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        committed = load_file(name)
        assert fresh["description"] == committed["description"]
        assert len(fresh["cases"]) == len(committed["cases"])
        for new, old in zip(fresh["cases"], committed["cases"], strict=True):
            assert new[drawn] != old[drawn]
            assert {k: v for k, v in new.items() if k != drawn} == {k: v for k, v in old.items() if k != drawn}


def test_ad_is_unique_per_field_so_each_envelope_case_names_its_row() -> None:
    assert len(SPEC_BY_AD) == len(FIELDS)


@pytest.mark.slow
@each_case("kdf.json")
def test_kdf(case: dict[str, Any]) -> None:
    answer = {
        "salt": case["salt"],
        "kdf": {
            "algorithm": "argon2id",
            "version": 19,
            "memoryKiB": case["memoryKiB"],
            "iterations": case["iterations"],
            "parallelism": case["parallelism"],
        },
    }
    salt, params = check_login_init(answer)
    assert params == KdfParams(case["memoryKiB"], case["iterations"], case["parallelism"])
    keys = derive_login_keys(case["password"], salt, params)
    assert keys.auth_hash == case["authHash"]
    assert keys.master_key == MasterKey(b64u_decode(case["masterKey"]))


@each_case("envelope.json")
def test_envelope(case: dict[str, Any]) -> None:
    spec = SPEC_BY_AD[case["ad"]]
    key = KEY_TYPES[spec.key](b64u_decode(case["key"]))
    plaintext, nonce = b64u_decode(case["plaintext"]), b64u_decode(case["nonce"])
    assert decrypt_field(key, case["envelope"], spec, entity_id="cvector0001") == plaintext
    assert str(encrypt_field(key, plaintext, spec, nonce=nonce)) == case["envelope"]
    parsed = Envelope.parse(case["envelope"], Where.of(spec))
    assert parsed.nonce == nonce
    assert str(parsed) == case["envelope"]
    if spec == _profile.field("card", "encDescription"):  # a Yjs update with a Y.Text "description"
        doc = pycrdt.Doc()
        doc.apply_update(plaintext)
        assert str(doc.get("description", type=pycrdt.Text)).startswith("# Release plan")


@each_case("sealed.json")
def test_sealed(case: dict[str, Any]) -> None:
    keypair = KeyPair(b64u_decode(case["recipientPublicKey"]), b64u_decode(case["recipientSecretKey"]))
    plaintext = b64u_decode(case["plaintext"])
    where = Where("membership", "encWorkspaceKey", "cworkspace01")
    assert open_sealed(case["envelope"], keypair, where) == plaintext
    assert str(SealedEnvelope.parse(case["envelope"], where)) == case["envelope"]
    if len(plaintext) == 32:
        assert open_workspace_key(case["envelope"], keypair, "cworkspace01") == WorkspaceKey(plaintext)


@each_case("secretstream.json")
def test_secretstream(case: dict[str, Any]) -> None:
    key, chunk = FileKey(b64u_decode(case["key"])), case["chunkSize"]
    plaintext, ciphertext = b64u_decode(case["plaintext"]), b64u_decode(case["ciphertext"])
    assert chunk == _profile.ATTACHMENT_CHUNK_SIZE
    assert len(ciphertext) == ciphertext_size(len(plaintext))
    sink = io.BytesIO()
    assert decrypt_file(key, io.BytesIO(ciphertext), sink, attachment_id="cattach0001") == len(plaintext)
    assert sink.getvalue() == plaintext
    # Chunk by chunk: every chunk but the last is a full TAG_MESSAGE chunk, the last is TAG_FINAL.
    decryptor = StreamDecryptor(key, ciphertext[:24])
    body = ciphertext[24:]
    pieces = [body[i : i + chunk + 17] for i in range(0, len(body), chunk + 17)]
    for index, piece in enumerate(pieces):
        assert len(decryptor.pull(piece)) == (chunk if index < len(pieces) - 1 else len(plaintext) % chunk)
        assert decryptor.finished == (index == len(pieces) - 1)


@each_case("relay-frame.json")
def test_relay_frame(case: dict[str, Any]) -> None:
    key = BoardKey(b64u_decode(case["key"]))
    message, frame = b64u_decode(case["message"]), b64u_decode(case["frame"])
    assert open_relay_frame(key, case["room"], frame) == message
    assert seal_relay_frame(key, case["room"], message, nonce=b64u_decode(case["nonce"])) == frame


@each_case("webhook-signature.json")
def test_webhook_signature(case: dict[str, Any]) -> None:
    body = b64u_decode(case["body"])
    assert sign_webhook(case["secret"], case["t"], body) == case["header"]
    assert verify_webhook_signature(case["secret"], case["header"], body, now=case["t"]) == case["t"]


def _argon2id_keyed(case: dict[str, Any]) -> bytes:
    """libargon2's argon2_ctx with secret value and associated data (argon2-cffi's low level)."""
    inputs = [b64u_decode(case[name]) for name in ("passwordBytes", "salt", "secretValue", "associatedData")]
    buffers = [ffi.new("uint8_t[]", value) for value in inputs]
    length = len(b64u_decode(case["tag"]))
    out = ffi.new("uint8_t[]", length)
    ctx = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": length,
            "pwd": buffers[0],
            "pwdlen": len(inputs[0]),
            "salt": buffers[1],
            "saltlen": len(inputs[1]),
            "secret": buffers[2],
            "secretlen": len(inputs[2]),
            "ad": buffers[3],
            "adlen": len(inputs[3]),
            "t_cost": case["iterations"],
            "m_cost": case["memoryKiB"],
            "lanes": case["parallelism"],
            "threads": case["parallelism"],
            "version": case["version"],
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    assert core(ctx, Type.ID.value) == lib.ARGON2_OK
    return bytes(ffi.buffer(out, length))


@each_case("argon2id-rfc9106.json")
def test_argon2id_rfc9106(case: dict[str, Any]) -> None:
    assert b64u_encode(_argon2id_keyed(case)) == case["tag"]
    assert case["version"] == _profile.ARGON2_VERSION


@each_case("xchacha20poly1305-draft03.json")
def test_xchacha20poly1305_draft(case: dict[str, Any]) -> None:
    key = BoardKey(b64u_decode(case["key"]))
    nonce, ad = b64u_decode(case["nonce"]), b64u_decode(case["associatedData"])
    plaintext = b64u_decode(case["plaintext"])
    envelope = encrypt_with_ad(key, plaintext, ad, nonce=nonce)
    assert envelope.body == b64u_decode(case["ciphertext"]) + b64u_decode(case["tag"])
    assert str(envelope) == case["envelope"]
    spec = FieldSpec("vector", "draft", KeyRole.BOARD, ad)
    assert decrypt_field(key, case["envelope"], spec) == plaintext


@each_case("recovery-key.json")
def test_recovery_key_text(case: dict[str, Any]) -> None:
    key = RecoveryKey(b64u_decode(case["key"]))
    assert format_recovery_key(key) == case["text"]
    assert parse_recovery_key(case["text"]) == key
    assert parse_recovery_key(case["text"].lower().replace("-", " ")) == key


@each_case("fingerprint.json")
def test_fingerprint(case: dict[str, Any]) -> None:
    assert fingerprint(b64u_decode(case["publicKey"])) == case["fingerprint"]
