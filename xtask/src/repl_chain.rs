//! `cargo xtask test "replication (chain)"`: chained replication (issue 17's interop test (c)):
//! a replica proxies its master's stream to its own replicas.
//!
//! 1. Debian's redis-server master → an Oxidis replica → a redis-server sub-replica, each link
//!    through a cut proxy (cutproxy.rs). A bounded writer on the master (every kind of write
//!    the stream carries, each reply checked) counts acknowledged writes; the three offsets
//!    become equal and DEBUG DIGEST is equal on all three.
//! 2. The middle node's upstream link is cut and held while writes go on: the Oxidis replica
//!    continues with a partial resync (the master's sync_partial_ok grows, its sync_full does
//!    not) and its sub-replica keeps its link (no full sync served by the middle node).
//! 3. The downstream link (Oxidis → sub-replica) is cut and held: the Oxidis node serves the
//!    sub-replica a partial resync (+CONTINUE from its backlog), digests equal again.
//! 4. The same chain with Oxidis in all three places.

use crate::cutproxy::CutProxy;
use crate::servers::{self, Server};
use crate::suite::Suite;
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

pub fn run(ctx: &mut crate::test_all::Ctx, name: &str) -> Suite {
    let mut s = Suite::new(name);
    let bin = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    let redis = Path::new("redis-server");
    if let Err(e) = chain(&mut s, "redis → oxidis → redis", [redis, &bin, redis]) {
        s.fail(format!("redis → oxidis → redis: {e}"));
    }
    if let Err(e) = chain(&mut s, "oxidis → oxidis → oxidis", [&bin, &bin, &bin]) {
        s.fail(format!("oxidis → oxidis → oxidis: {e}"));
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
        Reply::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn connect(addr: &str) -> Result<Conn, String> {
    let mut c = Conn::connect(addr)?;
    c.set_timeout(Duration::from_secs(30));
    Ok(c)
}

fn info_i64(c: &mut Conn, section: &str, field: &str) -> Result<i64, String> {
    c.info_field(section, field)?
        .parse()
        .map_err(|e| format!("INFO {field}: {e}"))
}

fn start(name: &str, bin: &Path, upstream: Option<u16>) -> Result<Server, String> {
    servers::start(name, bin, |port| {
        let mut a = servers::server_args(port);
        a.extend(["--repl-diskless-sync-delay", "0"].map(OsString::from));
        if let Some(up) = upstream {
            a.extend(["--replicaof", "127.0.0.1", &up.to_string()].map(OsString::from));
        }
        a
    })
}

/// Waits until the three nodes have the same offset (each replica's master_repl_offset is the
/// stream it applied) with both links up, then until the three DEBUG DIGESTs are equal
/// (re-read: the master's active expiry may move between the reads). Returns the digest and
/// the offset.
fn chain_synced(mut nodes: [&mut Conn; 3]) -> Result<(String, i64), String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut offsets = [0i64; 3];
        let mut digests = [String::new(), String::new(), String::new()];
        let mut links_up = true;
        for (i, c) in nodes.iter_mut().enumerate() {
            offsets[i] = info_i64(c, "replication", "master_repl_offset")?;
            digests[i] = text(&c.call_ok(&["DEBUG", "DIGEST"])?);
            if i > 0 {
                links_up &= c.info_field("replication", "master_link_status")? == "up";
            }
        }
        if links_up
            && offsets.iter().all(|&o| o == offsets[0])
            && digests.iter().all(|d| *d == digests[0])
        {
            if digests[0] == "0".repeat(40) {
                return Err("the dataset is empty".into());
            }
            return Ok((digests[0].clone(), offsets[0]));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not in sync: offsets {offsets:?}, digests {digests:?}, links up {links_up}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (sync_full, sync_partial_ok) of a node's master side.
fn syncs(c: &mut Conn) -> Result<(i64, i64), String> {
    Ok((
        info_i64(c, "stats", "sync_full")?,
        info_i64(c, "stats", "sync_partial_ok")?,
    ))
}

fn wait_link(c: &mut Conn, want: &str) -> Result<(), String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let got = c.info_field("replication", "master_link_status")?;
        if got == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("master_link_status stayed {got}, want {want}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One chain: top → (proxy) → mid → (proxy) → bottom, the kinds given by their binaries.
fn chain(s: &mut Suite, label: &str, bins: [&Path; 3]) -> Result<(), String> {
    let top = start("chain-top", bins[0], None)?;
    let mut m = connect(&top.addr())?;
    // A dataset before the chain exists: it reaches both replicas in RDBs.
    let mut acked = crate::repl_master::writer(&mut m, 0, 1000)?;
    let up = CutProxy::start(&top.addr())?;
    let mid = start("chain-mid", bins[1], Some(up.port()))?;
    let down = CutProxy::start(&mid.addr())?;
    let bottom = start("chain-bottom", bins[2], Some(down.port()))?;
    let logs = |e: String| {
        format!(
            "{e}\n{}\n{}\n{}",
            top.log_tail(10),
            mid.log_tail(20),
            bottom.log_tail(20)
        )
    };
    let mut x = connect(&mid.addr())?;
    let mut b = connect(&bottom.addr())?;

    // 1. Full syncs down the chain, then the stream passes through the middle node.
    let r = (|| {
        wait_link(&mut x, "up")?;
        wait_link(&mut b, "up")?;
        acked += crate::repl_master::writer(&mut m, 1000, 3000)?;
        let (digest, offset) = chain_synced([&mut m, &mut x, &mut b])?;
        let (full_top, _) = syncs(&mut m)?;
        let (full_mid, _) = syncs(&mut x)?;
        if (full_top, full_mid) != (1, 1) {
            return Err(format!(
                "sync_full: master {full_top}, middle {full_mid} (want 1 and 1)"
            ));
        }
        s.info.push(format!(
            "{label}: full syncs + stream, offsets equal at {offset}, digest {digest} on all three"
        ));
        Ok(())
    })();
    check(
        s,
        &format!("{label}: offsets and digests equal down the chain"),
        r.map_err(logs),
    );

    // 2. The middle node's upstream link cut and held while the master takes writes.
    let r = (|| {
        let (full_top, partial_top) = syncs(&mut m)?;
        let (full_mid, partial_mid) = syncs(&mut x)?;
        up.hold(true);
        up.cut();
        wait_link(&mut x, "down")?;
        acked += crate::repl_master::writer(&mut m, 10_000, 1000)?;
        up.hold(false);
        chain_synced([&mut m, &mut x, &mut b])?;
        let now_top = syncs(&mut m)?;
        let now_mid = syncs(&mut x)?;
        if now_top != (full_top, partial_top + 1) {
            return Err(format!(
                "master (sync_full, sync_partial_ok) {:?} -> {now_top:?}: want one partial resync",
                (full_top, partial_top)
            ));
        }
        if now_mid.0 != full_mid {
            return Err(format!(
                "the middle node served a full sync to its sub-replica: {:?} -> {now_mid:?}",
                (full_mid, partial_mid)
            ));
        }
        Ok(())
    })();
    check(
        s,
        &format!("{label}: upstream cut, partial resync, sub-replica kept"),
        r.map_err(logs),
    );

    // 3. The downstream link cut and held: the middle node serves +CONTINUE.
    let r = (|| {
        let (full_mid, partial_mid) = syncs(&mut x)?;
        down.hold(true);
        down.cut();
        wait_link(&mut b, "down")?;
        acked += crate::repl_master::writer(&mut m, 20_000, 1000)?;
        down.hold(false);
        let (digest, _) = chain_synced([&mut m, &mut x, &mut b])?;
        let now_mid = syncs(&mut x)?;
        if now_mid != (full_mid, partial_mid + 1) {
            return Err(format!(
                "middle (sync_full, sync_partial_ok) {:?} -> {now_mid:?}: want one partial resync",
                (full_mid, partial_mid)
            ));
        }
        s.info.push(format!(
            "{label}: after a cut of each link, partial resyncs, digest {digest} on all three"
        ));
        Ok(())
    })();
    check(
        s,
        &format!("{label}: downstream cut, partial resync served by the middle node"),
        r.map_err(logs),
    );
    s.info.push(format!(
        "{label}: {acked} writes acknowledged by the master, all on both replicas"
    ));
    Ok(())
}
