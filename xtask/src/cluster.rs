//! `cargo xtask test cluster`: Redis Cluster (issue 18) with redis-server and Oxidis nodes.
//!
//! One run per node mix (the six kinds below: the first three become the masters, as
//! `redis-cli --cluster create` takes masters in the order given; it picks each master's
//! replica itself among the other three):
//! - six nodes started from config files (`cluster-enabled yes`, `cluster-config-file
//!   nodes.conf` in a data dir of their own, `cluster-node-timeout` 2000, an explicit
//!   `cluster-port`), then `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`;
//! - every node reaches `cluster_state:ok`; `redis-cli --cluster check` reports
//!   "[OK] All nodes agree about slots configuration." and "[OK] All 16384 slots covered."
//!   and no "[ERR]";
//! - redis-py's RedisCluster and ioredis's Cluster run a bounded workload
//!   (tests/clients/python/cluster_workload.py, tests/clients/node/cluster.mjs: strings,
//!   hashes with hash tags, MULTI/EXEC on one slot, PUBLISH across nodes, SPUBLISH);
//! - `redis-cli --cluster reshard` moves 1000 slots from one master to another while a
//!   redis-py writer writes; every write the writer saw acknowledged is read back; the
//!   target master then serves 1000 more slots, and `--cluster check` is OK again;
//! - SIGKILL of a master: its replica is promoted (CLUSTER NODES on the survivors: the
//!   replica is a master, the killed node `fail`) and every survivor is back at
//!   `cluster_state:ok`, within a functional bound derived from cluster-node-timeout (the
//!   measured time is reported, not asserted); then both workloads run again.
//!
//! Ports: the nodes' ports and bus ports are free ports picked at start; with
//! OXIDIS_CLUSTER_PORT_BASE=B they are B, B+1, ... (client) and B+10000, ... (bus) instead,
//! one pair per node started by the process.
//!
//! `cargo xtask cluster-bench` compares the throughput of a 3-master Oxidis cluster with a
//! 3-master redis-server cluster (no replicas) with `redis-benchmark --cluster`.

use crate::servers::{self, Server};
use crate::suite::{poll, Suite};
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// cluster-node-timeout of every node (ms).
const NODE_TIMEOUT_MS: u64 = 2000;
/// Functional bound on convergence waits (cluster_state ok, check OK, promotion): generous,
/// derived from the node timeout (Redis fails a master over in about 2-3 node timeouts).
const DEADLINE: Duration = Duration::from_millis(NODE_TIMEOUT_MS * 30);
/// The limit on one redis-cli run (create, check, reshard).
const REDIS_CLI_LIMIT: Duration = Duration::from_secs(180);
/// Slots `--cluster reshard` moves.
const RESHARD_SLOTS: usize = 1000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Redis,
    Oxidis,
}

/// The node mixes CI runs: six nodes, the first three the masters.
pub const ALL_REDIS: [Kind; 6] = [Kind::Redis; 6];
pub const ALL_OXIDIS: [Kind; 6] = [Kind::Oxidis; 6];
/// 2 Oxidis masters + 1 redis-server master; replicas mixed.
pub const MIXED: [Kind; 6] = [
    Kind::Oxidis,
    Kind::Oxidis,
    Kind::Redis,
    Kind::Redis,
    Kind::Oxidis,
    Kind::Redis,
];

fn label(k: Kind) -> &'static str {
    match k {
        Kind::Redis => "redis",
        Kind::Oxidis => "oxidis",
    }
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::Error(b) | Reply::Verbatim(_, b) => {
            String::from_utf8_lossy(b).into()
        }
        Reply::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn connect(addr: &str) -> Result<Conn, String> {
    let mut c = Conn::connect(addr)?;
    c.set_timeout(Duration::from_secs(10));
    Ok(c)
}

