// The reference side of bench/live.py: yjs peers in one Node process, plaintext y-protocols
// over `ws`, against the y-websocket server (@y/websocket-server) at `url`.
// Reads {url, rounds, count, receivers, fanOutCount, timeoutMs} as JSON on stdin and runs, each in a fresh
// room, the same patterns as the Python side:
//   roundTrips: a writer appends "ping i", a reader answers "pong i", seconds per round trip;
//   streamSeconds: the writer appends `count` one-character edits back to back, seconds until
//     the reader has them all;
//   fanOutTrips: the writer appends one character, seconds until all `receivers` have it, `rounds` times;
//   fanOutSeconds: the writer appends `fanOutCount` characters back to back, seconds until every receiver has them.
// Prints those figures as JSON (or {error}).
import WebSocket from "ws";
import * as Y from "yjs";
import * as syncProtocol from "y-protocols/sync";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));

class Peer {
  constructor(room) {
    this.doc = new Y.Doc();
    this.text = this.doc.getText("description");
    this.waiters = [];
    this.synced = false;
    this.socket = new WebSocket(`${request.url}/${room}`);
    this.socket.binaryType = "arraybuffer";
    this.doc.on("update", (update, origin) => {
      if (origin !== "remote") {
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, 0);
        syncProtocol.writeUpdate(encoder, update);
        this.send(encoder);
      }
      this.check();
    });
    this.socket.on("message", (data) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) !== 0) return; // awareness: no presence in this benchmark
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, 0);
      const kind = syncProtocol.readSyncMessage(decoder, encoder, this.doc, "remote");
      if (kind === syncProtocol.messageYjsSyncStep2) this.synced = true;
      if (encoding.length(encoder) > 1) this.send(encoder);
      this.check();
    });
  }

  send(encoder) {
    this.socket.send(encoding.toUint8Array(encoder));
  }

  async open() {
    await new Promise((resolve, reject) => {
      this.socket.once("open", resolve);
      this.socket.once("error", reject);
    });
    const step1 = encoding.createEncoder();
    encoding.writeVarUint(step1, 0);
    syncProtocol.writeSyncStep1(step1, this.doc);
    this.send(step1);
    await this.until(() => this.synced);
  }

  until(predicate) {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  check() {
    this.waiters = this.waiters.filter(({ predicate, resolve }) => (predicate() ? (resolve(), false) : true));
  }

  append(s) {
    this.text.insert(this.text.length, s);
  }

  close() {
    this.socket.close();
  }
}

async function room(name, receivers) {
  const peers = [new Peer(name), ...Array.from({ length: receivers }, () => new Peer(name))];
  await Promise.all(peers.map((peer) => peer.open()));
  return peers;
}

const seconds = (start) => (performance.now() - start) / 1000;

async function roundTrips() {
  const [writer, reader] = await room("round-trips", 1);
  let next = 0;
  reader.doc.on("update", (_update, origin) => {
    if (origin !== "remote") return;
    while (reader.text.toString().includes(`ping ${next}\n`)) {
      reader.append(`pong ${next}\n`);
      next += 1;
    }
  });
  const times = [];
  for (let i = 0; i < request.rounds; i++) {
    const start = performance.now();
    writer.append(`ping ${i}\n`);
    await writer.until(() => writer.text.toString().endsWith(`pong ${i}\n`));
    times.push(seconds(start));
  }
  [writer, reader].forEach((peer) => peer.close());
  return times;
}

async function stream() {
  const [writer, reader] = await room("stream", 1);
  const start = performance.now();
  for (let i = 0; i < request.count; i++) writer.append("x");
  await reader.until(() => reader.text.length === request.count);
  const elapsed = seconds(start);
  [writer, reader].forEach((peer) => peer.close());
  return elapsed;
}

async function fanOut() {
  const [writer, ...receivers] = await room("fan-out", request.receivers);
  const everyoneHas = (length) => Promise.all(receivers.map((r) => r.until(() => r.text.length === length)));
  for (const length of [1, 2]) {
    writer.append("w"); // as on our side: two edits reach everyone before the clock starts
    await everyoneHas(length);
  }
  const trips = [];
  for (let i = 3; i < request.rounds + 3; i++) {
    const start = performance.now();
    writer.append("x");
    await everyoneHas(i);
    trips.push(seconds(start));
  }
  const start = performance.now();
  for (let i = 0; i < request.fanOutCount; i++) writer.append("y");
  await everyoneHas(request.rounds + 2 + request.fanOutCount);
  const burst = seconds(start);
  [writer, ...receivers].forEach((peer) => peer.close());
  return [trips, burst];
}

const timer = setTimeout(() => {
  process.stdout.write(JSON.stringify({ error: `timed out after ${request.timeoutMs} ms` }));
  process.exit(1);
}, request.timeoutMs);
try {
  const trips = await roundTrips();
  const streamSeconds = await stream();
  const [fanOutTrips, fanOutSeconds] = await fanOut();
  process.stdout.write(JSON.stringify({ roundTrips: trips, streamSeconds, fanOutTrips, fanOutSeconds }));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }));
  process.exitCode = 1;
}
clearTimeout(timer);
