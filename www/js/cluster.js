// The cluster view: three more engines in the page, made into a Redis Cluster (as
// `redis-cli --cluster create` makes one: the 16384 slots split in three ranges, a MEET) by the
// package's ClusterNetwork, which plays the network between their cluster buses. The view shows
// who owns which slots (a bar of 16384 slots coloured by owner), each node, the bus messages
// between them, and a console that follows MOVED redirects as `redis-cli -c` does. The engines
// are made only when the view is first opened (the page's first load stays one engine).

import { ClusterNetwork, splitArgs } from '../pkg/index.js';
import { ClientPanel, el } from './client.js';
import { encodeRequest, splitCommands, text } from './bytes.js';

const SLOTS = 16384;
const MAX_BUS = 60;
const MAX_HOPS = 5;
const BUS_TYPES = ['PING', 'PONG', 'MEET', 'FAIL', 'PUBLISH', 'FAILOVER_AUTH_REQUEST', 'FAILOVER_AUTH_ACK', 'UPDATE', 'MFSTART', 'MODULE', 'PUBLISHSHARD'];
const BUS_WHAT = {
  PING: 'a heartbeat: the sender\'s epochs, slots and flags, and gossip about other nodes',
  PONG: 'the answer to a PING or MEET (same layout: the sender\'s view of itself and gossip)',
  MEET: 'a PING that asks the receiver to add the sender to its cluster (CLUSTER MEET)',
  FAIL: 'a node is failing, as most masters agree: everyone marks it FAIL at once',
  UPDATE: 'a node\'s slots moved to a newer config epoch: update your table',
};

/** A console connected to one node at a time that follows MOVED as `redis-cli -c` does. */
class ClusterConsole extends ClientPanel {
  constructor(app, view, node) {
    super(app, 'cluster', {}, { engine: node.engine, title: 'Cluster console', prompt: `${node.host}:${node.port}>` });
    this.view = view;
    this.node = node;
    this.hops = 0;
    this.root.classList.add('cluster-console');
    this.title.after(el('span', { class: 'muted mode-note', text: 'redis-cli -c' }));
  }

  /** One command at a time (a redirect resends that command to the node that owns its slot). */
  runInput(input, opts = {}) {
    const cmds = splitCommands(input);
    if (cmds.length > 1) {
      for (const c of cmds) this.runInput(c, opts);
      return;
    }
    this.lastArgs = cmds.length ? splitArgs(cmds[0]) : null;
    this.hops = 0;
    super.runInput(input, opts);
  }

  receive(reply, note) {
    const m = !note && this.lastArgs && this.lastCmds?.length === 1 && this.hops < MAX_HOPS ? /^-MOVED (\d+) (\S+):(\d+)\r\n$/.exec(text(reply)) : null;
    const target = m && this.view.net.node(Number(m[3]), m[2]);
    if (!target) {
      const cmd = this.lastCmds?.length === 1 ? this.lastCmds[0] : null;
      const keyslot = !note && cmd?.[0]?.toUpperCase() === 'CLUSTER' && cmd[1]?.toUpperCase() === 'KEYSLOT' ? /^:(\d+)\r\n$/.exec(text(reply)) : null;
      if (keyslot) this.slot = this.view.slot = Number(keyslot[1]);
      super.receive(reply, note);
      this.view.refresh();
      return;
    }
    const [, slot, host, port] = m;
    this.addWire(reply, 'in', `MOVED: slot ${slot} is served by ${host}:${port}`);
    this.print('error reply moved', `(error) MOVED ${slot} ${host}:${port}`);
    this.print('redirect', `-> Redirected to slot [${slot}] located at ${host}:${port}`);
    this.view.markSlot(Number(slot));
    this.hops++;
    this.moveTo(target);
    const args = this.lastArgs;
    this.lastCmds = [args.map((a) => text(a))];
    this.transmit(encodeRequest(args), `resent to ${host}:${port}, the node the redirect named`);
  }

  /** A new connection to `node` (redis-cli -c connects to the node a redirect names). */
  moveTo(node) {
    try {
      this.conn.close();
    } catch {}
    this.node = node;
    this.engine = node.engine;
    this.connect();
    this.promptText = `${node.host}:${node.port}>`;
    this.promptLabel.textContent = this.promptText;
    this.setStatus();
    this.view.refresh();
  }
}

/** The bus messages of a chunk: [{ type, name, length, gossip }] (whole messages only). */
function busMessages(b) {
  const out = [];
  let p = 0;
  while (p + 16 <= b.length && b[p] === 82 && b[p + 1] === 67 && b[p + 2] === 109 && b[p + 3] === 98) {
    const len = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
    const type = (b[p + 12] << 8) | b[p + 13];
    const count = (b[p + 14] << 8) | b[p + 15];
    out.push({ name: BUS_TYPES[type] ?? `type ${type}`, length: len, gossip: type <= 2 ? count : 0 });
    if (len < 16) break;
    p += len;
  }
  return out;
}

