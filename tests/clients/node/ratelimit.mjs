// rate-limiter-flexible (RateLimiterRedis with an ioredis storeClient) against a server:
// node ratelimit.mjs HOST:PORT. The scenario is ratelimit-scenario.mjs, shared with the wasm
// package's in-process test. Prints "ok NAME" / "FAILED NAME: ..." per check; exits non-zero if
// any failed.

import Redis from "ioredis";
import rlf from "rate-limiter-flexible";
import { scenarios } from "./ratelimit-scenario.mjs";

const [host, portText] = (process.argv[2] || "127.0.0.1:6379").split(":");
const client = new Redis({ host, port: Number(portText), maxRetriesPerRequest: 1 });

let failed = 0;
let passed = 0;
for (const [name, f] of scenarios(rlf, client)) {
  try {
    await f();
    passed++;
    console.log(`ok rate-limiter-flexible: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED rate-limiter-flexible: ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
client.disconnect();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
