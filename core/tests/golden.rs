//! Runs every golden transcript (testdata/golden) on the in-process Engine with a virtual clock,
//! fails if any transcript present did not run, and checks that every command of the table
//! appears in some transcript.

use oxidis_core::golden::{self, Driver};
use oxidis_core::resp::{Args, Decoded, RequestDecoder};
use oxidis_core::{all_commands, ClientHandle, Config, ConnInfo, Engine, UnixMillis};
use std::collections::{BTreeSet, HashMap};

#[path = "support/net.rs"]
mod net;

struct EngineDriver {
    eng: Engine,
    now: UnixMillis,
    clients: Vec<ClientHandle>,
}

impl EngineDriver {
    fn client(&mut self, n: usize) -> ClientHandle {
        while self.clients.len() <= n {
            let id = self.eng.connect(self.now, ConnInfo::default());
            self.clients.push(id);
        }
        self.clients[n]
    }
}

impl Driver for EngineDriver {
    fn send(&mut self, client: usize, bytes: &[u8], _expect: usize) -> Result<Vec<u8>, String> {
        let id = self.client(client);
        self.eng.feed(self.now, id, bytes);
        // Output for other clients stays in their buffers until an @read.
        while self.eng.poll_event().is_some() {}
        let mut out = Vec::new();
        self.eng.drain_output(id, &mut out);
        Ok(out)
    }

    fn advance(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
        self.eng.tick(self.now);
        while self.eng.poll_event().is_some() {}
    }

    fn read(&mut self, client: usize, _expect: usize) -> Result<Vec<u8>, String> {
        let id = self.client(client);
        let mut out = Vec::new();
        self.eng.drain_output(id, &mut out);
        Ok(out)
    }

    fn is_closed(&mut self, client: usize) -> bool {
        let id = self.client(client);
        self.eng.should_close(id)
    }
}

/// An engine as every golden runner starts its server: DEBUG allowed (as Redis's own test
/// suite starts its servers), Lua, a test ACL host, and a constant used-memory figure.
/// `seed` makes the engine's random choices (a cluster node's ID); `tcp_port` is the port
/// the host says it listens on (a replica announces it to its master).
fn make_engine(mut cfg: Config, now: UnixMillis, seed: u64, tcp_port: u16) -> Engine {
    cfg.set("enable-debug-command", b"yes")
        .expect("enable-debug-command");
    let mut eng = Engine::new(cfg, seed);
    eng.set_script_vm_factory(Box::new(oxidis_lua::LuaVmFactory));
    eng.set_acl_host(Box::new(TestAclHost(0x9e37_79b9_7f4a_7c15)));
    // The host's used-memory figure: a constant like an empty redis-server's (~1 MB), so
    // `CONFIG SET maxmemory 1` puts both servers over the limit.
    let host = oxidis_core::HostInfo {
        used_memory: Some(|| 1 << 20),
        tcp_port,
        ..Default::default()
    };
    eng.set_host_info(now, host);
    eng
}

/// A topology transcript's driver (testdata/golden/topology/): engines in one process wired by
/// the test network (support/net.rs), set up as golden::Topology says with the same commands
/// the TCP runner sends, the clock advanced while a reply is awaited (WAIT, a MIGRATE).
struct TopologyDriver {
    net: net::Net,
    node: usize,
    clients: HashMap<(usize, usize), ClientHandle>,
    vars: Vec<(String, String)>,
}

/// How long (virtual) a step may wait for its replies, and a topology to settle.
const TOPOLOGY_WAIT_MS: u64 = 30_000;

fn request(args: &[&str]) -> Vec<u8> {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    oxidis_core::resp::encode_request(&args)
}

/// A reply's text: a bulk's content, or the RESP line of anything else.
fn reply_text(bytes: &[u8]) -> String {
    let lines = golden::reply_lines(bytes);
    if lines.first().is_some_and(|l| l.starts_with('$')) {
        lines[1..].join("\n")
    } else {
        lines.join("\n")
    }
}

