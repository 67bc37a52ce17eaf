// Scripting through the ioredis-style facade: eval/evalsha/eval_ro/evalsha_ro/script/fcall as
// methods, and ioredis's defineCommand (EVAL on a connection's first call, EVALSHA after, EVAL
// again on NOSCRIPT), checked against what ioredis itself sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import Redis, { Engine, ReplyError, commands } from 'oxidis';

const fresh = () => new Redis({ engine: new Engine({ clock: 'manual', time: 1_700_000_000_000, seed: 1 }) });
const sha1 = (s) => createHash('sha1').update(s).digest('hex');

/** The command names the facade sends on `redis`'s connection, from now on. */
function spy(redis) {
  const sent = [];
  const conn = redis.connection;
  for (const m of ['call', 'callBuffer']) {
    const orig = conn[m].bind(conn);
    conn[m] = (...args) => {
      sent.push(String(args[0]).toUpperCase());
      return orig(...args);
    };
  }
  // The facade's own entries: one command as an argument list, a pipeline as a batch of them.
  const one = conn._callList.bind(conn);
  conn._callList = (args, buffer) => {
    sent.push(String(args[0]).toUpperCase());
    return one(args, buffer);
  };
  const batch = conn._batchList.bind(conn);
  conn._batchList = (list) => {
    for (const [args] of list) sent.push(String(args[0]).toUpperCase());
    return batch(list);
  };
  return sent;
}

test('eval, evalsha, eval_ro, evalsha_ro and script(...) are methods, with flattened arguments', async () => {
  const redis = fresh();
  assert.deepEqual(await redis.eval('return {KEYS[1], ARGV[1], ARGV[2]}', 1, ['k', 'a'], 'b'), ['k', 'a', 'b']);
  const sha = await redis.script('load', "return redis.call('get', KEYS[1])");
  assert.equal(sha, sha1("return redis.call('get', KEYS[1])"));
  assert.deepEqual(await redis.script('exists', sha, sha1('nope')), [1, 0]);
  await redis.set('k', 'v');
  assert.equal(await redis.evalsha(sha, 1, 'k'), 'v');
  assert.equal(await redis.evalsha_ro(sha, 1, 'k'), 'v');
  assert.equal(await redis.eval_ro("return redis.call('get', KEYS[1])", 1, 'k'), 'v');
  await assert.rejects(redis.eval_ro("return redis.call('set', KEYS[1], 'x')", 1, 'k'), (e) => e instanceof ReplyError && /^ERR Write commands are not allowed from read-only scripts/.test(e.message));
  await assert.rejects(redis.evalsha(sha1('nope'), 0), (e) => e instanceof ReplyError && e.message === 'NOSCRIPT No matching script. Please use EVAL.' && e.command.name === 'evalsha');
  assert.deepEqual(await redis.evalBuffer('return ARGV[1]', 0, 'bytes'), new Uint8Array([98, 121, 116, 101, 115]));
  const viaCallback = await new Promise((resolve, reject) => redis.eval('return 7', 0, (err, r) => (err ? reject(err) : resolve(r))));
  assert.equal(viaCallback, 7);
  assert.equal(await redis.script('flush'), 'OK');
  assert.deepEqual(await redis.script('exists', sha), [0]);
});

test('fcall and fcall_ro send FCALL / FCALL_RO (and function(...) FUNCTION)', async () => {
  const redis = fresh();
  assert.equal(typeof redis.fcall, 'function');
  assert.equal(typeof redis.fcall_ro, 'function');
  assert.equal(typeof redis.function, 'function');
  if (commands().some((c) => c.name === 'fcall')) {
    // The engine has functions: run one.
    const lib = "#!lua name=facadelib\nredis.register_function{function_name='echo1', callback=function(keys, args) return {keys[1], args[1]} end, flags={'no-writes'}}";
    assert.equal(await redis.function('load', lib), 'facadelib');
    assert.deepEqual(await redis.fcall('echo1', 1, 'k', 'a'), ['k', 'a']);
    assert.deepEqual(await redis.fcall_ro('echo1', 1, ['k', 'b']), ['k', 'b']);
  } else {
    // Not in this engine yet: the methods send the commands all the same.
    await assert.rejects(redis.fcall('echo1', 1, 'k'), { message: /^ERR unknown command 'FCALL', with args beginning with: 'echo1' '1' 'k'/ });
    await assert.rejects(redis.fcall_ro('echo1', 0), { message: /^ERR unknown command 'FCALL_RO'/ });
    await assert.rejects(redis.function('list'), { message: /^ERR unknown command 'FUNCTION'/ });
  }
});

