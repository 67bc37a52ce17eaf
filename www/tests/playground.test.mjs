// The playground driven as a person would, in headless Chromium (Debian's, through
// playwright-core): typing in consoles, reading the wire, raw bytes, several clients, the
// clock, reloads. Every test fails on any console error or uncaught exception, and saves a
// screenshot of what it ends on (target/playground-screenshots/, or $SCREENSHOTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, root, serveWww } from './static-server.mjs';

const shots = process.env.SCREENSHOTS ?? join(root, '..', 'target', 'playground-screenshots');

let server;
let browser;
let base;

before(async () => {
  await mkdir(shots, { recursive: true });
  server = await serveWww();
  base = server.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** A fresh browser context (empty localStorage) with the page loaded and console errors collected. */
async function open(t, { viewport = { width: 1400, height: 1000 }, hash = '' } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('response', (r) => r.status() >= 400 && errors.push(`HTTP ${r.status()}: ${r.url()}`));
  const started = Date.now();
  await page.goto(base + hash);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
  const readyMs = Date.now() - started;
  const done = async (name) => {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    assert.deepEqual(errors, [], 'the page logged errors');
    await context.close();
  };
  t.after?.(() => context.close().catch(() => {}));
  return { page, context, errors, done, readyMs };
}

/** Types a command in a client's console, as a person would, and presses Enter. */
async function type(page, n, cmd) {
  const input = page.locator(`#c${n}-input`);
  await input.click();
  await input.fill('');
  await input.pressSequentially(cmd, { delay: 0 });
  await input.press('Enter');
}

const consoleText = (page, n) => page.locator(`#client-${n} .console`).innerText();
const wireBytes = (page, n, dir) => page.locator(`#client-${n} .wire-entry.${dir} [data-testid="wire-bytes"]`).allInnerTexts();
const keyRow = (page, key) => page.locator(`#keys tbody tr[data-key="${key}"]`);

test('SET and GET: the exact bytes on the wire, replies as redis-cli shows them', async (t) => {
  const { page, done, readyMs } = await open(t);
  assert.ok(readyMs < 5000, `ready after ${readyMs} ms`);
  // The syntax hint comes from the command table.
  await page.locator('#c1-input').pressSequentially('SET');
  await assert.doesNotReject(page.waitForFunction(() => document.querySelector('#c1-hint').textContent.includes('SET key value')));
  await page.locator('#c1-input').fill('');

  await type(page, 1, 'SET greeting hello');
  assert.deepEqual(await wireBytes(page, 1, 'out'), ['*3\\r\\n$3\\r\\nSET\\r\\n$8\\r\\ngreeting\\r\\n$5\\r\\nhello\\r\\n']);
  assert.deepEqual(await wireBytes(page, 1, 'in'), ['+OK\\r\\n']);
  await type(page, 1, 'GET greeting');
  assert.deepEqual((await wireBytes(page, 1, 'out'))[1], '*2\\r\\n$3\\r\\nGET\\r\\n$8\\r\\ngreeting\\r\\n');
  assert.deepEqual((await wireBytes(page, 1, 'in'))[1], '$5\\r\\nhello\\r\\n');
  await type(page, 1, 'INCR n');
  await type(page, 1, 'GET nosuch');
  await type(page, 1, 'RPUSH l a "b c"');
  await type(page, 1, 'LRANGE l 0 -1');
  await type(page, 1, 'INCR greeting');
  assert.equal(
    await consoleText(page, 1),
    [
      'oxidis> SET greeting hello', 'OK',
      'oxidis> GET greeting', '"hello"',
      'oxidis> INCR n', '(integer) 1',
      'oxidis> GET nosuch', '(nil)',
      'oxidis> RPUSH l a "b c"', '(integer) 2',
      'oxidis> LRANGE l 0 -1', '1) "a"\n2) "b c"',
      'oxidis> INCR greeting', '(error) ERR value is not an integer or out of range',
    ].join('\n'),
  );
  // Hovering a part of the bytes explains it; the decoded tree is beside the bytes.
  await page.locator('#client-1 .wire-entry.out').first().locator('.part.type').first().hover();
  assert.match(await page.locator('#client-1 .explain').innerText(), /'\*' type byte: an array of 3 bulk strings/);
  await page.locator('#client-1 .wire-entry.out').first().locator('.part.len').nth(1).hover();
  assert.match(await page.locator('#client-1 .explain').innerText(), /length: 3 bytes of payload follow/);
  assert.match(await page.locator('#client-1 .wire-entry.out .tree').first().innerText(), /request: array of 3\n.*bulk string "SET" \(the command\)/);
  // Keyboard: the parts are reachable with Tab and ←/→.
  await page.locator('#client-1 .wire-entry.in .part').first().focus();
  await page.keyboard.press('ArrowRight');
  assert.match(await page.locator('#client-1 .explain').innerText(), /payload/);
  // History with ↑ and Tab completion.
  await page.locator('#c1-input').press('ArrowUp');
  assert.equal(await page.locator('#c1-input').inputValue(), 'INCR greeting');
  await page.locator('#c1-input').fill('lran');
  await page.locator('#c1-input').press('Tab');
  assert.equal(await page.locator('#c1-input').inputValue(), 'LRANGE ');
  // The keyspace shows the keys with type and a value preview.
  assert.equal(await keyRow(page, 'greeting').locator('td.value').innerText(), '"hello"');
  assert.equal(await keyRow(page, 'l').locator('td.type').innerText(), 'list');
  await done('console-and-wire');
});

test('pipelining: several requests in one write, replies in order', async (t) => {
  const { page, done } = await open(t);
  await type(page, 1, 'SET a 1; INCR a; GET a');
  assert.deepEqual(await wireBytes(page, 1, 'out'), ['*3\\r\\n$3\\r\\nSET\\r\\n$1\\r\\na\\r\\n$1\\r\\n1\\r\\n*2\\r\\n$4\\r\\nINCR\\r\\n$1\\r\\na\\r\\n*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\na\\r\\n']);
  assert.deepEqual(await wireBytes(page, 1, 'in'), ['+OK\\r\\n:2\\r\\n$1\\r\\n2\\r\\n']);
  assert.match(await page.locator('#client-1 .wire-entry.out .meta').innerText(), /3 requests in one write/);
  assert.match(await consoleText(page, 1), /OK\n\(integer\) 2\n"2"$/);
  // A RESP3 switch sends HELLO 3 on the wire; maps then render as redis-cli 7 shows them.
  await page.locator('#client-1 button.proto').click();
  assert.match((await wireBytes(page, 1, 'out'))[1], /^\*2\\r\\n\$5\\r\\nHELLO\\r\\n\$1\\r\\n3\\r\\n$/);
  assert.equal(await page.locator('#client-1 button.proto').getAttribute('aria-pressed'), 'true');
  await type(page, 1, 'HSET h f v');
  await type(page, 1, 'HGETALL h');
  assert.match(await consoleText(page, 1), /1# "f" => "v"$/);
  assert.match((await wireBytes(page, 1, 'in')).at(-1), /^%1\\r\\n/);
  await done('pipelining-resp3');
});

test('raw mode: the parser waits for bytes, then a protocol error closes the connection', async (t) => {
  const { page, done } = await open(t);
  await page.locator('#client-1 button.mode').click();
  const raw = page.locator('#c1-raw');
  await raw.pressSequentially('*2\\r\\n$3\\r\\nGET\\r\\n');
  assert.match(await page.locator('#c1-parser').innerText(), /If sent now: Array of 2 elements: 1 read, reading the header \(\$<length>\\r\\n\) of element 2/);
  await raw.press('Enter');
  assert.match(await page.locator('#c1-parser').innerText(), /Array of 2 elements: 1 read, reading the header.*of element 2\. \(13 bytes buffered\)/);
  assert.deepEqual(await wireBytes(page, 1, 'in'), []);
  await raw.pressSequentially('$5\\r\\nab');
  assert.match(await page.locator('#c1-parser').innerText(), /Element 2 of 2: a bulk string of 5 bytes, 2 received, waiting for 3 more/);
  await raw.fill('x\\r\\n');
  await raw.press('Enter');
  assert.deepEqual(await wireBytes(page, 1, 'in'), ["-ERR Protocol error: expected '$', got 'x'\\r\\n"]);
  assert.match(await consoleText(page, 1), /\(error\) ERR Protocol error: expected '\$', got 'x'\nError: Server closed the connection$/);
  assert.match(await page.locator('#c1-parser').innerText(), /closed this connection/);
  assert.equal(await page.locator('#client-1 .status').innerText(), 'closed');
  // Reconnect, and a correct request typed by hand works.
  await page.locator('#client-1 button.reconnect').click();
  await raw.fill('*1\\r\\n$4\\r\\nPING\\r\\n');
  await raw.press('Enter');
  assert.equal((await wireBytes(page, 1, 'in')).at(-1), '+PONG\\r\\n');
  assert.match(await page.locator('#c1-parser').innerText(), /Idle/);
  await done('raw-mode');
});

test('pub/sub between two clients', async (t) => {
  const { page, done } = await open(t);
  await page.locator('#add-client').click();
  await type(page, 2, 'SUBSCRIBE news');
  assert.deepEqual(await wireBytes(page, 2, 'in'), ['*3\\r\\n$9\\r\\nsubscribe\\r\\n$4\\r\\nnews\\r\\n:1\\r\\n']);
  await type(page, 1, 'PUBLISH news hello');
  assert.match(await consoleText(page, 1), /\(integer\) 1$/);
  assert.equal((await wireBytes(page, 2, 'in')).at(-1), '*3\\r\\n$7\\r\\nmessage\\r\\n$4\\r\\nnews\\r\\n$5\\r\\nhello\\r\\n');
  assert.match(await consoleText(page, 2), /1\) "message"\n2\) "news"\n3\) "hello"$/);
  await done('pubsub');
});

