// The Engine / Client API of the package, imported by name through package.json's exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, Client, ReplyError, EngineError, commands, decodeAnnotated } from 'oxidis';

const T0 = 1_700_000_000_000;
const manual = (extra = {}) => new Engine({ clock: 'manual', time: T0, seed: 1, ...extra });
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);

test('call returns JS values for every reply type', () => {
  const e = manual();
  const c = e.connect();
  assert.ok(c instanceof Client);
  assert.equal(c.call('SET', 'k', 'v'), 'OK');
  assert.equal(c.call('GET', 'k'), 'v');
  assert.equal(c.call('GET', 'missing'), null);
  assert.equal(c.call('INCRBY', 'n', 5), 5);
  assert.equal(c.call('INCRBY', 'big', '9007199254740993'), 9007199254740993n);
  assert.deepEqual(c.call('RPUSH', 'l', 'a', 'b', 'c'), 3);
  assert.deepEqual(c.call('LRANGE', 'l', 0, -1), ['a', 'b', 'c']);
  assert.deepEqual(c.call('LRANGE', 'nope', 0, -1), []);
  assert.equal(c.call('SET', 'unicode ключ', '値 🎉'), 'OK');
  assert.equal(c.call('GET', 'unicode ключ'), '値 🎉');
  assert.equal(c.call('STRLEN', 'unicode ключ'), enc('値 🎉').length);
  assert.equal(c.call('ZADD', 'z', 1.5, 'm'), 1);
  assert.equal(c.call('ZSCORE', 'z', 'm'), '1.5');
  // RESP3: maps are Maps, doubles numbers, sets Sets, nulls null.
  const hello = c.call('HELLO', '3');
  assert.ok(hello instanceof Map);
  assert.equal(hello.get('proto'), 3);
  assert.equal(c.call('HSET', 'h', 'f', 'x'), 1);
  assert.deepEqual(c.call('HGETALL', 'h'), new Map([['f', 'x']]));
  assert.equal(c.call('ZSCORE', 'z', 'm'), 1.5);
  assert.equal(c.call('GET', 'missing'), null);
  assert.equal(c.call('SADD', 's', 'a'), 1);
  assert.deepEqual(c.call('SMEMBERS', 's'), new Set(['a']));
  e.free();
});

test('error replies throw ReplyError with the exact Redis text', () => {
  const e = manual();
  const c = e.connect();
  c.call('SET', 'k', 'v');
  assert.throws(() => c.call('INCR', 'k'), (err) => err instanceof ReplyError && err.message === 'ERR value is not an integer or out of range');
  assert.throws(() => c.call('LPUSH', 'k', 'x'), { name: 'ReplyError', message: 'WRONGTYPE Operation against a key holding the wrong kind of value' });
  assert.throws(() => c.call('NOSUCH', 'a'), { message: "ERR unknown command 'NOSUCH', with args beginning with: 'a' " });
  assert.throws(() => c.call('GET'), { message: "ERR wrong number of arguments for 'get' command" });
  // The client is fine afterwards.
  assert.equal(c.call('GET', 'k'), 'v');
  e.free();
});

test('binary values round-trip', () => {
  const e = manual();
  const c = e.connect({ binary: true });
  const bytes = new Uint8Array(256).map((_, i) => i);
  assert.equal(c.call('SET', bytes, bytes), 'OK');
  assert.deepEqual(c.call('GET', bytes), bytes);
  assert.equal(c.call('STRLEN', bytes), 256);
  // UTF-8 stays a string with binary: true; callBuffer always gives bytes.
  c.call('SET', 'text', 'héllo');
  assert.equal(c.call('GET', 'text'), 'héllo');
  assert.deepEqual(c.callBuffer('GET', 'text'), enc('héllo'));
  // Keys listing shows binary keys as bytes.
  const keys = e.keys();
  assert.ok(keys.some((k) => k.key instanceof Uint8Array && k.key.length === 256));
  // Without the option a non-UTF-8 value is a lossy string (TextDecoder's U+FFFD).
  const d = e.connect();
  assert.equal(d.call('GET', new Uint8Array([0xff])), null);
  d.call('SET', 'bad', new Uint8Array([0x61, 0xff]));
  assert.equal(d.call('GET', 'bad'), 'a\uFFFD');
  // Lists of binary members.
  c.call('RPUSH', 'bl', new Uint8Array([0, 1]), new Uint8Array([0xfe]));
  // (binary: true gives bytes only where the value is not UTF-8.)
  assert.deepEqual(c.call('LRANGE', 'bl', 0, -1), ['\x00\x01', new Uint8Array([0xfe])]);
  assert.deepEqual(c.callBuffer('LRANGE', 'bl', 0, -1), [new Uint8Array([0, 1]), new Uint8Array([0xfe])]);
  e.free();
});

