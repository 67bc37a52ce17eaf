// ops/s of the oxidis package — client.call (the direct call path), the ioredis-style facade —
// next to ioredis-mock, in one Node process. `node bench.mjs [N] [--json FILE]` (N: operations
// per command and contender, default 50000; a pipeline counts as its 100 SETs). Prints a table
// with the ratios; --json writes the figures for `cargo xtask bench-wasm` (docs/bench-wasm.md).
import { writeFileSync } from 'node:fs';
import { Engine, Redis } from './pkg/index.js';
import RedisMock from 'ioredis-mock';

const argv = process.argv.slice(2);
const jsonAt = argv.indexOf('--json');
const jsonFile = jsonAt >= 0 ? argv.splice(jsonAt, 2)[1] : null;
const N = Number(argv[0] ?? 50_000);
const PIPE = 100;

const fields = Array.from({ length: 10 }, (_, i) => [`field:${i}`, `value:${i}`]).flat();
const mset = (i) => Array.from({ length: 10 }, (_, k) => [`mkey:${(i + k) % 1000}`, `v${i}`]).flat();

// Each command: [name, args(i)]; `setup` commands run once on every contender before it.
const ops = [
  ['SET', (i) => ['set', `key:${i % 1000}`, 'value']],
  ['GET', (i) => ['get', `key:${i % 1000}`]],
  ['INCR', () => ['incr', 'counter']],
  ['HSET', (i) => ['hset', `hash:${i % 100}`, `field:${i % 50}`, 'value']],
  ['HGETALL 10', () => ['hgetall', 'h10']],
  ['LPUSH', (i) => ['lpush', `list:${i % 100}`, 'item']],
  ['LRANGE 0 9', () => ['lrange', 'l100', 0, 9]],
  ['SADD', (i) => ['sadd', `set:${i % 100}`, `member:${i % 50}`]],
  ['SMEMBERS 10', () => ['smembers', 's10']],
  ['ZADD', (i) => ['zadd', 'zset', i % 5000, `member:${i % 5000}`]],
  ['ZRANGE 0 9 WS', () => ['zrange', 'z100', 0, 9, 'WITHSCORES']],
  ['MSET 10', (i) => ['mset', ...mset(i)]],
];
const setup = [
  ['hset', 'h10', ...fields],
  ['rpush', 'l100', ...Array.from({ length: 100 }, (_, i) => `item:${i}`)],
  ['sadd', 's10', ...Array.from({ length: 10 }, (_, i) => `member:${i}`)],
  ['zadd', 'z100', ...Array.from({ length: 100 }, (_, i) => [i, `m:${i}`]).flat()],
  ['set', 'key:0', 'value'],
];

async function time(fn, n = N) {
  // A warm-up round, then the measured one.
  await fn(Math.min(n, 5000));
  const t = process.hrtime.bigint();
  await fn(n);
  return n / (Number(process.hrtime.bigint() - t) / 1e9);
}

const engine = new Engine({ seed: 1 });
const client = engine.connect();
const facade = new Redis({ engine });
const mock = new RedisMock();
for (const c of setup) {
  client.call(...c);
  await mock[c[0]](...c.slice(1));
}

const rows = [];
for (const [name, make] of ops) {
  const direct = await time(async (n) => {
    for (let i = 0; i < n; i++) client.call(...make(i));
  });
  const viaFacade = await time(async (n) => {
    for (let i = 0; i < n; i++) {
      const [cmd, ...args] = make(i);
      await facade[cmd](...args);
    }
  });
  const viaMock = await time(async (n) => {
    for (let i = 0; i < n; i++) {
      const [cmd, ...args] = make(i);
      await mock[cmd](...args);
    }
  });
  rows.push({ name, direct, facade: viaFacade, mock: viaMock });
}

// A pipeline of 100 SETs: ops/s counts the SETs (pipelines/s × 100).
{
  const P = Math.max(1, Math.floor(N / PIPE));
  const cmds = (i) => Array.from({ length: PIPE }, (_, k) => ['set', `pkey:${(i * PIPE + k) % 1000}`, 'value']);
  const direct = await time(async (n) => {
    for (let i = 0; i < n; i++) client.pipeline(cmds(i));
  }, P);
  const viaFacade = await time(async (n) => {
    for (let i = 0; i < n; i++) await facade.pipeline(cmds(i)).exec();
  }, P);
  const viaMock = await time(async (n) => {
    for (let i = 0; i < n; i++) await mock.pipeline(cmds(i)).exec();
  }, P);
  rows.push({ name: `PIPELINE ${PIPE} SET`, direct: direct * PIPE, facade: viaFacade * PIPE, mock: viaMock * PIPE });
}

const f = (x) => Math.round(x).toLocaleString('en-US').padStart(11);
const r = (x) => `${x.toFixed(2)}x`.padStart(8);
console.log(`ops/s, ${N} operations each (Node ${process.version})`);
console.log('command           client.call      facade ioredis-mock  call/mock facade/mock');
for (const row of rows) {
  console.log(
    `${row.name.padEnd(16)} ${f(row.direct)} ${f(row.facade)}  ${f(row.mock)}  ${r(row.direct / row.mock)}  ${r(row.facade / row.mock)}`,
  );
}
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify({ runtime: `Node ${process.version}`, n: N, rows }, null, 1));
}
engine.free();
mock.disconnect();
