#!/usr/bin/env python3
"""Write vectors/*.json: test vectors for every construction of the wire profile.

Anyone can re-run it (`python scripts/make_vectors.py`).  Keys, salts, nonces
and plaintexts come from fixed seeds, so every file whose construction allows
it (kdf, envelope, relay-frame, webhook-signature, recovery-key, fingerprint
and the published known answers) comes out byte-for-byte the same on every run.  crypto_box_seal and
secretstream draw their ephemeral key / header from libsodium's RNG, which
cannot be seeded, so sealed.json and secretstream.json differ between runs;
every version is equally valid and is checked by opening it.

The published known answers (RFC 9106 §5.3 Argon2id, draft-irtf-cfrg-xchacha-03
§A.3.1 XChaCha20-Poly1305) are run through the same primitives before they are
written, so the script refuses to write files if libargon2 or libsodium
disagrees with the documents.

Binary fields are base64url without padding; `password`, `ad`, `room`,
`secret`, and the recovery key `text` and `fingerprint` are text; `t` is an integer.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import nacl.bindings
from argon2.low_level import Type, core, ffi, lib

from mskclient import _profile
from mskclient._atomic import atomic_replace
from mskclient.crypto import (
    BoardKey,
    FileKey,
    KeyPair,
    MasterKey,
    RecoveryKey,
    SymmetricKey,
    UserKey,
    Where,
    WorkspaceKey,
    b64u_encode,
    derive_login_keys,
    encrypt_field,
    encrypt_file,
    fingerprint,
    format_recovery_key,
    seal_relay_frame,
    sign_webhook,
)
from mskclient.crypto.hazmat import crypto_generichash, encrypt_with_ad, open_sealed, seal_to

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
Case = dict[str, Any]


def seeded(label: str, size: int) -> bytes:
    """`size` reproducible bytes for `label` (libsodium's deterministic RNG, BLAKE2b seed)."""
    seed = crypto_generichash(32, b"mskclient-vectors:" + label.encode("utf-8"))
    return bytes(nacl.bindings.randombytes_buf_deterministic(size, seed))


def write(out: Path, name: str, description: str, cases: list[Case]) -> None:
    path = out / name
    text = json.dumps({"description": description, "cases": cases}, ensure_ascii=True, indent=1)
    with atomic_replace(path, 0o644) as handle:
        handle.write(text.encode("utf-8") + b"\n")
    print(f"{path}: {len(cases)} cases, {path.stat().st_size} bytes")


# --- kdf.json ---------------------------------------------------------------------------

KDF_PASSWORDS: list[tuple[str, str, str, tuple[int, int, int]]] = [
    # (name, password, salt label, (memoryKiB, iterations, parallelism))
    ("ascii at the profile defaults", "correct horse battery staple", "kdf/ascii", (65536, 3, 4)),
    ("empty password (Argon2 allows it; hash-wasm refuses it)", "", "kdf/empty", (65536, 3, 4)),
    (
        "NFD input: e + U+0301 is NFC-normalised to U+00E9 first",
        "caf\u0065\u0301 cr\u0065\u0300me",
        "kdf/nfc",
        (65536, 3, 4),
    ),
    ("NFC input: same salt and result as the NFD case", "caf\u00e9 cr\u00e8me", "kdf/nfc", (65536, 3, 4)),
    (
        "singleton decompositions: OHM SIGN and ANGSTROM SIGN",
        "\u2126 = 1 V/A, \u212b = 0.1 nm",
        "kdf/singleton",
        (65536, 3, 4),
    ),
    ("Hangul jamo (NFD) compose to syllables", "\u1100\u1161\u1102\u1161\u1103\u1161", "kdf/hangul", (65536, 3, 4)),
    (
        "emoji (astral plane, ZWJ sequence)",
        "\U0001f510 tr0ub4dor & \U0001f468\u200d\U0001f4bb",
        "kdf/emoji",
        (65536, 3, 4),
    ),
    ("CJK", "\u30d1\u30b9\u30ef\u30fc\u30c9\u5bc6\u7801\ube44\ubc00\ubc88\ud638", "kdf/cjk", (65536, 3, 4)),
    ("long password (300 characters)", "Lorem ipsum \u00e4\u00f6\u00fc " * 20, "kdf/long", (65536, 3, 4)),
    ("stronger than the minimum: more iterations, one lane", "correct horse battery staple", "kdf/t4p1", (65536, 4, 1)),
    ("stronger than the minimum: 96 MiB, two lanes", "correct horse battery staple", "kdf/m96p2", (98304, 3, 2)),
]


def kdf_cases() -> list[Case]:
    cases = []
    for name, password, salt_label, (m, t, p) in KDF_PASSWORDS:
        salt = seeded(salt_label, _profile.SALT_BYTES)
        keys = derive_login_keys(password, salt, _profile.KdfParams(memory_kib=m, iterations=t, parallelism=p))
        cases.append(
            {
                "name": name,
                "password": password,
                "salt": b64u_encode(salt),
                "memoryKiB": m,
                "iterations": t,
                "parallelism": p,
                "authHash": keys.auth_hash,
                "masterKey": b64u_encode(keys.master_key.raw),
            }
        )
    return cases


# --- envelope.json ------------------------------------------------------------------------

_ROLE_KEYS: dict[_profile.KeyRole, SymmetricKey] = {
    _profile.KeyRole.MASTER: MasterKey(seeded("key/master", 32)),
    _profile.KeyRole.USER: UserKey(seeded("key/user", 32)),
    _profile.KeyRole.RECOVERY: RecoveryKey(seeded("key/recovery", 32)),
    _profile.KeyRole.WORKSPACE: WorkspaceKey(seeded("key/workspace", 32)),
    _profile.KeyRole.BOARD: BoardKey(seeded("key/board", 32)),
}


def _varuint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _var_bytes(data: bytes) -> bytes:
    return _varuint(len(data)) + data


def yjs_description(text: str) -> bytes:
    """A Yjs v1 update: client 2026 inserts `text` at clock 0 into the root Y.Text "description".

    Written out in lib0 encoding (one struct group, one ContentString item whose
    parent is the named root type, empty delete set) so the bytes never depend
    on a CRDT library's version; the tests check that Yjs and pycrdt read it.
    """
    item = b"\x04" + _varuint(1) + _var_bytes(b"description") + _var_bytes(text.encode("utf-8"))
    return _varuint(1) + _varuint(1) + _varuint(2026) + _varuint(0) + item + _varuint(0)


_MARKDOWN = (
    "# Release plan\n\n- [x] freeze \u2744\ufe0f\n- [ ] ship \U0001f680\n\n"
    "> \u8a2d\u8a08\u30ec\u30d3\u30e5\u30fc\u6e08\u307f\n"
)

ENVELOPE_PLAINTEXTS: list[tuple[str, str, bytes]] = [
    ("user", "encSymmetricKey", seeded("plain/userKey", 32)),
    ("user", "encPrivateKey", seeded("plain/x25519-secret", 32)),
    ("user", "encRecoveryBlob", seeded("plain/userKey", 32)),
    ("workspace", "encName", "Acme \u2014 Produktentwicklung \U0001f680".encode()),
    ("board", "encBoardKey", seeded("plain/boardKey", 32)),
    ("board", "encTitle", b"Roadmap 2026"),
    ("board", "encDescription", _MARKDOWN.encode()),
    ("column", "encTitle", b""),
    ("card", "encTitle", "Fix login \u2714".encode()),
    ("card", "encDescription", yjs_description(_MARKDOWN * 200)),
    ("card", "customFields", b"42"),
    ("label", "encName", "bug \U0001f41b".encode()),
    ("milestone", "encTitle", b"v1.0"),
    ("comment", "encBody", "LGTM \U0001f44d\n\n> nit: \u00abquotes\u00bb".encode()),
    ("checklist", "encTitle", "\u00dcbersicht".encode()),
    ("checklistItem", "encText", "plaintext is not normalised: cafe\u0301".encode()),
    ("cardTemplate", "encTitle", b"Bug report"),
    ("cardTemplate", "encBody", b"## Steps\n1.\n\n## Expected\n\n## Actual\n"),
    ("customField", "encName", b"Priority"),
    ("customField", "encOptions", json.dumps(["low", "medium", "high", "\U0001f525"]).encode()),
    ("attachment", "encName", "R\u00e9sum\u00e9 \u5c65\u6b74\u66f8.pdf".encode()),
    ("attachment", "encMime", b"application/pdf"),
    ("attachment", "encFileKey", seeded("plain/fileKey", 32)),
    ("automation", "encName", "Move to Done when all items are checked \u2705".encode()),
]


def envelope_cases() -> list[Case]:
    cases = []
    for entity, name, plaintext in ENVELOPE_PLAINTEXTS:
        spec = _profile.field(entity, name)
        key = _ROLE_KEYS[spec.key]
        nonce = seeded(f"nonce/{entity}.{name}", 24)
        envelope = encrypt_field(key, plaintext, spec, nonce=nonce)
        cases.append(
            {
                "name": f"{entity}.{name} ({len(plaintext)} bytes)",
                "key": b64u_encode(key.raw),
                "nonce": b64u_encode(nonce),
                "ad": spec.ad.decode("ascii"),
                "plaintext": b64u_encode(plaintext),
                "envelope": str(envelope),
            }
        )
    return cases


# --- sealed.json --------------------------------------------------------------------------


def sealed_cases() -> list[Case]:
    alice = KeyPair.from_secret(seeded("x25519/alice", 32))
    bob = KeyPair.from_secret(seeded("x25519/bob", 32))
    items = [
        ("a workspace key (encWorkspaceKey)", alice, seeded("plain/workspaceKey", 32)),
        ("the same workspace key sealed to another member", bob, seeded("plain/workspaceKey", 32)),
        ("empty message", alice, b""),
        ("non-ASCII text", alice, "\U0001f511 \u043a\u043b\u044e\u0447 \u9375".encode()),
        ("1000 bytes", bob, seeded("plain/sealed-1000", 1000)),
    ]
    cases = []
    for name, recipient, plaintext in items:
        envelope = seal_to(plaintext, recipient.public)
        assert open_sealed(str(envelope), recipient, Where("membership", "encWorkspaceKey")) == plaintext
        cases.append(
            {
                "name": name,
                "recipientPublicKey": b64u_encode(recipient.public),
                "recipientSecretKey": b64u_encode(recipient.secret),
                "plaintext": b64u_encode(plaintext),
                "envelope": str(envelope),
            }
        )
    return cases


# --- secretstream.json --------------------------------------------------------------------


def secretstream_cases() -> list[Case]:
    chunk = _profile.ATTACHMENT_CHUNK_SIZE
    items = [
        ("empty file: header and one empty TAG_FINAL chunk", b""),
        ("short non-ASCII text", "hello, \u4e16\u754c \U0001f30d\n".encode()),
        ("one byte short of a chunk", seeded("plain/stream-65535", chunk - 1)),
        ("exactly one chunk: a full TAG_MESSAGE chunk, then an empty TAG_FINAL one", seeded("plain/stream-1c", chunk)),
        ("one byte over a chunk", seeded("plain/stream-65537", chunk + 1)),
        ("over 1 MiB: 17 full chunks and a 100-byte final one", seeded("plain/stream-large", 17 * chunk + 100)),
    ]
    cases = []
    for index, (name, plaintext) in enumerate(items):
        key = FileKey(seeded(f"key/file-{index}", 32))
        sink = io.BytesIO()
        encrypt_file(key, io.BytesIO(plaintext), sink)
        cases.append(
            {
                "name": name,
                "key": b64u_encode(key.raw),
                "chunkSize": chunk,
                "plaintext": b64u_encode(plaintext),
                "ciphertext": b64u_encode(sink.getvalue()),
            }
        )
    return cases


# --- relay-frame.json ---------------------------------------------------------------------


def _awareness(client_id: int, clock: int, state: object) -> bytes:
    """y-protocols awareness message: type 1, then the update as a varUint8Array."""
    state_json = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
    update = _varuint(1) + _varuint(client_id) + _varuint(clock) + _var_bytes(state_json)
    return _varuint(1) + _var_bytes(update)


def relay_cases() -> list[Case]:
    card_room, board_room = "card:ckv9x2m3p0000abcd", "board:cl0b0ard00001xyz"
    user = {"id": "cuser0000001", "name": "Zo\u00eb \u5f20", "color": "#e91e63"}
    update = yjs_description("Shared notes \u270d\ufe0f")
    items = [
        ("sync step1 with an empty state vector", card_room, _varuint(0) + _varuint(0) + _var_bytes(b"\x00")),
        ("sync step2 carrying a Yjs update", card_room, _varuint(0) + _varuint(1) + _var_bytes(update)),
        ("sync update", card_room, _varuint(0) + _varuint(2) + _var_bytes(update)),
        ("card-room awareness", card_room, _awareness(2026, 1, {"user": user})),
        ("queryAwareness (type 3, no payload)", card_room, _varuint(3)),
        (
            "board-room awareness with cardId",
            board_room,
            _awareness(77, 3, {"user": user, "cardId": "ckv9x2m3p0000abcd"}),
        ),
        ("awareness null state when leaving", board_room, _awareness(77, 4, None)),
        (
            "large update (over 100 KiB)",
            card_room,
            _varuint(0) + _varuint(2) + _var_bytes(yjs_description("Long shared notes \u270d\ufe0f\n" * 4000)),
        ),
    ]
    key = BoardKey(seeded("key/relay-board", 32))
    cases = []
    for index, (name, room, message) in enumerate(items):
        nonce = seeded(f"nonce/relay-{index}", 24)
        frame = seal_relay_frame(key, room, message, nonce=nonce)
        cases.append(
            {
                "name": name,
                "key": b64u_encode(key.raw),
                "room": room,
                "nonce": b64u_encode(nonce),
                "message": b64u_encode(message),
                "frame": b64u_encode(frame),
            }
        )
    return cases


# --- recovery-key.json and fingerprint.json ------------------------------------------------


def recovery_key_cases() -> list[Case]:
    items = [
        ("all zero bits", bytes(32)),
        ("all one bits", b"\xff" * 32),
        ("lowest bit only: it lands in the padded last symbol", bytes(31) + b"\x01"),
        ("highest bit only", b"\x80" + bytes(31)),
    ]
    wanted = {32: "*", 33: "~", 34: "$", 35: "=", 36: "U"}  # the check symbols past the base32 alphabet
    index = 0
    while wanted:
        raw = seeded(f"key/recovery-text-{index}", 32)
        symbol = wanted.pop(int.from_bytes(raw, "big") % 37, None)
        if symbol or index < 2:
            items.append((f"seeded {index}" + (f": check symbol {symbol}" if symbol else ""), raw))
        index += 1
    return [
        {"name": name, "key": b64u_encode(raw), "text": format_recovery_key(RecoveryKey(raw))} for name, raw in items
    ]


def fingerprint_cases() -> list[Case]:
    items = [("all-zero public key", bytes(32))]
    items += [(f"X25519 public key {i}", KeyPair.from_secret(seeded(f"x25519/fp-{i}", 32)).public) for i in range(4)]
    return [{"name": name, "publicKey": b64u_encode(pk), "fingerprint": fingerprint(pk)} for name, pk in items]


# --- webhook-signature.json ---------------------------------------------------------------


def webhook_cases() -> list[Case]:
    payload = {
        "verb": "CARD_MOVED",
        "boardId": "cl0b0ard00001xyz",
        "cardId": "ckv9x2m3p0000abcd",
        "actorId": "cuser0000001",
        "timestamp": "2026-11-25T09:00:00.000Z",
        "metadata": {"fromColumnId": "ccol00000001", "toColumnId": "ccol00000002"},
    }
    items = [
        ("JSON delivery", "whsec_3f9a1c0e5b7d2468ace13579bdf02468", 1764061200, json.dumps(payload).encode()),
        ("empty body", "whsec_3f9a1c0e5b7d2468ace13579bdf02468", 1764061230, b""),
        (
            "non-ASCII body, compact JSON",
            "whsec_3f9a1c0e5b7d2468ace13579bdf02468",
            1764061260,
            json.dumps(
                {"verb": "COMMENT_CREATED", "note": "\u00fcber \U0001f41b \u4e2d\u6587"},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode(),
        ),
        ("non-ASCII secret (UTF-8 key bytes)", "s\u00e9cret-\U0001f511", 1764061290, b'{"verb":"ASSIGNED"}'),
        ("t = 0", "whsec_0", 0, b"{}"),
    ]
    return [
        {"name": name, "secret": secret, "t": t, "body": b64u_encode(body), "header": sign_webhook(secret, t, body)}
        for name, secret, t, body in items
    ]


# --- Published known answers ----------------------------------------------------------------

# RFC 9106 §5.3 (Argon2id, version 0x13).
RFC9106_ARGON2ID = {
    "password": bytes([0x01] * 32),
    "salt": bytes([0x02] * 16),
    "secret": bytes([0x03] * 8),
    "ad": bytes([0x04] * 12),
    "memoryKiB": 32,
    "iterations": 3,
    "parallelism": 4,
    "tag": bytes.fromhex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"),
}

# draft-irtf-cfrg-xchacha-03 §A.3.1 (AEAD_XChaCha20_Poly1305).
XCHACHA_DRAFT = {
    "key": bytes(range(0x80, 0xA0)),
    "nonce": bytes(range(0x40, 0x58)),
    "ad": bytes.fromhex("50515253c0c1c2c3c4c5c6c7"),
    "plaintext": b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    b"sunscreen would be it.",
    "ciphertext": bytes.fromhex(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e"
    ),
    "tag": bytes.fromhex("c0875924c1c7987947deafd8780acf49"),
}


def argon2id_keyed(
    password: bytes, salt: bytes, secret: bytes, ad: bytes, *, m: int, t: int, p: int, length: int
) -> bytes:
    """Argon2id with a secret value and associated data (libargon2's argon2_ctx via argon2-cffi)."""
    out = ffi.new("uint8_t[]", length)
    buffers = [ffi.new("uint8_t[]", value) for value in (password, salt, secret, ad)]
    ctx = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": length,
            "pwd": buffers[0],
            "pwdlen": len(password),
            "salt": buffers[1],
            "saltlen": len(salt),
            "secret": buffers[2],
            "secretlen": len(secret),
            "ad": buffers[3],
            "adlen": len(ad),
            "t_cost": t,
            "m_cost": m,
            "lanes": p,
            "threads": p,
            "version": _profile.ARGON2_VERSION,
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    if core(ctx, Type.ID.value) != lib.ARGON2_OK:
        raise RuntimeError("argon2_ctx failed")
    return bytes(ffi.buffer(out, length))


def known_answer_files(out: Path) -> None:
    kat = RFC9106_ARGON2ID
    tag = argon2id_keyed(
        kat["password"],
        kat["salt"],
        kat["secret"],
        kat["ad"],
        m=kat["memoryKiB"],
        t=kat["iterations"],
        p=kat["parallelism"],
        length=len(kat["tag"]),
    )
    if tag != kat["tag"]:
        sys.exit("libargon2 disagrees with RFC 9106 §5.3: not writing vectors")
    write(
        out,
        "argon2id-rfc9106.json",
        "RFC 9106 §5.3 Argon2id test vector (version 0x13), as published. All binary fields are base64url; "
        "passwordBytes/secretValue/associatedData are the RFC's P, K and X.",
        [
            {
                "name": "RFC 9106 §5.3",
                "passwordBytes": b64u_encode(kat["password"]),
                "salt": b64u_encode(kat["salt"]),
                "secretValue": b64u_encode(kat["secret"]),
                "associatedData": b64u_encode(kat["ad"]),
                "memoryKiB": kat["memoryKiB"],
                "iterations": kat["iterations"],
                "parallelism": kat["parallelism"],
                "version": _profile.ARGON2_VERSION,
                "tag": b64u_encode(kat["tag"]),
            }
        ],
    )
    xc = XCHACHA_DRAFT
    envelope = encrypt_with_ad(BoardKey(xc["key"]), xc["plaintext"], xc["ad"], nonce=xc["nonce"])
    if envelope.body != xc["ciphertext"] + xc["tag"]:
        sys.exit("libsodium disagrees with draft-irtf-cfrg-xchacha-03 §A.3.1: not writing vectors")
    write(
        out,
        "xchacha20poly1305-draft03.json",
        "draft-irtf-cfrg-xchacha-03 §A.3.1 AEAD_XChaCha20_Poly1305 test vector, as published. All binary "
        "fields are base64url (associatedData is not UTF-8, so it is binary here); envelope is the same "
        "encryption in the profile's v1 wire form.",
        [
            {
                "name": "draft-irtf-cfrg-xchacha-03 §A.3.1",
                "key": b64u_encode(xc["key"]),
                "nonce": b64u_encode(xc["nonce"]),
                "associatedData": b64u_encode(xc["ad"]),
                "plaintext": b64u_encode(xc["plaintext"]),
                "ciphertext": b64u_encode(xc["ciphertext"]),
                "tag": b64u_encode(xc["tag"]),
                "envelope": str(envelope),
            }
        ],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the test vectors of the wire profile.")
    parser.add_argument("--out", type=Path, default=VECTORS, help="directory to write (default: vectors/)")
    out: Path = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    known_answer_files(out)
    write(
        out,
        "kdf.json",
        "docs/protocol.md#kdf: "
        "authHash = b64u(crypto_kdf(root, 1, 'msk-auth')), masterKey = crypto_kdf(root, 1, "
        "'msk-mstr'), root = Argon2id(NFC(password) as UTF-8, salt, t=iterations, m=memoryKiB, "
        "p=parallelism, version 0x13, 32 bytes).",
        kdf_cases(),
    )
    write(
        out,
        "envelope.json",
        "docs/protocol.md#envelopes and #fields: "
        "envelope = 'v1.' + b64u(nonce) + '.' + b64u(XChaCha20-Poly1305-IETF(key, plaintext, "
        "ad, nonce)); one case per row of the field table, ad = that row's context string.",
        envelope_cases(),
    )
    write(
        out,
        "sealed.json",
        "docs/protocol.md#sealed-envelope: "
        "envelope = crypto_box_seal(plaintext, recipientPublicKey) split after its first 32 bytes: "
        "'v1.' + b64u(epk) + '.' + b64u(rest). Not reproducible (random ephemeral key): open to check.",
        sealed_cases(),
    )
    write(
        out,
        "secretstream.json",
        "docs/protocol.md#attachments: "
        "ciphertext = secretstream_xchacha20poly1305 header (24 bytes), then plaintext chunks of "
        "chunkSize bytes each pushed with TAG_MESSAGE, the last (shorter, possibly empty) with TAG_FINAL. "
        "Not reproducible (random header): open to check.",
        secretstream_cases(),
    )
    write(
        out,
        "relay-frame.json",
        "docs/protocol.md#relay-frames: "
        "frame = nonce(24) || XChaCha20-Poly1305-IETF(key, message, ad = 'msk1:relay:' + room); "
        "messages are y-protocols messages.",
        relay_cases(),
    )
    write(
        out,
        "webhook-signature.json",
        "docs/protocol.md#webhooks: header = 't=<t>,v1=' + hex(HMAC-SHA256(UTF-8(secret), '<t>.' + body)).",
        webhook_cases(),
    )
    write(
        out,
        "recovery-key.json",
        "docs/protocol.md#recovery-key: "
        "text = Crockford base32 of the 256-bit key (most significant bit first, 52 symbols, the last "
        "zero-padded) + check symbol (key mod 37, alphabet 0-9A-Z without I L O U, then *~$=U), in groups of 4 "
        "joined by '-'.",
        recovery_key_cases(),
    )
    write(
        out,
        "fingerprint.json",
        "docs/protocol.md#fingerprints: "
        "fingerprint = hex(crypto_generichash(16, publicKey)) as 8 groups of 4 lower-case hex digits "
        "joined by spaces.",
        fingerprint_cases(),
    )


if __name__ == "__main__":
    main()
