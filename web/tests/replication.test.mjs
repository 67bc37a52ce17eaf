// Two engines replicating in one process through a ReplicationLink: REPLICAOF, the full sync's
// bytes, the command stream, a cut, the partial resync (+CONTINUE), WAIT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, ReplicationLink } from 'oxidis';

const text = (a) => new TextDecoder().decode(a);
const T0 = 1_700_000_000_000;

function pair(masterConfig = {}) {
  const config = { 'enable-debug-command': 'yes' };
  const master = new Engine({ clock: 'manual', time: T0, seed: 1, config: { ...config, ...masterConfig } });
  // REPLCONF listening-port announces this (a wasm engine listens on no port): INFO, ROLE.
  const replica = new Engine({ clock: 'manual', time: T0, seed: 2, config: { ...config, 'replica-announce-port': 6380 } });
  const link = new ReplicationLink({ master, replica, host: 'master', port: 6379 });
  const chunks = [];
  link.onChunk((c) => chunks.push({ direction: c.direction, text: text(c.bytes), bytes: c.bytes }));
  const advance = (ms) => {
    master.advance(ms);
    replica.advance(ms);
  };
  return { master, replica, link, chunks, advance, m: master.connect(), r: replica.connect() };
}

const digest = (c) => c.call('DEBUG', 'DIGEST');
const sent = (chunks, dir) => chunks.filter((c) => c.direction === dir).map((c) => c.text).join('');

test('disk-based full sync ($len RDB), the stream, a cut and +CONTINUE with only the missed bytes', async () => {
  const { link, chunks, advance, m, r } = pair({ 'repl-diskless-sync': 'no' });
  m.call('SET', 'a', '1');
  m.call('RPUSH', 'l', 'x', 'y');
  assert.equal(r.call('REPLICAOF', 'master', '6379'), 'OK');
  assert.equal(link.connected, true);
  const up = sent(chunks, 'to-master');
  assert.match(up, /^\*1\r\n\$4\r\nPING\r\n/);
  assert.match(up, /REPLCONF\r\n\$14\r\nlistening-port\r\n\$4\r\n6380\r\n/);
  assert.match(up, /REPLCONF\r\n\$4\r\ncapa\r\n\$3\r\neof\r\n\$4\r\ncapa\r\n\$6\r\npsync2\r\n/);
  // A former master offers its own history (Redis 7.0's replicationCacheMasterUsingMyself).
  assert.match(up, /\$5\r\nPSYNC\r\n\$40\r\n[0-9a-f]{40}\r\n\$1\r\n1\r\n$/);
  const down = sent(chunks, 'to-replica');
  const full = down.match(/\+FULLRESYNC ([0-9a-f]{40}) (\d+)\r\n\$(\d+)\r\nREDIS/);
  assert.ok(full, down.slice(0, 200));
  const replid = full[1];
  assert.equal(r.call('GET', 'a'), '1');
  assert.deepEqual(r.call('LRANGE', 'l', 0, -1), ['x', 'y']);
  assert.match(r.call('INFO', 'replication'), /master_link_status:up/);

  // Writes are streamed as they happen.
  chunks.length = 0;
  m.call('SET', 'b', '2');
  // The stream names its database first (the RDB left none selected).
  assert.equal(sent(chunks, 'to-replica'), '*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n');
  assert.equal(r.call('GET', 'b'), '2');
  assert.equal(digest(r), digest(m));

  // A cut: the replica sees its master down; writes go on; connects are refused.
  link.cut();
  assert.equal(link.connected, false);
  assert.match(r.call('INFO', 'replication'), /master_link_status:down/);
  m.call('INCR', 'counter');
  // No replica can ack while the link is down: WAIT times out with 0.
  const none = m.call('WAIT', 1, 100);
  advance(200);
  assert.equal(await none, 0);
  m.call('DEL', 'a');
  advance(1000);
  assert.equal(link.connected, false);
  assert.equal(r.call('GET', 'a'), '1');

  // Back up: the next retry resumes from the backlog.
  chunks.length = 0;
  link.reconnect();
  advance(1000);
  assert.equal(link.connected, true);
  const psync = sent(chunks, 'to-master');
  assert.match(psync, new RegExp(`\\$5\\r\\nPSYNC\\r\\n\\$40\\r\\n${replid}\\r\\n`));
  const resumed = sent(chunks, 'to-replica');
  assert.match(resumed, /^\+PONG\r\n(\+OK\r\n)*\+CONTINUE/);
  assert.ok(!resumed.includes('REDIS0'), 'no RDB in a partial resync');
  // Only the missed bytes: INCR and DEL (no SET a, no RPUSH).
  const afterContinue = resumed.slice(resumed.indexOf('+CONTINUE'));
  assert.match(afterContinue, /INCR\r\n\$7\r\ncounter/);
  assert.match(afterContinue, /GETACK/); // WAIT's request, kept in the backlog as Redis keeps it
  assert.match(afterContinue, /DEL\r\n\$1\r\na/);
  assert.ok(!afterContinue.includes('RPUSH'));
  assert.equal(r.call('GET', 'a'), null);
  assert.equal(r.call('GET', 'counter'), '1');
  assert.equal(digest(r), digest(m));
  assert.match(m.call('INFO', 'stats'), /sync_partial_ok:1/);
  assert.match(m.call('INFO', 'stats'), /sync_full:1/);
});

