//! `cargo xtask test "replication (replica)"`: an Oxidis replica following Debian's real
//! redis-server 7.0.15 master (issue 17's interop test (b)).
//!
//! 1. redis-server master (free port, no persistence, diskless sync: the `$EOF:` form), a
//!    dataset written before oxidis-server starts with `--replicaof`; a bounded writer (SET,
//!    INCR, HSET, LPUSH, ZADD, EXPIRE, MULTI/EXEC, EVAL, XADD, another database) counting
//!    acknowledged writes; offsets equal, then DEBUG DIGEST equal and a few values compared.
//! 2. The link is cut (a proxy between the two drops it and refuses reconnections while writes
//!    go on; then `CLIENT KILL TYPE master` on the replica): the replica
//!    comes back with a partial resync (the master's sync_partial_ok grows, sync_full does
//!    not), digests equal.
//! 3. SAVE on the replica, a restart: a partial resync from the RDB's repl-id/repl-offset.
//! 4. READONLY for a normal client's write; REPLICAOF NO ONE promotes (writes accepted,
//!    master_replid2 is the old master's ID); REPLICAOF the master again at runtime, with
//!    the master's disk-based sync (the `$<len>` form): a full resync, digests equal.

use crate::servers::{self, Server};
use crate::suite::Suite;
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

pub fn run(ctx: &mut crate::test_all::Ctx, name: &str) -> Suite {
    let mut s = Suite::new(name);
    let bin = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    if let Err(e) = scenario(&bin, &mut s) {
        s.fail(e);
    }
    s
}

fn check(s: &mut Suite, what: &str, r: Result<(), String>) {
    match r {
        Ok(()) => s.passed += 1,
        Err(e) => s.fail(format!("{what}: {e}")),
    }
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::Error(b) => String::from_utf8_lossy(b).into(),
        other => format!("{other:?}"),
    }
}

