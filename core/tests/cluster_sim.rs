//! A deterministic simulation of a Redis Cluster made of Oxidis engines in one process
//! (issue 18 part 4): the test is the network (support/net.rs, shared with golden.rs's
//! topologies). It carries the cluster bus (`Event::ConnectClusterNode` / `ClusterOutput` /
//! `CloseClusterLink`) and the replication links (`Event::ConnectMaster`) between engines as
//! bytes, advances a simulated clock with `tick`, and injects seeded faults: partitions, delays, crashes and restarts (nodes.conf
//! kept). A workload writes unique keys with `SET` + `WAIT 1`, following MOVED. After the
//! faults heal and the cluster converges, it checks:
//!
//! - every slot is served by exactly one live master (in the masters' own views), when a
//!   majority of masters is up and every shard kept a live node;
//! - config epochs are unique among the masters serving slots;
//! - current and config epochs never decrease on a node (sampled during the run);
//! - a replica whose master died (beyond node-timeout) was promoted;
//! - every write acknowledged by `WAIT 1` is readable on its slot's master.
//!
//! `CLUSTER_SIM_SCHEDULES=n` runs n schedules (default: 24, what `cargo test` runs on a debug
//! build), and `CLUSTER_SIM_SEED=s` one given schedule, for soak runs and reproduction.
//! `cargo xtask test` also runs 2000 schedules on a release build (suite "cluster simulation").

#[path = "support/net.rs"]
mod net;

use net::{Net, Rand};
use oxidis_core::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};
use std::collections::{BTreeMap, HashMap};

const MASTERS: usize = 3;
const REPLICAS: usize = 1;
const NODES: usize = MASTERS * (1 + REPLICAS);
const NODE_TIMEOUT: u64 = 1000;
const STEP: u64 = 10;
const T0: u64 = 1_700_000_000_000;
const SLOTS: usize = 16384;

fn encode(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    v
}

/// One RESP reply from the front of `buf` (simple forms: what these commands return).
#[derive(Debug, Clone, PartialEq)]
enum R {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<R>),
}

fn parse(buf: &[u8]) -> Option<(R, usize)> {
    let nl = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..nl]).ok()?;
    let rest = nl + 2;
    match buf[0] {
        b'+' => Some((R::Simple(line.into()), rest)),
        b'-' => Some((R::Err(line.into()), rest)),
        b':' => Some((R::Int(line.parse().ok()?), rest)),
        b'$' | b'=' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((R::Bulk(None), rest));
            }
            let end = rest + n as usize;
            if buf.len() < end + 2 {
                return None;
            }
            let mut body = buf[rest..end].to_vec();
            if buf[0] == b'=' {
                body.drain(..4);
            }
            Some((R::Bulk(Some(body)), end + 2))
        }
        b'*' => {
            let n: i64 = line.parse().ok()?;
            let mut items = Vec::new();
            let mut at = rest;
            for _ in 0..n.max(0) {
                let (r, used) = parse(&buf[at..])?;
                items.push(r);
                at += used;
            }
            Some((R::Array(items), at))
        }
        _ => None,
    }
}

