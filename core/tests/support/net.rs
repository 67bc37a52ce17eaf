//! A small in-process network of engines for integration tests: the host side of several
//! Engines in one process. It carries the cluster bus (`Event::ConnectClusterNode` /
//! `ClusterOutput` / `CloseClusterLink`), replication links (`Event::ConnectMaster`) and
//! MIGRATE's connections (`Event::ConnectMigrate`) between engines as bytes, without delay,
//! on a virtual clock that `step` advances (ticking every engine). Nodes are found by their
//! `port` / `cluster-port` configuration, at 127.0.0.1.
//!
//! Used by core/tests/golden.rs to run the topology transcripts (testdata/golden/topology/)
//! in process. (core/tests/cluster_sim.rs keeps its own network, which adds seeded delays,
//! partitions and crashes.)

use oxidis_core::{ClientHandle, Config, ConnInfo, Engine, Event, LinkHandle, UnixMillis};

/// A bus connection: (engine, link) at each end, 0 opened it, 1 accepted it.
struct BusConn {
    ends: [(usize, LinkHandle); 2],
}

/// A client connection between two engines (a replication link, a MIGRATE connection): the
/// client the opener made with `*_link_connected`, and the one accepted on the other side.
struct Pipe {
    ends: [(usize, ClientHandle); 2],
}

pub struct Net {
    pub now: UnixMillis,
    pub engines: Vec<Engine>,
    /// Each engine's client port and bus port.
    pub ports: Vec<(u16, u16)>,
    bus: Vec<BusConn>,
    pipes: Vec<Pipe>,
    /// Lines the engines logged (Event::Log), for a failure message.
    pub log: Vec<String>,
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
        let engines = ports
            .iter()
            .enumerate()
            .map(|(i, &(port, bus))| {
                let mut cfg = Config::default();
                cfg.set("port", port.to_string().as_bytes()).expect("port");
                cfg.set("repl-diskless-sync-delay", b"0")
                    .expect("repl-diskless-sync-delay");
                if cluster {
                    cfg.set("cluster-enabled", b"yes").expect("cluster-enabled");
                    cfg.set("cluster-port", bus.to_string().as_bytes())
                        .expect("cluster-port");
                }
                let mut e = make(i, cfg);
                e.tick(now);
                e
            })
            .collect();
        Net {
            now,
            engines,
            ports,
            bus: Vec::new(),
            pipes: Vec::new(),
            log: Vec::new(),
        }
    }

    /// A client of node `i`, addressed as if from 127.0.0.1.
    pub fn connect(&mut self, i: usize) -> ClientHandle {
        let info = self.client_info(i);
        self.engines[i].connect(self.now, info)
    }

    fn client_info(&self, i: usize) -> ConnInfo {
        ConnInfo {
            addr: format!("127.0.0.1:{}", 50000 + self.pipes.len() + 10 * i),
            laddr: format!("127.0.0.1:{}", self.ports[i].0),
            ..ConnInfo::default()
        }
    }

    /// Feeds `bytes` to client `c` of node `i`, then moves every byte the engines send each
    /// other until nothing moves.
    pub fn feed(&mut self, i: usize, c: ClientHandle, bytes: &[u8]) {
        self.engines[i].feed(self.now, c, bytes);
        self.pump();
    }

    /// Advances the clock by STEP_MS, ticks every engine, and moves the bytes.
    pub fn step(&mut self) {
        self.now = UnixMillis(self.now.0 + STEP_MS);
        for e in &mut self.engines {
            e.tick(self.now);
        }
        self.pump();
    }

    /// A command on a fresh client of node `i`, its reply bytes (after the network settled).
    pub fn call(&mut self, i: usize, req: &[u8]) -> Vec<u8> {
        let c = self.connect(i);
        self.feed(i, c, req);
        let mut out = Vec::new();
        self.engines[i].drain_output(c, &mut out);
        self.engines[i].disconnect(c);
        self.pump();
        out
    }

    /// Handles every engine's events and moves bytes until nothing is left to do.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for i in 0..self.engines.len() {
                while let Some(ev) = self.engines[i].poll_event() {
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
        self.engines[j].connect(self.now, info)
    }

    fn event(&mut self, i: usize, ev: Event) {
        let now = self.now;
        match ev {
            Event::ConnectClusterNode { link, port, .. } => {
                match self.ports.iter().position(|p| p.1 == port) {
                    Some(j) => {
                        let acc = self.engines[j].cluster_link_accepted(now, "127.0.0.1".into());
                        self.engines[j].cluster_link_local_ip(acc, "127.0.0.1".into());
                        self.bus.push(BusConn {
                            ends: [(i, link), (j, acc)],
                        });
                        self.engines[i].cluster_link_connected(now, link);
                    }
                    None => self.engines[i].cluster_link_failed(now, link),
                }
            }
            Event::ClusterOutput(link) => {
                let bytes = self.engines[i].cluster_link_output(link);
                if let Some(c) = self.bus.iter().find(|c| c.ends.contains(&(i, link))) {
                    let (n, l) = if c.ends[0] == (i, link) {
                        c.ends[1]
                    } else {
                        c.ends[0]
                    };
                    self.engines[n].cluster_link_input(now, l, &bytes);
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
                    self.engines[n].cluster_link_closed(now, l);
                }
            }
            Event::ConnectMaster { port, attempt, .. } => match self.node_by_port(port) {
                Some(j) => {
                    let mc = self.accept_pipe(j);
                    let info = self.client_info(i);
                    match self.engines[i].master_link_connected(now, attempt, info) {
                        Some(rl) => self.pipes.push(Pipe {
                            ends: [(i, rl), (j, mc)],
                        }),
                        None => self.engines[j].disconnect(mc),
                    }
                }
                None => self.engines[i].master_link_failed(now, attempt),
            },
            Event::ConnectMigrate { port, token, .. } => match self.node_by_port(port) {
                Some(j) => {
                    let acc = self.accept_pipe(j);
                    let info = self.client_info(i);
                    match self.engines[i].migrate_link_connected(now, token, info) {
                        Some(c) => self.pipes.push(Pipe {
                            ends: [(i, c), (j, acc)],
                        }),
                        None => self.engines[j].disconnect(acc),
                    }
                }
                None => self.engines[i].migrate_link_failed(now, token, true),
            },
            Event::Close(h) => self.close_client(i, h),
            Event::Log(line) => self.log.push(format!("n{}: {line}", i + 1)),
            _ => {}
        }
    }

    /// A client connection closed by engine `i`: a pipe's other end hears of it.
    fn close_client(&mut self, i: usize, h: ClientHandle) {
        if let Some(k) = self.pipes.iter().position(|p| p.ends.contains(&(i, h))) {
            let p = self.pipes.remove(k);
            for (n, c) in p.ends {
                self.engines[n].disconnect(c);
            }
        } else {
            self.engines[i].disconnect(h);
        }
    }

    /// Pipe bytes both ways.
    fn move_pipe_bytes(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        for k in 0..self.pipes.len() {
            let [a, b] = self.pipes[k].ends;
            for (from, to) in [(a, b), (b, a)] {
                let mut out = Vec::new();
                self.engines[from.0].drain_output(from.1, &mut out);
                if !out.is_empty() {
                    moved = true;
                    self.engines[to.0].feed(now, to.1, &out);
                }
            }
        }
        moved
    }
}
