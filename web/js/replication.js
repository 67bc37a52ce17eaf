// Replication between two engines in one process (a page, a test): a ReplicationLink is the
// network between a replica engine and the master engine the page names host:port. The
// engines do all of replication (oxidis-core's repl/): the replica, after REPLICAOF host port,
// asks for a connection; the link opens a client on the master for it, hands the replica its
// end (the master link) and moves the bytes both ways after every operation on either engine,
// telling listeners each chunk with its direction. cut() is a network failure: both ends close
// and connects are refused until reconnect(); the replica retries from its cron (once a second
// of its clock) and resumes with PSYNC (+CONTINUE and only the bytes it missed).

import { Engine } from './engine.js';

const EMPTY = new Uint8Array(0);

export class ReplicationLink {
  #master;
  #replica;
  #host;
  #port;
  #replicaAddr;
  #up = true;
  #rh = 0; // the replica's master-link handle (0: no link)
  #mh = 0; // the master's client for the replica
  #busy = false;
  #closed = false;
  #chunk = new Set();
  #state = new Set();
  #unobserve;

  /**
   * Options: master, replica (Engines), host and port (the name REPLICAOF uses for the master;
   * default 'master' 6379), replicaAddr (the replica's address as the master sees it).
   */
  constructor(options = {}) {
    const { master, replica, host = 'master', port = 6379, replicaAddr = 'replica:50000' } = options ?? {};
    if (!(master instanceof Engine) || !(replica instanceof Engine)) {
      throw new TypeError('oxidis: ReplicationLink needs { master, replica } Engines');
    }
    if (master === replica) throw new TypeError('oxidis: a ReplicationLink needs two different engines');
    if (typeof host !== 'string' || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError('oxidis: ReplicationLink host must be a string and port an integer 0..65535');
    }
    this.#master = master;
    this.#replica = replica;
    this.#host = host;
    this.#port = port;
    this.#replicaAddr = String(replicaAddr);
    const pump = () => this.pump();
    this.#unobserve = [master._observe(pump), replica._observe(pump)];
    this.pump();
  }

  get host() {
    return this.#host;
  }

  get port() {
    return this.#port;
  }

  /** True while the replica's master link is open. */
  get connected() {
    return this.#rh !== 0;
  }

  /** False after cut() until reconnect(). */
  get up() {
    return this.#up;
  }

  /** `f({ direction: 'to-master' | 'to-replica', bytes })` for every chunk on the link. */
  onChunk(f) {
    this.#chunk.add(f);
    return () => this.#chunk.delete(f);
  }

  /** `f(state)`: 'connected', 'refused' (a connect while cut or for another name), 'closed', 'cut', 'up'. */
  onState(f) {
    this.#state.add(f);
    return () => this.#state.delete(f);
  }

  /** A network failure: both ends of the link close; connects are refused until reconnect(). */
  cut() {
    this.#up = false;
    this.#drop();
    this.#emitState('cut');
  }

  /** The network is back: the replica's next retry (its cron, once a second) connects. */
  reconnect() {
    this.#up = true;
    this.#emitState('up');
    this.pump();
  }

  /** Stops linking (the link closes; the engines stay as they are). */
  close() {
    if (this.#closed) return;
    this.#drop();
    this.#closed = true;
    for (const u of this.#unobserve) u();
  }

  /** Moves every pending byte and answers connect requests (runs after each engine operation). */
  pump() {
    if (this.#busy || this.#closed || this.#master.freed || this.#replica.freed) return;
    this.#busy = true;
    try {
      for (let i = 0; i < 10000 && this.#step(); i++);
    } finally {
      this.#busy = false;
    }
  }

  #step() {
    let progress = false;
    const req = this.#replica._run((r) => r.takeConnectMaster());
    if (req) {
      progress = true;
      this.#connect(req[0], req[1], req[2]);
    }
    if (this.#rh) {
      const up = this.#replica._run((r) => r.takeOutput(this.#rh));
      if (up.length) {
        progress = true;
        this.#toMaster(up);
      }
    }
    if (this.#rh) {
      const down = this.#master._run((r) => r.takeOutput(this.#mh));
      if (down.length) {
        progress = true;
        this.#toReplica(down);
      }
    }
    if (this.#rh && (this.#replica._run((r) => r.isClosed(this.#rh)) || this.#master._run((r) => r.isClosed(this.#mh)))) {
      progress = true;
      this.#drop();
      this.#emitState('closed');
    }
    return progress;
  }

  #connect(host, port, attempt) {
    // A new attempt replaces any old link (the replica has let it go).
    this.#drop();
    if (!this.#up || host !== this.#host || port !== this.#port) {
      this.#replica._run((r) => r.masterLinkFailed(attempt));
      this.#emitState('refused');
      return;
    }
    const mh = this.#master._run((r) => r.connectFrom(this.#replicaAddr));
    const rh = this.#replica._run((r) => r.masterLinkConnected(attempt, `${host}:${port}`));
    if (!rh) {
      this.#master._run((r) => r.disconnect(mh));
      return;
    }
    this.#mh = mh;
    this.#rh = rh;
    this.#emitState('connected');
  }

  #toMaster(bytes) {
    this.#emitChunk('to-master', bytes);
    const back = this.#master._run((r) => (r.isClosed(this.#mh) ? EMPTY : r.send(this.#mh, bytes)));
    if (back.length && this.#rh) this.#toReplica(back);
  }

  #toReplica(bytes) {
    this.#emitChunk('to-replica', bytes);
    const back = this.#replica._run((r) => (r.isClosed(this.#rh) ? EMPTY : r.send(this.#rh, bytes)));
    if (back.length && this.#rh) this.#toMaster(back);
  }

  #drop() {
    const { rh, mh } = { rh: this.#rh, mh: this.#mh };
    this.#rh = 0;
    this.#mh = 0;
    if (rh && !this.#replica.freed) this.#replica._run((r) => r.disconnect(rh));
    if (mh && !this.#master.freed) this.#master._run((r) => r.disconnect(mh));
  }

  #emitChunk(direction, bytes) {
    for (const f of this.#chunk) {
      try {
        f({ direction, bytes });
      } catch {}
    }
  }

  #emitState(s) {
    for (const f of this.#state) {
      try {
        f(s);
      } catch {}
    }
  }
}
