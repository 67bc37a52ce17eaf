// One simulated client: a redis-cli-like console (or raw RESP input), its connection to the
// in-page engine, and its wire. Requests are sent as the exact bytes redis-cli would write;
// replies are the exact bytes the engine writes back, rendered by the engine's redis-cli
// renderer.

import { splitArgs, renderReplies } from '../pkg/index.js';
import { requestTrace } from '../pkg/oxidis_wasm.js';
import { concat, encodeRequest, parseEscapes, splitCommands, text, utf8 } from './bytes.js';
import { hint, complete, helpText } from './commands.js';
import { wireEntry, requestParts } from './wire.js';

/** Commands whose reply redis-cli prints raw (its output_raw list): INFO's text as lines. */
const RAW_OUTPUT = (args) => {
  const c = args[0]?.toUpperCase();
  const s = args[1]?.toUpperCase();
  return c === 'INFO' || c === 'LOLWUT' || (c === 'MEMORY' && (s === 'DOCTOR' || s === 'MALLOC-STATS')) || (c === 'CLIENT' && (s === 'LIST' || s === 'INFO')) || (c === 'CLUSTER' && (s === 'NODES' || s === 'INFO')) || (c === 'LATENCY' && s === 'DOCTOR');
};

/** The payload of the bulk string reply at `at`, as text, or null. */
function bulkText(bytes, at) {
  if (bytes[at] !== 36 && bytes[at] !== 61) return null;
  const cr = bytes.indexOf(13, at);
  const len = Number(text(bytes.subarray(at + 1, cr)));
  if (!(len >= 0)) return null;
  let body = bytes.subarray(cr + 2, cr + 2 + len);
  if (bytes[at] === 61) body = body.subarray(4); // verbatim: "txt:"
  return text(body);
}

const MAX_LOG = 300;
const MAX_WIRE = 60;

/** A DOM element: `attrs` as attributes (`class`, `text`, `on<event>` handled), then `kids`. */
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

export class ClientPanel {
  /**
   * `app`: { engine, changed(), pumpAll(), removeClient(panel) }; `saved`: persisted state;
   * `opts.engine`: another engine than the app's (the replication view's replica), `opts.title`.
   */
  constructor(app, n, saved = {}, opts = {}) {
    this.app = app;
    this.n = n;
    this.engine = opts.engine ?? null;
    this.name = opts.title ?? `Client ${n}`;
    // redis-cli's prompt (the cluster view's console names the node it is connected to).
    this.promptText = opts.prompt ?? 'oxidis>';
    this.history = saved.history ?? [];
    this.hpos = this.history.length;
    this.log = [];
    this.resp3 = false;
    this.mode = 'console';
    this.buffered = new Uint8Array(0);
    this.blocked = false;
    this.connect();
    this.build();
    for (const e of saved.log ?? []) this.print(e.cls, e.text, false);
    if ((saved.log ?? []).length) this.print('note', '— restored after reload: a new connection (RESP2, no subscriptions) —');
  }

  connect() {
    this.conn = (this.engine ?? this.app.engine).connect();
    this.closed = false;
    this.resp3 = false;
    this.subscribed = false;
    this.blocked = false;
    // The bytes the server has buffered for this connection (an unfinished request), as its own
    // request parser says (requestTrace): every write is explained in their context.
    this.buffered = new Uint8Array(0);
  }

