// A consumer group's crash recovery over real sockets, with ioredis: node streams-recovery.mjs
// HOST:PORT. A producer XADDs jobs; consumer A reads some with XREADGROUP and dies (its
// connection is closed without XACK); consumer B reads the rest, then takes A's entries with
// XAUTOCLAIM once they are idle long enough, processes and XACKs them, and XPENDING ends empty.
// A consumer that dies while blocked in XREADGROUP BLOCK gets nothing delivered after its death.
// Prints "ok NAME" / "FAILED NAME: ..." per check; exits non-zero if any failed. The same checks
// run against redis-server and oxidis-server.

import assert from "node:assert/strict";
import Redis from "ioredis";
import { sleep, waitFor } from "./wait.mjs";

const [host, portText] = (process.argv[2] || "127.0.0.1:6379").split(":");
const options = { host, port: Number(portText), maxRetriesPerRequest: null };
const KEY = "recovery:jobs";
const GROUP = "workers";
// A's entries are claimed once idle this long (XPENDING IDLE tells when they are).
const MIN_IDLE = 200;

/** A connection named `name` (CLIENT SETNAME), ready. */
async function connect(name) {
  const c = new Redis({ ...options, connectionName: name });
  await c.ping();
  return c;
}

/** Waits until the server no longer lists a connection named `name`. */
const gone = (name) =>
  waitFor(`${name}'s connection to close`, async () =>
    String(await admin.client("LIST")).includes(` name=${name} `) ? undefined : true,
  );

const admin = await connect("admin");
const producer = await connect("producer");
let consumerA, consumerB;
const ids = [];
// The entries XAUTOCLAIM hands to B.
let claimed;