impl TopologyDriver {
    fn start(top: golden::Topology, now: UnixMillis) -> Result<TopologyDriver, String> {
        let ports: Vec<(u16, u16)> = (0..top.nodes() as u16)
            .map(|i| (30001 + i, 40001 + i))
            .collect();
        let mut net = net::Net::new(now, ports.clone(), top.cluster(), |i, cfg| {
            make_engine(cfg, now, 1 + i as u64, ports[i].0)
        });
        let ok = |net: &mut net::Net, i: usize, args: &[&str]| {
            let r = reply_text(&net.call(i, &request(args)));
            if r.starts_with('+') {
                Ok(())
            } else {
                Err(format!("n{}: {args:?}: {r}", i + 1))
            }
        };
        let mut nodes = Vec::new();
        for (i, &(port, bus)) in ports.iter().enumerate() {
            if top.cluster() {
                let id = reply_text(&net.call(i, &request(&["CLUSTER", "MYID"])));
                nodes.push((port, Some(bus), Some(id)));
                ok(
                    &mut net,
                    i,
                    &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()],
                )?;
                if let Some((a, b)) = top.slots(i) {
                    ok(
                        &mut net,
                        i,
                        &["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()],
                    )?;
                }
            } else {
                nodes.push((port, None, None));
            }
        }
        if top.cluster() {
            for &(port, bus) in &ports[1..] {
                let (p, b) = (port.to_string(), bus.to_string());
                ok(&mut net, 0, &["CLUSTER", "MEET", "127.0.0.1", &p, &b])?;
            }
        }
        let mut waited = 0;
        for i in 0..ports.len() {
            let Some(m) = top.master_of(i) else { continue };
            if let Some(id) = nodes[m].2.clone() {
                // A cluster replica must know its master first.
                while !reply_text(&net.call(i, &request(&["CLUSTER", "NODES"]))).contains(&id) {
                    if waited >= TOPOLOGY_WAIT_MS {
                        return Err(format!("n{} never learned n{}'s ID", i + 1, m + 1));
                    }
                    net.step();
                    waited += net::STEP_MS;
                }
                ok(&mut net, i, &["CLUSTER", "REPLICATE", &id])?;
            } else {
                ok(
                    &mut net,
                    i,
                    &["REPLICAOF", "127.0.0.1", &ports[m].0.to_string()],
                )?;
            }
        }
        loop {
            match settled(top, &mut net) {
                Ok(()) => break,
                Err(e) if waited >= TOPOLOGY_WAIT_MS => {
                    return Err(format!(
                        "{top:?} did not settle: {e}\n{}",
                        net.log.join("\n")
                    ))
                }
                Err(_) => {
                    net.step();
                    waited += net::STEP_MS;
                }
            }
        }
        Ok(TopologyDriver {
            net,
            node: 0,
            clients: HashMap::new(),
            vars: golden::topology_vars(&nodes),
        })
    }

    fn client(&mut self, n: usize) -> ClientHandle {
        let node = self.node;
        if let Some(&c) = self.clients.get(&(node, n)) {
            return c;
        }
        let c = self.net.connect(node);
        self.clients.insert((node, n), c);
        c
    }

    /// Drains client `id`'s output, advancing the clock until `expect` whole replies are there
    /// (or the wait ends: the runner then reports what came).
    fn collect(&mut self, id: ClientHandle, expect: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut waited = 0;
        loop {
            self.net.eng(self.node).drain_output(id, &mut out);
            let have = golden::split_replies(&out).map_or(0, |r| r.len());
            if have >= expect || waited >= TOPOLOGY_WAIT_MS {
                return out;
            }
            self.net.step();
            waited += net::STEP_MS;
        }
    }
}

