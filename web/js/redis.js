// A promise-based client with ioredis's calling conventions over an in-process Engine, so an
// app's tests can swap `new IORedis()` for `new Redis()`. Differences are listed in README.md.

import { Engine, EngineError, ReplyError, commands, sha1hex } from './engine.js';

/** A tiny EventEmitter (Node's is not in browsers). */
class Emitter {
  #ev = new Map();
  #max = 10;
  /** Kept for Node's EventEmitter API (libraries raise it); there is no leak warning. */
  setMaxListeners(n) {
    this.#max = n;
    return this;
  }
  getMaxListeners() {
    return this.#max;
  }
  on(name, fn) {
    if (!this.#ev.has(name)) this.#ev.set(name, []);
    this.#ev.get(name).push(fn);
    return this;
  }
  addListener(name, fn) {
    return this.on(name, fn);
  }
  once(name, fn) {
    const w = (...a) => {
      this.off(name, w);
      fn.apply(this, a);
    };
    w.listener = fn;
    return this.on(name, w);
  }
  off(name, fn) {
    const l = this.#ev.get(name);
    if (l) {
      const i = l.findIndex((x) => x === fn || x.listener === fn);
      if (i >= 0) l.splice(i, 1);
    }
    return this;
  }
  removeListener(name, fn) {
    return this.off(name, fn);
  }
  removeAllListeners(name) {
    if (name === undefined) this.#ev.clear();
    else this.#ev.delete(name);
    return this;
  }
  listenerCount(name) {
    return this.#ev.get(name)?.length ?? 0;
  }
  emit(name, ...args) {
    const l = this.#ev.get(name);
    if (!l || l.length === 0) {
      if (name === 'error') throw args[0];
      return false;
    }
    for (const fn of [...l]) fn.apply(this, args);
    return true;
  }
}

/** ioredis's error for a command on (or pending when it disconnects) a closed connection. */
const CONNECTION_CLOSED = 'Connection is closed.';

/** Engines shared by `new Redis()` instances, by host:port, as ioredis clients share a server. */
const shared = new Map();

/** ioredis flattens array arguments; these commands also take an object or Map of pairs. */
const PAIRS = new Set(['hset', 'hmset', 'mset', 'msetnx']);

function flatten(name, args, out = []) {
  for (const a of args) {
    if (a === null || a === undefined) out.push('');
    else if (Array.isArray(a)) flatten(name, a, out);
    else if (PAIRS.has(name) && a instanceof Map) for (const [k, v] of a) out.push(k, v);
    else if (
      PAIRS.has(name) &&
      a !== null &&
      typeof a === 'object' &&
      !(a instanceof Uint8Array) &&
      !(a instanceof ArrayBuffer)
    )
      for (const k of Object.keys(a)) out.push(k, a[k]);
    else out.push(a);
  }
  return out;
}

/** ioredis's reply transformers. */
function transform(name, reply) {
  if (name !== 'hgetall') return reply;
  if (Array.isArray(reply)) {
    const o = {};
    for (let i = 0; i + 1 < reply.length; i += 2) o[reply[i]] = reply[i + 1];
    return o;
  }
  if (reply instanceof Map) return Object.fromEntries(reply);
  return reply;
}

/** An `[error, value]` pair whose value may be a Promise (a blocked command), settled. */
async function settle(pair) {
  if (!(pair[1] instanceof Promise)) return pair;
  try {
    return [null, await pair[1]];
  } catch (e) {
    return [e, null];
  }
}

/** Splits a trailing node-style callback off the arguments. */
function splitCallback(args) {
  if (args.length > 0 && typeof args[args.length - 1] === 'function') {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, null];
}

function withCallback(promise, cb) {
  if (cb) promise.then((r) => cb(null, r), (e) => cb(e));
  return promise;
}

function annotate(err, name, args) {
  if (err instanceof ReplyError && !err.command) err.command = { name, args };
  return err;
}

/** A command made by defineCommand(): its Lua, SHA1 and key count (null: the caller passes it). */
class Script {
  constructor(lua, numberOfKeys = null, readOnly = false) {
    this.lua = lua;
    this.numberOfKeys = numberOfKeys;
    this.readOnly = readOnly;
    this.sha = sha1hex(lua);
  }

  /** EVAL/EVALSHA's arguments after the script: the key count first when the definition has one. */
  args(args) {
    return typeof this.numberOfKeys === 'number' ? [this.numberOfKeys, ...args] : args;
  }
}

const isNoscript = (e) => String(e?.message).includes('NOSCRIPT');

/** A defined command's method (and its *Buffer variant), for Redis and Pipeline alike. */
function scriptMethod(script, buffer) {
  return function (...args) {
    return this._script(script, args, buffer);
  };
}

export class Redis extends Emitter {
  #client;
  #options;
  #subs = 0;
  /** SHA1s of the defined commands' scripts this connection has sent with EVAL. */
  #loaded = new Set();
  status = 'wait';
  /** defineCommand()'s scripts by name, as in ioredis. */
  scriptsSet = {};

