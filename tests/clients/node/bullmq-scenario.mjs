// BullMQ, one scenario for every place it runs: with ioredis against oxidis-server and
// redis-server (bullmq.mjs), and with oxidis's ioredis-style facade over the in-process wasm
// engine (web/tests/bullmq.test.mjs). A Queue connects (its INFO version check) and defines its
// Lua scripts; its getters and plain-command calls run on an empty queue. Then QueueEvents
// blocks in XREAD BLOCK on the events stream and sees every event below; queue.add() adds a
// job (a script that XADDs the 'waiting' event); a Worker (BZPOPMIN on the marker key over its
// own blocking connection, moveToActive/moveToFinished scripts) processes plain, delayed (300
// ms), retried (attempts 3, fixed backoff) and failing jobs; pause()/resume(); priorities,
// progress and logs, a flow (parent and children), a job scheduler, a stalled job recovered
// after its worker dies; getJobCounts(); a second
// QueueEvents replaying the events stream from 0; clean(), drain() and obliterate(). No timing
// assertion beyond a delayed job not running early (both times from the client's clock) and
// waits bounded at a generous 20 s.
//
// scenarios(bullmq, connection, admin) returns [name, async fn] pairs: `bullmq` is the module
// (each package installs its own copy), `connection` what `new Queue(name, { connection })`
// takes, `admin` an ioredis(-like) client on the same server for checks. The first pair creates
// the queue and flushes the server; the last closes the queue.

import assert from "node:assert/strict";
import { sleep, waitFor } from "./wait.mjs";