/// The same checks as the TCP runner's (testkit golden_tcp::settled), on the engines.
fn settled(top: golden::Topology, net: &mut net::Net) -> Result<(), String> {
    let n = top.nodes();
    let field = |text: &str, f: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(f)?.strip_prefix(':'))
            .map(|v| v.trim_end().to_string())
            .unwrap_or_default()
    };
    if top.cluster() {
        for i in 0..n {
            let info = reply_text(&net.call(i, &request(&["CLUSTER", "INFO"])));
            for (f, want) in [
                ("cluster_state", "ok".to_string()),
                ("cluster_known_nodes", n.to_string()),
                ("cluster_slots_assigned", "16384".to_string()),
                ("cluster_size", top.masters().to_string()),
            ] {
                if field(&info, f) != want {
                    return Err(format!("n{}: {f} is not {want}", i + 1));
                }
            }
            let nodes = reply_text(&net.call(i, &request(&["CLUSTER", "NODES"])));
            if nodes.lines().count() != n
                || nodes.lines().any(|l| {
                    l.contains("handshake")
                        || l.contains("noaddr")
                        || l.contains("fail")
                        || !l.contains(" connected")
                })
                || nodes.lines().filter(|l| l.contains("slave")).count() != n - top.masters()
            {
                return Err(format!("n{}: nodes not all connected: {nodes}", i + 1));
            }
        }
    }
    for i in 0..n {
        if let Some(m) = top.master_of(i) {
            let r = reply_text(&net.call(i, &request(&["INFO", "replication"])));
            let mi = reply_text(&net.call(m, &request(&["INFO", "replication"])));
            if field(&r, "master_link_status") != "up"
                || !field(&mi, "slave0").contains("state=online")
            {
                return Err(format!("n{}: not linked", i + 1));
            }
            if field(&mi, "master_repl_offset") != field(&r, "slave_repl_offset") {
                return Err(format!("n{}: offsets differ", i + 1));
            }
        }
    }
    Ok(())
}

impl Driver for TopologyDriver {
    fn send(&mut self, client: usize, bytes: &[u8], expect: usize) -> Result<Vec<u8>, String> {
        let id = self.client(client);
        self.net.feed(self.node, id, bytes);
        Ok(self.collect(id, expect))
    }

    fn advance(&mut self, ms: u64) {
        for _ in 0..ms.div_ceil(net::STEP_MS) {
            self.net.step();
        }
    }

    fn read(&mut self, client: usize, expect: usize) -> Result<Vec<u8>, String> {
        let id = self.client(client);
        Ok(self.collect(id, expect))
    }

    fn is_closed(&mut self, client: usize) -> bool {
        let id = self.client(client);
        self.net.eng(self.node).should_close(id)
    }

    fn select_node(&mut self, node: usize) -> Result<(), String> {
        if node >= self.net.engines.len() {
            return Err(format!(
                "no node n{}: this topology has {}",
                node + 1,
                self.net.engines.len()
            ));
        }
        self.node = node;
        Ok(())
    }

    fn vars(&self) -> Vec<(String, String)> {
        self.vars.clone()
    }
}

// The one walk of testdata/golden (testkit's; core cannot depend on testkit, which depends on
// core, so the file is included by path).
#[path = "../../testkit/src/transcripts.rs"]
mod transcripts;

