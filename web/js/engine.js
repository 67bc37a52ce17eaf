// oxidis: the Oxidis engine (a Redis 7.0-compatible server core) in WebAssembly, in process.
// Works as an ES module in Node >= 20 and in browsers, without a bundler: the module loads its
// .wasm itself (top-level await), from the file system in Node and over fetch in browsers.
//
// This file is the hand-written public API over the wasm-bindgen glue (oxidis_wasm.js). It
// validates arguments, owns the JS objects (Engine, Client) and timers, and delivers output that
// appears for a client outside its own call (pub/sub messages, a BLPOP woken by another client).
// Redis semantics are all in the engine.

import init, * as raw from './oxidis_wasm.js';

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);
const wasmUrl = new URL('./oxidis_wasm_bg.wasm', import.meta.url);
if (isNode) {
  const { readFile } = await import('node:fs/promises');
  await init({ module_or_path: await readFile(wasmUrl) });
} else {
  await init({ module_or_path: wasmUrl });
}

/** A Redis error reply ("ERR ...", "WRONGTYPE ..."): `message` is Redis's exact text. */
export class ReplyError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ReplyError';
  }
}
raw.setReplyErrorFactory((msg) => new ReplyError(msg));

/** Thrown when the engine can no longer be used (freed, or crashed on a bug). */
export class EngineError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EngineError';
  }
}

const TWO32 = 4294967296;
/** Largest argument accepted (Redis's proto-max-bulk-len default). */
const MAX_ARG = 512 * 1024 * 1024;

const modeOf = (binary) => (binary === 'always' ? 2 : binary ? 1 : 0);

/** Turns call() arguments into strings or Uint8Arrays; anything else is a TypeError. */
function normalize(args) {
  if (args.length === 0) throw new TypeError('oxidis: call() needs at least a command name');
  let allStrings = true;
  let out = args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const t = typeof a;
    if (t === 'string') {
      if (a.length > MAX_ARG) throw new RangeError(`oxidis: argument ${i + 1} is larger than 512 MB`);
      continue;
    }
    if (out === args) out = args.slice();
    if (t === 'number') {
      if (!Number.isFinite(a)) throw new TypeError(`oxidis: argument ${i + 1} is ${a}, not a finite number`);
      out[i] = String(a);
    } else if (t === 'bigint') {
      out[i] = a.toString();
    } else if (a instanceof Uint8Array) {
      if (a.length > MAX_ARG) throw new RangeError(`oxidis: argument ${i + 1} is larger than 512 MB`);
      allStrings = false;
    } else if (a instanceof ArrayBuffer) {
      out[i] = new Uint8Array(a);
      allStrings = false;
    } else {
      const what = a === null ? 'null' : Array.isArray(a) ? 'an array' : t === 'object' ? 'an object' : `a ${t}`;
      throw new TypeError(
        `oxidis: argument ${i + 1} is ${what}; arguments must be strings, numbers, bigints or Uint8Arrays`,
      );
    }
  }
  return { args: out, allStrings };
}

const lens = new Uint32Array(64);

/**
 * One engine: databases, clients and a clock. Many engines may live side by side.
 * Options: seed, databases, clock ('real' | 'manual'), time (manual start, ms since epoch),
 * binary (false | true | 'always'), config ({ name: value } as CONFIG SET takes them),
 * maxmemory (bytes, or '64mb' ...) and maxmemoryPolicy ('allkeys-lru' ...): the engine as a
 * bounded cache. Without a maxmemory the engine has Redis's 32-bit default: 3gb, noeviction.
 */