/// Polls `f` until it is true or the deadline passes.
fn wait_until(what: &str, mut f: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if f()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn info(c: &mut Conn, section: &str, field: &str) -> Result<String, String> {
    c.info_field(section, field)
}

fn info_i64(c: &mut Conn, section: &str, field: &str) -> Result<i64, String> {
    info(c, section, field)?
        .parse()
        .map_err(|e| format!("INFO {field}: {e}"))
}

/// The writer: `n` writes from `start`, each acknowledged (no error reply); returns the count.
fn write_load(master: &str, start: usize, n: usize) -> Result<usize, String> {
    let mut c = Conn::connect(master)?;
    let mut other = Conn::connect(master)?;
    other.call_ok(&["SELECT", "5"])?;
    let mut acked = 0;
    for i in start..start + n {
        let (a, b, v) = (i % 500, i % 41, i.to_string());
        let r = match i % 10 {
            0 => c.call(&["SET", &format!("k:{a}"), &v])?,
            1 => c.call(&["INCR", &format!("ctr:{}", i % 50)])?,
            2 => c.call(&["HSET", &format!("h:{b}"), &format!("f{}", i % 17), &v])?,
            3 => c.call(&["LPUSH", &format!("l:{b}"), &v])?,
            4 => c.call(&[
                "ZADD",
                &format!("z:{b}"),
                &(i % 97).to_string(),
                &format!("m{}", i % 61),
            ])?,
            5 => c.call(&["EXPIRE", &format!("k:{a}"), "100000"])?,
            6 => {
                c.call_ok(&["MULTI"])?;
                c.call(&["INCR", &format!("tx:{b}")])?;
                c.call(&["SET", &format!("txs:{b}"), &v])?;
                c.call(&["EXEC"])?
            }
            7 => c.call(&[
                "EVAL",
                "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])",
                "2",
                &format!("e:{}", i % 20),
                &format!("ec:{}", i % 7),
                &v,
            ])?,
            8 => c.call(&["XADD", &format!("s:{}", i % 3), "*", "f", &v])?,
            _ => other.call(&["SET", &format!("o:{}", i % 100), &v])?,
        };
        match r {
            Reply::Error(e) => {
                return Err(format!(
                    "write {i} refused: {}",
                    String::from_utf8_lossy(&e)
                ))
            }
            _ => acked += 1,
        }
    }
    Ok(acked)
}

/// Waits until the replica has applied everything the master produced.
fn wait_synced(master: &mut Conn, replica: &mut Conn) -> Result<(), String> {
    wait_until("the replica's offset to reach the master's", || {
        let link = info(replica, "replication", "master_link_status")?;
        if link != "up" {
            return Ok(false);
        }
        let m = info_i64(master, "replication", "master_repl_offset")?;
        let r = info_i64(replica, "replication", "slave_repl_offset")?;
        Ok(m == r)
    })
}

/// The master's (sync_full, sync_partial_ok).
fn sync_counts(master: &mut Conn) -> Result<(i64, i64), String> {
    Ok((
        info_i64(master, "stats", "sync_full")?,
        info_i64(master, "stats", "sync_partial_ok")?,
    ))
}

/// Since `before`, the master served a partial resync and no full one.
fn resynced_partially(master: &mut Conn, before: (i64, i64)) -> Result<(), String> {
    let ((full, partial), (full2, partial2)) = (before, sync_counts(master)?);
    if full2 != full || partial2 <= partial {
        return Err(format!(
            "sync_full {full} -> {full2}, sync_partial_ok {partial} -> {partial2}"
        ));
    }
    Ok(())
}

/// DEBUG DIGEST equal, DBSIZE of each used database equal, a few values equal.
fn same_data(master: &mut Conn, replica: &mut Conn) -> Result<(), String> {
    let dm = text(&master.call_ok(&["DEBUG", "DIGEST"])?);
    let dr = text(&replica.call_ok(&["DEBUG", "DIGEST"])?);
    if dm != dr {
        return Err(format!("DEBUG DIGEST differs: master {dm}, replica {dr}"));
    }
    if dm == "0".repeat(40) {
        return Err("the dataset is empty".into());
    }
    for db in ["0", "5"] {
        master.call_ok(&["SELECT", db])?;
        replica.call_ok(&["SELECT", db])?;
        let (a, b) = (master.call_ok(&["DBSIZE"])?, replica.call_ok(&["DBSIZE"])?);
        if a != b {
            return Err(format!("DBSIZE of db {db}: master {a:?}, replica {b:?}"));
        }
    }
    master.call_ok(&["SELECT", "0"])?;
    replica.call_ok(&["SELECT", "0"])?;
    let reads: [&[&str]; 5] = [
        &["LRANGE", "l:3", "0", "-1"],
        &["HGETALL", "h:5"],
        &["ZRANGE", "z:7", "0", "-1", "WITHSCORES"],
        &["XRANGE", "s:1", "-", "+"],
        &["TTL", "k:10"],
    ];
    for r in reads {
        let (a, b) = (master.call(r)?, replica.call(r)?);
        if a != b {
            return Err(format!("{r:?}: master {a:?}, replica {b:?}"));
        }
    }
    Ok(())
}

fn replica_args(port: u16, master_port: u16, dir: &Path) -> Vec<OsString> {
    let mut a = servers::server_args(port);
    // Our own working directory (server_args makes one per port), kept across a restart.
    if let Some(i) = a.iter().position(|x| x == "--dir") {
        a[i + 1] = dir.as_os_str().to_owned();
    }
    for x in ["--replicaof", "127.0.0.1", &master_port.to_string()] {
        a.push(OsString::from(x));
    }
    a
}

fn scenario(bin: &Path, s: &mut Suite) -> Result<(), String> {
    let redis: Server = servers::start_redis()?;
    let mut m = Conn::connect(&redis.addr())?;
    m.set_timeout(Duration::from_secs(10));
    m.call_ok(&["CONFIG", "SET", "repl-diskless-sync-delay", "0"])?;
    // A dataset before the replica exists: it arrives in the RDB.
    let mut acked = write_load(&redis.addr(), 0, 1000)?;
    let dir = std::env::temp_dir().join(format!("oxidis-repl-replica-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mport = redis.port();
    // The replica reaches the master through a proxy that can drop the link (a network cut).
    let proxy = crate::cutproxy::CutProxy::start(&redis.addr())?;
    let pport = proxy.port();
    // Read before the replica starts: its full sync may be over before the next line runs.
    let full0 = info_i64(&mut m, "stats", "sync_full")?;
    let ox = servers::start("oxidis-server", bin, |p| replica_args(p, pport, &dir))?;
    let mut r = Conn::connect(&ox.addr())?;
    r.set_timeout(Duration::from_secs(10));

    // 1. Full sync (diskless: $EOF), then the stream. repl-diskless-load is disabled (the
    // default): the RDB received went to dump.rdb before it was loaded.
    check(
        s,
        "full sync (diskless) then streaming; the received RDB stored as dump.rdb",
        (|| {
            wait_synced(&mut m, &mut r)?;
            let dump = dir.join("dump.rdb");
            let bytes = std::fs::read(&dump).map_err(|e| format!("{}: {e}", dump.display()))?;
            if !bytes.starts_with(b"REDIS0010") || !bytes.windows(7).any(|w| w == b"repl-id") {
                return Err(format!("{} is not the master's RDB", dump.display()));
            }
            acked += write_load(&redis.addr(), 1000, 3000)?;
            wait_synced(&mut m, &mut r)?;
            same_data(&mut m, &mut r)
        })(),
    );
    check(
        s,
        "one full sync so far",
        (|| {
            let full = info_i64(&mut m, "stats", "sync_full")?;
            (full == full0 + 1)
                .then_some(())
                .ok_or(format!("sync_full {full0} -> {full}"))
        })(),
    );
    check(
        s,
        "INFO replication on the replica",
        (|| {
            for (f, want) in [
                ("role", "slave"),
                ("master_link_status", "up"),
                ("master_sync_in_progress", "0"),
            ] {
                let got = info(&mut r, "replication", f)?;
                if got != want {
                    return Err(format!("INFO {f}: {got}, want {want}"));
                }
            }
            let mid = info(&mut m, "replication", "master_replid")?;
            let rid = info(&mut r, "replication", "master_replid")?;
            (mid == rid)
                .then_some(())
                .ok_or(format!("master_replid {rid}, master's {mid}"))
        })(),
    );
    check(
        s,
        "READONLY for a client's write",
        (|| match r.call(&["SET", "x", "1"])? {
            Reply::Error(e) if e == b"READONLY You can't write against a read only replica." => {
                Ok(())
            }
            other => Err(format!("SET on the replica: {other:?}")),
        })(),
    );

    // 2. A cut, writes meanwhile, a partial resync.
    check(
        s,
        "partial resync after a network cut (the proxy drops the link)",
        (|| {
            let before = sync_counts(&mut m)?;
            // The link stays down while the writes go on: the replica must catch up.
            proxy.hold(true);
            proxy.cut();
            acked += write_load(&redis.addr(), 4000, 1000)?;
            proxy.hold(false);
            wait_synced(&mut m, &mut r)?;
            same_data(&mut m, &mut r)?;
            resynced_partially(&mut m, before)
        })(),
    );

    check(
        s,
        "partial resync after CLIENT KILL TYPE master on the replica",
        (|| {
            let before = sync_counts(&mut m)?;
            let killed = r.call_ok(&["CLIENT", "KILL", "TYPE", "master"])?;
            if killed != Reply::Int(1) {
                return Err(format!("CLIENT KILL TYPE master: {killed:?}"));
            }
            acked += write_load(&redis.addr(), 5500, 300)?;
            wait_synced(&mut m, &mut r)?;
            same_data(&mut m, &mut r)?;
            resynced_partially(&mut m, before)
        })(),
    );

    // 3. SAVE, restart: the RDB's repl-id/repl-offset let the new process continue.
    let mut ox = ox;
    check(
        s,
        "partial resync after a restart (RDB repl aux fields)",
        (|| {
            r.call_ok(&["SAVE"])?;
            let before = sync_counts(&mut m)?;
            drop(std::mem::replace(
                &mut ox,
                servers::start("oxidis-server", bin, |p| replica_args(p, pport, &dir))?,
            ));
            acked += write_load(&redis.addr(), 6000, 300)?;
            r = Conn::connect(&ox.addr())?;
            r.set_timeout(Duration::from_secs(10));
            wait_synced(&mut m, &mut r)?;
            same_data(&mut m, &mut r)?;
            resynced_partially(&mut m, before)
        })(),
    );

    // 4. Promotion, then a runtime REPLICAOF with the disk-based form.
    check(
        s,
        "REPLICAOF NO ONE promotes",
        (|| {
            let old = info(&mut m, "replication", "master_replid")?;
            r.call_ok(&["REPLICAOF", "NO", "ONE"])?;
            r.call_ok(&["SET", "promoted", "1"])?;
            let (role, id2) = (
                info(&mut r, "replication", "role")?,
                info(&mut r, "replication", "master_replid2")?,
            );
            (role == "master" && id2 == old)
                .then_some(())
                .ok_or(format!(
                    "role {role}, master_replid2 {id2}, old master's ID {old}"
                ))
        })(),
    );
    check(
        s,
        "REPLICAOF at runtime, disk-based full sync",
        (|| {
            m.call_ok(&["CONFIG", "SET", "repl-diskless-sync", "no"])?;
            let full = info_i64(&mut m, "stats", "sync_full")?;
            let port = mport.to_string();
            let ok = r.call_ok(&["REPLICAOF", "127.0.0.1", &port])?;
            if text(&ok) != "OK" {
                return Err(format!("REPLICAOF: {ok:?}"));
            }
            let again = r.call_ok(&["REPLICAOF", "127.0.0.1", &port])?;
            if text(&again) != "OK Already connected to specified master" {
                return Err(format!("REPLICAOF again: {again:?}"));
            }
            acked += write_load(&redis.addr(), 7000, 500)?;
            wait_synced(&mut m, &mut r)?;
            same_data(&mut m, &mut r)?;
            if r.call(&["GET", "promoted"])? != Reply::Nil {
                return Err("the promoted write survived the full sync".into());
            }
            let full2 = info_i64(&mut m, "stats", "sync_full")?;
            (full2 == full + 1)
                .then_some(())
                .ok_or(format!("sync_full {full} -> {full2}"))
        })(),
    );
    s.info.push(format!(
        "{acked} writes acknowledged by the master, all on the replica"
    ));
    drop(ox);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
