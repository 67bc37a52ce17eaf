// The playground's promises beyond the lessons, in headless Chromium: help and INFO as redis-cli
// prints them; raw bytes explained by the engine's own request parser (the examples, and
// the annotation checked against the engine in the page); saved work kept from shared links and
// other tabs; the loading and file:// states; the time to interactive on a throttled profile
// (CPU ×4, slow 3G); an axe-core audit (WCAG 2.2 AA) of every view in light and dark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, root, serveDir, serveWww } from './static-server.mjs';

const shots = process.env.SCREENSHOTS ?? join(root, '..', 'target', 'playground-screenshots');
let server;
let browser;

before(async () => {
  await mkdir(shots, { recursive: true });
  server = await serveWww();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open(t, { viewport = { width: 1280, height: 720 }, context } = {}) {
  const ctx = context ?? (await browser.newContext({ viewport }));
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  await page.goto(server.base);
  await page.waitForSelector('body[data-ready="true"]');
  if (!context) t?.after(() => ctx.close().catch(() => {}));
  return { page, ctx, errors };
}

async function type(page, n, cmd) {
  const input = page.locator(`#c${n}-input`);
  await input.fill(cmd);
  await input.press('Enter');
}

async function sendRaw(page, n, bytes) {
  if ((await page.locator(`#client-${n} button.mode`).getAttribute('aria-pressed')) !== 'true') await page.locator(`#client-${n} button.mode`).click();
  await page.locator(`#c${n}-raw`).fill(bytes);
  await page.locator(`#c${n}-raw`).press('Enter');
}

const consoleText = (page, n) => page.locator(`#client-${n} .console`).innerText();

test('help, help <command> and INFO answer as redis-cli does', async (t) => {
  const { page, errors } = await open(t);
  await page.locator('#sandbox').click();
  await type(page, 1, 'help');
  assert.match(await consoleText(page, 1), /"help <command>" for help on <command>/);
  await type(page, 1, 'help set');
  assert.match(await consoleText(page, 1), /\n {2}SET key value .*\n {2}summary: Set the string value of a key\n {2}since: 1\.0\.0\n {2}group: string/);
  await type(page, 1, 'help @hyperloglog');
  assert.match(await consoleText(page, 1), /PFADD key \[element \[element \.\.\.\]\]/);
  // Nothing went on the wire for help: redis-cli answers it itself.
  assert.equal(await page.locator('#client-1 .wire-entry').count(), 0);
  await type(page, 1, 'SET a 1');
  await type(page, 1, 'INFO keyspace');
  const text = await consoleText(page, 1);
  assert.ok(text.endsWith('oxidis> INFO keyspace\n# Keyspace\ndb0:keys=1,expires=0,avg_ttl=0'), JSON.stringify(text.slice(-120)));
  assert.deepEqual(errors, []);
});

test("raw bytes are explained by the engine's request parser: the issue's examples", async (t) => {
  const { page, errors } = await open(t);
  await page.locator('#sandbox').click();
  // $3 takes PIN; G\r are skipped unread; the \n left is an empty line: nothing stays buffered.
  await sendRaw(page, 1, '*1\\r\\n$3\\r\\nPING\\r\\n');
  assert.match(await consoleText(page, 1), /\(error\) ERR unknown command 'PIN', with args beginning with: $/);
  assert.match(await page.locator('#c1-parser').innerText(), /Idle/);
  assert.doesNotMatch(await page.locator('#c1-parser').innerText(), /buffered/);
  const out = page.locator('#client-1 .wire-entry.out').last();
  assert.match(await out.locator('.part').nth(6).innerText(), /^PIN$/);
  assert.match(await out.locator('.part').nth(7).getAttribute('data-why'), /'G\\r' stands where \\r\\n should/);
  assert.match(await out.locator('.part').nth(8).getAttribute('data-why'), /an empty line/);
  // A request split over two writes: the second is its continuation, not an inline command.
  await sendRaw(page, 1, '*2\\r\\n$3\\r\\nGET\\r\\n');
  assert.match(await page.locator('#c1-parser').innerText(), /\(13 bytes buffered\)/);
  await sendRaw(page, 1, '$1\\r\\nk\\r\\n');
  const cont = page.locator('#client-1 .wire-entry.out').last();
  for (const why of await cont.locator('.part').evaluateAll((ps) => ps.map((p) => p.dataset.why))) assert.doesNotMatch(why, /inline/);
  assert.match(await cont.locator('.tree').innerText(), /continues the bytes buffered/);
  assert.match(await page.locator('#c1-parser').innerText(), /Idle/);
  assert.match(await consoleText(page, 1), /\(nil\)$/);
  // In the page: the annotation and the engine agree at every split of a few requests.
  const disagreements = await page.evaluate(async () => {
    const { Engine, renderReplies } = await import('./pkg/index.js');
    const { requestTrace } = await import('./pkg/oxidis_wasm.js');
    const enc = new TextEncoder();
    const samples = ['*1\r\n$4\r\nPING\r\n', '*1\r\n$3\r\nPING\r\n', 'PING\r\nECHO "a b"\n', '*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*0\r\n', '*2\r\n$3\r\nGET\r\nx\r\n', '*x\r\n', 'ECHO "abc\r\n', '*1\r\n$-1\r\n'];
    const bad = [];
    for (const s of samples) {
      const b = enc.encode(s);
      for (let k = 0; k <= b.length; k++) {
        const e = new Engine({ clock: 'manual', time: 0 });
        const c = e.connect();
        const out = c.send(b.subarray(0, k));
        const t = requestTrace(b.subarray(0, k));
        const want = t.requests.filter((r) => r.status === 'complete').length + (t.state === 'invalid' ? 1 : 0);
        if (renderReplies(out).length !== want) bad.push(`${JSON.stringify(s)} cut at ${k}`);
        e.free?.();
      }
    }
    return bad;
  });
  assert.deepEqual(disagreements, []);
  assert.deepEqual(errors, []);
});

test('three clients at 1280×720: no word broken or wrapped in the client headers; nested trees keep one font size', async (t) => {
  const { page, errors } = await open(t);
  await page.locator('#add-client').click();
  await page.locator('#add-client').click();
  await type(page, 3, 'XADD s 1-1 item book; XRANGE s - +');
  // Every label in the client headers on one line.
  const wrapped = await page.locator('.client-head button, .client-head h2').evaluateAll((els) =>
    els.filter((e) => e.getBoundingClientRect().height > parseFloat(getComputedStyle(e).lineHeight || '20') * 1.6 + 16).map((e) => e.textContent),
  );
  assert.deepEqual(wrapped, []);
  // The decoded tree of XRANGE's reply is three levels deep, every level as large as the first.
  const sizes = await page.locator('#client-3 .wire-entry.in').last().locator('.tree li').evaluateAll((lis) => lis.map((li) => getComputedStyle(li).fontSize));
  assert.ok(sizes.length >= 6, `${sizes.length} tree nodes`);
  assert.deepEqual([...new Set(sizes)], [sizes[0]], `font sizes per level: ${sizes}`);
  assert.ok(parseFloat(sizes[0]) >= 11, `tree text of ${sizes[0]}`);
  assert.deepEqual(errors, []);
});

test('a shared link opens a fresh workspace and leaves the saved work alone; two tabs do not clobber', async (t) => {
  const { page, ctx, errors } = await open(t);
  await type(page, 1, 'SET mine 1');
  await page.waitForFunction(() => (localStorage.getItem('oxidis-playground:v1') ?? '').includes('SET mine 1'));
  const saved = await page.evaluate(() => localStorage.getItem('oxidis-playground:v1'));
  const link = `${server.base}?shared#cmds=${Buffer.from('SET theirs 2').toString('base64url')}`;
  await page.goto(link);
  await page.waitForSelector('body[data-ready="true"]');
  assert.match(await page.locator('#banner').innerText(), /fresh workspace. Your saved work is untouched/);
  assert.equal(await page.locator('#keys tbody tr[data-key="theirs"]').count(), 1);
  assert.equal(await page.locator('#keys tbody tr[data-key="mine"]').count(), 0);
  await type(page, 1, 'SET more 3');
  await page.waitForTimeout(400);
  assert.equal(await page.evaluate(() => localStorage.getItem('oxidis-playground:v1')), saved, 'the shared workspace did not overwrite the saved one');
  await page.locator('#banner button', { hasText: 'Back to my saved work' }).click();
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#keys tbody tr[data-key="mine"]');
  assert.equal(await page.locator('#keys tbody tr[data-key="theirs"]').count(), 0);
  // The reload's own save must land before the second tab opens: landing after, it would
  // (rightly) make the second tab read-only, and its write below would never come.
  await page.waitForFunction(() => window.playground?.ready && window.playground.saveTimer == null);

  // A second tab saves: the first stops saving and says so.
  const other = await open(t, { context: ctx });
  await type(other.page, 1, 'SET from-tab-2 x');
  await page.waitForSelector('#banner:not([hidden])');
  assert.match(await page.locator('#banner').innerText(), /changed in another tab/);
  await type(page, 1, 'SET from-tab-1 y');
  await page.waitForTimeout(400);
  const now = await page.evaluate(() => localStorage.getItem('oxidis-playground:v1'));
  assert.ok(now.includes('SET from-tab-2 x') && !now.includes('SET from-tab-1 y'), 'tab 1 did not overwrite tab 2');
  assert.deepEqual([...errors, ...other.errors], []);
});

test('Reset asks first and keeps the lesson progress', async (t) => {
  const { page, errors } = await open(t);
  await type(page, 1, 'SET greeting hello');
  assert.match(await page.locator('#lesson-progress').innerText(), /^1 of/);
  page.once('dialog', (d) => d.dismiss());
  await page.locator('#reset').click();
  assert.equal(await page.locator('#keys tbody tr[data-key="greeting"]').count(), 1, 'a dismissed Reset changes nothing');
  page.once('dialog', (d) => d.accept());
  await page.locator('#reset').click();
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction(() => document.querySelectorAll('#keys tbody tr').length === 0);
  assert.match(await page.locator('#lesson-progress').innerText(), /^1 of/);
  assert.deepEqual(errors, []);
});

test('on touch screens every byte part is a tap target of at least 24×24 px', async () => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  const { page, errors } = await open(null, { context: ctx });
  await type(page, 1, 'SET greeting hello');
  const sizes = await page.locator('#client-1 .wire-entry .part').evaluateAll((ps) => ps.map((p) => [p.textContent, Math.round(p.getBoundingClientRect().width), Math.round(p.getBoundingClientRect().height)]));
  assert.ok(sizes.length >= 16, `${sizes.length} parts`);
  for (const [text, w, h] of sizes) assert.ok(w >= 24 && h >= 24, `part ${JSON.stringify(text)} is ${w}×${h} px`);
  await page.locator('#client-1 .wire-entry.out .part').nth(3).tap();
  assert.match(await page.locator('#client-1 .explain').innerText(), /'\$' type byte/);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the site works from a static host under any path (every URL relative), as cargo xtask site lays it out', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oxidis-site-'));
  const site = join(dir, 'some', 'path');
  await mkdir(site, { recursive: true });
  for (const f of ['index.html', 'style.css']) await cp(join(root, f), join(site, f));
  for (const d of ['js', 'pkg']) await cp(join(root, d), join(site, d), { recursive: true });
  const host = await serveDir(dir, () => true);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && errors.push(`HTTP ${r.status()}: ${r.url()}`));
  await page.goto(`${host.base}some/path/`);
  await page.waitForSelector('body[data-ready="true"]');
  await type(page, 1, 'PING');
  assert.match(await consoleText(page, 1), /PONG$/);
  assert.deepEqual(errors, []);
  await ctx.close();
  host.close();
  await rm(dir, { recursive: true, force: true });
});

