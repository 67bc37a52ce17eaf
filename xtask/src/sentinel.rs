//! `cargo xtask test sentinel`: Debian's redis-sentinel 7.0.15 fails over a group of Oxidis
//! nodes (issue 17's failover test).
//!
//! Each group: a master and two replicas, each started with a config file (Sentinel's
//! promotion sends `CONFIG REWRITE` inside its MULTI), and three `redis-sentinel` processes
//! (`sentinel monitor mymaster 127.0.0.1 <port> 2`, down-after-milliseconds 1000,
//! failover-timeout 10000), each with its own sentinel.conf in a temp dir. Once every Sentinel
//! sees both replicas and the two other Sentinels, a writer using redis-py's `Sentinel`
//! (tests/clients/python/sentinel_writer.py) writes `SET w:<i>` then `WAIT 1 2000`, recording
//! each write WAIT acknowledged. The master is SIGKILLed during the writes; then:
//! - the Sentinels promote a replica (SENTINEL get-master-addr-by-name changes; polled up to a
//!   60 s functional bound, the measured time reported);
//! - the writer reconnects to the new master and keeps writing (acknowledged writes there);
//! - the other replica follows the new master (ROLE: slave of it, connected), with the same
//!   dataset (offsets and DEBUG DIGEST equal);
//! - every write acknowledged by WAIT 1 (before the kill, and after) is on the new master.
//!
//! Three groups: Oxidis master and replicas; a redis-server master with an Oxidis replica and
//! a redis-server replica of lower priority (`replica-priority 150`), so Sentinel promotes
//! Oxidis and reconfigures redis-server to follow it; an Oxidis master with a redis-server
//! replica and an Oxidis replica of lower priority: redis-server is promoted and the Oxidis
//! replica follows it.

use crate::servers::{self, Server};
use crate::suite::Suite;
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The functional bound on every wait (promotion, reconfiguration, discovery).
const DEADLINE: Duration = Duration::from_secs(60);
/// Writes acknowledged before the kill, and after the promotion, before the writer stops.
const BEFORE_KILL: usize = 300;
const AFTER_PROMOTION: usize = 200;

pub fn run(ctx: &mut crate::test_all::Ctx, name: &str) -> Suite {
    let mut s = Suite::new(name);
    let bin = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    let python = match crate::client_libs::ensure_python() {
        Ok(p) => p,
        Err(e) => return Suite::error(name, e),
    };
    let redis = Path::new("redis-server");
    let groups: [(&str, [(&Path, u32); 3]); 3] = [
        ("oxidis ×3", [(&bin, 100), (&bin, 100), (&bin, 100)]),
        (
            "redis master, oxidis + redis replicas",
            [(redis, 100), (&bin, 100), (redis, 150)],
        ),
        (
            "oxidis master, redis + oxidis replicas",
            [(&bin, 100), (redis, 100), (&bin, 150)],
        ),
    ];
    for (label, nodes) in groups {
        if let Err(e) = group(&mut s, &python, label, nodes) {
            s.fail(format!("{label}: {e}"));
        }
    }
    s
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::Error(b) => String::from_utf8_lossy(b).into(),
        Reply::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn connect(addr: &str) -> Result<Conn, String> {
    let mut c = Conn::connect(addr)?;
    c.set_timeout(Duration::from_secs(10));
    Ok(c)
}

/// Polls `f` until it gives a value or the deadline passes.
fn poll<T>(what: &str, mut f: impl FnMut() -> Result<Option<T>, String>) -> Result<T, String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "timed out ({}s) waiting for {what}",
                DEADLINE.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A data node started from a config file of its own (CONFIG REWRITE needs one).
fn start_node(
    dir: &Path,
    name: &str,
    bin: &Path,
    master: Option<u16>,
    priority: u32,
) -> Result<Server, String> {
    servers::start(name, bin, |port| {
        let data = dir.join(format!("{name}-{port}"));
        let _ = std::fs::create_dir_all(&data);
        let mut conf = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsave \"\"\nappendonly no\n\
             enable-debug-command yes\nrepl-diskless-sync-delay 0\nreplica-priority {priority}\n",
            data.display()
        );
        if let Some(m) = master {
            conf.push_str(&format!("replicaof 127.0.0.1 {m}\n"));
        }
        let path = dir.join(format!("{name}-{port}.conf"));
        let _ = std::fs::write(&path, conf);
        vec![OsString::from(path)]
    })
}

