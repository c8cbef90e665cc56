// Checks every case of every vectors/*.json file in JavaScript, independently of
// mskclient: Argon2id via hash-wasm (the RFC 9106 case via @noble/hashes, which
// takes a secret and associated data), crypto_kdf / AEAD / sealed boxes /
// secretstream via libsodium.js, HMAC via node:crypto.
// Prints {"checked": {file: cases}, "failures": [...]} and exits 1 on any failure.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { argon2id as nobleArgon2id } from "@noble/hashes/argon2.js";
import * as decoding from "lib0/decoding";
import * as awarenessProtocol from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import {
  CIPHER_CHUNK,
  CHUNK,
  StreamOpener,
  assertEqual,
  b64uDecode as d,
  b64uEncode,
  deriveLoginKeys,
  openEnvelope,
  openRelayFrame,
  openSealed,
  sealEnvelope,
  sealRelayFrame,
  signWebhook,
  sodium,
  text,
} from "./common.mjs";

/** card.encDescription holds Y.encodeStateAsUpdate(doc) with a Y.Text "description" (docs/protocol.md#card-documents). */
function checkYjsDescription(update) {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  if (doc.getText("description").length === 0) throw new Error("no description text in the Yjs update");
  assertEqual(Y.encodeStateAsUpdate(doc), update, "Yjs re-encoding of the update");
}

/** A relay message must be a y-protocols message that y-protocols reads to the last byte. */
function checkRelayMessage(message) {
  const decoder = decoding.createDecoder(message);
  const type = decoding.readVarUint(decoder);
  if (type === 0) {
    // Read by hand: Yjs logs and swallows a broken update instead of throwing.
    const step = decoding.readVarUint(decoder);
    const payload = decoding.readVarUint8Array(decoder);
    if (step === syncProtocol.messageYjsSyncStep1) Y.decodeStateVector(payload);
    else if (step === syncProtocol.messageYjsSyncStep2 || step === syncProtocol.messageYjsUpdate) checkYjsDescription(payload);
    else throw new Error(`unknown sync step ${step}`);
  } else if (type === 1) {
    const awareness = new awarenessProtocol.Awareness(new Y.Doc());
    try {
      awarenessProtocol.applyAwarenessUpdate(awareness, decoding.readVarUint8Array(decoder), "vector");
    } finally {
      awareness.destroy();
    }
  } else if (type !== 3) {
    throw new Error(`unknown y-protocols message type ${type}`);
  }
  if (decoding.hasContent(decoder)) throw new Error("bytes left after the y-protocols message");
}

/** Recovery key text (docs/protocol.md#recovery-key), written from the document with BigInt (Crockford base32 + mod-37 check). */
function recoveryKeyText(key) {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const value = BigInt(`0x${Buffer.from(key).toString("hex")}`);
  const padded = value << 4n; // 52 symbols carry 260 bits: the key's 256, then 4 zero bits
  let symbols = "";
  for (let i = 51; i >= 0; i -= 1) symbols += alphabet[Number((padded >> BigInt(5 * i)) & 31n)];
  symbols += (alphabet + "*~$=U")[Number(value % 37n)];
  return symbols.match(/.{1,4}/g).join("-");
}

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "vectors");

const CHECKS = {
  "kdf.json": async (c) => {
    const keys = await deriveLoginKeys(c.password, d(c.salt), c.memoryKiB, c.iterations, c.parallelism);
    assertEqual(keys.authHash, c.authHash, "authHash");
    assertEqual(keys.masterKey, c.masterKey, "masterKey");
  },
  "envelope.json": (c) => {
    const key = d(c.key);
    const { nonce, plaintext } = openEnvelope(key, c.envelope, text(c.ad));
    assertEqual(nonce, d(c.nonce), "nonce");
    assertEqual(plaintext, d(c.plaintext), "plaintext");
    assertEqual(sealEnvelope(key, d(c.plaintext), text(c.ad), d(c.nonce)), c.envelope, "re-created envelope");
    if (c.ad === "msk1:card.description") checkYjsDescription(plaintext);
  },
  "sealed.json": (c) => {
    const pk = d(c.recipientPublicKey);
    const sk = d(c.recipientSecretKey);
    assertEqual(sodium.crypto_scalarmult_base(sk), pk, "public key of the secret key");
    assertEqual(openSealed(c.envelope, pk, sk), d(c.plaintext), "plaintext");
  },
  "secretstream.json": (c) => {
    if (c.chunkSize !== CHUNK) throw new Error("chunkSize is not the profile's");
    const ciphertext = d(c.ciphertext);
    const opener = new StreamOpener(d(c.key), ciphertext.subarray(0, 24));
    const parts = [];
    for (let at = 24; at < ciphertext.length; at += CIPHER_CHUNK) {
      const message = opener.pull(ciphertext.subarray(at, at + CIPHER_CHUNK));
      if (!opener.finished && message.length !== CHUNK) throw new Error("short chunk before the final one");
      parts.push(message);
    }
    opener.close();
    assertEqual(new Uint8Array(Buffer.concat(parts)), d(c.plaintext), "plaintext");
  },
  "relay-frame.json": (c) => {
    const key = d(c.key);
    assertEqual(openRelayFrame(key, c.room, d(c.frame)), d(c.message), "message");
    checkRelayMessage(d(c.message));
    assertEqual(sealRelayFrame(key, c.room, d(c.message), d(c.nonce)), d(c.frame), "re-created frame");
  },
  "webhook-signature.json": (c) => {
    assertEqual(signWebhook(c.secret, c.t, d(c.body)), c.header, "header");
  },
  "recovery-key.json": (c) => {
    assertEqual(recoveryKeyText(d(c.key)), c.text, "recovery key text");
  },
  "fingerprint.json": (c) => {
    const hex = sodium.to_hex(sodium.crypto_generichash(16, d(c.publicKey)));
    assertEqual(hex.match(/.{4}/g).join(" "), c.fingerprint, "fingerprint");
  },
  "argon2id-rfc9106.json": (c) => {
    const tag = nobleArgon2id(d(c.passwordBytes), d(c.salt), {
      t: c.iterations,
      m: c.memoryKiB,
      p: c.parallelism,
      version: c.version,
      key: d(c.secretValue),
      personalization: d(c.associatedData),
      dkLen: d(c.tag).length,
    });
    assertEqual(b64uEncode(tag), c.tag, "tag");
  },
  "xchacha20poly1305-draft03.json": (c) => {
    const key = d(c.key);
    const nonce = d(c.nonce);
    const ad = d(c.associatedData);
    const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(d(c.plaintext), ad, null, nonce, key);
    assertEqual(sealed, new Uint8Array(Buffer.concat([d(c.ciphertext), d(c.tag)])), "ciphertext and tag");
    assertEqual(openEnvelope(key, c.envelope, ad).plaintext, d(c.plaintext), "envelope plaintext");
  },
};

const checked = {};
const failures = [];
for (const file of readdirSync(VECTORS).filter((name) => name.endsWith(".json")).sort()) {
  const check = CHECKS[file];
  if (!check) {
    failures.push({ file, error: "no JavaScript check for this vector file" });
    continue;
  }
  const { cases } = JSON.parse(readFileSync(join(VECTORS, file), "utf8"));
  checked[file] = 0;
  for (const c of cases) {
    try {
      await check(c);
      checked[file] += 1;
    } catch (error) {
      failures.push({ file, case: c.name, error: String(error.message ?? error) });
    }
  }
}
process.stdout.write(JSON.stringify({ checked, failures }) + "\n");
process.exitCode = failures.length ? 1 : 0;
