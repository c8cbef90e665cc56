"""Fresh material made during the run, opened by the other language, both ways.

Python makes envelopes, sealed keys, secretstream files, derived keys, a whole
account, relay frames and webhook signatures; the Node peer (libsodium.js,
hash-wasm, node:crypto) opens or recomputes them and must refuse the tampered
ones.  The peer makes the same kinds of material; mskclient opens it.  One node
run carries both directions.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _vectors import KEY_TYPES

from mskclient import _profile
from mskclient._errors import DecryptionError, EnvelopeError
from mskclient._profile import KDF_DEFAULT, FieldSpec, KeyRole
from mskclient.crypto import (
    BoardKey,
    Envelope,
    FileKey,
    KeyPair,
    RecoveryKey,
    WorkspaceKey,
    b64u_decode,
    b64u_encode,
    create_account,
    decrypt_field,
    decrypt_file,
    derive_login_keys,
    encrypt_field,
    encrypt_file,
    open_relay_frame,
    open_workspace_key,
    seal_relay_frame,
    seal_workspace_key,
    sign_webhook,
    unlock_account,
    unlock_with_recovery,
    verify_webhook_signature,
)
from mskclient.crypto.hazmat import seal_to

from ._node import run_node

CHUNK = _profile.ATTACHMENT_CHUNK_SIZE
PLAINTEXTS = [b"", "\u00fcber \U0001f41b \u4e2d\u6587 cafe\u0301".encode(), os.urandom(1000), os.urandom(32)]
SPECS = [
    _profile.field("card", "encTitle"),
    _profile.field("comment", "encBody"),
    _profile.field("board", "encBoardKey"),
    _profile.field("user", "encPrivateKey"),
]
STREAM_SIZES = [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK, 16 * CHUNK + 7]
PASSWORDS = ["correct horse battery staple", "cafe\u0301", "\U0001f510 \u30d1\u30b9\u30ef\u30fc\u30c9"]
ROOMS = ["card:ckv9x2m3p0000abcd", "board:cl0b0ard00001xyz"]
ACCOUNT_PASSWORD = "Pa\u00df w\u00f6rd \U0001f511"


@dataclass
class Exchange:
    """What Python sent, what it kept to compare, and what the peer answered."""

    request: dict[str, Any]
    expected: dict[str, Any]
    opened: dict[str, Any]
    made: dict[str, Any]


def _envelope_items() -> tuple[list[dict[str, str]], list[bytes | str]]:
    """Valid envelopes for each (field, plaintext), then three both sides must refuse (expected error)."""
    items: list[dict[str, str]] = []
    expected: list[bytes | str] = []
    for spec in SPECS:
        for plaintext in PLAINTEXTS:
            key = KEY_TYPES[spec.key].generate()
            envelope = str(encrypt_field(key, plaintext, spec))
            items.append({"key": b64u_encode(key.raw), "ad": spec.ad.decode(), "envelope": envelope})
            expected.append(plaintext)
    key = BoardKey.generate()
    title, body = _profile.field("card", "encTitle"), _profile.field("card", "encDescription")
    moved = str(encrypt_field(key, b"moved to another field", title))
    items.append({"key": b64u_encode(key.raw), "ad": body.ad.decode(), "envelope": moved})
    flipped = encrypt_field(key, b"one bit flipped", title)
    tampered = bytearray(flipped.body)
    tampered[3] ^= 0x10
    items.append(
        {
            "key": b64u_encode(key.raw),
            "ad": title.ad.decode(),
            "envelope": str(Envelope(flipped.head, bytes(tampered))),
        }
    )
    items.append({"key": b64u_encode(key.raw), "ad": title.ad.decode(), "envelope": _non_canonical(key, title)})
    expected += ["cannot be decrypted", "cannot be decrypted", "non-canonical"]
    return items, expected


def _non_canonical(key: BoardKey, spec: FieldSpec) -> str:
    """A valid envelope whose last base64url symbol has an unused low bit set (same bytes)."""
    envelope = str(encrypt_field(key, b"x", spec))  # 17-byte body: its last symbol carries 2 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(envelope[-1])
    return envelope[:-1] + alphabet[last | 1]


def _stream_items(tmp: Path) -> tuple[list[dict[str, str]], list[Path | None]]:
    items: list[dict[str, str]] = []
    expected: list[Path | None] = []
    for size in [*STREAM_SIZES, -1]:
        key = FileKey.generate()
        plain, cipher, out = tmp / f"py-{size}.plain", tmp / f"py-{size}.enc", tmp / f"py-{size}.out"
        plain.write_bytes(os.urandom(size if size >= 0 else 3 * CHUNK))
        with plain.open("rb") as src, cipher.open("wb") as dst:
            encrypt_file(key, src, dst)
        if size == -1:  # truncated: the final chunk is gone
            cipher.write_bytes(cipher.read_bytes()[: 24 + 3 * (CHUNK + 17)])
        items.append({"key": b64u_encode(key.raw), "path": str(cipher), "out": str(out)})
        expected.append(plain if size >= 0 else None)
    return items, expected


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Exchange:
    tmp = tmp_path_factory.mktemp("interop")
    envelopes, envelope_plaintexts = _envelope_items()
    streams, stream_plaintexts = _stream_items(tmp)

    account_salt = os.urandom(16)
    account_keys = derive_login_keys(ACCOUNT_PASSWORD, account_salt, KDF_DEFAULT)
    account = create_account(account_keys.master_key)
    member = KeyPair.generate()
    workspace_key = WorkspaceKey.generate()
    sealed_plaintexts = [workspace_key.raw, b"", "\U0001f511 \u9375".encode()]

    salts = [os.urandom(16) for _ in PASSWORDS]
    relay_key = BoardKey.generate()
    relay_messages = [(room, os.urandom(n)) for room in ROOMS for n in (0, 5000)]
    webhook_body = b'{"verb":"CARD_CREATED","note":"\xc3\xbc"}'

    request: dict[str, Any] = {
        "open": {
            "envelopes": envelopes,
            "sealed": [
                {
                    "publicKey": b64u_encode(member.public),
                    "secretKey": b64u_encode(member.secret),
                    "envelope": str(seal_to(plaintext, member.public)),
                }
                for plaintext in sealed_plaintexts
            ],
            "streams": streams,
            "kdf": [
                {"password": password, "salt": b64u_encode(salt), **KDF_DEFAULT.to_json()}
                for password, salt in zip(PASSWORDS, salts, strict=True)
            ],
            "accounts": [
                {
                    "password": ACCOUNT_PASSWORD,
                    "salt": b64u_encode(account_salt),
                    "user": dict(account.fields),
                    "recoveryKey": b64u_encode(account.recovery_key.raw),
                }
            ],
            "relay": [
                *(
                    {
                        "key": b64u_encode(relay_key.raw),
                        "room": room,
                        "frame": b64u_encode(seal_relay_frame(relay_key, room, m)),
                    }
                    for room, m in relay_messages
                ),
                {  # sealed for one room, offered in another: must not open
                    "key": b64u_encode(relay_key.raw),
                    "room": ROOMS[1],
                    "frame": b64u_encode(seal_relay_frame(relay_key, ROOMS[0], b"x")),
                },
            ],
            "webhooks": [
                {
                    "secret": "whsec_py",
                    "t": 1764061200,
                    "body": b64u_encode(webhook_body),
                    "header": sign_webhook("whsec_py", 1764061200, webhook_body),
                },
                {"secret": "s\u00e9cret", "t": 1, "body": "", "header": sign_webhook("s\u00e9cret", 1, b"")},
            ],
        },
        "make": {
            "envelopes": [
                {"ad": spec.ad.decode(), "plaintext": b64u_encode(plaintext)}
                for spec in SPECS
                for plaintext in PLAINTEXTS
            ],
            "sealed": [{"publicKey": b64u_encode(member.public), "plaintext": b64u_encode(workspace_key.raw)}],
            "streams": [
                {"size": size, "path": str(tmp / f"js-{size}.enc"), "plainPath": str(tmp / f"js-{size}.plain")}
                for size in STREAM_SIZES
            ],
            "kdf": [{"password": password} for password in PASSWORDS],
            "accounts": [{"password": ACCOUNT_PASSWORD}],
            "relay": [{"room": room, "message": b64u_encode(m)} for room, m in relay_messages],
            "webhooks": [{"secret": "whsec_js", "t": 1764061200, "body": b64u_encode(webhook_body)}],
        },
    }
    expected = {
        "envelopes": envelope_plaintexts,
        "sealed": sealed_plaintexts,
        "streams": stream_plaintexts,
        "kdf": [
            derive_login_keys(password, salt, KDF_DEFAULT) for password, salt in zip(PASSWORDS, salts, strict=True)
        ],
        "account": account,
        "member": member,
        "relay": [m for _, m in relay_messages],
        "webhook_body": webhook_body,
    }
    returncode, answer = run_node("peer.mjs", request)
    assert returncode == 0
    return Exchange(request, expected, answer["opened"], answer["made"])


# --- Python made it, JavaScript opens it ---------------------------------------------------


def test_js_opens_python_envelopes_and_refuses_tampered_ones(exchange: Exchange) -> None:
    opened = exchange.opened["envelopes"]
    assert len(opened) == len(exchange.expected["envelopes"])
    for result, plaintext in zip(opened, exchange.expected["envelopes"], strict=True):
        if isinstance(plaintext, str):
            assert plaintext in result["error"]
        else:
            assert b64u_decode(result["ok"]) == plaintext


def test_python_refuses_the_same_tampered_envelopes(exchange: Exchange) -> None:
    refused = 0
    for item, plaintext in zip(exchange.request["open"]["envelopes"], exchange.expected["envelopes"], strict=True):
        if isinstance(plaintext, str):
            spec = FieldSpec("card", "encTitle", KeyRole.BOARD, item["ad"].encode())
            error = EnvelopeError if plaintext == "non-canonical" else DecryptionError
            with pytest.raises(error):
                decrypt_field(BoardKey(b64u_decode(item["key"])), item["envelope"], spec)
            refused += 1
    assert refused == 3


def test_js_opens_python_sealed_keys(exchange: Exchange) -> None:
    opened = [b64u_decode(result["ok"]) for result in exchange.opened["sealed"]]
    assert opened == exchange.expected["sealed"]


def test_js_decrypts_python_secretstream_files(exchange: Exchange) -> None:
    results, plains = exchange.opened["streams"], exchange.expected["streams"]
    assert len(results) == len(plains)
    for result, item, plain in zip(results, exchange.request["open"]["streams"], plains, strict=True):
        if plain is None:
            assert "truncated" in result["error"]
        else:
            assert result["ok"] == plain.stat().st_size
            assert Path(item["out"]).read_bytes() == plain.read_bytes()


@pytest.mark.slow
def test_js_derives_the_same_auth_hash_and_master_key(exchange: Exchange) -> None:
    for result, keys in zip(exchange.opened["kdf"], exchange.expected["kdf"], strict=True):
        assert result["ok"]["authHash"] == keys.auth_hash
        assert b64u_decode(result["ok"]["masterKey"]) == keys.master_key.raw


@pytest.mark.slow
def test_js_logs_in_to_a_python_registered_account(exchange: Exchange) -> None:
    (result,) = exchange.opened["accounts"]
    account = exchange.expected["account"]
    assert b64u_decode(result["ok"]["userKey"]) == account.keys.user_key.raw
    assert b64u_decode(result["ok"]["userKeyViaRecovery"]) == account.keys.user_key.raw


def test_js_opens_python_relay_frames_only_in_their_room(exchange: Exchange) -> None:
    *frames, wrong_room = exchange.opened["relay"]
    assert [b64u_decode(result["ok"]) for result in frames] == exchange.expected["relay"]
    assert "error" in wrong_room


def test_js_recomputes_python_webhook_signatures(exchange: Exchange) -> None:
    assert [result["ok"] for result in exchange.opened["webhooks"]] == [True, True]


# --- JavaScript made it, Python opens it ---------------------------------------------------


def test_python_opens_js_envelopes(exchange: Exchange) -> None:
    made = exchange.made["envelopes"]
    pairs = [(spec, plaintext) for spec in SPECS for plaintext in PLAINTEXTS]
    assert len(made) == len(pairs)
    for item, (spec, plaintext) in zip(made, pairs, strict=True):
        key = KEY_TYPES[spec.key](b64u_decode(item["key"]))
        assert decrypt_field(key, item["envelope"], spec, entity_id="cjsmade0001") == plaintext


def test_python_opens_a_js_sealed_workspace_key(exchange: Exchange) -> None:
    (item,) = exchange.made["sealed"]
    opened = open_workspace_key(item["envelope"], exchange.expected["member"], "cworkspace01")
    assert opened.raw == exchange.expected["sealed"][0]


def test_python_decrypts_js_secretstream_files(exchange: Exchange, tmp_path: Path) -> None:
    for item, spec in zip(exchange.made["streams"], exchange.request["make"]["streams"], strict=True):
        sink = io.BytesIO()
        with open(spec["path"], "rb") as src:
            size = decrypt_file(FileKey(b64u_decode(item["key"])), src, sink, attachment_id="cattach0001")
        assert size == spec["size"]
        assert sink.getvalue() == Path(spec["plainPath"]).read_bytes()


@pytest.mark.slow
def test_python_derives_what_js_derived(exchange: Exchange) -> None:
    for item, password in zip(exchange.made["kdf"], PASSWORDS, strict=True):
        keys = derive_login_keys(password, b64u_decode(item["salt"]), KDF_DEFAULT)
        assert keys.auth_hash == item["authHash"]
        assert keys.master_key.raw == b64u_decode(item["masterKey"])


@pytest.mark.slow
def test_python_logs_in_to_a_js_registered_account(exchange: Exchange) -> None:
    (item,) = exchange.made["accounts"]
    keys = derive_login_keys(ACCOUNT_PASSWORD, b64u_decode(item["salt"]), KDF_DEFAULT)
    assert keys.auth_hash == item["authHash"]
    unlocked = unlock_account(keys.master_key, item["user"])
    assert unlocked.user_key.raw == b64u_decode(item["userKey"])
    assert unlocked.keypair.public == b64u_decode(item["user"]["publicKey"])
    recovered = unlock_with_recovery(RecoveryKey(b64u_decode(item["recoveryKey"])), item["user"])
    assert recovered.user_key == unlocked.user_key
    assert recovered.keypair.public == unlocked.keypair.public
    # The JS-made account can now receive a workspace key sealed by Python, and open it.
    workspace_key = WorkspaceKey.generate()
    sealed = seal_workspace_key(workspace_key, unlocked.keypair.public)
    assert open_workspace_key(str(sealed), recovered.keypair, "cworkspace01") == workspace_key


def test_python_opens_js_relay_frames(exchange: Exchange) -> None:
    for item, (room, message) in zip(
        exchange.made["relay"], [(r["room"], r["message"]) for r in exchange.request["make"]["relay"]], strict=True
    ):
        assert open_relay_frame(BoardKey(b64u_decode(item["key"])), room, b64u_decode(item["frame"])) == b64u_decode(
            message
        )


def test_python_verifies_js_webhook_signatures(exchange: Exchange) -> None:
    (item,) = exchange.made["webhooks"]
    t = verify_webhook_signature("whsec_js", item["header"], exchange.expected["webhook_body"], now=1764061200)
    assert t == 1764061200
