// The playground: the real Oxidis engine (WebAssembly) in the page, clients that talk to it byte
// by byte, a keyspace view, a simulated clock, lessons, and state that survives a reload.

import { Engine, decodeAnnotated, renderReply } from '../pkg/index.js';
import { ClientPanel, el } from './client.js';
import { LESSONS } from './lessons.js';
import { ReplicationView } from './replication.js';
import { ClusterView } from './cluster.js';
import { base64ToBytes, bytesToBase64, fromBase64Url, toBase64Url } from './bytes.js';
import { commandTable, commandOf, docsUrl } from './commands.js';
import { splitArgs } from '../pkg/index.js';
import { parseEscapes, showBytes, splitCommands } from './bytes.js';

const utf8Text = (b) => new TextDecoder().decode(b);

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
    // A shared link opens in a fresh workspace: the saved work is neither loaded nor overwritten
    // until the learner chooses to keep the shared one.
    this.ephemeral = !!shared;
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
    // The replication lesson's replica engine and link (made when that lesson opens).
    this.repl = new ReplicationView(this);
    // The cluster lesson's three engines (made when that lesson opens).
    this.cluster = new ClusterView(this);
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
    if (shared) this.sharedBanner(Object.keys(state).length > 0);
    // Another tab of the playground saved: stop saving here rather than overwrite its work.
    window.addEventListener('storage', (e) => {
      if (e.key !== KEY || this.ephemeral) return;
      this.readOnly = true;
      this.banner('The playground was changed in another tab: this tab no longer saves, so it cannot overwrite that work.', [['Reload with the other tab\'s work', () => location.reload()]]);
    });
    $('#skip').addEventListener('click', (e) => {
      e.preventDefault();
      const c = this.clients[0];
      (c.mode === 'raw' ? c.rawInput : c.input).focus();
    });
    this.ready = true;
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
    this.countPanels();
    $('#add-client').disabled = this.clients.length >= MAX_CLIENTS;
    if (focus) c.input.focus();
    this.changed();
    return c;
  }

  removeClient(c) {
    c.close();
    this.clients = this.clients.filter((x) => x !== c);
    this.countPanels();
    $('#add-client').disabled = false;
    this.pumpAll();
    this.changed();
    this.clients[0]?.input.focus();
  }

  client(n) {
    if (n === 'replica') {
      this.showReplication(true);
      return this.repl.panel;
    }
    if (n === 'cluster') {
      this.showCluster(true);
      return this.cluster.panel;
    }
    while (!this.clients.find((c) => c.n === n) && this.clients.length < MAX_CLIENTS) this.addClient({}, false);
    return this.clients.find((c) => c.n === n) ?? this.clients[this.clients.length - 1];
  }

  /** Output for other clients (a PUBLISH, a woken BLPOP, a timeout) goes to their consoles. */
  pumpAll(except) {
    for (const c of this.clients) if (c !== except) c.poll();
    if (this.repl.panel && this.repl.panel !== except) this.repl.poll();
    if (this.cluster.panel && this.cluster.panel !== except) this.cluster.poll();
  }

  /** The consoles' grid: the clients, and the replica's console while it is shown. */
  countPanels() {
    const shown = this.repl?.panel && !this.repl.root.hidden;
    const cluster = this.cluster?.panel && !this.cluster.root.hidden;
    // The replica's console stays after the clients (addClient re-appends them).
    if (this.repl?.panel?.root.isConnected) $('#clients').append(this.repl.panel.root);
    if (this.cluster?.panel?.root.isConnected) $('#clients').append(this.cluster.panel.root);
    $('#clients').dataset.count = this.clients.length + (shown ? 1 : 0) + (cluster ? 1 : 0);
  }

  /** The replication view (a replica engine linked to this one) shown or hidden. */
  showReplication(on) {
    if (on) {
      this.repl.start();
      if (!this.repl.panel.root.isConnected) $('#clients').append(this.repl.panel.root);
    }
    this.repl.setVisible(on);
    this.countPanels();
  }

  /** The cluster view (three more engines in a cluster, made when first shown) shown or hidden. */
  showCluster(on) {
    if (on) {
      this.cluster.root.hidden = false;
      this.cluster.start();
      if (!this.cluster.panel.root.isConnected) $('#clients').append(this.cluster.panel.root);
    }
    this.cluster.setVisible(on);
    this.countPanels();
  }

  /** The learner pressed Disconnect or Reconnect: a link step is done. */
  linkAction(action) {
    const l = LESSONS.find((x) => x.id === this.lesson);
    if (!l) return;
    const i = this.activeStep(l);
    if (i >= 0 && l.steps[i].link === action && !this.inRunStep) this.completeStep(l, i);
    else this.changed();
  }

  // ---- state ----------------------------------------------------------------------------

  changed() {
    this.refresh();
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.save();
    }, 200);
  }

  save() {
    if (this.ephemeral || this.readOnly) return;
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

  /** A message above the consoles with actions: [[label, fn], ...]. */
  banner(msg, actions = []) {
    const b = $('#banner');
    b.replaceChildren(el('p', { text: msg }), ...actions.map(([label, fn]) => el('button', { type: 'button', onclick: fn }, label)));
    b.hidden = false;
  }

  sharedBanner(hadWork) {
    this.banner(
      hadWork
        ? 'A shared link: its commands ran in a fresh workspace. Your saved work is untouched and comes back when you leave; this workspace is not saved unless you keep it.'
        : 'A shared link: its commands ran in a fresh workspace. It is not saved unless you keep it.',
      [
        ['Keep this workspace', () => {
          if (hadWork && !confirm('Replace your saved work with this workspace? (Lesson progress is kept.)')) return;
          this.ephemeral = false;
          const st = loadState();
          this.lessonDone = new Set([...this.lessonDone, ...(st.lessons ?? [])]);
          this.save();
          $('#banner').hidden = true;
          this.toast('This workspace is now the saved one.');
        }],
        ['Back to my saved work', () => location.reload()],
      ],
    );
  }

  reset() {
    if (!confirm('Reset the playground? All keys, consoles and command history are deleted; your lesson progress is kept.')) return;
    const keep = { lessons: [...this.lessonDone], lesson: this.lesson };
    this.readOnly = true;
    if (!this.ephemeral) localStorage.setItem(KEY, JSON.stringify(keep));
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
    this.repl.advance(ms);
    this.cluster.advance(ms);
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

  advance(ms, why) {
    this.engine.advance(ms);
    this.repl.advance(ms);
    this.cluster.advance(ms);
    this.pumpAll();
    this.changed();
    this.toast(why ?? `Clock moved forward ${ms >= 60000 ? `${ms / 60000} min` : `${ms / 1000} s`}.`);
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
    $('#sandbox').addEventListener('click', () => this.showLesson('sandbox', false));
    this.showLesson(this.lesson, false);
  }

  stepId(l, i) {
    return `${l.id}:${i}`;
  }

  /** The first step of a lesson not done yet (-1 when all are). */
  activeStep(l) {
    return l.steps.findIndex((_, i) => !this.lessonDone.has(this.stepId(l, i)));
  }

  /** A step's commands as the engine splits them: [[arg bytes...], ...]. */
  stepArgs(s) {
    if (!s.parsed) s.parsed = splitCommands(s.cmd).map((c) => splitArgs(c) ?? []);
    return s.parsed;
  }

  /** The comparable form of commands: names (and a container's subcommand) in upper case. */
  commandKey(cmds) {
    return cmds
      .map((args) => {
        const words = args.map((a) => (typeof a === 'string' ? a : utf8Text(a)));
        const name = commandOf(words.slice(0, 2));
        const n = name ? name.split(' ').length : 1;
        return words.map((w, i) => (i < n ? w.toUpperCase() : w)).join('\u0000');
      })
      .join('\u0001');
  }

  /** Commands a lesson uses, for its documentation links. */
  lessonCommands(l) {
    const names = new Set();
    for (const s of l.steps) {
      if (!s.cmd) continue;
      for (const args of this.stepArgs(s)) {
        const name = commandOf(args.map(utf8Text).slice(0, 2));
        if (name) names.add(name);
      }
    }
    return [...names];
  }

  /**
   * A client sent something the learner typed (args: the commands as the engine split them, or
   * raw bytes): the active step is done when it is the same command in the same client.
   */
  commandRan(client, cmds, fromLesson, raw) {
    if (fromLesson || !cmds?.length && !raw) return;
    const l = LESSONS.find((x) => x.id === this.lesson);
    if (!l) return;
    const i = this.activeStep(l);
    if (i < 0) return;
    const s = l.steps[i];
    if (s.client !== client.n) return;
    let ok = false;
    if (raw && s.raw) ok = showBytes(raw) === showBytes(parseEscapes(s.raw).bytes ?? new Uint8Array(0));
    else if (cmds && s.cmd) ok = this.commandKey(cmds) === this.commandKey(this.stepArgs(s));
    if (!ok) return;
    this.completeStep(l, i);
  }

  completeStep(l, i) {
    this.lessonDone.add(this.stepId(l, i));
    this.showLesson(l.id, false);
    const next = this.activeStep(l);
    this.announce(next < 0 ? `Step ${i + 1} done. Lesson complete.` : `Step ${i + 1} done. Next: step ${next + 1}.`);
  }

  announce(msg) {
    const a = $('#announce');
    a.textContent = '';
    setTimeout(() => (a.textContent = msg), 50);
  }

  /** What a step asks for, as shown: `client 2> BLPOP jobs 0`. */
  stepWhat(s) {
    if (s.link) return s.link === 'cut' ? 'Disconnect (cut the link)' : 'Reconnect';
    if (s.client === 'replica') return `replica> ${s.cmd}`;
    if (s.client === 'cluster') return `cluster> ${s.cmd}`;
    return s.cmd ? `client ${s.client}> ${s.cmd}` : s.raw ? `client ${s.client} bytes> ${s.raw}` : `clock +${s.advance / 1000} s`;
  }

  showLesson(id, focus) {
    const sandbox = id === 'sandbox';
    const l = sandbox ? null : (LESSONS.find((x) => x.id === id) ?? LESSONS[0]);
    const changed = this.lesson !== (sandbox ? 'sandbox' : l.id);
    this.lesson = sandbox ? 'sandbox' : l.id;
    if (l?.replication) this.showReplication(true);
    else if (this.repl.engine) this.showReplication(false);
    if (l?.cluster) this.showCluster(true);
    else if (this.cluster.net) this.showCluster(false);
    for (const b of document.querySelectorAll('#lesson-list button')) {
      const x = LESSONS.find((y) => y.id === b.dataset.lesson);
      const done = this.activeStep(x) < 0;
      b.classList.toggle('done', done);
      if (b.dataset.lesson === this.lesson) b.setAttribute('aria-current', 'step');
      else b.removeAttribute('aria-current');
      b.title = done ? 'completed' : '';
    }
    $('#sandbox').setAttribute('aria-pressed', String(sandbox));
    const box = $('#lesson');
    const done = LESSONS.reduce((n, x) => n + x.steps.filter((_, i) => this.lessonDone.has(this.stepId(x, i))).length, 0);
    const total = LESSONS.reduce((n, x) => n + x.steps.length, 0);
    $('#lesson-progress').textContent = `${done} of ${total} steps done`;
    if (sandbox) {
      box.replaceChildren(el('h3', { text: 'Free sandbox', tabindex: '-1' }), el('p', { text: 'No lesson: type any command. Type help for help, help <command> for one command. Your lesson progress is kept; pick a lesson to go on.' }));
      this.renderStrip(null, -1);
      this.clients[0]?.input.focus();
      this.changed();
      return;
    }
    if (changed && this.ready) {
      // A new lesson starts on fresh connections (the keys stay): no client is left closed,
      // blocked, subscribed or in RESP3 by the lesson before.
      for (const c of this.clients) if (c.closed || c.blocked || c.subscribed || c.resp3) c.reconnect(false);
    }
    if ((changed || focus) && l.pauseClock && this.running) {
      this.running = false;
      this.stopClock();
      this.toast('The clock is paused for this lesson: time moves only with the clock buttons.');
    }
    const active = this.activeStep(l);
    const steps = l.steps.map((s, i) => {
      const isDone = this.lessonDone.has(this.stepId(l, i));
      const run = el('button', { type: 'button', class: 'run', onclick: () => this.runStep(l, i) }, isDone ? 'Run again' : s.advance ? `Move the clock +${s.advance / 1000} s` : s.link ? this.stepWhat(s) : 'Do it for me');
      const li = el('li', { class: isDone ? 'done' : i === active ? 'active' : '' }, el('p', { text: s.text }), el('code', { text: this.stepWhat(s) }), run);
      if (i === active) li.setAttribute('aria-current', 'step');
      return li;
    });
    const idx = LESSONS.indexOf(l);
    const next = LESSONS[idx + 1];
    const docs = this.lessonCommands(l).map((n) => el('li', {}, el('a', { href: docsUrl(n), target: '_blank', rel: 'noopener' }, n)));
    box.replaceChildren(
      el('h3', { text: l.title, tabindex: '-1' }),
      el('p', { text: l.intro }),
      el('ol', { class: 'steps' }, ...steps),
      el('h4', { text: 'What to try next' }),
      el('p', { class: 'try-next', text: l.next ?? 'The consoles are yours.' }),
      el('h4', { text: 'Redis documentation of the commands used' }),
      el('ul', { class: 'docs' }, ...docs),
      next ? el('button', { type: 'button', class: 'next', onclick: () => this.showLesson(next.id, true) }, `Next: ${next.title}`) : el('p', { text: 'That was the last lesson. The consoles are yours.' }),
    );
    this.renderStrip(l, active);
    if (focus) box.querySelector('h3').focus({ preventScroll: true });
    this.changed();
  }

  /** The strip above the consoles: the active step (sticky on phones), always next to the console. */
  renderStrip(l, i) {
    const strip = $('#step-strip');
    for (const c of this.clients) c.input.placeholder = 'SET greeting hello';
    // In the sandbox the strip is one line that scrolls away with the page.
    strip.classList.toggle('compact', !l);
    if (!l) {
      strip.replaceChildren(el('p', { class: 'strip-title', text: 'Free sandbox: type any command (help lists them).' }));
      return;
    }
    if (i < 0) {
      const next = LESSONS[LESSONS.indexOf(l) + 1];
      strip.replaceChildren(
        el('p', { class: 'strip-title', text: `${l.title}: complete ✓` }),
        el('p', { text: l.next ?? '' }),
        next ? el('button', { type: 'button', class: 'strip-next', onclick: () => this.showLesson(next.id, true) }, `Next: ${next.title}`) : el('span'),
      );
      return;
    }
    const s = l.steps[i];
    const buttons = el('div', { class: 'strip-actions' });
    if (s.advance) {
      buttons.append(el('button', { type: 'button', class: 'strip-run', onclick: () => this.runStep(l, i) }, `Move the clock +${s.advance / 1000} s`));
    } else if (s.link) {
      buttons.append(el('button', { type: 'button', class: 'strip-run', onclick: () => this.runStep(l, i) }, this.stepWhat(s)));
    } else {
      const c = this.client(s.client);
      if (s.cmd) c.input.placeholder = s.cmd;
      // The step's client in the step's mode: raw bytes or the console.
      if (s.raw && c.mode !== 'raw') c.setMode('raw', false);
      if (s.cmd && c.mode !== 'console') c.setMode('console', false);
      buttons.append(
        el('button', { type: 'button', class: 'strip-fill', onclick: () => this.fillStep(l, i) }, 'Type it for me'),
        el('button', { type: 'button', class: 'strip-run', onclick: () => this.runStep(l, i) }, 'Do it for me'),
      );
    }
    strip.replaceChildren(
      el('p', { class: 'strip-title', text: `${l.title} · step ${i + 1} of ${l.steps.length}` }),
      el('p', { class: 'strip-text', text: s.text }),
      el('code', { class: 'strip-cmd', text: this.stepWhat(s) }),
      buttons,
    );
  }

  /** Puts the step's command in its client's input, for the learner to send. */
  fillStep(l, i) {
    const s = l.steps[i];
    if (s.link) return this.runStep(l, i);
    const c = this.client(s.client);
    if (c.closed) c.reconnect();
    if (s.raw) {
      if (c.mode !== 'raw') c.setMode('raw');
      c.rawInput.value = s.raw;
      c.updateParser(true);
      c.rawInput.focus({ preventScroll: true });
    } else {
      if (c.mode !== 'console') c.setMode('console');
      c.input.value = s.cmd;
      c.updateHint();
      c.input.focus({ preventScroll: true });
    }
  }

  runStep(l, i) {
    const s = l.steps[i];
    this.inRunStep = true;
    try {
      if (s.link === 'cut') this.repl.cut();
      else if (s.link === 'reconnect') this.repl.reconnect();
    } finally {
      this.inRunStep = false;
    }
    if (s.advance) this.advance(s.advance);
    else if (s.link) {
      // done above
    } else {
      const c = this.client(s.client);
      if (c.closed) c.reconnect();
      if (s.raw) {
        if (c.mode !== 'raw') c.setMode('raw', false);
        c.sendRaw(s.raw, { fromLesson: true });
      } else {
        if (c.mode !== 'console') c.setMode('console', false);
        c.runInput(s.cmd, { fromLesson: true });
      }
    }
    const wasActive = this.activeStep(l) === i;
    this.lessonDone.add(this.stepId(l, i));
    this.showLesson(l.id, false);
    if (wasActive) this.announce(`Step ${i + 1} done.`);
    document.querySelectorAll('#lesson .steps .run')[i]?.focus({ preventScroll: true });
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
