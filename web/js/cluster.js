// A Redis Cluster inside one process (a page, a test): a ClusterNetwork is the network between
// engines made with cluster-enabled yes, each registered at a virtual host:port (its bus at
// port + 10000, as Redis's cluster-port default). The engines do all of the cluster protocol
// (oxidis-core's cluster/): when one asks for a link to a node's bus (after CLUSTER MEET, or
// from its cron), the network opens an in-memory link to the engine registered there, moves
// the bus bytes both ways after every operation on any engine, and closes the other end when
// one end closes. MIGRATE's connections go the same way: a client of the engine registered at
// the target's host:port. Each engine announces its port to a master (REPLCONF listening-port)
// as a server does: replica-announce-port is set to the node's port unless already set.
// isolate() plays a network failure of one node; advance() moves the manual
// clocks of all engines together (the cluster cron runs every 100 ms of an engine's clock).

import { Engine } from './engine.js';

const SLOTS = 16384;
const EMPTY = new Uint8Array(0);
const KIND_CONNECT = 1;
const KIND_OUTPUT = 2;
const KIND_CLOSE = 3;
const KIND_MIGRATE = 4;

export class ClusterNetwork {
  #nodes = []; // { engine, host, port, busPort, links: Map<link, conn>, isolated, client, unobserve }
  #conns = new Set(); // { ends: [{ node, link }, { node, link }] }
  #repl = new Set(); // replication and MIGRATE links: { replica: node, rh, master: node, mh, migrate }
  #busy = false;
  #closed = false;
  #chunk = new Set();

  /**
   * Options: engines ([{ engine, port, host?, busPort? }]) to add at once. See add() and
   * ClusterNetwork.create() (which also makes the engines).
   */
  constructor(options = {}) {
    const { engines = [] } = options ?? {};
    for (const e of engines) this.add(e.engine, e);
  }

