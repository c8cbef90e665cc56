// Benchmark helper: apply Yjs updates one by one with yjs (the reference for pycrdt's cost).
// Reads {updates: [base64url...]} on stdin; prints {ms, length}.
import * as Y from "yjs";
import { b64uDecode, readStdinJson } from "./common.mjs";

const request = await readStdinJson();
const updates = request.updates.map(b64uDecode);
const doc = new Y.Doc();
const start = performance.now();
for (const update of updates) Y.applyUpdate(doc, update);
const ms = performance.now() - start;
process.stdout.write(JSON.stringify({ ms, length: doc.getText("description").length }));
