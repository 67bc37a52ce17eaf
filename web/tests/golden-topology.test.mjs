// The golden transcripts over topologies (testdata/golden/topology/: oxidis_core::golden::
// Topology) through the wasm build: the core's own runner (runGolden, with a node selector
// and the topology's ${name} values) drives engines linked in this process as the transcript's
// directory says: topology/replica through a ReplicationLink (n2 a replica of n1), topology/
// cluster3 through a ClusterNetwork (three masters, the same slots and epochs as every other
// driver sets up). The list of transcripts comes from GOLDEN_FILES (`cargo xtask test wasm`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, ReplicationLink, ClusterNetwork, _testing } from 'oxidis';

const root = fileURLToPath(new URL('../../testdata/golden/', import.meta.url));
const names = (process.env.GOLDEN_FILES ?? '').split('\n').filter((n) => n.startsWith('topology/'));
const T0 = 1_700_000_000_000;
const BASE_PORT = 30001;
const STEP = 10;
const WAIT_MS = 30_000;
const EMPTY = new Uint8Array(0);
const config = { 'enable-debug-command': 'yes', 'repl-diskless-sync-delay': 0 };

// Transcripts that need what a page's engines do not have, with the reason (each shows as a
// skipped test, never as a pass).
const SKIP = {};

const field = (text, f) => new RegExp(`^${f}:(.*)$`, 'm').exec(text)?.[1]?.trim();

/** Engines linked as `topo` says, settled: { engines, advance(ms), vars, close() }. */
function setUp(topo) {
  const ports = Array.from({ length: topo.nodes }, (_, i) => BASE_PORT + i);
  if (topo.cluster) {
    const net = ClusterNetwork.create({ nodes: topo.nodes, basePort: BASE_PORT, time: T0, seed: 1, config });
    const c = (i) => net.client(ports[i]);
    ports.forEach((port, i) => {
      // A wasm engine listens on no port: the ClusterNetwork makes it announce its network
      // port to a master as a server's REPLCONF listening-port does (ROLE, INFO's slave0).
      assert.equal(c(i).call('CONFIG', 'GET', 'replica-announce-port')[1], `${port}`);
      assert.equal(c(i).call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1), 'OK');
      if (topo.slots[i]) assert.equal(c(i).call('CLUSTER', 'ADDSLOTSRANGE', ...topo.slots[i]), 'OK');
    });
    for (let i = 1; i < ports.length; i++) assert.equal(c(0).call('CLUSTER', 'MEET', '127.0.0.1', ports[i], ports[i] + 10000), 'OK');
    const ids = ports.map((_, i) => c(i).call('CLUSTER', 'MYID'));
    const masters = topo.masterOf.filter((m) => m === null).length;
    topo.masterOf.forEach((m, i) => {
      if (m === null) return;
      // A replica must know its master first (CLUSTER REPLICATE refuses an unknown node).
      net.advanceUntil(() => c(i).call('CLUSTER', 'NODES').includes(ids[m]), { timeout: WAIT_MS, step: STEP });
      assert.equal(c(i).call('CLUSTER', 'REPLICATE', ids[m]), 'OK');
    });
    const synced = (i) => {
      const m = topo.masterOf[i];
      if (m === null) return true;
      const r = c(i).call('INFO', 'replication');
      const mi = c(m).call('INFO', 'replication');
      return field(r, 'master_link_status') === 'up' && /state=online/.test(field(mi, 'slave0') ?? '') && field(mi, 'master_repl_offset') === field(r, 'slave_repl_offset');
    };
    const settled = () =>
      net.settled() &&
      ports.every((_, i) => {
        const info = c(i).call('CLUSTER', 'INFO');
        const slaves = c(i).call('CLUSTER', 'NODES').split('\n').filter((l) => l.includes('slave')).length;
        return field(info, 'cluster_known_nodes') === `${topo.nodes}` && field(info, 'cluster_slots_assigned') === '16384' && field(info, 'cluster_size') === `${masters}` && slaves === topo.nodes - masters && synced(i);
      });
    net.advanceUntil(settled, { timeout: WAIT_MS, step: STEP });
    const vars = ports.flatMap((p, i) => [
      [`n${i + 1}.port`, `${p}`],
      [`n${i + 1}.bus`, `${p + 10000}`],
      [`n${i + 1}.id`, ids[i]],
    ]);
    return { engines: ports.map((p) => net.engine(p)), advance: (ms) => net.advance(ms, STEP), vars, close: () => net.close() };
  }
  // Replication: each replica's link to its master (the master at 127.0.0.1:port, the replica
  // announcing its own port, as a server's REPLCONF listening-port does).
  const engines = ports.map((port, i) => new Engine({ clock: 'manual', time: T0, seed: i + 1, config: { ...config, port, 'replica-announce-port': port } }));
  const links = [];
  const advance = (ms) => {
    for (let t = 0; t < ms; t += STEP) for (const e of engines) e.advance(Math.min(STEP, ms - t));
  };
  topo.masterOf.forEach((m, i) => {
    if (m === null) return;
    links.push(new ReplicationLink({ master: engines[m], replica: engines[i], host: '127.0.0.1', port: ports[m], replicaAddr: `127.0.0.1:${50000 + i}` }));
    assert.equal(engines[i].connect().call('REPLICAOF', '127.0.0.1', ports[m]), 'OK');
  });
  const settled = () =>
    topo.masterOf.every((m, i) => {
      if (m === null) return true;
      const r = engines[i].connect().call('INFO', 'replication');
      const mi = engines[m].connect().call('INFO', 'replication');
      return field(r, 'master_link_status') === 'up' && /state=online/.test(field(mi, 'slave0') ?? '') && field(mi, 'master_repl_offset') === field(r, 'slave_repl_offset');
    });
  for (let waited = 0; !settled(); waited += STEP) {
    if (waited > WAIT_MS) throw new Error(`${topo.name} did not settle`);
    advance(STEP);
  }
  const vars = ports.map((p, i) => [`n${i + 1}.port`, `${p}`]);
  const close = () => {
    for (const l of links) l.close();
    for (const e of engines) e.free();
  };
  return { engines, advance, vars, close };
}

