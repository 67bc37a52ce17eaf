// ops/s of the oxidis package (client.call and the ioredis-style facade) next to ioredis-mock,
// in one Node process: SET, GET, INCR, LPUSH, ZADD, HSET. `node bench.mjs [N]` (default 50000
// operations per command and contender). Prints a table and the ratios.
import { Engine, Redis } from './pkg/index.js';
import RedisMock from 'ioredis-mock';

const N = Number(process.argv[2] ?? 50_000);
const ops = {
  SET: (i) => ['set', `key:${i % 1000}`, 'value'],
  GET: (i) => ['get', `key:${i % 1000}`],
  INCR: () => ['incr', 'counter'],
  LPUSH: (i) => ['lpush', `list:${i % 100}`, 'item'],
  ZADD: (i) => ['zadd', 'zset', i % 5000, `member:${i % 5000}`],
  HSET: (i) => ['hset', `hash:${i % 100}`, `field:${i % 50}`, 'value'],
};

async function time(fn) {
  // A warm-up round, then the measured one.
  await fn(Math.min(N, 5000));
  const t = process.hrtime.bigint();
  await fn(N);
  return N / (Number(process.hrtime.bigint() - t) / 1e9);
}

const engine = new Engine({ seed: 1 });
const client = engine.connect();
const facade = new Redis({ engine });
const mock = new RedisMock();

const rows = [];
for (const [name, make] of Object.entries(ops)) {
  const call = await time(async (n) => {
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
  rows.push({ name, call, viaFacade, viaMock });
}

const f = (x) => Math.round(x).toLocaleString('en-US').padStart(11);
console.log(`ops/s, ${N} operations each (Node ${process.version})`);
console.log('command   client.call  facade(await)  ioredis-mock  call/mock  facade/mock');
for (const r of rows) {
  console.log(
    `${r.name.padEnd(8)} ${f(r.call)} ${f(r.viaFacade)}   ${f(r.viaMock)}   ${(r.call / r.viaMock).toFixed(1).padStart(7)}x  ${(r.viaFacade / r.viaMock).toFixed(1).padStart(9)}x`,
  );
}
engine.free();
mock.disconnect();
