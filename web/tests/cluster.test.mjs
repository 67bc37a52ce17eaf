// Three engines of one process made into a Redis Cluster through a ClusterNetwork: slots,
// MEET with virtual addresses, the bus bytes, cluster_state:ok, MOVED to the owner of a key's
// slot, a node cut off (FAIL, cluster_state:fail) and back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterNetwork, Engine, ReplyError, evenSlots } from 'oxidis';

const T0 = 1_700_000_000_000;

test('evenSlots splits the slots as redis-cli --cluster create does', () => {
  assert.deepEqual(evenSlots(3), [
    [0, 5460],
    [5461, 10922],
    [10923, 16383],
  ]);
  assert.deepEqual(evenSlots(1), [[0, 16383]]);
});

test('a 3-master cluster: MEET over virtual addresses, state ok, MOVED to the owner', () => {
  const net = ClusterNetwork.create({ nodes: 3, basePort: 7000, time: T0 });
  const chunks = [];
  net.onChunk((c) => chunks.push(c));
  assert.deepEqual(net.states(), ['fail', 'fail', 'fail']);
  const ranges = net.form();
  assert.deepEqual(ranges, [
    { port: 7000, first: 0, last: 5460 },
    { port: 7001, first: 5461, last: 10922 },
    { port: 7002, first: 10923, last: 16383 },
  ]);
  assert.deepEqual(net.states(), ['ok', 'ok', 'ok']);

  // The bus carried Redis's messages (signature RCmb) between every pair of nodes.
  assert.ok(chunks.length > 0);
  assert.ok(chunks.every((c) => c.bytes.length > 0));
  assert.equal(new TextDecoder().decode(chunks[0].bytes.subarray(0, 4)), 'RCmb');
  const pairs = new Set(chunks.map((c) => `${c.fromPort}>${c.toPort}`));
  for (const a of [7000, 7001, 7002]) for (const b of [7000, 7001, 7002]) if (a !== b) assert.ok(pairs.has(`${a}>${b}`), `${a}>${b}`);

  // Every node knows the three, connected, with the same slot map.
  const ids = net.engines.map((e) => e.connect().call('CLUSTER', 'MYID'));
  assert.equal(new Set(ids).size, 3);
  for (const port of [7000, 7001, 7002]) {
    const c = net.client(port);
    const lines = c.call('CLUSTER', 'NODES').trim().split('\n');
    assert.equal(lines.length, 3);
    for (const [i, p] of [7000, 7001, 7002].entries()) {
      const line = lines.find((l) => l.startsWith(ids[i]));
      assert.ok(line, `${port} knows ${p}`);
      assert.match(line, new RegExp(` 127\\.0\\.0\\.1:${p}@${p + 10000} `));
      assert.match(line, / connected /);
      assert.ok(line.endsWith(` ${ranges[i].first}-${ranges[i].last}`), line);
      if (p === port) assert.match(line, /myself,master/);
    }
    assert.match(c.call('CLUSTER', 'INFO'), /cluster_known_nodes:3\r\ncluster_size:3\r\n/);
  }

  // A key is served by the owner of its slot; the others answer MOVED slot host:port.
  const owner = (slot) => ranges.find((r) => slot >= r.first && slot <= r.last).port;
  const clients = new Map([7000, 7001, 7002].map((p) => [p, net.engine(p).connect()]));
  for (const key of ['foo', 'bar', 'hello', 'user:1', '{user:1}:cart', 'a', 'b', 'c']) {
    const slot = clients.get(7000).call('CLUSTER', 'KEYSLOT', key);
    const home = owner(slot);
    for (const [p, c] of clients) {
      if (p === home) {
        assert.equal(c.call('SET', key, `v-${key}`), 'OK');
        assert.equal(c.call('GET', key), `v-${key}`);
      } else {
        assert.throws(
          () => c.call('GET', key),
          (e) => e instanceof ReplyError && e.message === `MOVED ${slot} 127.0.0.1:${home}`,
        );
      }
    }
  }
  // Keys live only on their owners.
  assert.equal(
    [...clients.values()].reduce((n, c) => n + c.call('DBSIZE'), 0),
    8,
  );
  assert.equal(clients.get(7000).call('CLUSTER', 'COUNTKEYSINSLOT', 12182), 0);
  assert.equal(clients.get(7002).call('CLUSTER', 'COUNTKEYSINSLOT', 12182), 1); // foo
  net.close();
});