export class ClusterView {
  constructor(app) {
    this.app = app;
    this.net = null;
    this.panel = null;
    this.slot = -1;
    this.busCount = 0;
    this.root = document.querySelector('#cluster');
    this.bar = this.root.querySelector('#slot-bar');
    this.legend = this.root.querySelector('#cluster-nodes');
    this.status = this.root.querySelector('#cluster-status');
    this.busList = this.root.querySelector('#cluster-bus');
    this.busSummary = this.root.querySelector('#cluster-bus-summary');
  }

  /** Makes the three engines, their cluster and the console (once). */
  start() {
    if (this.net) return;
    this.net = ClusterNetwork.create({ nodes: 3, basePort: 7000, time: this.app.engine.now(), seed: 11 });
    this.net.onChunk((c) => this.bus(c));
    this.net.form();
    this.inspect = this.net.nodes.map((n) => n.engine.connect());
    this.panel = new ClusterConsole(this.app, this, this.net.nodes[0]);
    this.panel.root.classList.add('cluster');
    this.refresh();
  }

  /** The slot a redirect or CLUSTER KEYSLOT named, marked on the bar. */
  markSlot(slot) {
    this.slot = slot;
    this.refresh();
  }

  bus(c) {
    for (const m of busMessages(c.bytes)) {
      this.busCount++;
      const what = BUS_WHAT[m.name] ?? '';
      const gossip = m.gossip ? ` · gossip about ${m.gossip} node${m.gossip === 1 ? '' : 's'}` : '';
      const li = el(
        'li',
        { class: 'bus-msg', 'data-type': m.name },
        el('span', { class: 'dir', text: `${c.fromPort} → ${c.toPort}` }),
        el('code', { text: m.name }),
        el('span', { class: 'meta', text: `${m.length} bytes${gossip}` }),
      );
      if (what) li.title = `${m.name}: ${what}`;
      this.busList.append(li);
    }
    while (this.busList.childElementCount > MAX_BUS) this.busList.firstElementChild.remove();
    if (this.busList.closest('details')?.open) this.busList.scrollTop = this.busList.scrollHeight;
    this.busSummary.textContent = `Bus: the nodes' messages to each other (${this.busCount} so far, on ports 17000-17002)`;
  }

  /** The slot bar, the nodes and the status, from the nodes' own replies. */
  refresh() {
    if (!this.net || this.root.hidden) return;
    const nodes = this.net.nodes;
    // Node 7000's view of who serves what (CLUSTER SLOTS: [first, last, [host, port, id]]).
    const ranges = this.inspect[0].call('CLUSTER', 'SLOTS').map((r) => ({ first: r[0], last: r[1], port: r[2][1] }));
    const color = (port) => nodes.findIndex((n) => n.port === port);
    const segs = ranges.map((r) =>
      el('span', {
        class: `seg owner-${color(r.port)}`,
        'data-port': String(r.port),
        'data-first': String(r.first),
        'data-last': String(r.last),
        style: `left:${(r.first / SLOTS) * 100}%;width:${((r.last - r.first + 1) / SLOTS) * 100}%`,
        title: `slots ${r.first}-${r.last}: 127.0.0.1:${r.port}`,
      }),
    );
    if (this.slot >= 0) segs.push(el('span', { class: 'marker', 'data-slot': String(this.slot), style: `left:${(this.slot / SLOTS) * 100}%`, title: `slot ${this.slot}` }));
    this.bar.replaceChildren(...segs);
    this.bar.setAttribute('aria-label', `The 16384 hash slots: ${ranges.map((r) => `${r.first}-${r.last} on ${r.port}`).join(', ')}${this.slot >= 0 ? `; slot ${this.slot} marked` : ''}`);
    const states = [];
    this.legend.replaceChildren(
      ...nodes.map((n, i) => {
        const c = this.inspect[i];
        const info = c.call('CLUSTER', 'INFO');
        const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? '?';
        states.push(state);
        const id = c.call('CLUSTER', 'MYID');
        const mine = ranges.filter((r) => r.port === n.port);
        const slots = mine.map((r) => `${r.first}-${r.last}`).join(' ') || 'none';
        const count = mine.reduce((s, r) => s + r.last - r.first + 1, 0);
        const here = this.panel?.node.port === n.port;
        return el(
          'li',
          { class: `node owner-${i}${here ? ' here' : ''}`, 'data-port': String(n.port) },
          el('strong', { text: `${n.host}:${n.port}` }),
          el('span', { class: 'muted', text: ` ${id.slice(0, 8)}… master` }),
          el('span', { class: 'slots', text: ` · slots ${slots} (${count})` }),
          el('span', { class: 'keys', text: ` · ${c.call('DBSIZE')} keys` }),
          el('span', { class: 'state', text: ` · cluster_state:${state}` }),
          here ? el('span', { class: 'here-note', text: ' · the console is connected here' }) : '',
        );
      }),
    );
    this.status.textContent = states.every((s) => s === 'ok') ? 'cluster_state:ok on all three nodes' : `cluster_state: ${states.join(', ')}`;
  }

  /** Time passes for the three engines (they share the page's clock). */
  advance(ms) {
    if (!this.net) return;
    this.net.advance(ms);
    this.refresh();
  }

  poll() {
    this.panel?.poll();
  }

  setVisible(on) {
    this.root.hidden = !on;
    if (this.panel) this.panel.root.hidden = !on;
    if (on) this.refresh();
  }
}
