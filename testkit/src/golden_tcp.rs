//! The golden-transcript driver over TCP: replays testdata/golden on any server address
//! (oxidis-server in native's tests and `cargo xtask test`, or Debian's redis-server to prove
//! the transcripts are Redis's behaviour), and records a transcript's replies from a server.

use crate::transcripts::transcripts;
use crate::{Conn, Server};
use oxidis_core::golden::{self, Driver};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// How long a transcript waits for the replies it expects.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// A request that expects no reply: how long to watch for one anyway.
const NO_REPLY_WAIT: Duration = Duration::from_millis(200);
/// Recording: the wait for a first byte, then the quiet that ends a reply.
const RECORD_FIRST: Duration = Duration::from_millis(300);
const RECORD_QUIET: Duration = Duration::from_millis(50);

/// The transcript's clients `[c1]`, `[c2]` ... (on a topology, of each node `[n2.c1]` ...),
/// each connected on first use.
pub struct TcpDriver {
    addrs: Vec<String>,
    node: usize,
    conns: HashMap<(usize, usize), Conn>,
    vars: Vec<(String, String)>,
}

impl TcpDriver {
    pub fn new(addr: &str) -> TcpDriver {
        TcpDriver::nodes(vec![addr.to_string()], Vec::new())
    }

    /// A driver over a topology's servers (node 1 first) and their `${name}` values.
    pub fn nodes(addrs: Vec<String>, vars: Vec<(String, String)>) -> TcpDriver {
        TcpDriver {
            addrs,
            node: 0,
            conns: HashMap::new(),
            vars,
        }
    }

    fn conn(&mut self, n: usize) -> Result<&mut Conn, String> {
        let key = (self.node, n);
        if !self.conns.contains_key(&key) {
            let mut c = Conn::connect(&self.addrs[self.node])?;
            c.set_timeout(REPLY_TIMEOUT);
            self.conns.insert(key, c);
        }
        Ok(self.conns.get_mut(&key).expect("just set"))
    }

    /// Sends and reads like a recording must: without knowing how many replies come.
    fn send_recording(&mut self, client: usize, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let c = self.conn(client)?;
        c.send_raw(bytes)?;
        c.read_quiet(RECORD_FIRST, RECORD_QUIET)
    }

    fn read_recording(&mut self, client: usize) -> Result<Vec<u8>, String> {
        self.conn(client)?.read_quiet(RECORD_FIRST, RECORD_QUIET)
    }
}

/// `expect` whole replies (and all that came with them), or for 0 whatever arrives meanwhile.
fn read_expected(c: &mut Conn, expect: usize) -> Result<Vec<u8>, String> {
    if expect == 0 {
        c.read_quiet(NO_REPLY_WAIT, NO_REPLY_WAIT)
    } else {
        c.read_replies(expect).map(|(bytes, _)| bytes)
    }
}

impl Driver for TcpDriver {
    fn send(&mut self, client: usize, bytes: &[u8], expect: usize) -> Result<Vec<u8>, String> {
        let c = self.conn(client)?;
        c.send_raw(bytes)?;
        read_expected(c, expect)
    }

