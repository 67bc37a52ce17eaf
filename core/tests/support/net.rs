//! A small in-process network of engines for integration tests: the host side of several
//! Engines in one process. It carries the cluster bus (`Event::ConnectClusterNode` /
//! `ClusterOutput` / `CloseClusterLink`), replication links (`Event::ConnectMaster`) and
//! MIGRATE's connections (`Event::ConnectMigrate`) between engines as bytes, on a virtual
//! clock that `step` advances (ticking every engine). Nodes are found by their `port` /
//! `cluster-port` configuration, at 127.0.0.1.
//!
//! Used by core/tests/golden.rs to run the topology transcripts (testdata/golden/topology/)
//! in process, and by core/tests/cluster_sim.rs, which turns on what a fault simulation needs:
//! bus bytes queued and delivered late (`queued_bus`, `delay`, `deliver`), partitions (`side`,
//! `cut`), crashed nodes (`engines[i]` None: `crash`, `restart`).
//!
//! Both test crates include this file; each uses a part of it.
#![allow(dead_code)]

use oxidis_core::{ClientHandle, Config, ConnInfo, Engine, Event, LinkHandle, UnixMillis};
use std::collections::VecDeque;

/// A small deterministic generator (xorshift64*): the delays' randomness (and a simulation's).
pub struct Rand(pub u64);
impl Rand {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A bus connection: (engine, link) at each end, 0 opened it, 1 accepted it.
struct BusConn {
    ends: [(usize, LinkHandle); 2],
    /// With `queued_bus`: bytes in flight toward end 0 and end 1, (delivery time, bytes).
    queues: [VecDeque<(u64, Vec<u8>)>; 2],
}

/// A client connection between two engines (a replication link, a MIGRATE connection): the
/// client the opener made with `*_link_connected`, and the one accepted on the other side.
struct Pipe {
    ends: [(usize, ClientHandle); 2],
}

pub struct Net {
    pub now: UnixMillis,
    /// The engines; None while a node is down (`crash`).
    pub engines: Vec<Option<Engine>>,
    /// Each engine's client port and bus port.
    pub ports: Vec<(u16, u16)>,
    bus: Vec<BusConn>,
    pipes: Vec<Pipe>,
    /// Lines the engines logged (Event::Log), for a failure message (with `keep_log`).
    pub log: Vec<String>,
    pub keep_log: bool,
    /// Log lines go to stderr as they come, stamped with the ms since the network started.
    pub echo_log: bool,
    start: u64,
    /// Partition: each node's side; nodes on different sides cannot reach each other (all 0:
    /// none). `cut` closes what crosses sides.
    pub side: Vec<u8>,
    /// Bus bytes wait in the link's queue until `deliver` (the next step at the earliest),
    /// in order, each up to `delay` ms late; false: delivered as soon as written.
    pub queued_bus: bool,
    /// Extra delivery delay bound, ms (with `queued_bus`), drawn from `rng`.
    pub delay: u64,
    pub rng: Rand,
    /// Client connections between engines carry `ConnInfo::default()` rather than 127.0.0.1
    /// addresses.
    pub anonymous: bool,
    /// How many rounds `pump` goes at most.
    pub pump_rounds: usize,
    /// With `track_closed`: the client connections the engines closed (Event::Close), for the
    /// test to take.
    pub closed: Vec<(usize, ClientHandle)>,
    pub track_closed: bool,
}

/// How long `step` advances the clock.
pub const STEP_MS: u64 = 10;

impl Net {
    /// Engines from `make(i, config)` (each its own seed: node IDs differ), node i with `port` ports[i].0 and `cluster-port`
    /// ports[i].1; `cluster` adds `cluster-enabled yes`.
    pub fn new(
        now: UnixMillis,
        ports: Vec<(u16, u16)>,
        cluster: bool,
        mut make: impl FnMut(usize, Config) -> Engine,
    ) -> Net {
        let engines = (0..ports.len())
            .map(|i| {
                let mut e = make(i, Net::config_for(ports[i], cluster));
                e.tick(now);
                Some(e)
            })
            .collect();
        Net {
            now,
            engines,
            side: vec![0; ports.len()],
            ports,
            bus: Vec::new(),
            pipes: Vec::new(),
            log: Vec::new(),
            keep_log: true,
            echo_log: false,
            start: now.0,
            queued_bus: false,
            delay: 0,
            rng: Rand(1),
            anonymous: false,
            pump_rounds: 10_000,
            closed: Vec::new(),
            track_closed: false,
        }
    }

    /// The configuration `new` hands to `make` for a node at `ports` (.0 `port`, .1
    /// `cluster-port`), for a node made again (`restart`).
    pub fn config_for(ports: (u16, u16), cluster: bool) -> Config {
        let (port, bus) = ports;
        let mut cfg = Config::default();
        cfg.set("port", port.to_string().as_bytes()).expect("port");
        cfg.set("repl-diskless-sync-delay", b"0")
            .expect("repl-diskless-sync-delay");
        if cluster {
            cfg.set("cluster-enabled", b"yes").expect("cluster-enabled");
            cfg.set("cluster-port", bus.to_string().as_bytes())
                .expect("cluster-port");
        }
        cfg
    }

