// Scripting in the wasm engine: the same Lua (oxidis-lua compiled to wasm32) and the same rules
// as the native server; a script past busy-reply-threshold is stopped, since nothing else can
// run beside it in one JS thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from 'oxidis';

test('EVAL, SCRIPT LOAD and EVALSHA run Lua with redis.call', () => {
  const e = new Engine({ clock: 'manual', time: 1_700_000_000_000, seed: 1 });
  const c = e.connect();
  assert.equal(c.call('EVAL', "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])", 1, 'k', 'v'), 'v');
  const sha = c.call('SCRIPT', 'LOAD', 'return {1, 2.9, "x", true}');
  assert.deepEqual(c.call('EVALSHA', sha, 0), [1, 2, 'x', 1]);
  assert.throws(() => c.call('EVAL', 'return x', 0), { name: 'ReplyError', message: /Script attempted to access nonexistent global variable 'x'/ });
  e.free();
});

test('real clock: a script in an endless loop is stopped at busy-reply-threshold', () => {
  const e = new Engine({ seed: 1, config: { 'busy-reply-threshold': 100 } });
  const c = e.connect();
  const start = Date.now();
  assert.throws(() => c.call('EVAL', 'while true do end', 0), {
    name: 'ReplyError',
    message: /^BUSY Script ran past busy-reply-threshold and was stopped/,
  });
  // pcall cannot hold it either.
  assert.throws(() => c.call('EVAL', 'while true do pcall(function() while true do end end) end', 0), { name: 'ReplyError' });
  assert.ok(Date.now() - start < 10_000);
  assert.equal(c.call('PING'), 'PONG');
  e.free();
});
