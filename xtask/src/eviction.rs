//! `cargo xtask test eviction`: `maxmemory` and the eight `maxmemory-policy` values over real
//! sockets, on redis-server and oxidis-server side by side (every check runs on redis-server
//! too, which proves it meaningful).
//!
//! For each policy both servers start with `--maxmemory 4mb` (the 50mb takes minutes:
//! CI runs 4mb, near 25 s against a debug build; `EVICTION_MB=50` runs the long variant, see
//! [`maxmemory`]) and that policy, and one
//! workload runs on each (on both at once, each from its own thread):
//!
//! 1. persistent keys (`p:N`, no TTL) fill a fifth of the bound;
//! 2. a hot set (`h:N`, the longest TTL) fills a twentieth;
//! 3. a bounded writer then writes 2.5 times the bound of cold keys (`c:N`, TTLs spread
//!    uniformly over 1000..100000 s), in pipelined batches that first read every hot key, then
//!    write, then read random earlier cold keys (their hit ratios are measured over the second
//!    half, when the memory is full); after each batch a second connection samples INFO's
//!    `used_memory`.
//!    For the LRU policies the writer is paced (1000 writes/s): Redis's LRU clock ticks once a
//!    second, so keys touched within the same second look equally old and an unpaced writer
//!    that overfills the memory in a fraction of a second makes LRU indistinguishable from
//!    random (measured: hot hit ratio 0.26 on redis-server). Paced, the cold keys live a few
//!    seconds and the hot keys, read every fraction of a second, are always the youngest.
//!
//! The checks, per server and policy:
//! - `used_memory` never exceeds the bound by more than [`TOLERANCE`], 4 KB (Redis evicts
//!   before each command, so a command may overshoot by what it adds; Redis's own maxmemory
//!   test allows 4096 bytes);
//! - noeviction: writes are refused with Redis's exact OOM error, `evicted_keys` stays 0, and
//!   reads are still served;
//! - every other policy: `evicted_keys` > 0 and no write is refused;
//! - volatile-*: no key without a TTL is evicted;
//! - volatile-ttl: the evicted keys' TTLs are shorter than the survivors' (mean, with a margin);
//! - allkeys-lru, allkeys-lfu, volatile-lru, volatile-lfu: the hot set's hit ratio is high and
//!   well above the cold keys' (loose bounds; both ratios are printed for every policy).
//!
//! First, client eviction (`maxmemory-clients`, CLIENT NO-EVICT) on both servers: see
//! [`client_eviction`].

use crate::servers::{self, Server};
use crate::suite::Suite;
use oxidis_core::resp::{append_request, decode_reply, Reply};
use oxidis_testkit::Conn;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

pub const POLICIES: [&str; 8] = [
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];

/// The bound the servers run with in CI.
pub const MAXMEMORY: u64 = 4 << 20;

/// The bound for this run: [`MAXMEMORY`], or `EVICTION_MB` megabytes for the long variant the
/// issue describes (`EVICTION_MB=50 cargo xtask test eviction`: a few minutes, the LRU runs
/// being paced at 1000 writes a second; run outside CI and reported in notes).
pub fn maxmemory() -> u64 {
    std::env::var("EVICTION_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&mb| mb > 0)
        .map_or(MAXMEMORY, |mb| mb << 20)
}
/// How far above the bound `used_memory` may be seen between batches: Redis's own maxmemory
/// test allows 4096 bytes (tests/unit/maxmemory.tcl, `used_memory < limit+4096`), as Redis
/// evicts before a command runs and the command itself (one ~1 KB SET here) may overshoot.
/// redis-server's worst here: +32 bytes.
pub const TOLERANCE: u64 = 4096;
/// The value size: a SET adds about a kilobyte (and its key and overhead).
const VALUE: usize = 1000;
/// Writes per pipelined batch, and reads of random earlier cold keys in each batch.
const BATCH: usize = 100;
const COLD_READS: usize = 50;
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The command line of a server with a memory bound and a policy.
pub fn args_with(port: u16, extra: &[(&str, String)]) -> Vec<OsString> {
    let mut a = servers::server_args(port);
    for (k, v) in extra {
        a.push(OsString::from(format!("--{k}")));
        a.push(OsString::from(v));
    }
    a
}

fn start_pair(ox: &Path, policy: &str) -> Result<(Server, Server), String> {
    let extra = [
        ("maxmemory", maxmemory().to_string()),
        ("maxmemory-policy", policy.to_string()),
    ];
    let redis = servers::start("redis-server", Path::new("redis-server"), |p| {
        args_with(p, &extra)
    })?;
    let oxidis = servers::start("oxidis-server", ox, |p| args_with(p, &extra))?;
    Ok((redis, oxidis))
}

/// What one run of the workload saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub used_max: u64,
    pub used_end: u64,
    pub evicted: u64,
    pub writes: usize,
    pub oom: usize,
    /// Error replies other than Redis's OOM (the first one).
    pub other_error: Option<String>,
    pub persistent_missing: usize,
    pub persistent: usize,
    pub hot_hits: usize,
    pub hot_reads: usize,
    pub cold_hits: usize,
    pub cold_reads: usize,
    /// After the writer: the mean assigned TTL (s) of the cold keys evicted, and of the others.
    pub ttl_evicted: f64,
    pub ttl_kept: f64,
    pub cold_evicted: usize,
    /// A GET of a persistent key after the writer (noeviction: reads still served).
    pub read_after: bool,
}