export function scenarios(bullmq, connection, admin) {
  const { Queue, Job, Worker, QueueEvents, FlowProducer } = bullmq;
  const cachedScripts = async () => Number(/number_of_cached_scripts:(\d+)/.exec(await admin.info("memory"))[1]);
  let queue, worker, queueEvents;
  // QueueEvents' events as they arrive: { event, jobId, ... }.
  const events = [];
  const findEvent = (event, jobId) => events.find((e) => e.event === event && e.jobId === jobId);
  const workerErrors = [];
  const queueEventsErrors = [];
  // The worker's processor: "double" returns { doubled: 2x }, "flaky" throws on its first
  // data.failures attempts, "doomed" always throws.
  const processor = async (job) => {
    if (job.name === "double") return { doubled: job.data.x * 2 };
    if (job.name === "flaky") {
      if (job.attemptsMade < job.data.failures) throw new Error(`flaky failure ${job.attemptsMade + 1}`);
      return `ok after ${job.attemptsMade + 1} attempts`;
    }
    if (job.name === "progress") {
      await job.updateProgress(50);
      await job.log("halfway");
      return "done";
    }
    // A flow's parent: its children's return values, sorted.
    if (job.name === "parent") return Object.values(await job.getChildrenValues()).map((v) => v.doubled).sort((a, b) => a - b);
    throw new Error("doomed to fail");
  };
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
        // Removed again: the worker below runs unlimited.
        await queue.removeGlobalConcurrency();
        await queue.removeGlobalRateLimit();
        assert.equal(await queue.getGlobalConcurrency(), null);
        assert.equal(await queue.getGlobalRateLimit(), null);
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
      "QueueEvents: connects and blocks in XREAD BLOCK on the events stream",
      async () => {
        queueEvents = new QueueEvents("oxidis-test", { connection });
        for (const name of ["waiting", "waiting-children", "active", "progress", "completed", "failed", "delayed", "paused", "resumed", "drained", "removed"]) {
          queueEvents.on(name, (args) => events.push({ event: name, ...(typeof args === "object" ? args : {}) }));
        }
        queueEvents.on("error", (e) => queueEventsErrors.push(e));
        await queueEvents.waitUntilReady();
        // QueueEvents reads from '$': it sees only events XADDed after its XREAD BLOCK is in. The
        // server lists the blocked connection (CLIENT LIST's cmd=xread, flags b).
        await waitFor("QueueEvents blocked in XREAD", async () =>
          /cmd=xread\b/.test(String(await admin.client("LIST"))) ? true : undefined,
        );
      },
    ],
    [
      "queue.add(): a waiting job (addStandardJob script, XADD of 'waiting' event)",
      async () => {
        const job = await queue.add("double", { x: 21 });
        assert.equal(job.id, "1");
        assert.equal(job.name, "double");
        assert.deepEqual(job.data, { x: 21 });
        assert.equal(await queue.getJobState(job.id), "waiting");
        assert.deepEqual(await queue.getJobCounts("waiting", "active", "completed"), { waiting: 1, active: 0, completed: 0 });
        const again = await Job.fromId(queue, job.id);
        assert.deepEqual(again.data, { x: 21 });
        assert.equal(again.attemptsMade, 0);
        await waitFor("QueueEvents 'waiting' for job 1", () => findEvent("waiting", "1"));
        // The events stream is a real stream on the server.
        assert.equal(await admin.type("bull:oxidis-test:events"), "stream");
        assert.ok((await admin.xlen("bull:oxidis-test:events")) >= 1);
      },
    ],
    [
      "Worker: processes the job (BZPOPMIN marker, moveToActive, moveToFinished); returnvalue and 'completed' event",
      async () => {
        worker = new Worker("oxidis-test", processor, { connection, drainDelay: 1 });
        worker.on("error", (e) => workerErrors.push(e));
        await worker.waitUntilReady();
        const completed = await waitFor("QueueEvents 'completed' for job 1", () => findEvent("completed", "1"));
        assert.deepEqual(completed.returnvalue, { doubled: 42 });
        assert.ok(findEvent("active", "1"), "no 'active' event for job 1");
        const job = await Job.fromId(queue, "1");
        assert.deepEqual(job.returnvalue, { doubled: 42 });
        assert.equal(job.attemptsMade, 1);
        assert.ok(job.finishedOn >= job.processedOn && job.processedOn >= job.timestamp);
        assert.equal(await queue.getJobState("1"), "completed");
        assert.deepEqual(await queue.getCompleted().then((jobs) => jobs.map((j) => j.id)), ["1"]);
      },
    ],
    [
      "a delayed job (delay: 300 ms) waits in the delayed set, then completes",
      async () => {
        const job = await queue.add("double", { x: 5 }, { delay: 300 });
        assert.equal(await queue.getJobState(job.id), "delayed");
        assert.equal((await queue.getJobCounts("delayed")).delayed, 1);
        const delayed = await waitFor(`QueueEvents 'delayed' for job ${job.id}`, () => findEvent("delayed", job.id));
        assert.equal(delayed.delay, job.timestamp + 300);
        const completed = await waitFor(`QueueEvents 'completed' for job ${job.id}`, () => findEvent("completed", job.id));
        assert.deepEqual(completed.returnvalue, { doubled: 10 });
        const done = await Job.fromId(queue, job.id);
        // Not run before its delay (both times are the client's clock).
        assert.ok(done.processedOn >= done.timestamp + 300, `processed ${done.processedOn - done.timestamp} ms after adding`);
        assert.equal((await queue.getJobCounts("delayed")).delayed, 0);
      },
    ],
    [
      "a retried job (attempts: 3, fixed backoff): fails twice, then succeeds",
      async () => {
        const job = await queue.add("flaky", { failures: 2 }, { attempts: 3, backoff: { type: "fixed", delay: 50 } });
        const completed = await waitFor(`QueueEvents 'completed' for job ${job.id}`, () => findEvent("completed", job.id));
        assert.deepEqual(completed.returnvalue, "ok after 3 attempts");
        const done = await Job.fromId(queue, job.id);
        assert.equal(done.attemptsMade, 3);
        assert.equal(done.returnvalue, "ok after 3 attempts");
        assert.equal(done.failedReason, "flaky failure 2");
        assert.equal(done.stacktrace.length, 2);
        // Each failure with attempts left is a 'delayed' event (the backoff), never 'failed'.
        assert.equal(events.filter((e) => e.event === "delayed" && e.jobId === job.id).length, 2);
        assert.equal(findEvent("failed", job.id), undefined);
        assert.equal(await queue.getJobState(job.id), "completed");
      },
    ],
    [
      "a job that fails every attempt (attempts: 2) ends failed; 'failed' event with its reason",
      async () => {
        const job = await queue.add("doomed", {}, { attempts: 2, backoff: { type: "fixed", delay: 20 } });
        const failed = await waitFor(`QueueEvents 'failed' for job ${job.id}`, () => findEvent("failed", job.id));
        assert.equal(failed.failedReason, "doomed to fail");
        await assert.rejects(job.waitUntilFinished(queueEvents), /doomed to fail/);
        const done = await Job.fromId(queue, job.id);
        assert.equal(done.attemptsMade, 2);
        assert.equal(done.failedReason, "doomed to fail");
        assert.equal(done.returnvalue, null);
        assert.equal(await queue.getJobState(job.id), "failed");
        assert.deepEqual(await queue.getFailed().then((jobs) => jobs.map((j) => j.id)), [job.id]);
      },
    ],
    [
      "pause(): a job added while paused is not processed; resume(): it is",
      async () => {
        await queue.pause();
        assert.equal(await queue.isPaused(), true);
        await waitFor("QueueEvents 'paused'", () => events.find((e) => e.event === "paused"));
        const job = await queue.add("double", { x: 1 });
        // A paused queue keeps its jobs in the wait list (the meta hash has paused=1).
        assert.equal(await queue.getJobState(job.id), "waiting");
        assert.equal(await admin.hget("bull:oxidis-test:meta", "paused"), "1");
        // The worker is running but takes nothing from a paused queue.
        await sleep(300);
        assert.equal(await queue.getJobState(job.id), "waiting");
        assert.equal(findEvent("active", job.id), undefined);
        await queue.resume();
        assert.equal(await queue.isPaused(), false);
        await waitFor("QueueEvents 'resumed'", () => events.find((e) => e.event === "resumed"));
        const completed = await waitFor(`QueueEvents 'completed' for job ${job.id}`, () => findEvent("completed", job.id));
        assert.deepEqual(completed.returnvalue, { doubled: 2 });
      },
    ],
    [
      "priorities: jobs added to a paused queue are prioritized, then processed by priority",
      async () => {
        await queue.pause();
        const p3 = await queue.add("double", { x: 3 }, { priority: 3 });
        const p1 = await queue.add("double", { x: 1 }, { priority: 1 });
        const p2 = await queue.add("double", { x: 2 }, { priority: 2 });
        assert.equal(await queue.getJobState(p1.id), "prioritized");
        assert.equal((await queue.getJobCounts("prioritized")).prioritized, 3);
        assert.deepEqual(await queue.getCountsPerPriority([1, 2, 3]), { 1: 1, 2: 1, 3: 1 });
        assert.deepEqual((await queue.getPrioritized()).map((j) => j.id), [p1.id, p2.id, p3.id]);
        await queue.resume();
        for (const job of [p1, p2, p3]) {
          await waitFor(`QueueEvents 'completed' for job ${job.id}`, () => findEvent("completed", job.id));
        }
        const order = events.filter((e) => e.event === "active" && [p1.id, p2.id, p3.id].includes(e.jobId));
        assert.deepEqual(order.map((e) => e.jobId), [p1.id, p2.id, p3.id]);
        assert.equal((await queue.getJobCounts("prioritized")).prioritized, 0);
      },
    ],
    [
      "job progress and logs: 'progress' event, getJobLogs()",
      async () => {
        const job = await queue.add("progress", {});
        const progress = await waitFor(`QueueEvents 'progress' for job ${job.id}`, () => findEvent("progress", job.id));
        assert.equal(progress.data, 50);
        const completed = await waitFor(`QueueEvents 'completed' for job ${job.id}`, () => findEvent("completed", job.id));
        assert.equal(completed.returnvalue, "done");
        assert.equal((await Job.fromId(queue, job.id)).progress, 50);
        assert.deepEqual(await queue.getJobLogs(job.id), { logs: ["halfway"], count: 1 });
      },
    ],
    [
      "a flow (FlowProducer): the parent waits for its two children, then gets their values",
      async () => {
        const flow = new FlowProducer({ connection });
        const tree = await flow.add({
          name: "parent",
          queueName: "oxidis-test",
          children: [
            { name: "double", data: { x: 10 }, queueName: "oxidis-test" },
            { name: "double", data: { x: 20 }, queueName: "oxidis-test" },
          ],
        });
        assert.equal(tree.children.length, 2);
        const completed = await waitFor(`QueueEvents 'completed' for the parent ${tree.job.id}`, () =>
          findEvent("completed", tree.job.id),
        );
        assert.deepEqual(completed.returnvalue, [20, 40]);
        for (const child of tree.children) assert.equal(await queue.getJobState(child.job.id), "completed");
        const parent = await Job.fromId(queue, tree.job.id);
        assert.deepEqual(await parent.getDependenciesCount(), { processed: 2, unprocessed: 0, failed: 0, ignored: 0 });
        await flow.close();
      },
    ],
    [
      "getJobCounts() after the worker's jobs",
      async () => {
        assert.deepEqual(await queue.getJobCounts(), {
          active: 0,
          completed: 11,
          delayed: 0,
          failed: 1,
          prioritized: 0,
          waiting: 0,
          "waiting-children": 0,
        });
        assert.deepEqual(workerErrors, []);
      },
    ],
    [
      "a job scheduler (every 200 ms) makes jobs the worker completes; removeJobScheduler() stops it",
      async () => {
        await queue.upsertJobScheduler("tick", { every: 200 }, { name: "double", data: { x: 50 } });
        const ticks = () => events.filter((e) => e.event === "completed" && String(e.jobId).startsWith("repeat:tick:"));
        await waitFor("two scheduled jobs completed", () => (ticks().length >= 2 ? true : undefined));
        assert.deepEqual(ticks()[0].returnvalue, { doubled: 100 });
        assert.equal(await queue.removeJobScheduler("tick"), true);
        assert.deepEqual(await queue.getJobSchedulers(), []);
        // Whatever the scheduler had queued is gone or done.
        await waitFor("no scheduled job left", async () => {
          const c = await queue.getJobCounts("waiting", "active", "delayed");
          return c.waiting + c.active + c.delayed === 0 ? true : undefined;
        });
      },
    ],
    [
      "a second QueueEvents with lastEventId 0 replays the events stream's history (XREAD from 0)",
      async () => {
        const replay = new QueueEvents("oxidis-test", { connection, lastEventId: "0" });
        const seen = [];
        replay.on("completed", ({ jobId, returnvalue }) => seen.push([jobId, returnvalue]));
        await waitFor("the replayed 'completed' of job 1", () => seen.find(([id]) => id === "1"));
        assert.deepEqual(seen[0], ["1", { doubled: 42 }]);
        await replay.close();
      },
    ],
    [
      "a stalled job: its worker dies (close(true)) mid-job, the lock expires, another worker recovers it",
      async () => {
        // A queue of its own, so the scenario's worker does not take the job.
        const name = "oxidis-stall";
        const stallQueue = new Queue(name, { connection });
        const stallEvents = new QueueEvents(name, { connection });
        const seen = [];
        for (const e of ["active", "stalled", "completed"]) stallEvents.on(e, ({ jobId }) => seen.push([e, jobId]));
        await stallEvents.waitUntilReady();
        // Its connection is named after the queue (bull:<base64 name>:qe).
        const named = ` name=bull:${Buffer.from(name).toString("base64")}`;
        await waitFor("the stall queue's QueueEvents blocked in XREAD", async () =>
          String(await admin.client("LIST"))
            .split("\n")
            .some((l) => l.includes(named) && / cmd=xread /.test(l))
            ? true
            : undefined,
        );
        let started;
        const begun = new Promise((resolve) => (started = resolve));
        const opts = { connection, lockDuration: 1000, stalledInterval: 300 };
        const dying = new Worker(name, () => (started(), new Promise(() => {})), opts);
        const job = await stallQueue.add("hang", {});
        await begun;
        assert.equal(await stallQueue.getJobState(job.id), "active");
        // Force-closed: the job is left active, its lock (1 s) no longer extended.
        await dying.close(true);
        assert.equal(await stallQueue.getJobState(job.id), "active");
        const rescuer = new Worker(name, async () => "recovered", opts);
        await waitFor("the stalled job completed", () => seen.find(([e, id]) => e === "completed" && id === job.id));
        assert.deepEqual(seen, [
          ["active", job.id],
          ["stalled", job.id],
          ["active", job.id],
          ["completed", job.id],
        ]);
        const done = await Job.fromId(stallQueue, job.id);
        assert.equal(done.returnvalue, "recovered");
        assert.equal(done.stalledCounter, 1);
        await rescuer.close();
        await stallEvents.close();
        await stallQueue.obliterate({ force: true });
        await stallQueue.close();
        assert.deepEqual(await admin.keys(`bull:${name}:*`), []);
      },
    ],
    [
      "worker.close() and queueEvents.close() (their blocked XREAD/BZPOPMIN connections end)",
      async () => {
        await worker.close();
        await queueEvents.close();
        // Closing is quiet: a connection closed under a blocked call is not an error.
        assert.deepEqual(workerErrors, []);
        assert.deepEqual(queueEventsErrors, []);
      },
    ],
    [
      "clean(): completed jobs removed, failed ones kept",
      async () => {
        // The 11 jobs above and the scheduler's (two or more).
        const removed = await queue.clean(0, 1000, "completed");
        assert.ok(removed.length >= 13, `${removed.length} removed`);
        assert.deepEqual(await queue.getJobCounts("completed", "failed"), { completed: 0, failed: 1 });
        assert.equal(await Job.fromId(queue, "1"), undefined);
      },
    ],
    [
      "drain(): waiting and delayed jobs removed",
      async () => {
        await queue.addBulk([
          { name: "double", data: { x: 1 } },
          { name: "double", data: { x: 2 } },
        ]);
        await queue.add("double", { x: 3 }, { delay: 60000 });
        assert.deepEqual(await queue.getJobCounts("waiting", "delayed"), { waiting: 2, delayed: 1 });
        await queue.drain(true);
        assert.deepEqual(await queue.getJobCounts("waiting", "delayed", "completed", "failed"), {
          waiting: 0,
          delayed: 0,
          completed: 0,
          failed: 1,
        });
      },
    ],
    [
      "obliterate(): every key of the queue is gone; getJobCounts() all zero",
      async () => {
        await queue.add("double", { x: 4 });
        await queue.obliterate({ force: true });
        assert.deepEqual(await admin.keys("bull:oxidis-test:*"), []);
        const counts = await queue.getJobCounts();
        assert.ok(Object.values(counts).every((n) => n === 0), JSON.stringify(counts));
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
