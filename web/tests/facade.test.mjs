// The ioredis-style facade: calling conventions as in ioredis's README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis, { Engine, ReplyError } from 'oxidis';

const fresh = () => new Redis({ engine: new Engine({ clock: 'manual', time: 1_700_000_000_000, seed: 1 }) });

test('commands as promise-returning methods, ioredis reply shapes', async () => {
  const redis = fresh();
  assert.equal(redis.status, 'ready');
  assert.equal(await redis.set('k', 'v', 'EX', 10), 'OK');
  assert.equal(await redis.get('k'), 'v');
  assert.equal(await redis.ttl('k'), 10);
  assert.equal(await redis.get('nope'), null);
  assert.equal(await redis.incr('n'), 1);
  assert.equal(await redis.incrby('n', 5), 6);
  assert.equal(await redis.lpush('l', 'a', 'b'), 2);
  assert.deepEqual(await redis.lrange('l', 0, -1), ['b', 'a']);
  assert.equal(await redis.zadd('z', 1, 'one', 2, 'two'), 2);
  assert.deepEqual(await redis.zrange('z', 0, -1, 'WITHSCORES'), ['one', '1', 'two', '2']);
  // hset/hmset/mset take objects and Maps; hgetall gives an object.
  assert.equal(await redis.hset('h', { a: 1, b: 'x' }), 2);
  assert.equal(await redis.hmset('h', new Map([['c', '3']])), 'OK');
  assert.deepEqual(await redis.hgetall('h'), { a: '1', b: 'x', c: '3' });
  assert.deepEqual(await redis.hgetall('none'), {});
  assert.equal(await redis.mset({ m1: 'a', m2: 'b' }), 'OK');
  // Arrays are flattened.
  assert.deepEqual(await redis.mget(['m1', 'm2']), ['a', 'b']);
  assert.equal(await redis.call('SET', 'c', 'd'), 'OK');
  assert.deepEqual(await redis.getBuffer('c'), new Uint8Array([100]));
  // Subcommands as in ioredis: redis.client('id'), redis.config('get', ...).
  assert.equal(typeof (await redis.client('id')), 'number');
  // wasm32 is a 32-bit platform: Redis's default bound there, 3gb.
  assert.deepEqual(await redis.config('get', 'maxmemory'), ['maxmemory', '3221225472']);
  redis.disconnect();
  assert.equal(redis.status, 'end');
});

test('streams: a producer, a consumer group, acks and pending entries (issue 13)', async () => {
  const engine = new Engine({ clock: 'manual', time: 1_700_000_000_000, seed: 1 });
  const producer = new Redis({ engine });
  const consumer = new Redis({ engine });
  assert.equal(await producer.xadd('events', '*', 'type', 'created', 'id', 7), '1700000000000-0');
  assert.equal(await producer.xadd('events', '*', 'type', 'done'), '1700000000000-1');
  assert.equal(await consumer.xgroup('CREATE', 'events', 'workers', '0'), 'OK');
  assert.deepEqual(await consumer.xreadgroup('GROUP', 'workers', 'w1', 'COUNT', 1, 'STREAMS', 'events', '>'), [
    ['events', [['1700000000000-0', ['type', 'created', 'id', '7']]]],
  ]);
  assert.deepEqual(await consumer.xpending('events', 'workers'), [
    1,
    '1700000000000-0',
    '1700000000000-0',
    [['w1', '1']],
  ]);
  assert.equal(await consumer.xack('events', 'workers', '1700000000000-0'), 1);
  assert.equal(await producer.xlen('events'), 2);
  assert.deepEqual(await consumer.xreadgroup('GROUP', 'workers', 'w2', 'BLOCK', 0, 'STREAMS', 'events', '>'), [
    ['events', [['1700000000000-1', ['type', 'done']]]],
  ]);
  // Blocked reads (a group's and a plain one, on two clients) are woken by the producer's XADD.
  const reader = new Redis({ engine });
  const inGroup = consumer.xreadgroup('GROUP', 'workers', 'w2', 'BLOCK', 0, 'STREAMS', 'events', '>');
  const plain = reader.xread('BLOCK', 0, 'STREAMS', 'events', '$');
  assert.equal(await producer.xadd('events', '2000000000000-0', 'type', 'late'), '2000000000000-0');
  const late = [['events', [['2000000000000-0', ['type', 'late']]]]];
  assert.deepEqual(await inGroup, late);
  assert.deepEqual(await plain, late);
  producer.disconnect();
  consumer.disconnect();
  reader.disconnect();
});

test('errors reject with ReplyError; node-style callbacks work', async () => {
  const redis = fresh();
  await redis.set('k', 'v');
  await assert.rejects(redis.incr('k'), (e) => e instanceof ReplyError && e.message === 'ERR value is not an integer or out of range' && e.command.name === 'incr');
  await assert.rejects(redis.set('k', true), TypeError);
  const viaCallback = await new Promise((resolve, reject) => redis.get('k', (err, res) => (err ? reject(err) : resolve(res))));
  assert.equal(viaCallback, 'v');
  const err = await new Promise((resolve) => redis.incr('k', (e) => resolve(e)));
  assert.ok(err instanceof ReplyError);
});

test('pipeline().cmd().cmd().exec() gives [[err, result], ...]', async () => {
  const redis = fresh();
  const res = await redis.pipeline().set('a', '1').incr('a').incr('nope-not-int-later').get('a').hset('h', 'f', 'v').hgetall('h').exec();
  assert.deepEqual(res, [[null, 'OK'], [null, 2], [null, 1], [null, '2'], [null, 1], [null, { f: 'v' }]]);
  await redis.set('s', 'str');
  const [[e1, r1], [e2, r2]] = await redis.pipeline([['incr', 's'], ['get', 's']]).exec();
  assert.ok(e1 instanceof ReplyError);
  assert.equal(r1, null);
  assert.deepEqual([e2, r2], [null, 'str']);
});