    fn advance(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    fn read(&mut self, client: usize, expect: usize) -> Result<Vec<u8>, String> {
        read_expected(self.conn(client)?, expect)
    }

    fn is_closed(&mut self, client: usize) -> bool {
        match self.conn(client) {
            Ok(c) => c.is_closed(Duration::from_secs(5)),
            Err(_) => true,
        }
    }

    fn select_node(&mut self, node: usize) -> Result<(), String> {
        if node >= self.addrs.len() {
            return Err(format!(
                "no node n{}: this topology has {}",
                node + 1,
                self.addrs.len()
            ));
        }
        self.node = node;
        Ok(())
    }

    fn vars(&self) -> Vec<(String, String)> {
        self.vars.clone()
    }
}

/// Replays every transcript (whose path contains `filter`) that suits the server at `addr`,
/// each on fresh connections after FLUSHALL. A cluster-mode server (`cluster_enabled:1`) runs
/// the transcripts of `cluster/` (golden::needs_cluster) and a plain one all the others: a
/// full run takes one server of each kind. Returns (transcripts run, failure messages).
pub fn run_against(addr: &str, root: &Path, filter: &str) -> (usize, Vec<String>) {
    let results = run_each(addr, root, filter);
    let ran = results.len();
    let failures = results.into_iter().flat_map(|(_, f)| f).collect();
    (ran, failures)
}

/// Like `run_against`, but one entry per transcript: (its name, its failure messages), so
/// callers can count transcripts that passed and failed. Transcripts under topology/ need
/// several servers: `run_topologies` runs them.
pub fn run_each(addr: &str, root: &Path, filter: &str) -> Vec<(String, Vec<String>)> {
    let cluster = match is_cluster(addr) {
        Ok(c) => c,
        Err(e) => return vec![(addr.to_string(), vec![format!("INFO cluster: {e}")])],
    };
    if cluster {
        settle_cluster_node(addr);
    }
    transcripts(root, filter)
        .into_iter()
        .filter(|(name, _)| !is_topology(name) && golden::needs_cluster(name) == cluster)
        .map(|(name, f)| {
            let failures = run_one(addr, &f, &name);
            (name, failures)
        })
        .collect()
}

fn run_one(addr: &str, file: &Path, name: &str) -> Vec<String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let steps = match golden::parse(&text) {
        Ok(s) => s,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    if let Err(e) = flushall(addr) {
        return vec![format!("{name}: FLUSHALL: {e}")];
    }
    let mut d = TcpDriver::new(addr);
    golden::run(name, &steps, &mut d)
}

/// Whether the server runs in cluster mode (INFO's cluster_enabled:1).
pub fn is_cluster(addr: &str) -> Result<bool, String> {
    match Conn::connect(addr)?.call(&["INFO", "cluster"])? {
        oxidis_core::resp::Reply::Bulk(b) | oxidis_core::resp::Reply::Verbatim(_, b) => {
            Ok(b.windows(17).any(|w| w == b"cluster_enabled:1"))
        }
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// redis-server leaves its cluster state alone for 2 s after it starts (clusterUpdateState's
/// CLUSTER_WRITABLE_DELAY: CLUSTER INFO's cluster_size lags then): wait until the node is
/// older than that, so a freshly started server answers as it always will.
fn settle_cluster_node(addr: &str) {
    let uptime = Conn::connect(addr)
        .and_then(|mut c| c.call(&["INFO", "server"]))
        .ok()
        .and_then(|r| match r {
            oxidis_core::resp::Reply::Bulk(b) | oxidis_core::resp::Reply::Verbatim(_, b) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                text.lines()
                    .find_map(|l| l.strip_prefix("uptime_in_seconds:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            }
            _ => None,
        })
        .unwrap_or(0);
    if uptime < 3 {
        std::thread::sleep(Duration::from_secs(3 - uptime));
    }
}

/// The state a transcript starts from: an empty keyspace and, on a cluster node, a fresh
/// node (CLUSTER RESET HARD: no slots, no other node, epochs 0, a new ID). The reset's reply
/// is not checked: the transcripts under cluster/ also leave the node as they found it.
fn flushall(addr: &str) -> Result<(), String> {
    let mut c = Conn::connect(addr)?;
    c.call_ok(&["FLUSHALL"])?;
    if is_cluster(addr)? {
        let _ = c.call(&["CLUSTER", "RESET", "HARD"]);
    }
    Ok(())
}

/// Writes a transcript's expected replies from a real server: reads `file`, sends every
/// request to `addr` (after FLUSHALL), and returns the text with each request followed by
/// the server's reply lines (replacing any it had). Directives and comments are kept;
/// `@advance` sleeps; `[cN] @read` records what arrived on that client meanwhile. A request
/// whose reply does not come within 300 ms (a BLPOP that blocks) records none. This records
/// Redis's behaviour instead of anybody's guess of it.
pub fn record(addr: &str, text: &str) -> Result<String, String> {
    flushall(addr)?;
    record_with(&mut TcpDriver::new(addr), text)
}

/// The recording itself, on a driver already set up (one server, or a topology's). Old reply
/// lines that still match the new reply (`:*` wildcards and captures, `${name}` values, a
/// [`golden::SHAPE_BULK`]'s patterns) are kept as they are; new ones name the topology's
/// values ([`golden::generalize`]: ports, bus ports and node IDs as `${n2.port}` ...).
fn record_with(d: &mut TcpDriver, text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut vars: HashMap<String, String> = d.vars().into_iter().collect();
    let topo = d.vars();
    let mut lines = text.lines().peekable();
    let write = |out: &mut String, old: &[String], reply: &[u8], vars: &mut HashMap<_, _>| {
        let new = golden::reply_lines(reply);
        if !old.is_empty() && golden::lines_match(&new, old, vars) {
            for l in old {
                out.push_str(l);
                out.push('\n');
            }
            return;
        }
        for (i, l) in new.into_iter().enumerate() {
            let kept = old.get(i).and_then(|o| {
                let var = golden::capture_name(o)?;
                let v: i64 = l.strip_prefix(':')?.parse().ok()?;
                if !var.is_empty() {
                    vars.insert(var.to_string(), v.to_string());
                }
                Some(o.to_string())
            });
            out.push_str(&kept.unwrap_or_else(|| golden::generalize(&l, &topo)));
            out.push('\n');
        }
    };
    // The reply lines recorded before (kept when they still match); a shape bulk's content
    // may hold `#` lines (INFO's section header), up to a blank line.
    let take_old = |lines: &mut std::iter::Peekable<std::str::Lines>| {
        let mut old: Vec<String> = Vec::new();
        let mut in_shape = false;
        while let Some(l) = lines.peek() {
            let reply = golden::is_reply_line(l) && (in_shape || !golden::is_comment(l));
            if !reply {
                break;
            }
            in_shape |= *l == golden::SHAPE_BULK || *l == golden::SHAPE_BULK_ANY_ORDER;
            old.extend(lines.next().map(str::to_string));
        }
        old
    };
    while let Some(line) = lines.next() {
        let steps = golden::parse(line).map_err(|e| format!("{line:?}: {e}"))?;
        out.push_str(line);
        out.push('\n');
        match steps.first() {
            Some(golden::Step::Send {
                node,
                client,
                bytes,
                template,
                ..
            }) => {
                d.select_node(*node)?;
                let old = take_old(&mut lines);
                let bytes = match template {
                    Some(t) => golden::encode_template(t, &vars)?,
                    None => bytes.clone(),
                };
                let closes = lines.peek().is_some_and(|l| l.trim_end() == "@closed");
                // Whatever arrives: nothing for a request that blocks or is not answered
                // (CLIENT REPLY OFF).
                let reply = if closes {
                    d.send(*client, &bytes, 0)?
                } else {
                    d.send_recording(*client, &bytes)?
                };
                write(&mut out, &old, &reply, &mut vars);
            }
            Some(golden::Step::Read { node, client, .. }) => {
                d.select_node(*node)?;
                let old = take_old(&mut lines);
                let reply = d.read_recording(*client)?;
                write(&mut out, &old, &reply, &mut vars);
            }
            Some(golden::Step::Advance(ms)) => d.advance(*ms),
            _ => {}
        }
    }
    Ok(out)
}

/// Whether the transcript runs on a topology (`topology/`): not on one server.
pub fn is_topology(name: &str) -> bool {
    !matches!(golden::Topology::of(name), Ok(None))
}

/// Starts one server for a topology: `cluster` with `cluster-enabled yes` and a bus port of
/// its own (`CONFIG GET cluster-port` tells which); the guard stops it.
pub type StartServer<'a> = &'a dyn Fn(bool) -> Result<Server, String>;

/// A topology's `${name}` values (golden::topology_vars).
pub type TopologyVars = Vec<(String, String)>;

/// How long a topology may take to settle (a sync, a cluster's gossip).
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);

/// Starts a topology's servers with `start` and sets it up with real commands, as
/// [`golden::Topology`] describes: REPLICAOF, or CLUSTER SET-CONFIG-EPOCH (n1 1, n2 2, ...),
/// ADDSLOTSRANGE and MEET; then waits until it is settled (the replica online on its master,
/// every cluster node in state ok knowing every node and slot). Returns the servers (node 1
/// first) and the `${name}` values.
pub fn start_topology(
    top: golden::Topology,
    start: StartServer,
) -> Result<(Vec<Server>, TopologyVars), String> {
    let servers: Vec<Server> = (0..top.nodes())
        .map(|_| start(top.cluster()))
        .collect::<Result<_, _>>()?;
    let mut nodes = Vec::new();
    for s in &servers {
        let mut c = s.connect()?;
        let (bus, id) = if top.cluster() {
            let bus = match c.call(&["CONFIG", "GET", "cluster-port"])? {
                oxidis_core::resp::Reply::Array(a) if a.len() == 2 => text(&a[1])
                    .parse::<u16>()
                    .map_err(|e| format!("cluster-port: {e}"))?,
                other => return Err(format!("CONFIG GET cluster-port: {other:?}")),
            };
            let bus = if bus == 0 { s.port() + 10000 } else { bus };
            (Some(bus), Some(text(&c.call_ok(&["CLUSTER", "MYID"])?)))
        } else {
            (None, None)
        };
        nodes.push((s.port(), bus, id));
    }
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let mut conns: Vec<Conn> = servers
        .iter()
        .map(Server::connect)
        .collect::<Result<_, _>>()?;
    if top.cluster() {
        for (i, c) in conns.iter_mut().enumerate() {
            c.call_ok(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])?;
            if let Some((a, b)) = top.slots(i) {
                c.call_ok(&["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()])?;
            }
        }
        for (port, bus, _) in &nodes[1..] {
            let bus = bus.unwrap_or(0).to_string();
            conns[0].call_ok(&["CLUSTER", "MEET", "127.0.0.1", &port.to_string(), &bus])?;
        }
    }
    let deadline = std::time::Instant::now() + SETTLE_DEADLINE;
    for (i, c) in conns.iter_mut().enumerate() {
        let Some(m) = top.master_of(i) else { continue };
        if let Some(id) = &nodes[m].2 {
            // A cluster replica must know its master first (CLUSTER REPLICATE refuses an
            // unknown node).
            while !text(&c.call_ok(&["CLUSTER", "NODES"])?).contains(id.as_str()) {
                if std::time::Instant::now() > deadline {
                    return Err(format!("n{} never learned n{}'s ID", i + 1, m + 1));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            c.call_ok(&["CLUSTER", "REPLICATE", id])?;
        } else {
            c.call_ok(&["REPLICAOF", "127.0.0.1", &nodes[m].0.to_string()])?;
        }
    }
    loop {
        match settled(top, &mut conns) {
            Ok(()) => break,
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(format!("{top:?} at {addrs:?} did not settle: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Ok((servers, golden::topology_vars(&nodes)))
}

/// Ok when the topology is set up (an error saying what is still missing otherwise).
fn settled(top: golden::Topology, conns: &mut [Conn]) -> Result<(), String> {
    if top.cluster() {
        let n = conns.len();
        let replicas = n - top.masters();
        for (i, c) in conns.iter_mut().enumerate() {
            let info = text(&c.call_ok(&["CLUSTER", "INFO"])?);
            for want in [
                "cluster_state:ok".to_string(),
                format!("cluster_known_nodes:{n}"),
                "cluster_slots_assigned:16384".to_string(),
                format!("cluster_size:{}", top.masters()),
            ] {
                if !info.lines().any(|l| l.trim_end() == want) {
                    return Err(format!("n{}: no {want}", i + 1));
                }
            }
            let nodes = text(&c.call_ok(&["CLUSTER", "NODES"])?);
            if nodes.lines().count() != n
                || nodes
                    .lines()
                    .any(|l| l.contains("handshake") || l.contains("noaddr") || l.contains("fail"))
                || nodes.lines().any(|l| !l.contains(" connected"))
                || nodes.lines().filter(|l| l.contains("slave")).count() != replicas
            {
                return Err(format!("n{}: nodes not all connected: {nodes}", i + 1));
            }
        }
        // redis-server's first 2 s: CLUSTER_WRITABLE_DELAY (see settle_cluster_node).
        for c in conns.iter_mut() {
            let up: u64 = c
                .info_field("server", "uptime_in_seconds")?
                .parse()
                .unwrap_or(0);
            if up < 3 {
                return Err("younger than 3 s".into());
            }
        }
    }
    for i in 0..conns.len() {
        if let Some(m) = top.master_of(i) {
            if conns[i].info_field("replication", "master_link_status")? != "up" {
                return Err(format!("n{}: link not up", i + 1));
            }
            let slave0 = conns[m]
                .info_field("replication", "slave0")
                .unwrap_or_default();
            if !slave0.contains("state=online") {
                return Err(format!("n{}: replica not online ({slave0})", m + 1));
            }
            let (mo, ro) = (
                conns[m].info_field("replication", "master_repl_offset")?,
                conns[i].info_field("replication", "slave_repl_offset")?,
            );
            if mo != ro {
                return Err(format!("offsets {mo} != {ro}"));
            }
        }
    }
    Ok(())
}

fn text(r: &oxidis_core::resp::Reply) -> String {
    match r {
        oxidis_core::resp::Reply::Bulk(b) | oxidis_core::resp::Reply::Verbatim(_, b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => format!("{other:?}"),
    }
}

/// Runs every topology transcript under `root` whose name contains `filter`, each on fresh
/// servers started by `start` and set up by [`start_topology`]: one entry per transcript
/// (its name, its failure messages).
pub fn run_topologies(root: &Path, filter: &str, start: StartServer) -> Vec<(String, Vec<String>)> {
    transcripts(root, filter)
        .into_iter()
        .filter(|(name, _)| is_topology(name))
        .map(|(name, f)| {
            let failures = run_topology(&name, &f, start);
            (name, failures)
        })
        .collect()
}

fn run_topology(name: &str, file: &Path, start: StartServer) -> Vec<String> {
    let top = match golden::Topology::of(name) {
        Ok(Some(t)) => t,
        Ok(None) => return vec![format!("{name}: not a topology transcript")],
        Err(e) => return vec![e],
    };
    let steps = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|t| golden::parse(&t))
    {
        Ok(s) => s,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let (servers, vars) = match start_topology(top, start) {
        Ok(x) => x,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut d = TcpDriver::nodes(servers.iter().map(Server::addr).collect(), vars);
    golden::run(name, &steps, &mut d)
}

/// Records a topology transcript (`name` its path under testdata/golden) on fresh servers
/// started by `start` (redis-server, the reference) and set up by [`start_topology`].
pub fn record_topology(name: &str, text: &str, start: StartServer) -> Result<String, String> {
    let top = golden::Topology::of(name)?.ok_or_else(|| format!("{name}: not under topology/"))?;
    let (servers, vars) = start_topology(top, start)?;
    let mut d = TcpDriver::nodes(servers.iter().map(Server::addr).collect(), vars);
    record_with(&mut d, text)
}
