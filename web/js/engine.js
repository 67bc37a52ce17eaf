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
let exports;
if (isNode) {
  const { readFile } = await import('node:fs/promises');
  exports = await init({ module_or_path: await readFile(wasmUrl) });
} else {
  exports = await init({ module_or_path: wasmUrl });
}
/** The module's linear memory: the direct call path reads and writes it (see `Direct`). */
const memory = exports.memory;

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


// ---------------------------------------------------------------------------------------------
// The direct call path. A call's arguments are written straight into an arena in the wasm
// memory (argc, byte lengths, bytes: no RESP encoding); one crossing (`callDirect`) runs the
// command through the engine's dispatch (Engine::call_args, the same as a fed request) and
// leaves its RESP reply in the engine's output buffer, which is read here into JS values
// (simple strings, integers, bulks, nils, arrays of them, errors); any other shape, or output
// with more than the reply (pushes), is handed to `replySlow`, the RESP path's own reader.
// A control block (f64 slots) says where the output is, whether events wait and the next
// deadline, so a call needs no other crossing.

const CTRL_OUT_PTR = 0;
const CTRL_OUT_LEN = 1;
const CTRL_EVENTS = 2;
const CTRL_DEADLINE = 3;
const CTRL_BOUNDS_PTR = 4;
const CTRL_AWAITS = 5;
const CTRL_ASCII = 6;
const CTRL_SAME = 7;
/** No memo (Engine #memo): the last direct call's reply was not a flat array of primitives. */
const NO_MEMO = Symbol('no memo');
/** The largest reply the engine compares for CTRL_SAME (lib.rs MEMO_MAX). */
const MEMO_MAX = 4096;

/** A copy of `v` if it is an array of strings, numbers, bigints and nils (safe to share), else NO_MEMO. */
function memoOf(v) {
  if (!Array.isArray(v)) return NO_MEMO;
  for (let i = 0; i < v.length; i++) {
    const e = v[i];
    const t = typeof e;
    if (e !== null && t !== 'string' && t !== 'number' && t !== 'bigint') return NO_MEMO;
  }
  return v.slice();
}
/** A call whose reply CLIENT REPLY OFF/SKIP silenced: it returns undefined at once. */
const SILENT = Symbol('silent');

let u8 = new Uint8Array(memory.buffer);
let f64 = new Float64Array(memory.buffer);
let u32 = new Uint32Array(memory.buffer);
/** Views of the memory, made again after it grew (a grown memory detaches the old buffer). */
function views() {
  if (u8.byteLength === 0) {
    u8 = new Uint8Array(memory.buffer);
    f64 = new Float64Array(memory.buffer);
    u32 = new Uint32Array(memory.buffer);
  }
}

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the value (Rust's from_utf8_lossy keeps it too).
const lossy = new TextDecoder('utf-8', { ignoreBOM: true });
const strict = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });

/** A reply shape this reader leaves to `replySlow`. */
const SLOW = Symbol('slow');

/** What callDirect and callBatch return for a closed client, and the error it becomes. */
const NO_CLIENT = -2;
const CLOSED = 'oxidis: this client is closed';

/** The monotonic clock passed to callDirect/callBatch (ms), which time the command by it. */
const now = performance.now.bind(performance);

function typeError(i, a) {
  const t = typeof a;
  const what = a === null ? 'null' : Array.isArray(a) ? 'an array' : t === 'object' ? 'an object' : `a ${t}`;
  return new TypeError(`oxidis: argument ${i + 1} is ${what}; arguments must be strings, numbers, bigints or Uint8Arrays`);
}

/**
 * The most bytes `args` can take in the arena (strings at 3 bytes per UTF-16 unit), after
 * checking them as normalize() does. Numbers and bigints are turned into their text in place
 * in `args` (a copy the caller owns).
 */
function packBound(args) {
  const n = args.length;
  if (n === 0) throw new TypeError('oxidis: call() needs at least a command name');
  let size = 4 + 4 * n;
  for (let i = 0; i < n; i++) {
    const a = args[i];
    const t = typeof a;
    if (t === 'string') {
      if (a.length > MAX_ARG) throw new RangeError(`oxidis: argument ${i + 1} is larger than 512 MB`);
      size += 3 * a.length;
    } else if (t === 'number') {
      if (!Number.isFinite(a)) throw new TypeError(`oxidis: argument ${i + 1} is ${a}, not a finite number`);
      args[i] = String(a);
      size += args[i].length;
    } else if (t === 'bigint') {
      args[i] = a.toString();
      size += args[i].length;
    } else if (a instanceof Uint8Array) {
      if (a.length > MAX_ARG) throw new RangeError(`oxidis: argument ${i + 1} is larger than 512 MB`);
      size += a.length;
    } else if (a instanceof ArrayBuffer) {
      args[i] = new Uint8Array(a);
      if (a.byteLength > MAX_ARG) throw new RangeError(`oxidis: argument ${i + 1} is larger than 512 MB`);
      size += a.byteLength;
    } else throw typeError(i, a);
  }
  return size + 3;
}

