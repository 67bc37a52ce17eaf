// The cluster view in headless Chromium: its three engines are made only when it opens; the slot
// bar shows the three owners' ranges; the console, as redis-cli -c, shows the -MOVED reply on
// the wire and follows it to the right node ("-> Redirected to slot [N] located at host:port"),
// for keys of different slots; the bus panel lists the nodes' messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, root, serveWww } from './static-server.mjs';

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

async function type(page, cmd) {
  const input = page.locator('#ccluster-input');
  await input.click();
  await input.fill('');
  await input.pressSequentially(cmd, { delay: 0 });
  await input.press('Enter');
}

const consoleText = (page) => page.locator('#client-cluster .console').innerText();

test('the cluster view: slot bar, MOVED followed as redis-cli -c does, keys on their owners, the bus', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  await page.goto(server.base);
  await page.waitForSelector('body[data-ready="true"]');
  // The first load makes one engine: the cluster's three wait for the view.
  assert.equal(await page.evaluate(() => window.playground.cluster.net), null);
  assert.equal(await page.locator('#cluster').isHidden(), true);

  await page.locator('#lesson-list button[data-lesson="cluster"]').click();
  await page.waitForSelector('#cluster:not([hidden])');
  assert.match(await page.locator('#cluster-status').innerText(), /cluster_state:ok on all three nodes/);
  const segs = await page.locator('#slot-bar .seg').evaluateAll((els) => els.map((e) => [e.dataset.port, e.dataset.first, e.dataset.last, getComputedStyle(e).backgroundColor]));
  assert.deepEqual(
    segs.map((s) => s.slice(0, 3)),
    [
      ['7000', '0', '5460'],
      ['7001', '5461', '10922'],
      ['7002', '10923', '16383'],
    ],
  );
  assert.equal(new Set(segs.map((s) => s[3])).size, 3, `three colours: ${segs.map((s) => s[3])}`);
  assert.match(await page.locator('#ccluster-input').locator('xpath=..').innerText(), /127\.0\.0\.1:7000>/);

  // foo is in slot 12182, served by 7002: MOVED, then the command again on 7002.
  await type(page, 'SET foo bar');
  let text = await consoleText(page);
  assert.match(text, /127\.0\.0\.1:7000> SET foo bar\n\(error\) MOVED 12182 127\.0\.0\.1:7002\n-> Redirected to slot \[12182\] located at 127\.0\.0\.1:7002\nOK/);
  const wire = await page.locator('#client-cluster .wire-entry.in [data-testid="wire-bytes"]').allInnerTexts();
  assert.deepEqual(wire.slice(-2), ['-MOVED 12182 127.0.0.1:7002\\r\\n', '+OK\\r\\n']);
  const out = await page.locator('#client-cluster .wire-entry.out [data-testid="wire-bytes"]').allInnerTexts();
  assert.deepEqual(out.slice(-2), ['*3\\r\\n$3\\r\\nSET\\r\\n$3\\r\\nfoo\\r\\n$3\\r\\nbar\\r\\n', '*3\\r\\n$3\\r\\nSET\\r\\n$3\\r\\nfoo\\r\\n$3\\r\\nbar\\r\\n']);
  assert.match(await page.locator('#ccluster-input').locator('xpath=..').innerText(), /127\.0\.0\.1:7002>/);
  assert.equal(await page.locator('#slot-bar .marker').getAttribute('data-slot'), '12182');

  // On the right node: no redirect.
  await type(page, 'GET foo');
  text = await consoleText(page);
  assert.match(text, /127\.0\.0\.1:7002> GET foo\n"bar"$/);

  // Keys of other slots: hello (866, on 7000), {user:1}:x (10778, on 7001), b (3300, on 7000).
  await type(page, 'SET hello world');
  await type(page, 'SET {user:1}:name ada');
  await type(page, 'GET b');
  await type(page, 'GET hello');
  text = await consoleText(page);
  assert.match(text, /127\.0\.0\.1:7002> SET hello world\n\(error\) MOVED 866 127\.0\.0\.1:7000\n-> Redirected to slot \[866\] located at 127\.0\.0\.1:7000\nOK/);
  assert.match(text, /127\.0\.0\.1:7000> SET \{user:1\}:name ada\n\(error\) MOVED 10778 127\.0\.0\.1:7001\n-> Redirected to slot \[10778\] located at 127\.0\.0\.1:7001\nOK/);
  assert.match(text, /127\.0\.0\.1:7001> GET b\n\(error\) MOVED 3300 127\.0\.0\.1:7000\n-> Redirected to slot \[3300\] located at 127\.0\.0\.1:7000\n\(nil\)/);
  assert.match(text, /127\.0\.0\.1:7000> GET hello\n"world"$/);
  // Not a redirect: CROSSSLOT is shown as the error it is.
  await type(page, 'MGET foo hello');
  assert.match(await consoleText(page), /MGET foo hello\n\(error\) CROSSSLOT Keys in request don't hash to the same slot$/);

  // Each key lives on its owner only (the nodes' own DBSIZE, shown per node).
  const keys = await page.evaluate(() => window.playground.cluster.net.engines.map((e) => e.keys().map((k) => k.key).sort()));
  assert.deepEqual(keys, [['hello'], ['{user:1}:name'], ['foo']]);
  const nodes = await page.locator('#cluster-nodes li').allInnerTexts();
  assert.equal(nodes.length, 3);
  assert.match(nodes[0], /^127\.0\.0\.1:7000 [0-9a-f]{8}… master · slots 0-5460 \(5461\) · 1 keys · cluster_state:ok · the console is connected here/);
  assert.match(nodes[1], /slots 5461-10922 \(5462\) · 1 keys/);
  assert.match(nodes[2], /slots 10923-16383 \(5461\) · 1 keys/);
  // The page's own engine is not part of the cluster.
  assert.deepEqual(await page.evaluate(() => window.playground.engine.keys().map((k) => k.key)), []);

  // The bus: MEET, PING and PONG between the nodes; the clock keeps them talking.
  await page.locator('#cluster-bus-summary').click();
  const before = await page.evaluate(() => window.playground.cluster.busCount);
  await page.locator('[data-advance="10000"]').click();
  const after = await page.evaluate(() => window.playground.cluster.busCount);
  assert.ok(after > before, `bus messages after 10 s: ${before} -> ${after}`);
  const types = await page.locator('#cluster-bus .bus-msg code').allInnerTexts();
  assert.ok(types.includes('PING') && types.includes('PONG'), types.join(' '));
  assert.match((await page.locator('#cluster-bus .bus-msg .dir').allInnerTexts()).join(' '), /700[012] → 700[012]/);
  assert.match(await page.locator('#cluster-status').innerText(), /cluster_state:ok on all three nodes/);

  await page.screenshot({ path: join(shots, 'cluster-view.png'), fullPage: true });

  // Another lesson hides the view.
  await page.locator('#lesson-list button[data-lesson="strings"]').click();
  assert.equal(await page.locator('#cluster').isHidden(), true);
  assert.equal(await page.locator('#client-cluster').isHidden(), true);
  assert.deepEqual(errors, [], 'the page logged errors');
  await context.close();
});
