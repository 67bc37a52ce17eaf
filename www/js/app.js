// The playground: the real Oxidis engine (WebAssembly) in the page, clients that talk to it byte
// by byte, a keyspace view, a simulated clock, lessons, and state that survives a reload.

import { Engine, decodeAnnotated, renderReply } from '../pkg/index.js';
import { ClientPanel, el } from './client.js';
import { LESSONS } from './lessons.js';
import { base64ToBytes, bytesToBase64, fromBase64Url, toBase64Url } from './bytes.js';
import { commandTable } from './commands.js';

const KEY = 'oxidis-playground:v1';
const MAX_CLIENTS = 3;
const $ = (sel) => document.querySelector(sel);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A string value in the keyspace: text in quotes; binary data (a bitmap, a HyperLogLog: bytes
 * that are not UTF-8 text, or control characters) as redis-cli shows it ("\x11\b"), its first
 * 24 bytes and its length.
 */
function stringPreview(bytes) {
  let text = null;
  try {
    text = UTF8.decode(bytes);
  } catch {}
  if (text !== null && !/[\x00-\x08\x0b-\x1f\x7f]/.test(text)) return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  const head = bytes.subarray(0, 24);
  const shown = renderReply(new Uint8Array([...new TextEncoder().encode(`$${head.length}\r\n`), ...head, 13, 10])).trimEnd();
  return bytes.length > head.length ? `${shown}… (${bytes.length} bytes)` : shown;
}

function loadState() {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? 'null') ?? {};
  } catch {
    return {};
  }
}

class App {
  constructor() {
    const shared = /^#cmds=([A-Za-z0-9_-]+)$/.exec(location.hash);
    const state = loadState();
    this.lessonDone = new Set(state.lessons ?? []);
    this.lesson = state.lesson ?? LESSONS[0].id;
    this.running = state.running ?? true;
    this.speed = 1;
    this.engine = new Engine({ clock: 'manual', time: state.time ?? Date.now() });
    if (state.rdb && !shared) {
      try {
        this.engine.importRdb(base64ToBytes(state.rdb));
      } catch (e) {
        this.toast(`Saved keys could not be loaded: ${e.message}`);
      }
    }
    // The keyspace view reads values through its own connection (never shown on a wire).
    this.inspector = this.engine.connect();
    this.clients = [];
    this.buildClock();
    const saved = shared ? [{}] : state.clients?.length ? state.clients : [{}];
    for (const s of saved.slice(0, MAX_CLIENTS)) this.addClient(s, false);
    this.buildLessons();
    this.buildActions();
    this.refresh();
    if (shared) {
      let cmds = '';
      try {
        cmds = fromBase64Url(shared[1]);
      } catch {
        this.toast('The shared link is damaged: its commands could not be read.');
      }
      history.replaceState(null, '', location.pathname + location.search);
      if (cmds) {
        this.toast('Running the commands of the shared link on a fresh dataset.');
        for (const line of cmds.split('\n')) if (line.trim()) this.clients[0].runInput(line);
      }
    }
    this.startClock();
    commandTable();
    document.body.dataset.ready = 'true';
  }

  decode(bytes) {
    return decodeAnnotated(bytes);
  }

  // ---- clients ------------------------------------------------------------------------

  addClient(saved = {}, focus = true) {
    if (this.clients.length >= MAX_CLIENTS) return null;
    const used = new Set(this.clients.map((c) => c.n));
    let n = 1;
    while (used.has(n)) n++;
    const c = new ClientPanel(this, n, saved);
    this.clients.push(c);
    this.clients.sort((a, b) => a.n - b.n);
    const box = $('#clients');
    box.append(...this.clients.map((x) => x.root));
    box.dataset.count = this.clients.length;
    $('#add-client').disabled = this.clients.length >= MAX_CLIENTS;
    if (focus) c.input.focus();
    this.changed();
    return c;
  }

  removeClient(c) {
    c.close();
    this.clients = this.clients.filter((x) => x !== c);
    $('#clients').dataset.count = this.clients.length;
    $('#add-client').disabled = false;
    this.pumpAll();
    this.changed();
    this.clients[0]?.input.focus();
  }

  client(n) {
    while (!this.clients.find((c) => c.n === n) && this.clients.length < MAX_CLIENTS) this.addClient({}, false);
    return this.clients.find((c) => c.n === n) ?? this.clients[this.clients.length - 1];
  }

  /** Output for other clients (a PUBLISH, a woken BLPOP, a timeout) goes to their consoles. */
  pumpAll(except) {
    for (const c of this.clients) if (c !== except) c.poll();
  }