test('a WATCH conflict between two clients', async (t) => {
  const { page, done } = await open(t);
  await page.locator('#add-client').click();
  await type(page, 1, 'WATCH balance');
  await type(page, 2, 'SET balance 100');
  await type(page, 1, 'MULTI; INCR balance; EXEC');
  assert.match(await consoleText(page, 1), /OK\nQUEUED\n\(nil\)$/);
  assert.equal((await wireBytes(page, 1, 'in')).at(-1), '+OK\\r\\n+QUEUED\\r\\n*-1\\r\\n');
  await done('watch-conflict');
});

test("BLPOP woken by another client's LPUSH (three clients)", async (t) => {
  const { page, done } = await open(t);
  await page.locator('#add-client').click();
  await page.locator('#add-client').click();
  await type(page, 3, 'BLPOP jobs 0');
  assert.deepEqual(await wireBytes(page, 3, 'in'), []);
  assert.match(await page.locator('#client-3 .status').innerText(), /blocked/);
  await type(page, 1, 'LPUSH jobs job-1');
  assert.equal((await wireBytes(page, 3, 'in')).at(-1), '*2\\r\\n$4\\r\\njobs\\r\\n$5\\r\\njob-1\\r\\n');
  assert.match(await consoleText(page, 3), /1\) "jobs"\n2\) "job-1"$/);
  assert.doesNotMatch(await page.locator('#client-3 .status').innerText(), /blocked/);
  await done('three-clients');
});

