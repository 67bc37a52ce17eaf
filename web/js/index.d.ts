// Type declarations for the oxidis package (hand-written: wasm-bindgen's are for ./raw).

/** An argument: strings are sent as UTF-8, numbers and bigints as their decimal text. */
export type Arg = string | number | bigint | Uint8Array | ArrayBuffer;

/**
 * A reply as a JS value: simple and bulk strings are strings (Uint8Array for non-UTF-8 bulk
 * strings with `binary: true`, always with `binary: 'always'` or callBuffer), integers numbers
 * (bigint beyond 2^53), RESP3 doubles numbers, nulls null, arrays arrays, RESP3 maps Map,
 * RESP3 sets Set, booleans booleans, big numbers bigint. Errors inside arrays (EXEC) are
 * ReplyError objects; a top-level error reply is thrown.
 */
export type Reply =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | ReplyError
  | Reply[]
  | Map<Reply, Reply>
  | Set<Reply>;

/** How bulk strings come back: false: strings (lossy for non-UTF-8), true: Uint8Array where not UTF-8, 'always': Uint8Array. */
export type BinaryMode = boolean | 'always';

export interface EngineOptions {
  /** Seeds the engine's PRNG (SPOP, RANDOMKEY, expiry sampling ...): same seed, same choices. Default: random. */
  seed?: number | bigint;
  /** Number of databases (SELECT 0..n-1). Default 16. */
  databases?: number;
  /** 'real' (default): Date.now() and timers. 'manual': time moves only with advance()/setTime(). */
  clock?: 'real' | 'manual';
  /** Manual clock: the start time in ms since the epoch. Default: Date.now(). */
  time?: number;
  /** Default binary mode of this engine's clients. */
  binary?: BinaryMode;
  /** Configuration parameters as CONFIG SET takes them, e.g. { 'hash-max-listpack-entries': 64 }. */
  config?: Record<string, string | number>;
  /**
   * The memory bound (CONFIG's `maxmemory`): bytes, or a string such as '64mb'. Memory is what
   * the engine allocates (INFO's used_memory). Default: 3gb, as Redis on 32-bit platforms.
   */
  maxmemory?: number | string;
  /** What happens at the bound (CONFIG's `maxmemory-policy`), e.g. 'allkeys-lru'. Default: 'noeviction' (writes get OOM errors). */
  maxmemoryPolicy?: 'noeviction' | 'allkeys-lru' | 'allkeys-lfu' | 'allkeys-random' | 'volatile-lru' | 'volatile-lfu' | 'volatile-random' | 'volatile-ttl';
}

export interface ClientOptions {
  binary?: BinaryMode;
}

export interface KeyInfo {
  key: string | Uint8Array;
  /** TYPE's answer: 'string' | 'list' | 'hash' | 'set' | 'zset'. */
  type: string;
  /** Milliseconds to live, -1 without a TTL. */
  ttl: number;
}

export interface KeysOptions {
  db?: number;
  /** A glob pattern, as KEYS takes. Default '*'. */
  pattern?: string;
  /** At most this many keys. Default 10000. */
  limit?: number;
  /** Default true: keys that are not UTF-8 as Uint8Array. */
  binary?: BinaryMode;
}

/** A Redis error reply; `message` is Redis's exact text ("ERR ...", "WRONGTYPE ..."). */
export class ReplyError extends Error {
  name: 'ReplyError';
  /** Set by the Redis facade: the command that failed. */
  command?: { name: string; args: Arg[] };
}

/** The engine or client cannot be used: freed, closed, or crashed on a bug. */
export class EngineError extends Error {
  name: 'EngineError';
}