test('send returns the bytes exactly as the server writes them', () => {
  const e = manual();
  const c = e.connect();
  assert.equal(dec(c.send(enc('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\nGET k\r\nPING\r\n'))), '+OK\r\n$2\r\nvv\r\n+PONG\r\n');
  // A partial request waits for the rest.
  assert.equal(dec(c.send(enc('*2\r\n$3\r\nGET\r'))), '');
  assert.equal(dec(c.send(enc('\n$1\r\nk\r\n'))), '$2\r\nvv\r\n');
  assert.equal(dec(c.send('HELLO 3\r\n')).startsWith('%7\r\n'), true);
  assert.equal(dec(c.send('GET nope\r\n')), '_\r\n');
  // A protocol error is replied to and closes the connection.
  assert.equal(dec(c.send('*1\r\nfoo\r\n')), "-ERR Protocol error: expected '$', got 'f'\r\n");
  assert.equal(c.closed, true);
  assert.throws(() => c.call('PING'), EngineError);
  e.free();
});

test('QUIT closes the client; many clients per engine share the data', () => {
  const e = manual();
  const a = e.connect();
  const b = e.connect();
  a.call('SET', 'shared', '1');
  assert.equal(b.call('GET', 'shared'), '1');
  assert.equal(b.call('SELECT', 1), 'OK');
  assert.equal(b.call('GET', 'shared'), null);
  assert.equal(a.call('QUIT'), 'OK');
  assert.equal(a.closed, true);
  assert.throws(() => a.call('PING'), /closed/);
  assert.equal(b.call('PING'), 'PONG');
  b.close();
  assert.equal(e.clientCount, 0);
  e.free();
});

test('manual clock: keys expire when time is advanced, no sleeping', () => {
  const e = manual();
  const c = e.connect();
  assert.equal(e.now(), T0);
  c.call('SET', 'k', 'v', 'PX', 100);
  c.call('SET', 'forever', 'v');
  assert.equal(c.call('PTTL', 'k'), 100);
  e.advance(99);
  assert.equal(c.call('GET', 'k'), 'v');
  assert.equal(c.call('PTTL', 'k'), 1);
  e.advance(1);
  assert.equal(c.call('GET', 'k'), null);
  // Active expiry runs on advance: keys no one reads go away too.
  for (let i = 0; i < 50; i++) c.call('SET', `t${i}`, 'v', 'EX', 10);
  assert.equal(e.dbSize(), 51);
  e.advance(10_001);
  assert.equal(e.dbSize(), 1);
  // setTime, and EXPIREAT against the engine's wall clock.
  e.setTime(T0 + 1_000_000);
  assert.equal(e.now(), T0 + 1_000_000);
  c.call('SET', 'at', 'v');
  c.call('PEXPIREAT', 'at', T0 + 1_000_500);
  assert.equal(c.call('PTTL', 'at'), 500);
  e.setTime(T0 + 1_000_500);
  assert.equal(c.call('EXISTS', 'at'), 0);
  assert.throws(() => e.advance(-1), RangeError);
  assert.throws(() => e.advance('1'), TypeError);
  e.free();
});