test('a key expires after a clock fast-forward', async (t) => {
  const { page, done } = await open(t);
  await page.locator('#clock-play').click(); // pause: time moves only with the buttons
  await type(page, 1, 'SET session abc EX 30');
  await type(page, 1, 'SET keep forever');
  assert.equal(await keyRow(page, 'session').locator('td.ttl').innerText(), '30 s');
  await page.locator('[data-advance="10000"]').click();
  assert.equal(await keyRow(page, 'session').locator('td.ttl').innerText(), '20 s');
  await page.screenshot({ path: join(shots, 'keyspace-before-expiry.png'), fullPage: true });
  await page.locator('[data-advance="60000"]').click();
  assert.equal(await keyRow(page, 'session').count(), 0);
  assert.equal(await keyRow(page, 'keep').count(), 1);
  await type(page, 1, 'GET session');
  assert.match(await consoleText(page, 1), /\(nil\)$/);
  await done('keyspace-after-expiry');
});

test('the TTL lesson: an expiring key\'s notification arrives on the subscribed client', async (t) => {
  const { page, done } = await open(t);
  await page.locator('#clock-play').click(); // pause: time moves only with the lesson's clock step
  await page.locator('#lesson-list button', { hasText: 'Keyspace notifications' }).click();
  // [client, the bytes the client received during the step (recorded from redis-server 7.0.15
  // with www/tests/record-lesson.mjs), the console's tail (as redis-cli 7.0.15 --no-raw prints it)];
  // the clock step is checked on client 2, which nobody asked anything.
  const steps = [
    [1, '+OK\\r\\n', 'OK'],
    [2, '*3\\r\\n$9\\r\\nsubscribe\\r\\n$22\\r\\n__keyevent@0__:expired\\r\\n:1\\r\\n', '1) "subscribe"\n2) "__keyevent@0__:expired"\n3) (integer) 1'],
    [1, '+OK\\r\\n', 'OK'],
    [1, ':30\\r\\n', '(integer) 30'],
    [2, '*3\\r\\n$7\\r\\nmessage\\r\\n$22\\r\\n__keyevent@0__:expired\\r\\n$7\\r\\nsession\\r\\n', '1) "message"\n2) "__keyevent@0__:expired"\n3) "session"'],
    [1, '$-1\\r\\n', '(nil)'],
  ];
  assert.equal(await page.locator('#lesson .run').count(), steps.length);
  for (const [i, [n, wire, tail]] of steps.entries()) {
    await page.locator('#lesson .run').nth(i).click();
    if (i === 3) assert.equal(await keyRow(page, 'session').locator('td.ttl').innerText(), '30 s');
    assert.equal((await wireBytes(page, n, 'in')).at(-1), wire, `step ${i + 1}: bytes received`);
    const text = await consoleText(page, n);
    assert.ok(text.endsWith(tail), `step ${i + 1}: console ends with ${JSON.stringify(tail)}, got ${JSON.stringify(text.slice(-200))}`);
  }
  assert.equal(await keyRow(page, 'session').count(), 0);
  assert.match(await page.locator('#lesson-list button', { hasText: 'Keyspace notifications' }).getAttribute('class'), /done/);
  await done('lesson-ttl-notification');
});