const checks = [
  [
    "producer: XGROUP CREATE ... MKSTREAM, XADD 10 jobs",
    async () => {
      await admin.del(KEY);
      assert.equal(await producer.xgroup("CREATE", KEY, GROUP, "$", "MKSTREAM"), "OK");
      for (let i = 0; i < 10; i++) ids.push(await producer.xadd(KEY, "*", "job", `job-${i}`));
      assert.equal(await admin.xlen(KEY), 10);
      assert.deepEqual(await admin.xinfo("GROUPS", KEY), [
        ["name", GROUP, "consumers", 0, "pending", 0, "last-delivered-id", "0-0", "entries-read", null, "lag", 10],
      ]);
    },
  ],
  [
    "consumer A: XREADGROUP COUNT 4, XACK one, dies without acking the other three",
    async () => {
      consumerA = await connect("consumer-A");
      const [[stream, entries]] = await consumerA.xreadgroup("GROUP", GROUP, "A", "COUNT", 4, "STREAMS", KEY, ">");
      assert.equal(stream, KEY);
      assert.deepEqual(
        entries,
        ids.slice(0, 4).map((id, i) => [id, ["job", `job-${i}`]]),
      );
      assert.equal(await consumerA.xack(KEY, GROUP, ids[0]), 1);
      consumerA.disconnect();
      await gone("consumer-A");
      assert.deepEqual(await admin.xpending(KEY, GROUP), [3, ids[1], ids[3], [["A", "3"]]]);
    },
  ],
  [
    "consumer B: XREADGROUP the other six, XACK them; A's three stay pending",
    async () => {
      consumerB = await connect("consumer-B");
      const [[, entries]] = await consumerB.xreadgroup("GROUP", GROUP, "B", "COUNT", 100, "STREAMS", KEY, ">");
      assert.deepEqual(
        entries.map(([id]) => id),
        ids.slice(4),
      );
      assert.equal(await consumerB.xack(KEY, GROUP, ...ids.slice(4)), 6);
      // Nothing new for B; A's entries are not redelivered by '>'.
      assert.equal(await consumerB.xreadgroup("GROUP", GROUP, "B", "COUNT", 100, "STREAMS", KEY, ">"), null);
      const pending = await admin.xpending(KEY, GROUP, "-", "+", 10);
      assert.deepEqual(
        pending.map(([id, consumer, , deliveries]) => [id, consumer, deliveries]),
        ids.slice(1, 4).map((id) => [id, "A", 1]),
      );
    },
  ],
  [
    "XAUTOCLAIM with a min-idle-time the entries have not reached claims nothing",
    async () => {
      assert.deepEqual(await consumerB.xautoclaim(KEY, GROUP, "B", 3600000, "0-0", "COUNT", 10), ["0-0", [], []]);
    },
  ],
  [
    "one of A's entries is deleted (XDEL) before the claim",
    async () => {
      assert.equal(await producer.xdel(KEY, ids[2]), 1);
      assert.equal(await admin.xlen(KEY), 9);
    },
  ],
  [
    `consumer B: XAUTOCLAIM min-idle ${MIN_IDLE} ms takes A's entries (7.0's third element: the deleted one)`,
    async () => {
      // XPENDING's IDLE filter says when all three are idle long enough.
      await waitFor(`A's entries idle ${MIN_IDLE} ms`, async () =>
        (await admin.xpending(KEY, GROUP, "IDLE", MIN_IDLE, "-", "+", 10)).length === 3 ? true : undefined,
      );
      claimed = await consumerB.xautoclaim(KEY, GROUP, "B", MIN_IDLE, "0-0", "COUNT", 10);
      assert.deepEqual(claimed, [
        "0-0",
        [
          [ids[1], ["job", "job-1"]],
          [ids[3], ["job", "job-3"]],
        ],
        [ids[2]],
      ]);
      const pending = await admin.xpending(KEY, GROUP, "-", "+", 10);
      assert.deepEqual(
        pending.map(([id, consumer, , deliveries]) => [id, consumer, deliveries]),
        [
          [ids[1], "B", 2],
          [ids[3], "B", 2],
        ],
      );
      // B's history (ID 0 instead of '>') now holds the claimed entries.
      const [[, history]] = await consumerB.xreadgroup("GROUP", GROUP, "B", "STREAMS", KEY, "0");
      assert.deepEqual(history, claimed[1]);
    },
  ],
  [
    "consumer B: processes and XACKs the claimed entries; XPENDING is empty",
    async () => {
      assert.equal(await consumerB.xack(KEY, GROUP, ...claimed[1].map(([id]) => id)), 2);
      assert.deepEqual(await admin.xpending(KEY, GROUP), [0, null, null, null]);
      assert.deepEqual(await admin.xpending(KEY, GROUP, "-", "+", 10), []);
      const consumers = await admin.xinfo("CONSUMERS", KEY, GROUP);
      assert.deepEqual(
        consumers.map((c) => [c[1], c[3]]),
        [
          ["A", 0],
          ["B", 0],
        ],
      );
      assert.equal(await admin.xgroup("DELCONSUMER", KEY, GROUP, "A"), 0);
      const [group] = await admin.xinfo("GROUPS", KEY);
      assert.deepEqual(group.slice(0, 8), ["name", GROUP, "consumers", 1, "pending", 0, "last-delivered-id", ids[9]]);
    },
  ],
  [
    "consumer C dies while blocked in XREADGROUP BLOCK 0: the next entry goes to B, not to C",
    async () => {
      const consumerC = await connect("consumer-C");
      const blocked = consumerC.xreadgroup("GROUP", GROUP, "C", "BLOCK", 0, "STREAMS", KEY, ">").catch((e) => e);
      await waitFor("C blocked in XREADGROUP", async () =>
        / name=consumer-C .*cmd=xreadgroup/.test(String(await admin.client("LIST"))) ? true : undefined,
      );
      consumerC.disconnect();
      assert.match(String(await blocked), /Connection is closed/);
      await gone("consumer-C");
      const id = await producer.xadd(KEY, "*", "job", "job-10");
      assert.deepEqual(await admin.xpending(KEY, GROUP), [0, null, null, null]);
      const [[, entries]] = await consumerB.xreadgroup("GROUP", GROUP, "B", "STREAMS", KEY, ">");
      assert.deepEqual(entries, [[id, ["job", "job-10"]]]);
      assert.equal(await consumerB.xack(KEY, GROUP, id), 1);
      assert.deepEqual(await admin.xpending(KEY, GROUP), [0, null, null, null]);
    },
  ],
  [
    "consumer B blocked in XREADGROUP BLOCK is woken by the producer's XADD",
    async () => {
      const blocked = consumerB.xreadgroup("GROUP", GROUP, "B", "BLOCK", 0, "STREAMS", KEY, ">");
      await waitFor("B blocked in XREADGROUP", async () =>
        / name=consumer-B .*cmd=xreadgroup/.test(String(await admin.client("LIST"))) ? true : undefined,
      );
      const id = await producer.xadd(KEY, "*", "job", "job-11");
      assert.deepEqual(await blocked, [[KEY, [[id, ["job", "job-11"]]]]]);
      assert.equal(await consumerB.xack(KEY, GROUP, id), 1);
      assert.deepEqual(await admin.xpending(KEY, GROUP), [0, null, null, null]);
    },
  ],
];

let passed = 0;
let failed = 0;
for (const [name, f] of checks) {
  try {
    await f();
    passed++;
    console.log(`ok streams: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED streams: ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
await admin.del(KEY);
for (const c of [admin, producer, consumerB]) c?.disconnect();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
