// The playground in Firefox (Debian's firefox-esr, driven through WebDriver BiDi by
// puppeteer-core): the page boots, a typed command goes over the wire and its reply is
// rendered, and nothing is logged as an error. The full interaction tests run in Chromium
// (playground.test.mjs); this one shows the page is not Chromium-only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { root, serveWww } from './static-server.mjs';

const shots = process.env.SCREENSHOTS ?? join(root, '..', 'target', 'playground-screenshots');
let server;
let browser;

before(async () => {
  await mkdir(shots, { recursive: true });
  server = await serveWww();
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
    headless: true,
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('Firefox: SET greeting hello shows the request bytes, +OK and the key', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto(server.base);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  await page.click('#c1-input');
  await page.type('#c1-input', 'SET greeting hello');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.body.innerText.includes('+OK\\r\\n'), { timeout: 10_000 });
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(text.includes('*3\\r\\n$3\\r\\nSET\\r\\n$8\\r\\ngreeting\\r\\n$5\\r\\nhello\\r\\n'), 'request bytes on the wire');
  assert.match(text, /1 key in db 0/);
  await page.screenshot({ path: join(shots, 'firefox.png') });
  assert.deepEqual(errors, [], 'the page logged errors');
  await page.close();
});