test('duplicate() shares the engine; new Redis() instances share a default engine', async () => {
  const a = fresh();
  const b = a.duplicate();
  await a.set('shared', 'yes');
  assert.equal(await b.get('shared'), 'yes');
  assert.equal(b.engine, a.engine);
  const x = new Redis();
  const y = new Redis({ port: 6379 });
  await x.set('default-engine', '1');
  assert.equal(await y.get('default-engine'), '1');
  const other = new Redis({ port: 6380 });
  assert.equal(await other.get('default-engine'), null);
  assert.equal(await x.quit(), 'OK');
  assert.equal(x.status, 'end');
  await new Promise((resolve) => {
    const z = new Redis();
    z.on('ready', resolve);
  });
});

test('multi()...exec() runs a transaction', async () => {
  const redis = fresh();
  const res = await redis.multi().set('a', '1').incr('a').get('a').exec();
  assert.deepEqual(res, [[null, 'OK'], [null, 2], [null, '2']]);
  await redis.set('s', 'x');
  const [[err], [, v]] = await redis.multi().incr('s').get('s').exec();
  assert.ok(err instanceof ReplyError);
  assert.equal(v, 'x');
});

test("subscribe + 'message' events between two Redis instances", async () => {
  const sub = fresh();
  const pub = sub.duplicate();
  const got = new Promise((resolve) => sub.on('message', (channel, message) => resolve([channel, message])));
  assert.equal(await sub.subscribe('news', 'music'), 2);
  assert.equal(await pub.publish('news', 'hello'), 1);
  assert.deepEqual(await got, ['news', 'hello']);
  const pgot = new Promise((resolve) => sub.on('pmessage', (...a) => resolve(a)));
  await sub.psubscribe('m*');
  await pub.publish('music', 'jazz');
  assert.deepEqual(await pgot, ['m*', 'music', 'jazz']);
});

test('keyspace notifications reach a subscriber: a write, then a key expiring untouched', async () => {
  // notify-keyspace-events from the engine's config, as CONFIG SET takes it.
  const engine = new Engine({
    clock: 'manual',
    time: 1_700_000_000_000,
    seed: 1,
    config: { 'notify-keyspace-events': 'KEx$' },
  });
  const sub = new Redis({ engine });
  const app = new Redis({ engine });
  const got = [];
  sub.on('message', (channel, message) => got.push([channel, message]));
  sub.on('pmessage', (pattern, channel, message) => got.push([pattern, channel, message]));
  assert.equal(await sub.subscribe('__keyevent@0__:expired'), 1);
  assert.equal(await sub.psubscribe('__keyspace@0__:session:*'), 2);
  assert.equal(await app.set('session:1', 'alice', 'PX', 100), 'OK');
  assert.deepEqual(got, [['__keyspace@0__:session:*', '__keyspace@0__:session:1', 'set']]);
  // Nobody reads the key: the expiry cycle that advance() runs deletes it and publishes.
  got.length = 0;
  engine.advance(101);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(got, [
    ['__keyspace@0__:session:*', '__keyspace@0__:session:1', 'expired'],
    ['__keyevent@0__:expired', 'session:1'],
  ]);
  // The engine-level client sees the same frames through onPush.
  const raw = engine.connect();
  const frames = [];
  raw.onPush((frame) => frames.push(frame));
  raw.call('SUBSCRIBE', '__keyevent@0__:expired');
  await app.set('session:2', 'bob', 'PX', 50);
  engine.advance(51);
  assert.deepEqual(frames.at(-1), ['message', '__keyevent@0__:expired', 'session:2']);
});

test('client-side caching: tracking invalidations reach the engine client (RESP3) and a facade subscriber (RESP2 redirect)', async () => {
  const engine = new Engine({ clock: 'manual', time: 1_700_000_000_000, seed: 1 });
  const app = new Redis({ engine });
  // RESP3: the tracking client itself gets `invalidate` pushes through onPush.
  const raw = engine.connect();
  const frames = [];
  raw.onPush((frame) => frames.push(frame));
  await raw.call('HELLO', '3');
  assert.equal(await raw.call('CLIENT', 'TRACKING', 'ON'), 'OK');
  await app.set('user:1', 'alice');
  assert.equal(await raw.call('GET', 'user:1'), 'alice');
  assert.deepEqual(frames, []);
  await app.set('user:1', 'bob');
  assert.deepEqual(frames, [['invalidate', ['user:1']]]);
  // RESP2: invalidations are redirected to a subscriber of __redis__:invalidate.
  const listener = new Redis({ engine });
  const got = [];
  listener.on('message', (channel, message) => got.push([channel, message]));
  const listenerId = await listener.client('ID');
  assert.equal(await listener.subscribe('__redis__:invalidate'), 1);
  const reader = new Redis({ engine });
  assert.equal(await reader.client('TRACKING', 'ON', 'REDIRECT', String(listenerId)), 'OK');
  assert.equal(await reader.get('user:1'), 'bob');
  await app.del('user:1');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(got, [['__redis__:invalidate', ['user:1']]]);
});

test('blpop woken by another client through the facade', async () => {
  const a = fresh();
  const b = a.duplicate();
  const p = a.blpop('q', 0);
  await b.rpush('q', 'job');
  assert.deepEqual(await p, ['q', 'job']);
});