fn start_sentinel(dir: &Path, i: usize, master_port: u16) -> Result<Server, String> {
    servers::start(
        &format!("sentinel{i}"),
        Path::new("redis-sentinel"),
        |port| {
            let conf = format!(
                "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {}\n\
             sentinel resolve-hostnames no\n\
             sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 10000\n\
             sentinel parallel-syncs mymaster 1\n",
                dir.display()
            );
            let path = dir.join(format!("sentinel-{port}.conf"));
            let _ = std::fs::write(&path, conf);
            vec![OsString::from(path)]
        },
    )
}

/// SENTINEL MASTER mymaster's field `name`.
fn sentinel_field(c: &mut Conn, name: &str) -> Result<String, String> {
    let Reply::Array(v) = c.call_ok(&["SENTINEL", "MASTER", "mymaster"])? else {
        return Err("SENTINEL MASTER: not an array".into());
    };
    v.chunks(2)
        .find(|kv| text(&kv[0]) == name)
        .map(|kv| text(&kv[1]))
        .ok_or(format!("SENTINEL MASTER has no {name}"))
}

fn master_port_of(c: &mut Conn) -> Result<u16, String> {
    match c.call_ok(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])? {
        Reply::Array(v) if v.len() == 2 => text(&v[1]).parse().map_err(|e| format!("{e}")),
        other => Err(format!("get-master-addr-by-name: {other:?}")),
    }
}

/// The acknowledged writes so far: (i, "host:port").
fn read_acks(path: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (i, addr) = l.split_once(' ')?;
            Some((i.parse().ok()?, addr.to_string()))
        })
        .collect()
}

struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn group(
    s: &mut Suite,
    python: &Path,
    label: &str,
    nodes: [(&Path, u32); 3],
) -> Result<(), String> {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "oxidis-sentinel-{}-{}",
        std::process::id(),
        s.passed + s.failed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let master = start_node(&dir, "master", nodes[0].0, None, nodes[0].1)?;
    let mport = master.port();
    let replicas = [
        start_node(&dir, "replica1", nodes[1].0, Some(mport), nodes[1].1)?,
        start_node(&dir, "replica2", nodes[2].0, Some(mport), nodes[2].1)?,
    ];
    for r in &replicas {
        let mut c = connect(&r.addr())?;
        poll("the replicas' links", || {
            Ok((c.info_field("replication", "master_link_status")? == "up").then_some(()))
        })?;
    }
    let sentinels: Vec<Server> = (0..3)
        .map(|i| start_sentinel(&dir, i, mport))
        .collect::<Result<_, _>>()?;
    let mut sc: Vec<Conn> = sentinels
        .iter()
        .map(|x| connect(&x.addr()))
        .collect::<Result<_, _>>()?;
    let logs = |e: String| {
        let mut out = e;
        for r in &replicas {
            out.push('\n');
            out.push_str(&r.log_tail(15));
        }
        for x in &sentinels {
            out.push('\n');
            out.push_str(&x.log_tail(25));
        }
        out
    };

    // Discovery: each Sentinel sees both replicas (from the master's INFO) and the two
    // other Sentinels (hello messages over the nodes' __sentinel__:hello channel).
    let r = (|| {
        let t = Instant::now();
        for c in sc.iter_mut() {
            poll(
                "Sentinel to discover the replicas and the other Sentinels",
                || {
                    let slaves = sentinel_field(c, "num-slaves")?;
                    let others = sentinel_field(c, "num-other-sentinels")?;
                    Ok((slaves == "2" && others == "2").then_some(()))
                },
            )?;
        }
        s.info.push(format!(
            "{label}: every Sentinel saw 2 replicas and 2 other Sentinels after {:.1}s",
            t.elapsed().as_secs_f64()
        ));
        Ok(())
    })();
    if !s_check(
        s,
        &format!("{label}: Sentinels discover the group"),
        r.map_err(&logs),
    ) {
        return Ok(());
    }

    let acks_path = dir.join("acks");
    let stop_path = dir.join("stop");
    let mut cmd = Command::new(python);
    cmd.arg(crate::repo_root().join("tests/clients/python/sentinel_writer.py"))
        .arg(&acks_path)
        .arg(&stop_path)
        .args(sentinels.iter().map(|x| x.port().to_string()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut writer = Writer(cmd.spawn().map_err(|e| format!("python: {e}"))?);

    // The kill, then the promotion.
    let r = (|| {
        poll("the writer's first acknowledged writes", || {
            Ok((read_acks(&acks_path).len() >= BEFORE_KILL).then_some(()))
        })?;
        let _ = Command::new("kill")
            .args(["-KILL", &master.pid().to_string()])
            .status();
        let killed = Instant::now();
        // Every line in the file now was acknowledged before the master died.
        let before = read_acks(&acks_path);
        let new_port = poll("Sentinel to promote a replica", || {
            let p = master_port_of(&mut sc[0])?;
            Ok((p != mport).then_some(p))
        })?;
        let failover = killed.elapsed();
        let new_addr = format!("127.0.0.1:{new_port}");
        if !replicas.iter().any(|r| r.port() == new_port) {
            return Err(format!(
                "the new master {new_addr} is not one of the replicas"
            ));
        }
        // In the mixed groups the first replica (priority 100) beats the second (150).
        let want = replicas[0].port();
        if nodes[2].1 > nodes[1].1 && new_port != want {
            return Err(format!(
                "promoted {new_port}, not the preferred replica {want}"
            ));
        }
        for c in sc.iter_mut() {
            poll("every Sentinel to agree on the new master", || {
                Ok((master_port_of(c)? == new_port).then_some(()))
            })?;
        }
        // The writer reconnects and goes on.
        poll("acknowledged writes on the new master", || {
            let n = read_acks(&acks_path)
                .iter()
                .filter(|(_, a)| *a == new_addr)
                .count();
            Ok((n >= AFTER_PROMOTION).then_some(()))
        })?;
        std::fs::write(&stop_path, b"").map_err(|e| e.to_string())?;
        let out = poll("the writer to stop", || {
            writer.0.try_wait().map_err(|e| e.to_string())
        })?;
        if !out.success() {
            return Err(format!("the writer exited with {out}"));
        }
        let mut summary = String::new();
        if let Some(mut o) = writer.0.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut o, &mut summary);
        }
        let all = read_acks(&acks_path);

        // The other replica follows the new master.
        let other = replicas.iter().find(|r| r.port() != new_port).expect("two");
        let mut o = connect(&other.addr())?;
        poll("the other replica to follow the new master (ROLE)", || {
            let role = o.call_ok(&["ROLE"])?;
            let Reply::Array(v) = role else {
                return Ok(None);
            };
            Ok((v.len() == 5
                && text(&v[0]) == "slave"
                && text(&v[2]) == new_port.to_string()
                && text(&v[3]) == "connected")
                .then_some(()))
        })?;

        // Every acknowledged write is on the new master; the other replica has the same data.
        let mut n = connect(&new_addr)?;
        let mut lost = Vec::new();
        for chunk in all.chunks(500) {
            let mut args = vec!["MGET".to_string()];
            args.extend(chunk.iter().map(|(i, _)| format!("w:{i}")));
            let Reply::Array(vals) = n.call_ok(&args)? else {
                return Err("MGET: not an array".into());
            };
            for ((i, _), v) in chunk.iter().zip(vals) {
                if text(&v) != i.to_string() {
                    lost.push(*i);
                }
            }
        }
        if !lost.is_empty() {
            return Err(format!(
                "{} acknowledged writes missing on the new master (first: w:{})",
                lost.len(),
                lost[0]
            ));
        }
        poll(
            "the other replica's dataset to equal the new master's",
            || {
                let (mo, md) = (
                    n.info_field("replication", "master_repl_offset")?,
                    text(&n.call_ok(&["DEBUG", "DIGEST"])?),
                );
                let (ro, rd) = (
                    o.info_field("replication", "master_repl_offset")?,
                    text(&o.call_ok(&["DEBUG", "DIGEST"])?),
                );
                Ok((mo == ro && md == rd).then_some(()))
            },
        )?;
        // Sentinel's CONFIG REWRITE reached the promoted node's file: no replicaof left.
        let conf = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(&format!("-{new_port}.conf")))
            .ok_or("the promoted node's config file")?;
        let conf_text = std::fs::read_to_string(&conf).map_err(|e| e.to_string())?;
        if conf_text.contains("replicaof") {
            return Err(format!(
                "the promoted node's config still names a master:\n{conf_text}"
            ));
        }
        s.info.push(format!(
            "{label}: master killed after {} acknowledged writes; {new_addr} promoted {:.1}s \
             after the kill (down-after 1 s); {} writes acknowledged in all ({} on the new \
             master), none lost; writer: {}",
            before.len(),
            failover.as_secs_f64(),
            all.len(),
            all.iter().filter(|(_, a)| *a == new_addr).count(),
            summary.trim()
        ));
        Ok(())
    })();
    s_check(
        s,
        &format!("{label}: SIGKILL of the master, promotion, no acknowledged write lost"),
        r.map_err(&logs),
    );
    drop(writer);
    drop(sentinels);
    drop(replicas);
    drop(master);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
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
