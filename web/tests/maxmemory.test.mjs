// The embedded engine as a bounded cache: memory counted by the wasm module's counting allocator
// (INFO used_memory), maxmemory / maxmemoryPolicy from the facade's options, Redis's 32-bit
// default bound, and the bound honoured (OOM under noeviction, eviction under allkeys-lru).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, ReplyError } from 'oxidis';

const T0 = 1_700_000_000_000;
const manual = (extra = {}) => new Engine({ clock: 'manual', time: T0, seed: 1, ...extra });
const info = (c, section, field) => {
  const line = c.call('INFO', section).split('\r\n').find((l) => l.startsWith(field + ':'));
  assert.ok(line, `INFO ${section} has ${field}`);
  return Number(line.slice(field.length + 1));
};
const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

test('used_memory counts what the engine allocates, and what it frees', () => {
  const c = manual().connect();
  const before = info(c, 'memory', 'used_memory');
  assert.ok(before > 0, `used_memory ${before}`);
  const value = 'v'.repeat(1000);
  for (let i = 0; i < 4000; i++) c.call('SET', `k:${i}`, value);
  const full = info(c, 'memory', 'used_memory');
  assert.ok(full - before >= 4_000_000, `4000 values of 1000 bytes: ${before} -> ${full}`);
  assert.ok(info(c, 'memory', 'used_memory_rss') >= full, 'the linear memory holds what is allocated');
  c.call('FLUSHALL');
  const after = info(c, 'memory', 'used_memory');
  assert.ok(full - after >= 3_500_000, `FLUSHALL frees: ${full} -> ${after}`);
});

test("maxmemory and maxmemoryPolicy options; Redis's 32-bit default (3gb, noeviction)", () => {
  const d = manual().connect();
  assert.deepEqual(d.call('CONFIG', 'GET', 'maxmemory'), ['maxmemory', '3221225472']);
  assert.deepEqual(d.call('CONFIG', 'GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
  const c = manual({ maxmemory: '2mb', maxmemoryPolicy: 'allkeys-lru' }).connect();
  assert.deepEqual(c.call('CONFIG', 'GET', 'maxmemory'), ['maxmemory', '2097152']);
  assert.deepEqual(c.call('CONFIG', 'GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
  assert.equal(info(c, 'memory', 'maxmemory'), 2097152);
  const b = manual({ maxmemory: 1 << 20 }).connect();
  assert.deepEqual(b.call('CONFIG', 'GET', 'maxmemory'), ['maxmemory', '1048576']);
  const viaConfig = manual({ config: { maxmemory: '3mb', 'maxmemory-policy': 'volatile-ttl' } }).connect();
  assert.deepEqual(viaConfig.call('CONFIG', 'GET', 'maxmemory-policy'), ['maxmemory-policy', 'volatile-ttl']);
  assert.throws(() => manual({ maxmemory: -1 }), TypeError);
  assert.throws(() => manual({ maxmemoryPolicy: 7 }), TypeError);
  assert.throws(() => manual({ maxmemoryPolicy: 'lru-please' }), RangeError);
});

// These two need eviction and OOM in the core (issue 15's evict work): until it lands, the
// engine ignores its bound and they fail.
test('noeviction: writes past maxmemory answer OOM, reads are still served', () => {
  const c = manual({ maxmemory: '2mb' }).connect();
  const value = 'v'.repeat(1000);
  let refused = null;
  let written = 0;
  for (let i = 0; i < 10_000 && !refused; i++) {
    try {
      c.call('SET', `k:${i}`, value);
      written++;
    } catch (e) {
      refused = e;
    }
  }
  assert.ok(refused, `10 MB written into maxmemory 2mb and no write refused: the bound is not honoured`);
  assert.ok(refused instanceof ReplyError);
  assert.equal(refused.message, OOM);
  assert.equal(c.call('GET', 'k:0'), value);
  assert.equal(info(c, 'stats', 'evicted_keys'), 0);
  assert.ok(written > 100, `${written} writes accepted before the first OOM`);
});

test('allkeys-lru: used_memory stays near maxmemory and keys are evicted', () => {
  const c = manual({ maxmemory: '4mb', maxmemoryPolicy: 'allkeys-lru' }).connect();
  const value = 'v'.repeat(1000);
  let peak = 0;
  for (let i = 0; i < 12_000; i++) {
    c.call('SET', `k:${i}`, value);
    if (i % 500 === 0) peak = Math.max(peak, info(c, 'memory', 'used_memory'));
  }
  const evicted = info(c, 'stats', 'evicted_keys');
  assert.ok(evicted > 0, `12 MB written into maxmemory 4mb: evicted_keys is ${evicted}`);
  assert.ok(peak <= 4 * 1048576 + 65536, `used_memory peaked at ${peak} with maxmemory 4mb`);
  assert.equal(c.call('GET', 'k:11999'), value);
});