test('opened from disk (file://): a clear message with the fix', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`file://${join(root, 'index.html')}`);
  await page.waitForFunction(() => document.querySelector('#loading')?.dataset.state === 'failed');
  // A default browser loads no module from file://: the page stays on the message, visible.
  await page.waitForTimeout(500);
  assert.ok(await page.locator('#loading').isVisible(), 'the message is visible');
  assert.notEqual(await page.evaluate(() => document.body.dataset.ready), 'true');
  assert.match(await page.locator('#loading').innerText(), /opened from disk \(file:\/\/\).*cargo xtask run/);
  await page.screenshot({ path: join(shots, 'file-url.png') });
  await ctx.close();
});

test('throttled (CPU ×4, slow 3G): a loading state at once, then the time to interactive', async () => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  // Chrome DevTools' "Slow 3G": 2 s round trips, 50 kB/s each way.
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 2000, downloadThroughput: 50_000, uploadThroughput: 50_000 });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  const start = Date.now();
  await page.goto(server.base, { waitUntil: 'commit', timeout: 60_000 });
  const committed = Date.now();
  await page.waitForSelector('#loading', { state: 'visible', timeout: 60_000 });
  const text = await page.locator('#loading').innerText();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  const tti = Date.now() - start;
  // The first paint (the loading message: nothing else shows before the stylesheet), measured
  // in the page from the arrival of the HTML.
  const loadingShown = Math.round(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime - performance.getEntriesByType('navigation')[0].responseEnd));
  await page.locator('#c1-input').fill('PING');
  await page.locator('#c1-input').press('Enter');
  assert.match(await consoleText(page, 1), /PONG$/);
  console.log(`# throttled profile: page committed after ${committed - start} ms, loading state painted ${loadingShown} ms after the HTML arrived ("${text}"), interactive after ${tti} ms`);
  assert.ok(loadingShown < 1000, `the loading state took ${loadingShown} ms after the page arrived`);
  await ctx.close();
});

