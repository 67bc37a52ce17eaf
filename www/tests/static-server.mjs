// The static file server of the browser tests (node:http only): www/ for the playground's
// tests, and web/ for the wasm package's browser test (web/tests/browser.test.mjs), with the
// right content types (wasm must be application/wasm) and nothing outside what is allowed.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, normalize, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves the files below `dir` whose path `allow`s, on a free loopback port; resolves to { base, close }. */
export async function serveDir(dir, allow) {
  const server = createServer(async (req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path.endsWith('/')) path += 'index.html';
    if (path.includes('..') || !allow(path)) {
      res.writeHead(404).end();
      return;
    }
    try {
      // A precompressed sibling (.br, .gz) for a browser that accepts it, as `cargo xtask run` does.
      const accept = String(req.headers['accept-encoding'] ?? '');
      const headers = { 'content-type': types[extname(path)] ?? 'application/octet-stream' };
      let file = join(dir, path);
      for (const [enc, ext] of [['br', '.br'], ['gzip', '.gz']]) {
        if (!accept.split(',').some((p) => p.split(';')[0].trim() === enc)) continue;
        if (await stat(file + ext).then((s) => s.isFile(), () => false)) {
          file += ext;
          headers['content-encoding'] = enc;
          headers.vary = 'Accept-Encoding';
          break;
        }
      }
      const body = await readFile(file);
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

/** www/: the page and the wasm package (www/pkg), no node_modules or tests. */
export const serveWww = () => serveDir(root, (p) => !p.startsWith('/node_modules') && !p.startsWith('/tests'));

/** Debian's headless Chromium (or $CHROMIUM) with the flags this machine needs. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