export class Engine {
  constructor(options?: EngineOptions);
  /** Opens a client (a connection). Many clients share one engine's data. */
  connect(options?: ClientOptions): Client;
  /** The engine's clock, ms since the epoch. */
  now(): number;
  /** Manual clock: moves time forward and runs what is due (expiry, blocking timeouts). */
  advance(ms: number): void;
  /** Manual clock: sets the time (ms since the epoch). */
  setTime(ms: number): void;
  /** Runs the periodic work now (the real clock does it on a timer). */
  tick(): void;
  /** When the periodic work is next due (ms since the epoch), or null. */
  nextDeadline(): number | null;
  /** Keys with their type and TTL (keys past their TTL are left out). */
  keys(options?: KeysOptions): KeyInfo[];
  /** Number of keys in a database. */
  dbSize(db?: number): number;
  readonly clientCount: number;
  /** The dataset as an RDB file, as SAVE would write it now. */
  exportRdb(): Uint8Array;
  /** Replaces the dataset with an RDB file's keys (expired ones dropped); returns the number loaded. RangeError for a bad file (nothing changes). */
  importRdb(bytes: Uint8Array | ArrayBuffer): number;
  /** Releases the engine; every later use of it or its clients throws EngineError. */
  free(): void;
  readonly freed: boolean;
}

export class Client implements AsyncIterable<Reply> {
  /**
   * Runs a command: `client.call('SET', 'k', 'v')`. Throws ReplyError for an error reply and
   * TypeError/RangeError for bad arguments. A command that blocks (BLPOP on an empty list)
   * returns a Promise of its reply, as do calls made while the client is blocked.
   */
  call(...args: Arg[]): Reply | Promise<Reply>;
  /** Like call(), with every bulk string as a Uint8Array. */
  callBuffer(...args: Arg[]): Reply | Promise<Reply>;
  /** Like call(), always a Promise (rejected with ReplyError on an error reply). */
  callAsync(...args: Arg[]): Promise<Reply>;
  /**
   * Runs commands in one crossing into the engine, as a pipeline: `[error, reply]` per command
   * (error a ReplyError, or the TypeError/RangeError of a bad argument). A command that blocks
   * has a Promise as its reply, and the commands after it wait behind it.
   */
  pipeline(commands: Arg[][]): Array<[Error | null, Reply | Promise<Reply>]>;
  /** Raw protocol: bytes in (RESP or inline), the exact bytes the server writes back. */
  send(bytes: Uint8Array | string): Uint8Array;
  /** Calls `fn` for every push (pub/sub message ...) that arrives outside this client's calls. Returns an unsubscribe function. */
  onPush(fn: (frame: Reply) => void): () => void;
  /** The pushes as an async iterator. */
  pushes(): AsyncIterableIterator<Reply>;
  [Symbol.asyncIterator](): AsyncIterableIterator<Reply>;
  /** True after close(), QUIT, a protocol error, CLIENT KILL or engine.free(). */
  readonly closed: boolean;
  close(): void;
}

/** One command of the table (oxidis_core::all_commands), with Redis's metadata. */
export interface CommandInfo {
  /** Lowercase; a subcommand's is "parent|sub". */
  name: string;
  /** N: exactly N arguments (name included); -N: at least N. */
  arity: number;
  flags: string[];
  firstKey: number;
  lastKey: number;
  keyStep: number;
  aclCategories: string[];
  group: string;
  summary: string;
  since: string;
  complexity: string;
  /** True for containers (CLIENT, CONFIG ...) whose subcommands do the work. */
  container: boolean;
  subcommands: string[];
  /** COMMAND DOCS's other fields: arguments (name, type, token, flags ...), history ... */
  docs: { arguments?: any[]; history?: any[]; [k: string]: any };
}

export function commands(): CommandInfo[];

