// The JavaScript peer of the live interop tests. Reads one JSON request on stdin:
//   {"open": {...material Python made...}, "make": {...what JS should make...}}
// and writes {"opened": {...}, "made": {...}} on stdout. Each opened item is either
// {"ok": <result>} or {"error": <message>}, so Python can also check that JS
// refuses tampered material. Streams are files: JS reads and writes them in chunks.
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import {
  CHUNK,
  CIPHER_CHUNK,
  StreamOpener,
  b64uDecode as d,
  b64uEncode as e,
  deriveLoginKeys,
  openEnvelope,
  openRelayFrame,
  openSealed,
  readStdinJson,
  sealEnvelope,
  sealRelayFrame,
  sealTo,
  signWebhook,
  sodium,
  text,
} from "./common.mjs";

async function attempt(fn) {
  try {
    return { ok: await fn() };
  } catch (error) {
    return { error: String(error.message ?? error) };
  }
}

function readChunk(fd, size) {
  const buffer = Buffer.alloc(size);
  let filled = 0;
  while (filled < size) {
    const got = readSync(fd, buffer, filled, size - filled, null);
    if (got === 0) break;
    filled += got;
  }
  return new Uint8Array(buffer.subarray(0, filled));
}

function decryptFile(key, src, dst) {
  const input = openSync(src, "r");
  const output = openSync(dst, "w");
  try {
    const opener = new StreamOpener(key, readChunk(input, 24));
    let size = 0;
    for (let chunk = readChunk(input, CIPHER_CHUNK); chunk.length; chunk = readChunk(input, CIPHER_CHUNK)) {
      const message = opener.pull(chunk);
      writeSync(output, message);
      size += message.length;
    }
    opener.close();
    return size;
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

/** Writes `size` random bytes to plainPath and their secretstream encryption to path. */
function encryptRandomFile(key, size, path, plainPath) {
  const output = openSync(path, "w");
  const plain = openSync(plainPath, "w");
  try {
    const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
    writeSync(output, header);
    let left = size;
    for (;;) {
      const chunk = sodium.randombytes_buf(Math.min(left, CHUNK));
      left -= chunk.length;
      const final = chunk.length < CHUNK;
      const tag = final
        ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
      writeSync(plain, chunk);
      writeSync(output, sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, null, tag));
      if (final) return;
    }
  } finally {
    closeSync(output);
    closeSync(plain);
  }
}

// Rows of the field table (docs/protocol.md#fields) for the account fields, typed here from the document (not taken from Python).
const AD_SYMMETRIC_KEY = text("msk1:user.symmetricKey");
const AD_PRIVATE_KEY = text("msk1:user.privateKey");
const AD_RECOVERY = text("msk1:user.recovery");

/** Login as a browser client would: password -> masterKey -> userKey -> private key (checked against publicKey). */
async function unlockAccount(x) {
  const { masterKey } = await deriveLoginKeys(x.password, d(x.salt), 65536, 3, 4);
  const userKey = openEnvelope(d(masterKey), x.user.encSymmetricKey, AD_SYMMETRIC_KEY).plaintext;
  const secretKey = openEnvelope(userKey, x.user.encPrivateKey, AD_PRIVATE_KEY).plaintext;
  if (e(sodium.crypto_scalarmult_base(secretKey)) !== x.user.publicKey) throw new Error("publicKey mismatch");
  const viaRecovery = openEnvelope(d(x.recoveryKey), x.user.encRecoveryBlob, AD_RECOVERY).plaintext;
  return { userKey: e(userKey), userKeyViaRecovery: e(viaRecovery) };
}

/** Register as a browser client would: the four account fields for a password. */
async function createAccount(x) {
  const salt = sodium.randombytes_buf(16);
  const { authHash, masterKey } = await deriveLoginKeys(x.password, salt, 65536, 3, 4);
  const userKey = sodium.randombytes_buf(32);
  const recoveryKey = sodium.randombytes_buf(32);
  const { publicKey, privateKey } = sodium.crypto_box_keypair();
  return {
    salt: e(salt),
    authHash,
    recoveryKey: e(recoveryKey),
    userKey: e(userKey),
    user: {
      publicKey: e(publicKey),
      encPrivateKey: sealEnvelope(userKey, privateKey, AD_PRIVATE_KEY),
      encSymmetricKey: sealEnvelope(d(masterKey), userKey, AD_SYMMETRIC_KEY),
      encRecoveryBlob: sealEnvelope(recoveryKey, userKey, AD_RECOVERY),
    },
  };
}

const request = await readStdinJson();
const open = request.open ?? {};
const make = request.make ?? {};
const opened = {};
const made = {};

const each = async (items, fn) => Promise.all((items ?? []).map((item) => attempt(() => fn(item))));

opened.envelopes = await each(open.envelopes, (x) => e(openEnvelope(d(x.key), x.envelope, text(x.ad)).plaintext));
opened.sealed = await each(open.sealed, (x) => e(openSealed(x.envelope, d(x.publicKey), d(x.secretKey))));
opened.streams = await each(open.streams, (x) => decryptFile(d(x.key), x.path, x.out));
opened.kdf = [];
for (const x of open.kdf ?? []) {
  opened.kdf.push(await attempt(() => deriveLoginKeys(x.password, d(x.salt), x.memoryKiB, x.iterations, x.parallelism)));
}
opened.accounts = [];
for (const x of open.accounts ?? []) opened.accounts.push(await attempt(() => unlockAccount(x)));
opened.relay = await each(open.relay, (x) => e(openRelayFrame(d(x.key), x.room, d(x.frame))));
opened.webhooks = await each(open.webhooks, (x) => signWebhook(x.secret, x.t, d(x.body)) === x.header);

made.envelopes = (make.envelopes ?? []).map((x) => {
  const key = sodium.crypto_aead_xchacha20poly1305_ietf_keygen();
  return { key: e(key), envelope: sealEnvelope(key, d(x.plaintext), text(x.ad)) };
});
made.sealed = (make.sealed ?? []).map((x) => ({ envelope: sealTo(d(x.plaintext), d(x.publicKey)) }));
made.streams = (make.streams ?? []).map((x) => {
  const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
  encryptRandomFile(key, x.size, x.path, x.plainPath);
  return { key: e(key) };
});
made.kdf = [];
for (const x of make.kdf ?? []) {
  const salt = sodium.randombytes_buf(16);
  made.kdf.push({ salt: e(salt), ...(await deriveLoginKeys(x.password, salt, 65536, 3, 4)) });
}
made.accounts = [];
for (const x of make.accounts ?? []) made.accounts.push(await createAccount(x));
made.relay = (make.relay ?? []).map((x) => {
  const key = sodium.crypto_aead_xchacha20poly1305_ietf_keygen();
  return { key: e(key), frame: e(sealRelayFrame(key, x.room, d(x.message))) };
});
made.webhooks = (make.webhooks ?? []).map((x) => ({ header: signWebhook(x.secret, x.t, d(x.body)) }));

process.stdout.write(JSON.stringify({ opened, made }) + "\n");