/// A child process killed on drop (the background writer).
struct Bg(Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A node of the cluster under test.
struct Node {
    kind: Kind,
    server: Server,
}

impl Node {
    fn addr(&self) -> String {
        self.server.addr()
    }
}

/// Nodes started so far by this process (each takes the next ports after the base).
static STARTED: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// Two free ports (client, bus) for the next node.
fn ports() -> Result<(u16, u16), String> {
    if let Some(base) = std::env::var("OXIDIS_CLUSTER_PORT_BASE")
        .ok()
        .and_then(|b| b.parse::<u16>().ok())
    {
        // Bus ports there are in the ephemeral range: skip pairs a connection holds.
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        for _ in 0..100 {
            let p = base + STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if free(p) && free(p + 10000) {
                return Ok((p, p + 10000));
            }
        }
        return Err(format!("no free port pair from {base}"));
    }
    loop {
        let (a, b) = (servers::free_port()?, servers::free_port()?);
        if a != b {
            return Ok((a, b));
        }
    }
}

fn start_node(root: &Path, i: usize, kind: Kind, oxidis: &Path) -> Result<Node, String> {
    let (port, bus) = ports()?;
    let dir = root.join(format!("node-{i}-{port}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let conf = format!(
        "port {port}\nbind 127.0.0.1\ndir {}\nsave \"\"\nappendonly no\n\
         enable-debug-command yes\ncluster-enabled yes\ncluster-config-file nodes.conf\n\
         cluster-node-timeout {NODE_TIMEOUT_MS}\ncluster-port {bus}\n\
         repl-diskless-sync-delay 0\n",
        dir.display()
    );
    let path = dir.join("node.conf");
    std::fs::write(&path, conf).map_err(|e| format!("{}: {e}", path.display()))?;
    let bin = match kind {
        Kind::Redis => Path::new("redis-server"),
        Kind::Oxidis => oxidis,
    };
    let mut cmd = Command::new(bin);
    cmd.arg(&path).current_dir(&dir);
    let name = format!("cluster-{}", label(kind));
    let log = servers::log_dir().join(format!("{name}-{port}.log"));
    let server = Server::spawn(&name, cmd, port, &log)?;
    Ok(Node { kind, server })
}

fn cluster_info(addr: &str) -> Result<String, String> {
    let mut c = connect(addr)?;
    Ok(text(&c.call_ok(&["CLUSTER", "INFO"])?))
}

fn cluster_nodes(addr: &str) -> Result<Vec<NodeLine>, String> {
    let mut c = connect(addr)?;
    let t = text(&c.call_ok(&["CLUSTER", "NODES"])?);
    Ok(t.lines().filter_map(NodeLine::parse).collect())
}

/// One line of CLUSTER NODES.
#[derive(Debug, Clone)]
struct NodeLine {
    id: String,
    port: u16,
    flags: Vec<String>,
    master: String,
    slots: usize,
}

impl NodeLine {
    fn parse(line: &str) -> Option<NodeLine> {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 8 {
            return None;
        }
        let addr = f[1].split('@').next()?.split(',').next()?;
        let port = addr.rsplit(':').next()?.parse().ok()?;
        let mut slots = 0;
        for s in &f[8..] {
            if s.starts_with('[') {
                continue;
            }
            match s.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                    slots += b + 1 - a;
                }
                None => slots += 1,
            }
        }
        Some(NodeLine {
            id: f[0].to_string(),
            port,
            flags: f[2].split(',').map(str::to_string).collect(),
            master: f[3].to_string(),
            slots,
        })
    }

    fn is(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

fn cluster_state_ok(addr: &str) -> Result<Option<()>, String> {
    Ok(cluster_info(addr)?
        .lines()
        .any(|l| l.trim() == "cluster_state:ok")
        .then_some(()))
}

/// Runs redis-cli with `args`, returning (success, stdout + stderr).
fn redis_cli(args: &[String]) -> Result<(bool, String), String> {
    // redis-cli --cluster create waits for the nodes to join without a limit of its own.
    run_redis_cli(REDIS_CLI_LIMIT, args)
}

/// redis-cli with `args`, killed after `limit`: (success, stdout + stderr).
pub(crate) fn run_redis_cli<S: AsRef<std::ffi::OsStr>>(
    limit: Duration,
    args: &[S],
) -> Result<(bool, String), String> {
    let out = Command::new("timeout")
        .arg(limit.as_secs().to_string())
        .arg("redis-cli")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    let mut t = String::from_utf8_lossy(&out.stdout).into_owned();
    t.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), t))
}

