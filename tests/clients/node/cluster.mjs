// ioredis's Cluster client against a Redis Cluster, for the cluster suite (xtask/src/cluster.rs):
//   node cluster.mjs HOST:PORT [TAG]
// A bounded workload: strings, hashes with hash tags, MULTI/EXEC on one slot (a transaction
// whose keys share a hash tag: ioredis sends it to the slot's node), PUBLISH received by a
// Cluster subscriber (the bus carries the message between nodes), SPUBLISH received by an
// SSUBSCRIBE on the slot's master. Prints `ok NAME` / `FAILED NAME: error` per check.

import Redis from "ioredis";
import assert from "node:assert/strict";

const [host, portText] = (process.argv[2] || "127.0.0.1:7000").split(":");
const tag = process.argv[3] || "js";
const startup = [{ host, port: Number(portText) }];
const opts = { redisOptions: { maxRetriesPerRequest: 3 }, retryDelayOnMoved: 50 };

let failed = 0;
async function check(name, f) {
  try {
    await f();
    console.log(`ok ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);

const c = new Redis.Cluster(startup, opts);
const closers = [c];

await check("ioredis Cluster: strings", async () => {
  for (let i = 0; i < 300; i++) await c.set(`${tag}:s:${i}`, `v${i}`);
  for (let i = 0; i < 300; i++) assert.equal(await c.get(`${tag}:s:${i}`), `v${i}`);
  assert.equal(await c.incrby(`${tag}:counter`, 7), 7);
  assert.equal(await c.del(`${tag}:s:2`), 1);
  assert.equal(await c.get(`${tag}:s:2`), null);
});

await check("ioredis Cluster: hashes with hash tags", async () => {
  for (let u = 0; u < 50; u++) {
    const t = `{${tag}:user:${u}}`;
    await c.hset(`${t}:profile`, { name: `n${u}`, age: String(u) });
    await c.mset(`${t}:a`, "1", `${t}:b`, "2");
  }
  for (let u = 0; u < 50; u++) {
    const t = `{${tag}:user:${u}}`;
    assert.deepEqual(await c.hgetall(`${t}:profile`), { name: `n${u}`, age: String(u) });
    assert.deepEqual(await c.mget(`${t}:a`, `${t}:b`), ["1", "2"]);
  }
});

await check("ioredis Cluster: MULTI/EXEC on one slot", async () => {
  const k = `{${tag}:tx}:a`;
  const res = await c.multi().set(k, "1").incr(k).hset(`{${tag}:tx}:h`, "f", "v").get(k).exec();
  assert.deepEqual(res, [
    [null, "OK"],
    [null, 2],
    [null, 1],
    [null, "2"],
  ]);
});

await check("ioredis Cluster: pipeline", async () => {
  const p = c.pipeline();
  for (let i = 0; i < 20; i++) p.set(`{${tag}:pipe}:${i}`, String(i));
  const res = await p.exec();
  assert.equal(res.length, 20);
  assert.equal(await c.get(`{${tag}:pipe}:19`), "19");
});

await check("ioredis Cluster: PUBLISH reaches a subscriber (over the bus)", async () => {
  const sub = new Redis.Cluster(startup, opts);
  closers.push(sub);
  const ch = `${tag}:news`;
  const got = new Promise((resolve) => sub.on("message", (chan, msg) => chan === ch && resolve(msg)));
  await sub.subscribe(ch);
  // Publish through every master: at least one is not the subscriber's node.
  const deadline = Date.now() + 10000;
  let msg;
  while (msg === undefined && Date.now() < deadline) {
    for (const n of c.nodes("master")) await n.publish(ch, "hello");
    msg = await Promise.race([got, new Promise((r) => setTimeout(() => r(undefined), 500))]);
  }
  assert.equal(msg, "hello");
});

await check("ioredis: SPUBLISH / SSUBSCRIBE on the slot's master", async () => {
  const ch = `${tag}:shard-news`;
  const slot = Number(await c.cluster("KEYSLOT", ch));
  const slots = await c.cluster("SLOTS");
  const range = slots.find(([lo, hi]) => slot >= lo && slot <= hi);
  assert.ok(range, `slot ${slot} not served`);
  const [mhost, mport] = range[2];
  const sub = new Redis({ host: mhost, port: mport });
  closers.push(sub);
  const got = new Promise((resolve) => sub.on("smessage", (chan, msg) => chan === ch && resolve(msg)));
  await sub.ssubscribe(ch);
  assert.ok((await c.spublish(ch, "s-hello")) >= 1);
  assert.equal(await withTimeout(got, 10000, "smessage"), "s-hello");
});

for (const x of closers) x.disconnect();
process.exit(failed ? 1 : 0);
