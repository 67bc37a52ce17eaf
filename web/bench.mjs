// ops/s of the oxidis package — client.call (the direct call path), the ioredis-style facade —
// next to ioredis-mock, in one Node process; with --chromium also client.call and the facade in
// headless Chromium (Debian's, through playwright-core, as the browser tests run it).
// `node bench.mjs [N] [--chromium] [--tsv FILE]` (N: operations per command and contender over
// 7 interleaved rounds, default 70000; a pipeline counts as its 100 SETs). Prints tables with the
// ratios; --tsv writes the figures for `cargo xtask bench-wasm` (docs/bench-wasm.md).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine, Redis } from './pkg/index.js';
import RedisMock from 'ioredis-mock';
import { runBench, ROUNDS } from './bench-ops.js';

const argv = process.argv.slice(2);
const tsvAt = argv.indexOf('--tsv');
const tsvFile = tsvAt >= 0 ? argv.splice(tsvAt, 2)[1] : null;
const chromeAt = argv.indexOf('--chromium');
const chromium = chromeAt >= 0 && argv.splice(chromeAt, 1).length > 0;
const N = Number(argv[0] ?? 70_000);

const engine = new Engine({ seed: 1 });
const mock = new RedisMock();
// Node times each round by the process's CPU time (user + system, all its threads), not the
// wall clock: on this shared 2-core machine a round's wall time is mostly the time the process
// waited for a core (the mock alone moved 2.4x between runs), which says nothing of either
// contender. The browser run below keeps the wall clock (no CPU clock there).
const cpuClock = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const node = await runBench({ client: engine.connect(), facade: new Redis({ engine }), mock, n: N, clock: cpuClock });
engine.free();
mock.disconnect();

const f = (x) => Math.round(x).toLocaleString('en-US').padStart(11);
const r = (x) => `${x.toFixed(2)}x`.padStart(8);
console.log(`ops per CPU second, best of ${ROUNDS} interleaved rounds of ${node.per} operations (Node ${process.version})`);
console.log('command           client.call      facade ioredis-mock  call/mock facade/mock');
for (const row of node.rows) {
  console.log(`${row.name.padEnd(16)} ${f(row.direct)} ${f(row.facade)}  ${f(row.mock)}  ${r(row.direct / row.mock)}  ${r(row.facade / row.mock)}`);
}

let browser = null;
if (chromium) {
  const { chromium: launcher } = await import('playwright-core');
  const { serveDir } = await import('../www/tests/static-server.mjs');
  const webRoot = fileURLToPath(new URL('.', import.meta.url));
  const server = await serveDir(webRoot, (p) => p.startsWith('/pkg/') || p === '/bench.html' || p === '/bench-ops.js');
  const b = await launcher.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await b.newPage();
    // A page that fails to load its modules says so at once instead of running into the timeout.
    const failed = new Promise((_, reject) => {
      page.on('pageerror', (e) => reject(new Error(`bench.html: ${e}`)));
      page.on('console', (m) => m.type() === 'error' && reject(new Error(`bench.html: ${m.text()}`)));
    });
    await page.goto(`${server.base}bench.html?n=${N}`);
    const done = page.waitForFunction(() => window.__bench, null, { timeout: 600_000, polling: 500 }).then((h) => h.jsonValue());
    const res = await Promise.race([done, failed]);
    if (res.error) throw new Error(`bench.html: ${res.error}`);
    browser = { version: b.version(), ...res };
  } finally {
    await b.close();
    server.close();
  }
  console.log(`\nChromium ${browser.version} (headless): ops/s (wall clock); ratios to ioredis-mock in Node above`);
  console.log('command           client.call      facade  call/mock facade/mock');
  browser.rows.forEach((row, i) => {
    const m = node.rows[i].mock;
    console.log(`${row.name.padEnd(16)} ${f(row.direct)} ${f(row.facade)}  ${r(row.direct / m)}  ${r(row.facade / m)}`);
  });
}

if (tsvFile) {
  // Sections: a `# runtime rounds per` line, then per command: name, ops/s of client.call, the
  // facade and ioredis-mock (0: not run there).
  const lines = [`# Node ${process.version}\t${ROUNDS}\t${node.per}`];
  for (const row of node.rows) lines.push([row.name, row.direct, row.facade, row.mock].map((x) => (typeof x === 'number' ? Math.round(x) : x)).join('\t'));
  if (browser) {
    lines.push(`# Chromium ${browser.version}\t${ROUNDS}\t${browser.per}`);
    for (const row of browser.rows) lines.push([row.name, row.direct, row.facade, 0].map((x) => (typeof x === 'number' ? Math.round(x) : x)).join('\t'));
  }
  writeFileSync(tsvFile, lines.join('\n') + '\n');
}