/** Writes checked `args` at arena byte `at` (4-aligned); returns the offset after them. */
function pack(args, base, at) {
  const n = args.length;
  const head = (base + at) >>> 2;
  const bytes = u8;
  const words = u32;
  words[head] = n;
  let pos = base + at + 4 + 4 * n;
  for (let i = 0; i < n; i++) {
    const a = args[i];
    let len;
    if (typeof a === 'string') {
      const m = a.length;
      let j = 0;
      if (m <= 64) {
        for (; j < m; j++) {
          const c = a.charCodeAt(j);
          if (c >= 0x80) break;
          bytes[pos + j] = c;
        }
      }
      len = j === m ? m : encoder.encodeInto(a, bytes.subarray(pos, pos + 3 * m)).written;
    } else {
      bytes.set(a, pos);
      len = a.length;
    }
    words[head + 1 + i] = len;
    pos += len;
  }
  return pos - base;
}

let rp = 0;
/** The output being read is all ASCII (CTRL_ASCII): bulks need no byte check. */
let allAscii = false;

const f = String.fromCharCode;
const tmp = [];

/** ASCII text of u8[a..b] (all bytes < 0x80, checked by the caller). */
function ascii(a, b) {
  // Explicit arguments are the fastest way V8 has to make a short string from bytes.
  switch (b - a) {
    case 0:
      return '';
    case 1:
      return f(u8[a]);
    case 2:
      return f(u8[a], u8[a + 1]);
    case 3:
      return f(u8[a], u8[a + 1], u8[a + 2]);
    case 4:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3]);
    case 5:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4]);
    case 6:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5]);
    case 7:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6]);
    case 8:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7]);
    case 9:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8]);
    case 10:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8], u8[a + 9]);
    case 11:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8], u8[a + 9], u8[a + 10]);
    case 12:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8], u8[a + 9], u8[a + 10], u8[a + 11]);
    case 13:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8], u8[a + 9], u8[a + 10], u8[a + 11], u8[a + 12]);
    case 14:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8], u8[a + 9], u8[a + 10], u8[a + 11], u8[a + 12], u8[a + 13]);
    case 15:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8], u8[a + 9], u8[a + 10], u8[a + 11], u8[a + 12], u8[a + 13], u8[a + 14]);
    case 16:
      return f(u8[a], u8[a + 1], u8[a + 2], u8[a + 3], u8[a + 4], u8[a + 5], u8[a + 6], u8[a + 7], u8[a + 8], u8[a + 9], u8[a + 10], u8[a + 11], u8[a + 12], u8[a + 13], u8[a + 14], u8[a + 15]);
    default:
      tmp.length = b - a;
      for (let i = a; i < b; i++) tmp[i - a] = u8[i];
      return f.apply(null, tmp);
  }
}

/** True if u8[a..b] is all ASCII. */
function isAscii(a, b) {
  for (let i = a; i < b; i++) if (u8[i] >= 0x80) return false;
  return true;
}

/** Text of u8[a..b] (lossy UTF-8). */
function text(a, b) {
  if (b - a <= 48 && isAscii(a, b)) return ascii(a, b);
  return lossy.decode(u8.subarray(a, b));
}

/** A bulk string's value in binary mode `mode` (0 lossy text, 1 text if UTF-8 else bytes, 2 bytes). */
function bulk(a, b, mode) {
  if (mode === 2) return u8.slice(a, b);
  // All ASCII (the engine checked the whole output): text in every other mode.
  if (allAscii && b - a <= 16) return short(u8, a, b - a);
  if (mode === 0) return text(a, b);
  if (b - a <= 48 && isAscii(a, b)) return ascii(a, b);
  return auto(a, b);
}

/**
 * ASCII text of the `n` (<= 16) bytes of `m` at `a`. Small enough for V8 to inline where the
 * reply is read, with fromCharCode's arguments written out (the fastest way to make a short
 * string from bytes): about twice as fast per element as the general `ascii`.
 */
