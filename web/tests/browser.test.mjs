// Browser smoke test: headless Chromium (Debian's, through playwright-core) loads the package
// from a static page served over http, with no bundler, and runs the checks in browser.html.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveDir } from '../../www/tests/static-server.mjs';

const webRoot = fileURLToPath(new URL('..', import.meta.url));

test('the package works in headless Chromium', async () => {
  const server = await serveDir(webRoot, (p) => p.startsWith('/pkg/') || p.startsWith('/tests/'));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${server.base}tests/browser.html`);
    const checks = await page.waitForFunction(() => window.__result, null, { timeout: 30_000 }).then((h) => h.jsonValue());
    assert.deepEqual(errors, []);
    const failed = checks.filter((c) => !c.ok).map((c) => c.name);
    assert.deepEqual(failed, []);
    assert.ok(checks.length >= 12, JSON.stringify(checks));
  } finally {
    await browser.close();
    server.close();
  }
});