impl Outcome {
    pub fn hot_ratio(&self) -> f64 {
        ratio(self.hot_hits, self.hot_reads)
    }
    pub fn cold_ratio(&self) -> f64 {
        ratio(self.cold_hits, self.cold_reads)
    }
    pub fn summary(&self) -> String {
        format!(
            "used_memory max {} ({:+} B from the bound; end {}), evicted_keys {}, OOM replies {}, \
             hot hit ratio {:.3}, cold {:.3}, evicted TTL mean {:.0}s vs kept {:.0}s",
            mb(self.used_max),
            self.used_max as i64 - maxmemory() as i64,
            mb(self.used_end),
            self.evicted,
            self.oom,
            self.hot_ratio(),
            self.cold_ratio(),
            self.ttl_evicted,
            self.ttl_kept
        )
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

pub fn mb(n: u64) -> String {
    format!("{:.2}MB", n as f64 / (1 << 20) as f64)
}

fn info_u64(c: &mut Conn, section: &str, field: &str) -> Result<u64, String> {
    let v = c.info_field(section, field)?;
    v.parse()
        .map_err(|_| format!("INFO {field}: not a number: {v:?}"))
}

/// Sends `cmds` pipelined; returns their replies.
fn pipeline(c: &mut Conn, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>, String> {
    let mut req = Vec::new();
    for cmd in cmds {
        append_request(&mut req, cmd);
    }
    let (buf, ends) = c.exchange(&req, cmds.len())?;
    let mut out = Vec::with_capacity(cmds.len());
    let mut start = 0;
    for end in ends {
        match decode_reply(&buf[start..end]) {
            Ok(Some((r, _))) => out.push(r),
            _ => return Err("undecodable reply".into()),
        }
        start = end;
    }
    Ok(out)
}

fn set(key: String, value: &[u8], ex: Option<u64>) -> Vec<Vec<u8>> {
    let mut c = vec![b"SET".to_vec(), key.into_bytes(), value.to_vec()];
    if let Some(s) = ex {
        c.push(b"EX".to_vec());
        c.push(s.to_string().into_bytes());
    }
    c
}

fn get(key: String) -> Vec<Vec<u8>> {
    vec![b"GET".to_vec(), key.into_bytes()]
}

/// Counts a write's reply: OOM refusals, other errors.
fn count_write(o: &mut Outcome, r: &Reply) {
    if let Reply::Error(e) = r {
        let e = String::from_utf8_lossy(e).into_owned();
        if e == OOM {
            o.oom += 1;
        } else if o.other_error.is_none() {
            o.other_error = Some(e);
        }
    }
}

/// Runs the workload on the server at `addr` (bound `maxmemory`), with `seed` for the TTLs and
/// the reads.
pub fn workload(addr: &str, maxmemory: u64, seed: u64, paced: bool) -> Result<Outcome, String> {
    let mut c = Conn::connect(addr)?;
    let mut m = Conn::connect(addr)?;
    c.set_timeout(Duration::from_secs(60));
    let mut rng = oxidis_core::Rng::new(seed);
    let value = vec![b'v'; VALUE];
    let per_key = VALUE as u64 + 100;
    let n_persistent = (maxmemory / 5 / per_key) as usize;
    let n_hot = (maxmemory / 20 / per_key) as usize;
    let n_cold = (5 * maxmemory / 2 / per_key) as usize;
    let mut o = Outcome {
        persistent: n_persistent,
        ..Outcome::default()
    };
    let sample = |o: &mut Outcome, m: &mut Conn| -> Result<(), String> {
        let used = info_u64(m, "memory", "used_memory")?;
        o.used_max = o.used_max.max(used);
        Ok(())
    };
    // Persistent keys, then the hot set.
    let fill: Vec<Vec<Vec<u8>>> = (0..n_persistent)
        .map(|i| set(format!("p:{i}"), &value, None))
        .chain((0..n_hot).map(|i| set(format!("h:{i}"), &value, Some(10_000_000))))
        .collect();
    for chunk in fill.chunks(BATCH) {
        for r in pipeline(&mut c, chunk)? {
            count_write(&mut o, &r);
        }
        o.writes += chunk.len();
        sample(&mut o, &mut m)?;
    }
    if o.oom > 0 {
        return Err(format!(
            "{} OOM replies while filling only 25% of maxmemory",
            o.oom
        ));
    }
    // The writer: cold keys with spread TTLs, reads of hot and cold keys in every batch.
    let ttls: Vec<u64> = (0..n_cold).map(|_| 1000 + rng.below(99_000)).collect();
    let mut i = 0;
    let mut oom_batches = 0;
    let started = std::time::Instant::now();
    while i < n_cold {
        if paced {
            // 1000 writes a second (see the module comment).
            let due = started + Duration::from_millis(i as u64);
            std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
        }
        let end = (i + BATCH).min(n_cold);
        // The hot set first: all of it is younger than anything this batch may evict.
        let mut cmds: Vec<Vec<Vec<u8>>> = (0..n_hot).map(|h| get(format!("h:{h}"))).collect();
        cmds.extend((i..end).map(|k| set(format!("c:{k}"), &value, Some(ttls[k]))));
        // noeviction refuses writes early: its reads are measured from the first refusal.
        let measuring = i >= n_cold / 2 || o.oom > 0;
        for _ in 0..COLD_READS {
            cmds.push(get(format!("c:{}", rng.below(end as u64))));
        }
        let replies = pipeline(&mut c, &cmds)?;
        let before = o.oom;
        for r in &replies[n_hot..n_hot + end - i] {
            count_write(&mut o, r);
        }
        o.writes += end - i;
        if measuring {
            let reads = replies[..n_hot].iter().chain(&replies[n_hot + end - i..]);
            for (k, r) in reads.enumerate() {
                let hit = matches!(r, Reply::Bulk(_));
                if k < n_hot {
                    o.hot_reads += 1;
                    o.hot_hits += usize::from(hit);
                } else {
                    o.cold_reads += 1;
                    o.cold_hits += usize::from(hit);
                }
            }
        }
        sample(&mut o, &mut m)?;
        i = end;
        // noeviction: a few refused batches prove the point; no need to write them all.
        if o.oom > before {
            oom_batches += 1;
            if oom_batches >= 20 {
                break;
            }
        }
    }
    o.used_end = info_u64(&mut m, "memory", "used_memory")?;
    o.evicted = info_u64(&mut m, "stats", "evicted_keys")?;
    o.read_after = matches!(m.call(&["GET", "p:0"])?, Reply::Bulk(_))
        || matches!(m.call(&["GET", "h:0"])?, Reply::Bulk(_));
    // Which keys are left.
    let exists = |c: &mut Conn, keys: Vec<String>| -> Result<Vec<bool>, String> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(1000) {
            let cmds: Vec<Vec<Vec<u8>>> = chunk
                .iter()
                .map(|k| vec![b"EXISTS".to_vec(), k.clone().into_bytes()])
                .collect();
            for r in pipeline(c, &cmds)? {
                out.push(matches!(r, Reply::Int(1)));
            }
        }
        Ok(out)
    };
    let persistent = exists(
        &mut c,
        (0..n_persistent).map(|i| format!("p:{i}")).collect(),
    )?;
    o.persistent_missing = persistent.iter().filter(|e| !**e).count();
    let written = i;
    let cold = exists(&mut c, (0..written).map(|i| format!("c:{i}")).collect())?;
    let (mut ev, mut ev_n, mut kept, mut kept_n) = (0u64, 0usize, 0u64, 0usize);
    for (k, present) in cold.iter().enumerate() {
        // Keys the server refused (noeviction) were never there: only count evictions where
        // writes were accepted.
        if *present {
            kept += ttls[k];
            kept_n += 1;
        } else {
            ev += ttls[k];
            ev_n += 1;
        }
    }
    o.cold_evicted = ev_n;
    o.ttl_evicted = if ev_n > 0 {
        ev as f64 / ev_n as f64
    } else {
        0.0
    };
    o.ttl_kept = if kept_n > 0 {
        kept as f64 / kept_n as f64
    } else {
        0.0
    };
    Ok(o)
}

/// The policy's checks on one outcome: the failures, each a sentence.
pub fn check(policy: &str, maxmemory: u64, o: &Outcome) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(e) = &o.other_error {
        bad.push(format!("unexpected error reply to a write: {e}"));
    }
    if o.used_max > maxmemory + TOLERANCE {
        bad.push(format!(
            "used_memory reached {} ({} bytes) with maxmemory {} (tolerance {TOLERANCE} bytes): \
             the bound is not kept",
            mb(o.used_max),
            o.used_max,
            mb(maxmemory)
        ));
    }
    if policy == "noeviction" {
        if o.oom == 0 {
            bad.push(format!(
                "no write was refused with -{OOM} after writing {} keys of ~1 KB into \
                 maxmemory {}",
                o.writes,
                mb(maxmemory)
            ));
        }
        if o.evicted != 0 {
            bad.push(format!("evicted_keys is {} under noeviction", o.evicted));
        }
        if !o.read_after || o.hot_reads == 0 || o.hot_hits < o.hot_reads {
            bad.push(format!(
                "reads not served while writes are refused (hot reads {}/{}, GET after: {})",
                o.hot_hits, o.hot_reads, o.read_after
            ));
        }
        return bad;
    }
    if o.evicted == 0 {
        bad.push(format!(
            "evicted_keys is 0 after writing {} keys of ~1 KB into maxmemory {}: nothing was \
             evicted",
            o.writes,
            mb(maxmemory)
        ));
    }
    if o.oom > 0 {
        bad.push(format!(
            "{} writes refused with OOM although {policy} can evict",
            o.oom
        ));
    }
    if policy.starts_with("volatile-") && o.persistent_missing > 0 {
        bad.push(format!(
            "{} of {} keys without a TTL were evicted (volatile-* only evicts keys with a TTL)",
            o.persistent_missing, o.persistent
        ));
    }
    if policy == "volatile-ttl" && !(o.cold_evicted > 0 && o.ttl_evicted < 0.8 * o.ttl_kept) {
        bad.push(format!(
            "the evicted keys' TTLs (mean {:.0}s over {}) are not shorter than the kept keys' \
             (mean {:.0}s): volatile-ttl evicts the shortest TTLs first",
            o.ttl_evicted, o.cold_evicted, o.ttl_kept
        ));
    }
    if (policy.ends_with("-lru") || policy.ends_with("-lfu"))
        && !(o.hot_ratio() >= 0.8 && o.hot_ratio() >= o.cold_ratio() + 0.3)
    {
        bad.push(format!(
            "the continuously read hot set's hit ratio is {:.3} (cold keys {:.3}): {policy} \
             should keep it (>= 0.8 and 0.3 above the cold keys')",
            o.hot_ratio(),
            o.cold_ratio()
        ));
    }
    bad
}

pub fn run(ctx: &mut crate::test_all::Ctx, name: &str) -> Suite {
    let ox = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    let mut s = Suite::new(name);
    s.info.push(format!(
        "maxmemory {}, ~1 KB values, 2.5x the bound written after 25% of persistent and hot keys",
        mb(maxmemory())
    ));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    match start_pair(&ox, "noeviction") {
        Ok((redis, oxidis)) => {
            for (server, srv) in [("redis-server", &redis), ("oxidis-server", &oxidis)] {
                let what = format!("maxmemory-clients {MAXMEMORY_CLIENTS} on {server}");
                match client_eviction(&srv.addr()) {
                    Ok(info) => {
                        println!("    ok     {what}: {info}");
                        s.info.push(format!("{what}: {info}"));
                        s.passed += 1;
                    }
                    Err(e) => {
                        println!("    FAILED {what}");
                        s.fail(format!("{what}: {e}"));
                    }
                }
            }
        }
        Err(e) => s.fail(format!("maxmemory-clients: {e}")),
    }
    for policy in POLICIES {
        let (redis, oxidis) = match start_pair(&ox, policy) {
            Ok(p) => p,
            Err(e) => {
                s.fail(format!("{policy}: {e}"));
                continue;
            }
        };
        let paced = policy.ends_with("-lru");
        let (r, x) = std::thread::scope(|sc| {
            let r = sc.spawn(|| workload(&redis.addr(), maxmemory(), seed, paced));
            let x = workload(&oxidis.addr(), maxmemory(), seed, paced);
            (
                r.join()
                    .unwrap_or_else(|_| Err("the workload panicked".into())),
                x,
            )
        });
        drop((redis, oxidis));
        for (server, result) in [("redis-server", r), ("oxidis-server", x)] {
            let what = format!("{policy} on {server}");
            match result {
                Ok(o) => {
                    let line = format!("{what}: {}", o.summary());
                    println!("    {line}");
                    s.info.push(line);
                    let bad = check(policy, maxmemory(), &o);
                    if bad.is_empty() {
                        println!("    ok     {what}");
                        s.passed += 1;
                    } else {
                        println!("    FAILED {what}");
                        s.fail(format!("{what}: {}", bad.join("; ")));
                    }
                }
                Err(e) => {
                    println!("    FAILED {what}");
                    s.fail(format!("{what}: {e}"));
                }
            }
        }
    }
    s
}

/// `maxmemory-clients` for the client eviction checks.
pub const MAXMEMORY_CLIENTS: &str = "2mb";

/// Client eviction (`maxmemory-clients 2mb`, CLIENT NO-EVICT) on the server at `addr`:
/// a client with a 3 MB pending query buffer (a partial bulk string) is disconnected and
/// counted in INFO's `evicted_clients`, while small clients stay; a client that does not read
/// 20 MB of replies is disconnected, and so is a subscriber that does not read 20 MB of
/// messages; a client like the second with CLIENT NO-EVICT on is not (it reads all its replies
/// afterwards). Returns a summary, or the first failure.
pub fn client_eviction(addr: &str) -> Result<String, String> {
    // The 1 MB value is written by a connection that then goes: its query buffer, which Redis
    // keeps a while, would make it the next client to evict.
    Conn::connect(addr)?.call_ok(&["SET", "big", &"x".repeat(1 << 20)])?;
    let mut small = Conn::connect(addr)?;
    small.call_ok(&["CONFIG", "SET", "maxmemory-clients", MAXMEMORY_CLIENTS])?;
    let evicted = |c: &mut Conn| info_u64(c, "stats", "evicted_clients");
    let before = evicted(&mut small)?;
    // 1. A big query buffer.
    let mut q = Conn::connect(addr)?;
    q.call_ok(&["PING"]).map_err(|e| format!("q PING: {e}"))?;
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\n".to_vec();
    req.extend(vec![b'x'; 3 << 20]);
    // The server may close while we write: a failed write is fine, the check is the close.
    let _ = q.send_raw(&req);
    if !q.read_to_close(Duration::from_secs(10)).1 {
        return Err("a client with a 3 MB query buffer was not disconnected".into());
    }
    let after_query = evicted(&mut small).map_err(|e| format!("after the query buffer: {e}"))?;
    if after_query <= before {
        return Err(format!(
            "evicted_clients is {after_query} after a client was evicted (was {before})"
        ));
    }
    // 2. A big output buffer: 20 GETs of 1 MB, not read.
    let mut o = Conn::connect(addr)?;
    o.call_ok(&["PING"]).map_err(|e| format!("o PING: {e}"))?;
    let mut gets = Vec::new();
    for _ in 0..20 {
        append_request(&mut gets, &["GET", "big"]);
    }
    o.send_raw(&gets)?;
    let (_, closed) = o.read_to_close(Duration::from_secs(10));
    if !closed {
        return Err("a client with 20 MB of unread replies was not disconnected".into());
    }
    let after_output = evicted(&mut small).map_err(|e| format!("after the output buffer: {e}"))?;
    if after_output <= after_query {
        return Err(format!(
            "evicted_clients stayed {after_output} after the output-buffer client"
        ));
    }
    // 3. A subscriber that does not read what 200 PUBLISHes of 100 KB send it (output another
    // client's command puts in its buffer).
    let mut sub = Conn::connect(addr)?;
    sub.call_ok(&["SUBSCRIBE", "news"])
        .map_err(|e| format!("SUBSCRIBE: {e}"))?;
    // 100 KB messages: the publisher's own query buffer stays small next to the subscriber's
    // output (with 1 MB ones, both are in the same size class and the older one goes first).
    let payload = "p".repeat(100 << 10);
    let mut publisher = Conn::connect(addr)?;
    for _ in 0..200 {
        publisher
            .call_ok(&["PUBLISH", "news", &payload])
            .map_err(|e| format!("PUBLISH: {e}"))?;
    }
    if !sub.read_to_close(Duration::from_secs(10)).1 {
        return Err("a subscriber with 20 MB of unread messages was not disconnected".into());
    }
    let after_pubsub = evicted(&mut small).map_err(|e| format!("after the subscriber: {e}"))?;
    if after_pubsub <= after_output {
        return Err(format!(
            "evicted_clients stayed {after_pubsub} after the subscriber"
        ));
    }
    small
        .call_ok(&["PING"])
        .map_err(|e| format!("a small client after the evictions: {e}"))?;
    // 4. The same as 2 with CLIENT NO-EVICT on: it stays, and gets every reply (other clients,
    // being evictable, may be evicted meanwhile: Redis evicts whatever it can).
    let mut guarded = Conn::connect(addr)?;
    guarded.set_timeout(Duration::from_secs(60));
    guarded
        .call_ok(&["CLIENT", "NO-EVICT", "on"])
        .map_err(|e| format!("NO-EVICT: {e}"))?;
    guarded.send_raw(&gets)?;
    // Not a wait for an outcome: the replies must pile up in the server (and its client
    // eviction run) before we start reading, or the check would prove nothing.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..20 {
        match guarded
            .read_reply()
            .map_err(|e| format!("the NO-EVICT client's reply {i}: {e}"))?
        {
            Reply::Bulk(b) if b.len() == 1 << 20 => {}
            other => {
                let shown: String = format!("{other:?}").chars().take(80).collect();
                return Err(format!("the NO-EVICT client's reply {i} is {shown}"));
            }
        }
    }
    guarded
        .call_ok(&["PING"])
        .map_err(|e| format!("the NO-EVICT client's PING: {e}"))?;
    let mut fresh = Conn::connect(addr)?;
    let end = evicted(&mut fresh)?;
    Ok(format!(
        "evicted_clients {before} -> {after_query} (query buffer) -> {after_output} (output \
         buffer) -> {after_pubsub} (subscriber) -> {end} (after the NO-EVICT client, which \
         stayed)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_fail_a_server_that_never_evicts() {
        let o = Outcome {
            used_max: 3 * MAXMEMORY,
            writes: 30_000,
            persistent: 10,
            hot_reads: 100,
            hot_hits: 100,
            cold_reads: 100,
            cold_hits: 100,
            read_after: true,
            ..Outcome::default()
        };
        for p in POLICIES {
            let bad = check(p, MAXMEMORY, &o);
            assert!(bad.iter().any(|b| b.contains("bound")), "{p}: {bad:?}");
        }
        assert!(check("allkeys-lru", MAXMEMORY, &o)
            .iter()
            .any(|b| b.contains("evicted_keys is 0")));
        assert!(check("noeviction", MAXMEMORY, &o)
            .iter()
            .any(|b| b.contains("no write was refused")));
    }
}