    /// Node `i`'s engine (it must be up).
    pub fn eng(&mut self, i: usize) -> &mut Engine {
        self.engines[i].as_mut().expect("a live node")
    }

    pub fn up(&self, i: usize) -> bool {
        self.engines[i].is_some()
    }

    pub fn reachable(&self, a: usize, b: usize) -> bool {
        self.up(a) && self.up(b) && self.side[a] == self.side[b]
    }

    /// A client of node `i`, addressed as if from 127.0.0.1.
    pub fn connect(&mut self, i: usize) -> ClientHandle {
        let info = self.client_info(i);
        let now = self.now;
        self.eng(i).connect(now, info)
    }

    fn client_info(&self, i: usize) -> ConnInfo {
        if self.anonymous {
            return ConnInfo::default();
        }
        ConnInfo {
            addr: format!("127.0.0.1:{}", 50000 + self.pipes.len() + 10 * i),
            laddr: format!("127.0.0.1:{}", self.ports[i].0),
            ..ConnInfo::default()
        }
    }

    /// Feeds `bytes` to client `c` of node `i`, then moves every byte the engines send each
    /// other until nothing moves.
    pub fn feed(&mut self, i: usize, c: ClientHandle, bytes: &[u8]) {
        let now = self.now;
        self.eng(i).feed(now, c, bytes);
        self.pump();
    }

    /// Advances the clock by STEP_MS, ticks every engine, and moves the bytes.
    pub fn step(&mut self) {
        self.now = UnixMillis(self.now.0 + STEP_MS);
        for e in self.engines.iter_mut().flatten() {
            e.tick(self.now);
        }
        self.pump();
    }

    /// A command on a fresh client of node `i`, its reply bytes (after the network settled).
    pub fn call(&mut self, i: usize, req: &[u8]) -> Vec<u8> {
        let c = self.connect(i);
        self.feed(i, c, req);
        let mut out = Vec::new();
        self.eng(i).drain_output(c, &mut out);
        self.eng(i).disconnect(c);
        self.pump();
        out
    }

    /// Handles every engine's events and moves bytes until nothing is left to do (or
    /// `pump_rounds` went by).
    pub fn pump(&mut self) {
        for _ in 0..self.pump_rounds {
            let mut any = false;
            for i in 0..self.engines.len() {
                while let Some(ev) = self.engines[i].as_mut().and_then(|e| e.poll_event()) {
                    any = true;
                    self.event(i, ev);
                }
            }
            any |= self.move_pipe_bytes();
            if !any {
                return;
            }
        }
    }

    fn node_by_port(&self, port: u16) -> Option<usize> {
        self.ports.iter().position(|p| p.0 == port)
    }

    /// An outgoing client connection from node i to node j's port: the other end accepted.
    fn accept_pipe(&mut self, j: usize) -> ClientHandle {
        let info = self.client_info(j);
        let now = self.now;
        self.eng(j).connect(now, info)
    }

    fn event(&mut self, i: usize, ev: Event) {
        let now = self.now;
        match ev {
            Event::ConnectClusterNode { link, port, .. } => {
                let to = self.ports.iter().position(|p| p.1 == port);
                match to.filter(|&j| self.reachable(i, j)) {
                    Some(j) => {
                        let eng_j = self.eng(j);
                        let acc = eng_j.cluster_link_accepted(now, "127.0.0.1".into());
                        eng_j.cluster_link_local_ip(acc, "127.0.0.1".into());
                        self.bus.push(BusConn {
                            ends: [(i, link), (j, acc)],
                            queues: [VecDeque::new(), VecDeque::new()],
                        });
                        self.eng(i).cluster_link_connected(now, link);
                    }
                    None => self.eng(i).cluster_link_failed(now, link),
                }
            }
            Event::ClusterOutput(link) => {
                let bytes = self.eng(i).cluster_link_output(link);
                if self.queued_bus {
                    let delay = if self.delay > 0 {
                        self.rng.below(self.delay)
                    } else {
                        0
                    };
                    let at_least = self.now.0 + delay;
                    if let Some(c) = self.bus.iter_mut().find(|c| c.ends.contains(&(i, link))) {
                        let to = if c.ends[0] == (i, link) { 1 } else { 0 };
                        let at = c.queues[to].back().map_or(0, |b| b.0).max(at_least);
                        c.queues[to].push_back((at, bytes));
                    }
                } else if let Some(c) = self.bus.iter().find(|c| c.ends.contains(&(i, link))) {
                    let (n, l) = if c.ends[0] == (i, link) {
                        c.ends[1]
                    } else {
                        c.ends[0]
                    };
                    if let Some(e) = self.engines[n].as_mut() {
                        e.cluster_link_input(now, l, &bytes);
                    }
                }
            }
            Event::CloseClusterLink(link) => {
                if let Some(k) = self.bus.iter().position(|c| c.ends.contains(&(i, link))) {
                    let c = self.bus.remove(k);
                    let (n, l) = if c.ends[0] == (i, link) {
                        c.ends[1]
                    } else {
                        c.ends[0]
                    };
                    if let Some(e) = self.engines[n].as_mut() {
                        e.cluster_link_closed(now, l);
                    }
                }
            }
            Event::ConnectMaster { port, attempt, .. } => {
                match self.node_by_port(port).filter(|&j| self.reachable(i, j)) {
                    Some(j) => {
                        let mc = self.accept_pipe(j);
                        let info = self.client_info(i);
                        match self.eng(i).master_link_connected(now, attempt, info) {
                            Some(rl) => self.pipes.push(Pipe {
                                ends: [(i, rl), (j, mc)],
                            }),
                            None => self.eng(j).disconnect(mc),
                        }
                    }
                    None => self.eng(i).master_link_failed(now, attempt),
                }
            }
            Event::ConnectMigrate { port, token, .. } => {
                match self.node_by_port(port).filter(|&j| self.reachable(i, j)) {
                    Some(j) => {
                        let acc = self.accept_pipe(j);
                        let info = self.client_info(i);
                        match self.eng(i).migrate_link_connected(now, token, info) {
                            Some(c) => self.pipes.push(Pipe {
                                ends: [(i, c), (j, acc)],
                            }),
                            None => self.eng(j).disconnect(acc),
                        }
                    }
                    None => self.eng(i).migrate_link_failed(now, token, true),
                }
            }
            Event::Close(h) => self.close_client(i, h),
            Event::Log(line) => {
                if self.echo_log {
                    eprintln!("{} node {i}: {line}", now.0 - self.start);
                }
                if self.keep_log {
                    self.log.push(format!("n{}: {line}", i + 1));
                }
            }
            _ => {}
        }
    }