/// `redis-cli --cluster check`: Ok when it reports agreement and full coverage, no [ERR].
fn check_ok(addr: &str) -> Result<Option<String>, String> {
    let (ok, out) = redis_cli(&["--cluster".into(), "check".into(), addr.into()])?;
    let good = ok
        && out.contains("[OK] All nodes agree about slots configuration.")
        && out.contains("[OK] All 16384 slots covered.")
        && !out.contains("[ERR]")
        && !out.contains("[WARNING]");
    Ok(good.then_some(out))
}

/// Runs `cmd`, adding its ok/FAILED lines to `s` (as the client-libraries suite does).
fn script(s: &mut Suite, label: &str, cmd: Command) {
    crate::client_libs::run_script(s, label, cmd);
}

fn python_workload(s: &mut Suite, python: &Path, label: &str, addr: &str, tag: &str) {
    let mut cmd = Command::new(python);
    cmd.arg(crate::repo_root().join("tests/clients/python/cluster_workload.py"))
        .args(["workload", addr, tag]);
    script(s, &format!("{label}: redis-py RedisCluster ({tag})"), cmd);
}

fn node_workload(s: &mut Suite, node: &Path, label: &str, addr: &str, tag: &str) {
    let dir = crate::repo_root().join("tests/clients/node");
    let mut cmd = Command::new(node);
    cmd.arg(dir.join("cluster.mjs"))
        .args([addr, tag])
        .current_dir(&dir);
    script(s, &format!("{label}: ioredis Cluster ({tag})"), cmd);
}

fn s_check(s: &mut Suite, what: &str, r: Result<(), String>) -> bool {
    match r {
        Ok(()) => {
            s.passed += 1;
            true
        }
        Err(e) => {
            s.fail(format!("{what}: {e}"));
            false
        }
    }
}

/// Starts six nodes and creates the cluster; Err with the nodes' logs on failure.
fn create(
    root: &Path,
    kinds: &[Kind],
    oxidis: &Path,
    replicas: usize,
) -> Result<Vec<Node>, String> {
    let nodes: Vec<Node> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| start_node(root, i, *k, oxidis))
        .collect::<Result<_, _>>()?;
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(nodes.iter().map(Node::addr));
    args.extend([
        "--cluster-replicas".into(),
        replicas.to_string(),
        "--cluster-yes".into(),
    ]);
    let (ok, out) = redis_cli(&args)?;
    if !ok || !out.contains("[OK] All 16384 slots covered.") {
        return Err(format!(
            "redis-cli --cluster create failed:\n{out}\n{}",
            logs(&nodes)
        ));
    }
    for n in &nodes {
        poll(
            &format!("cluster_state:ok on {}", n.addr()),
            DEADLINE,
            || cluster_state_ok(&n.addr()),
        )
        .map_err(|e| format!("{e}\n{}", logs(&nodes)))?;
    }
    Ok(nodes)
}

