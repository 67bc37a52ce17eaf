// BullMQ (with ioredis) against a server: node bullmq.mjs HOST:PORT. The scenario is in
// bullmq-scenario.mjs (shared with the wasm package's in-process test). Prints "ok NAME" /
// "FAILED NAME: ..." per check; exits non-zero if any failed.

import * as bullmq from "bullmq";
import Redis from "ioredis";
import { scenarios } from "./bullmq-scenario.mjs";

const [host, portText] = (process.argv[2] || "127.0.0.1:6379").split(":");
const connection = { host, port: Number(portText), maxRetriesPerRequest: null };
const admin = new Redis(connection);

let passed = 0;
let failed = 0;
for (const [name, f] of scenarios(bullmq, connection, admin)) {
  try {
    await f();
    passed++;
    console.log(`ok bullmq: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED bullmq: ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
admin.disconnect();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