  /**
   * Options: engine (an Engine to share), host/port (instances with the same ones share an
   * engine, like clients of one server), db, name (CLIENT SETNAME), engineOptions.
   */
  constructor(portOrOptions, hostOrOptions, maybeOptions) {
    super();
    let options = {};
    if (typeof portOrOptions === 'object' && portOrOptions !== null) options = portOrOptions;
    else {
      if (typeof portOrOptions === 'number') options.port = portOrOptions;
      else if (typeof portOrOptions === 'string') options.url = portOrOptions;
      if (typeof hostOrOptions === 'object' && hostOrOptions !== null) Object.assign(options, hostOrOptions);
      else if (typeof hostOrOptions === 'string') options.host = hostOrOptions;
      if (typeof maybeOptions === 'object' && maybeOptions !== null) Object.assign(options, maybeOptions);
    }
    this.#options = options;
    let engine = options.engine;
    if (!engine) {
      const key = options.url ?? `${options.host ?? 'localhost'}:${options.port ?? 6379}`;
      engine = shared.get(key);
      if (!engine || engine.freed) {
        engine = new Engine(options.engineOptions ?? {});
        shared.set(key, engine);
      }
    }
    if (!(engine instanceof Engine)) throw new TypeError('oxidis: options.engine must be an Engine');
    this.engine = engine;
    this.#client = engine.connect({ binary: false });
    this.#client.onPush((frame) => this.#push(frame));
    if (options.db) this.#client.call('SELECT', options.db);
    if (options.name) this.#client.call('CLIENT', 'SETNAME', options.name);
    this.status = 'ready';
    queueMicrotask(() => {
      if (this.status === 'ready') {
        this.emit('connect');
        this.emit('ready');
      }
    });
  }

  /** The underlying Client (call, send ...). (`redis.client(...)` is the CLIENT command.) */
  get connection() {
    return this.#client;
  }

  get options() {
    return { ...this.#options };
  }

  #push(frame) {
    if (!Array.isArray(frame)) return;
    const [kind, a, b, c] = frame;
    switch (kind) {
      case 'message':
        this.emit('message', a, b);
        break;
      case 'pmessage':
        this.emit('pmessage', a, b, c);
        break;
      case 'smessage':
        this.emit('smessage', a, b);
        break;
      case 'subscribe':
      case 'psubscribe':
      case 'ssubscribe':
      case 'unsubscribe':
      case 'punsubscribe':
      case 'sunsubscribe':
        if (typeof b === 'number') this.#subs = b;
        break;
      default:
        this.emit('push', frame);
    }
  }

  /** Runs any command: `redis.call('SET', 'k', 'v')`. */
  call(command, ...args) {
    const [rest, cb] = splitCallback(args);
    return withCallback(this.#run(String(command).toLowerCase(), command, rest, false), cb);
  }

  sendCommand(command, ...args) {
    return this.call(command, ...args);
  }

  #run(name, command, args, buffer) {
    let flat;
    try {
      flat = [command];
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        const t = typeof a;
        if (t === 'string' || t === 'number') flat.push(a);
        else {
          // Arrays, objects and Maps of pairs, null: ioredis's flattening.
          flat = flatten(name, args, [command]);
          break;
        }
      }
      const r = this.#client._callList(flat, buffer);
      if (r instanceof Promise)
        return r.then(
          (v) => transform(name, v),
          (e) => Promise.reject(this.#closedError(annotate(e, name, flat.slice(1)))),
        );
      return Promise.resolve(name === 'hgetall' ? transform(name, r) : r);
    } catch (e) {
      return Promise.reject(this.#closedError(annotate(e, name, flat ? flat.slice(1) : args)));
    }
  }

  /**
   * Runs queued `[name, command, args, buffer]` commands in one crossing (Client._batch):
   * `[error, value]` per command, value a Promise where a command blocked or waits behind one.
   */
  _execBatch(items) {
    const list = items.map(([name, command, args, buffer]) => [flatten(name, args, [command]), buffer]);
    let rs;
    try {
      rs = this.#client._batchList(list);
    } catch (e) {
      const err = this.#closedError(e);
      return items.map(() => [err, null]);
    }
    return rs.map(([e, v], i) => {
      const name = items[i][0];
      if (e) return [this.#closedError(annotate(e, name, list[i][0].slice(1))), null];
      if (v instanceof Promise)
        return [
          null,
          v.then(
            (x) => transform(name, x),
            (x) => Promise.reject(this.#closedError(annotate(x, name, list[i][0].slice(1)))),
          ),
        ];
      return [null, transform(name, v)];
    });
  }

  /**
   * A call on a disconnected instance, or a blocked call pending when it disconnects, fails as
   * in ioredis: 'Connection is closed.' (libraries such as BullMQ look for that message).
   */
  #closedError(e) {
    if (e instanceof EngineError && this.status === 'end' && this.#client.closed) {
      const closed = new EngineError(CONNECTION_CLOSED);
      closed.cause = e;
      return closed;
    }
    return e;
  }

  async #subscribe(command, args) {
    const [names, cb] = splitCallback(args);
    const p = this.#run(command.toLowerCase(), command, names, false).then((r) => {
      const n = Array.isArray(r) && typeof r[2] === 'number' ? r[2] : 0;
      return Math.max(n, this.#subs);
    });
    return withCallback(p, cb);
  }

