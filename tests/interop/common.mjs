// Helpers shared by the interop scripts: strict base64url, the profile's
// envelope and stream formats, written against libsodium.js, hash-wasm and
// node:crypto only (nothing from mskclient), so every check is independent.
import { createHmac } from "node:crypto";
import { argon2id as nobleArgon2id } from "@noble/hashes/argon2.js";
import { argon2id } from "hash-wasm";
import _sodium from "libsodium-wrappers-sumo";

await _sodium.ready;
export const sodium = _sodium;

export const CHUNK = 65536;
const utf8 = new TextEncoder();

export function b64uEncode(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

/** base64url (docs/protocol.md#encodings): no padding out; padding optional in; anything else (or a non-canonical last symbol) refused. */
export function b64uDecode(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new Error("not base64url");
  const core = text.replace(/=+$/, "");
  if (core.length % 4 === 1) throw new Error("not base64url: impossible length");
  if (text !== core && text !== core + "=".repeat((4 - (core.length % 4)) % 4)) throw new Error("wrong padding");
  const bytes = new Uint8Array(Buffer.from(core, "base64url"));
  if (b64uEncode(bytes) !== core) throw new Error("not base64url: non-canonical");
  return bytes;
}

export function equalBytes(a, b) {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

export function assertEqual(actual, expected, what) {
  const same = actual instanceof Uint8Array ? equalBytes(actual, expected) : actual === expected;
  if (!same) throw new Error(`${what} differs`);
}

export const text = (s) => utf8.encode(s);

// --- key derivation (docs/protocol.md#kdf) -----------------------------------------------
// hash-wasm refuses an empty password (Argon2 itself allows it), so that one case
// goes through @noble/hashes' Argon2id instead: slower, equally independent.
export async function deriveLoginKeys(password, salt, memoryKiB, iterations, parallelism) {
  const bytes = utf8.encode(password.normalize("NFC"));
  const root = bytes.length
    ? await argon2id({
        password: bytes,
        salt,
        iterations,
        parallelism,
        memorySize: memoryKiB,
        hashLength: 32,
        outputType: "binary",
      })
    : nobleArgon2id(bytes, salt, { t: iterations, m: memoryKiB, p: parallelism, version: 0x13, dkLen: 32 });
  return {
    authHash: b64uEncode(sodium.crypto_kdf_derive_from_key(32, 1, "msk-auth", root)),
    masterKey: b64uEncode(sodium.crypto_kdf_derive_from_key(32, 1, "msk-mstr", root)),
  };
}

// --- envelopes (docs/protocol.md#envelopes) ----------------------------------------------
function parseEnvelope(envelope, headBytes, minBody) {
  const parts = envelope.split(".");
  if (parts.length !== 3) throw new Error("not three parts");
  if (parts[0] !== "v1") throw new Error("unsupported version");
  const head = b64uDecode(parts[1]);
  const body = b64uDecode(parts[2]);
  if (head.length !== headBytes) throw new Error("bad nonce length");
  if (body.length < minBody) throw new Error("ciphertext too short");
  return { head, body };
}

export function sealEnvelope(key, plaintext, ad, nonce = sodium.randombytes_buf(24)) {
  const body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
  return `v1.${b64uEncode(nonce)}.${b64uEncode(body)}`;
}

export function openEnvelope(key, envelope, ad) {
  const { head, body } = parseEnvelope(envelope, 24, 16);
  return { nonce: head, plaintext: sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, body, ad, head, key) };
}

export function sealTo(plaintext, publicKey) {
  const sealed = sodium.crypto_box_seal(plaintext, publicKey);
  return `v1.${b64uEncode(sealed.subarray(0, 32))}.${b64uEncode(sealed.subarray(32))}`;
}

export function openSealed(envelope, publicKey, secretKey) {
  const { head, body } = parseEnvelope(envelope, 32, 16);
  const joined = new Uint8Array(head.length + body.length);
  joined.set(head);
  joined.set(body, head.length);
  return sodium.crypto_box_seal_open(joined, publicKey, secretKey);
}

// --- attachment streams (docs/protocol.md#attachments) -----------------------------------
/** Decrypts a whole stream given as an iterable of ciphertext chunks (header first). */
export class StreamOpener {
  constructor(key, header) {
    if (header.length !== sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES) throw new Error("short header");
    this.state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    this.finished = false;
  }

  pull(chunk) {
    if (this.finished) throw new Error("data after the final chunk");
    const result = sodium.crypto_secretstream_xchacha20poly1305_pull(this.state, chunk);
    if (!result) throw new Error("chunk does not authenticate");
    if (result.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL) this.finished = true;
    else if (result.tag !== sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) throw new Error("bad tag");
    return result.message;
  }

  close() {
    if (!this.finished) throw new Error("truncated: no final chunk");
  }
}

export const CIPHER_CHUNK = CHUNK + 17;

// --- relay frames (docs/protocol.md#relay-frames) ----------------------------------------
export function sealRelayFrame(key, room, message, nonce = sodium.randombytes_buf(24)) {
  const body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, text(`msk1:relay:${room}`), null, nonce, key);
  const frame = new Uint8Array(24 + body.length);
  frame.set(nonce);
  frame.set(body, 24);
  return frame;
}

export function openRelayFrame(key, room, frame) {
  if (frame.length < 24 + 16) throw new Error("frame too short");
  return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
    null, frame.subarray(24), text(`msk1:relay:${room}`), frame.subarray(0, 24), key,
  );
}

// --- webhooks (docs/protocol.md#webhooks) ------------------------------------------------
export function signWebhook(secret, t, body) {
  const mac = createHmac("sha256", Buffer.from(secret, "utf8")).update(`${t}.`).update(body).digest("hex");
  return `t=${t},v1=${mac}`;
}

/** Reads a whole JSON document from standard input. */
export async function readStdinJson() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}