function short(m, a, n) {
  switch (n) {
    case 0:
      return '';
    case 1:
      return f(m[a]);
    case 2:
      return f(m[a], m[a + 1]);
    case 3:
      return f(m[a], m[a + 1], m[a + 2]);
    case 4:
      return f(m[a], m[a + 1], m[a + 2], m[a + 3]);
    case 5:
      return f(m[a], m[a + 1], m[a + 2], m[a + 3], m[a + 4]);
    case 6:
      return f(m[a], m[a + 1], m[a + 2], m[a + 3], m[a + 4], m[a + 5]);
    case 7:
      return f(m[a], m[a + 1], m[a + 2], m[a + 3], m[a + 4], m[a + 5], m[a + 6]);
    case 8:
      return f(m[a], m[a + 1], m[a + 2], m[a + 3], m[a + 4], m[a + 5], m[a + 6], m[a + 7]);
    default:
      return ascii(a, a + n);
  }
}

function auto(a, b) {
  try {
    return strict.decode(u8.subarray(a, b));
  } catch {
    return u8.slice(a, b);
  }
}

/** The signed decimal at rp up to its CR; rp moves past the CRLF. NaN if not plain digits. */
function lineInt() {
  let i = rp;
  let neg = false;
  if (u8[i] === 45) {
    neg = true;
    i++;
  }
  const start = i;
  let n = 0;
  let c;
  while ((c = u8[i]) !== 13) {
    n = n * 10 + (c - 48);
    i++;
  }
  if (i - start > 15) {
    // Beyond 2^53 exactly: a BigInt when it is not a safe integer.
    const big = BigInt(text(rp, i));
    rp = i + 2;
    return Number.isSafeInteger(Number(big)) ? Number(big) : big;
  }
  rp = i + 2;
  return neg ? -n : n;
}

/** One RESP frame at rp as a JS value; SLOW for the shapes left to the RESP path's reader. */
function frame(mode) {
  const t = u8[rp++];
  switch (t) {
    case 36: {
      // $len
      const len = lineInt();
      if (len < 0) return null;
      const a = rp;
      rp += len + 2;
      return bulk(a, a + len, mode);
    }
    case 58: // :int
      return lineInt();
    case 43: {
      // +simple
      const a = rp;
      if (u8[a] === 79 && u8[a + 1] === 75 && u8[a + 2] === 13) {
        rp += 4;
        return 'OK';
      }
      while (u8[rp] !== 13) rp++;
      const s = text(a, rp);
      rp += 2;
      return s;
    }
    case 42: {
      // *n
      const n = lineInt();
      if (n < 0) return null;
      const arr = new Array(n);
      const m = u8;
      for (let i = 0; i < n; i++) {
        if (m[rp] === 36) {
          // A bulk element, read here rather than by a call per element.
          let j = rp + 1;
          if (m[j] === 45) {
            // $-1 (a nil in a RESP2 array)
            rp = j + 4;
            arr[i] = null;
            continue;
          }
          let len = 0;
          let c;
          while ((c = m[j]) !== 13) {
            len = len * 10 + (c - 48);
            j++;
          }
          const a = j + 2;
          rp = a + len + 2;
          arr[i] = bulk(a, a + len, mode);
          continue;
        }
        const v = frame(mode);
        if (v === SLOW) return SLOW;
        arr[i] = v;
      }
      return arr;
    }
    case 45: {
      // -error
      const a = rp;
      while (u8[rp] !== 13) rp++;
      const e = new ReplyError(text(a, rp));
      rp += 2;
      return e;
    }
    case 95: // _ (RESP3 null)
      rp += 2;
      return null;
    default:
      return SLOW;
  }
}

/**
 * The reply in the output bytes [start, end): the value, `undefined` for no output (the client
 * blocked), a ReplyError object for an error; SLOW when it is not one frame of a common shape.
 */