test('state survives a reload; a share link replays commands; reset clears', async (t) => {
  const { page, done } = await open(t);
  await type(page, 1, 'SET saved yes');
  await type(page, 1, 'RPUSH list a b c');
  await page.locator('#lesson-list button', { hasText: 'RESP basics' }).click();
  await page.locator('#lesson .run').first().click();
  assert.match(await page.locator('#lesson-progress').innerText(), /^1 of \d+ steps done$/);
  await page.waitForFunction(() => JSON.parse(localStorage.getItem('oxidis-playground:v1') ?? '{}').lessons?.length === 1);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await keyRow(page, 'saved').locator('td.value').innerText(), '"yes"');
  assert.equal(await keyRow(page, 'list').locator('td.value').innerText(), '["a", "b", "c"]');
  assert.match(await page.locator('#lesson-progress').innerText(), /^1 of/);
  assert.match(await consoleText(page, 1), /oxidis> RPUSH list a b c\n\(integer\) 3/);
  await page.locator('#c1-input').press('ArrowUp');
  assert.equal(await page.locator('#c1-input').inputValue(), 'SET greeting hello');
  await type(page, 1, 'GET saved');
  assert.match(await consoleText(page, 1), /"yes"$/);
  await page.screenshot({ path: join(shots, 'after-reload.png'), fullPage: true });

  // Share: the link holds client 1's commands; opening it replays them on a fresh dataset.
  await page.locator('#share').click();
  const url = await page.locator('#share-url').inputValue();
  assert.match(url, /#cmds=[A-Za-z0-9_-]+$/);
  const other = await open(t, { hash: url.slice(url.indexOf('#')) });
  assert.match(await consoleText(other.page, 1), /oxidis> GET saved\n"yes"$/);
  assert.equal(await other.page.evaluate(() => location.hash), '');
  await other.done('shared-link');

  // Download the dataset as .rdb, reset, load it back.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  const file = await download.path();
  page.once('dialog', (d) => d.accept());
  await page.locator('#reset').click();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await keyRow(page, 'saved').count(), 0);
  assert.equal(await page.locator('#client-1 .console').innerText(), '');
  await page.locator('#load').setInputFiles(file);
  await page.waitForSelector('#keys tbody tr[data-key="saved"]');
  assert.equal(await keyRow(page, 'list').locator('td.type').innerText(), 'list');
  await done('rdb-reload');
});