  // ---- state ----------------------------------------------------------------------------

  changed() {
    this.refresh();
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(), 200);
  }

  save() {
    try {
      const state = {
        time: this.engine.now(),
        rdb: bytesToBase64(this.engine.exportRdb()),
        clients: this.clients.map((c) => c.saved()),
        lessons: [...this.lessonDone],
        lesson: this.lesson,
        running: this.running,
      };
      localStorage.setItem(KEY, JSON.stringify(state));
    } catch (e) {
      this.toast(`Could not save the state: ${e.message}`);
    }
  }

  reset() {
    localStorage.removeItem(KEY);
    this.stopClock();
    clearTimeout(this.saveTimer);
    location.hash = '';
    location.reload();
  }

  toast(msg) {
    const t = $('#toast');
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (t.hidden = true), 6000);
  }

  // ---- clock ----------------------------------------------------------------------------

  buildClock() {
    this.playBtn = $('#clock-play');
    this.playBtn.addEventListener('click', () => {
      this.running = !this.running;
      this.running ? this.startClock() : this.stopClock();
      this.changed();
    });
    for (const b of document.querySelectorAll('[data-advance]')) {
      b.addEventListener('click', () => this.advance(Number(b.dataset.advance)));
    }
    $('#clock-speed').addEventListener('change', (e) => (this.speed = Number(e.target.value)));
  }

  startClock() {
    this.stopClock();
    this.updateClock();
    if (!this.running) return;
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const ms = Math.round((now - last) * this.speed);
      last = now;
      if (ms > 0) this.tick(ms);
    }, 250);
  }

  stopClock() {
    clearInterval(this.timer);
    this.timer = null;
    this.updateClock();
  }

  tick(ms) {
    const before = this.engine.dbSize();
    this.engine.advance(ms);
    this.pumpAll();
    this.updateClock();
    this.refreshKeys();
    // Save when something expired, else every few seconds for the clock alone.
    if (this.engine.dbSize() !== before) this.changed();
    else if (!this.lastSave || performance.now() - this.lastSave > 3000) {
      this.lastSave = performance.now();
      this.save();
    }
  }

  advance(ms) {
    this.engine.advance(ms);
    this.pumpAll();
    this.changed();
    this.toast(`Clock moved forward ${ms >= 60000 ? `${ms / 60000} min` : `${ms / 1000} s`}.`);
  }

  updateClock() {
    const t = new Date(this.engine.now());
    $('#clock-time').textContent = t.toISOString().replace('T', ' ').replace('Z', ' UTC');
    $('#clock-time').dateTime = t.toISOString();
    this.playBtn.textContent = this.running ? 'Pause' : 'Run';
    this.playBtn.setAttribute('aria-label', this.running ? 'Pause the clock' : 'Run the clock');
    $('#clock').dataset.running = String(this.running);
  }

  // ---- keyspace -------------------------------------------------------------------------

  refresh() {
    this.updateClock();
    this.refreshKeys();
  }

  preview(key, type) {
    const c = this.inspector;
    const short = (s) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);
    const q = (v) => (typeof v === 'string' ? JSON.stringify(short(v)) : String(v));
    try {
      switch (type) {
        case 'string':
          return stringPreview(c.callBuffer('GET', key));
        case 'list': {
          const n = c.call('LLEN', key);
          const items = c.call('LRANGE', key, 0, 4);
          return `[${items.map(q).join(', ')}${n > 5 ? `, … ${n - 5} more` : ''}]`;
        }
        case 'hash': {
          const n = c.call('HLEN', key);
          if (n > 8) return `${n} fields`;
          const h = c.call('HGETALL', key);
          const pairs = [];
          for (let i = 0; i < h.length; i += 2) pairs.push(`${q(h[i])}: ${q(h[i + 1])}`);
          return `{${pairs.join(', ')}}`;
        }
        case 'set': {
          const n = c.call('SCARD', key);
          if (n > 8) return `${n} members`;
          return `{${c.call('SMEMBERS', key).map(q).join(', ')}}`;
        }
        case 'zset': {
          const n = c.call('ZCARD', key);
          const z = c.call('ZRANGE', key, 0, 4, 'WITHSCORES');
          const pairs = [];
          for (let i = 0; i < z.length; i += 2) pairs.push(`${q(z[i])}: ${z[i + 1]}`);
          return `{${pairs.join(', ')}${n > 5 ? `, … ${n - 5} more` : ''}}`;
        }
        case 'stream':
          return this.streamView(key);
        default:
          return '';
      }
    } catch (e) {
      return `(${e.message})`;
    }
  }

  /**
   * A stream in the keyspace: length and last ID, the first entries, and per consumer group its
   * consumers and pending entries (owner, idle time, deliveries), read with XINFO, XRANGE and
   * XPENDING (which change nothing: no consumer is created or seen by looking).
   */
  streamView(key) {
    const c = this.inspector;
    const short = (s) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);
    const q = (v) => JSON.stringify(short(String(v)));
    const fields = (a) => {
      const out = [];
      for (let i = 0; i < a.length; i += 2) out.push(`${q(a[i])}: ${q(a[i + 1])}`);
      return `{${out.join(', ')}}`;
    };
    const obj = (flat) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
    const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    const idle = (ms) => (ms >= 10_000 ? `${Math.floor(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);
    const SHOW = 5;
    const info = obj(c.call('XINFO', 'STREAM', key));
    const entries = c.call('XRANGE', key, '-', '+', 'COUNT', SHOW);
    const box = el('div', { class: 'stream' }, el('div', { class: 'stream-head' }, `${plural(info.length, 'entry', 'entries')} · last ID `, el('code', { text: info['last-generated-id'] })));
    const list = el('ul', { class: 'entries' }, ...entries.map(([id, f]) => el('li', { 'data-id': id }, el('code', { text: id }), ` ${fields(f)}`)));
    if (info.length > entries.length) list.append(el('li', { class: 'more', text: `… ${info.length - entries.length} more` }));
    box.append(list);
    for (const g of c.call('XINFO', 'GROUPS', key).map(obj)) {
      const consumers = c.call('XINFO', 'CONSUMERS', key, g.name).map(obj);
      const pel = c.call('XPENDING', key, g.name, '-', '+', SHOW);
      const group = el('div', { class: 'group', 'data-group': g.name });
      group.append(el('div', { class: 'group-head' }, `group ${q(g.name)} · last delivered `, el('code', { text: g['last-delivered-id'] }), ` · ${g.pending} pending`));
      group.append(el('div', { class: 'consumers', text: consumers.length ? `consumers: ${consumers.map((x) => `${x.name} (${x.pending} pending)`).join(', ')}` : 'no consumers yet' }));
      const pending = el('ul', { class: 'pel' }, ...pel.map(([id, owner, ms, n]) => el('li', { 'data-id': id }, el('code', { text: id }), ` → ${owner} · idle ${idle(ms)} · delivered ${n}×`)));
      if (g.pending > pel.length) pending.append(el('li', { class: 'more', text: `… ${g.pending - pel.length} more pending` }));
      group.append(pending);
      box.append(group);
    }
    return box;
  }

  valueCell(k) {
    const v = this.preview(k.key, k.type);
    return typeof v === 'string' ? el('td', { class: 'value', text: v }) : el('td', { class: 'value' }, v);
  }

  refreshKeys() {
    const keys = this.engine.keys({ limit: 200, binary: false });
    keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const body = $('#keys tbody');
    const rows = keys.map((k) => {
      const ttl = k.ttl < 0 ? 'none' : k.ttl >= 10_000 ? `${Math.ceil(k.ttl / 1000)} s` : `${(k.ttl / 1000).toFixed(1)} s`;
      const tr = el('tr', {}, el('th', { scope: 'row', text: k.key }), el('td', { class: `type ${k.type}`, text: k.type }), this.valueCell(k), el('td', { class: k.ttl < 0 ? 'ttl' : 'ttl live', text: ttl }));
      tr.dataset.key = k.key;
      return tr;
    });
    body.replaceChildren(...rows);
    const n = this.engine.dbSize();
    $('#keys-count').textContent = `${keys.length} key${keys.length === 1 ? '' : 's'}${n > keys.length ? ` (showing ${keys.length} of ${n})` : ''} in db 0`;
    $('#keys-empty').hidden = keys.length > 0;
  }

  // ---- lessons --------------------------------------------------------------------------

  buildLessons() {
    const nav = $('#lesson-list');
    nav.replaceChildren(
      ...LESSONS.map((l) => {
        const b = el('button', { type: 'button', 'data-lesson': l.id, onclick: () => this.showLesson(l.id, true) }, l.title);
        return el('li', {}, b);
      }),
    );
    this.showLesson(this.lesson, false);
  }

  stepId(l, i) {
    return `${l.id}:${i}`;
  }

  showLesson(id, focus) {
    const l = LESSONS.find((x) => x.id === id) ?? LESSONS[0];
    this.lesson = l.id;
    for (const b of document.querySelectorAll('#lesson-list button')) {
      const done = LESSONS.find((x) => x.id === b.dataset.lesson).steps.every((_, i) => this.lessonDone.has(this.stepId(LESSONS.find((x) => x.id === b.dataset.lesson), i)));
      b.classList.toggle('done', done);
      b.setAttribute('aria-current', b.dataset.lesson === l.id ? 'step' : 'false');
      b.title = done ? 'completed' : '';
    }
    const box = $('#lesson');
    const steps = l.steps.map((s, i) => {
      const done = this.lessonDone.has(this.stepId(l, i));
      const what = s.cmd ? `client ${s.client}> ${s.cmd}` : s.raw ? `client ${s.client} bytes> ${s.raw}` : `clock +${s.advance / 1000} s`;
      const run = el('button', { type: 'button', class: 'run', onclick: () => this.runStep(l, i) }, done ? 'Run again' : 'Run');
      return el('li', { class: done ? 'done' : '' }, el('p', { text: s.text }), el('code', { text: what }), run);
    });
    const idx = LESSONS.indexOf(l);
    const next = LESSONS[idx + 1];
    box.replaceChildren(
      el('h3', { text: l.title, tabindex: '-1' }),
      el('p', { text: l.intro }),
      el('ol', { class: 'steps' }, ...steps),
      next ? el('button', { type: 'button', class: 'next', onclick: () => this.showLesson(next.id, true) }, `Next: ${next.title}`) : el('p', { text: 'That was the last lesson. The consoles are yours.' }),
    );
    const done = LESSONS.reduce((n, x) => n + x.steps.filter((_, i) => this.lessonDone.has(this.stepId(x, i))).length, 0);
    const total = LESSONS.reduce((n, x) => n + x.steps.length, 0);
    $('#lesson-progress').textContent = `${done} of ${total} steps done`;
    if (focus) box.querySelector('h3').focus();
    this.changed();
  }

  runStep(l, i) {
    const s = l.steps[i];
    if (s.advance) this.advance(s.advance);
    else {
      const c = this.client(s.client);
      if (c.closed) c.reconnect();
      if (s.raw) {
        if (c.mode !== 'raw') c.setMode('raw');
        c.rawInput.value = s.raw;
        c.sendRaw(s.raw);
      } else {
        if (c.mode !== 'console') c.setMode('console');
        c.runInput(s.cmd, { fromLesson: true });
      }
    }
    this.lessonDone.add(this.stepId(l, i));
    const focusIdx = i;
    this.showLesson(l.id, false);
    document.querySelectorAll('#lesson .steps .run')[focusIdx]?.focus();
  }

  // ---- actions --------------------------------------------------------------------------

  buildActions() {
    $('#add-client').addEventListener('click', () => this.addClient());
    $('#reset').addEventListener('click', () => this.reset());
    $('#download').addEventListener('click', () => {
      const blob = new Blob([this.engine.exportRdb()], { type: 'application/octet-stream' });
      const a = el('a', { href: URL.createObjectURL(blob), download: 'dump.rdb' });
      document.body.append(a);
      a.click();
      setTimeout(() => {
        URL.revokeObjectURL(a.href);
        a.remove();
      }, 1000);
    });
    $('#load').addEventListener('change', async (e) => {
      const f = e.target.files?.[0];
      if (!f) return;
      try {
        const n = this.engine.importRdb(new Uint8Array(await f.arrayBuffer()));
        this.toast(`Loaded ${n} keys from ${f.name}.`);
      } catch (err) {
        this.toast(`Not loaded: ${err.message}`);
      }
      e.target.value = '';
      this.changed();
    });
    $('#share').addEventListener('click', async () => {
      const cmds = this.clients[0].history.slice(-50).join('\n');
      const url = `${location.origin}${location.pathname}#cmds=${toBase64Url(cmds)}`;
      const out = $('#share-url');
      out.value = url;
      out.hidden = false;
      out.select();
      try {
        await navigator.clipboard.writeText(url);
        this.toast('Link copied: it replays client 1\'s commands on a fresh dataset.');
      } catch {
        this.toast('Copy the link from the box: it replays client 1\'s commands on a fresh dataset.');
      }
    });
  }
}

try {
  window.playground = new App();
} catch (e) {
  const t = document.querySelector('#toast');
  t.textContent = `The playground could not start: ${e.message}`;
  t.hidden = false;
  throw e;
}
