// Records a lesson's replies from a real Redis server, for the expectations of the lesson tests
// (playground.test.mjs): every step's commands sent as the page sends them (the same splitting,
// the same RESP bytes), one TCP connection per lesson client, clock steps waited out for real.
// Prints, per step, the bytes each client received during it, as the wire panel shows them.
// It empties the server first (FLUSHALL): point it at a throwaway redis-server.
//
//   cargo xtask wasm && cp -r web/pkg www/pkg     (or after `cargo xtask test playground`)
//   redis-server --port 23917 --save '' --appendonly no --daemonize yes
//   node www/tests/record-lesson.mjs streams 127.0.0.1:23917
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LESSONS } from '../js/lessons.js';
import { concat, encodeRequest, showBytes, splitCommands } from '../js/bytes.js';
import { splitArgs } from '../pkg/index.js';

const [id, addr] = process.argv.slice(2);
const lesson = LESSONS.find((l) => l.id === id);
if (!lesson || !addr) {
  console.error(`usage: node record-lesson.mjs <${LESSONS.map((l) => l.id).join('|')}> host:port`);
  process.exit(2);
}
const [host, port] = addr.split(':');

/** A client: a connection and the bytes received since the last take(). */
async function client() {
  const sock = connect(Number(port), host);
  await new Promise((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const c = { sock, got: [], last: Date.now() };
  sock.on('data', (d) => {
    c.got.push(d);
    c.last = Date.now();
  });
  return c;
}

const clients = new Map();
// Redis starts empty for the lesson, as the page's tests do.
const admin = await client();
admin.sock.write(encodeRequest([new TextEncoder().encode('FLUSHALL')]));
await sleep(100);
admin.sock.destroy();

for (const [i, s] of lesson.steps.entries()) {
  if (s.advance) {
    await sleep(s.advance + 100);
    console.log(`// step ${i + 1}: clock +${s.advance} ms (waited)`);
    continue;
  }
  if (!clients.has(s.client)) clients.set(s.client, await client());
  const c = clients.get(s.client);
  if (s.raw) throw new Error(`step ${i + 1}: raw steps are not recorded by this tool`);
  const args = splitCommands(s.cmd).map((cmd) => splitArgs(cmd));
  c.sock.write(concat(args.map(encodeRequest)));
  // Replies are complete once nothing more arrives for a while.
  const start = Date.now();
  await sleep(150);
  while ([...clients.values()].some((x) => Date.now() - x.last < 150) && Date.now() - start < 3000) await sleep(50);
  for (const [n, x] of clients) {
    if (!x.got.length) continue;
    const bytes = showBytes(new Uint8Array(Buffer.concat(x.got)));
    x.got = [];
    console.log(`// step ${i + 1}${n === s.client ? '' : ` (output for client ${n})`}\n[${n}, '${bytes.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'],`);
  }
}
for (const c of clients.values()) c.sock.destroy();
