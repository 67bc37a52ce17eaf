// BullMQ as far as it runs without streams, one scenario for every place it runs: with ioredis
// against oxidis-server and redis-server (bullmq.mjs), and with oxidis's ioredis-style facade
// over the in-process wasm engine (web/tests/bullmq.test.mjs). A Queue connects (its INFO version
// check) and defines its Lua scripts; the getters whose scripts call no stream command
// (getCounts, getCountsPerPriority, getRanges, getState, getMetrics, getRateLimitTtl) run, as do
// the plain-command ones (queue meta hash, CLIENT LIST, job schedulers). Adding a job (its
// script XADDs to the events stream), workers, QueueEvents (XREAD), pause and obliterate need
// streams and are left out until the engine has them.
//
// scenarios(bullmq, connection, admin) returns [name, async fn] pairs: `bullmq` is the module
// (each package installs its own copy), `connection` what `new Queue(name, { connection })`
// takes, `admin` an ioredis(-like) client on the same server for checks. The first pair creates
// the queue and flushes the server; the last closes the queue.

import assert from "node:assert/strict";

export function scenarios(bullmq, connection, admin) {
  const { Queue, Job } = bullmq;
  const cachedScripts = async () => Number(/number_of_cached_scripts:(\d+)/.exec(await admin.info("memory"))[1]);
  let queue;
  return [
    [
      "new Queue(...) and waitUntilReady(): INFO version check, scripts defined",
      async () => {
        await admin.flushall();
        await admin.script("flush");
        queue = new Queue("oxidis-test", { connection });
        await queue.waitUntilReady();
        const backend = queue.getBackend();
        assert.equal(backend.redisVersion, "7.0.15");
        // Every Lua script of BullMQ is an ioredis defined command on the queue's connection.
        const client = await backend.client;
        assert.ok(Object.keys(client.scriptsSet).length >= 30, `${Object.keys(client.scriptsSet).length} scripts defined`);
        assert.ok(Object.keys(client.scriptsSet).some((name) => name.startsWith("getCounts:")));
        assert.equal(await queue.isPaused(), false);
      },
    ],
    [
      "getJobCounts() (getCounts script) on an empty queue",
      async () => {
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
      },
    ],
    [
      "getCountsPerPriority() (getCountsPerPriority script)",
      async () => {
        assert.deepEqual(await queue.getCountsPerPriority([0, 1, 5]), { 0: 0, 1: 0, 5: 0 });
      },
    ],
    [
      "getJobs(), getWaiting(), getFailed() (getRanges script)",
      async () => {
        assert.deepEqual(await queue.getJobs(), []);
        assert.deepEqual(await queue.getJobs(["completed", "failed"], 0, 10, true), []);
        assert.deepEqual(await queue.getWaiting(), []);
        assert.deepEqual(await queue.getFailed(), []);
      },
    ],
    [
      "getJobState() of an unknown job (getState script); Job.fromId",
      async () => {
        assert.equal(await queue.getJobState("no-such-job"), "unknown");
        assert.equal(await Job.fromId(queue, "no-such-job"), undefined);
      },
    ],
    [
      "getMetrics() (getMetrics script)",
      async () => {
        const m = await queue.getMetrics("completed");
        assert.deepEqual(m, { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [], count: 0 });
      },
    ],
    [
      "getRateLimitTtl() (getRateLimitTtl script)",
      async () => {
        // No limiter key: PTTL's -2; with maxJobs, 0 (not rate limited).
        assert.equal(await queue.getRateLimitTtl(), -2);
        assert.equal(await queue.getRateLimitTtl(10), 0);
      },
    ],
    [
      "global concurrency and rate limit (queue meta hash)",
      async () => {
        assert.equal(await queue.getGlobalConcurrency(), null);
        await queue.setGlobalConcurrency(3);
        assert.equal(await queue.getGlobalConcurrency(), 3);
        await queue.setGlobalRateLimit(10, 1000);
        assert.deepEqual(await queue.getGlobalRateLimit(), { max: 10, duration: 1000 });
      },
    ],
    [
      "getWorkers() (CLIENT LIST) and getJobSchedulers()",
      async () => {
        assert.deepEqual(await queue.getWorkers(), []);
        assert.deepEqual(await queue.getJobSchedulers(), []);
        assert.equal(await queue.getJobSchedulersCount(), 0);
      },
    ],
    [
      "after SCRIPT FLUSH the scripts run again (EVALSHA, NOSCRIPT, EVAL)",
      async () => {
        await admin.script("flush");
        assert.equal(await cachedScripts(), 0);
        assert.equal(await queue.count(), 0);
        assert.ok((await cachedScripts()) >= 1);
      },
    ],
    [
      "close()",
      async () => {
        await queue.close();
      },
    ],
  ];
}