test('a node cut off is marked FAIL and the cluster goes down; healed, it comes back', () => {
  const net = ClusterNetwork.create({ nodes: 3, basePort: 7100, time: T0, config: { 'cluster-node-timeout': 2000 } });
  net.form();
  const id2 = net.client(7102).call('CLUSTER', 'MYID');
  net.isolate(7102);
  assert.equal(net.node(7102).isolated, true);
  assert.equal(net.links.filter((l) => l.from.endsWith(':7102') || l.to.endsWith(':7102')).length, 0);
  net.advanceUntil(() => net.states()[0] === 'fail' && net.states()[1] === 'fail', { timeout: 30000 });
  const line = net
    .client(7100)
    .call('CLUSTER', 'NODES')
    .split('\n')
    .find((l) => l.startsWith(id2));
  assert.match(line, /master,fail /);
  assert.throws(() => net.client(7100).call('GET', 'b'), /^ReplyError: CLUSTERDOWN The cluster is down$/);
  net.heal(7102);
  net.advanceUntil(() => net.states().every((s) => s === 'ok'), { timeout: 30000 });
  assert.equal(net.client(7100).call('GET', 'b'), null);
  net.close();
});

test('engines added by hand, refused links and bad arguments', () => {
  const a = new Engine({ clock: 'manual', time: T0, seed: 5, config: { 'cluster-enabled': 'yes', port: 6379 } });
  const b = new Engine({ clock: 'manual', time: T0, seed: 6, config: { 'cluster-enabled': 'yes', port: 6380 } });
  const net = new ClusterNetwork({ engines: [{ engine: a, port: 6379, host: '10.0.0.1' }] });
  net.add(b, { port: 6380, host: '10.0.0.2' });
  assert.throws(() => net.add(b, { port: 6381 }), TypeError);
  assert.throws(() => net.add(new Engine(), { port: 'x' }), TypeError);
  const ca = a.connect();
  // Nobody is registered at 127.0.0.1:7000: the link is refused, the node stays a handshake.
  assert.equal(ca.call('CLUSTER', 'MEET', '127.0.0.1', 7000), 'OK');
  net.advance(500);
  assert.equal(net.links.length, 0);
  assert.equal(ca.call('CLUSTER', 'MEET', '10.0.0.2', 6380), 'OK');
  net.advanceUntil(() => b.connect().call('CLUSTER', 'INFO').includes('cluster_known_nodes:2'));
  assert.ok(net.links.length >= 1);
  assert.ok(net.links.some((l) => l.from === '10.0.0.1:6379' && l.to === '10.0.0.2:6380'));
  assert.match(b.connect().call('CLUSTER', 'NODES'), / 10\.0\.0\.1:6379@16379 master - /);
  net.close();
  assert.equal(net.links.length, 0);
});

test('three masters with a replica each: the replicas sync; a master cut off is failed over by its replica', () => {
  const net = ClusterNetwork.create({ nodes: 6, basePort: 7200, time: T0, config: { 'cluster-node-timeout': 2000 } });
  const ranges = net.form({ replicas: 1 });
  assert.deepEqual(ranges.map((r) => r.port), [7200, 7201, 7202]);
  assert.ok(net.settled());
  const id = (p) => net.client(p).call('CLUSTER', 'MYID');
  // 7203 replicates 7200, 7204 7201, 7205 7202; everyone agrees.
  for (const [r, m] of [[7203, 7200], [7204, 7201], [7205, 7202]]) {
    assert.match(net.client(r).call('INFO', 'replication'), new RegExp(`role:slave\r\nmaster_host:127\.0\.0\.1\r\nmaster_port:${m}\r\nmaster_link_status:up`));
    for (const p of [7200, 7201, 7202, 7203, 7204, 7205]) {
      const line = net.client(p).call('CLUSTER', 'NODES').split('\n').find((l) => l.startsWith(id(r)));
      assert.match(line, new RegExp(`slave ${id(m)} `), `${p} sees ${r} as a replica of ${m}`);
    }
  }
  // Writes reach the replica; a read there is redirected to the master unless READONLY.
  const m0 = net.engine(7200).connect();
  assert.equal(m0.call('SET', 'b', 'x'), 'OK'); // slot 3300
  net.advance(100);
  const r0 = net.engine(7203).connect();
  assert.throws(() => r0.call('GET', 'b'), /MOVED 3300 127\.0\.0\.1:7200/);
  assert.equal(r0.call('READONLY'), 'OK');
  assert.equal(r0.call('GET', 'b'), 'x');

  // The master of 0-5460 is cut off: its replica is elected and takes the slots.
  net.isolate(7200);
  net.advanceUntil(() => /role:master/.test(net.client(7203).call('INFO', 'replication')) && net.states().slice(1).every((s) => s === 'ok'), { timeout: 30000 });
  assert.equal(net.engine(7201).connect().call('CLUSTER', 'SLOTS').find((r) => r[0] === 0)[2][1], 7203);
  assert.equal(net.engine(7203).connect().call('GET', 'b'), 'x');
  assert.throws(() => net.engine(7201).connect().call('GET', 'b'), /MOVED 3300 127\.0\.0\.1:7203/);
  // Back, the old master learns it lost its slots and becomes a replica of the new one.
  net.heal(7200);
  net.advanceUntil(() => /master_link_status:up/.test(net.client(7200).call('INFO', 'replication')), { timeout: 30000 });
  assert.match(net.client(7200).call('INFO', 'replication'), /role:slave\r\nmaster_host:127\.0\.0\.1\r\nmaster_port:7203/);
  net.close();
});

