// A browser-like participant of an MSKanban card room, for the live interop tests:
// yjs + y-protocols inside XChaCha20-Poly1305 relay frames (libsodium.js), over `ws`.
// Reads {wsUrl, key, room, state, user, edits, expect, expectPeers?, pong?, timeoutMs} as JSON on stdin;
// joins like y-websocket (step 1, step 2 with the full state, awareness, queryAwareness),
// types `edits` at the end of the text, waits until every `expect` string is in the text
// (and every `expectPeers` name was seen in awareness),
// leaves (null awareness) and prints {text, state, peers, refused} (or {error}) as JSON.
// A frame the relay delivers as text was sent by a read-only member (an observer): it is the
// base64url of the sealed frame, and only its awareness, queryAwareness and sync step 1 are
// taken; its updates and step 2 are counted in `refused`, never applied.
import WebSocket from "ws";
import * as Y from "yjs";
import * as awarenessProtocol from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { b64uDecode, b64uEncode, openRelayFrame, readStdinJson, sealRelayFrame } from "./common.mjs";

const request = await readStdinJson();
const key = b64uDecode(request.key);
const doc = new Y.Doc();
if (request.state) Y.applyUpdate(doc, b64uDecode(request.state), "remote");
const ytext = doc.getText("description");
const awareness = new awarenessProtocol.Awareness(doc);
const peers = new Set();
let socket = null;
let closed = null;
let unsent = 0;
let refused = 0;

function send(encoder) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(sealRelayFrame(key, request.room, encoding.toUint8Array(encoder)));
  } else {
    unsent += 1;
  }
}

function awarenessMessage(clients) {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  return encoder;
}

doc.on("update", (update, origin) => {
  if (origin === "remote") return; // never echo what peers sent
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0);
  syncProtocol.writeUpdate(encoder, update);
  send(encoder);
});

awareness.on("update", ({ added, updated, removed }, origin) => {
  for (const id of [...added, ...updated]) {
    const state = awareness.getStates().get(id);
    if (id !== doc.clientID && state?.user?.name) peers.add(state.user.name);
  }
  if (origin === "local") send(awarenessMessage([...added, ...updated, ...removed]));
});

function onFrame(data, isBinary) {
  let message;
  try {
    const frame = isBinary ? new Uint8Array(data) : b64uDecode(Buffer.from(data).toString("ascii"));
    message = openRelayFrame(key, request.room, frame);
  } catch {
    return; // not for this room/key
  }
  const decoder = decoding.createDecoder(message);
  const type = decoding.readVarUint(decoder);
  if (type === 0 && !isBinary && decoding.peekVarUint(decoder) !== syncProtocol.messageYjsSyncStep1) {
    refused += 1; // a read-only member's update or step 2
  } else if (type === 0) {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    syncProtocol.readSyncMessage(decoder, encoder, doc, "remote");
    if (encoding.length(encoder) > 1) send(encoder);
  } else if (type === 1) {
    awarenessProtocol.applyAwarenessUpdate(awareness, decoding.readVarUint8Array(decoder), "remote");
  } else if (type === 3) {
    send(awarenessMessage([...awareness.getStates().keys()]));
  }
}

function joined() {
  const step1 = encoding.createEncoder();
  encoding.writeVarUint(step1, 0);
  syncProtocol.writeSyncStep1(step1, doc);
  send(step1);
  const step2 = encoding.createEncoder();
  encoding.writeVarUint(step2, 0);
  syncProtocol.writeSyncStep2(step2, doc); // full state: offline edits reach the room
  send(step2);
  awareness.setLocalState({ user: request.user }); // clock >= 1, sent by the 'local' handler
  send(awarenessMessage([doc.clientID]));
  const query = encoding.createEncoder();
  encoding.writeVarUint(query, 3);
  send(query);
}

// Benchmark mode: answer each remote "ping <i>" line with a "pong <i>" line.
if (request.pong) {
  let next = 0;
  doc.on("update", (update, origin) => {
    if (origin !== "remote") return;
    const current = ytext.toString();
    while (current.includes(`ping ${next}\n`)) {
      ytext.insert(ytext.length, `pong ${next}\n`);
      next += 1;
    }
  });
}

const finished = new Promise((resolve, reject) => {
  const timer = setTimeout(
    () => reject(new Error(`timed out; text so far: ${JSON.stringify(ytext.toString())}`)),
    request.timeoutMs,
  );
  const check = () => {
    const seen = (request.expectPeers ?? []).every((name) => peers.has(name));
    if (seen && request.expect.every((s) => ytext.toString().includes(s))) {
      clearTimeout(timer);
      resolve();
    }
  };
  doc.on("update", check);
  awareness.on("update", check); // after the handler above that records peers
  check();
});

try {
  socket = new WebSocket(request.wsUrl);
  socket.binaryType = "arraybuffer";
  socket.on("message", onFrame);
  socket.on("close", (code, reason) => {
    closed = `${code} ${reason}`;
  });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  joined();
  for (const edit of request.edits) {
    ytext.insert(ytext.length, edit); // typing at the end, one transaction per edit
    await new Promise((resolve) => setImmediate(resolve));
  }
  await finished;
  awareness.setLocalState(null); // leave: null awareness to the room
  await new Promise((resolve) => setImmediate(resolve));
  const result = {
    text: ytext.toString(), state: b64uEncode(Y.encodeStateAsUpdate(doc)), peers: [...peers], closed, unsent, refused,
  };
  // Close with a handshake and wait for it: frames still buffered are flushed first
  // (exiting at once would drop them).
  await new Promise((resolve) => {
    socket.once("close", resolve);
    socket.close(1000, "done");
  });
  awareness.destroy();
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
} catch (error) {
  awareness.destroy();
  process.stdout.write(JSON.stringify({ error: String(error.message ?? error), closed, unsent }));
  process.exit(1);
}
