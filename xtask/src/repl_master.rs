//! `cargo xtask test "replication (master)"`: Debian's redis-server 7.0.15 as a replica of an
//! Oxidis master (issue 17, interop (a) and (d)).
//!
//! The replica connects through a cut proxy (cutproxy.rs). A bounded writer sends a few
//! thousand writes of every kind the stream carries (SET with and without TTLs, INCR, HSET,
//! LPUSH, EXPIRE, MULTI/EXEC, EVAL, writes in another database) and counts the acknowledged
//! ones; the replica must reach the master's offset with an identical dataset (DEBUG DIGEST on
//! both). WAIT 1 returns 1 only once the replica has the write. Then the link is cut, writes
//! go on (WAIT 1 answers 0 meanwhile), the link comes back, and the replica must continue
//! with a partial resync (+CONTINUE: the master's sync_partial_ok, no second full sync, the
//! replica's log) and the same dataset again.

use crate::cutproxy::CutProxy;
use crate::servers::{self, Server};
use crate::suite::Suite;
use crate::test_all::Ctx;
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;
use std::ffi::OsString;
use std::time::{Duration, Instant};

const SYNC_DEADLINE: Duration = Duration::from_secs(60);

pub fn run(ctx: &mut Ctx, name: &str) -> Suite {
    let mut s = Suite::new(name);
    let bin = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    let master = match servers::start("oxidis-master", &bin, |port| {
        let mut a = servers::server_args(port);
        // A second of repl-diskless-sync-delay: the delayed start path, kept short.
        a.extend(["--repl-diskless-sync-delay", "1"].map(OsString::from));
        a
    }) {
        Ok(m) => m,
        Err(e) => return Suite::error(name, e),
    };
    if let Err(e) = scenario(&master, &mut s) {
        s.fail(format!("{e}\nmaster log:\n{}", master.log_tail(15)));
    }
    drop(master);
    let res = failover_scenario(&bin, &mut s);
    check(
        &mut s,
        "FAILOVER both ways: Oxidis hands the master role to redis-server and takes it back (PSYNC ... FAILOVER, partial resyncs, identical datasets)",
        res,
    );
    let res = shutdown_scenario(&bin, &mut s);
    check(
        &mut s,
        "SHUTDOWN waits for a lagging replica: ABORT, catch-up with no write lost, SIGTERM after shutdown-timeout",
        res,
    );
    s
}