fn text(r: &R) -> String {
    match r {
        R::Simple(s) | R::Err(s) => s.clone(),
        R::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        R::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// A write the workload has in flight: SET then WAIT 1 on a connection of `node`.
struct Pending {
    node: usize,
    client: ClientHandle,
    key: String,
    value: String,
    buf: Vec<u8>,
    redirects: u32,
}

struct Node {
    port: u16,
    /// The nodes.conf text last handed over (survives a crash).
    conf: Option<String>,
    /// Per incarnation: (current epoch, my epoch) last sampled.
    epochs: (u64, u64),
    admin: Option<ClientHandle>,
    crashed_at: Option<u64>,
}

struct Sim {
    /// The engines and what links them: bus bytes queued (`deliver`d each step), seeded
    /// delays (`net.delay`), partitions (`net.side`), crashes; `net.rng` is the schedule's
    /// only randomness.
    net: Net,
    nodes: Vec<Node>,
    pending: Vec<Pending>,
    acked: BTreeMap<String, String>,
    next_key: u64,
    names: Vec<String>,
}

/// Node `i`'s ports: 7000 + i, its bus at + 10000.
fn ports(i: usize) -> (u16, u16) {
    (7000 + i as u16, 17000 + i as u16)
}

/// The network's configuration for a node, and the simulation's.
fn config(mut cfg: Config) -> Config {
    for (k, v) in [
        ("cluster-node-timeout", NODE_TIMEOUT.to_string()),
        ("repl-ping-replica-period", "1".to_string()),
    ] {
        cfg.set(k, v.as_bytes()).unwrap();
    }
    cfg
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut net = Net::new(
            UnixMillis(T0),
            (0..NODES).map(ports).collect(),
            true,
            |i, cfg| Engine::new(config(cfg), seed.wrapping_mul(31).wrapping_add(i as u64)),
        );
        net.queued_bus = true;
        net.rng = Rand(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        net.anonymous = true;
        net.pump_rounds = 1000;
        net.keep_log = false;
        net.echo_log = std::env::var("CLUSTER_SIM_LOG").is_ok();
        net.track_closed = true;
        let nodes = (0..NODES)
            .map(|i| Node {
                port: ports(i).0,
                conf: None,
                epochs: (0, 0),
                admin: None,
                crashed_at: None,
            })
            .collect();
        Sim {
            net,
            nodes,
            pending: Vec::new(),
            acked: BTreeMap::new(),
            next_key: 0,
            names: vec![String::new(); NODES],
        }
    }

    fn t(&self) -> UnixMillis {
        self.net.now
    }

    fn now(&self) -> u64 {
        self.net.now.0
    }

    fn up(&self, i: usize) -> bool {
        self.net.up(i)
    }

    fn eng(&mut self, i: usize) -> &mut Engine {
        self.net.eng(i)
    }

    /// Runs a command on a node's admin connection; None when the node is down.
    fn cmd(&mut self, i: usize, args: &[&str]) -> Option<R> {
        if !self.up(i) {
            return None;
        }
        let now = self.t();
        let id = match self.nodes[i].admin {
            Some(id) => id,
            None => {
                let id = self.eng(i).connect(now, ConnInfo::default());
                self.nodes[i].admin = Some(id);
                id
            }
        };
        self.eng(i).feed(now, id, &encode(args));
        let mut out = Vec::new();
        self.eng(i).drain_output(id, &mut out);
        self.pump();
        parse(&out).map(|(r, _)| r)
    }

    /// CLUSTER INFO ("cluster") or an INFO section, as field → value.
    fn info(&mut self, i: usize, section: &str) -> HashMap<String, String> {
        let r = if section == "cluster" {
            self.cmd(i, &["CLUSTER", "INFO"])
        } else {
            self.cmd(i, &["INFO", section])
        };
        let t = r.map(|r| text(&r)).unwrap_or_default();
        t.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect()
    }

    fn port_owner(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.port == port)
    }

    /// Handles every node's events until none is left.
    fn pump(&mut self) {
        self.net.pump();
    }

    /// The workload's writes on connections the engines closed are gone.
    fn forget_closed(&mut self) {
        for (i, h) in std::mem::take(&mut self.net.closed) {
            self.pending.retain(|p| !(p.node == i && p.client == h));
        }
    }

    fn crash(&mut self, i: usize) {
        if std::env::var("CLUSTER_SIM_LOG").is_ok() {
            eprintln!("{} node {i}: CRASH", self.now() - T0);
        }
        self.nodes[i].admin = None;
        self.nodes[i].crashed_at = Some(self.now());
        self.pending.retain(|p| p.node != i);
        self.net.crash(i);
    }

    /// A restart from the last nodes.conf (the dataset is not persisted: it comes back by
    /// replication, or the node is a master that was failed over and follows the new one).
    fn restart(&mut self, i: usize, seed: u64) -> bool {
        let Some(conf) = self.nodes[i].conf.clone() else {
            return false;
        };
        let mut eng = Engine::new(config(Net::config_for(ports(i), true)), seed);
        if eng.cluster_load_config(&conf, self.t()).is_err() {
            return false;
        }
        eng.tick(self.t());
        self.nodes[i].crashed_at = None;
        self.nodes[i].epochs = (0, 0);
        self.net.restart(i, eng);
        true
    }

    /// One step of the clock: due bytes, ticks, events, nodes.conf saves.
    fn step(&mut self) {
        self.net.now = UnixMillis(self.now() + STEP);
        self.net.deliver();
        let now = self.t();
        for i in 0..NODES {
            if let Some(e) = self.net.engines[i].as_mut() {
                e.tick(now);
                if let Some((text, _)) = e.cluster_config_to_save() {
                    self.nodes[i].conf = Some(text);
                }
            }
            self.pump();
        }
        self.workload_progress();
    }

    fn run_for(&mut self, ms: u64) {
        let end = self.now() + ms;
        while self.now() < end {
            self.step();
        }
    }

    // ------------------------------------------------------------------ workload

    fn start_write(&mut self) {
        self.forget_closed();
        let live: Vec<usize> = (0..NODES).filter(|&i| self.up(i)).collect();
        if live.is_empty() {
            return;
        }
        let node = live[self.net.rng.below(live.len() as u64) as usize];
        self.next_key += 1;
        let key = format!("k{}", self.next_key);
        let value = format!("v{}", self.net.rng.next() % 1_000_000);
        let now = self.t();
        let client = self.eng(node).connect(now, ConnInfo::default());
        let mut p = Pending {
            node,
            client,
            key,
            value,
            buf: Vec::new(),
            redirects: 0,
        };
        self.send_write(&mut p);
        self.pending.push(p);
    }

    fn send_write(&mut self, p: &mut Pending) {
        let now = self.t();
        let req = [
            encode(&["SET", &p.key, &p.value]),
            encode(&["WAIT", "1", "300"]),
        ]
        .concat();
        self.eng(p.node).feed(now, p.client, &req);
    }

    fn workload_progress(&mut self) {
        self.forget_closed();
        let mut k = 0;
        while k < self.pending.len() {
            let (node, client) = (self.pending[k].node, self.pending[k].client);
            let mut out = Vec::new();
            if let Some(e) = self.net.engines[node].as_mut() {
                e.drain_output(client, &mut out);
            }
            self.pending[k].buf.extend_from_slice(&out);
            let Some((first, used)) = parse(&self.pending[k].buf) else {
                k += 1;
                continue;
            };
            if let R::Err(e) = &first {
                // MOVED: the write goes to the node named (once the WAIT's error is in too).
                let Some((_, used2)) = parse(&self.pending[k].buf[used..]) else {
                    k += 1;
                    continue;
                };
                let _ = used2;
                let mut p = self.pending.remove(k);
                if let Some(e) = self.net.engines[node].as_mut() {
                    e.disconnect(client);
                }
                let target = e
                    .strip_prefix("MOVED ")
                    .and_then(|r| r.rsplit(':').next())
                    .and_then(|port| port.parse::<u16>().ok())
                    .and_then(|port| self.port_owner(port))
                    .filter(|&j| self.up(j));
                if let Some(j) = target.filter(|_| p.redirects < 5) {
                    p.node = j;
                    p.redirects += 1;
                    let now = self.t();
                    p.client = self.eng(j).connect(now, ConnInfo::default());
                    p.buf.clear();
                    self.send_write(&mut p);
                    self.pending.push(p);
                }
                continue;
            }
            let Some((wait, _)) = parse(&self.pending[k].buf[used..]) else {
                k += 1;
                continue;
            };
            let p = self.pending.remove(k);
            if first == R::Simple("OK".into()) && matches!(wait, R::Int(n) if n >= 1) {
                self.acked.insert(p.key.clone(), p.value.clone());
            }
            if let Some(e) = self.net.engines[node].as_mut() {
                e.disconnect(client);
            }
        }
    }

    // ------------------------------------------------------------------ views

    /// A node's CLUSTER NODES, parsed: name → (flags, master, config epoch, slots).
    fn view(&mut self, i: usize) -> Option<HashMap<String, NodeLine>> {
        let r = self.cmd(i, &["CLUSTER", "NODES"])?;
        let mut m = HashMap::new();
        for line in text(&r).lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() < 8 {
                continue;
            }
            let mut slots = Vec::new();
            for s in &f[8..] {
                if s.starts_with('[') {
                    continue;
                }
                let (a, b) = s.split_once('-').unwrap_or((s, s));
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    slots.push((a, b));
                }
            }
            m.insert(
                f[0].to_string(),
                NodeLine {
                    flags: f[2].to_string(),
                    epoch: f[6].parse().unwrap_or(0),
                    slots,
                },
            );
        }
        Some(m)
    }

    fn myself(&mut self, i: usize) -> Option<(String, NodeLine)> {
        self.view(i)?
            .into_iter()
            .find(|(_, l)| l.flags.contains("myself"))
    }

    /// Epochs never go down on a node (within one incarnation).
    fn sample_epochs(&mut self) -> Result<(), String> {
        for i in 0..NODES {
            if !self.up(i) {
                continue;
            }
            let info = self.info(i, "cluster");
            let num = |f: &str| info.get(f).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let (cur, my) = (num("cluster_current_epoch"), num("cluster_my_epoch"));
            let (pc, pm) = self.nodes[i].epochs;
            if cur < pc {
                return Err(format!("node {i}: current epoch went down {pc} -> {cur}"));
            }
            let _ = pm;
            self.nodes[i].epochs = (cur, my);
        }
        Ok(())
    }
}

