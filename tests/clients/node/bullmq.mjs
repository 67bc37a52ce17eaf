// BullMQ (with ioredis) against a server: node bullmq.mjs HOST:PORT. What runs without streams:
// a Queue connects (its INFO version check), defines its Lua scripts, and the getters that run
// scripts which call no stream command (getCounts, getCountsPerPriority, getRanges, getState,
// getMetrics, getRateLimitTtl) and the plain-command ones (meta hash, CLIENT LIST, schedulers).
// Adding a job (XADD to the events stream), workers, QueueEvents (XREAD), pause and obliterate
// need streams and are not here yet. Prints "ok NAME" / "FAILED NAME: ..." per check.

import { Queue, Job } from "bullmq";
import Redis from "ioredis";
import assert from "node:assert/strict";

const [host, portText] = (process.argv[2] || "127.0.0.1:6379").split(":");
const connection = { host, port: Number(portText), maxRetriesPerRequest: null };
const admin = new Redis(connection);

let passed = 0;
let failed = 0;
async function check(name, f) {
  try {
    await f();
    passed++;
    console.log(`ok bullmq: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED bullmq: ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const cachedScripts = async () => Number(/number_of_cached_scripts:(\d+)/.exec(await admin.info("memory"))[1]);

await admin.flushall();
await admin.script("flush");
const queue = new Queue("oxidis-test", { connection });

await check("new Queue(...) and waitUntilReady(): INFO version check, scripts defined", async () => {
  await queue.waitUntilReady();
  const backend = queue.getBackend();
  assert.equal(backend.redisVersion, "7.0.15");
  // Every Lua script of BullMQ is an ioredis defined command on the queue's connection.
  const client = await backend.client;
  assert.ok(Object.keys(client.scriptsSet).length >= 30, `${Object.keys(client.scriptsSet).length} scripts defined`);
  assert.ok(Object.keys(client.scriptsSet).some((name) => name.startsWith("getCounts:")));
  assert.equal(await queue.isPaused(), false);
});

await check("getJobCounts() (getCounts script) on an empty queue", async () => {
  const counts = await queue.getJobCounts();
  assert.deepEqual(counts, {
    active: 0,
    completed: 0,
    delayed: 0,
    failed: 0,
    prioritized: 0,
    waiting: 0,
    "waiting-children": 0,
  });
  assert.deepEqual(await queue.getJobCounts("waiting", "failed"), { waiting: 0, failed: 0 });
  assert.equal(await queue.count(), 0);
  // The scripts ran on the server: it has them in its cache now.
  assert.ok((await cachedScripts()) >= 1, "no script cached on the server");
});

await check("getCountsPerPriority() (getCountsPerPriority script)", async () => {
  assert.deepEqual(await queue.getCountsPerPriority([0, 1, 5]), { 0: 0, 1: 0, 5: 0 });
});

await check("getJobs(), getWaiting(), getFailed() (getRanges script)", async () => {
  assert.deepEqual(await queue.getJobs(), []);
  assert.deepEqual(await queue.getJobs(["completed", "failed"], 0, 10, true), []);
  assert.deepEqual(await queue.getWaiting(), []);
  assert.deepEqual(await queue.getFailed(), []);
});

await check("getJobState() of an unknown job (getState script); Job.fromId", async () => {
  assert.equal(await queue.getJobState("no-such-job"), "unknown");
  assert.equal(await Job.fromId(queue, "no-such-job"), undefined);
});

await check("getMetrics() (getMetrics script)", async () => {
  const m = await queue.getMetrics("completed");
  assert.deepEqual(m, { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [], count: 0 });
});

await check("getRateLimitTtl() (getRateLimitTtl script)", async () => {
  // No limiter key: PTTL's -2; with maxJobs, 0 (not rate limited).
  assert.equal(await queue.getRateLimitTtl(), -2);
  assert.equal(await queue.getRateLimitTtl(10), 0);
});

await check("global concurrency and rate limit (queue meta hash)", async () => {
  assert.equal(await queue.getGlobalConcurrency(), null);
  await queue.setGlobalConcurrency(3);
  assert.equal(await queue.getGlobalConcurrency(), 3);
  await queue.setGlobalRateLimit(10, 1000);
  assert.deepEqual(await queue.getGlobalRateLimit(), { max: 10, duration: 1000 });
});

await check("getWorkers() (CLIENT LIST) and getJobSchedulers()", async () => {
  assert.deepEqual(await queue.getWorkers(), []);
  assert.deepEqual(await queue.getJobSchedulers(), []);
  assert.equal(await queue.getJobSchedulersCount(), 0);
});

await check("the script cache survives SCRIPT FLUSH (EVALSHA, NOSCRIPT, EVAL)", async () => {
  await admin.script("flush");
  assert.equal(await cachedScripts(), 0);
  assert.equal(await queue.count(), 0);
  assert.ok((await cachedScripts()) >= 1);
});

await check("close()", async () => {
  await queue.close();
});

admin.disconnect();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