function runTopology(name, text) {
  const topo = _testing.goldenTopology(name);
  assert.ok(topo, `${name} is not a topology transcript`);
  const t = setUp(topo);
  const clients = new Map();
  let node = 0;
  const client = (i) => {
    const key = `${node}.${i}`;
    if (!clients.has(key)) clients.set(key, t.engines[node].connect());
    return clients.get(key);
  };
  // What client i was sent, advancing the clocks until `n` whole replies are there (WAIT).
  const collect = (c, first, n) => {
    let out = first;
    for (let waited = 0; _testing.decodeFrames(out).length < n && waited < WAIT_MS; waited += STEP) {
      t.advance(STEP);
      const more = c.send(EMPTY);
      const joined = new Uint8Array(out.length + more.length);
      joined.set(out);
      joined.set(more, out.length);
      out = joined;
    }
    return out;
  };
  try {
    return _testing.runGolden(
      name,
      text,
      (i, bytes, n) => collect(client(i), client(i).send(bytes), n),
      (ms) => t.advance(ms),
      (i) => client(i).closed,
      (i, n) => collect(client(i), client(i).send(EMPTY), n),
      (n) => {
        if (n >= t.engines.length) throw new Error(`no node n${n + 1}`);
        node = n;
      },
      t.vars,
    );
  } finally {
    t.close();
  }
}

test('there are topology transcripts', () => assert.ok(names.length >= 2, `${names.length} under topology/ in GOLDEN_FILES (set by cargo xtask test wasm)`));

for (const name of names) {
  test(`golden ${name} (engines linked in one process)`, { skip: SKIP[name] ? `skipped: ${SKIP[name]}` : false }, () => {
    assert.deepEqual(runTopology(name, readFileSync(join(root, name), 'utf8')), []);
  });
}