struct NodeLine {
    flags: String,
    epoch: u64,
    slots: Vec<(usize, usize)>,
}

/// Builds the cluster as `redis-cli --cluster create` does: slots split over the masters,
/// distinct config epochs, MEET, then CLUSTER REPLICATE; runs until it is ok everywhere.
fn create(sim: &mut Sim) -> Result<(), String> {
    let pairs: Vec<(usize, usize)> = (0..MASTERS * REPLICAS)
        .map(|r| (MASTERS + r, r % MASTERS))
        .collect();
    create_with(sim, &pairs)
}

/// `create` with the replicas given as (replica, master) pairs.
fn create_with(sim: &mut Sim, pairs: &[(usize, usize)]) -> Result<(), String> {
    for i in 0..NODES {
        let id = sim.cmd(i, &["CLUSTER", "MYID"]).ok_or("down")?;
        if let R::Err(e) = &id {
            return Err(format!(
                "CLUSTER MYID: {e} (the CLUSTER commands are needed)"
            ));
        }
        sim.names[i] = text(&id);
    }
    for m in 0..MASTERS {
        let lo = m * SLOTS / MASTERS;
        let hi = (m + 1) * SLOTS / MASTERS - 1;
        let r = sim.cmd(
            m,
            &["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()],
        );
        if r != Some(R::Simple("OK".into())) {
            return Err(format!("ADDSLOTSRANGE on {m}: {r:?}"));
        }
    }
    for i in 0..NODES {
        let e = (i + 1).to_string();
        sim.cmd(i, &["CLUSTER", "SET-CONFIG-EPOCH", &e]);
    }
    for i in 1..NODES {
        let port = sim.nodes[i].port.to_string();
        let r = sim.cmd(0, &["CLUSTER", "MEET", "127.0.0.1", &port]);
        if r != Some(R::Simple("OK".into())) {
            return Err(format!("MEET {i}: {r:?}"));
        }
    }
    // Everyone knows everyone (no handshake left).
    let mut ok = false;
    for _ in 0..200 {
        sim.run_for(100);
        ok = (0..NODES).all(|i| {
            sim.view(i).is_some_and(|v| {
                v.len() == NODES && v.values().all(|l| !l.flags.contains("handshake"))
            })
        });
        if ok {
            break;
        }
    }
    if !ok {
        return Err("the nodes never all met".into());
    }
    for &(replica, m) in pairs {
        let master = sim.names[m].clone();
        let rep = sim.cmd(replica, &["CLUSTER", "REPLICATE", &master]);
        if rep != Some(R::Simple("OK".into())) {
            return Err(format!("REPLICATE {replica}: {rep:?}"));
        }
    }
    converge(sim, 30_000)
}

/// Runs until every live node says cluster_state:ok and every live replica's link is up.
fn converge(sim: &mut Sim, limit: u64) -> Result<(), String> {
    let end = sim.now() + limit;
    while sim.now() < end {
        sim.run_for(500);
        let mut ok = true;
        for i in 0..NODES {
            if !sim.up(i) {
                continue;
            }
            if sim
                .info(i, "cluster")
                .get("cluster_state")
                .map(String::as_str)
                != Some("ok")
            {
                ok = false;
                break;
            }
            let repl = sim.info(i, "replication");
            if repl.get("role").map(String::as_str) == Some("slave")
                && repl.get("master_link_status").map(String::as_str) != Some("up")
            {
                ok = false;
                break;
            }
        }
        if ok {
            return Ok(());
        }
    }
    Err(format!("no convergence within {limit} ms"))
}

/// The invariants after convergence.
fn check(sim: &mut Sim) -> Result<(), String> {
    sim.sample_epochs()?;
    let mut owner: Vec<Option<usize>> = vec![None; SLOTS];
    let mut epochs: HashMap<u64, usize> = HashMap::new();
    for i in 0..NODES {
        let Some((_, me)) = sim.myself(i) else {
            continue;
        };
        if !me.flags.contains("master") || me.slots.is_empty() {
            continue;
        }
        if let Some(j) = epochs.insert(me.epoch, i) {
            return Err(format!(
                "masters {j} and {i} share config epoch {}",
                me.epoch
            ));
        }
        for &(a, b) in &me.slots {
            for (s, o) in owner.iter_mut().enumerate().take(b + 1).skip(a) {
                if let Some(j) = *o {
                    return Err(format!("slot {s} served by both {j} and {i}"));
                }
                *o = Some(i);
            }
        }
    }
    if let Some(s) = owner.iter().position(Option::is_none) {
        return Err(format!("slot {s} is not served"));
    }
    // Nodes that died beyond node-timeout are masters of nothing now (their replicas took
    // over: coverage above says someone live serves their slots).
    // Acknowledged writes.
    let acked: Vec<(String, String)> = sim
        .acked
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in acked {
        let mut found = None;
        for i in 0..NODES {
            match sim.cmd(i, &["GET", &k]) {
                Some(R::Bulk(b)) => {
                    found = Some(b.map(|b| String::from_utf8_lossy(&b).into_owned()));
                    break;
                }
                Some(R::Err(_)) | None => continue,
                other => return Err(format!("GET {k}: {other:?}")),
            }
        }
        if found != Some(Some(v.clone())) {
            return Err(format!("acknowledged write {k}={v} lost: {found:?}"));
        }
    }
    Ok(())
}

/// One seeded schedule: faults while the workload runs, then healing and the checks.
fn schedule(seed: u64, faults: usize) -> Result<String, String> {
    let mut sim = Sim::new(seed);
    create(&mut sim)?;
    let mut log = Vec::new();
    for _ in 0..faults {
        let mut promoted = None;
        let kind = sim.net.rng.below(6);
        match kind {
            0 => {
                // A minority partition: one node, or a master with its replica.
                let a = sim.net.rng.below(NODES as u64) as usize;
                sim.net.side[a] = 1;
                if sim.net.rng.chance(30) {
                    let m = a % MASTERS;
                    sim.net.side[m] = 1;
                    sim.net.side[MASTERS + m % (MASTERS * REPLICAS)] = 1;
                }
                sim.net.cut();
                log.push(format!("partition {:?}", sim.net.side));
            }
            1 => {
                sim.net.delay = 1 + sim.net.rng.below(NODE_TIMEOUT / 2);
                log.push(format!("delay {}", sim.net.delay));
            }
            2 => {
                // Only where its shard keeps a live node (both down: its slots are lost,
                // as in Redis without persistence).
                let a = sim.net.rng.below(NODES as u64) as usize;
                let partner = if a < MASTERS {
                    a + MASTERS
                } else {
                    a - MASTERS
                };
                // The partner must hold the data: a master, or a replica whose link is up (a
                // replica still syncing after a restart cannot take over).
                let repl = sim.info(partner, "replication");
                let synced = repl.get("role").map(String::as_str) == Some("master")
                    || repl.get("master_link_status").map(String::as_str) == Some("up");
                if sim.up(a) && sim.up(partner) && synced {
                    sim.crash(a);
                    log.push(format!("crash {a}"));
                }
            }
            4 | 5 => {
                // CLUSTER FAILOVER (coordinated: the master pauses writes until its replica
                // caught up) or TAKEOVER (no vote, a new epoch) on a replica.
                let a = sim.net.rng.below(NODES as u64) as usize;
                let role = sim.info(a, "replication").get("role").cloned();
                if role.as_deref() == Some("slave") {
                    let mut args = vec!["CLUSTER", "FAILOVER"];
                    if kind == 5 {
                        args.push("TAKEOVER");
                    }
                    let r = sim.cmd(a, &args);
                    log.push(format!("{} on {a}: {r:?}", args.join(" ")));
                    if r == Some(R::Simple("OK".into())) {
                        promoted = Some(a);
                    }
                }
            }
            _ => {
                log.push("quiet".into());
            }
        }
        let span = NODE_TIMEOUT / 2 + sim.net.rng.below(NODE_TIMEOUT * 4);
        let end = sim.now() + span;
        while sim.now() < end {
            if sim.net.rng.chance(20) {
                sim.start_write();
            }
            sim.step();
            if sim.now().is_multiple_of(1000) {
                sim.sample_epochs()?;
            }
        }
        // Heal: partitions and delays end; crashed nodes restart once their failover had
        // time to happen (a master coming back empty before that would lose its writes).
        sim.net.side.fill(0);
        sim.net.delay = 0;
        sim.run_for(NODE_TIMEOUT * 6);
        if let Some(a) = promoted {
            let role = sim.info(a, "replication").get("role").cloned();
            if role.as_deref() != Some("master") {
                return Err(format!(
                    "the manual failover of {a} did not happen: {log:?}"
                ));
            }
        }
        let mut restarted = false;
        for i in 0..NODES {
            if sim.nodes[i].crashed_at.is_some() && sim.restart(i, seed ^ (i as u64) << 8) {
                log.push(format!("restart {i}"));
                restarted = true;
            }
        }
        // A restarted node rejoins and resyncs before the next fault.
        if restarted {
            sim.run_for(NODE_TIMEOUT * 6);
        }
    }
    converge(&mut sim, 60_000).map_err(|e| format!("{e} after {log:?}"))?;
    sim.run_for(2000);
    check(&mut sim).map_err(|e| format!("{e} after {log:?}"))?;
    Ok(format!("{} acked writes; {log:?}", sim.acked.len()))
}

#[test]
fn seeded_fault_schedules_keep_the_cluster_invariants() {
    let count: u64 = std::env::var("CLUSTER_SIM_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seeds: Vec<u64> = match std::env::var("CLUSTER_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(s) => vec![s],
        None => (1..=count).collect(),
    };
    let mut failures = Vec::new();
    let total = seeds.len();
    for seed in seeds {
        match schedule(seed, 3) {
            Ok(summary) => {
                if std::env::var("CLUSTER_SIM_VERBOSE").is_ok() {
                    eprintln!("seed {seed}: {summary}");
                }
            }
            Err(e) => failures.push(format!("seed {seed}: {e}")),
        }
    }
    // The line `cargo xtask test`'s release-mode suite counts schedules by.
    println!("cluster sim: {total} schedules, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn publish_and_spublish_cross_the_bus() {
    let mut sim = Sim::new(99);
    create(&mut sim).unwrap();
    let now = sim.t();
    // A subscriber on every node; PUBLISH on node 0 reaches them all.
    let subs: Vec<ClientHandle> = (0..NODES)
        .map(|i| {
            let c = sim.eng(i).connect(now, ConnInfo::default());
            sim.eng(i).feed(now, c, &encode(&["SUBSCRIBE", "news"]));
            let mut out = Vec::new();
            sim.eng(i).drain_output(c, &mut out);
            c
        })
        .collect();
    assert_eq!(sim.cmd(0, &["PUBLISH", "news", "hello"]), Some(R::Int(1)));
    sim.run_for(100);
    for (i, c) in subs.iter().enumerate() {
        let mut out = Vec::new();
        sim.eng(i).drain_output(*c, &mut out);
        let (msg, _) = parse(&out).unwrap_or_else(|| panic!("node {i} got nothing"));
        assert_eq!(
            msg,
            R::Array(vec![
                R::Bulk(Some(b"message".to_vec())),
                R::Bulk(Some(b"news".to_vec())),
                R::Bulk(Some(b"hello".to_vec())),
            ]),
            "node {i}"
        );
    }
    // SPUBLISH reaches the shard's replica: "news" hashes to slot 5161 (master 0, replica
    // 3).
    let rc = sim.eng(3).connect(now, ConnInfo::default());
    sim.eng(3).feed(now, rc, &encode(&["READONLY"]));
    sim.eng(3).feed(now, rc, &encode(&["SSUBSCRIBE", "news"]));
    let mut out = Vec::new();
    sim.eng(3).drain_output(rc, &mut out);
    assert!(
        out.starts_with(b"+OK\r\n*3\r\n$10\r\nssubscribe"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(sim.cmd(0, &["SPUBLISH", "news", "s1"]), Some(R::Int(0)));
    sim.run_for(100);
    let mut out = Vec::new();
    sim.eng(3).drain_output(rc, &mut out);
    let (msg, _) = parse(&out).expect("the shard's replica got it");
    assert_eq!(
        msg,
        R::Array(vec![
            R::Bulk(Some(b"smessage".to_vec())),
            R::Bulk(Some(b"news".to_vec())),
            R::Bulk(Some(b"s1".to_vec())),
        ])
    );
}

#[test]
fn a_replica_migrates_to_an_orphaned_master() {
    // Master 0 has two replicas (3 and 5), master 1 one (4), master 2 none.
    let mut sim = Sim::new(7);
    create_with(&mut sim, &[(3, 0), (4, 1), (5, 0)]).unwrap();
    // Master 1 loses its replica: it is orphaned, and the replica of master 0 with the
    // smaller name moves to it (cluster-migration-barrier 1 leaves master 0 one replica).
    sim.crash(4);
    sim.run_for(NODE_TIMEOUT * 15);
    let (a, b) = (sim.names[3].clone(), sim.names[5].clone());
    let mover = if a < b { 3 } else { 5 };
    let stayer = 8 - mover;
    let port = |sim: &mut Sim, i: usize| sim.info(i, "replication").get("master_port").cloned();
    assert_eq!(
        port(&mut sim, mover).as_deref(),
        Some("7001"),
        "node {mover} moved"
    );
    assert_eq!(
        port(&mut sim, stayer).as_deref(),
        Some("7000"),
        "node {stayer} stayed"
    );
    converge(&mut sim, 30_000).unwrap();
    check(&mut sim).unwrap();
}
