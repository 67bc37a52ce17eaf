// A real rate limiter in-process: rate-limiter-flexible's RateLimiterRedis with the facade as its
// storeClient (it calls defineCommand, the defined method, multi() and del() on it). The scenario
// is the one tests/clients/node/ratelimit.mjs runs with ioredis against oxidis-server and
// redis-server; a manual clock then checks what a real one cannot: exact TTLs and the window
// ending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis, { Engine } from 'oxidis';
import rlf from 'rate-limiter-flexible';
import { scenarios } from '../../tests/clients/node/ratelimit-scenario.mjs';

const { RateLimiterRedis, RateLimiterRes } = rlf;
const T0 = 1_700_000_000_000;

const client = new Redis({ engine: new Engine({ clock: 'manual', time: T0, seed: 1 }) });
for (const [name, f] of scenarios(rlf, client)) test(`rate-limiter-flexible on the facade: ${name}`, f);

test('rate-limiter-flexible on a manual clock: exact msBeforeNext, the window ends, EVAL then EVALSHA', async () => {
  const engine = new Engine({ clock: 'manual', time: T0, seed: 1 });
  const redis = new Redis({ engine });
  const sent = [];
  const conn = redis.connection;
  // The facade runs a command through the connection's _callList (the direct path).
  const call = conn._callList.bind(conn);
  conn._callList = (args, buffer) => {
    sent.push(String(args[0]));
    return call(args, buffer);
  };
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix: 'm', points: 2, duration: 10 });
  assert.equal(typeof redis.rlflxIncr, 'function');
  assert.equal((await limiter.consume('k')).msBeforeNext, 10_000);
  engine.advance(2_500);
  const second = await limiter.consume('k');
  assert.deepEqual([second.consumedPoints, second.msBeforeNext], [2, 7_500]);
  engine.advance(1_000);
  let over;
  await limiter.consume('k').catch((e) => (over = e));
  assert.ok(over instanceof RateLimiterRes);
  assert.deepEqual([over.consumedPoints, over.remainingPoints, over.msBeforeNext], [3, 0, 6_500]);
  engine.advance(6_500);
  const fresh = await limiter.consume('k');
  assert.deepEqual([fresh.consumedPoints, fresh.msBeforeNext, fresh.isFirstInDuration], [1, 10_000, true]);
  // ioredis's way: EVAL on the connection's first call, EVALSHA after; NOSCRIPT brings EVAL back.
  assert.deepEqual(sent, ['EVAL', 'EVALSHA', 'EVALSHA', 'EVALSHA']);
  await redis.script('flush');
  sent.length = 0;
  assert.equal((await limiter.consume('k')).consumedPoints, 2);
  assert.deepEqual(sent, ['EVALSHA', 'EVAL']);
  engine.free();
});