export interface RespNode {
  type:
    | 'simple-string' | 'error' | 'integer' | 'bulk-string' | 'array' | 'null' | 'boolean'
    | 'double' | 'big-number' | 'bulk-error' | 'verbatim-string' | 'map' | 'set'
    | 'attribute' | 'push' | 'inline' | 'unknown';
  /** The type byte ('+', '$', '*' ...), absent for inline and unknown. */
  typeByte?: string;
  /** Offset of the first byte; offset just past the node. */
  start: number;
  end: number;
  /** Declared length (bytes for bulk types, elements or pairs for aggregates; -1 for RESP2 nulls). */
  length?: number;
  /** The header line after the type byte. */
  line: { start: number; end: number };
  /** The value's bytes: the line for simple types, the body for bulk types. */
  payload?: { start: number; end: number };
  /** Offsets of this node's own CRLFs (of the '\r'). */
  crlf: number[];
  children: RespNode[];
  status: 'complete' | 'incomplete' | 'invalid';
  error?: string;
}

/** The annotated RESP tree of a buffer: one node per frame; stops at the first incomplete or invalid one. */
export function decodeAnnotated(bytes: Uint8Array | string): RespNode[];

/** Splits a command line as redis-cli does (sdssplitargs: quotes, \xHH escapes); null for unbalanced quotes. */
export function splitArgs(line: string | Uint8Array): Uint8Array[] | null;

/** Every complete reply in `bytes` as redis-cli 7 prints it, with the bytes each used. */
export function renderReplies(bytes: Uint8Array | string): { text: string; length: number }[];

/** The first reply in `bytes` as redis-cli 7 prints it (ending with a newline), or null. */
export function renderReply(bytes: Uint8Array | string): string | null;

/** Runs a golden transcript (testdata/golden format) on a fresh manual-clock engine; returns the failures. */
export function runGolden(name: string, text: string, options?: { time?: number; seed?: number }): string[];

type Callback<T> = (err: Error | null, result?: T) => void;

export interface RedisOptions {
  /** The engine to use; by default instances with the same host/port share one. */
  engine?: Engine;
  host?: string;
  port?: number;
  db?: number;
  name?: string;
  engineOptions?: EngineOptions;
}

/** A command made by Redis#defineCommand. */
export interface DefinedScript {
  readonly lua: string | Uint8Array;
  /** SHA1 of the Lua (of its UTF-8 bytes), as EVALSHA takes it. */
  readonly sha: string;
  readonly numberOfKeys: number | null;
  readonly readOnly: boolean;
}

/**
 * A promise-based client with ioredis's calling conventions over an Engine. Every command of
 * the table is a method (lowercase, as in ioredis), with a `*Buffer` variant.
 */