  build() {
    const id = `c${this.n}`;
    this.root = el('section', { class: 'client', id: `client-${this.n}`, 'aria-labelledby': `${id}-title` });
    this.title = el('h2', { id: `${id}-title`, text: this.name });
    this.protoBtn = el('button', { type: 'button', class: 'proto', 'aria-pressed': 'false', title: 'Switch protocol with HELLO 3 / HELLO 2', onclick: () => this.runInput(this.resp3 ? 'HELLO 2' : 'HELLO 3') }, 'RESP2');
    this.modeBtn = el('button', { type: 'button', class: 'mode', 'aria-pressed': 'false', title: 'Type RESP bytes by hand', onclick: () => this.setMode(this.mode === 'raw' ? 'console' : 'raw') }, 'Raw RESP');
    this.reconnectBtn = el('button', { type: 'button', class: 'reconnect', hidden: '', onclick: () => this.reconnect() }, 'Reconnect');
    const tools = el('div', { class: 'tools' }, this.protoBtn, this.modeBtn, this.reconnectBtn);
    if (this.n > 1) tools.append(el('button', { type: 'button', class: 'remove', 'aria-label': `Remove client ${this.n}`, onclick: () => this.app.removeClient(this) }, '✕'));
    this.status = el('span', { class: 'status', role: 'status' });
    const head = el('header', { class: 'client-head' }, this.title, this.status, tools);

    this.out = el('div', { class: 'console', role: 'log', 'aria-label': `${this.name} console`, 'aria-live': 'polite', tabindex: '0' });

    // Console input.
    this.input = el('input', { type: 'text', id: `${id}-input`, class: 'cmd', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', placeholder: 'SET greeting hello', 'aria-describedby': `${id}-hint` });
    this.hint = el('div', { class: 'hint', id: `${id}-hint` });
    const prompt = el('label', { for: `${id}-input`, class: 'prompt', text: this.promptText });
    this.promptLabel = prompt;
    this.form = el('form', { class: 'input-row' }, prompt, this.input, el('button', { type: 'submit' }, 'Send'));
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = this.input.value;
      if (!v.trim()) return;
      this.input.value = '';
      this.runInput(v);
      this.updateHint();
    });
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.input.addEventListener('input', () => this.updateHint());
    this.input.addEventListener('paste', (e) => {
      const t = e.clipboardData?.getData('text') ?? '';
      if (t.includes('\n')) {
        // A multi-line paste is one pipelined write, as with `redis-cli < file`... but visible.
        e.preventDefault();
        this.runInput(this.input.value + t);
        this.input.value = '';
      }
    });

    // Raw input.
    this.rawInput = el('input', { type: 'text', id: `${id}-raw`, class: 'raw', autocomplete: 'off', spellcheck: 'false', placeholder: '*1\\r\\n$4\\r\\nPING\\r\\n', 'aria-describedby': `${id}-parser` });
    this.parser = el('div', { class: 'parser', id: `${id}-parser`, 'aria-live': 'polite' });
    const rawLabel = el('label', { for: `${id}-raw`, class: 'prompt', text: 'bytes>' });
    this.rawForm = el('form', { class: 'input-row raw-row', hidden: '' }, rawLabel, this.rawInput, el('button', { type: 'submit' }, 'Send bytes'));
    this.rawForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendRaw(this.rawInput.value);
    });
    this.rawInput.addEventListener('input', () => this.updateParser(true));
    this.rawHelp = el('p', { class: 'raw-help', hidden: '', text: 'Type RESP with escapes: \\r \\n \\t \\\\ \\xHH. Bytes are sent as typed (nothing is added); the server parses them incrementally.' });

    this.explain = el('div', { class: 'explain', 'aria-live': 'polite', text: 'Hover or focus a part of the bytes (←/→ move) to see what it is.' });
    this.wire = el('ol', { class: 'wire', 'aria-label': `${this.name} wire` });
    const wireBox = el('details', { class: 'wire-box', open: '' }, el('summary', { text: this.engine ? `Wire: ${this.name.toLowerCase()} console ⇄ its engine` : `Wire: client ${this.n} ⇄ server` }), el('div', { class: 'lane', 'aria-hidden': 'true' }, el('span', { text: 'client' }), el('span', { class: 'track' }, el('span', { class: 'packet' })), el('span', { text: 'server' })), this.explain, this.wire);

    this.root.append(head, this.out, this.form, this.hint, this.rawHelp, this.rawForm, this.parser, wireBox);
    this.parser.hidden = true;
    this.updateHint();
  }

  setMode(mode, focus = true) {
    this.mode = mode;
    const raw = mode === 'raw';
    this.modeBtn.setAttribute('aria-pressed', String(raw));
    this.form.hidden = raw;
    this.hint.hidden = raw;
    this.rawForm.hidden = !raw;
    this.rawHelp.hidden = !raw;
    this.parser.hidden = !raw;
    this.updateParser(false);
    if (focus) (raw ? this.rawInput : this.input).focus({ preventScroll: true });
  }

  onKey(e) {
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      if (!this.history.length) return;
      e.preventDefault();
      this.hpos = Math.max(0, Math.min(this.history.length, this.hpos + (e.key === 'ArrowUp' ? -1 : 1)));
      this.input.value = this.history[this.hpos] ?? '';
      this.updateHint();
    } else if (e.key === 'Tab' && !e.shiftKey) {
      const v = this.input.value;
      const m = /^\s*(\S+)$/.exec(v);
      if (!m) return;
      const c = complete(m[1]);
      if (!c.length || c[0] === m[1].toUpperCase()) return;
      e.preventDefault();
      // Complete the longest common prefix (one match: the whole name and a space).
      let p = c[0];
      for (const x of c) while (!x.startsWith(p)) p = p.slice(0, -1);
      this.input.value = c.length === 1 ? `${c[0]} ` : p.length > m[1].length ? p : c[0];
      this.updateHint();
    } else if (e.key === 'Escape') {
      this.input.value = '';
      this.updateHint();
    }
  }

  updateHint() {
    this.hint.textContent = hint(this.input.value).text;
  }

  print(cls, t, save = true) {
    const line = el('pre', { class: `line ${cls}`, text: t });
    this.out.append(line);
    this.out.scrollTop = this.out.scrollHeight;
    if (save) {
      this.log.push({ cls, text: t });
      if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
    } else {
      this.log.push({ cls, text: t });
    }
    while (this.out.childElementCount > MAX_LOG) this.out.firstElementChild.remove();
  }

  setStatus() {
    const s = [];
    if (this.closed) s.push('closed');
    else {
      s.push(this.resp3 ? 'RESP3' : 'RESP2');
      if (this.blocked) s.push('blocked, waiting for a reply');
    }
    this.status.textContent = s.join(' · ');
    this.protoBtn.textContent = this.resp3 ? 'RESP3' : 'RESP2';
    this.protoBtn.setAttribute('aria-pressed', String(this.resp3));
    this.reconnectBtn.hidden = !this.closed;
  }

  /** Console input: one or more commands (';' or new lines): one write, replies in order. */
  runInput(input, { fromLesson = false } = {}) {
    const cmds = splitCommands(input);
    if (!cmds.length) return;
    // redis-cli answers help itself, from its command table (here the engine's, COMMAND DOCS).
    const h = /^help(?:\s+(.*))?$/i.exec(cmds.length === 1 ? cmds[0] : '');
    if (h) {
      if (this.history[this.history.length - 1] !== input) this.history.push(input);
      this.hpos = this.history.length;
      this.print('prompt', `${this.promptText} ${cmds[0]}`);
      this.print('help', helpText(h[1] ?? ''));
      this.app.commandRan?.(this, []);
      return;
    }
    const all = [];
    for (const c of cmds) {
      const args = splitArgs(c);
      if (args === null) {
        this.print('prompt', `${this.promptText} ${c}`);
        this.print('error', 'Invalid argument(s)');
        return;
      }
      if (args.length) all.push({ c, args });
    }
    if (!all.length) return;
    if (!fromLesson || this.history[this.history.length - 1] !== input) {
      if (this.history[this.history.length - 1] !== input) this.history.push(input);
      if (this.history.length > 200) this.history.splice(0, this.history.length - 200);
    }
    this.hpos = this.history.length;
    for (const { c } of all) this.print('prompt', `${this.promptText} ${c}`);
    this.lastCmds = all.map(({ args }) => args.map((a) => text(a)));
    if (this.lastCmds.some((a) => /^[ps]?subscribe$/i.test(a[0]))) this.subscribed = true;
    const bytes = concat(all.map(({ args }) => encodeRequest(args)));
    this.transmit(bytes, '');
    this.app.commandRan?.(this, all.map(({ args }) => args), fromLesson);
  }

  /** Raw mode: the bytes typed with escapes, sent as they are. */
  sendRaw(value, { fromLesson = false } = {}) {
    const p = parseEscapes(value);
    if (p.error) {
      this.parser.textContent = `Cannot send: ${p.error}`;
      return;
    }
    if (!p.bytes.length) return;
    this.rawInput.value = '';
    this.lastCmds = null;
    const buffered = this.buffered.length;
    this.transmit(p.bytes, buffered ? `typed by hand, continues the ${buffered} bytes the server has buffered` : 'typed by hand');
    this.updateParser(false);
    this.app.commandRan?.(this, null, fromLesson, p.bytes);
  }

  updateParser(preview) {
    if (this.mode !== 'raw') return;
    if (this.closed) {
      this.parser.dataset.state = 'closed';
      this.parser.textContent = 'The server closed this connection (after a protocol error or QUIT). Reconnect to continue.';
      return;
    }
    let bytes = this.buffered;
    let note = '';
    if (preview) {
      const p = parseEscapes(this.rawInput.value);
      if (p.error) {
        this.parser.dataset.state = 'invalid';
        this.parser.textContent = `Typing: ${p.error}`;
        return;
      }
      bytes = concat([bytes, p.bytes]);
      note = p.bytes.length ? 'If sent now: ' : '';
    }
    const t = requestTrace(bytes);
    const complete = t.requests.filter((r) => r.status === 'complete').length;
    const pending = bytes.length - t.consumed;
    this.parser.dataset.state = t.state;
    const ran = preview && complete ? `${complete} complete request${complete === 1 ? '' : 's'} would run. ` : '';
    this.parser.textContent = `Server parser — ${note}${ran}${t.explain}${t.state === 'waiting' ? ` (${pending} byte${pending === 1 ? '' : 's'} buffered)` : ''}`;
  }

  transmit(bytes, note) {
    if (this.closed) {
      this.print('error', 'Error: the connection is closed (Reconnect to open a new one)');
      return;
    }
    const all = concat([this.buffered, bytes]);
    const trace = requestTrace(all);
    this.addWire(bytes, 'out', note, requestParts(bytes, this.buffered.length, trace));
    this.buffered = trace.state === 'invalid' ? new Uint8Array(0) : all.slice(trace.consumed);
    let reply;
    try {
      reply = this.conn.send(bytes);
    } catch (e) {
      this.print('error', `Error: ${e.message}`);
      this.markClosed();
      return;
    }
    // A blocking command may be answered within the same write (WAIT: the replica's ACK came
    // back over the replication link before the engine returned): that is its reply too.
    if (!reply.length && !this.closed) {
      try {
        reply = this.conn.send(new Uint8Array(0));
      } catch {}
    }
    this.receive(reply, '');
    this.app.pumpAll(this);
    this.app.changed();
  }

  /** Output from the server: on the wire, and rendered as redis-cli would in the console. */
  receive(reply, note) {
    if (reply.length) {
      this.addWire(reply, 'in', note);
      const rendered = renderReplies(reply);
      let used = 0;
      for (const [i, r] of rendered.entries()) {
        let t = r.text.replace(/\n$/, '');
        const cmd = note ? null : this.lastCmds?.[i];
        const rawText = cmd && RAW_OUTPUT(cmd) ? bulkText(reply, used) : null;
        if (rawText !== null) t = rawText.replace(/\r\n/g, '\n').replace(/\n$/, '');
        this.print(reply[used] === 45 || reply[used] === 33 ? 'error reply' : note ? 'push reply' : 'reply', t);
        used += r.length;
      }
      this.trackProtocol(reply);
      this.blocked = false;
    } else if (this.lastCmds && !this.closed) {
      this.blocked = true;
      this.print('note', '(no reply yet: the server is holding this client, blocked)');
    }
    this.lastCmds = null;
    let closed = false;
    try {
      closed = this.conn.closed;
    } catch {
      closed = true;
    }
    if (closed) this.markClosed();
    this.setStatus();
  }

  /** HELLO's reply tells the client which protocol it now speaks (redis-cli tracks it too). */
  trackProtocol(reply) {
    if (!this.lastCmds) return;
    const last = this.lastCmds.findLast((a) => a[0].toUpperCase() === 'HELLO' && a[1]);
    if (!last) return;
    if (reply[0] === 37 /* % */) this.resp3 = true;
    else if (reply[0] === 42 /* * */ && last[1] === '2') this.resp3 = false;
  }

  markClosed() {
    if (this.closed) return;
    this.closed = true;
    this.blocked = false;
    this.buffered = new Uint8Array(0);
    this.print('error', 'Error: Server closed the connection');
    this.setStatus();
    this.updateParser(false);
  }

  reconnect(focus = true) {
    try {
      this.conn.close();
    } catch {}
    this.connect();
    this.print('note', '— new connection —');
    this.setStatus();
    this.updateParser(false);
    this.app.changed();
    if (focus) (this.mode === 'raw' ? this.rawInput : this.input).focus();
  }

  /** Output that appeared for this client outside its own writes (pub/sub, a woken BLPOP). */
  poll() {
    if (this.closed) return;
    let out;
    try {
      out = this.conn.send(new Uint8Array(0));
    } catch {
      this.markClosed();
      return;
    }
    if (out.length) this.receive(out, this.blocked ? 'unblocked' : 'pushed by the server');
  }

  addWire(bytes, dir, note, request) {
    const e = wireEntry(bytes, { dir, note, request, explain: (t) => (this.explain.textContent = t) });
    this.wire.append(e);
    while (this.wire.childElementCount > MAX_WIRE) this.wire.firstElementChild.remove();
    // Scroll inside the wire list only: the window never moves on a reply.
    this.wire.scrollTop = this.wire.scrollHeight;
    const lane = this.root.querySelector('.lane');
    lane.classList.remove('to-server', 'to-client');
    void lane.offsetWidth; // restart the animation
    lane.classList.add(dir === 'out' ? 'to-server' : 'to-client');
  }

  saved() {
    return { history: this.history, log: this.log.slice(-MAX_LOG) };
  }

  close() {
    try {
      this.conn.close();
    } catch {}
    this.root.remove();
  }
}

export { utf8 };