test('real clocks: the engines run their cluster cron on their own timers and the network keeps up', async () => {
  const net = ClusterNetwork.create({ nodes: 3, basePort: 7300, clock: 'real' });
  net.form(); // slots, epochs and MEET; with real clocks it does not wait
  assert.deepEqual(net.states(), ['fail', 'fail', 'fail']);
  const deadline = Date.now() + 30_000;
  while (!net.settled()) {
    assert.ok(Date.now() < deadline, `not settled within 30 s: ${net.states()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(net.links.length >= 3, true);
  assert.throws(() => net.engine(7300).connect().call('GET', 'foo'), /^ReplyError: MOVED 12182 127\.0\.0\.1:7302$/);
  assert.throws(() => net.advance(100), TypeError);
  net.close();
  for (const e of net.engines) e.free();
});

test('MIGRATE between engines of one network; IOERR when no engine is there or it is cut off; the announced port', async () => {
  const net = ClusterNetwork.create({ nodes: 3, basePort: 7100, time: T0 });
  net.form();
  // Each node announces its network port to a master (REPLCONF listening-port).
  for (const p of [7100, 7101, 7102]) assert.deepEqual(net.client(p).call('CONFIG', 'GET', 'replica-announce-port'), ['replica-announce-port', `${p}`]);
  const [id0, id2] = [7100, 7102].map((p) => net.client(p).call('CLUSTER', 'MYID'));
  const src = net.engine(7102).connect();
  const dst = net.engine(7100).connect();
  // Slot 15495 (key a) is 7102's: it moves to 7100 as redis-cli --cluster reshard does it.
  assert.equal(src.call('SET', 'a', '1'), 'OK');
  assert.equal(src.call('SET', '{a}2', '2'), 'OK');
  assert.equal(dst.call('CLUSTER', 'SETSLOT', 15495, 'IMPORTING', id2), 'OK');
  assert.equal(src.call('CLUSTER', 'SETSLOT', 15495, 'MIGRATING', id0), 'OK');
  await assert.rejects(src.callAsync('MIGRATE', '127.0.0.1', 7199, 'a', 0, 1000), /^ReplyError: IOERR /);
  await assert.rejects(src.callAsync('MIGRATE', '10.0.0.1', 7100, 'a', 0, 1000), /IOERR/);
  assert.equal(await src.callAsync('MIGRATE', '127.0.0.1', 7100, 'a', 0, 1000), 'OK');
  // Gone from the source: with the slot migrating, a missing key is asked of the target.
  assert.throws(() => src.call('EXISTS', 'a'), /ASK 15495 127\.0\.0\.1:7100/);
  assert.equal(dst.call('ASKING'), 'OK');
  assert.equal(dst.call('GET', 'a'), '1');
  // A node cut off cannot be reached.
  net.isolate(7100);
  await assert.rejects(src.callAsync('MIGRATE', '127.0.0.1', 7100, '{a}2', 0, 1000), /IOERR/);
  net.close();
});

test('MIGRATE from an engine in no network answers IOERR as the call reply (call, callAsync)', async () => {
  const e = new Engine({ clock: 'manual', time: T0, seed: 1 });
  const c = e.connect();
  c.call('SET', 'k', 'v');
  assert.throws(() => c.call('MIGRATE', '127.0.0.1', 9, 'k', 0, 1000), /^ReplyError: IOERR error or timeout connecting to the client/);
  await assert.rejects(c.callAsync('MIGRATE', '127.0.0.1', 9, 'k', 0, 1000), /IOERR/);
  // The failed connection's reply is not left behind for the next call.
  assert.equal(c.call('PING'), 'PONG');
  assert.equal(c.call('GET', 'k'), 'v');
});