  subscribe(...args) {
    return this.#subscribe('SUBSCRIBE', args);
  }

  psubscribe(...args) {
    return this.#subscribe('PSUBSCRIBE', args);
  }

  ssubscribe(...args) {
    return this.#subscribe('SSUBSCRIBE', args);
  }

  unsubscribe(...args) {
    return this.#subscribe('UNSUBSCRIBE', args);
  }

  punsubscribe(...args) {
    return this.#subscribe('PUNSUBSCRIBE', args);
  }

  /**
   * ioredis's defineCommand: `redis[name](...keysAndArgs)` runs `lua` (and `redis[name +
   * 'Buffer']` with bulk strings as Uint8Arrays). As ioredis does, the first call on a
   * connection sends EVAL, later ones EVALSHA; a NOSCRIPT reply (after SCRIPT FLUSH) is answered
   * by sending EVAL once more. With `numberOfKeys` the key count is put first; without it the
   * caller passes it.
   */
  defineCommand(name, definition) {
    const script = new Script(definition.lua, definition.numberOfKeys ?? null, !!definition.readOnly);
    this.scriptsSet[name] = script;
    this[name] = scriptMethod(script, false);
    this[name + 'Buffer'] = scriptMethod(script, true);
  }

  _script(script, args, buffer) {
    const [rest, cb] = splitCallback(args);
    const p = this._scriptOnce(script, rest, buffer).catch((e) => {
      if (!isNoscript(e)) throw e;
      return this._scriptOnce(script, rest, buffer);
    });
    return withCallback(p, cb);
  }