  /**
   * Makes `nodes` engines (cluster-enabled yes, ports basePort, basePort+1, ...; manual clocks
   * at `time` unless clock: 'real'; seeds seed, seed+1, ...; `config` added to each) and a
   * network linking them. Nothing is met yet: form() makes the usual cluster.
   */
  static create(options = {}) {
    const { nodes = 3, basePort = 7000, host = '127.0.0.1', clock = 'manual', time, seed = 1, config = {} } = options ?? {};
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) throw new RangeError('oxidis: ClusterNetwork.create nodes must be an integer 1..64');
    if (!Number.isInteger(basePort) || basePort < 1 || basePort + nodes - 1 > 55535) {
      throw new RangeError('oxidis: ClusterNetwork.create basePort must leave room for port + 10000');
    }
    const net = new ClusterNetwork();
    const t = time ?? Date.now();
    for (let i = 0; i < nodes; i++) {
      const port = basePort + i;
      const engine = new Engine({
        clock,
        time: clock === 'manual' ? t : undefined,
        seed: seed + i,
        config: { 'cluster-enabled': 'yes', port, ...config },
      });
      net.add(engine, { port, host });
    }
    return net;
  }

  /**
   * Registers `engine` (made with config cluster-enabled yes and `port` as its port) as the
   * node at host:port (host default '127.0.0.1'); its bus is at busPort (default port + 10000,
   * or the engine's cluster-port). Returns the node.
   */
  add(engine, options = {}) {
    if (this.#closed) throw new TypeError('oxidis: this ClusterNetwork is closed');
    if (!(engine instanceof Engine)) throw new TypeError('oxidis: ClusterNetwork.add needs an Engine');
    const { port, host = '127.0.0.1' } = options ?? {};
    const busPort = options?.busPort ?? (port === undefined ? undefined : port + 10000);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError('oxidis: ClusterNetwork.add needs port, an integer 1..65535');
    if (!Number.isInteger(busPort) || busPort < 1 || busPort > 65535) throw new TypeError('oxidis: busPort must be an integer 1..65535');
    if (typeof host !== 'string' || !host) throw new TypeError('oxidis: host must be a non-empty string');
    if (this.#nodes.some((n) => n.engine === engine)) throw new TypeError('oxidis: this engine is already in the network');
    if (this.#nodes.some((n) => n.host === host && (n.port === port || n.busPort === busPort))) {
      throw new TypeError(`oxidis: ${host}:${port} is taken in this network`);
    }
    const node = { engine, host, port, busPort, links: new Map(), isolated: false, client: null, unobserve: null };
    node.unobserve = engine._observe(() => this.pump());
    this.#nodes.push(node);
    engine._run((r) => r.setClusterHosted(true));
    this.#announcePort(node);
    this.pump();
    return this.#view(node);
  }

  /** The nodes: [{ engine, host, port, busPort, isolated }], in the order they were added. */
  get nodes() {
    return this.#nodes.map((n) => this.#view(n));
  }

  /** The engines, in the order they were added. */
  get engines() {
    return this.#nodes.map((n) => n.engine);
  }

  /** The node registered at `port` (and `host`, if given), or undefined. */
  node(port, host) {
    const n = this.#find(port, host);
    return n && this.#view(n);
  }

  /** The engine registered at `port`, or undefined. */
  engine(port, host) {
    return this.#find(port, host)?.engine;
  }

  /** A client of the node at `port` kept by the network (form() uses it). */
  client(port, host) {
    const n = this.#find(port, host);
    if (!n) throw new TypeError(`oxidis: no node at port ${port} in this network`);
    if (!n.client || n.client.closed) n.client = n.engine.connect();
    return n.client;
  }

  /** Open links (each counted once): [{ from: 'host:port', to: 'host:port' }] (from opened it). */
  get links() {
    return [...this.#conns].map((c) => ({ from: addr(c.ends[0].node), to: addr(c.ends[1].node) }));
  }

  /** `f({ from, to, fromPort, toPort, bytes })` for every chunk of bus bytes moved. */
  onChunk(f) {
    this.#chunk.add(f);
    return () => this.#chunk.delete(f);
  }

  /** Cuts the node at `port` off the network: its links close, connects to and from it fail. */
  isolate(port, host) {
    const n = this.#need(port, host);
    n.isolated = true;
    for (const c of [...this.#conns]) if (c.ends.some((e) => e.node === n)) this.#drop(c, true);
    for (const l of [...this.#repl]) if (l.replica === n || l.master === n) this.#dropRepl(l);
    this.pump();
  }

  /** The node at `port` is reachable again (the engines reconnect from their cron). */
  heal(port, host) {
    this.#need(port, host).isolated = false;
    this.pump();
  }

  /**
   * Manual clocks: moves every engine's clock forward by `ms`, `step` ms at a time (default
   * 100, the cluster cron's period), moving bus bytes after each step.
   */
  advance(ms, step = 100) {
    if (typeof ms !== 'number' || !(ms >= 0)) throw new RangeError('oxidis: advance(ms) takes a non-negative number');
    if (typeof step !== 'number' || !(step > 0)) throw new RangeError('oxidis: advance step must be a positive number');
    let left = ms;
    while (left > 0) {
      const d = Math.min(step, left);
      for (const n of this.#nodes) if (!n.engine.freed) n.engine.advance(d);
      this.pump();
      left -= d;
    }
    this.pump();
  }

  /**
   * Manual clocks: advances `step` ms at a time until `f()` is true; returns the ms it took.
   * Throws after `timeout` ms of engine time (default 60000).
   */
  advanceUntil(f, options = {}) {
    const { timeout = 60000, step = 100 } = options ?? {};
    let spent = 0;
    while (!f()) {
      if (spent >= timeout) throw new Error(`oxidis: the cluster did not get there within ${timeout} ms`);
      this.advance(step, step);
      spent += step;
    }
    return spent;
  }

  /** cluster_state of every node ('ok' | 'fail'), in order. */
  states() {
    return this.#nodes.map((n) => /cluster_state:(\w+)/.exec(this.client(n.port, n.host).call('CLUSTER', 'INFO'))?.[1]);
  }

  /**
   * True when every node says cluster_state:ok and knows every node of the network by name,
   * linked (CLUSTER NODES: no handshake, all connected).
   */
  settled() {
    const want = this.#nodes.length;
    return this.#nodes.every((n) => {
      const c = this.client(n.port, n.host);
      if (!/cluster_state:ok/.test(c.call('CLUSTER', 'INFO'))) return false;
      const lines = c.call('CLUSTER', 'NODES').trim().split('\n');
      return lines.length === want && lines.every((l) => / connected( |$)/.test(l) && !/handshake|noaddr|fail/.test(l.split(' ')[2]));
    });
  }

  /**
   * Makes the usual cluster of the nodes, as `redis-cli --cluster create --cluster-replicas
   * <replicas>` does: the first nodes / (replicas + 1) nodes are masters with the 16384 slots
   * split in even ranges (0-5460, 5461-10922, 10923-16383 for three), every node gets a
   * distinct config epoch (1, 2, ...), the first node meets the others, and each remaining node
   * replicates a master (round robin: master i gets nodes m + i, 2m + i, ...). With manual
   * clocks it then advances until settled() (every node ok, all linked) and every replica's
   * master link is up. Returns the masters' slot ranges as [{ port, first, last }].
   */
  form(options = {}) {
    const { timeout = 60000, replicas = 0 } = options ?? {};
    const nodes = this.#nodes;
    if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError('oxidis: form() replicas must be a non-negative integer');
    const m = Math.floor(nodes.length / (replicas + 1));
    if (m < 1) throw new TypeError(`oxidis: form() needs at least ${replicas + 1} nodes`);
    const masters = nodes.slice(0, m);
    const ranges = evenSlots(m);
    nodes.forEach((n, i) => {
      const c = this.client(n.port, n.host);
      if (i < m) c.call('CLUSTER', 'ADDSLOTSRANGE', ranges[i][0], ranges[i][1]);
      c.call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
    });
    const first = this.client(nodes[0].port, nodes[0].host);
    for (const n of nodes.slice(1)) first.call('CLUSTER', 'MEET', n.host, n.port, n.busPort);
    const manual = nodes.every((n) => n.engine._manual());
    const rest = nodes.slice(m, m * (replicas + 1));
    if (rest.length) {
      if (!manual) throw new TypeError('oxidis: form() with replicas needs manual clocks');
      const ids = masters.map((n) => this.client(n.port, n.host).call('CLUSTER', 'MYID'));
      // A replica must know its master first (CLUSTER REPLICATE refuses an unknown node).
      this.advanceUntil(() => rest.every((n) => ids.every((id) => this.client(n.port, n.host).call('CLUSTER', 'NODES').includes(`${id} `))), { timeout });
      rest.forEach((n, j) => this.client(n.port, n.host).call('CLUSTER', 'REPLICATE', ids[j % m]));
    }
    if (manual) {
      const synced = () => rest.every((n) => /master_link_status:up/.test(this.client(n.port, n.host).call('INFO', 'replication')));
      // Every node sees every replica as one (the roles have gone round the gossip).
      const agreed = () => nodes.every((n) => this.client(n.port, n.host).call('CLUSTER', 'NODES').split('\n').filter((l) => /[ ,]slave[ ,]/.test(l)).length === rest.length);
      this.advanceUntil(() => this.settled() && synced() && agreed(), { timeout });
    }
    return masters.map((n, i) => ({ port: n.port, first: ranges[i][0], last: ranges[i][1] }));
  }

  /** Moves every pending byte and answers connect requests (runs after each engine operation). */
  pump() {
    // Re-entered from an engine operation of the loop below: the loop goes on while there is
    // anything to move, so it sees what that operation raised.
    if (this.#closed || this.#busy) return;
    this.#busy = true;
    try {
      for (let i = 0; i < 100000; i++) {
        let progress = false;
        for (const n of this.#nodes) {
          if (n.engine.freed) continue;
          const evs = n.engine._run((r) => r.takeClusterEvents());
          if (evs) {
            progress = true;
            for (const ev of evs) this.#event(n, ev);
          }
          // A replica (CLUSTER REPLICATE, a failover) asks for its master's link.
          const req = n.engine._run((r) => r.takeConnectMaster());
          if (req) {
            progress = true;
            this.#connectMaster(n, req[0], req[1], req[2]);
          }
        }
        for (const l of [...this.#repl]) if (this.#moveRepl(l)) progress = true;
        if (!progress) break;
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Stops linking: every link closes, the engines stay as they are. */
  close() {
    if (this.#closed) return;
    for (const c of [...this.#conns]) this.#drop(c, true);
    for (const l of [...this.#repl]) this.#dropRepl(l);
    this.#closed = true;
    for (const n of this.#nodes) {
      n.unobserve();
      if (!n.engine.freed) n.engine._run((r) => r.setClusterHosted(false));
    }
  }

  /** A wasm engine listens on no port: it announces the node's, unless told another one. */
  #announcePort(n) {
    const c = this.client(n.port, n.host);
    try {
      const [, now] = c.call('CONFIG', 'GET', 'replica-announce-port');
      if (now === '0') c.call('CONFIG', 'SET', 'replica-announce-port', n.port);
    } catch {
      // A node that refuses CONFIG (ACL, requirepass) keeps its own setting.
    }
  }

  #event(n, ev) {
    const [kind, link] = ev;
    if (kind === KIND_CONNECT) {
      const [, , ip, port] = ev;
      const to = this.#nodes.find((m) => m.busPort === port && (m.host === ip || !ip) && !m.engine.freed);
      const acc = to && !to.isolated && !n.isolated && to !== n ? to.engine._run((r) => r.clusterLinkAccepted(n.host, to.host)) : -1;
      if (acc < 0) {
        n.engine._run((r) => r.clusterLinkFailed(link));
        return;
      }
      const conn = { ends: [{ node: n, link }, { node: to, link: acc }] };
      this.#conns.add(conn);
      n.links.set(link, conn);
      to.links.set(acc, conn);
      n.engine._run((r) => r.clusterLinkConnected(link));
    } else if (kind === KIND_OUTPUT) {
      const bytes = n.engine._run((r) => r.clusterLinkOutput(link));
      const conn = n.links.get(link);
      if (!conn || !bytes.length) return;
      const other = conn.ends[0].node === n && conn.ends[0].link === link ? conn.ends[1] : conn.ends[0];
      for (const f of this.#chunk) {
        try {
          f({ from: addr(n), to: addr(other.node), fromPort: n.port, toPort: other.node.port, bytes });
        } catch {}
      }
      if (!other.node.engine.freed) other.node.engine._run((r) => r.clusterLinkInput(other.link, bytes));
    } else if (kind === KIND_CLOSE) {
      const conn = n.links.get(link);
      if (conn) this.#drop(conn, false, n, link);
    } else if (kind === KIND_MIGRATE) {
      const [, token, host, port] = ev;
      this.#connectMigrate(n, token, host, port);
    }
  }

  /** MIGRATE's connection: a client of the engine registered at host:port. */
  #connectMigrate(n, token, host, port) {
    const m = this.#nodes.find((x) => x.port === port && x.host === host && !x.engine.freed);
    if (!m || m.isolated || n.isolated) {
      n.engine._run((r) => r.migrateLinkFailed(token));
      return;
    }
    const mh = m.engine._run((r) => r.connectFrom(`${n.host}:${n.port + 30000}`));
    const rh = n.engine._run((r) => r.migrateLinkConnected(token, `${host}:${port}`));
    if (!rh) {
      m.engine._run((r) => r.disconnect(mh));
      return;
    }
    this.#repl.add({ replica: n, rh, master: m, mh, migrate: true });
  }

  /** Removes a link; the ends other than (closer, closerLink) hear it closed (both if `all`). */
  #drop(conn, all, closer, closerLink) {
    this.#conns.delete(conn);
    for (const e of conn.ends) {
      e.node.links.delete(e.link);
      if (!all && e.node === closer && e.link === closerLink) continue;
      if (!e.node.engine.freed) e.node.engine._run((r) => r.clusterLinkClosed(e.link));
    }
  }

  /** A replica's master link: a client on the master engine registered at host:port. */
  #connectMaster(n, host, port, attempt) {
    for (const l of [...this.#repl]) if (l.replica === n && !l.migrate) this.#dropRepl(l);
    const m = this.#nodes.find((x) => x.port === port && x.host === host && !x.engine.freed);
    if (!m || m === n || m.isolated || n.isolated) {
      n.engine._run((r) => r.masterLinkFailed(attempt));
      return;
    }
    const mh = m.engine._run((r) => r.connectFrom(`${n.host}:${n.port + 20000}`));
    const rh = n.engine._run((r) => r.masterLinkConnected(attempt, `${host}:${port}`));
    if (!rh) {
      m.engine._run((r) => r.disconnect(mh));
      return;
    }
    this.#repl.add({ replica: n, rh, master: m, mh });
  }

  /** Moves a replication (or MIGRATE) link's bytes both ways; drops it once either end closed. */
  #moveRepl(l) {
    let moved = false;
    let down = EMPTY;
    for (let i = 0; i < 100000; i++) {
      const { replica: r, master: m } = l;
      if (!this.#repl.has(l)) return moved;
      if (r.engine.freed || m.engine.freed || r.engine._run((x) => x.isClosed(l.rh)) || m.engine._run((x) => x.isClosed(l.mh))) {
        this.#dropRepl(l);
        return true;
      }
      // The master's bytes in, the replica's out (and the other way round).
      const up = r.engine._run((x) => x.send(l.rh, down));
      down = m.engine._run((x) => (up.length ? x.send(l.mh, up) : x.takeOutput(l.mh)));
      if (!up.length && !down.length) return moved;
      moved = true;
    }
    return moved;
  }

  #dropRepl(l) {
    this.#repl.delete(l);
    if (!l.replica.engine.freed) l.replica.engine._run((x) => x.disconnect(l.rh));
    if (!l.master.engine.freed) l.master.engine._run((x) => x.disconnect(l.mh));
  }

  #find(port, host) {
    return this.#nodes.find((n) => n.port === port && (host === undefined || n.host === host));
  }

  #need(port, host) {
    const n = this.#find(port, host);
    if (!n) throw new TypeError(`oxidis: no node at port ${port} in this network`);
    return n;
  }

  #view(n) {
    return { engine: n.engine, host: n.host, port: n.port, busPort: n.busPort, isolated: n.isolated };
  }
}

const addr = (n) => `${n.host}:${n.port}`;

/** redis-cli's split of the slots over `n` masters: [[first, last], ...]. */
export function evenSlots(n) {
  const per = SLOTS / n;
  const out = [];
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < n; i++) {
    let last = Math.round(cursor + per - 1);
    if (last > SLOTS || i === n - 1) last = SLOTS - 1;
    if (last < first) last = first;
    out.push([first, last]);
    first = last + 1;
    cursor += per;
  }
  return out;
}