test('defineCommand: a method and its Buffer variant; EVAL first, then EVALSHA; NOSCRIPT falls back to EVAL', async () => {
  const redis = fresh();
  const lua = "return {redis.call('incrby', KEYS[1], ARGV[1]), KEYS[2] or false, ARGV[2]}";
  redis.defineCommand('bump', { numberOfKeys: 1, lua });
  assert.equal(redis.scriptsSet.bump.sha, sha1(lua));
  const sent = spy(redis);
  // ioredis flattens array arguments (rate-limiter-flexible passes [key, ...args]).
  assert.deepEqual(await redis.bump(['n', 5, 'x']), [5, null, 'x']);
  assert.deepEqual(await redis.bump('n', 2, 'é'), [7, null, 'é']);
  assert.deepEqual(await redis.bumpBuffer('n', 1, 'y'), [8, null, new Uint8Array([121])]);
  assert.deepEqual(sent, ['EVAL', 'EVALSHA', 'EVALSHA']);
  // After SCRIPT FLUSH: EVALSHA answers NOSCRIPT, and EVAL runs it once more.
  await redis.script('flush');
  sent.length = 0;
  assert.deepEqual(await redis.bump('n', 1, 'z'), [9, null, 'z']);
  assert.deepEqual(sent, ['EVALSHA', 'EVAL']);
  // Other errors are not retried.
  await redis.set('s', 'str');
  sent.length = 0;
  await assert.rejects(redis.bump('s', 1, 'z'), (e) => e instanceof ReplyError && /value is not an integer/.test(e.message));
  assert.deepEqual(sent, ['EVALSHA']);
  // Callbacks, as for any command.
  const r = await new Promise((resolve, reject) => redis.bump('n', 1, 'cb', (err, v) => (err ? reject(err) : resolve(v))));
  assert.deepEqual(r, [10, null, 'cb']);
  // Without numberOfKeys the caller passes the key count.
  redis.defineCommand('keysAndArgs', { lua: 'return {#KEYS, #ARGV}' });
  assert.deepEqual(await redis.keysAndArgs(2, 'a', 'b', 'c'), [2, 1]);
  assert.deepEqual(await redis.keysAndArgs(0), [0, 0]);
  // A duplicate() is another connection: it starts with EVAL again.
  const other = redis.duplicate();
  other.defineCommand('bump', { numberOfKeys: 1, lua });
  const otherSent = spy(other);
  assert.deepEqual(await other.bump('n', 1, 'o'), [11, null, 'o']);
  assert.deepEqual(otherSent, ['EVAL']);
});

test('defined commands in pipeline() and multi(), and in the array form', async () => {
  const redis = fresh();
  redis.defineCommand('setget', { numberOfKeys: 1, lua: "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])" });
  const sent = spy(redis);
  const res = await redis.pipeline().setget('a', '1').get('a').setget('b', '2').setgetBuffer('c', '3').exec();
  assert.deepEqual(res, [[null, '1'], [null, '1'], [null, '2'], [null, new Uint8Array([51])]]);
  assert.deepEqual(sent, ['EVAL', 'GET', 'EVALSHA', 'EVALSHA']);
  await redis.script('flush');
  sent.length = 0;
  // In a pipeline, NOSCRIPT falls back to EVAL, sent after the rest of the pipeline as
  // ioredis sends it (so the GET, sent before, finds no key: ioredis answers the same).
  assert.deepEqual(await redis.pipeline([['setget', 'd', '4'], ['get', 'd']]).exec(), [[null, '4'], [null, null]]);
  assert.deepEqual(sent, ['EVALSHA', 'GET', 'EVAL']);
  // In a transaction, EVALSHA once the connection has sent the script (exec(true) ignores the flag, as ioredis).
  sent.length = 0;
  assert.deepEqual(await redis.multi().setget('e', '5').incr('e').exec(true), [[null, '5'], [null, 6]]);
  assert.deepEqual(await redis.multi([['setget', 'f', '6']]).exec(), [[null, '6']]);
  assert.deepEqual(sent, ['MULTI', 'EVALSHA', 'INCR', 'EXEC', 'MULTI', 'EVALSHA', 'EXEC']);
  // A fresh connection's transaction sends EVAL.
  const other = redis.duplicate();
  other.defineCommand('setget', { numberOfKeys: 1, lua: "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])" });
  const otherSent = spy(other);
  assert.deepEqual(await other.multi().setget('g', '7').exec(), [[null, '7']]);
  assert.deepEqual(otherSent, ['MULTI', 'EVAL', 'EXEC']);
});
