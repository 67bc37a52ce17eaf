// Output that appears for a client outside its own call: pub/sub messages and blocked commands
// woken by another client. (These need the engine's pub/sub and blocking commands.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from 'oxidis';

const manual = () => new Engine({ clock: 'manual', time: 1_700_000_000_000, seed: 1 });

test('pub/sub between two clients: onPush callback and async iterator', async () => {
  const e = manual();
  const sub = e.connect();
  const pub = e.connect();
  const got = [];
  sub.onPush((m) => got.push(m));
  assert.deepEqual(sub.call('SUBSCRIBE', 'news', 'weather'), ['subscribe', 'news', 1]);
  // The second confirmation is delivered as a push.
  assert.deepEqual(got, [['subscribe', 'weather', 2]]);
  got.length = 0;
  assert.equal(pub.call('PUBLISH', 'news', 'hello'), 1);
  assert.deepEqual(got, [['message', 'news', 'hello']]);
  const it = sub.pushes();
  assert.equal(pub.call('PUBLISH', 'weather', 'rain'), 1);
  assert.deepEqual((await it.next()).value, ['message', 'weather', 'rain']);
  await it.return();
  // Pattern subscriptions on a RESP3 client: pushes are arrays too.
  const p3 = e.connect();
  p3.call('HELLO', '3');
  const got3 = [];
  p3.onPush((m) => got3.push(m));
  assert.deepEqual(p3.call('PSUBSCRIBE', 'n*'), ['psubscribe', 'n*', 1]);
  assert.equal(pub.call('PUBLISH', 'news', 'x'), 2);
  assert.deepEqual(got3, [['pmessage', 'n*', 'news', 'x']]);
  // Raw clients read the same pushes through send().
  const raw = e.connect();
  raw.send(new TextEncoder().encode('SUBSCRIBE news\r\n'));
  pub.call('PUBLISH', 'news', 'y');
  assert.equal(
    new TextDecoder().decode(raw.send(new Uint8Array())),
    '*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$1\r\ny\r\n',
  );
  e.free();
});

test('BLPOP woken by another client; timeouts follow the manual clock', async () => {
  const e = manual();
  const a = e.connect();
  const b = e.connect();
  const p = a.call('BLPOP', 'queue', 0);
  assert.ok(p instanceof Promise, 'a blocked call returns a Promise');
  // Calls made while blocked wait their turn, as on a connection.
  const after = a.call('PING');
  assert.equal(b.call('RPUSH', 'queue', 'job1'), 1);
  assert.deepEqual(await p, ['queue', 'job1']);
  assert.equal(await after, 'PONG');
  // A timeout: BLPOP 1 resolves with null when the manual clock passes one second.
  const t = a.callAsync('BLPOP', 'empty', 1);
  let settled = false;
  t.then(() => (settled = true));
  e.advance(500);
  await Promise.resolve();
  assert.equal(settled, false);
  e.advance(600);
  assert.equal(await t, null);
  e.free();
});