#[test]
fn golden_transcripts_on_the_engine() {
    let root = transcripts::golden_dir();
    let filter = std::env::var("GOLDEN").unwrap_or_default();
    let wanted = transcripts::transcripts(&root, &filter);
    assert!(
        !wanted.is_empty(),
        "no transcript under {} matches {filter:?}: a golden run that runs nothing must fail",
        root.display()
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut topologies = 0;
    for (name, f) in &wanted {
        let text = std::fs::read_to_string(f).expect("read transcript");
        let steps = match golden::parse(&text) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if !steps.iter().any(|s| matches!(s, golden::Step::Send { .. })) {
            failures.push(format!("{name}: no request in it: it tests nothing"));
            continue;
        }
        // A fixed, realistic start time so EXPIREAT-style transcripts behave.
        let now = UnixMillis(1_700_000_000_000);
        match golden::Topology::of(name) {
            Ok(None) => {}
            Ok(Some(top)) => {
                match TopologyDriver::start(top, now) {
                    Ok(mut d) => failures.extend(golden::run(name, &steps, &mut d)),
                    Err(e) => failures.push(format!("{name}: {e}")),
                }
                topologies += 1;
                ran += 1;
                continue;
            }
            Err(e) => {
                failures.push(e);
                continue;
            }
        }
        let mut cfg = Config::default();
        if golden::needs_cluster(name) {
            cfg.set("cluster-enabled", b"yes").expect("cluster-enabled");
        }
        let eng = make_engine(cfg, now, 1, 0);
        let mut d = EngineDriver {
            eng,
            now,
            clients: Vec::new(),
        };
        failures.extend(golden::run(name, &steps, &mut d));
        ran += 1;
    }
    eprintln!(
        "{ran} of {} transcripts run on the engine ({topologies} of them on topologies of engines)",
        wanted.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        ran,
        wanted.len(),
        "every transcript present must run: {ran} ran of {} files",
        wanted.len()
    );
}

/// Commands of the table that no transcript can show, each with the reason. Everything else
/// must appear in a transcript (in a safe form where its real effect cannot run there: an
/// arity or syntax error, a refusal, inside a transaction).
const NOT_IN_TRANSCRIPTS: &[(&str, &str)] = &[(
    "client|setinfo",
    "Redis 7.2's command, kept because clients send it on connect; the reference redis-server \
     7.0.15 answers `unknown subcommand`, so no transcript can record it (connection.rs unit \
     tests and the real-clients suite cover it)",
)];

/// The command names a request names: "get", and "client|list" for a subcommand.
fn requested_commands(bytes: &[u8], out: &mut BTreeSet<String>) {
    let mut d = RequestDecoder::new();
    let mut rest = bytes;
    loop {
        match d.decode(rest) {
            Ok(Decoded::Request { consumed }) => {
                let args: Vec<Vec<u8>> = match d.args() {
                    Args::Ranges(r) => r.iter().map(|r| rest[r.clone()].to_vec()).collect(),
                    Args::Owned(o) => o.to_vec(),
                };
                let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
                if let Some(sub) = args.get(1) {
                    out.insert(format!(
                        "{name}|{}",
                        String::from_utf8_lossy(sub).to_ascii_lowercase()
                    ));
                }
                out.insert(name);
                rest = &rest[consumed..];
            }
            Ok(Decoded::Empty { consumed }) => rest = &rest[consumed..],
            Ok(Decoded::Incomplete) | Err(_) => return,
        }
    }
}

/// Every command in the table appears in at least one transcript, so a new command cannot
/// land untested (subcommands as "parent|sub", e.g. `client|list`).
#[test]
fn every_command_in_the_table_has_a_transcript() {
    let root = transcripts::golden_dir();
    let mut seen = BTreeSet::new();
    for (_, f) in transcripts::transcripts(&root, "") {
        let text = std::fs::read_to_string(&f).expect("read transcript");
        let steps = golden::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for s in steps {
            if let golden::Step::Send { bytes, .. } = s {
                requested_commands(&bytes, &mut seen);
            }
        }
    }
    let exempt: BTreeSet<&str> = NOT_IN_TRANSCRIPTS.iter().map(|(n, _)| *n).collect();
    let names: BTreeSet<&str> = all_commands().map(|c| c.name).collect();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !seen.contains(*n) && !exempt.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "commands in the table that no transcript under {} sends: {missing:?}\n\
         add a transcript (cargo xtask golden --record ADDR FILE), or an exemption with its reason",
        root.display()
    );
    // An exemption for a command that is gone, or that a transcript now shows, is stale.
    let stale: Vec<&str> = exempt
        .iter()
        .copied()
        .filter(|n| !names.contains(n) || seen.contains(*n))
        .collect();
    assert!(stale.is_empty(), "stale exemptions: {stale:?}");
}

/// A test host: no files, and seeded (not secret) random bytes for ACL GENPASS.
struct TestAclHost(u64);

impl oxidis_core::acl::AclHost for TestAclHost {
    fn read_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {path} in tests"))
    }

    fn write_file(&mut self, path: &str, _data: &[u8]) -> Result<(), String> {
        Err(format!("no file {path} in tests"))
    }

    fn random_bytes(&mut self, buf: &mut [u8]) -> Result<(), String> {
        for b in buf {
            // xorshift64
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
        Ok(())
    }
}
