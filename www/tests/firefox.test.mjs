// The playground in Firefox (Debian's firefox-esr, driven through WebDriver BiDi, which Firefox
// speaks natively, over a plain WebSocket: Node 20 needs --experimental-websocket): the page
// boots, a typed command goes over the wire and its reply is rendered, and nothing is logged as
// an error. The full interaction tests run in Chromium (playground.test.mjs); this one shows the
// page is not Chromium-only. (playwright-core cannot drive a stock Firefox: its BiDi mode sends
// commands firefox-esr does not know, e.g. emulation.setMediaFeaturesOverride.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { root, serveWww } from './static-server.mjs';

const shots = process.env.SCREENSHOTS ?? join(root, '..', 'target', 'playground-screenshots');
let server;
let firefox;

/** Starts headless Firefox with its BiDi server on a free port and opens a session. */
async function launchFirefox() {
  assert.equal(typeof WebSocket, 'function', 'no WebSocket: run node with --experimental-websocket');
  const profile = await mkdtemp(join(tmpdir(), 'oxidis-firefox-'));
  const args = ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0', 'about:blank'];
  const proc = spawn(process.env.FIREFOX ?? '/usr/bin/firefox-esr', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    let log = '';
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(log);
      if (m) resolve(m[1]);
    });
    exited.then((code) => reject(new Error(`firefox exited (${code}):\n${log}`)));
  });
  const ws = new WebSocket(`${url}/session`);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot connect to ${url}/session`));
  });
  let lastId = 0;
  const pending = new Map();
  const listeners = [];
  ws.onmessage = ({ data }) => {
    const msg = JSON.parse(data);
    if (msg.id === undefined) return listeners.forEach((l) => l(msg));
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.type === 'error') reject(new Error(`${msg.error}: ${msg.message}`));
    else resolve(msg.result);
  };
  /** One BiDi command; resolves to its result. */
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      pending.set(++lastId, { resolve, reject });
      ws.send(JSON.stringify({ id: lastId, method, params }));
    });
  await send('session.new', { capabilities: {} });
  const close = async () => {
    await send('browser.close').catch(() => {});
    ws.close();
    if (proc.exitCode === null) proc.kill();
    await exited;
    await rm(profile, { recursive: true, force: true });
  };
  return { send, onEvent: (l) => listeners.push(l), close };
}

before(async () => {
  await mkdir(shots, { recursive: true });
  server = await serveWww();
  firefox = await launchFirefox();
});

after(async () => {
  await firefox?.close();
  server?.close();
});

test('Firefox: SET greeting hello shows the request bytes, +OK and the key; a Lua script runs; a stream is read and shown; a geo search answers', async () => {
  const { send, onEvent } = firefox;
  const errors = [];
  onEvent(({ method, params }) => {
    if (method === 'log.entryAdded' && params.level === 'error') errors.push(`${params.type}: ${params.text}`);
  });
  await send('session.subscribe', { events: ['log.entryAdded'] });
  const { contexts: [{ context }] } = await send('browsingContext.getTree');
  /** The value of a JavaScript expression in the page (a RemoteValue: { type, value }). */
  const evaluate = async (expression) => {
    const r = await send('script.evaluate', { expression, target: { context }, awaitPromise: true });
    if (r.type === 'exception') throw new Error(`${expression}: ${r.exceptionDetails.text}`);
    return r.result;
  };
  const until = async (expression, ms) => {
    const deadline = Date.now() + ms;
    while (!(await evaluate(expression)).value) {
      assert.ok(Date.now() < deadline, `not true within ${ms} ms: ${expression}`);
      await sleep(50);
    }
  };
  await send('browsingContext.setViewport', { context, viewport: { width: 1400, height: 1000 } });
  await send('browsingContext.navigate', { context, url: server.base, wait: 'complete' });
  await until(`document.body.dataset.ready === 'true'`, 15_000);
  // A click into the console's input, then the keys, as a person types them.
  const input = await evaluate(`document.querySelector('#c1-input')`);
  const click = [{ type: 'pointerMove', x: 0, y: 0, origin: { type: 'element', element: { sharedId: input.sharedId } } },
    { type: 'pointerDown', button: 0 }, { type: 'pointerUp', button: 0 }];
  await send('input.performActions', { context, actions: [{ type: 'pointer', id: 'mouse', actions: click }] });
  const keys = [...'SET greeting hello', '\uE007'].flatMap((value) => [{ type: 'keyDown', value }, { type: 'keyUp', value }]);
  await send('input.performActions', { context, actions: [{ type: 'key', id: 'keyboard', actions: keys }] });
  await until(`document.body.innerText.includes('+OK\\\\r\\\\n')`, 10_000);
  const text = (await evaluate('document.body.innerText')).value;
  assert.ok(text.includes('*3\\r\\n$3\\r\\nSET\\r\\n$8\\r\\ngreeting\\r\\n$5\\r\\nhello\\r\\n'), 'request bytes on the wire');
  assert.match(text, /1 key in db 0/);
  // Scripts run in Firefox's wasm engine too: the Lua lesson's conversion step (3.99 truncated,
  // true as 1, false as a null that does not end the array).
  await evaluate(`[...document.querySelectorAll('#lesson-list button')].find((b) => b.textContent.includes('Lua scripts')).click()`);
  await evaluate(`document.querySelectorAll('#lesson .run')[1].click()`);
  await until(`document.body.innerText.includes('*6\\\\r\\\\n:3\\\\r\\\\n:0\\\\r\\\\n$4\\\\r\\\\ntext\\\\r\\\\n:1\\\\r\\\\n$-1\\\\r\\\\n$5\\\\r\\\\nafter\\\\r\\\\n')`, 10_000);
  assert.match((await evaluate('document.body.innerText')).value, /1\) \(integer\) 3\n2\) \(integer\) 0\n3\) "text"\n4\) \(integer\) 1\n5\) \(nil\)\n6\) "after"/);
  // Streams too: the streams lesson's first three steps (three XADDs, then XLEN and XRANGE), the
  // reply bytes as redis-server 7.0.15 sent them, and the stream in the keyspace view.
  await evaluate(`[...document.querySelectorAll('#lesson-list button')].find((b) => b.textContent.includes('Streams')).click()`);
  for (const i of [0, 1, 2]) await evaluate(`document.querySelectorAll('#lesson .run')[${i}].click()`);
  const xrange = ':3\\r\\n*3\\r\\n*2\\r\\n$3\\r\\n1-1\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$4\\r\\nbook\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n1\\r\\n'
    + '*2\\r\\n$3\\r\\n1-2\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$3\\r\\npen\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n3\\r\\n'
    + '*2\\r\\n$3\\r\\n1-3\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$3\\r\\nink\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n2\\r\\n';
  await until(`[...document.querySelectorAll('#client-1 .wire-entry.in [data-testid="wire-bytes"]')].at(-1)?.innerText === ${JSON.stringify(xrange)}`, 10_000);
  assert.equal(
    (await evaluate(`document.querySelector('#keys tbody tr[data-key="orders"] td.value').innerText`)).value,
    '3 entries · last ID 1-3\n1-1 {"item": "book", "qty": "1"}\n1-2 {"item": "pen", "qty": "3"}\n1-3 {"item": "ink", "qty": "2"}',
  );
  // Geo too (haversine and geohash math in Firefox's wasm): the geo lesson's GEOADD, then its
  // GEOSEARCH around Brussels, answered with the bytes redis-server 7.0.15 sent.
  await evaluate(`[...document.querySelectorAll('#lesson-list button')].find((b) => b.textContent.includes('Places near a point')).click()`);
  for (const i of [0, 2]) await evaluate(`document.querySelectorAll('#lesson .run')[${i}].click()`);
  const near = '*3\\r\\n*2\\r\\n$5\\r\\nParis\\r\\n$8\\r\\n264.0500\\r\\n*2\\r\\n$6\\r\\nLondon\\r\\n$8\\r\\n320.7040\\r\\n'
    + '*2\\r\\n$6\\r\\nBerlin\\r\\n$8\\r\\n650.8317\\r\\n';
  await until(`[...document.querySelectorAll('#client-1 .wire-entry.in [data-testid="wire-bytes"]')].at(-1)?.innerText === ${JSON.stringify(near)}`, 10_000);
  assert.match((await evaluate('document.body.innerText')).value, /1\) 1\) "Paris"\n   2\) "264\.0500"\n2\) 1\) "London"\n   2\) "320\.7040"\n3\) 1\) "Berlin"\n   2\) "650\.8317"/);
  const { data } = await send('browsingContext.captureScreenshot', { context });
  await writeFile(join(shots, 'firefox.png'), Buffer.from(data, 'base64'));
  assert.deepEqual(errors, [], 'the page logged errors');
});