test('axe-core: no WCAG 2.2 A/AA violations on every view, light and dark', async (t) => {
  const views = {
    start: async () => {},
    lesson: async (page) => {
      await page.locator('#lesson-list button[data-lesson="lists"]').click();
      await type(page, 1, 'RPUSH jobs email sms push');
      await type(page, 1, 'LRANGE jobs 0 -1');
    },
    'raw mode, three clients': async (page) => {
      await page.locator('#sandbox').click();
      await page.locator('#add-client').click();
      await page.locator('#add-client').click();
      await sendRaw(page, 1, '*2\\r\\n$3\\r\\nGET\\r\\n');
      await type(page, 2, 'SUBSCRIBE news');
      await type(page, 3, 'PUBLISH news hi');
      await page.locator('#client-1 .wire-entry .part').first().focus();
    },
    'resp3, keyspace': async (page) => {
      await page.locator('#lesson-list button[data-lesson="resp3"]').click();
      await type(page, 1, 'HELLO 3');
      await type(page, 1, 'DEBUG PROTOCOL map');
      await type(page, 1, 'XADD s 1-1 a b; HSET h f v; SADD st m; ZADD z 1 m');
      await type(page, 1, 'help GET');
    },
    'phone: a lesson': async (page) => {
      await page.locator('#lesson-list button[data-lesson="hashes"]').click();
      await type(page, 1, 'HSET user:1 name Ada lang Rust visits 0');
    },
    'replication: two engines, the link cut': async (page) => {
      await page.locator('#lesson-list button[data-lesson="replication"]').click();
      await type(page, 'replica', 'REPLICAOF master 6379');
      await page.locator('button[data-advance="10000"]').click();
      await page.locator('#repl-cut').click();
      await type(page, 1, 'INCR visits');
      await page.locator('#repl-wire .wire-entry .part').first().focus();
    },
    'lesson complete, closed connection': async (page) => {
      await page.locator('#lesson-list button[data-lesson="errors"]').click();
      for (const b of ['*1\\r\\n$3\\r\\nPING\\r\\n', '*2\\r\\n$3\\r\\nGET\\r\\n', 'x\\r\\n']) await sendRaw(page, 1, b);
    },
  };
  const axeSource = join(root, 'node_modules', 'axe-core', 'axe.min.js');
  const report = [];
  for (const scheme of ['light', 'dark']) {
    for (const [name, setup] of Object.entries(views)) {
      const phone = name.startsWith('phone');
      const ctx = await browser.newContext({ viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 720 }, hasTouch: phone, isMobile: phone, colorScheme: scheme });
      const { page, errors } = await open(t, { context: ctx });
      await setup(page);
      await page.addScriptTag({ path: axeSource });
      const result = await page.evaluate(() =>
        window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] }, resultTypes: ['violations'] }),
      );
      const v = result.violations.map((x) => `${x.id} (${x.impact}): ${x.nodes.length}× ${x.nodes.map((n) => n.target.join(' ')).join(', ')} — ${x.nodes[0].failureSummary.replace(/\s+/g, ' ').slice(0, 300)}`);
      report.push(`${scheme} / ${name}: ${v.length} violations, ${result.passes?.length ?? '?'} rules passed`);
      assert.deepEqual(v, [], `${scheme} / ${name}`);
      assert.deepEqual(errors, []);
      await page.screenshot({ path: join(shots, `axe-${scheme}-${name.replace(/[^a-z0-9]+/g, '-')}.png`) });
      await ctx.close();
    }
  }
  console.log(`# axe-core ${JSON.stringify(report)}`);
});