test('real clock: Date.now() time and a timer that runs active expiry', async () => {
  const e = new Engine({ seed: 2 });
  const c = e.connect();
  const before = Date.now();
  const now = e.now();
  assert.ok(now >= before - 5 && now <= Date.now() + 5, `${now} vs ${before}`);
  assert.throws(() => e.advance(10), /clock: 'manual'/);
  c.call('SET', 'k', 'v', 'PX', 20);
  assert.notEqual(e.nextDeadline(), null);
  // Nobody reads the key: only the engine's timer can remove it. Poll until it has.
  const deadline = Date.now() + 5000;
  while (e.dbSize() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(e.dbSize(), 0);
  e.free();
});

test('inspection: keys with type and TTL, glob filter, limit', () => {
  const e = manual({ databases: 4 });
  const c = e.connect();
  c.call('SET', 'user:1', 'a', 'PX', 5000);
  c.call('RPUSH', 'user:list', 'x');
  c.call('HSET', 'cfg', 'a', '1');
  c.call('SADD', 'set', 'a');
  c.call('ZADD', 'zs', 1, 'a');
  const keys = e.keys().sort((a, b) => (a.key < b.key ? -1 : 1));
  assert.deepEqual(keys, [
    { key: 'cfg', type: 'hash', ttl: -1 },
    { key: 'set', type: 'set', ttl: -1 },
    { key: 'user:1', type: 'string', ttl: 5000 },
    { key: 'user:list', type: 'list', ttl: -1 },
    { key: 'zs', type: 'zset', ttl: -1 },
  ]);
  assert.equal(e.keys({ pattern: 'user:*' }).length, 2);
  assert.equal(e.keys({ limit: 2 }).length, 2);
  assert.deepEqual(e.keys({ db: 3 }), []);
  assert.throws(() => e.keys({ db: 4 }), /database 4 does not exist/);
  e.advance(5000);
  assert.equal(e.keys({ pattern: 'user:*' }).length, 1);
  e.free();
});

test('inspection: the command table', () => {
  const table = commands();
  const byName = new Map(table.map((c) => [c.name, c]));
  const set = byName.get('set');
  assert.equal(set.arity, -3);
  assert.deepEqual(set.flags, ['write', 'denyoom']);
  assert.equal(set.group, 'string');
  assert.equal(set.summary, 'Set the string value of a key');
  assert.equal(set.since, '1.0.0');
  assert.equal(set.complexity, 'O(1)');
  assert.equal(set.firstKey, 1);
  assert.ok(Array.isArray(set.docs.arguments));
  assert.equal(set.docs.arguments[0].name, 'key');
  const client = byName.get('client');
  assert.equal(client.container, true);
  assert.ok(client.subcommands.includes('client|id'));
  assert.equal(byName.get('client|id').group, 'connection');
  assert.ok(table.length > 200);
});

test('inspection: annotated RESP decoding of complete, incomplete and invalid bytes', () => {
  const [arr] = decodeAnnotated(enc('*2\r\n$3\r\nfoo\r\n:12\r\n'));
  assert.equal(arr.type, 'array');
  assert.equal(arr.typeByte, '*');
  assert.equal(arr.length, 2);
  assert.deepEqual(arr.crlf, [2]);
  assert.equal(arr.status, 'complete');
  const [bulk, int] = arr.children;
  assert.deepEqual([bulk.type, bulk.start, bulk.end, bulk.payload, bulk.crlf], ['bulk-string', 4, 13, { start: 8, end: 11 }, [6, 11]]);
  assert.deepEqual([int.type, int.payload], ['integer', { start: 14, end: 16 }]);
  const partial = decodeAnnotated('$5\r\nhel');
  assert.equal(partial[0].status, 'incomplete');
  assert.deepEqual(partial[0].payload, { start: 4, end: 7 });
  const bad = decodeAnnotated('+OK\r\n?\r\n');
  assert.equal(bad.length, 2);
  assert.equal(bad[1].status, 'invalid');
  assert.match(bad[1].error, /unknown type byte/);
  assert.deepEqual(decodeAnnotated(new Uint8Array()), []);
  assert.throws(() => decodeAnnotated(42), TypeError);
});

test('bad input gives clear JS errors and the engine keeps working', () => {
  const e = manual();
  const c = e.connect();
  assert.throws(() => c.call(), /at least a command name/);
  assert.throws(() => c.call('SET', 'k', true), /argument 3 is a boolean/);
  assert.throws(() => c.call('SET', 'k', null), /argument 3 is null/);
  assert.throws(() => c.call('SET', 'k', undefined), /argument 3 is a undefined/);
  assert.throws(() => c.call('SET', 'k', { a: 1 }), /argument 3 is an object/);
  assert.throws(() => c.call('SET', 'k', ['a']), /argument 3 is an array/);
  assert.throws(() => c.call('SET', 'k', Symbol('s')), TypeError);
  assert.throws(() => c.call('SET', 'k', NaN), /not a finite number/);
  assert.throws(() => c.call(42), { name: 'ReplyError', message: "ERR unknown command '42', with args beginning with: " });
  assert.throws(() => c.send(42), /send\(\) takes a Uint8Array/);
  assert.throws(() => new Engine({ clock: 'sundial' }), /clock must be/);
  assert.throws(() => new Engine({ seed: -1 }), /seed/);
  assert.throws(() => new Engine({ databases: 0 }), /databases/);
  assert.throws(() => new Engine({ config: { 'no-such-option': 'x' } }), /config no-such-option/);
  assert.throws(() => e.keys({ pattern: 5 }), TypeError);
  // Huge inputs: a clear error before anything is copied into the engine, not a trap.
  const huge = new Uint8Array(600 * 1024 * 1024);
  assert.throws(() => c.call('SET', 'k', huge), { name: 'RangeError', message: /argument 3 is larger than 512 MB/ });
  assert.throws(() => c.send(new Uint8Array(1100 * 1024 * 1024)), RangeError);
  const big = 'x'.repeat(8 * 1024 * 1024);
  assert.equal(c.call('SET', 'big', big), 'OK');
  assert.equal(c.call('STRLEN', 'big'), big.length);
  assert.equal(c.call('APPEND', 'big', big), 2 * big.length);
  // Still fine.
  assert.equal(c.call('PING'), 'PONG');
  e.free();
});

test('numbers, bigints and ArrayBuffers as arguments', () => {
  const e = manual();
  const c = e.connect();
  assert.equal(c.call('SET', 'n', 10), 'OK');
  assert.equal(c.call('INCRBYFLOAT', 'n', 0.5), '10.5');
  assert.equal(c.call('INCRBY', 'n2', 12345678901234567890n - 12345678901234567889n), 1);
  assert.equal(c.call('SET', 'ab', new Uint8Array([104, 105]).buffer), 'OK');
  assert.equal(c.call('GET', 'ab'), 'hi');
  e.free();
});

test('calls after engine.free() throw a clear error', () => {
  const e = manual();
  const c = e.connect();
  e.free();
  assert.equal(e.freed, true);
  assert.throws(() => c.call('PING'), { name: 'EngineError', message: 'oxidis: the engine was freed' });
  assert.throws(() => e.connect(), /has been freed/);
  assert.throws(() => e.advance(1), /has been freed/);
  assert.throws(() => e.keys(), /has been freed/);
  assert.equal(c.closed, true);
  e.free(); // twice is fine
});

test('engines are independent; seeds make them deterministic', () => {
  const run = () => {
    const e = manual({ seed: 42 });
    const c = e.connect();
    for (let i = 0; i < 20; i++) c.call('SADD', 's', `m${i}`);
    const r = [c.call('SRANDMEMBER', 's', 5), c.call('SPOP', 's')];
    e.free();
    return r;
  };
  assert.deepEqual(run(), run());
  const a = manual();
  const b = manual();
  a.connect().call('SET', 'k', 'a');
  assert.equal(b.connect().call('GET', 'k'), null);
});

test('an array reply read again unchanged is a fresh copy; a change, another client mode or engine reads anew', () => {
  const e = manual();
  const c = e.connect();
  const b = e.connect({ binary: 'always' });
  c.call('RPUSH', 'l', 'a', 'b', 'c');
  const first = c.call('LRANGE', 'l', 0, -1);
  assert.deepEqual(first, ['a', 'b', 'c']);
  first.push('mutated');
  first[0] = 'x';
  // The same bytes again: the caller's changes to the first array do not show.
  const second = c.call('LRANGE', 'l', 0, -1);
  assert.deepEqual(second, ['a', 'b', 'c']);
  assert.notEqual(second, first);
  second.length = 0;
  assert.deepEqual(c.call('LRANGE', 'l', 0, -1), ['a', 'b', 'c']);
  // A value that changed in place (same length, same shape) is read anew.
  c.call('LSET', 'l', 1, 'B');
  assert.deepEqual(c.call('LRANGE', 'l', 0, -1), ['a', 'B', 'c']);
  // The same bytes for a client in another binary mode: bytes, not the strings.
  assert.deepEqual(b.call('LRANGE', 'l', 0, -1).map(dec), ['a', 'B', 'c']);
  assert.ok(b.call('LRANGE', 'l', 0, -1)[0] instanceof Uint8Array);
  assert.deepEqual(c.call('LRANGE', 'l', 0, -1), ['a', 'B', 'c']);
  // Another engine with other contents: its own replies.
  const e2 = manual();
  const c2 = e2.connect();
  c2.call('RPUSH', 'l', 'a', 'b', 'c');
  assert.deepEqual(c2.call('LRANGE', 'l', 0, -1), ['a', 'b', 'c']);
  assert.deepEqual(c.call('LRANGE', 'l', 0, -1), ['a', 'B', 'c']);
  // Nested arrays and errors inside EXEC are never shared.
  c.call('MULTI');
  c.call('LRANGE', 'l', 0, 0);
  const ex = c.call('EXEC');
  ex[0].push('mutated');
  c.call('MULTI');
  c.call('LRANGE', 'l', 0, 0);
  assert.deepEqual(c.call('EXEC'), [['a']]);
  e.free();
  e2.free();
});
