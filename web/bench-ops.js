// The commands of the wasm benchmark and how they are timed, shared by web/bench.mjs (Node) and
// web/bench.html (headless Chromium, through bench.mjs --chromium).

export const PIPE = 100;
export const ROUNDS = 7;

const fields = Array.from({ length: 10 }, (_, i) => [`field:${i}`, `value:${i}`]).flat();
const mset = (i) => Array.from({ length: 10 }, (_, k) => [`mkey:${(i + k) % 1000}`, `v${i}`]).flat();

// Each command: [name, args(i), divisor of the rounds' length]; `setup` commands run once on
// every contender before it.
export const ops = [
  ['SET', (i) => ['set', `key:${i % 1000}`, 'value']],
  ['GET', (i) => ['get', `key:${i % 1000}`]],
  ['INCR', () => ['incr', 'counter']],
  ['HSET', (i) => ['hset', `hash:${i % 100}`, `field:${i % 50}`, 'value']],
  ['HGETALL 10', () => ['hgetall', 'h10']],
  ['LPUSH', (i) => ['lpush', `list:${i % 100}`, 'item']],
  ['LRANGE 0 9', () => ['lrange', 'l100', 0, 9]],
  ['SADD', (i) => ['sadd', `set:${i % 100}`, `member:${i % 50}`]],
  ['SMEMBERS 10', () => ['smembers', 's10']],
  // ioredis-mock's ZADD costs O(n) (about 500/s at 5000 members): a twentieth of the rounds.
  ['ZADD', (i) => ['zadd', 'zset', i % 5000, `member:${i % 5000}`], 20],
  ['ZRANGE 0 9 WS', () => ['zrange', 'z100', 0, 9, 'WITHSCORES']],
  ['MSET 10', (i) => ['mset', ...mset(i)]],
  // The same reads over two keys in turn: each reply differs from the one before, so the direct
  // path's reply memo (engine.js) never serves them — what arrays that change cost.
  ['HGETALL 10 (2 keys)', (i) => ['hgetall', i % 2 ? 'h10' : 'h10b']],
  ['LRANGE 0 9 (2 keys)', (i) => ['lrange', i % 2 ? 'l100' : 'l100b', 0, 9]],
  ['SMEMBERS 10 (2 keys)', (i) => ['smembers', i % 2 ? 's10' : 's10b']],
];
export const setup = [
  ['hset', 'h10', ...fields],
  ['rpush', 'l100', ...Array.from({ length: 100 }, (_, i) => `item:${i}`)],
  ['sadd', 's10', ...Array.from({ length: 10 }, (_, i) => `member:${i}`)],
  ['zadd', 'z100', ...Array.from({ length: 100 }, (_, i) => [i, `m:${i}`]).flat()],
  ['set', 'key:0', 'value'],
  ['hset', 'h10b', ...fields.map((f, i) => (i % 2 ? `${f}b` : f))],
  ['rpush', 'l100b', ...Array.from({ length: 100 }, (_, i) => `item:${i}b`)],
  ['sadd', 's10b', ...Array.from({ length: 10 }, (_, i) => `member:${i}b`)],
];

/** The wall clock (ms): what the browser bench times rounds by. */
export const wallClock = () => performance.now();

/**
 * ops/s of each contender: ROUNDS rounds of `n` operations, the contenders interleaved round by
 * round (so a noisy neighbour hits all alike), after a warm-up round each; the best round
 * counts (the least disturbed one: this machine's other load only ever slows a round down).
 * `clock()` gives ms: the wall clock, or in Node the process's CPU time (bench.mjs).
 */
async function race(fns, n, clock) {
  const best = fns.map(() => 0);
  for (const fn of fns) await fn(Math.min(n, 2000));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < fns.length; k++) {
      const t = clock();
      await fns[k](n);
      best[k] = Math.max(best[k], n / ((clock() - t) / 1000));
    }
  }
  return best;
}

/**
 * Runs every command on `client` (client.call), `facade` (a Redis on the same engine) and, if
 * given, `mock` (ioredis-mock): `[{ name, direct, facade, mock }]` in ops/s (mock 0 without it).
 */
export async function runBench({ client, facade, mock, n, clock = wallClock }) {
  for (const c of setup) {
    client.call(...c);
    if (mock) await mock[c[0]](...c.slice(1));
  }
  const per = Math.max(1, Math.floor(n / ROUNDS));
  const rows = [];
  const contenders = (make) => {
    const fns = [
      async (k) => {
        for (let i = 0; i < k; i++) client.call(...make(i));
      },
      async (k) => {
        for (let i = 0; i < k; i++) {
          const [cmd, ...args] = make(i);
          await facade[cmd](...args);
        }
      },
    ];
    if (mock)
      fns.push(async (k) => {
        for (let i = 0; i < k; i++) {
          const [cmd, ...args] = make(i);
          await mock[cmd](...args);
        }
      });
    return fns;
  };
  for (const [name, make, slow = 1] of ops) {
    const [direct, viaFacade, viaMock = 0] = await race(contenders(make), Math.max(1, Math.floor(per / slow)), clock);
    rows.push({ name, direct, facade: viaFacade, mock: viaMock });
  }
  // A pipeline of 100 SETs: ops/s counts the SETs (pipelines/s × 100).
  const cmds = (i) => Array.from({ length: PIPE }, (_, k) => ['set', `pkey:${(i * PIPE + k) % 1000}`, 'value']);
  const fns = [
    async (k) => {
      for (let i = 0; i < k; i++) client.pipeline(cmds(i));
    },
    async (k) => {
      for (let i = 0; i < k; i++) await facade.pipeline(cmds(i)).exec();
    },
  ];
  if (mock)
    fns.push(async (k) => {
      for (let i = 0; i < k; i++) await mock.pipeline(cmds(i)).exec();
    });
  const [direct, viaFacade, viaMock = 0] = await race(fns, Math.max(1, Math.floor(per / PIPE)), clock);
  rows.push({ name: `PIPELINE ${PIPE} SET`, direct: direct * PIPE, facade: viaFacade * PIPE, mock: viaMock * PIPE });
  return { rows, per };
}