    /// A client connection closed by engine `i`: a pipe's other end hears of it.
    fn close_client(&mut self, i: usize, h: ClientHandle) {
        if self.track_closed {
            self.closed.push((i, h));
        }
        if let Some(k) = self.pipes.iter().position(|p| p.ends.contains(&(i, h))) {
            let p = self.pipes.remove(k);
            for (n, c) in p.ends {
                if let Some(e) = self.engines[n].as_mut() {
                    e.disconnect(c);
                }
            }
        } else if let Some(e) = self.engines[i].as_mut() {
            e.disconnect(h);
        }
    }

    /// Pipe bytes both ways (no delay: a TCP stream).
    fn move_pipe_bytes(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        for k in 0..self.pipes.len() {
            let [a, b] = self.pipes[k].ends;
            for (from, to) in [(a, b), (b, a)] {
                let mut out = Vec::new();
                if let Some(e) = self.engines[from.0].as_mut() {
                    e.drain_output(from.1, &mut out);
                }
                if !out.is_empty() {
                    moved = true;
                    if let Some(e) = self.engines[to.0].as_mut() {
                        e.feed(now, to.1, &out);
                    }
                }
            }
        }
        moved
    }

    /// With `queued_bus`: the bus bytes due by now, each chunk followed by a `pump`.
    pub fn deliver(&mut self) {
        let now = self.now;
        let mut k = 0;
        while k < self.bus.len() {
            for to in 0..2 {
                while self
                    .bus
                    .get(k)
                    .is_some_and(|c| c.queues[to].front().is_some_and(|m| m.0 <= now.0))
                {
                    let (_, bytes) = self.bus[k].queues[to].pop_front().unwrap();
                    let (n, link) = self.bus[k].ends[to];
                    if let Some(e) = self.engines[n].as_mut() {
                        e.cluster_link_input(now, link, &bytes);
                    }
                    self.pump();
                }
            }
            k += 1;
        }
    }

    /// Cuts every connection between nodes that cannot reach each other (`side`, down).
    pub fn cut(&mut self) {
        let now = self.now;
        let mut k = 0;
        while k < self.bus.len() {
            let [a, b] = self.bus[k].ends;
            if self.reachable(a.0, b.0) {
                k += 1;
                continue;
            }
            self.bus.remove(k);
            for (n, l) in [a, b] {
                if let Some(e) = self.engines[n].as_mut() {
                    e.cluster_link_closed(now, l);
                }
            }
        }
        let mut k = 0;
        while k < self.pipes.len() {
            let [a, b] = self.pipes[k].ends;
            if self.reachable(a.0, b.0) {
                k += 1;
                continue;
            }
            self.pipes.remove(k);
            for (n, c) in [a, b] {
                if let Some(e) = self.engines[n].as_mut() {
                    e.disconnect(c);
                }
            }
        }
        self.pump();
    }

    /// Node `i` goes down: its engine is dropped, every connection to it cut.
    pub fn crash(&mut self, i: usize) {
        self.engines[i] = None;
        self.cut();
    }

    /// Node `i` is up again with `eng` (made from `config_for`, ticked).
    pub fn restart(&mut self, i: usize, eng: Engine) {
        self.engines[i] = Some(eng);
        self.pump();
    }
}
