// Every lesson walked as a learner would: typing each command in the step's client (raw bytes in
// raw mode, the clock button for clock steps), on a desktop (1280×720) and a phone (390×844).
// After each command: the step is done from the typed input, the console and the step are in the
// viewport, the window did not scroll on the reply. No console errors. A screenshot of each
// lesson's last step is saved (target/playground-screenshots/lesson-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, root, serveWww } from './static-server.mjs';
import { LESSONS } from '../js/lessons.js';

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

/**
 * After the replication lesson: the link panel labelled the handshake, the full sync (the RDB
 * summarised with its size), the stream, the partial resync with only the missed bytes, and
 * GETACK/ACK; the replica's console showed its INFO; both engines hold the same keys.
 */
async function checkReplication(page, label) {
  const labels = await page.locator('#repl-wire > li').evaluateAll((els) => els.map((e) => e.dataset.label));
  const has = (re, what) => assert.ok(labels.some((t) => re.test(t)), `${label}: the link shows ${what} (${labels.join(' | ')})`);
  has(/^PING: the handshake/, 'PING');
  has(/^REPLCONF listening-port 6379/, 'REPLCONF listening-port');
  has(/^REPLCONF capa eof capa psync2/, 'REPLCONF capa');
  has(/^\\n: a newline, the master's keepalive/, 'the keepalive newlines');
  has(/^\+FULLRESYNC: a full resync; the master's replication ID [0-9a-f]{40} and offset \d+/, '+FULLRESYNC');
  has(/^RDB payload: \d+ bytes \(\$EOF:/, 'the RDB with its size');
  has(/^stream: RPUSH jobs a b$/, 'the stream');
  assert.equal(labels.filter((t) => /^PSYNC [0-9a-f]{40} \d+: continue the stream/.test(t)).length, 2, `${label}: two PSYNCs (${labels.join(' | ')})`);
  has(/^REPLCONF GETACK \*/, 'GETACK');
  has(/^REPLCONF ACK \d+/, 'ACK');
  // After +CONTINUE: only the missed bytes (the INCR), no RDB.
  const k = labels.findLastIndex((t) => t.startsWith('+CONTINUE'));
  assert.ok(k > 0, `${label}: +CONTINUE shown`);
  const after = labels.slice(k + 1).filter((t) => !/^REPLCONF|^PING/.test(t));
  assert.deepEqual(after, ['stream: INCR visits'], `${label}: only the missed write after +CONTINUE`);
  assert.match(await page.locator('#client-replica .console').innerText(), /master_link_status:down/);
  // WAIT was answered once the replica acked (GETACK/ACK over the link within the same write).
  assert.match(await page.locator('#client-1 .console').innerText(), /WAIT 1 0\n(?:.*\n)?\(integer\) 1\s*$/);
  assert.match(await page.locator('#repl-status').innerText(), /link up/);
  const keys = await page.evaluate(() => {
    const p = window.playground;
    return [p.engine.keys().map((k) => k.key).sort(), p.repl.engine.keys().map((k) => k.key).sort()];
  });
  assert.deepEqual(keys[1], keys[0], `${label}: the replica holds the master's keys`);
}

async function walk(viewport, label, touch) {
  const context = await browser.newContext({ viewport, hasTouch: touch, isMobile: touch });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  await page.goto(server.base);
  await page.waitForSelector('body[data-ready="true"]');
  let typed = 0;
  // LESSON=<id> walks one lesson (while working on it); the suite walks them all.
  for (const l of LESSONS.filter((x) => !process.env.LESSON || x.id === process.env.LESSON)) {
    await page.locator(`#lesson-list button[data-lesson="${l.id}"]`).click();
    for (const [i, s] of l.steps.entries()) {
      const where = `${label} ${l.title} step ${i + 1}`;
      if (s.advance) {
        assert.match(await page.locator('#step-strip .strip-title').innerText(), new RegExp(`step ${i + 1} of ${l.steps.length}`), where);
        await page.locator('#step-strip .strip-run').click();
      } else if (s.link) {
        // The learner's own button in the link panel (not the step's "do it for me").
        assert.match(await page.locator('#step-strip .strip-title').innerText(), new RegExp(`step ${i + 1} of ${l.steps.length}`), where);
        await page.locator(s.link === 'cut' ? '#repl-cut' : '#repl-up').click();
      } else {
        const input = page.locator(s.raw ? `#c${s.client}-raw` : `#c${s.client}-input`);
        // Long commands are pasted in part, the rest typed key by key (keeps the suite short).
        const text = s.raw ?? s.cmd;
        const cut = Math.max(0, text.length - 8);
        await input.click();
        await input.fill(text.slice(0, cut));
        await input.pressSequentially(text.slice(cut));
        const before = await page.evaluate((sel) => [document.querySelector('#step-strip .strip-title').textContent, document.querySelector(sel).getBoundingClientRect().top], `#client-${s.client} .console`);
        assert.match(before[0], new RegExp(`step ${i + 1} of ${l.steps.length}`), where);
        await input.press('Enter');
        // The window does not jump to the wire or elsewhere: the console stays where it was (up
        // to the step strip above it changing height), its input and last lines in view.
        const [con, row, strip, cls] = await page.evaluate(
          ([n, raw, k]) => {
            const under = document.querySelector('#step-strip').getBoundingClientRect().bottom;
            const seen = (sel, top) => {
              const r = document.querySelector(sel).getBoundingClientRect();
              return { shown: Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, top)), height: r.height, top: r.top };
            };
            return [seen(`#client-${n} .console`, Math.max(0, under)), seen(raw ? `#client-${n} .raw-row` : `#client-${n} .input-row`, Math.max(0, under)), seen('#step-strip', 0), document.querySelectorAll('#lesson .steps > li')[k].className];
          },
          [s.client, !!s.raw, i],
        );
        assert.ok(Math.abs(con.top - before[1]) <= 80, `${where}: the console moved on the reply (${before[1]} -> ${con.top})`);
        assert.ok(con.shown >= Math.min(60, con.height), `${where}: console of client ${s.client} not in the viewport (${JSON.stringify(con)})`);
        assert.ok(row.shown >= row.height - 1, `${where}: the input of client ${s.client} is not in the viewport (${JSON.stringify(row)})`);
        assert.ok(strip.shown >= strip.height - 1, `${where}: the step strip is not in the viewport (${JSON.stringify(strip)})`);
        assert.match(cls, /done/, `${where}: the step is done from the typed command`);
        typed++;
        continue;
      }
      assert.match((await page.locator('#lesson .steps > li').nth(i).getAttribute('class')) ?? '', /done/, `${where}: the step is done`);
    }
    assert.match(await page.locator('#step-strip').innerText(), /complete ✓/, `${label} ${l.title}: complete`);
    if (l.replication) await checkReplication(page, label);
    await page.screenshot({ path: join(shots, `lesson-${l.id}-${label}.png`) });
  }
  assert.deepEqual(errors, [], 'the page logged errors');
  await context.close();
  return typed;
}

test('every lesson typed by a learner on a desktop (1280×720)', async () => {
  const typed = await walk({ width: 1280, height: 720 }, 'desktop', false);
  if (!process.env.LESSON) assert.ok(typed >= 60, `${typed} typed steps`);
  console.log(`# desktop: ${typed} typed steps over ${LESSONS.length} lessons`);
});

test('every lesson typed by a learner on a phone (390×844, touch)', async () => {
  const typed = await walk({ width: 390, height: 844 }, 'phone', true);
  console.log(`# phone: ${typed} typed steps over ${LESSONS.length} lessons`);
});