export class Engine {
  #raw;
  #manual;
  #clients = new Map();
  #timer = null;
  #timerAt = -1;
  #dead = null;
  #binary;
  _blockedCount = 0;

  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('oxidis: Engine options must be an object');
    const { seed, databases, clock = 'real', time, binary = false, config = {}, maxmemory, maxmemoryPolicy } = options;
    if (clock !== 'real' && clock !== 'manual') throw new TypeError("oxidis: clock must be 'real' or 'manual'");
    let s = seed ?? Math.floor(Math.random() * 2 ** 52);
    if (typeof s === 'bigint') s = Number(BigInt.asUintN(53, s));
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) throw new TypeError('oxidis: seed must be a non-negative integer');
    const pairs = [];
    if (databases !== undefined) {
      if (!Number.isInteger(databases) || databases < 1) throw new TypeError('oxidis: databases must be a positive integer');
      pairs.push('databases', String(databases));
    }
    if (config === null || typeof config !== 'object') throw new TypeError('oxidis: config must be an object');
    for (const [k, v] of Object.entries(config)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`oxidis: config ${k} must be a string or a number`);
      pairs.push(String(k), String(v));
    }
    if (maxmemory !== undefined) {
      if (typeof maxmemory !== 'string' && !(Number.isInteger(maxmemory) && maxmemory >= 0)) {
        throw new TypeError("oxidis: maxmemory must be a non-negative integer (bytes) or a string such as '64mb'");
      }
      pairs.push('maxmemory', String(maxmemory));
    }
    if (maxmemoryPolicy !== undefined) {
      if (typeof maxmemoryPolicy !== 'string') throw new TypeError("oxidis: maxmemoryPolicy must be a string such as 'allkeys-lru'");
      pairs.push('maxmemory-policy', maxmemoryPolicy);
    }
    const start = time ?? Date.now();
    if (typeof start !== 'number') throw new TypeError('oxidis: time must be a number (ms since the epoch)');
    this.#manual = clock === 'manual';
    this.#binary = modeOf(binary);
    this.#raw = new raw.RawEngine(s, this.#manual, start, pairs);
  }

  /** The raw engine, after checking it is usable. */
  #use() {
    if (this.#dead) throw new EngineError(this.#dead);
    return this.#raw;
  }

  /** Runs `f(raw)`; a trap (a bug) poisons the engine with a clear error instead. */
  _run(f) {
    const r = this.#use();
    try {
      return f(r);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        let why = '';
        try {
          why = raw.lastPanic();
        } catch {}
        this.#dead = `oxidis: the engine crashed (${why || e.message}); create a new Engine`;
        this.#stopTimer();
        throw new EngineError(this.#dead);
      }
      throw e;
    } finally {
      if (!this.#dead && r.hasEvents()) this._pump();
      if (!this.#manual && !this.#dead) this.#schedule();
      if (this._observers && !this.#dead) for (const o of this._observers) o();
    }
  }

  /** Calls `f()` after every operation on this engine (replication.js pumps its links). */
  _observe(f) {
    (this._observers ??= new Set()).add(f);
    return () => this._observers.delete(f);
  }

  /** Opens a new client (a connection to this engine). */
  connect(options = {}) {
    const binary = options.binary === undefined ? this.#binary : modeOf(options.binary);
    const h = this._run((r) => r.connect());
    const c = new Client(this, h, binary);
    this.#clients.set(h, c);
    return c;
  }

  /** Delivers output that appeared for clients outside their own calls. */
  _pump() {
    const r = this.#raw;
    let ev;
    while ((ev = r.nextEvent()) >= 0) {
      const kind = Math.floor(ev / TWO32);
      const h = ev - kind * TWO32;
      const c = this.#clients.get(h);
      if (!c) continue;
      if (kind === 1) c._output();
      else c._closedByEngine();
    }
  }

  _take(h, mode) {
    return this.#raw.takeFrames(h, mode);
  }

  _forget(h) {
    this.#clients.delete(h);
    if (!this.#dead && this.#raw) {
      try {
        this.#raw.disconnect(h);
      } catch {}
    }
  }

  /** Real clock: one timer at the engine's next deadline (unref'd in Node unless a call waits). */
  #schedule() {
    const at = this.#raw.nextDeadline();
    if (at < 0) return this.#stopTimer();
    if (this.#timer && this.#timerAt === at) return;
    this.#stopTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = -1;
      if (this.#dead || !this.#raw) return;
      try {
        this._run((r) => r.tick());
      } catch {}
    }, Math.max(0, at - Date.now()));
    this.#ref(this._waiting());
  }

  #ref(waiting) {
    const t = this.#timer;
    if (t && typeof t === 'object' && typeof t.unref === 'function') waiting ? t.ref() : t.unref();
  }

  #stopTimer() {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = -1;
  }

  _waiting() {
    return this._blockedCount > 0;
  }

  /** A client started or stopped waiting for a blocked call: a waiting call keeps Node alive. */
  _setBlocked(delta) {
    this._blockedCount += delta;
    if (this.#timer) this.#ref(this._blockedCount > 0);
  }

  _manual() {
    return this.#manual;
  }

  /** The engine's clock (ms since the epoch). */
  now() {
    return this._run((r) => r.now());
  }

  /** Manual clock: moves time forward by `ms` and runs what is due (expiry, timeouts). */
  advance(ms) {
    if (typeof ms !== 'number') throw new TypeError('oxidis: advance(ms) takes a number');
    this._run((r) => r.advance(ms));
  }

  /** Manual clock: sets the time (ms since the epoch). */
  setTime(ms) {
    if (typeof ms !== 'number') throw new TypeError('oxidis: setTime(ms) takes a number');
    this._run((r) => r.setTime(ms));
  }

  /** Runs periodic work now (the real clock does this on its own timer). */
  tick() {
    this._run((r) => r.tick());
  }

  /** When periodic work is next due (ms since the epoch), or null. */
  nextDeadline() {
    const d = this._run((r) => r.nextDeadline());
    return d < 0 ? null : d;
  }

  /** Keys of a database with their type and TTL (ms, -1 for none). */
  keys(options = {}) {
    const { db = 0, pattern = '*', limit = 10000, binary } = options;
    if (!Number.isInteger(db) || db < 0) throw new TypeError('oxidis: db must be a non-negative integer');
    if (typeof pattern !== 'string') throw new TypeError('oxidis: pattern must be a string');
    if (!Number.isInteger(limit) || limit < 0) throw new TypeError('oxidis: limit must be a non-negative integer');
    const mode = binary === undefined ? 1 : modeOf(binary);
    return this._run((r) => r.keys(db, pattern, Math.min(limit, 2 ** 32 - 1), mode));
  }

  /** Number of keys in a database. */
  dbSize(db = 0) {
    if (!Number.isInteger(db) || db < 0) throw new TypeError('oxidis: db must be a non-negative integer');
    return this._run((r) => r.dbSize(db));
  }

  /** The dataset as an RDB file (Uint8Array), as SAVE would write it now. */
  exportRdb() {
    return this._run((r) => r.exportRdb());
  }

  /**
   * Replaces the dataset with the keys of an RDB file (keys already expired are dropped);
   * returns how many keys were loaded. Throws RangeError (and changes nothing) for a bad file.
   */
  importRdb(bytes) {
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('oxidis: importRdb() takes a Uint8Array');
    return this._run((r) => r.importRdb(bytes));
  }

  /** The number of open clients. */
  get clientCount() {
    return this._run((r) => r.clientCount());
  }

  /** Releases the engine's memory. Every later use throws. */
  free() {
    if (this.#dead) return;
    this.#stopTimer();
    for (const c of [...this.#clients.values()]) c._closedByEngine('oxidis: the engine was freed');
    this.#clients.clear();
    this.#dead = 'oxidis: this Engine has been freed';
    try {
      this.#raw.free();
    } catch {}
    this.#raw = null;
  }

  get freed() {
    return this.#dead !== null;
  }
}

/** One connection to an engine. */
export class Client {
  #engine;
  #h;
  #mode;
  #closed = false;
  #pending = [];
  #listeners = new Set();
  #queue = [];
  #waiters = [];
  #iterating = 0;

  constructor(engine, h, mode) {
    this.#engine = engine;
    this.#h = h;
    this.#mode = mode;
  }

  #check() {
    if (this.#closed) throw new EngineError(typeof this.#closed === 'string' ? this.#closed : 'oxidis: this client is closed');
  }

  #call(args, mode) {
    this.#check();
    if (this.#pending.length > 0) {
      // A blocked client runs nothing until it is woken (as on a real connection).
      normalize(args);
      return this.#queueAfterBlocked(args, mode);
    }
    return this.#exec(args, mode, false);
  }

  #exec(args, mode, front) {
    const n = normalize(args);
    const h = this.#h;
    const reply = this.#engine._run((r) => {
      if (n.allStrings && n.args.length <= lens.length) {
        let joined = '';
        for (let i = 0; i < n.args.length; i++) {
          lens[i] = n.args[i].length;
          joined += n.args[i];
        }
        return r.callStrings(h, joined, lens.subarray(0, n.args.length), mode);
      }
      return r.callArgs(h, n.args, mode);
    });
    if (reply === undefined) return this.#block(front);
    return reply;
  }

  #block(front) {
    const p = new Promise((resolve, reject) => {
      this.#addPending({ resolve, reject }, front);
    });
    // The reply may already be waiting: an engine observer (a ReplicationLink) ran after the
    // call blocked and before it got here (WAIT answered by the replica's ACK at once).
    this._output();
    return p;
  }

  #addPending(p, front) {
    if (front) this.#pending.unshift(p);
    else this.#pending.push(p);
    if (this.#pending.length === 1) this.#engine._setBlocked(1);
  }

  #shiftPending() {
    const p = this.#pending.shift();
    if (p && this.#pending.length === 0) this.#engine._setBlocked(-1);
    return p;
  }

  #rejectAll(err) {
    if (this.#pending.length > 0) this.#engine._setBlocked(-1);
    for (const p of this.#pending.splice(0)) p.reject(err);
  }

  #queueAfterBlocked(args, mode) {
    return new Promise((resolve, reject) => {
      this.#addPending({ resolve, reject, args, mode }, false);
    });
  }

  /**
   * Runs a command and returns its reply. Redis errors are thrown as ReplyError. A command
   * that blocks (BLPOP with no data) returns a Promise of its reply instead.
   */
  call(...args) {
    return this.#call(args, this.#mode);
  }

  /** Like call(), with every bulk string as a Uint8Array. */
  callBuffer(...args) {
    return this.#call(args, 2);
  }

  /** Like call(), always as a Promise (rejected with ReplyError for an error reply). */
  callAsync(...args) {
    try {
      return Promise.resolve(this.#call(args, this.#mode));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Raw protocol: feeds bytes as the client sent them; returns the bytes the server writes. */
  send(bytes) {
    this.#check();
    if (typeof bytes === 'string') bytes = new TextEncoder().encode(bytes);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('oxidis: send() takes a Uint8Array (or a string)');
    if (bytes.length > 2 * MAX_ARG) throw new RangeError('oxidis: send() input larger than 1 GB');
    const h = this.#h;
    return this.#engine._run((r) => r.send(h, bytes));
  }

  /** Called by the engine when output appeared for this client outside its own call. */
  _output() {
    if (this.#closed) return;
    if (this.#pending.length === 0 && this.#listeners.size === 0 && this.#iterating === 0) return;
    const frames = this.#engine._take(this.#h, this.#mode);
    for (const f of frames) {
      const p = this.#shiftPending();
      if (p) {
        if (f instanceof ReplyError) p.reject(f);
        else p.resolve(f);
        this.#runQueued();
      } else {
        this.#deliver(f);
      }
    }
  }

  /** Runs calls made while blocked, now that the blocking call has its reply. */
  #runQueued() {
    while (this.#pending.length > 0 && this.#pending[0].args) {
      const p = this.#shiftPending();
      try {
        if (this.#closed) throw new EngineError('oxidis: this client is closed');
        const r = this.#exec(p.args, p.mode, true);
        if (r instanceof Promise) r.then(p.resolve, p.reject);
        else p.resolve(r);
      } catch (e) {
        p.reject(e);
      }
    }
  }

  #deliver(f) {
    for (const fn of this.#listeners) {
      try {
        fn(f);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
    if (this.#iterating > 0) {
      const w = this.#waiters.shift();
      if (w) w.resolve({ value: f, done: false });
      else this.#queue.push(f);
    }
  }

  /** Calls `fn(frame)` for every push (pub/sub messages ...). Returns a function that stops it. */
  onPush(fn) {
    if (typeof fn !== 'function') throw new TypeError('oxidis: onPush() takes a function');
    this.#check();
    this.#listeners.add(fn);
    this.#engine._run(() => {});
    this._output();
    return () => this.#listeners.delete(fn);
  }

  /** An async iterator of pushes: `for await (const msg of client.pushes()) ...`. */
  pushes() {
    this.#check();
    this.#iterating++;
    this._output();
    const self = this;
    let done = false;
    return {
      next() {
        if (done) return Promise.resolve({ value: undefined, done: true });
        if (self.#queue.length > 0) return Promise.resolve({ value: self.#queue.shift(), done: false });
        if (self.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => self.#waiters.push({ resolve, reject }));
      },
      return() {
        if (!done) {
          done = true;
          self.#iterating--;
        }
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  [Symbol.asyncIterator]() {
    return this.pushes();
  }

  /** True once closed (close(), QUIT, a protocol error, the engine freed). */
  get closed() {
    if (this.#closed) return true;
    try {
      return this.#engine._run((r) => r.isClosed(this.#h));
    } catch {
      return true;
    }
  }

  _closedByEngine(why) {
    if (this.#closed) return;
    if (!why) {
      // The engine asked for the connection to close: pending output was already read.
      this.#closed = 'oxidis: the server closed this connection';
    } else {
      this.#closed = why;
    }
    const err = new EngineError(typeof this.#closed === 'string' ? this.#closed : 'closed');
    this.#rejectAll(err);
    for (const w of this.#waiters.splice(0)) w.resolve({ value: undefined, done: true });
    if (!why) this.#engine._forget(this.#h);
  }

  /** Disconnects the client. */
  close() {
    if (this.#closed) return;
    this.#closed = 'oxidis: this client is closed';
    const err = new EngineError(this.#closed);
    this.#rejectAll(err);
    for (const w of this.#waiters.splice(0)) w.resolve({ value: undefined, done: true });
    if (!this.#engine.freed) this.#engine._forget(this.#h);
  }
}

/** The command table: names, arity, flags, key positions, group, summary, docs. */
export function commands() {
  return raw.commands();
}

/** SHA1 of a string's UTF-8 bytes (or of bytes), as 40 lowercase hex digits: EVALSHA's name of a script. */
export function sha1hex(data) {
  if (typeof data === 'string') data = new TextEncoder().encode(data);
  else if (!(data instanceof Uint8Array)) data = new Uint8Array(data);
  return raw.sha1hex(data);
}

/** The annotated RESP tree of a byte buffer (complete, incomplete or invalid). */
export function decodeAnnotated(bytes) {
  if (typeof bytes === 'string') bytes = new TextEncoder().encode(bytes);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('oxidis: decodeAnnotated() takes a Uint8Array (or a string)');
  return raw.decodeAnnotated(bytes);
}

const utf8 = (s) => (typeof s === 'string' ? new TextEncoder().encode(s) : s);

/**
 * Splits a command line as redis-cli does (Redis's sdssplitargs: "double quotes" with \n, \xHH
 * ... escapes, 'single quotes'): an array of Uint8Array arguments, or null for unbalanced quotes.
 */
export function splitArgs(line) {
  line = utf8(line);
  if (!(line instanceof Uint8Array)) throw new TypeError('oxidis: splitArgs() takes a string or a Uint8Array');
  return raw.splitArgs(line) ?? null;
}

/**
 * Every complete reply in `bytes` rendered as redis-cli 7 prints it ("(integer) 1", "(nil)",
 * numbered arrays, RESP3 maps ...): an array of { text, length } (length: bytes used).
 */
export function renderReplies(bytes) {
  bytes = utf8(bytes);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('oxidis: renderReplies() takes a Uint8Array (or a string)');
  return raw.renderReplies(bytes).map(([text, length]) => ({ text, length }));
}

/** The first reply in `bytes` as redis-cli prints it (with its final newline), or null. */
export function renderReply(bytes) {
  const r = renderReplies(bytes);
  return r.length ? r[0].text : null;
}

/**
 * Runs a golden transcript (testdata/golden format) through `client.send` on a fresh manual-clock
 * engine, with the engine's own runner; returns the failures (empty when it passes).
 */
export function runGolden(name, text, options = {}) {
  // DEBUG allowed, as every golden runner (and Redis's own test suite) starts its server.
  const engine = new Engine({
    clock: 'manual',
    time: options.time ?? 1_700_000_000_000,
    seed: options.seed ?? 1,
    config: { 'enable-debug-command': 'yes' },
  });
  const clients = [];
  const client = (i) => {
    while (clients.length <= i) clients.push(engine.connect());
    return clients[i];
  };
  try {
    return raw.runGolden(
      name,
      text,
      (i, bytes) => client(i).send(bytes),
      (ms) => engine.advance(ms),
      (i) => client(i).closed,
      // Pending output without new input: feeding nothing returns what arrived since.
      (i) => client(i).send(new Uint8Array(0)),
    );
  } finally {
    engine.free();
  }
}