function readReply(start, end, mode) {
  if (start === end) return undefined;
  if (u8[start] === 62) return SLOW; // > a RESP3 push first: the RESP path picks the reply
  rp = start;
  const v = frame(mode);
  return rp === end ? v : SLOW;
}

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
  /** The direct path's argument arena (address, size) and control block (f64 index). */
  #arena = 0;
  #arenaSize = 0;
  #ctrl = 0;
  /**
   * The value read from the last direct call's reply if it was a flat array of primitives
   * (`memoOf`), with its binary mode; NO_MEMO otherwise. When the engine says the next reply
   * has the same bytes (CTRL_SAME: an unchanged list, set or hash read again), a copy of it is
   * returned instead of making every string again. A reply whose bytes differ is read as usual.
   */
  #memo = NO_MEMO;
  #memoMode = 0;
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
    this.#ctrl = this.#raw.ctrlPtr() / 8;
  }

  /** Room for `size` more bytes after arena byte `at`: the arena's address. */
  #room(r, at, size) {
    const need = at + size;
    if (need > this.#arenaSize) {
      const want = Math.max(need, 2 * this.#arenaSize, 4096);
      const p = r.arena(want);
      if (p === 0) throw new RangeError('oxidis: out of memory building the request');
      this.#arena = p;
      this.#arenaSize = want;
    }
    views();
    return this.#arena;
  }

  /**
   * Runs one command on client `h` by the direct path: its reply as a JS value (`undefined` if
   * the client blocked); an error reply is thrown as ReplyError. `args` is the caller's copy.
   */
  _direct(h, args, mode) {
    const r = this.#use();
    let reply;
    try {
      const size = packBound(args);
      const base = this.#room(r, 0, size);
      pack(args, base, 0);
      const memo = this.#memo;
      this.#memo = NO_MEMO;
      if (r.callDirect(h, this.#manual ? NaN : now()) === NO_CLIENT) throw new TypeError(CLOSED);
      views();
      const c = this.#ctrl;
      if (f64[c + CTRL_SAME] === 1 && memo !== NO_MEMO && this.#memoMode === mode) {
        // The same array reply as the last call's: the engine compared the bytes.
        this.#memo = memo;
        reply = memo.slice();
      } else {
        const start = f64[c + CTRL_OUT_PTR];
        allAscii = f64[c + CTRL_ASCII] === 1;
        reply = readReply(start, start + f64[c + CTRL_OUT_LEN], mode);
        allAscii = false;
        if (f64[c + CTRL_OUT_LEN] <= MEMO_MAX && u8[start] === 42) {
          this.#memo = memoOf(reply);
          this.#memoMode = mode;
        }
      }
      if (reply === SLOW) reply = r.replySlow(h, 0, f64[c + CTRL_OUT_LEN], mode, true);
      else if (reply === undefined && f64[c + CTRL_AWAITS] === 0) reply = SILENT;
    } catch (e) {
      this.#trapped(e);
      throw e;
    } finally {
      this.#after();
    }
    if (reply instanceof ReplyError) throw reply;
    return reply;
  }

  /**
   * Runs commands on client `h` in one crossing (a pipeline, MULTI ... EXEC): `list` holds
   * `[args, mode]` pairs (args: the caller's copies). Returns one entry per command that ran:
   * its value, a ReplyError object for an error (thrown for a bad argument: `[error]` in
   * `errors` at that index), or `undefined` where it blocked (the rest did not run).
   */
  _batch(h, list, out, errors) {
    const r = this.#use();
    try {
      let i = 0;
      while (i < list.length) {
        let at = 0;
        let n = 0;
        let bad = null;
        for (; i + n < list.length; n++) {
          const args = list[i + n][0];
          let size;
          try {
            size = packBound(args);
          } catch (e) {
            bad = e;
            break;
          }
          const base = this.#room(r, at, size);
          at = (pack(args, base, at) + 3) & ~3;
        }
        if (n > 0) {
          const ran = r.callBatch(h, n, this.#manual ? NaN : now());
          if (ran === NO_CLIENT) throw new TypeError(CLOSED);
          views();
          const c = this.#ctrl;
          const outPtr = f64[c + CTRL_OUT_PTR];
          const bounds = f64[c + CTRL_BOUNDS_PTR] / 4;
          const ascii = f64[c + CTRL_ASCII] === 1;
          let prev = 0;
          for (let k = 0; k < ran; k++) {
            const end = u32[bounds + k];
            const mode = list[i + k][1];
            allAscii = ascii;
            let v = readReply(outPtr + prev, outPtr + end, mode);
            allAscii = false;
            if (v === SLOW) {
              v = r.replySlow(h, prev, end, mode, true);
              views();
            } else if (v === undefined && k === ran - 1 && f64[c + CTRL_AWAITS] === 0) v = SILENT;
            out.push(v);
            prev = end;
          }
          const last = out[out.length - 1];
          // Blocked: the rest waits its turn (the caller queues it).
          if (last === undefined) return out;
          if (ran < n && last !== SILENT) return out; // closed
          i += ran;
          if (ran < n) continue; // a silenced reply: go on with the next command
        }
        if (bad) {
          errors[out.length] = bad;
          out.push(undefined);
          i++;
        }
      }
      return out;
    } catch (e) {
      this.#trapped(e);
      throw e;
    } finally {
      this.#after();
    }
  }

  #trapped(e) {
    if (e instanceof WebAssembly.RuntimeError) {
      let why = '';
      try {
        why = raw.lastPanic();
      } catch {}
      this.#dead = `oxidis: the engine crashed (${why || e.message}); create a new Engine`;
      this.#stopTimer();
      throw new EngineError(this.#dead);
    }
  }

  /** After a direct call: deliver events, follow the deadline (from the control block). */
  #after() {
    if (this.#dead) return;
    views();
    const c = this.#ctrl;
    if (f64[c + CTRL_EVENTS] !== 0) {
      f64[c + CTRL_EVENTS] = 0;
      this._pump();
    }
    if (!this.#manual && !this.#dead) this.#schedule(f64[c + CTRL_DEADLINE]);
    // The direct path too: a replication link pumps after every operation.
    if (this._observers) for (const o of this._observers) o();
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
  #schedule(at = this.#raw.nextDeadline()) {
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
    const reply = this.#engine._direct(this.#h, args, mode);
    if (reply === undefined) return this.#block(front);
    return reply === SILENT ? undefined : reply;
  }

  /**
   * Runs commands in one crossing (the facade's pipelines and MULTI): `list` holds `[args,
   * mode]` pairs (args arrays this client may change). Returns `[error, value]` per command, as
   * ioredis's exec(): error a ReplyError or an argument's TypeError/RangeError; value a Promise
   * for a command that blocked or waits behind one.
   */
  _batch(list) {
    this.#check();
    const out = [];
    const errors = [];
    if (this.#pending.length === 0) this.#engine._batch(this.#h, list, out, errors);
    const result = out.map((v, i) => {
      if (errors[i]) return [errors[i], null];
      if (v === SILENT) return [null, undefined];
      if (v instanceof ReplyError) return [v, null];
      return [null, v];
    });
    let k = out.length;
    if (k > 0 && out[k - 1] === undefined && !errors[k - 1]) {
      // It blocked: its reply comes as a Promise, and the rest wait behind it.
      result[k - 1] = [null, this.#block(false)];
    }
    for (; k < list.length; k++) {
      try {
        result.push([null, this.#call(list[k][0], list[k][1])]);
      } catch (e) {
        result.push([e, null]);
      }
    }
    return result;
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
    const hook = this._onSettle;
    if (hook) {
      // Tests see a blocked call's result when it is settled, not a microtask later.
      const { resolve, reject } = p;
      p.resolve = (v) => {
        hook(v);
        resolve(v);
      };
      p.reject = (e) => {
        hook(e);
        reject(e);
      };
    }
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

  /** call() with the arguments as one array this client may change; `buffer`: as callBuffer(). */
  _callList(args, buffer) {
    return this.#call(args, buffer ? 2 : this.#mode);
  }

  /** _batch() of `[args, buffer]` pairs (the facade's pipelines). */
  _batchList(list) {
    return this._batch(list.map(([args, buffer]) => [args, buffer ? 2 : this.#mode]));
  }

  /**
   * Runs several commands in one crossing into the engine, as a pipeline: `commands` is an
   * array of argument arrays; returns `[error, reply]` per command (error a ReplyError, or the
   * TypeError/RangeError of a bad argument), as ioredis's `pipeline().exec()` does. A command
   * that blocks has a Promise as its reply, and the commands after it wait behind it.
   */
  pipeline(commands) {
    if (!Array.isArray(commands)) throw new TypeError('oxidis: pipeline() takes an array of commands');
    return this._batch(
      commands.map((c, i) => {
        if (!Array.isArray(c)) throw new TypeError(`oxidis: pipeline() command ${i + 1} is not an array`);
        return [c.slice(), this.#mode];
      }),
    );
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
    for (const [push, f] of frames) {
      const p = push ? null : this.#shiftPending();
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
    // Transcripts under cluster/ need a cluster-mode node (oxidis_core::golden::needs_cluster).
    config: { 'enable-debug-command': 'yes', ...(name.startsWith('cluster/') ? { 'cluster-enabled': 'yes' } : {}) },
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


/**
 * Test helpers (not part of the API): the core's golden runner over JS callbacks, and the RESP
 * path's decoding of reply bytes into `[isPush, value]` pairs.
 */
export const _testing = {
  runGolden: (...a) => raw.runGolden(...a),
  goldenTopology: (name) => raw.goldenTopology(name),
  decodeFrames: (bytes, mode = 0) => raw.decodeFrames(bytes, mode),
};
