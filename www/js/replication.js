// The replication view: a second engine in the page, a replica of the playground's engine (the
// master, named master:6379), with its own console, and the link between them as bytes. The
// engines do all of replication (the handshake, the RDB, the stream, PSYNC); the page's
// ReplicationLink only carries the bytes and plays the network (Disconnect cuts it).

import { Engine, ReplicationLink } from '../pkg/index.js';
import { ClientPanel, el } from './client.js';
import { showBytes } from './bytes.js';
import { wireEntry } from './wire.js';

const MAX_LINK = 80;
const ascii = (b, s = 0, e = b.length) => {
  let t = '';
  for (let i = s; i < e; i++) t += String.fromCharCode(b[i]);
  return t;
};

/** The end of the CRLF-terminated line at `at` (index of \r), or -1. */
function lineEnd(b, at) {
  for (let i = at; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

/** Splits RESP bytes into frames { start, end, args | line }; stops at anything else. */
function splitFrames(b, from, to) {
  const out = [];
  let p = from;
  while (p < to) {
    if (b[p] === 10) {
      // The master's keepalive while a replica waits for the RDB to start (a bare newline).
      out.push({ start: p, end: p + 1, line: '\n' });
      p++;
      continue;
    }
    const e = lineEnd(b, p);
    if (e < 0 || e >= to) break;
    const t = b[p];
    if (t === 42) {
      const n = Number(ascii(b, p + 1, e));
      let q = e + 2;
      const args = [];
      let ok = Number.isInteger(n) && n >= 0;
      for (let i = 0; ok && i < n; i++) {
        const le = lineEnd(b, q);
        if (b[q] !== 36 || le < 0) {
          ok = false;
          break;
        }
        const len = Number(ascii(b, q + 1, le));
        args.push(ascii(b, le + 2, le + 2 + len));
        q = le + 2 + len + 2;
      }
      if (!ok || q > to) break;
      out.push({ start: p, end: q, args });
      p = q;
    } else {
      out.push({ start: p, end: e + 2, line: ascii(b, p, e) });
      p = e + 2;
    }
  }
  return { frames: out, end: p };
}

/** What one frame on the link is, in words. */
function frameLabel(f, toMaster) {
  if (f.line === '\n') return '\\n: a newline, the master\'s keepalive while the replica waits for the RDB';
  if (f.line !== undefined) {
    const w = f.line.slice(1).split(' ');
    if (w[0] === 'FULLRESYNC') return `+FULLRESYNC: a full resync; the master's replication ID ${w[1]} and offset ${w[2]} (the RDB follows)`;
    if (w[0] === 'CONTINUE') return '+CONTINUE: a partial resync; only the bytes the replica missed follow, from the backlog';
    if (w[0] === 'PONG') return '+PONG: the master answers the handshake\'s PING';
    if (w[0] === 'OK') return '+OK: the master accepts the REPLCONF';
    return `reply ${f.line}`;
  }
  const [cmd = '', ...rest] = f.args;
  const c = cmd.toUpperCase();
  const words = `${c} ${rest.join(' ')}`.trim();
  if (toMaster) {
    if (c === 'PING') return 'PING: the handshake starts (is the master there?)';
    if (c === 'REPLCONF' && /^ack$/i.test(rest[0] ?? '')) return `REPLCONF ACK ${rest[1]}: the replica has applied the stream up to offset ${rest[1]}`;
    if (c === 'REPLCONF') return `${words}: the replica tells the master about itself`;
    if (c === 'PSYNC' && rest[0] === '?') return 'PSYNC ? -1: a replica that has nothing asks for everything';
    if (c === 'PSYNC') return `PSYNC ${rest[0]} ${rest[1]}: continue the stream of replication ID ${rest[0].slice(0, 8)}… from offset ${rest[1]}, if the master has it`;
    return words;
  }
  if (c === 'REPLCONF' && /^getack$/i.test(rest[0] ?? '')) return 'REPLCONF GETACK *: the master asks for an ACK now (WAIT is waiting)';
  if (c === 'PING') return 'PING: the master\'s keepalive (part of the stream)';
  if (c === 'SELECT') return `${words}: the stream says which database the next writes go to`;
  return `stream: ${words}`;
}

export class ReplicationView {
  /** `app`: the playground (its engine is the master). */
  constructor(app) {
    this.app = app;
    this.link = null;
    this.engine = null;
    this.panel = null;
    this.expectRdb = false;
    this.root = document.querySelector('#replication');
    this.status = this.root.querySelector('#repl-status');
    this.cutBtn = this.root.querySelector('#repl-cut');
    this.upBtn = this.root.querySelector('#repl-up');
    this.wire = this.root.querySelector('#repl-wire');
    this.explain = this.root.querySelector('#repl-explain');
    this.cutBtn.addEventListener('click', () => this.cut());
    this.upBtn.addEventListener('click', () => this.reconnect());
  }

  /** Creates the replica engine, its console and the link (once). */
  start() {
    if (this.engine) return;
    // It listens on no port: replica-announce-port is what it tells the master (INFO, ROLE).
    this.engine = new Engine({ clock: 'manual', time: this.app.engine.now(), seed: 7, config: { 'replica-announce-port': 6379 } });
    this.link = new ReplicationLink({ master: this.app.engine, replica: this.engine, host: 'master', port: 6379, replicaAddr: 'replica:6379' });
    this.link.onChunk((c) => this.show(c.direction, c.bytes));
    this.link.onState(() => this.setStatus());
    this.panel = new ClientPanel(this.app, 'replica', {}, { engine: this.engine, title: 'Replica', wireLabel: 'replica console' });
    this.panel.root.classList.add('replica');
    this.setStatus();
  }

  show(direction, bytes) {
    const toMaster = direction === 'to-master';
    let p = 0;
    const add = (s, e, note, summary) => {
      const dir = toMaster ? 'out' : 'in';
      let item;
      if (summary) {
        item = el('li', { class: `wire-entry ${dir} rdb` }, el('div', { class: 'wire-head' }, el('span', { class: 'dir', text: toMaster ? 'replica → master' : 'master → replica' }), el('span', { class: 'meta', text: note })), el('code', { class: 'bytes', text: summary }));
      } else {
        item = wireEntry(bytes.subarray(s, e), { dir, note, explain: (t) => (this.explain.textContent = t) });
        item.querySelector('.dir').textContent = toMaster ? 'replica → master' : 'master → replica';
      }
      item.dataset.label = note;
      this.wire.append(item);
    };
    while (p < bytes.length) {
      if (!toMaster && this.expectRdb && bytes[p] === 36) {
        // The RDB: $<len>\r\n<bytes> (from a file, no CRLF after) or $EOF:<mark>\r\n<bytes><mark>
        // (diskless: streamed while it is made, so the length is unknown).
        const e = lineEnd(bytes, p);
        const head = ascii(bytes, p, e);
        let end;
        let how;
        if (head.startsWith('$EOF:')) {
          const mark = head.slice(5);
          const at = ascii(bytes, e + 2).indexOf(mark);
          end = at < 0 ? bytes.length : e + 2 + at + mark.length;
          how = `${head.slice(0, 9)}…: diskless (streamed as it is made, ended by a 40-byte mark)`;
        } else {
          end = Math.min(bytes.length, e + 2 + Number(head.slice(1)));
          how = `${head}: a bulk length, no CRLF after the file`;
        }
        const rdb = bytes.subarray(e + 2, end);
        this.expectRdb = false;
        add(p, end, `RDB payload: ${end - p} bytes (${how})`, `${showBytes(rdb, 0, Math.min(rdb.length, 24))}… the dataset as an RDB file (${rdb.length} bytes)`);
        p = end;
        continue;
      }
      const { frames, end } = splitFrames(bytes, p, bytes.length);
      if (!frames.length) {
        add(p, bytes.length, `${bytes.length - p} bytes`);
        break;
      }
      for (const f of frames) {
        if (f.line?.startsWith('+FULLRESYNC')) this.expectRdb = true;
        add(f.start, f.end, frameLabel(f, toMaster));
        if (this.expectRdb) {
          p = f.end;
          break;
        }
        p = f.end;
      }
      if (!this.expectRdb) p = end;
    }
    while (this.wire.childElementCount > MAX_LINK) this.wire.firstElementChild.remove();
    this.wire.scrollTop = this.wire.scrollHeight;
    this.setStatus();
  }

  setStatus() {
    if (!this.link) return;
    const s = !this.link.up ? 'disconnected (the network is cut)' : this.link.connected ? 'link up' : 'no link';
    this.status.textContent = `Replica ⇄ master:6379 — ${s}`;
    this.cutBtn.disabled = !this.link.up;
    this.upBtn.disabled = this.link.up;
  }

  cut() {
    this.link.cut();
    this.show('to-replica', new Uint8Array(0));
    this.panel.poll();
    this.app.linkAction?.('cut');
  }

  /** The network is back; the replica retries once a second, so the clock moves 1 s. */
  reconnect() {
    this.link.reconnect();
    this.app.advance(1000, 'The network is back; the replica retries each second: the clock moved 1 s.');
    this.app.linkAction?.('reconnect');
  }

  /** Time passes for both engines (they share the page's clock). */
  advance(ms) {
    this.engine?.advance(ms);
  }

  poll() {
    this.panel?.poll();
  }

  setVisible(on) {
    this.root.hidden = !on;
    if (this.panel) this.panel.root.hidden = !on;
  }
}