test('diskless full sync ($EOF: mark), WAIT answered once the replica acked, ROLE on both', async () => {
  const { link, chunks, advance, m, r } = pair();
  m.call('HSET', 'h', 'f', 'v');
  r.call('REPLICAOF', 'master', '6379');
  assert.equal(link.connected, true);
  // repl-diskless-sync-delay (5 s) before the transfer starts.
  assert.ok(!sent(chunks, 'to-replica').includes('+FULLRESYNC'));
  advance(5000);
  const down = sent(chunks, 'to-replica');
  const m1 = down.match(/\+FULLRESYNC [0-9a-f]{40} \d+\r\n\$EOF:([0-9a-f]{40})\r\nREDIS/);
  assert.ok(m1, down.slice(0, 200));
  assert.ok(down.includes(m1[1] + '', down.indexOf('REDIS')), 'the RDB ends with the mark');
  assert.equal(r.call('HGET', 'h', 'f'), 'v');

  const role = m.call('ROLE');
  assert.equal(role[0], 'master');
  assert.equal(role[2].length, 1);
  assert.equal(role[2][0][0], 'replica');
  assert.equal(r.call('ROLE')[0], 'slave');
  assert.equal(r.call('ROLE')[3], 'connected');

  // WAIT blocks until the replica acks (its cron sends REPLCONF ACK each second, or GETACK).
  m.call('SET', 'k', 'v');
  const waited = m.call('WAIT', 1, 0);
  assert.ok(waited instanceof Promise || waited === 1);
  chunks.length = 0;
  advance(1000);
  assert.equal(await waited, 1);
  assert.match(sent(chunks, 'to-master'), /REPLCONF\r\n\$3\r\nACK\r\n/);
  assert.equal(digest(r), digest(m));
  assert.match(m.call('INFO', 'replication'), /slave0:ip=replica,port=6380,state=online/);
});

test('a connect to a name no engine answers to is refused and retried; REPLICAOF NO ONE closes the link', () => {
  const { link, advance, m, r } = pair({ 'repl-diskless-sync': 'no' });
  const states = [];
  link.onState((s) => states.push(s));
  r.call('REPLICAOF', 'elsewhere', '6379');
  assert.equal(link.connected, false);
  assert.deepEqual(states, ['refused']);
  advance(1000);
  assert.deepEqual(states, ['refused', 'refused']);
  r.call('REPLICAOF', 'master', '6379');
  assert.equal(link.connected, true);
  m.call('SET', 'x', '1');
  assert.equal(r.call('GET', 'x'), '1');
  assert.equal(r.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.equal(link.connected, false);
  assert.equal(m.call('ROLE')[2].length, 0);
  link.close();
  assert.throws(() => new ReplicationLink({ master: m, replica: r }), TypeError);
});
