// The package's helpers for tools (the playground): the redis-cli splitter and renderer from
// oxidis-core, and RDB export/import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, splitArgs, renderReplies, renderReply } from 'oxidis';

const text = (a) => new TextDecoder().decode(a);

test('splitArgs splits like redis-cli (sdssplitargs)', () => {
  assert.deepEqual(splitArgs('SET  k "a b\\x41\\n" \'it\\\'s\'').map(text), ['SET', 'k', 'a bA\n', "it's"]);
  assert.deepEqual(splitArgs('').map(text), []);
  assert.deepEqual([...splitArgs('"\\xff"')[0]], [0xff]);
  assert.equal(splitArgs('GET "unbalanced'), null);
  assert.equal(splitArgs('"a"b'), null);
});

test('renderReplies renders like redis-cli 7', () => {
  assert.equal(renderReply('+OK\r\n'), 'OK\n');
  assert.equal(renderReply(':1\r\n'), '(integer) 1\n');
  assert.equal(renderReply('$-1\r\n'), '(nil)\n');
  assert.equal(renderReply('-ERR x\r\n'), '(error) ERR x\n');
  assert.equal(renderReply('*2\r\n$1\r\na\r\n*1\r\n:2\r\n'), '1) "a"\n2) 1) (integer) 2\n');
  assert.equal(renderReply('%1\r\n+f\r\n,1.5\r\n'), '1# f => (double) 1.5\n');
  assert.equal(renderReply('$3\r\nab'), null);
  assert.deepEqual(renderReplies('+OK\r\n:5\r\n$2\r\n'), [
    { text: 'OK\n', length: 5 },
    { text: '(integer) 5\n', length: 4 },
  ]);
});

test('exportRdb / importRdb round-trip keys and TTLs', () => {
  const t = 1_700_000_000_000;
  const a = new Engine({ clock: 'manual', time: t });
  const c = a.connect();
  c.call('SET', 's', 'v');
  c.call('RPUSH', 'l', 'x', 'y');
  c.call('HSET', 'h', 'f', '1');
  c.call('SET', 'ttl', 'v', 'PX', 5000);
  const rdb = a.exportRdb();
  assert.ok(rdb instanceof Uint8Array);
  assert.equal(text(rdb.subarray(0, 5)), 'REDIS');

  const b = new Engine({ clock: 'manual', time: t + 1000 });
  const d = b.connect();
  d.call('SET', 'old', 'gone');
  assert.equal(b.importRdb(rdb), 4);
  assert.equal(d.call('GET', 'old'), null);
  assert.equal(d.call('GET', 's'), 'v');
  assert.deepEqual(d.call('LRANGE', 'l', 0, -1), ['x', 'y']);
  assert.equal(d.call('PTTL', 'ttl'), 4000);

  // Keys already expired when loaded are dropped, as Redis does.
  const late = new Engine({ clock: 'manual', time: t + 10_000 });
  assert.equal(late.importRdb(rdb.buffer.slice(rdb.byteOffset, rdb.byteOffset + rdb.length)), 3);

  assert.throws(() => b.importRdb(new Uint8Array([1, 2, 3])), RangeError);
  assert.equal(d.call('GET', 's'), 'v', 'a bad file changes nothing');
  assert.throws(() => b.importRdb('nope'), TypeError);
});