  /** One EVAL or EVALSHA of a defined command; NOSCRIPT makes the next one EVAL. */
  _scriptOnce(script, args, buffer) {
    const [name, command, head] = this._scriptCommand(script);
    return this.#run(name, command, [head, ...script.args(args)], buffer).catch((e) => {
      if (isNoscript(e)) this.#loaded.delete(script.sha);
      throw e;
    });
  }

  /** EVAL with the Lua the first time on this connection, EVALSHA afterwards. */
  _scriptCommand(script) {
    if (this.#loaded.has(script.sha)) return ['evalsha', 'EVALSHA', script.sha];
    this.#loaded.add(script.sha);
    return ['eval', 'EVAL', script.lua];
  }

  /** A pipeline: queue commands, then `exec()` resolves to [[err, result], ...]. */
  pipeline(commands) {
    const p = new Pipeline(this, false);
    if (commands) p._batch(commands);
    return p;
  }

  /** A transaction (MULTI ... EXEC): `exec()` resolves to [[err, result], ...], or null if WATCH aborted it. */
  multi(commands) {
    const p = new Pipeline(this, true);
    if (commands) p._batch(commands);
    return p;
  }

  /** A new Redis on the same engine (shares the data, not the connection). */
  duplicate(override = {}) {
    return new Redis({ ...this.#options, ...override, engine: this.engine });
  }

  async quit(cb) {
    let r = 'OK';
    try {
      r = await this.#run('quit', 'QUIT', [], false);
    } finally {
      this.disconnect();
    }
    if (cb) cb(null, r);
    return r;
  }

  disconnect() {
    if (this.status === 'end') return;
    this.status = 'end';
    this.#client.close();
    this.emit('close');
    this.emit('end');
  }

  connect() {
    return Promise.resolve();
  }

  _exec(name, command, args, buffer) {
    return this.#run(name, command, args, buffer);
  }
}

/** Queued commands of `redis.pipeline()` / `redis.multi()`. */
export class Pipeline {
  #redis;
  #multi;
  #queue = [];

  constructor(redis, multi) {
    this.#redis = redis;
    this.#multi = multi;
    // The defined commands, as ioredis's pipelines have them.
    for (const [name, script] of Object.entries(redis.scriptsSet)) {
      this[name] = scriptMethod(script, false);
      this[name + 'Buffer'] = scriptMethod(script, true);
    }
  }

  _batch(commands) {
    for (const [cmd, ...args] of commands) {
      if (Object.hasOwn(this.#redis.scriptsSet, cmd)) this[cmd](...args);
      else this.call(cmd, ...args);
    }
  }

  get length() {
    return this.#queue.length;
  }

  call(command, ...args) {
    this.#queue.push([String(command).toLowerCase(), command, args, false]);
    return this;
  }

  _add(name, command, args, buffer) {
    this.#queue.push([name, command, args, buffer]);
    return this;
  }

  _script(script, args, buffer) {
    this.#queue.push([null, script, args, buffer]);
    return this;
  }

  /** Runs the queue; `cb` if a function (ioredis ignores anything else, e.g. `exec(true)`). */
  async exec(cb) {
    if (typeof cb !== 'function') cb = null;
    const queue = this.#queue.splice(0);
    const r = this.#redis;
    let result;
    if (!this.#multi) {
      result = new Array(queue.length);
      // A defined command (name null) answered NOSCRIPT is sent again as EVAL after the rest
      // of the pipeline, where ioredis's retry lands (it resends on reading the reply). Runs
      // of other commands go to the engine in one crossing each.
      const retry = [];
      let i = 0;
      while (i < queue.length) {
        const [name, command, args, buffer] = queue[i];
        if (name === null) {
          try {
            result[i] = [null, await r._scriptOnce(command, args, buffer)];
          } catch (e) {
            if (isNoscript(e)) retry.push(i);
            result[i] = [e, null];
          }
          i++;
          continue;
        }
        let j = i + 1;
        while (j < queue.length && queue[j][0] !== null) j++;
        const rs = r._execBatch(queue.slice(i, j));
        for (let k = 0; k < rs.length; k++) result[i + k] = await settle(rs[k]);
        i = j;
      }
      for (const i of retry) {
        const [, script, args, buffer] = queue[i];
        try {
          result[i] = [null, await r._scriptOnce(script, args, buffer)];
        } catch (e) {
          result[i] = [e, null];
        }
      }
    } else {
      // MULTI, the commands and EXEC in one crossing.
      const items = [['multi', 'MULTI', [], false]];
      for (const [name, command, args, buffer] of queue) {
        if (name === null) {
          const [n, c, head] = r._scriptCommand(command);
          items.push([n, c, [head, ...command.args(args)], buffer]);
        } else items.push([name, command, args, buffer]);
      }
      items.push(['exec', 'EXEC', [], false]);
      const rs = r._execBatch(items);
      for (let k = 0; k < rs.length; k++) rs[k] = await settle(rs[k]);
      if (rs[0][0]) {
        if (cb) cb(rs[0][0]);
        throw rs[0][0];
      }
      const queued = rs.slice(1, -1).map(([e]) => e);
      const [e, replies] = rs[rs.length - 1];
      if (e) {
        // EXECABORT: the errors of the commands that could not be queued come along.
        e.previousErrors = queued.filter((x) => x);
        if (cb) cb(e);
        throw e;
      }
      if (replies === null) result = null;
      else
        result = replies.map((v, i) =>
          v instanceof ReplyError ? [v, null] : [null, transform(queue[i]?.[0], v)],
        );
    }
    if (cb) cb(null, result);
    return result;
  }
}

// One method per command of the table (lowercase, as ioredis names them), and the *Buffer
// variants that return Uint8Arrays for bulk strings. FCALL, FCALL_RO and FUNCTION are methods
// even where the table does not have them yet (ioredis has them; the engine answers).
const names = commands()
  .map((c) => c.name)
  .filter((n) => !n.includes('|'));
for (const extra of ['fcall', 'fcall_ro', 'function']) if (!names.includes(extra)) names.push(extra);
for (const name of names) {
  const upper = name.toUpperCase();
  const own = Object.prototype.hasOwnProperty;
  if (!own.call(Redis.prototype, name)) {
    Redis.prototype[name] = function (...args) {
      // A trailing callback (node style) is taken off the arguments (this function's own array).
      const cb = args.length > 0 && typeof args[args.length - 1] === 'function' ? args.pop() : null;
      return withCallback(this._exec(name, upper, args, false), cb);
    };
  }
  if (!own.call(Redis.prototype, name + 'Buffer')) {
    Redis.prototype[name + 'Buffer'] = function (...args) {
      const [rest, cb] = splitCallback(args);
      return withCallback(this._exec(name, upper, rest, true), cb);
    };
  }
  if (!own.call(Pipeline.prototype, name)) {
    Pipeline.prototype[name] = function (...args) {
      return this._add(name, upper, args, false);
    };
    Pipeline.prototype[name + 'Buffer'] = function (...args) {
      return this._add(name, upper, args, true);
    };
  }
}

export { EngineError, ReplyError };