fn logs(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| n.server.log_tail(20))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The suite for one node mix.
pub fn run(ctx: &mut crate::test_all::Ctx, name: &str, kinds: [Kind; 6]) -> Suite {
    let mut s = Suite::new(name);
    let oxidis = if kinds.contains(&Kind::Oxidis) {
        match ctx.oxidis_bin() {
            Ok(b) => b,
            Err(e) => return Suite::error(name, e),
        }
    } else {
        PathBuf::new()
    };
    let python = match crate::client_libs::ensure_python() {
        Ok(p) => p,
        Err(e) => return Suite::error(name, e),
    };
    let node = match crate::client_libs::ensure_node() {
        Ok(p) => p,
        Err(e) => return Suite::error(name, e),
    };
    let root = std::env::temp_dir().join(format!("oxidis-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    if let Err(e) = std::fs::create_dir_all(&root) {
        return Suite::error(name, format!("{}: {e}", root.display()));
    }
    let mix = kinds.map(label).join(",");
    s.info.push(format!("nodes (first three masters): {mix}"));
    if let Err(e) = scenario(&mut s, &root, &kinds, &oxidis, &python, &node) {
        s.fail(e);
    }
    let _ = std::fs::remove_dir_all(&root);
    s
}

fn scenario(
    s: &mut Suite,
    root: &Path,
    kinds: &[Kind],
    oxidis: &Path,
    python: &Path,
    node: &Path,
) -> Result<(), String> {
    let t = Instant::now();
    let nodes = create(root, kinds, oxidis, 1)?;
    s.passed += 1;
    let first = nodes[0].addr();
    let r = poll("redis-cli --cluster check to report OK", DEADLINE, || {
        check_ok(&first)
    })
    .map(|_| ());
    s_check(s, "redis-cli --cluster check: OK after create", r);
    // Every node sees three masters with slots and three replicas.
    let r = poll(
        "every node to see 3 masters and 3 replicas",
        DEADLINE,
        || {
            for n in &nodes {
                let v = cluster_nodes(&n.addr())?;
                let masters = v.iter().filter(|l| l.is("master") && l.slots > 0).count();
                let replicas = v.iter().filter(|l| l.is("slave")).count();
                if masters != 3 || replicas != 3 {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    );
    s_check(s, "every node sees 3 masters and 3 replicas", r);
    let view = cluster_nodes(&first)?;
    let kind_of = |port: u16| {
        nodes
            .iter()
            .find(|n| n.server.port() == port)
            .map(|n| label(n.kind))
            .unwrap_or("?")
    };
    let topo: Vec<String> = view
        .iter()
        .filter(|l| l.is("master"))
        .map(|m| {
            let reps: Vec<String> = view
                .iter()
                .filter(|r| r.master == m.id)
                .map(|r| format!("{} {}", kind_of(r.port), r.port))
                .collect();
            format!(
                "{} {} ({} slots) ← {}",
                kind_of(m.port),
                m.port,
                m.slots,
                reps.join(", ")
            )
        })
        .collect();
    s.info.push(format!(
        "created and checked in {:.1}s: {}",
        t.elapsed().as_secs_f64(),
        topo.join("; ")
    ));

    python_workload(s, python, "workload", &first, "py");
    node_workload(s, node, "workload", &nodes[1].addr(), "js");

    reshard(s, python, &nodes)?;

    failover(s, &nodes)?;

    // The workload resumes on the survivors (nodes[0] is never the one killed).
    python_workload(s, python, "after failover", &first, "py2");
    node_workload(s, node, "after failover", &first, "js2");
    Ok(())
}

/// `--cluster reshard` of RESHARD_SLOTS slots while a writer runs.
fn reshard(s: &mut Suite, python: &Path, nodes: &[Node]) -> Result<(), String> {
    let first = nodes[0].addr();
    let view = cluster_nodes(&first)?;
    let masters: Vec<&NodeLine> = view.iter().filter(|l| l.is("master")).collect();
    if masters.len() != 3 {
        return Err(format!("expected 3 masters, CLUSTER NODES: {view:?}"));
    }
    let (from, to) = (masters[0].clone(), masters[1].clone());
    let acks = std::env::temp_dir().join(format!("oxidis-cluster-acks-{}", std::process::id()));
    let stop = acks.with_extension("stop");
    let _ = std::fs::remove_file(&acks);
    let _ = std::fs::remove_file(&stop);
    let mut cmd = Command::new(python);
    cmd.arg(crate::repo_root().join("tests/clients/python/cluster_workload.py"))
        .arg("writer")
        .arg(&first)
        .arg(&acks)
        .arg(&stop)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut writer = Bg(cmd.spawn().map_err(|e| format!("python: {e}"))?);
    let count_acks = || {
        std::fs::read_to_string(&acks)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let r = (|| -> Result<(), String> {
        poll("the writer's first acknowledged writes", DEADLINE, || {
            Ok((count_acks() >= 200).then_some(()))
        })?;
        let before = count_acks();
        let t = Instant::now();
        let (ok, out) = redis_cli(&[
            "--cluster".into(),
            "reshard".into(),
            first.clone(),
            "--cluster-from".into(),
            from.id.clone(),
            "--cluster-to".into(),
            to.id.clone(),
            "--cluster-slots".into(),
            RESHARD_SLOTS.to_string(),
            "--cluster-yes".into(),
        ])?;
        let took = t.elapsed();
        if !ok || out.contains("[ERR]") {
            let tail: Vec<&str> = out.lines().rev().take(30).collect();
            return Err(format!(
                "redis-cli --cluster reshard failed:\n{}\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                logs(nodes)
            ));
        }
        let during = count_acks() - before;
        std::fs::write(&stop, b"").map_err(|e| e.to_string())?;
        poll("the writer to stop", DEADLINE, || {
            writer.0.try_wait().map_err(|e| e.to_string())
        })?;
        let mut summary = String::new();
        if let Some(mut o) = writer.0.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut o, &mut summary);
        }
        let summary = summary.trim().to_string();
        if !summary.starts_with("ok writer") {
            return Err(format!("writer: {summary}"));
        }
        let after = cluster_nodes(&first)?;
        let slots_of = |id: &str| after.iter().find(|l| l.id == id).map_or(0, |l| l.slots);
        if slots_of(&to.id) != to.slots + RESHARD_SLOTS
            || slots_of(&from.id) + RESHARD_SLOTS != from.slots
        {
            return Err(format!(
                "after the reshard: {} has {} slots (was {}), {} has {} (was {})",
                to.port,
                slots_of(&to.id),
                to.slots,
                from.port,
                slots_of(&from.id),
                from.slots
            ));
        }
        poll(
            "redis-cli --cluster check OK after the reshard",
            DEADLINE,
            || check_ok(&first),
        )?;
        s.info.push(format!(
            "reshard of {RESHARD_SLOTS} slots {} → {} took {:.1}s with {during} writes \
             acknowledged meanwhile; {}",
            from.port,
            to.port,
            took.as_secs_f64(),
            summary.trim_start_matches("ok ")
        ));
        Ok(())
    })();
    drop(writer);
    let _ = std::fs::remove_file(&acks);
    let _ = std::fs::remove_file(&stop);
    s_check(
        s,
        "reshard of 1000 slots under writes, no acknowledged write lost, check OK",
        r,
    );
    Ok(())
}

/// SIGKILL of a master with a replica; the replica is promoted.
fn failover(s: &mut Suite, nodes: &[Node]) -> Result<(), String> {
    let view = cluster_nodes(&nodes[0].addr())?;
    // The victim: a master other than nodes[0] (the suite's entry point), with slots and a
    // replica.
    let victim = view
        .iter()
        .find(|m| {
            m.is("master")
                && m.slots > 0
                && m.port != nodes[0].server.port()
                && view.iter().any(|r| r.master == m.id)
        })
        .cloned()
        .ok_or_else(|| format!("no master with a replica to kill: {view:?}"))?;
    let replica = view
        .iter()
        .find(|r| r.master == victim.id)
        .cloned()
        .expect("checked");
    let vi = nodes
        .iter()
        .position(|n| n.server.port() == victim.port)
        .ok_or("the victim is not ours")?;
    let victim_kind = label(nodes[vi].kind);
    let replica_kind = nodes
        .iter()
        .find(|n| n.server.port() == replica.port)
        .map_or("?", |n| label(n.kind));
    let _ = Command::new("kill")
        .args(["-KILL", &nodes[vi].server.pid().to_string()])
        .status();
    let killed = Instant::now();
    let survivors: Vec<String> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != vi)
        .map(|(_, n)| n.addr())
        .collect();
    let r = (|| -> Result<(), String> {
        for addr in &survivors {
            poll(
                &format!("{addr} to see {} promoted", replica.port),
                DEADLINE,
                || {
                    let v = cluster_nodes(addr)?;
                    let promoted = v
                        .iter()
                        .any(|l| l.id == replica.id && l.is("master") && l.slots == victim.slots);
                    let failed = v.iter().any(|l| l.id == victim.id && l.is("fail"));
                    Ok((promoted && failed).then_some(()))
                },
            )?;
        }
        let promoted = killed.elapsed();
        for addr in &survivors {
            poll(&format!("cluster_state:ok on {addr}"), DEADLINE, || {
                cluster_state_ok(addr)
            })?;
        }
        s.info.push(format!(
            "SIGKILL of master {victim_kind} {}: replica {replica_kind} {} promoted, seen by \
             every survivor {:.1}s after the kill (cluster-node-timeout {NODE_TIMEOUT_MS} ms; \
             bound {}s)",
            victim.port,
            replica.port,
            promoted.as_secs_f64(),
            DEADLINE.as_secs()
        ));
        Ok(())
    })();
    let r = r.map_err(|e| format!("{e}\n{}", logs(nodes)));
    s_check(
        s,
        "SIGKILL of a master: its replica promoted, cluster_state ok",
        r,
    );
    Ok(())
}

/// `cargo xtask cluster [redis|oxidis|mixed]...`: the suite for the named mixes (all three
/// by default).
pub fn cli(args: &[String]) -> ExitCode {
    let mut ctx = crate::test_all::Ctx::default();
    let wanted: Vec<&str> = if args.is_empty() {
        vec!["redis", "oxidis", "mixed"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mut ok = true;
    for w in wanted {
        let kinds = match w {
            "redis" => ALL_REDIS,
            "oxidis" => ALL_OXIDIS,
            "mixed" => MIXED,
            other => {
                eprintln!("unknown mix {other} (redis, oxidis, mixed)");
                return ExitCode::from(2);
            }
        };
        let s = run(&mut ctx, &format!("cluster: {w}"), kinds);
        println!("{}", s.report());
        ok &= s.ok();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `cargo xtask cluster-bench [--requests N] [--rounds R]`: a 3-master cluster of each
/// server (no replicas, both up at once), `redis-benchmark --cluster -t set,get -P 16` run
/// on them in turn R times (the machine's noise hits both alike), the median of each and
/// the ratio.
pub fn bench_cli(args: &[String]) -> ExitCode {
    let flag = |name: &str, default: u64| {
        args.windows(2)
            .find(|w| w[0] == name)
            .and_then(|w| w[1].parse::<u64>().ok())
            .unwrap_or(default)
    };
    let (requests, rounds) = (flag("--requests", 1_000_000), flag("--rounds", 5).max(1));
    let mut cmd = crate::cargo_cmd();
    cmd.args(["build", "--release", "-p", "oxidis-server"]);
    if let Err(e) = crate::suite::run_status(cmd) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let oxidis = servers::oxidis_bin("release");
    let root = std::env::temp_dir().join(format!("oxidis-cluster-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let result = (|| -> Result<(), String> {
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let redis = create(&root.join("redis"), &[Kind::Redis; 3], &oxidis, 0)?;
        let ox = create(&root.join("oxidis"), &[Kind::Oxidis; 3], &oxidis, 0)?;
        let mut samples: [[Vec<f64>; 2]; 2] = Default::default();
        for round in 0..rounds {
            for (k, nodes) in [&redis, &ox].into_iter().enumerate() {
                let r = bench_one(nodes[0].server.port(), requests)?;
                println!(
                    "round {}: {}: SET {:.0} GET {:.0} req/s",
                    round + 1,
                    label(nodes[0].kind),
                    r[0],
                    r[1]
                );
                samples[k][0].push(r[0]);
                samples[k][1].push(r[1]);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for (i, t) in ["SET", "GET"].iter().enumerate() {
            let r = median(&mut samples[0][i]);
            let o = median(&mut samples[1][i]);
            println!(
                "{t}: redis-server cluster {r:.0} req/s, Oxidis cluster {o:.0} req/s \
                 (medians of {rounds}), ratio {:.2}",
                o / r
            );
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&root);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// One `redis-benchmark --cluster` run against the cluster `port` belongs to: [SET, GET].
fn bench_one(port: u16, requests: u64) -> Result<[f64; 2], String> {
    let out = Command::new("redis-benchmark")
        .args([
            "--cluster",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "set,get",
            "-n",
            &requests.to_string(),
            "-c",
            "50",
            "-P",
            "16",
            "-r",
            "100000",
            "--csv",
        ])
        .output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let t = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = |name: &str| -> Result<f64, String> {
        t.lines()
            .find(|l| l.starts_with(&format!("\"{name}\"")))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|v| v.trim_matches('"').parse().ok())
            .ok_or_else(|| format!("no {name} line in redis-benchmark's output:\n{t}"))
    };
    Ok([rps("SET")?, rps("GET")?])
}