export class Redis {
  constructor(options?: RedisOptions);
  constructor(port: number, host?: string, options?: RedisOptions);
  readonly engine: Engine;
  /** The underlying Client. */
  readonly connection: Client;
  status: 'wait' | 'ready' | 'end';
  call(command: string, ...args: any[]): Promise<any>;
  sendCommand(command: string, ...args: any[]): Promise<any>;
  get(key: Arg, cb?: Callback<string | null>): Promise<string | null>;
  set(key: Arg, value: Arg, ...args: any[]): Promise<'OK' | string | null>;
  del(...keys: any[]): Promise<number>;
  incr(key: Arg, cb?: Callback<number>): Promise<number>;
  hgetall(key: Arg, cb?: Callback<Record<string, string>>): Promise<Record<string, string>>;
  hset(key: Arg, ...args: any[]): Promise<number>;
  subscribe(...channels: any[]): Promise<number>;
  psubscribe(...patterns: any[]): Promise<number>;
  ssubscribe(...channels: any[]): Promise<number>;
  unsubscribe(...channels: any[]): Promise<number>;
  punsubscribe(...patterns: any[]): Promise<number>;
  /** EVAL script numkeys key... arg... (arrays are flattened; a trailing callback works as everywhere). */
  eval(script: Arg, numkeys: number | string, ...keysAndArgs: any[]): Promise<any>;
  evalsha(sha1: string, numkeys: number | string, ...keysAndArgs: any[]): Promise<any>;
  eval_ro(script: Arg, numkeys: number | string, ...keysAndArgs: any[]): Promise<any>;
  evalsha_ro(sha1: string, numkeys: number | string, ...keysAndArgs: any[]): Promise<any>;
  /** SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP: `redis.script('load', lua)` gives the SHA1. */
  script(subcommand: string, ...args: any[]): Promise<any>;
  /** FCALL function numkeys key... arg... */
  fcall(fn: string, numkeys: number | string, ...keysAndArgs: any[]): Promise<any>;
  fcall_ro(fn: string, numkeys: number | string, ...keysAndArgs: any[]): Promise<any>;
  /** FUNCTION LOAD | DELETE | LIST | DUMP | RESTORE | FLUSH | KILL | STATS | HELP */
  function(subcommand: string, ...args: any[]): Promise<any>;
  /**
   * ioredis's defineCommand: `redis[name](...keysAndArgs)` (and `redis[name + 'Buffer']`, and the
   * same on pipeline() and multi()) runs `lua`: EVAL on the connection's first call, EVALSHA
   * after, EVAL again when the server answers NOSCRIPT. With `numberOfKeys` the key count is sent
   * first; without it, the caller passes it. `readOnly` is kept, as in ioredis (where it only
   * routes cluster reads): the command sent is EVAL/EVALSHA either way.
   */
  defineCommand(name: string, definition: { lua: string | Uint8Array; numberOfKeys?: number; readOnly?: boolean }): void;
  /** The defined commands, by name. */
  readonly scriptsSet: Record<string, DefinedScript>;
  pipeline(commands?: any[][]): Pipeline;
  multi(commands?: any[][]): Pipeline;
  duplicate(override?: RedisOptions): Redis;
  quit(cb?: Callback<'OK'>): Promise<'OK'>;
  disconnect(): void;
  connect(): Promise<void>;
  on(event: 'message', fn: (channel: string, message: string) => void): this;
  on(event: 'pmessage', fn: (pattern: string, channel: string, message: string) => void): this;
  on(event: 'smessage', fn: (channel: string, message: string) => void): this;
  on(event: 'connect' | 'ready' | 'close' | 'end', fn: () => void): this;
  on(event: string, fn: (...args: any[]) => void): this;
  once(event: string, fn: (...args: any[]) => void): this;
  off(event: string, fn: (...args: any[]) => void): this;
  removeListener(event: string, fn: (...args: any[]) => void): this;
  removeAllListeners(event?: string): this;
  emit(event: string, ...args: any[]): boolean;
  [command: string]: any;
}

/** Commands queued by pipeline() or multi(); each command method returns the pipeline. */
export class Pipeline {
  readonly length: number;
  call(command: string, ...args: any[]): this;
  /** [[error, result], ...]; for multi(), null if WATCH aborted the transaction. A non-function argument is ignored, as in ioredis (`exec(true)`). */
  exec(cb?: Callback<Array<[Error | null, any]> | null> | boolean): Promise<Array<[Error | null, any]> | null>;
  [command: string]: any;
}

/** Options of a ReplicationLink: the two engines and the name REPLICAOF uses for the master. */
export interface ReplicationLinkOptions {
  master: Engine;
  replica: Engine;
  /** Default 'master'. */
  host?: string;
  /** Default 6379. */
  port?: number;
  /** The replica's address as the master sees it (CLIENT LIST, INFO, ROLE); default 'replica:50000'. */
  replicaAddr?: string;
}

export interface ReplicationChunk {
  direction: 'to-master' | 'to-replica';
  bytes: Uint8Array;
}

/**
 * The network between two engines of one process: after `REPLICAOF host port` on the replica,
 * bytes move both ways after every operation on either engine. `cut()` closes both ends and
 * refuses connects until `reconnect()` (the replica retries once a second of its clock, then
 * resumes with PSYNC).
 */
