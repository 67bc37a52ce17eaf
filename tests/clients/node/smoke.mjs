// Smoke test of ioredis against a server: node smoke.mjs HOST:PORT
//
// ioredis speaks RESP2 only. Checks: commands, pub/sub between two connections (channel and
// pattern), a pipeline, a MULTI/EXEC transaction with WATCH, and a blocking pop woken by
// another connection. Prints one line per check and exits non-zero if any failed.

import Redis from "ioredis";
import assert from "node:assert/strict";

const [host, portText] = (process.argv[2] || "127.0.0.1:6379").split(":");
const port = Number(portText);
const opts = { host, port, lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true };
const clients = [];
const connect = () => {
  const c = new Redis(opts);
  clients.push(c);
  return c;
};

const results = [];
async function check(name, f) {
  try {
    await f();
    results.push([name, null]);
    console.log(`ok ${name}`);
  } catch (e) {
    results.push([name, e]);
    console.log(`FAILED ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);

async function blockedClients(r) {
  const info = await r.info("clients");
  const m = /blocked_clients:(\d+)/.exec(info);
  return m ? Number(m[1]) : -1;
}

const r = connect();

await check("connect and basic commands", async () => {
  assert.equal(await r.ping(), "PONG");
  await r.flushall();
  assert.equal(await r.set("greeting", "hello"), "OK");
  assert.equal(await r.get("greeting"), "hello");
  await r.hset("h", { a: "1", b: "2" });
  assert.deepEqual(await r.hgetall("h"), { a: "1", b: "2" });
});

await check("pub/sub between two connections", async () => {
  const sub = connect();
  const got = [];
  const two = new Promise((resolve) => {
    sub.on("message", (channel, message) => {
      got.push(["message", channel, message]);
      if (got.length === 2) resolve();
    });
    sub.on("pmessage", (pattern, channel, message) => {
      got.push(["pmessage", pattern, channel, message]);
      if (got.length === 2) resolve();
    });
  });
  assert.equal(await sub.subscribe("news"), 1);
  assert.equal(await sub.psubscribe("n*"), 2);
  assert.equal(await r.publish("news", "hello"), 2);
  await withTimeout(two, 5000, "messages");
  assert.deepEqual(got, [
    ["message", "news", "hello"],
    ["pmessage", "n*", "news", "hello"],
  ]);
  // Leaving subscriber mode makes ordinary commands available again.
  await sub.unsubscribe("news");
  await sub.punsubscribe("n*");
  assert.equal(await sub.get("greeting"), "hello");
});

await check("pipeline", async () => {
  const p = r.pipeline();
  for (let i = 0; i < 100; i++) p.rpush("plist", String(i));
  p.lrange("plist", 0, 2);
  p.llen("plist");
  const out = await p.exec();
  assert.deepEqual(out[0], [null, 1]);
  assert.deepEqual(out[100], [null, ["0", "1", "2"]]);
  assert.deepEqual(out[101], [null, 100]);
});

await check("transaction (MULTI/EXEC with WATCH)", async () => {
  await r.set("counter", "1");
  const res = await r.multi().incr("counter").incr("counter").exec();
  assert.deepEqual(res, [
    [null, 2],
    [null, 3],
  ]);
  const w = connect();
  await w.watch("counter");
  await r.set("counter", "100");
  const aborted = await w.multi().incr("counter").exec();
  assert.equal(aborted, null);
  assert.equal(await r.get("counter"), "100");
});

await check("blocking pop woken by another connection", async () => {
  const waiter = connect();
  const popped = waiter.blpop("jobs", 10);
  const deadline = Date.now() + 5000;
  while ((await blockedClients(r)) < 1) {
    if (Date.now() > deadline) throw new Error("the waiter never blocked");
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.equal(await r.lpush("jobs", "job-1"), 1);
  assert.deepEqual(await withTimeout(popped, 10000, "BLPOP"), ["jobs", "job-1"]);
  assert.equal(await waiter.blpop("nothing", 0.1), null);
});

for (const c of clients) c.disconnect();
const failed = results.filter(([, e]) => e);
console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