/// Polls until `c` has the role (ROLE's first element).
fn wait_role(c: &mut Conn, want: &str) -> Result<(), String> {
    let deadline = Instant::now() + SYNC_DEADLINE;
    loop {
        let role = match c.call(&["ROLE"])? {
            Reply::Array(v) => v.first().map(text).unwrap_or_default(),
            other => text(&other),
        };
        if role == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("ROLE stayed {role:?}, want {want:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Coordinated failover (Redis 6.2+): an Oxidis master with a redis-server replica runs
/// FAILOVER TO it, the replica promotes itself on `PSYNC ... FAILOVER` and Oxidis follows it
/// with a partial resync; then FAILOVER on redis-server hands the role back to Oxidis.
fn failover_scenario(bin: &std::path::Path, s: &mut Suite) -> Result<(), String> {
    let ox = servers::start("oxidis-failover", bin, servers::server_args)?;
    let port = ox.port().to_string();
    let redis = servers::start("redis-failover", "redis-server".as_ref(), |p| {
        let mut a = servers::server_args(p);
        a.extend(["--replicaof", "127.0.0.1", &port].map(OsString::from));
        a
    })?;
    let mut o = connect(&ox.addr())?;
    let mut r = connect(&redis.addr())?;
    wait_field(&mut r, "replication", "master_link_status", "up")?;
    set_range(&mut o, 0..500)?;
    synced(&mut o, &mut r)?;
    // Oxidis → redis-server.
    let rport = redis.port().to_string();
    let ok = text(&o.call_ok(&["FAILOVER", "TO", "127.0.0.1", &rport, "TIMEOUT", "30000"])?);
    if ok != "OK" {
        return Err(format!("FAILOVER TO answered {ok:?}"));
    }
    wait_role(&mut r, "master")?;
    wait_role(&mut o, "slave")?;
    wait_field(&mut o, "replication", "master_link_status", "up")?;
    wait_field(
        &mut o,
        "replication",
        "master_failover_state",
        "no-failover",
    )?;
    let (full, ok) = (
        r.info_field("stats", "sync_full")?,
        r.info_field("stats", "sync_partial_ok")?,
    );
    if (full.as_str(), ok.as_str()) != ("0", "1") {
        return Err(format!(
            "the new master (redis-server): sync_full {full}, sync_partial_ok {ok} (want 0 and 1)"
        ));
    }
    set_range(&mut r, 500..1000)?;
    let keys = synced(&mut r, &mut o)?;
    s.info.push(format!(
        "FAILOVER Oxidis → redis-server: Oxidis continued as its replica (+CONTINUE), {keys} keys identical"
    ));
    // redis-server → Oxidis: Oxidis receives PSYNC ... FAILOVER and takes over.
    let ok = text(&r.call_ok(&["FAILOVER", "TIMEOUT", "30000"])?);
    if ok != "OK" {
        return Err(format!("redis-server's FAILOVER answered {ok:?}"));
    }
    wait_role(&mut o, "master")?;
    wait_role(&mut r, "slave")?;
    wait_field(&mut r, "replication", "master_link_status", "up")?;
    wait_field(
        &mut r,
        "replication",
        "master_failover_state",
        "no-failover",
    )?;
    let log = ox.log_tail(400);
    if !log.contains("Failover request received") {
        return Err(format!(
            "Oxidis's log shows no PSYNC FAILOVER:\n{}",
            ox.log_tail(20)
        ));
    }
    let ok = o.info_field("stats", "sync_partial_ok")?;
    if ok != "1" {
        return Err(format!(
            "Oxidis as the new master: sync_partial_ok {ok}, want 1"
        ));
    }
    set_range(&mut o, 1000..1500)?;
    let keys = synced(&mut o, &mut r)?;
    s.info.push(format!(
        "FAILOVER redis-server → Oxidis: Oxidis promoted on PSYNC FAILOVER, redis-server continued (+CONTINUE), {keys} keys identical"
    ));
    Ok(())
}

/// A master with a redis-server replica behind a proxy.
fn shutdown_pair(
    bin: &std::path::Path,
    timeout: &str,
) -> Result<(Server, CutProxy, Server), String> {
    let master = servers::start("oxidis-shutdown", bin, |port| {
        let mut a = servers::server_args(port);
        a.extend(["--shutdown-timeout", timeout].map(OsString::from));
        a
    })?;
    let proxy = CutProxy::start(&master.addr())?;
    let pport = proxy.port().to_string();
    let replica = servers::start("redis-shutdown-replica", "redis-server".as_ref(), |port| {
        let mut a = servers::server_args(port);
        a.extend(["--replicaof", "127.0.0.1", &pport].map(OsString::from));
        a
    })?;
    Ok((master, proxy, replica))
}

/// SETs sd:<i> = v<i> for i in range, each acknowledged.
fn set_range(m: &mut Conn, range: std::ops::Range<u64>) -> Result<(), String> {
    for i in range {
        m.call_ok(&["SET", &format!("sd:{i}"), &format!("v{i}")])?;
    }
    Ok(())
}

/// SHUTDOWN from its own connection, in a thread: its reply, or Err when the connection
/// closed without one (the server exited).
fn shutdown_in_thread(addr: String) -> std::thread::JoinHandle<Result<String, String>> {
    std::thread::spawn(move || {
        let mut c = connect(&addr)?;
        c.set_timeout(SYNC_DEADLINE);
        c.call(&["SHUTDOWN"]).map(|r| text(&r))
    })
}

/// Polls a server's log until `pat` appears `n` times.
fn wait_log(srv: &Server, pat: &str, n: usize) -> Result<(), String> {
    let deadline = Instant::now() + SYNC_DEADLINE;
    while srv.log_tail(400).matches(pat).count() < n {
        if Instant::now() > deadline {
            return Err(format!(
                "the log never showed {pat:?} ({n}x):\n{}",
                srv.log_tail(20)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Redis 7.0's SHUTDOWN with lagging replicas (the link stalled by the proxy): it waits,
/// pausing writes, ABORT cancels it (the waiting client gets the error), once the link
/// flows again the replica catches up and the master exits with every acknowledged write
/// on the replica; a SIGTERM with shutdown-timeout 1 exits after the timeout anyway.
fn shutdown_scenario(bin: &std::path::Path, s: &mut Suite) -> Result<(), String> {
    let (mut master, proxy, replica) = shutdown_pair(bin, "60")?;
    let mut m = connect(&master.addr())?;
    let mut r = connect(&replica.addr())?;
    wait_field(&mut r, "replication", "master_link_status", "up")?;
    set_range(&mut m, 0..300)?;
    synced(&mut m, &mut r)?;
    proxy.stall(true);
    set_range(&mut m, 300..600)?;
    let waiting = "Waiting for replicas before shutting down.";
    let shut = shutdown_in_thread(master.addr());
    wait_log(&master, waiting, 1)?;
    let abort = text(&m.call_ok(&["SHUTDOWN", "ABORT"])?);
    if abort != "OK" {
        return Err(format!("SHUTDOWN ABORT answered {abort:?}"));
    }
    match shut.join().map_err(|_| "the SHUTDOWN thread panicked")? {
        Ok(t) if t == "ERR Errors trying to SHUTDOWN. Check logs." => {}
        other => return Err(format!("the aborted SHUTDOWN got {other:?}")),
    }
    set_range(&mut m, 600..1000)?;
    let shut = shutdown_in_thread(master.addr());
    wait_log(&master, waiting, 2)?;
    if master.wait_exit(Duration::from_millis(300)).is_some() {
        return Err("the master exited with its replica behind".into());
    }
    proxy.stall(false);
    if master.wait_exit(SYNC_DEADLINE).is_none() {
        return Err("the master did not exit once its replica caught up".into());
    }
    if let Ok(Ok(t)) = shut.join() {
        return Err(format!("SHUTDOWN answered {t:?} instead of exiting"));
    }
    let log = master.log_tail(400);
    if !log.contains("1 of 1 replicas are in sync when shutting down.") {
        return Err(format!("the master's log:\n{}", master.log_tail(20)));
    }
    for i in 0..1000u64 {
        let got = text(&r.call_ok(&["GET", &format!("sd:{i}")])?);
        if got != format!("v{i}") {
            return Err(format!("the replica lost sd:{i} (has {got:?})"));
        }
    }
    s.info.push(
        "SHUTDOWN with a stalled replica: waited, ABORT answered the waiter, then the replica caught up and has all 1000 acknowledged writes".into(),
    );
    drop((proxy, replica));

    // SIGTERM, shutdown-timeout 1, the replica never catches up: the master exits anyway.
    let (mut master, proxy, replica) = shutdown_pair(bin, "1")?;
    let mut m = connect(&master.addr())?;
    let mut r = connect(&replica.addr())?;
    wait_field(&mut r, "replication", "master_link_status", "up")?;
    set_range(&mut m, 0..100)?;
    synced(&mut m, &mut r)?;
    proxy.stall(true);
    set_range(&mut m, 100..200)?;
    if master.terminate(SYNC_DEADLINE).is_none() {
        return Err("SIGTERM: the master did not exit after shutdown-timeout".into());
    }
    let log = master.log_tail(400);
    for want in [
        waiting,
        "Lagging replica",
        "0 of 1 replicas are in sync when shutting down.",
    ] {
        if !log.contains(want) {
            return Err(format!(
                "SIGTERM: no {want:?} in the master's log:\n{}",
                master.log_tail(20)
            ));
        }
    }
    s.info
        .push("SIGTERM with a stalled replica: waited shutdown-timeout (1 s), then exited".into());
    drop((proxy, replica));
    Ok(())
}

fn connect(addr: &str) -> Result<Conn, String> {
    let mut c = Conn::connect(addr)?;
    c.set_timeout(Duration::from_secs(30));
    Ok(c)
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::Error(b) | Reply::Verbatim(_, b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Reply::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn check(s: &mut Suite, what: &str, r: Result<(), String>) {
    match r {
        Ok(()) => s.passed += 1,
        Err(e) => s.fail(format!("{what}: {e}")),
    }
}

fn scenario(master: &Server, s: &mut Suite) -> Result<(), String> {
    let mut m = connect(&master.addr())?;
    // Data before the replica exists: it arrives with the RDB.
    m.call_ok(&["DEBUG", "POPULATE", "3000", "pre", "32"])?;
    m.call_ok(&["HSET", "pre:hash", "a", "1", "b", "2"])?;
    m.call_ok(&["RPUSH", "pre:list", "x", "y", "z"])?;
    m.call_ok(&["ZADD", "pre:zset", "1", "a", "2.5", "b"])?;
    m.call_ok(&["SADD", "pre:set", "m1", "m2", "3"])?;
    m.call_ok(&["XADD", "pre:stream", "1-1", "f", "v"])?;
    m.call_ok(&["SET", "pre:ttl", "v", "EX", "100000"])?;
    m.call_ok(&["SELECT", "2"])?;
    m.call_ok(&["SET", "db2:key", "in db 2"])?;
    m.call_ok(&["SELECT", "0"])?;

    let proxy = CutProxy::start(&master.addr())?;
    let pport = proxy.port().to_string();
    let replica = servers::start("redis-replica", "redis-server".as_ref(), |port| {
        let mut a = servers::server_args(port);
        a.extend(["--replicaof", "127.0.0.1", &pport].map(OsString::from));
        a
    })?;
    let mut r = connect(&replica.addr())?;
    let res = (|| {
        wait_field(&mut r, "replication", "master_link_status", "up")?;
        // The delayed start has a reason to show: the replica waited in wait_bgsave.
        let acked = writer(&mut m, 0, 3000)?;
        let keys = synced(&mut m, &mut r)?;
        let full = m.info_field("stats", "sync_full")?;
        if full != "1" {
            return Err(format!("sync_full is {full} after one replica attached"));
        }
        s.info.push(format!(
            "full sync + stream: {acked} writes acknowledged, {keys} keys identical (DEBUG DIGEST)"
        ));
        Ok(())
    })();
    check(s, "full sync, then streaming, identical datasets", res);

    // ROLE and INFO on the master show the replica.
    let res = (|| {
        let role = m.call_ok(&["ROLE"])?;
        let Reply::Array(parts) = &role else {
            return Err(format!("ROLE: {role:?}"));
        };
        let replicas = match parts.get(2) {
            Some(Reply::Array(v)) => v.clone(),
            other => return Err(format!("ROLE's replicas: {other:?}")),
        };
        let port = replica.port().to_string();
        match replicas.first() {
            Some(Reply::Array(v)) if v.len() == 3 && text(&v[1]) == port => {}
            other => return Err(format!("ROLE's replica entry: {other:?}, want port {port}")),
        }
        let line = m.info_field("replication", "slave0")?;
        if !line.contains(&format!("port={port},state=online")) {
            return Err(format!("INFO slave0: {line}"));
        }
        let list = text(&m.call_ok(&["CLIENT", "LIST", "TYPE", "replica"])?);
        if !list.contains("flags=S") {
            return Err(format!("CLIENT LIST TYPE replica: {list}"));
        }
        Ok(())
    })();
    check(s, "ROLE, INFO slave0 and CLIENT LIST show the replica", res);

    // WAIT 1 returns 1 only once the replica has the write.
    let res = (|| {
        for i in 0..20 {
            let v = format!("value-{i}");
            m.call_ok(&["SET", "wait:key", &v])?;
            match m.call_ok(&["WAIT", "1", "10000"])? {
                Reply::Int(1) => {}
                other => return Err(format!("WAIT 1 10000 answered {other:?}")),
            }
            let got = text(&r.call_ok(&["GET", "wait:key"])?);
            if got != v {
                return Err(format!(
                    "WAIT said 1 but the replica has {got:?}, not {v:?}"
                ));
            }
        }
        Ok(())
    })();
    check(
        s,
        "WAIT 1 returns 1 after the replica has the write (20 rounds)",
        res,
    );

    // The cut: the link drops and stays down while writes go on.
    let res = (|| {
        proxy.hold(true);
        proxy.cut();
        wait_field(&mut m, "replication", "connected_slaves", "0")?;
        let acked = writer(&mut m, 100_000, 1500)?;
        m.call_ok(&["SET", "cut:key", "during the cut"])?;
        match m.call_ok(&["WAIT", "1", "300"])? {
            Reply::Int(0) => {}
            other => return Err(format!("WAIT 1 300 during the cut answered {other:?}")),
        }
        proxy.hold(false);
        wait_field(&mut r, "replication", "master_link_status", "up")?;
        let keys = synced(&mut m, &mut r)?;
        let (full, ok) = (
            m.info_field("stats", "sync_full")?,
            m.info_field("stats", "sync_partial_ok")?,
        );
        if (full.as_str(), ok.as_str()) != ("1", "1") {
            return Err(format!(
                "after the reconnection: sync_full {full}, sync_partial_ok {ok} (want 1 and 1)"
            ));
        }
        if proxy.accepted() < 2 {
            return Err("the replica did not reconnect through the proxy".into());
        }
        let log = replica.log_tail(400);
        if !log.contains("Master accepted a Partial Resynchronization") {
            return Err(format!("the replica's log shows no partial resync:\n{log}"));
        }
        s.info.push(format!(
            "cut: {acked} writes during the cut, +CONTINUE on reconnection, {keys} keys identical"
        ));
        Ok(())
    })();
    check(
        s,
        "link cut by the proxy, writes go on, partial resync (+CONTINUE), identical datasets",
        res,
    );

    // Two more replicas, disk-based (repl-diskless-sync no: the `$<len>` form), beside the
    // first: the BGSAVE for SYNC writes dump.rdb in the master's dir (slowed by
    // rdb-key-save-delay so the third replica arrives while it runs and attaches to it:
    // "Waiting for end of BGSAVE for SYNC", one BGSAVE for both); all follow one stream.
    let res = (|| {
        let dir = match m.call_ok(&["CONFIG", "GET", "dir"])? {
            Reply::Array(v) if v.len() == 2 => text(&v[1]),
            other => return Err(format!("CONFIG GET dir: {other:?}")),
        };
        let dump = std::path::Path::new(&dir).join("dump.rdb");
        if dump.exists() {
            return Err(format!("{} exists before any save", dump.display()));
        }
        let saves0: i64 = m
            .info_field("persistence", "rdb_saves")?
            .parse()
            .unwrap_or(-1);
        m.call_ok(&["CONFIG", "SET", "repl-diskless-sync", "no"])?;
        m.call_ok(&["CONFIG", "SET", "rdb-key-save-delay", "1000"])?;
        let start_replica = |name: &str| {
            servers::start(name, "redis-server".as_ref(), |port| {
                let mut a = servers::server_args(port);
                a.extend(
                    ["--replicaof", "127.0.0.1", &master.port().to_string()].map(OsString::from),
                );
                a
            })
        };
        let second = start_replica("redis-replica2")?;
        wait_field(&mut m, "persistence", "rdb_bgsave_in_progress", "1")?;
        let third = start_replica("redis-replica3")?;
        let mut r2 = connect(&second.addr())?;
        let mut r3 = connect(&third.addr())?;
        wait_field(&mut r2, "replication", "master_link_status", "up")?;
        wait_field(&mut r3, "replication", "master_link_status", "up")?;
        m.call_ok(&["CONFIG", "SET", "rdb-key-save-delay", "0"])?;
        writer(&mut m, 200_000, 600)?;
        let keys = synced(&mut m, &mut r2)?;
        synced(&mut m, &mut r3)?;
        synced(&mut m, &mut r)?;
        for (name, srv) in [("second", &second), ("third", &third)] {
            let log = srv.log_tail(400);
            if !log.contains("bytes from master to disk") {
                return Err(format!(
                    "the {name} replica's log shows no length-prefixed RDB:\n{log}"
                ));
            }
        }
        let mlog = master.log_tail(200);
        if !mlog.contains("Waiting for end of BGSAVE for SYNC") {
            return Err(format!(
                "the third replica did not attach to the running BGSAVE:\n{mlog}"
            ));
        }
        let (full, n, saves, status, bgsave) = (
            m.info_field("stats", "sync_full")?,
            m.info_field("replication", "connected_slaves")?,
            m.info_field("persistence", "rdb_saves")?,
            m.info_field("persistence", "rdb_last_bgsave_status")?,
            m.info_field("persistence", "rdb_bgsave_in_progress")?,
        );
        if (full.as_str(), n.as_str()) != ("3", "3") {
            return Err(format!(
                "sync_full {full}, connected_slaves {n} (want 3 and 3)"
            ));
        }
        // One BGSAVE served both: rdb_saves moved by one.
        if saves != (saves0 + 1).to_string() || status != "ok" || bgsave != "0" {
            return Err(format!(
                "rdb_saves {saves} (was {saves0}), rdb_last_bgsave_status {status}, rdb_bgsave_in_progress {bgsave}"
            ));
        }
        // The file is a real RDB with the replication aux fields.
        let bytes = std::fs::read(&dump).map_err(|e| format!("{}: {e}", dump.display()))?;
        if !bytes.starts_with(b"REDIS0010") || !bytes.windows(7).any(|w| w == b"repl-id") {
            return Err(format!(
                "{} is not an RDB with repl aux fields ({} bytes)",
                dump.display(),
                bytes.len()
            ));
        }
        s.info.push(format!(
            "disk-based replicas: one BGSAVE wrote dump.rdb ({} bytes) for both; {keys} keys identical on all four",
            bytes.len()
        ));
        Ok(())
    })();
    check(
        s,
        "disk-based sync: the BGSAVE writes dump.rdb, a replica arriving during it attaches, all in sync",
        res,
    );
    // redis-cli --rdb (REPLCONF rdb-only 1, then SYNC): a valid RDB of the whole dataset,
    // then the master closes the connection; --functions-rdb (rdb-filter-only functions):
    // the libraries and no keys.
    let res = (|| {
        let out = std::env::temp_dir().join(format!("oxidis-rdb-only-{}.rdb", std::process::id()));
        let port = master.port().to_string();
        let keys = {
            let mut n = 0;
            for db in ["0", "1", "2"] {
                m.call_ok(&["SELECT", db])?;
                if let Reply::Int(k) = m.call_ok(&["DBSIZE"])? {
                    n += k;
                }
            }
            m.call_ok(&["SELECT", "0"])?;
            n
        };
        m.call(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=rdbonly\nredis.register_function('rdbonly_f', function() return 1 end)",
        ])?;
        let run = |args: &[&str]| -> Result<String, String> {
            let o = std::process::Command::new("redis-cli")
                .args(["-p", &port])
                .args(args)
                .arg(&out)
                .output()
                .map_err(|e| format!("redis-cli: {e}"))?;
            if !o.status.success() {
                return Err(format!(
                    "redis-cli {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
            let c = std::process::Command::new("redis-check-rdb")
                .arg(&out)
                .output()
                .map_err(|e| format!("redis-check-rdb: {e}"))?;
            let text = String::from_utf8_lossy(&c.stdout).into_owned();
            if !text.contains("RDB looks OK") {
                return Err(format!("redis-check-rdb on {args:?}'s file:\n{text}"));
            }
            Ok(text)
        };
        let text = run(&["--rdb"])?;
        if !text.contains(&format!("{keys} keys read")) {
            return Err(format!("--rdb: want {keys} keys:\n{text}"));
        }
        // The rdb-only connections were closed by the master (the first replica remains).
        wait_field(&mut m, "replication", "connected_slaves", "1")?;
        // Uncompressed, so the library's name can be found in the file.
        m.call_ok(&["CONFIG", "SET", "rdbcompression", "no"])?;
        let text = run(&["--functions-rdb"])?;
        m.call_ok(&["CONFIG", "SET", "rdbcompression", "yes"])?;
        let bytes = std::fs::read(&out).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&out);
        if !text.contains("0 keys read") || !bytes.windows(9).any(|w| w == b"rdbonly_f") {
            return Err(format!(
                "--functions-rdb: want the library and no keys:\n{text}"
            ));
        }
        wait_field(&mut m, "replication", "connected_slaves", "1")?;
        s.info.push(format!(
            "redis-cli --rdb: {keys} keys, redis-check-rdb OK; --functions-rdb: the library only"
        ));
        Ok(())
    })();
    check(
        s,
        "redis-cli --rdb / --functions-rdb (REPLCONF rdb-only, rdb-filter-only): valid RDBs, then closed",
        res,
    );
    drop(proxy);
    Ok(())
}

/// Polls an INFO field until it has the wanted value.
fn wait_field(c: &mut Conn, section: &str, field: &str, want: &str) -> Result<(), String> {
    let deadline = Instant::now() + SYNC_DEADLINE;
    loop {
        let got = c.info_field(section, field)?;
        if got == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("INFO {field} stayed {got:?}, want {want:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the replica has processed the master's whole stream and both datasets have
/// the same DEBUG DIGEST (retried: the master's active expiry may move between the reads);
/// returns the number of keys.
fn synced(m: &mut Conn, r: &mut Conn) -> Result<i64, String> {
    let deadline = Instant::now() + SYNC_DEADLINE;
    loop {
        let mo = m.info_field("replication", "master_repl_offset")?;
        let md = text(&m.call_ok(&["DEBUG", "DIGEST"])?);
        let ro = r.info_field("replication", "master_repl_offset")?;
        let rd = text(&r.call_ok(&["DEBUG", "DIGEST"])?);
        if mo == ro && md == rd {
            let mut keys = 0;
            for db in ["0", "1", "2"] {
                m.call_ok(&["SELECT", db])?;
                if let Reply::Int(n) = m.call_ok(&["DBSIZE"])? {
                    keys += n;
                }
            }
            m.call_ok(&["SELECT", "0"])?;
            return Ok(keys);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not in sync: master offset {mo} digest {md}, replica offset {ro} digest {rd}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `n` writes of every kind the stream carries, each one's reply checked; returns how many
/// were acknowledged (all of them, or an error).
pub(crate) fn writer(c: &mut Conn, base: u64, n: u64) -> Result<u64, String> {
    let mut acked = 0;
    let mut x = base
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in base..base + n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = (x >> 33) % 400;
        let (key, val) = (format!("k:{k}"), format!("v{i}"));
        let cmds: Vec<Vec<String>> = match i % 12 {
            0 => vec![vec!["SET".into(), key, val]],
            1 => vec![vec!["INCR".into(), format!("ctr:{}", k % 20)]],
            2 => vec![vec![
                "HSET".into(),
                format!("h:{}", k % 50),
                format!("f{}", k % 7),
                val,
            ]],
            3 => vec![vec!["LPUSH".into(), format!("l:{}", k % 30), val]],
            4 => vec![vec!["EXPIRE".into(), key, "100000".into()]],
            // Short TTLs: the master's expiry reaches the replica as DEL.
            5 => vec![vec![
                "SET".into(),
                format!("short:{k}"),
                val,
                "PX".into(),
                "50".into(),
            ]],
            6 => vec![
                vec!["MULTI".into()],
                vec!["INCR".into(), format!("ctr:{}", k % 20)],
                vec!["SADD".into(), format!("s:{}", k % 10), val],
                vec!["EXEC".into()],
            ],
            7 => vec![vec![
                "EVAL".into(),
                "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])".into(),
                "2".into(),
                format!("ev:{}", k % 40),
                "ev:count".into(),
                val,
            ]],
            8 => vec![
                vec!["SELECT".into(), "1".into()],
                vec!["SET".into(), format!("db1:{k}"), val],
                vec!["SELECT".into(), "0".into()],
            ],
            9 => vec![vec!["ZADD".into(), "z".into(), format!("{}", k), key]],
            10 => vec![vec!["DEL".into(), key]],
            _ => vec![vec![
                "RPOPLPUSH".into(),
                format!("l:{}", k % 30),
                format!("l:{}", (k + 1) % 30),
            ]],
        };
        for cmd in &cmds {
            if let Reply::Error(e) = c.call(cmd)? {
                return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&e)));
            }
        }
        acked += 1;
    }
    if acked != n {
        return Err(format!("{acked} of {n} writes acknowledged"));
    }
    Ok(acked)
}
