// rate-limiter-flexible's RateLimiterRedis as an app uses it, one scenario for every store it
// runs against: ioredis on oxidis-server and on redis-server (ratelimit.mjs), and oxidis's
// ioredis-style facade over the in-process wasm engine (web/tests/ratelimit.test.mjs).
//
// RateLimiterRedis calls, on an ioredis(-like) client: defineCommand('rlflxIncr', { numberOfKeys:
// 1, lua }) and then rlflxIncr([key, points, secDuration, ...]) (EVAL on a connection's first call,
// EVALSHA afterwards, EVAL again after NOSCRIPT), multi().set(key, n, 'EX', s).pttl(key).exec(true)
// to block a key, multi().get(key).pttl(key).exec() for get(), and del(key) for delete().
//
// scenarios(rlf, client) returns [name, async fn] pairs; `rlf` is the rate-limiter-flexible
// module (passed in: each package installs its own copy), `client` the store client. The checks
// hold whatever the clock does meanwhile (durations are a minute or more): no timing assertion.

import assert from 'node:assert/strict';

export function scenarios(rlf, client) {
  const { RateLimiterRedis, RateLimiterRes } = rlf;
  const limiter = (opts) => new RateLimiterRedis({ storeClient: client, keyPrefix: 'rlf', ...opts });
  const rejected = async (promise) => {
    try {
      await promise;
    } catch (res) {
      assert.ok(res instanceof RateLimiterRes, `rejected with ${res && res.stack ? res.stack : res}`);
      return res;
    }
    throw new Error('the limiter let it through');
  };
  const inWindow = (ms, max) => assert.ok(ms > 0 && ms <= max, `msBeforeNext ${ms} not in (0, ${max}]`);
  const five = limiter({ points: 5, duration: 60 });

  return [
    [
      'consume within the limit',
      async () => {
        await client.flushall();
        for (let i = 1; i <= 5; i++) {
          const res = await five.consume('alice');
          assert.equal(res.consumedPoints, i);
          assert.equal(res.remainingPoints, 5 - i);
          assert.equal(res.isFirstInDuration, i === 1);
          inWindow(res.msBeforeNext, 60_000);
        }
        // The script's effect on the server: a counter with the window as its TTL.
        assert.equal(await client.get('rlf:alice'), '5');
        inWindow(await client.pttl('rlf:alice'), 60_000);
      },
    ],
    [
      'over the limit: rejected with msBeforeNext',
      async () => {
        const res = await rejected(five.consume('alice'));
        assert.equal(res.consumedPoints, 6);
        assert.equal(res.remainingPoints, 0);
        inWindow(res.msBeforeNext, 60_000);
        const two = await rejected(five.consume('alice', 2));
        assert.equal(two.consumedPoints, 8);
      },
    ],
    [
      'two keys are independent',
      async () => {
        const res = await five.consume('bob');
        assert.equal(res.consumedPoints, 1);
        assert.equal(res.remainingPoints, 4);
        await rejected(five.consume('alice'));
      },
    ],
    [
      'get, reward, penalty, delete',
      async () => {
        const got = await five.get('alice');
        assert.equal(got.consumedPoints, 9);
        inWindow(got.msBeforeNext, 60_000);
        assert.equal(await five.get('nobody'), null);
        assert.equal((await five.reward('alice', 6)).consumedPoints, 3);
        assert.equal((await five.consume('alice')).consumedPoints, 4);
        assert.equal((await five.penalty('bob', 2)).consumedPoints, 3);
        assert.equal(await five.delete('alice'), true);
        assert.equal(await five.delete('alice'), false);
        assert.equal(await five.get('alice'), null);
        assert.equal((await five.consume('alice')).consumedPoints, 1);
      },
    ],
    [
      'the script runs again after SCRIPT FLUSH (EVALSHA, NOSCRIPT, EVAL)',
      async () => {
        assert.equal(await client.script('flush'), 'OK');
        assert.equal((await five.consume('carol')).consumedPoints, 1);
        assert.equal((await five.consume('carol')).consumedPoints, 2);
      },
    ],
    [
      'blockDuration: a key over the limit is blocked for longer than its window',
      async () => {
        const blocking = limiter({ keyPrefix: 'rlf-block', points: 2, duration: 10, blockDuration: 120 });
        await blocking.consume('dave');
        await blocking.consume('dave');
        const res = await rejected(blocking.consume('dave'));
        assert.equal(res.msBeforeNext, 120_000);
        // The key now lives for the block duration, past the 10 s window.
        const got = await blocking.get('dave');
        assert.equal(got.consumedPoints, 3);
        assert.ok(got.msBeforeNext > 10_000 && got.msBeforeNext <= 120_000, `blocked for ${got.msBeforeNext} ms`);
        const again = await rejected(blocking.consume('dave'));
        assert.ok(again.msBeforeNext > 10_000, `still blocked: ${again.msBeforeNext} ms`);
        // block() directly: blocks a fresh key for the given time.
        await blocking.block('erin', 300);
        inWindow((await blocking.get('erin')).msBeforeNext, 300_000);
        assert.ok((await blocking.get('erin')).msBeforeNext > 120_000);
      },
    ],
    [
      'duration 0: points never expire (MULTI INCRBY + PTTL)',
      async () => {
        const forever = limiter({ keyPrefix: 'rlf-forever', points: 1, duration: 0 });
        const res = await forever.consume('frank');
        assert.equal(res.consumedPoints, 1);
        assert.equal(res.msBeforeNext, -1);
        const over = await rejected(forever.consume('frank'));
        assert.equal(over.consumedPoints, 2);
        assert.equal(await client.pttl('rlf-forever:frank'), -1);
      },
    ],
  ];
}