export class ReplicationLink {
  constructor(options: ReplicationLinkOptions);
  readonly host: string;
  readonly port: number;
  readonly connected: boolean;
  readonly up: boolean;
  onChunk(f: (chunk: ReplicationChunk) => void): () => boolean;
  onState(f: (state: 'connected' | 'refused' | 'closed' | 'cut' | 'up') => void): () => boolean;
  cut(): void;
  reconnect(): void;
  pump(): void;
  close(): void;
}

/** A node of a ClusterNetwork: an engine at a virtual host:port (its bus at busPort). */
export interface ClusterNode {
  engine: Engine;
  host: string;
  port: number;
  busPort: number;
  isolated: boolean;
}

export interface ClusterNodeOptions {
  /** The node's port (the engine's `port` config, what MOVED and CLUSTER NODES show). */
  port: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default port + 10000 (Redis's cluster-port default). */
  busPort?: number;
}

export interface ClusterCreateOptions {
  /** Default 3. */
  nodes?: number;
  /** Default 7000: the nodes are at basePort, basePort + 1, ... */
  basePort?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 'manual' (all engines start at `time`). */
  clock?: 'manual' | 'real';
  time?: number;
  /** Default 1: the engines' seeds are seed, seed + 1, ... (node IDs come from them). */
  seed?: number;
  /** Added to each engine's config (cluster-enabled and port are set). */
  config?: Record<string, string | number>;
}

export interface ClusterChunk {
  /** 'host:port' of the sending and receiving nodes. */
  from: string;
  to: string;
  fromPort: number;
  toPort: number;
  /** Cluster bus bytes (whole or partial messages, as written). */
  bytes: Uint8Array;
}

/**
 * The network between engines of one process made with cluster-enabled yes: an engine that
 * asks for a link to a node's bus (CLUSTER MEET, its cron) gets an in-memory link to the engine
 * registered there; bus bytes move after every operation on any engine.
 */
export class ClusterNetwork {
  constructor(options?: { engines?: Array<ClusterNodeOptions & { engine: Engine }> });
  /** Makes the engines (cluster-enabled yes, manual clocks by default) and their network. */
  static create(options?: ClusterCreateOptions): ClusterNetwork;
  add(engine: Engine, options: ClusterNodeOptions): ClusterNode;
  readonly nodes: ClusterNode[];
  readonly engines: Engine[];
  readonly links: Array<{ from: string; to: string }>;
  node(port: number, host?: string): ClusterNode | undefined;
  engine(port: number, host?: string): Engine | undefined;
  /** A client of that node kept by the network. */
  client(port: number, host?: string): Client;
  onChunk(f: (chunk: ClusterChunk) => void): () => boolean;
  /** Cuts a node off: its links close, connects to and from it fail until heal(). */
  isolate(port: number, host?: string): void;
  heal(port: number, host?: string): void;
  /** Manual clocks: every engine moves `ms` forward, `step` (default 100) ms at a time. */
  advance(ms: number, step?: number): void;
  /** Manual clocks: advances until `f()` is true; returns the ms it took (throws after timeout, default 60000). */
  advanceUntil(f: () => boolean, options?: { timeout?: number; step?: number }): number;
  /** Each node's cluster_state ('ok' | 'fail'). */
  states(): string[];
  /** Every node ok and knowing every node by name, linked. */
  settled(): boolean;
  /**
   * As redis-cli --cluster create [--cluster-replicas n]: even slot ranges on the first
   * nodes / (replicas + 1) nodes, distinct config epochs, MEET, CLUSTER REPLICATE for the rest;
   * with manual clocks, advances until settled() and the replicas are in sync.
   */
  form(options?: { timeout?: number; replicas?: number }): Array<{ port: number; first: number; last: number }>;
  pump(): void;
  close(): void;
}

/** redis-cli's split of the 16384 slots over n masters: [[first, last], ...]. */
export function evenSlots(n: number): Array<[number, number]>;

export default Redis;