test('lessons run in the page; keyboard only; a phone-sized screen', async (t) => {
  const { page, done } = await open(t, { viewport: { width: 390, height: 844 } });
  // Keyboard only: the first Tab reaches the skip link, which moves focus to the console input;
  // typing and Enter run a command.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'skip');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'c1-input', 'the skip link moves focus to the console');
  await page.keyboard.type('PING');
  await page.keyboard.press('Enter');
  assert.match(await consoleText(page, 1), /PONG$/);
  // Lesson 3 (pipelining) by keyboard.
  await page.locator('#lesson-list button', { hasText: 'Pipelining' }).focus();
  await page.keyboard.press('Enter');
  for (let i = 0; i < 2; i++) {
    await page.locator('#lesson .run').nth(i).focus();
    await page.keyboard.press('Enter');
  }
  assert.match(await page.locator('#lesson-list button', { hasText: 'Pipelining' }).getAttribute('class'), /done/);
  assert.equal((await wireBytes(page, 1, 'in')).at(-1), '+PONG\\r\\n+PONG\\r\\n');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px too wide)`);
  await done('phone');
});

test('the Lua scripts lesson: every step answers as redis-server does, on the wire and in the console', async (t) => {
  const { page, done } = await open(t);
  await page.locator('#lesson-list button', { hasText: 'Lua scripts' }).click();
  // [client, the reply bytes of the step (recorded from redis-server 7.0.15), the console's tail]
  const steps = [
    [1, '*3\\r\\n$6\\r\\nuser:1\\r\\n$5\\r\\nhello\\r\\n:2\\r\\n', '1) "user:1"\n2) "hello"\n3) (integer) 2'],
    [1, '*6\\r\\n:3\\r\\n:0\\r\\n$4\\r\\ntext\\r\\n:1\\r\\n$-1\\r\\n$5\\r\\nafter\\r\\n', '1) (integer) 3\n2) (integer) 0\n3) "text"\n4) (integer) 1\n5) (nil)\n6) "after"'],
    [1, '*2\\r\\n:1\\r\\n:2\\r\\n', '1) (integer) 1\n2) (integer) 2'],
    [1, '+DONE\\r\\n-MYERR custom error\\r\\n', 'DONE\n(error) MYERR custom error'],
    [1, '$40\\r\\nd3c21d0c2b9ca22f82737626a27bcaf5d288f99f\\r\\n', '"d3c21d0c2b9ca22f82737626a27bcaf5d288f99f"'],
    [1, '+OK\\r\\n$2\\r\\nhi\\r\\n', 'OK\n"hi"'],
    [1, '-NOSCRIPT No matching script. Please use EVAL.\\r\\n', '(error) NOSCRIPT No matching script. Please use EVAL.'],
    [1, '+OK\\r\\n-ERR value is not an integer or out of range script: 61636018f4e6b5817b89791bbed242f93fa089e3, on @user_script:1.\\r\\n',
      'OK\n(error) ERR value is not an integer or out of range script: 61636018f4e6b5817b89791bbed242f93fa089e3, on @user_script:1.'],
    [1, '*2\\r\\n$6\\r\\ncaught\\r\\n$43\\r\\nERR value is not an integer or out of range\\r\\n', '1) "caught"\n2) "ERR value is not an integer or out of range"'],
    [1, '+OK\\r\\n', 'OK'],
    [1, ':0\\r\\n', '(integer) 0'],
    [2, '-SOLDOUT no stock left\\r\\n', '(error) SOLDOUT no stock left'],
    [1, '$40\\r\\n4bf7d58fae1f53f07bdbc01035fe242bdbd048ed\\r\\n', '"4bf7d58fae1f53f07bdbc01035fe242bdbd048ed"'],
    [1, ':1\\r\\n:1\\r\\n$-1\\r\\n', '(integer) 1\n(integer) 1\n(nil)'],
  ];
  assert.equal(await page.locator('#lesson .run').count(), steps.length);
  for (const [i, [n, wire, tail]] of steps.entries()) {
    await page.locator('#lesson .run').nth(i).click();
    assert.equal((await wireBytes(page, n, 'in')).at(-1), wire, `step ${i + 1}: reply bytes`);
    const text = await consoleText(page, n);
    assert.ok(text.endsWith(tail), `step ${i + 1}: console ends with ${JSON.stringify(tail)}, got ${JSON.stringify(text.slice(-200))}`);
  }
  // The script travels as one bulk string argument, after it numkeys, KEYS and ARGV.
  assert.equal(
    (await wireBytes(page, 1, 'out'))[0],
    '*6\\r\\n$4\\r\\nEVAL\\r\\n$32\\r\\nreturn {KEYS[1], ARGV[1], #ARGV}\\r\\n$1\\r\\n1\\r\\n$6\\r\\nuser:1\\r\\n$5\\r\\nhello\\r\\n$5\\r\\nworld\\r\\n',
  );
  // The scripts' writes are in the keyspace: the stock taken, the rate limiter's counter with its TTL.
  assert.equal(await keyRow(page, 'stock').locator('td.value').innerText(), '"0"');
  assert.equal(await keyRow(page, 'rate:ada').locator('td.value').innerText(), '"3"');
  assert.equal(await keyRow(page, 'rate:ada').locator('td.ttl').innerText(), '60 s');
  assert.match(await page.locator('#lesson-list button', { hasText: 'Lua scripts' }).getAttribute('class'), /done/);
  await done('lesson-scripting');
});

test('the streams lesson: a producer, two consumers in a group, acks, a blocked read woken, XAUTOCLAIM; the keyspace shows the group', async (t) => {
  const { page, done } = await open(t);
  await page.locator('#clock-play').click(); // pause: idle times move only with the lesson's clock step
  await page.locator('#lesson-list button', { hasText: 'Streams' }).click();
  const entry = (id, fields) => `${id} {${fields.map(([f, v]) => `"${f}": "${v}"`).join(', ')}}`;
  const book = entry('1-1', [['item', 'book'], ['qty', '1']]);
  const pen = entry('1-2', [['item', 'pen'], ['qty', '3']]);
  const ink = entry('1-3', [['item', 'ink'], ['qty', '2']]);
  const tape = entry('1-4', [['item', 'tape'], ['qty', '5']]);
  const stream = () => keyRow(page, 'orders').locator('td.value').innerText();
  // [client, the reply bytes of the step (recorded from redis-server 7.0.15 with
  // www/tests/record-lesson.mjs), the console's tail (as redis-cli 7.0.15 --no-raw prints it)];
  // null for the clock step; the blocked read has no reply until the next step.
  const steps = [
    [1, '$3\\r\\n1-1\\r\\n', '"1-1"'],
    [1, '$3\\r\\n1-2\\r\\n$3\\r\\n1-3\\r\\n', '"1-2"\n"1-3"'],
    [1, ':3\\r\\n*3\\r\\n*2\\r\\n$3\\r\\n1-1\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$4\\r\\nbook\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n1\\r\\n*2\\r\\n$3\\r\\n1-2\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$3\\r\\npen\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n3\\r\\n*2\\r\\n$3\\r\\n1-3\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$3\\r\\nink\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n2\\r\\n',
      '(integer) 3\n1) 1) "1-1"\n   2) 1) "item"\n      2) "book"\n      3) "qty"\n      4) "1"\n2) 1) "1-2"\n   2) 1) "item"\n      2) "pen"\n      3) "qty"\n      4) "3"\n3) 1) "1-3"\n   2) 1) "item"\n      2) "ink"\n      3) "qty"\n      4) "2"'],
    [1, '+OK\\r\\n', 'OK'],
    [2, '*1\\r\\n*2\\r\\n$6\\r\\norders\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n1-1\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$4\\r\\nbook\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n1\\r\\n',
      '1) 1) "orders"\n   2) 1) 1) "1-1"\n         2) 1) "item"\n            2) "book"\n            3) "qty"\n            4) "1"'],
    [3, '*1\\r\\n*2\\r\\n$6\\r\\norders\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n1-2\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$3\\r\\npen\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n3\\r\\n',
      '1) 1) "orders"\n   2) 1) 1) "1-2"\n         2) 1) "item"\n            2) "pen"\n            3) "qty"\n            4) "3"'],
    [1, '*4\\r\\n:2\\r\\n$3\\r\\n1-1\\r\\n$3\\r\\n1-2\\r\\n*2\\r\\n*2\\r\\n$5\\r\\nalice\\r\\n$1\\r\\n1\\r\\n*2\\r\\n$3\\r\\nbob\\r\\n$1\\r\\n1\\r\\n',
      '1) (integer) 2\n2) "1-1"\n3) "1-2"\n4) 1) 1) "alice"\n      2) "1"\n   2) 1) "bob"\n      2) "1"'],
    [2, '*1\\r\\n*2\\r\\n$6\\r\\norders\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n1-3\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$3\\r\\nink\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n2\\r\\n',
      '1) 1) "orders"\n   2) 1) 1) "1-3"\n         2) 1) "item"\n            2) "ink"\n            3) "qty"\n            4) "2"'],
    [2, ':2\\r\\n', '(integer) 2'],
    [2, null, '(no reply yet: the server is holding this client, blocked)'],
    [1, '$3\\r\\n1-4\\r\\n', '"1-4"'],
    [2, ':1\\r\\n', '(integer) 1'],
    null,
    [2, '*3\\r\\n$3\\r\\n0-0\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n1-2\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$3\\r\\npen\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n3\\r\\n*0\\r\\n',
      '1) "0-0"\n2) 1) 1) "1-2"\n      2) 1) "item"\n         2) "pen"\n         3) "qty"\n         4) "3"\n3) (empty array)'],
    [1, '*4\\r\\n:1\\r\\n$3\\r\\n1-2\\r\\n$3\\r\\n1-2\\r\\n*1\\r\\n*2\\r\\n$5\\r\\nalice\\r\\n$1\\r\\n1\\r\\n',
      '1) (integer) 1\n2) "1-2"\n3) "1-2"\n4) 1) 1) "alice"\n      2) "1"'],
  ];
  assert.equal(await page.locator('#lesson .run').count(), steps.length);
  for (const [i, step] of steps.entries()) {
    await page.locator('#lesson .run').nth(i).click();
    if (step !== null) {
      const [n, wire, tail] = step;
      if (wire !== null) assert.equal((await wireBytes(page, n, 'in')).at(-1), wire, `step ${i + 1}: reply bytes`);
      const text = await consoleText(page, n);
      assert.ok(text.endsWith(tail), `step ${i + 1}: console ends with ${JSON.stringify(tail)}, got ${JSON.stringify(text.slice(-200))}`);
    }
    if (i === 2) {
      // The stream in the keyspace: its length, last ID and entries; no group yet.
      assert.equal(await keyRow(page, 'orders').locator('td.type').innerText(), 'stream');
      assert.equal(await stream(), ['3 entries · last ID 1-3', book, pen, ink].join('\n'));
    }
    if (i === 6) {
      // Two consumers, each with one entry pending, delivered once.
      assert.equal(
        await stream(),
        ['3 entries · last ID 1-3', book, pen, ink, 'group "shipping" · last delivered 1-2 · 2 pending', 'consumers: alice (1 pending), bob (1 pending)',
          '1-1 → alice · idle 0.0 s · delivered 1×', '1-2 → bob · idle 0.0 s · delivered 1×'].join('\n'),
      );
    }
    if (i === 9) {
      // Client 2 waits: no reply on its wire after its request.
      assert.match(await page.locator('#client-2 .status').innerText(), /blocked/);
      assert.equal(await page.locator('#client-2 .wire-entry').last().getAttribute('class'), 'wire-entry out');
    }
    if (i === 10) {
      // The producer's XADD woke client 2: 1-4 delivered to alice.
      assert.equal((await wireBytes(page, 2, 'in')).at(-1), '*1\\r\\n*2\\r\\n$6\\r\\norders\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n1-4\\r\\n*4\\r\\n$4\\r\\nitem\\r\\n$4\\r\\ntape\\r\\n$3\\r\\nqty\\r\\n$1\\r\\n5\\r\\n');
      assert.ok((await consoleText(page, 2)).endsWith('1) 1) "orders"\n   2) 1) 1) "1-4"\n         2) 1) "item"\n            2) "tape"\n            3) "qty"\n            4) "5"'));
      assert.doesNotMatch(await page.locator('#client-2 .status').innerText(), /blocked/);
    }
    if (i === 12) {
      // Only bob's entry is pending, idle for the 10 s the clock moved.
      assert.equal(
        await stream(),
        ['4 entries · last ID 1-4', book, pen, ink, tape, 'group "shipping" · last delivered 1-4 · 1 pending', 'consumers: alice (0 pending), bob (1 pending)',
          '1-2 → bob · idle 10 s · delivered 1×'].join('\n'),
      );
    }
  }
  // XAUTOCLAIM moved 1-2 to alice: a second delivery, idle again from 0.
  const claimed = ['4 entries · last ID 1-4', book, pen, ink, tape, 'group "shipping" · last delivered 1-4 · 1 pending', 'consumers: alice (1 pending), bob (0 pending)',
    '1-2 → alice · idle 0.0 s · delivered 2×'].join('\n');
  assert.equal(await stream(), claimed);
  // The group, its consumers and pending entries survive a reload (the page keeps an RDB snapshot).
  await page.waitForFunction((n) => JSON.parse(localStorage.getItem('oxidis-playground:v1') ?? '{}').lessons?.length === n, steps.length);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await stream(), claimed);
  assert.match(await page.locator('#lesson-list button', { hasText: 'Streams' }).getAttribute('class'), /done/);
  await done('lesson-streams');
});

test('the bitmaps, HyperLogLog and geo lessons: every step answers as redis-server does, on the wire and in the console', async (t) => {
  const { page, done } = await open(t);
  // Per lesson, per step: [client, the reply bytes of the step (recorded from redis-server 7.0.15
  // with www/tests/record-lesson.mjs), the console's tail (as redis-cli 7.0.15 --no-raw prints it)].
  const lessons = {
    Bitmaps: [
      [1, ':0\\r\\n:0\\r\\n:0\\r\\n', '(integer) 0\n(integer) 0\n(integer) 0'],
      [1, ':1\\r\\n:0\\r\\n:0\\r\\n', '(integer) 1\n(integer) 0\n(integer) 0'],
      [1, '$2\\r\\n\\x11\\x08\\r\\n', '"\\x11\\b"'],
      [1, ':3\\r\\n', '(integer) 3'],
      [1, ':0\\r\\n:0\\r\\n:0\\r\\n', '(integer) 0\n(integer) 0\n(integer) 0'],
      [1, ':2\\r\\n:2\\r\\n', '(integer) 2\n(integer) 2'],
    ],
    HyperLogLog: [
      [1, ':1\\r\\n', '(integer) 1'],
      [1, ':0\\r\\n', '(integer) 0'],
      [1, ':3\\r\\n', '(integer) 3'],
      [1, ':1\\r\\n:3\\r\\n', '(integer) 1\n(integer) 3'],
      [1, '+OK\\r\\n:5\\r\\n', 'OK\n(integer) 5'],
      [1, '$4\\r\\nHYLL\\r\\n', '"HYLL"'],
    ],
    'Places near a point': [
      [1, ':4\\r\\n', '(integer) 4'],
      [1, '$8\\r\\n877.7111\\r\\n', '"877.7111"'],
      [1, '*3\\r\\n*2\\r\\n$5\\r\\nParis\\r\\n$8\\r\\n264.0500\\r\\n*2\\r\\n$6\\r\\nLondon\\r\\n$8\\r\\n320.7040\\r\\n*2\\r\\n$6\\r\\nBerlin\\r\\n$8\\r\\n650.8317\\r\\n',
        '1) 1) "Paris"\n   2) "264.0500"\n2) 1) "London"\n   2) "320.7040"\n3) 1) "Berlin"\n   2) "650.8317"'],
      [1, '*1\\r\\n*2\\r\\n$20\\r\\n12.49639838933944702\\r\\n$20\\r\\n41.90279987683795326\\r\\n', '1) 1) "12.49639838933944702"\n   2) "41.90279987683795326"'],
      [1, '+zset\\r\\n$16\\r\\n3663832779122514\\r\\n', 'zset\n"3663832779122514"'],
    ],
  };
  for (const [title, steps] of Object.entries(lessons)) {
    await page.locator('#lesson-list button', { hasText: title }).click();
    assert.equal(await page.locator('#lesson .run').count(), steps.length, `${title}: number of steps`);
    for (const [i, [n, wire, tail]] of steps.entries()) {
      await page.locator('#lesson .run').nth(i).click();
      assert.equal((await wireBytes(page, n, 'in')).at(-1), wire, `${title} step ${i + 1}: reply bytes`);
      const text = await consoleText(page, n);
      assert.ok(text.endsWith(tail), `${title} step ${i + 1}: console ends with ${JSON.stringify(tail)}, got ${JSON.stringify(text.slice(-200))}`);
    }
    assert.match(await page.locator('#lesson-list button', { hasText: title }).getAttribute('class'), /done/);
  }
  // The bitmaps and the HyperLogLogs are strings, the geo index a sorted set, in the keyspace too.
  for (const key of ['logins:mon', 'logins:tue', 'logins:both', 'visitors:mon', 'visitors:tue', 'visitors:week']) {
    assert.equal(await keyRow(page, key).locator('td.type').innerText(), 'string', `${key} is a string`);
  }
  // Binary strings are shown as redis-cli shows them: GET logins:mon is "\x11\b" there too, and
  // GETRANGE visitors:week 0 23 on redis-server 7.0.15 gives the same bytes (the HYLL header with
  // the cardinality 5 cached by PFCOUNT, then the sparse registers).
  assert.equal(await keyRow(page, 'logins:mon').locator('td.value').innerText(), '"\\x11\\b"');
  assert.equal(await keyRow(page, 'logins:both').locator('td.value').innerText(), '"\\x01\\b"');
  assert.equal(
    await keyRow(page, 'visitors:week').locator('td.value').innerText(),
    '"HYLL\\x01\\x00\\x00\\x00\\x05\\x00\\x00\\x00\\x00\\x00\\x00\\x00E<\\x94G\\x15\\x88NZ"… (33 bytes)',
  );
  assert.equal(await keyRow(page, 'cities').locator('td.type').innerText(), 'zset');
  // Each city's score is its 52-bit geohash (as redis-server 7.0.15 stores them), ordered by score.
  assert.equal(
    await keyRow(page, 'cities').locator('td.value').innerText(),
    '{"London": 2163557714838307, "Rome": 3480343273968262, "Paris": 3663832779122514, "Berlin": 3673983950397063}',
  );
  await done('lessons-bitmaps-hll-geo');
});
