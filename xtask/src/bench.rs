//! `cargo xtask bench [--quick] [--rounds N] [--only SECTIONS] [--docs]`: Oxidis against Debian's
//! redis-server, side by side, in one run, as ratios (this machine is shared and noisy, so
//! absolute figures alone mean little).
//!
//! Sections (all by default; `--only throughput,aof,memory,growth,lazyfree,bitmap,cache,repl` picks some;
//! `--tests xadd,xreadgroup` picks throughput rows):
//! - **throughput**: redis-benchmark with identical flags on both servers (50 clients, `-r
//!   100000`, `-P 1` and `-P 16`), alternating A B / B A per round, at least 3 rounds; the
//!   median requests/s per test per server, the ratio, and the median p50/p99 latency from
//!   redis-benchmark 7.0's `--csv` output. Two scripting rows follow: EVALSHA of
//!   `return redis.call('GET', KEYS[1])` and of `return 1` (the per-call overhead of a script),
//!   then PFCOUNT of 10 dense HyperLogLogs of 10,000 elements each (merged on every call);
//!   two streams rows end the list: `XADD s * f v` and `XREADGROUP GROUP g c COUNT 1 STREAMS s
//!   >` on a stream pre-filled with one entry per request (see [`STREAMS`]).
//! - **aof**: redis-benchmark SET (`-P 1`) with `appendonly yes` and `appendfsync always`
//!   (switched on by CONFIG SET, once the rewrite that writes the AOF base is done): every
//!   reply waits for an fsync, so this measures the group commit (one fsync per event-loop turn
//!   for every client served in it), alternating A B / B A per round as above.
//! - **memory**: RSS (from /proc) and bytes per key after loading 1M small string keys, 1M keys
//!   with TTLs and 100k small hashes, loaded the same way (pipelined) into fresh servers.
//! - **growth**: the round trip of a probing SET (max, p99.9) while a pipelined loader grows the
//!   keyspace from 0 to 10M keys: what the incrementally rehashing table is for.
//! - **lazyfree**: DEL vs UNLINK of a 1M-element set (reply time), with a PING prober on a
//!   second connection reporting the longest stall it saw.
//! - **bitmap**: BITCOUNT and BITOP NOT over a 64 MB string of pseudo-random bytes (the same
//!   bytes on both servers, BITCOUNT's answers compared), median reply time of several runs,
//!   as a ratio: Redis's popcount and word-at-a-time BITOP against Oxidis's.
//! - **cache**: the server as a cache (`maxmemory` + `allkeys-lru`, set by CONFIG SET): clients
//!   read Zipf-distributed keys (s = 0.99 over a key space several times what fits) with GET
//!   and SET a value on a miss; hit ratio (over the second half, once the cache is warm),
//!   requests/s and p99 of each round trip, side by side with ratios; `evicted_keys` and
//!   `used_memory` at the end say whether the bound held. Then the growth probe again, with
//!   eviction running: a loader writes several times `maxmemory` of new keys.
//! - **repl**: replication, each server as both master and replica: the full sync of 1M small
//!   keys (REPLICAOF until the replica's link is up with every key loaded), then the replica's
//!   lag in bytes (the master's master_repl_offset minus the replica's, sampled every 20 ms)
//!   while redis-benchmark SETs (`-P 16`) load the master, and the time to catch up after.
//!
//! Results go to stdout and bench-results/bench.md (git-ignored), the throughput chart to
//! bench-results/throughput.svg (`--docs` also copies it to docs/bench-throughput.svg, which the
//! README shows). `--quick` (a few thousand requests, small data sets, one round) is what CI
//! runs, against the dev-profile server, checking only that everything completes without errors.
//!
//! redis-benchmark runs on the same two cores as the server it measures, so at `-P 16` it is
//! often the bottleneck: the -P 16 figures understate both servers, and their ratio tends to 1.
//!
//! Every throughput row also gives each server's CPU time per request (user + system over the
//! redis-benchmark run, from /proc/PID/stat), which a noisy shared machine disturbs far less
//! than requests/s. The growth sections set `latency-monitor-threshold 1` and print the servers'
//! own LATENCY events and Oxidis's `DEBUG LOOP-TURN` (its longest and busiest event-loop turns
//! and what they did). `BENCH_OXIDIS_BIN=path` measures that oxidis-server binary instead of
//! building this tree's (before/after figures from one checkout).

use crate::servers::{self, Server};
use crate::suite::{run_status, Suite};
use oxidis_core::resp::{append_request as encode, Reply};
use oxidis_testkit::Conn;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// redis-benchmark's test names, in the order they run, then the scripting rows (see
/// [`SCRIPTS`]), PFCOUNT of 10 HyperLogLogs and the streams rows (see [`STREAMS`]).
pub const TESTS: [&str; 16] = [
    "ping_mbulk",
    "set",
    "get",
    "incr",
    "lpush",
    "rpop",
    "sadd",
    "hset",
    "zadd",
    "lrange_100",
    "mset",
    "evalsha_get",
    "evalsha_1",
    "pfcount_10",
    "xadd",
    "xreadgroup",
];

/// The scripting rows: (row name, script). Each is loaded with SCRIPT LOAD before it runs, then
/// redis-benchmark sends `EVALSHA <sha1> 1 key:__rand_int__` (the per-call overhead of a
/// one-line script: the GET one reaches the keyspace through `redis.call`; keys are missing
/// after the FLUSHALL, as in the GET row).
pub const SCRIPTS: [(&str, &str); 2] = [
    ("evalsha_get", "return redis.call('GET', KEYS[1])"),
    ("evalsha_1", "return 1"),
];

/// The streams rows: (row name, command line). XADD appends to one stream with `*` IDs (the
/// producer's path: a new ID from the clock, the entry packed into the last listpack node, a
/// new node every 100 entries). XREADGROUP is the consumer's path: each call delivers the next
/// entry to consumer `c` of group `g` and adds it to the pending entries (no XACK, as a
/// consumer that acknowledges later); the stream is pre-filled with as many entries as the run
/// sends requests (`XGROUP CREATE s g 0` after), so no call finds the group caught up and
/// answers nil, which would measure a cheaper command. XRANGE would measure only the read.
pub const STREAMS: [(&str, &[&str]); 2] = [
    ("xadd", &["XADD", "s", "*", "f", "v"]),
    (
        "xreadgroup",
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
    ),
];

const PIPELINES: [u32; 2] = [1, 16];
const SECTIONS: [&str; 8] = [
    "throughput",
    "aof",
    "memory",
    "growth",
    "lazyfree",
    "bitmap",
    "cache",
    "repl",
];

/// Sizes of one run: the full bench, or the CI smoke version.
#[derive(Clone, Debug)]
pub struct Sizes {
    pub rounds: usize,
    /// redis-benchmark -n at -P 1 and -P 16 (LRANGE_100 runs a quarter of it, PFCOUNT of 10
    /// keys a twentieth).
    pub requests: [u64; 2],
    pub string_keys: usize,
    pub hashes: usize,
    pub growth_keys: usize,
    pub big_set: usize,
    /// Bytes of the bitmap section's string.
    pub bitmap_bytes: usize,
    /// The cache section: its `maxmemory`, key space, clients and requests (GETs) per client,
    /// and the keys its growth probe's loader writes (into `cache_growth_maxmemory`).
    pub cache_maxmemory: u64,
    pub cache_keys: usize,
    pub cache_clients: usize,
    pub cache_gets: usize,
    pub cache_growth_keys: usize,
    pub cache_growth_maxmemory: u64,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            rounds: 3,
            requests: [100_000, 400_000],
            string_keys: 1_000_000,
            hashes: 100_000,
            growth_keys: 10_000_000,
            big_set: 1_000_000,
            bitmap_bytes: 64 << 20,
            cache_maxmemory: 8 << 20,
            cache_keys: 1_000_000,
            cache_clients: 8,
            cache_gets: 50_000,
            cache_growth_keys: 3_000_000,
            cache_growth_maxmemory: 128 << 20,
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            rounds: 1,
            requests: [2_000, 5_000],
            string_keys: 10_000,
            hashes: 1_000,
            growth_keys: 50_000,
            big_set: 10_000,
            bitmap_bytes: 1 << 20,
            // redis-server alone uses ~0.9 MB: this leaves room for a few thousand keys.
            cache_maxmemory: 3 << 19,
            cache_keys: 50_000,
            cache_clients: 4,
            cache_gets: 2_500,
            cache_growth_keys: 30_000,
            cache_growth_maxmemory: 2 << 20,
        }
    }
}

/// One server under test.
pub struct Target<'a> {
    pub addr: String,
    /// For RSS; None when only an address is known.
    pub pid: Option<u32>,
    _guard: Option<&'a Server>,
}

impl<'a> Target<'a> {
    fn of(s: &'a Server) -> Target<'a> {
        Target {
            addr: s.addr(),
            pid: Some(s.pid()),
            _guard: Some(s),
        }
    }
}

/// A connection for the loaders and probes (exact control of pipelining), with a deadline long
/// enough for a FLUSHALL of the biggest data set.
fn connect(addr: &str) -> Result<Conn, String> {
    let mut c = Conn::connect(addr)?;
    c.set_timeout(Duration::from_secs(300));
    Ok(c)
}

/// Sends `n` commands made by `make(i, buf)` in pipelined batches of `batch`, keeping one batch
/// in flight while the previous one's replies are read. Returns the elapsed time.
pub fn load(
    addr: &str,
    n: usize,
    batch: usize,
    make: impl FnMut(usize, &mut Vec<u8>),
) -> Result<Duration, String> {
    load_batches(addr, n, batch, true, make)
}

/// `load`, with `overlap` false: each batch sent only once the previous one's replies are in,
/// so the server idles while the loader builds the next.
fn load_batches(
    addr: &str,
    n: usize,
    batch: usize,
    overlap: bool,
    mut make: impl FnMut(usize, &mut Vec<u8>),
) -> Result<Duration, String> {
    let mut c = connect(addr)?;
    let t = Instant::now();
    let mut buf = Vec::new();
    let mut sent = 0;
    let mut in_flight = 0;
    while sent < n || in_flight > 0 {
        let k = batch.min(n - sent);
        if k > 0 {
            buf.clear();
            for i in sent..sent + k {
                make(i, &mut buf);
            }
            c.send_raw(&buf)?;
            sent += k;
        }
        if !overlap {
            c.read_ok(k)?;
            continue;
        }
        if in_flight > 0 {
            c.read_ok(in_flight)?;
        }
        in_flight = k;
    }
    Ok(t.elapsed())
}

/// "key:000000000042": 16 bytes.
fn key16(prefix: &str, i: usize) -> String {
    format!("{prefix}{:0w$}", i, w = 16 - prefix.len())
}

/// Resident set size of a process, from /proc/PID/status (VmRSS).
pub fn rss_of(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("{path}: no VmRSS"))
}

/// CPU time a process has used (every thread) as (user, system) seconds, from /proc/PID/stat's
/// utime and stime (fields 14 and 15, in USER_HZ ticks: 100 per second on Linux whatever the
/// kernel's HZ).
pub fn cpu_split_of(pid: u32) -> Result<(f64, f64), String> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = text.rsplit_once(')').map(|(_, r)| r).ok_or("no ')'")?;
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    // After ')' the fields start at 3 (state): utime is field 14, stime 15.
    match (tick(14 - 3), tick(15 - 3)) {
        (Some(u), Some(s)) => Ok((u as f64 / 100.0, s as f64 / 100.0)),
        _ => Err(format!("{path}: no utime/stime")),
    }
}

/// The median of each figure over the rounds of one test.
fn median_row(v: &[Row]) -> Row {
    let pick = |f: fn(&Row) -> f64| median(&mut v.iter().map(f).collect::<Vec<_>>());
    let med = |f: fn(&Row) -> Option<f64>| {
        let mut x: Vec<f64> = v.iter().filter_map(f).collect();
        (!x.is_empty()).then(|| median(&mut x))
    };
    Row {
        rps: pick(|r| r.rps),
        p50: pick(|r| r.p50),
        p99: pick(|r| r.p99),
        cpu_us: med(|r| r.cpu_us),
        sys_us: med(|r| r.sys_us),
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The `q`-quantile (0..=1) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------------------------
// Throughput: redis-benchmark.

/// One redis-benchmark result row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    /// The server's CPU time (user + system, all its threads) per request, µs, when its pid is
    /// known.
    pub cpu_us: Option<f64>,
    /// The part of `cpu_us` spent in the kernel (system time: the socket reads and writes).
    pub sys_us: Option<f64>,
}

/// The row for `test` in redis-benchmark's `--csv` output (LRANGE_100 also prints the LPUSH it
/// needs first; rows are matched on their first word).
pub fn parse_csv(csv: &str, test: &str) -> Option<Row> {
    let want = test.to_ascii_uppercase();
    let mut lines = csv.lines().filter(|l| l.starts_with('"'));
    let header: Vec<String> = lines.next()?.split(',').map(unquote).collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (rps, p50, p99) = (col("rps")?, col("p50_latency_ms")?, col("p99_latency_ms")?);
    for l in lines {
        let f: Vec<String> = l.split(',').map(unquote).collect();
        if f.first()?.split(' ').next() == Some(want.as_str()) {
            let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok());
            return Some(Row {
                rps: num(rps)?,
                p50: num(p50)?,
                p99: num(p99)?,
                cpu_us: None,
                sys_us: None,
            });
        }
    }
    None
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// redis-benchmark's arguments that pick `test` (`-t test`, or for a scripting row the EVALSHA
/// command line, after loading its script on `addr`, or a streams row's command line, after
/// preparing the stream for `n` requests) and the first word of its CSV row.
fn test_args(addr: &str, test: &str, n: u64) -> Result<(Vec<String>, &'static str), String> {
    if test == "pfcount_10" {
        return pfcount_setup(addr);
    }
    if let Some((name, cmd)) = STREAMS.iter().find(|(name, _)| *name == test) {
        if *name == "xreadgroup" {
            prefill_stream(addr, n)?;
        }
        return Ok((cmd.iter().map(|a| a.to_string()).collect(), *name));
    }
    let Some((_, script)) = SCRIPTS.iter().find(|(name, _)| *name == test) else {
        return Ok((vec!["-t".into(), test.into()], ""));
    };
    let sha = oxidis_core::script::sha1hex(script.as_bytes());
    let sha = String::from_utf8_lossy(&sha).into_owned();
    match Conn::connect(addr)?.call(&["SCRIPT", "LOAD", script])? {
        Reply::Bulk(b) if b == sha.as_bytes() => {}
        other => return Err(format!("{addr}: SCRIPT LOAD {script:?} replied {other:?}")),
    }
    let cmd = ["EVALSHA", &sha, "1", "key:__rand_int__"];
    Ok((cmd.iter().map(|a| a.to_string()).collect(), "evalsha"))
}

/// The PFCOUNT row: 10 HyperLogLogs of 10,000 distinct elements each (dense), which every call
/// merges register by register before estimating.
fn pfcount_setup(addr: &str) -> Result<(Vec<String>, &'static str), String> {
    let keys: Vec<String> = (0..10).map(|i| format!("hll:{i}")).collect();
    let mut c = connect(addr)?;
    for (i, k) in keys.iter().enumerate() {
        let mut cmd = vec!["PFADD".to_string(), k.clone()];
        cmd.extend((0..10_000).map(|j| format!("user:{}", i * 5_000 + j)));
        c.call_ok(&cmd)?;
    }
    let mut cmd = vec!["PFCOUNT".to_string()];
    cmd.extend(keys);
    Ok((cmd, "pfcount"))
}

/// The XREADGROUP row's stream: `n` entries like the XADD row's (`*` IDs, `f v`), pipelined,
/// then group `g` reading from the start.
fn prefill_stream(addr: &str, n: u64) -> Result<(), String> {
    let n = usize::try_from(n).map_err(|_| "too many requests")?;
    load(addr, n, 1000, |_, buf| {
        encode(buf, &[b"XADD".as_slice(), b"s", b"*", b"f", b"v"])
    })?;
    let mut c = connect(addr)?;
    match c.call_ok(&["XLEN", "s"])? {
        Reply::Int(k) if k as usize == n => {}
        r => return Err(format!("{addr}: XLEN s {r:?} after {n} XADDs")),
    }
    c.call_ok(&["XGROUP", "CREATE", "s", "g", "0"])?;
    Ok(())
}

/// Runs one redis-benchmark test against `addr`.
/// With the server's `pid`, its CPU time over the run (not the setup) per request goes in
/// the row.
fn redis_benchmark(
    addr: &str,
    pid: Option<u32>,
    test: &str,
    pipeline: u32,
    n: u64,
) -> Result<Row, String> {
    let (host, port) = addr.rsplit_once(':').ok_or("bad address")?;
    let (pick, row) = test_args(addr, test, n)?;
    let cpu0 = pid.map(cpu_split_of).transpose()?;
    let out = Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-c", "50", "-r", "100000", "--csv"])
        .args(["-P", &pipeline.to_string(), "-n", &n.to_string()])
        .args(&pick)
        .output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let (cpu_us, sys_us) = match (pid, cpu0) {
        (Some(pid), Some((u0, s0))) => {
            let (u1, s1) = cpu_split_of(pid)?;
            let per = |x: f64| Some(x * 1e6 / n as f64);
            (per(u1 - u0 + s1 - s0), per(s1 - s0))
        }
        _ => (None, None),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "redis-benchmark -t {test} -P {pipeline} on {addr}: {}\n{stderr}",
            out.status
        ));
    }
    // redis-benchmark prints server errors ("Error from server: ...") but exits 0.
    if let Some(l) = stderr
        .lines()
        .chain(stdout.lines())
        .find(|l| l.contains("rror"))
    {
        return Err(format!("redis-benchmark -t {test} on {addr}: {l}"));
    }
    parse_csv(&stdout, if row.is_empty() { test } else { row })
        .map(|r| Row {
            cpu_us,
            sys_us,
            ..r
        })
        .ok_or_else(|| format!("redis-benchmark -t {test} on {addr}: no CSV row in {stdout:?}"))
}

/// Medians per (pipeline index, test index, server index), for `tests` (TESTS or a part).
pub struct Throughput {
    pub tests: Vec<&'static str>,
    pub rows: Vec<Vec<[Row; 2]>>,
}

fn throughput(
    targets: &[Target; 2],
    sizes: &Sizes,
    tests: &[&'static str],
    log: &mut Log,
) -> Result<Throughput, String> {
    let mut rows = Vec::new();
    for (pi, &p) in PIPELINES.iter().enumerate() {
        // samples[test][server] = rows of each round
        let mut samples: Vec<[Vec<Row>; 2]> = vec![[Vec::new(), Vec::new()]; tests.len()];
        for round in 0..sizes.rounds {
            log.progress(&format!(
                "throughput -P {p}: round {}/{}",
                round + 1,
                sizes.rounds
            ));
            for (ti, test) in tests.iter().enumerate() {
                let n = if *test == "lrange_100" {
                    (sizes.requests[pi] / 4).max(1000)
                } else if *test == "pfcount_10" {
                    // Each call merges 10 x 16384 registers: a twentieth of the requests.
                    (sizes.requests[pi] / 20).max(500)
                } else {
                    sizes.requests[pi]
                };
                // A B on even rounds, B A on odd ones: neither server always goes first.
                let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for si in order {
                    connect(&targets[si].addr)?.call_ok(&["FLUSHALL"])?;
                    let t = &targets[si];
                    let r = redis_benchmark(&t.addr, t.pid, test, p, n)?;
                    samples[ti][si].push(r);
                }
            }
        }
        rows.push(
            samples
                .iter()
                .map(|s| [median_row(&s[0]), median_row(&s[1])])
                .collect::<Vec<_>>(),
        );
    }
    Ok(Throughput {
        tests: tests.to_vec(),
        rows,
    })
}

/// Switches a server to `appendonly yes` + `appendfsync always` and waits (deadline-bound)
/// until the rewrite that writes the AOF base has finished.
fn enable_aof_always(addr: &str) -> Result<(), String> {
    let mut c = Conn::connect(addr)?;
    c.call_ok(&["CONFIG", "SET", "appendfsync", "always"])?;
    c.call_ok(&["CONFIG", "SET", "appendonly", "yes"])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let field = |c: &mut Conn, f: &str| c.info_field("persistence", f);
        let done = field(&mut c, "aof_enabled")? == "1"
            && field(&mut c, "aof_rewrite_in_progress")? == "0"
            && field(&mut c, "aof_rewrite_scheduled")? == "0";
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{addr}: the AOF rewrite did not finish within 60 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SET at -P 1 under appendfsync always: the median row per server.
fn aof_always(targets: &[Target; 2], sizes: &Sizes, log: &mut Log) -> Result<[Row; 2], String> {
    for t in targets {
        enable_aof_always(&t.addr)?;
    }
    let mut samples: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
    for round in 0..sizes.rounds {
        log.progress(&format!("aof always: round {}/{}", round + 1, sizes.rounds));
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for si in order {
            let t = &targets[si];
            let r = redis_benchmark(&t.addr, t.pid, "set", 1, sizes.requests[0])?;
            samples[si].push(r);
        }
    }
    Ok([median_row(&samples[0]), median_row(&samples[1])])
}

fn aof_table(rows: &[Row; 2], names: [&str; 2]) -> String {
    let [o, r] = rows;
    format!(
        "| test | -P | {a} req/s | {b} req/s | ratio {a}/{b} | {a} p50 / p99 ms | {b} p50 / p99 ms | {c} |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | SET (appendfsync always) | 1 | {:.0} | {:.0} | **{:.2}** | {:.3} / {:.3} | {:.3} / {:.3} | {} |\n",
        o.rps,
        r.rps,
        o.rps / r.rps,
        o.p50,
        o.p99,
        r.p50,
        r.p99,
        cpu_cells(o, r),
        a = names[0],
        b = names[1],
        c = cpu_headers(names[0], names[1])
    )
}

/// The CPU columns: each server's CPU µs per request, and their ratio. /proc counts CPU in
/// clock ticks (10 ms): a short run (the quick smoke) can read 0, which gives no ratio.
/// Then each server's kernel (system) part, and Oxidis's kernel time alone over redis's total:
/// the CPU ratio Oxidis would have if its own code took no time at all.
fn cpu_cells(o: &Row, r: &Row) -> String {
    let sys = match (o.sys_us, r.sys_us, r.cpu_us) {
        (Some(a), Some(b), Some(t)) if t > 0.0 => format!("{a:.2} / {b:.2} | {:.2}", a / t),
        (Some(a), Some(b), _) => format!("{a:.2} / {b:.2} | n/a"),
        _ => "? | ?".into(),
    };
    match (o.cpu_us, r.cpu_us) {
        (Some(a), Some(b)) if b > 0.0 => format!("{a:.2} / {b:.2} | **{:.2}** | {sys}", a / b),
        (Some(a), Some(b)) => format!("{a:.2} / {b:.2} | n/a (under the clock tick) | {sys}"),
        _ => format!("? | ? | {sys}"),
    }
}

/// The CPU columns' headers (see `cpu_cells`).
fn cpu_headers(a: &str, b: &str) -> String {
    format!(
        "{a} / {b} CPU µs/req | CPU ratio {a}/{b} | {a} / {b} kernel µs/req | {a} kernel ÷ {b} CPU"
    )
}

fn throughput_table(t: &Throughput, names: [&str; 2]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| test | -P | {a} req/s | {b} req/s | ratio {a}/{b} | {a} p50 / p99 ms | {b} p50 / p99 ms | {} |",
        cpu_headers(names[0], names[1]),
        a = names[0],
        b = names[1]
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (pi, p) in PIPELINES.iter().enumerate() {
        for (ti, test) in t.tests.iter().enumerate() {
            let [o, r] = &t.rows[pi][ti];
            let _ = writeln!(
                s,
                "| {} | {p} | {:.0} | {:.0} | **{:.2}** | {:.3} / {:.3} | {:.3} / {:.3} | {} |",
                test.to_ascii_uppercase(),
                o.rps,
                r.rps,
                o.rps / r.rps,
                o.p50,
                o.p99,
                r.p50,
                r.p99,
                cpu_cells(o, r)
            );
        }
    }
    s
}

/// The grouped bar chart of the ratios (docs/bench-throughput.svg).
pub fn throughput_svg(t: &Throughput, title: &str) -> String {
    let rows: Vec<(String, [f64; 2])> = t
        .tests
        .iter()
        .enumerate()
        .map(|(ti, test)| {
            let ratio = |pi: usize| {
                let [o, r] = &t.rows[pi][ti];
                o.rps / r.rps
            };
            (test.to_ascii_uppercase(), [ratio(0), ratio(1)])
        })
        .collect();
    let max = rows
        .iter()
        .flat_map(|(_, r)| *r)
        .filter(|x| x.is_finite())
        .fold(2.0f64, f64::max)
        .ceil();
    let series = PIPELINES.map(|p| format!("-P {p}"));
    crate::ratio_chart::RatioChart {
        title,
        series: [&series[0], &series[1]],
        rows,
        max,
        tick: 0.5,
        targets: vec![
            (1.0, "1.0× (target at -P 1)".into()),
            (1.3, "1.3× (target at -P 16)".into()),
        ],
        footer: "requests/s, Oxidis ÷ redis-server 7.0 (median of rounds; higher is better)",
    }
    .svg()
}

// ---------------------------------------------------------------------------------------------
// Memory.

#[derive(Clone, Copy, Debug)]
enum Dataset {
    Strings,
    StringsTtl,
    Hashes,
}

impl Dataset {
    fn label(self, sizes: &Sizes) -> String {
        match self {
            Dataset::Strings => format!("{} string keys (16 B key, 16 B value)", sizes.string_keys),
            Dataset::StringsTtl => {
                format!("{} string keys with TTLs (EX 3600)", sizes.string_keys)
            }
            Dataset::Hashes => format!("{} hashes of 10 fields", sizes.hashes),
        }
    }

    fn keys(self, sizes: &Sizes) -> usize {
        match self {
            Dataset::Strings | Dataset::StringsTtl => sizes.string_keys,
            Dataset::Hashes => sizes.hashes,
        }
    }

    fn load(self, addr: &str, sizes: &Sizes) -> Result<Duration, String> {
        let n = self.keys(sizes);
        load(addr, n, 1000, |i, buf| {
            let k = key16("key:", i);
            let v = key16("val:", i);
            match self {
                Dataset::Strings => encode(buf, &[b"SET".as_slice(), k.as_bytes(), v.as_bytes()]),
                Dataset::StringsTtl => encode(
                    buf,
                    &[
                        b"SET".as_slice(),
                        k.as_bytes(),
                        v.as_bytes(),
                        b"EX",
                        b"3600",
                    ],
                ),
                Dataset::Hashes => {
                    let fields: Vec<(String, String)> = (0..10)
                        .map(|f| (format!("field:{f}"), format!("value:{:06}", i % 1_000_000)))
                        .collect();
                    let mut args: Vec<&[u8]> = vec![b"HSET", k.as_bytes()];
                    for (f, v) in &fields {
                        args.push(f.as_bytes());
                        args.push(v.as_bytes());
                    }
                    encode(buf, &args);
                }
            }
        })
    }
}

pub struct MemRow {
    pub label: String,
    pub keys: usize,
    /// Per server: (RSS before, RSS after, used_memory after, load time)
    pub figures: [(u64, u64, u64, Duration); 2],
}

fn memory(
    start: &dyn Fn(usize) -> Result<Server, String>,
    names: [&'static str; 2],
    sizes: &Sizes,
    log: &mut Log,
) -> Result<Vec<MemRow>, String> {
    let mut rows = Vec::new();
    for ds in [Dataset::Strings, Dataset::StringsTtl, Dataset::Hashes] {
        let mut figures = [(0, 0, 0, Duration::ZERO); 2];
        for (si, name) in names.iter().enumerate() {
            log.progress(&format!("memory: {} on {name}", ds.label(sizes)));
            let server = start(si)?;
            let t = Target::of(&server);
            let pid = t.pid.ok_or("no pid")?;
            // A dump.rdb in the shared working directory may have been loaded: start empty.
            connect(&t.addr)?.call_ok(&["FLUSHALL"])?;
            let before = rss_of(pid)?;
            let took = ds.load(&t.addr, sizes)?;
            let mut c = connect(&t.addr)?;
            let Reply::Int(n) = c.call_ok(&["DBSIZE"])? else {
                return Err("DBSIZE: not an integer".into());
            };
            if n as usize != ds.keys(sizes) {
                return Err(format!(
                    "{name}: DBSIZE {n} after loading {}",
                    ds.keys(sizes)
                ));
            }
            let used: u64 = c
                .info_field("memory", "used_memory")?
                .trim()
                .parse()
                .map_err(|_| "used_memory: not a number")?;
            let after = rss_of(pid)?;
            figures[si] = (before, after, used, took);
        }
        rows.push(MemRow {
            label: ds.label(sizes),
            keys: ds.keys(sizes),
            figures,
        });
    }
    Ok(rows)
}

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn memory_table(rows: &[MemRow], names: [&str; 2]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| data set | {a} RSS MB | {b} RSS MB | RSS ratio {a}/{b} | {a} B/key | {b} B/key | {a} used_memory MB | {b} used_memory MB |",
        a = names[0],
        b = names[1]
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let [o, d] = &r.figures;
        let per_key =
            |f: &(u64, u64, u64, Duration)| f.1.saturating_sub(f.0) as f64 / r.keys.max(1) as f64;
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | **{:.2}** | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.label,
            mb(o.1),
            mb(d.1),
            o.1 as f64 / d.1 as f64,
            per_key(o),
            per_key(d),
            mb(o.2),
            mb(d.2)
        );
    }
    s.push_str("\nB/key = (RSS after loading − RSS of the fresh server) ÷ keys.\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Latency under growth.

/// Round trips of a probing client, in ms, sorted, plus how long the run took.
pub struct Probe {
    pub rtts: Vec<f64>,
}

impl Probe {
    pub fn max(&self) -> f64 {
        self.rtts.last().copied().unwrap_or(f64::NAN)
    }
    pub fn q(&self, q: f64) -> f64 {
        quantile(&self.rtts, q)
    }
}

/// Runs `cmd` in a loop on its own connection until `stop`, timing each round trip.
fn probe_loop(
    addr: String,
    cmd: Vec<Vec<u8>>,
    stop: Arc<AtomicBool>,
    isolate: bool,
) -> Result<Probe, String> {
    if isolate {
        // The instrument off the server's CPU, and never waiting behind the loader for a core.
        let tid = thread_id().ok_or("no thread id")?.to_string();
        let others = format!("1-{}", cpu_count() - 1);
        if !sched_tool("taskset", &["-p", "-c", &others, &tid])
            || !sched_tool("chrt", &["-f", "-p", "1", &tid])
        {
            return Err("could not isolate the probe (taskset/chrt)".into());
        }
    }
    let mut c = connect(&addr)?;
    let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
    let mut req = Vec::new();
    encode(&mut req, &args);
    let mut rtts = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        c.send_raw(&req)?;
        c.read_ok(1)?;
        rtts.push(t.elapsed().as_secs_f64() * 1000.0);
        // A short pause so the prober does not take a whole core from the loader and server.
        std::thread::sleep(Duration::from_micros(200));
    }
    rtts.sort_by(f64::total_cmp);
    Ok(Probe { rtts })
}

fn start_probe(
    addr: &str,
    cmd: &[&[u8]],
    isolate: bool,
) -> (
    Arc<AtomicBool>,
    std::thread::JoinHandle<Result<Probe, String>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let (a, c, s) = (
        addr.to_string(),
        cmd.iter().map(|x| x.to_vec()).collect(),
        stop.clone(),
    );
    (
        stop,
        std::thread::spawn(move || probe_loop(a, c, s, isolate)),
    )
}

fn finish_probe(
    stop: Arc<AtomicBool>,
    h: std::thread::JoinHandle<Result<Probe, String>>,
) -> Result<Probe, String> {
    stop.store(true, Ordering::Relaxed);
    h.join().map_err(|_| "probe thread panicked".to_string())?
}

pub struct GrowthRow {
    pub load: Duration,
    pub probe: Probe,
    /// INFO's evicted_keys and used_memory after the load.
    pub evicted: u64,
    pub used: u64,
    /// The server's own view, with `latency-monitor-threshold 1` set for the load: LATENCY
    /// LATEST's events (name, max ms) and, for Oxidis, DEBUG LOOP-TURN (its longest event-loop
    /// turn and what that turn did; empty for redis-server, which has no such report).
    pub events: Vec<(String, i64)>,
    pub turn: Vec<(String, TurnField)>,
}

/// A DEBUG LOOP-TURN field: a count, or a turn's figures.
pub enum TurnField {
    Int(i64),
    Turn(Vec<(String, i64)>),
}

fn pairs(f: &[Reply]) -> Vec<(String, &Reply)> {
    f.chunks(2)
        .filter_map(|p| match p {
            [Reply::Bulk(k), v] => Some((String::from_utf8_lossy(k).into_owned(), v)),
            _ => None,
        })
        .collect()
}

/// LATENCY LATEST as (event, max ms) pairs.
fn latency_latest(c: &mut Conn) -> Result<Vec<(String, i64)>, String> {
    let Reply::Array(rows) = c.call_ok(&["LATENCY", "LATEST"])? else {
        return Err("LATENCY LATEST: not an array".into());
    };
    let mut out = Vec::new();
    for r in rows {
        if let Reply::Array(f) = r {
            if let (Some(Reply::Bulk(name)), Some(Reply::Int(max))) = (f.first(), f.get(3)) {
                out.push((String::from_utf8_lossy(name).into_owned(), *max));
            }
        }
    }
    Ok(out)
}

/// Oxidis's DEBUG LOOP-TURN (name, value pairs); empty where the server has no such command.
fn loop_turn(c: &mut Conn) -> Result<Vec<(String, TurnField)>, String> {
    let Ok(Reply::Array(f)) = c.call(&["DEBUG", "LOOP-TURN"]) else {
        return Ok(Vec::new());
    };
    Ok(pairs(&f)
        .into_iter()
        .filter_map(|(k, v)| match v {
            Reply::Int(i) => Some((k, TurnField::Int(*i))),
            Reply::Array(t) => Some((
                k,
                TurnField::Turn(
                    pairs(t)
                        .into_iter()
                        .filter_map(|(k, v)| match v {
                            Reply::Int(i) => Some((k, *i)),
                            _ => None,
                        })
                        .collect(),
                ),
            )),
            _ => None,
        })
        .collect())
}

/// One turn's figures as a sentence.
fn describe_turn(t: &[(String, i64)]) -> String {
    let f = |k: &str| t.iter().find(|(n, _)| n == k).map_or(0, |p| p.1);
    format!(
        "{:.3} ms wall, {:.3} ms CPU (tick {:.3} ms): {} commands, {} reads ({} B), {} writes ({} B), {} buckets rehashed, {} expired, {} evicted, {} lazy-freed, {:.1} MB allocated / {:.1} MB freed in blocks ≥ 1 MB, {} minor / {} major faults, {} preemptions",
        f("us") as f64 / 1000.0,
        f("cpu_us") as f64 / 1000.0,
        f("tick_us") as f64 / 1000.0,
        f("commands"),
        f("reads"),
        f("read_bytes"),
        f("writes"),
        f("written_bytes"),
        f("rehashed_buckets"),
        f("expired"),
        f("evicted"),
        f("lazyfree"),
        f("big_alloc_bytes") as f64 / 1048576.0,
        f("big_free_bytes") as f64 / 1048576.0,
        f("minor_faults"),
        f("major_faults"),
        f("preempted"),
    )
}

/// CPUs online, read once before any pinning (`available_parallelism` follows this
/// thread's affinity mask, which pinning changes).
fn cpu_count() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// This thread's id (for taskset/chrt, which take thread ids as pids).
fn thread_id() -> Option<u32> {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse::<u32>().ok())
}

/// Runs `taskset`/`chrt` with `args`; whether it succeeded.
fn sched_tool(tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The isolated growth run: the server's event-loop thread alone on CPU 0 under SCHED_FIFO,
/// this (the loader's) thread on the other CPUs. On this 2-CPU machine the loader and the
/// sandbox's supervisor (PID 1, nice -10) otherwise take the server's CPU for whole scheduler
/// slices (`perf record -e sched:sched_switch` showed 6-12 ms), which no server can avoid;
/// isolated, the probe measures the server's own stalls. Both servers are isolated alike.
/// Returns whether it could (it needs taskset, chrt, root or CAP_SYS_NICE, and 2 CPUs).
fn isolate_server(server_pid: u32) -> bool {
    let cpus = cpu_count();
    let Some(tid) = thread_id() else { return false };
    cpus >= 2
        && sched_tool("taskset", &["-p", "-c", "0", &server_pid.to_string()])
        && sched_tool("chrt", &["-f", "-p", "1", &server_pid.to_string()])
        && sched_tool(
            "taskset",
            &["-p", "-c", &format!("1-{}", cpus - 1), &tid.to_string()],
        )
}

/// Whether the isolated growth run can be made here: 2 CPUs or more, and this process may
/// set SCHED_FIFO (tried on a short-lived child).
fn can_isolate() -> bool {
    cpu_count() >= 2
        && sched_tool("taskset", &["-V"])
        && Command::new("chrt")
            .args(["-f", "1", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

/// Lets this thread run on every CPU again.
fn unpin_self() {
    if let Some(tid) = thread_id() {
        sched_tool(
            "taskset",
            &[
                "-p",
                "-c",
                &format!("0-{}", cpu_count() - 1),
                &tid.to_string(),
            ],
        );
    }
}

/// The growth probe: `keys` new keys loaded into a fresh server of each kind, with
/// `evict = Some(maxmemory)` under that bound and allkeys-lru (eviction running throughout the
/// second part of the load).
fn growth(
    start: &dyn Fn(usize) -> Result<Server, String>,
    names: [&'static str; 2],
    keys: usize,
    evict: Option<u64>,
    isolate: bool,
    log: &mut Log,
) -> Result<[GrowthRow; 2], String> {
    cpu_count();
    let mut out = Vec::new();
    for (si, name) in names.iter().enumerate() {
        log.progress(&format!(
            "growth: {name} from 0 to {keys} keys{}{}",
            evict.map_or(String::new(), |m| format!(" into maxmemory {m}")),
            if isolate { ", isolated" } else { "" }
        ));
        let server = start(si)?;
        let addr = server.addr();
        let mut c = connect(&addr)?;
        c.call_ok(&["FLUSHALL"])?;
        if let Some(m) = evict {
            set_cache_config(&mut c, m)?;
        }
        // The servers' own latency reports: every event of 1 ms or more.
        c.call_ok(&["CONFIG", "SET", "latency-monitor-threshold", "1"])?;
        c.call_ok(&["LATENCY", "RESET"])?;
        if isolate && !isolate_server(server.pid()) {
            return Err(
                "growth, isolated: taskset/chrt failed (root or CAP_SYS_NICE needed)".into(),
            );
        }
        let (stop, h) = start_probe(&addr, &[b"SET", b"probe:key", b"probe:value:0001"], isolate);
        // Isolated, the loader waits for each batch's replies: a SCHED_FIFO server kept busy
        // without a pause hits the kernel's RT throttle (95% of each second), which stopped
        // both servers for 37-55 ms in a trial run.
        let loaded = load_batches(&addr, keys, 1000, !isolate, |i, buf| {
            let k = key16("key:", i);
            let v = key16("val:", i);
            encode(buf, &[b"SET".as_slice(), k.as_bytes(), v.as_bytes()]);
        });
        let probe = finish_probe(stop, h);
        if isolate {
            unpin_self();
        }
        let probe = probe?;
        let load = loaded?;
        let evicted = info_u64(&mut c, "stats", "evicted_keys")?;
        let used = info_u64(&mut c, "memory", "used_memory")?;
        let events = latency_latest(&mut c)?;
        let turn = loop_turn(&mut c)?;
        out.push(GrowthRow {
            load,
            probe,
            evicted,
            used,
            events,
            turn,
        });
        drop(server);
    }
    let b = out.pop().ok_or("no result")?;
    let a = out.pop().ok_or("no result")?;
    Ok([a, b])
}

fn growth_table(rows: &[GrowthRow; 2], names: [&str; 2], keys: usize, evict: bool) -> String {
    let mut s = String::new();
    s.push_str("| server | keys loaded | load time s | loader keys/s | probes | probe p50 ms | p99 ms | p99.9 ms | max ms | probes > 2 ms |");
    s.push_str(if evict {
        " evicted_keys | used_memory MB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    } else {
        "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    });
    for (r, name) in rows.iter().zip(names) {
        let secs = r.load.as_secs_f64();
        let _ = write!(
            s,
            "| {name} | {keys} | {secs:.1} | {:.0} | {} | {:.3} | {:.3} | {:.3} | **{:.3}** | {} |",
            keys as f64 / secs,
            r.probe.rtts.len(),
            r.probe.q(0.5),
            r.probe.q(0.99),
            r.probe.q(0.999),
            r.probe.max(),
            r.probe.rtts.iter().filter(|&&t| t > 2.0).count()
        );
        if evict {
            let _ = write!(s, " {} | {:.1} |", r.evicted, mb(r.used));
        }
        s.push('\n');
    }
    s.push_str("\nThe servers' own view of the load (`latency-monitor-threshold 1`): LATENCY LATEST's events (max ms) and Oxidis's longest event-loop turn (`DEBUG LOOP-TURN`: what that one turn did; faults and preemptions of the loop thread from getrusage).\n\n");
    for (r, name) in rows.iter().zip(names) {
        let ev: Vec<String> = r.events.iter().map(|(e, m)| format!("{e} {m}")).collect();
        let _ = writeln!(
            s,
            "- {name}: events {}",
            if ev.is_empty() {
                "none".into()
            } else {
                ev.join(", ")
            }
        );
        let int = |k: &str| {
            r.turn.iter().find_map(|(n, v)| match v {
                TurnField::Int(i) if n == k => Some(*i),
                _ => None,
            })
        };
        if let Some(turns) = int("turns") {
            let _ = writeln!(
                s,
                "  - {turns} loop turns, {} ≥ 1 ms, {} ≥ 2 ms, {} ≥ 5 ms (wall time)",
                int("turns_1ms").unwrap_or(0),
                int("turns_2ms").unwrap_or(0),
                int("turns_5ms").unwrap_or(0)
            );
        }
        for (k, v) in &r.turn {
            if let TurnField::Turn(t) = v {
                let _ = writeln!(s, "  - {k} turn: {}", describe_turn(t));
            }
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Lazy free.

pub struct LazyRow {
    /// (reply time ms, prober's max ms) for DEL, UNLINK, FLUSHALL ASYNC.
    pub del: (f64, f64),
    pub unlink: (f64, f64),
    pub flush_async: (f64, f64),
}

fn fill_big_set(addr: &str, n: usize) -> Result<(), String> {
    let per = 100;
    load(addr, n.div_ceil(per), 100, |i, buf| {
        let members: Vec<String> = (i * per..((i + 1) * per).min(n))
            .map(|m| format!("member:{m}"))
            .collect();
        let mut args: Vec<&[u8]> = vec![b"SADD", b"bigset"];
        args.extend(members.iter().map(|m| m.as_bytes()));
        encode(buf, &args);
    })?;
    let mut c = connect(addr)?;
    match c.call_ok(&["SCARD", "bigset"])? {
        Reply::Int(k) if k as usize == n => Ok(()),
        r => Err(format!("SCARD bigset: {r:?}, expected {n}")),
    }
}

/// Times `cmd` (its reply) while a PING prober runs; returns (reply ms, prober max ms).
fn timed_with_probe(addr: &str, cmd: &[&[u8]]) -> Result<(f64, f64), String> {
    let mut c = connect(addr)?;
    let (stop, h) = start_probe(addr, &[b"PING"], false);
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    c.call_ok(cmd)?;
    let took = t.elapsed().as_secs_f64() * 1000.0;
    // Long enough for a background free of the whole set to finish and be felt.
    std::thread::sleep(Duration::from_millis(300));
    let p = finish_probe(stop, h)?;
    Ok((took, p.max()))
}

fn lazyfree(addrs: [&str; 2], sizes: &Sizes, log: &mut Log) -> Result<[LazyRow; 2], String> {
    let mut out = Vec::new();
    for addr in addrs {
        log.progress(&format!("lazyfree: {}-member set on {addr}", sizes.big_set));
        connect(addr)?.call_ok(&["FLUSHALL"])?;
        fill_big_set(addr, sizes.big_set)?;
        let del = timed_with_probe(addr, &[b"DEL", b"bigset"])?;
        fill_big_set(addr, sizes.big_set)?;
        let unlink = timed_with_probe(addr, &[b"UNLINK", b"bigset"])?;
        fill_big_set(addr, sizes.big_set)?;
        let flush_async = timed_with_probe(addr, &[b"FLUSHALL", b"ASYNC"])?;
        out.push(LazyRow {
            del,
            unlink,
            flush_async,
        });
    }
    let b = out.pop().ok_or("no result")?;
    let a = out.pop().ok_or("no result")?;
    Ok([a, b])
}

fn lazyfree_table(rows: &[LazyRow; 2], names: [&str; 2], n: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| server | DEL {n}-member set: reply ms | prober max ms | UNLINK: reply ms | prober max ms | FLUSHALL ASYNC: reply ms | prober max ms |"
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for (r, name) in rows.iter().zip(names) {
        let _ = writeln!(
            s,
            "| {name} | {:.3} | {:.3} | **{:.3}** | {:.3} | {:.3} | {:.3} |",
            r.del.0, r.del.1, r.unlink.0, r.unlink.1, r.flush_async.0, r.flush_async.1
        );
    }
    s
}

/// One bitmap row: the median reply ms of each server.
pub struct BitRow {
    pub what: String,
    pub ms: [f64; 2],
}

/// Fills `bm` with `bytes` pseudo-random bytes (SETRANGE, 1 MB at a time; the same bytes for
/// every server) and returns its BITCOUNT.
fn fill_bitmap(addr: &str, bytes: usize) -> Result<i64, String> {
    const CHUNK: usize = 1 << 20;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    load(addr, bytes.div_ceil(CHUNK), 2, |i, buf| {
        let len = CHUNK.min(bytes - i * CHUNK);
        let chunk: Vec<u8> = (0..len)
            .map(|_| {
                // xorshift64: cheap, deterministic bytes.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let off = (i * CHUNK).to_string();
        encode(
            buf,
            &[b"SETRANGE".as_slice(), b"bm", off.as_bytes(), &chunk],
        );
    })?;
    match connect(addr)?.call_ok(&["BITCOUNT", "bm"])? {
        Reply::Int(n) => Ok(n),
        r => Err(format!("BITCOUNT bm: {r:?}")),
    }
}

/// The median reply time of `cmd` over `runs` runs, in ms.
fn median_ms(addr: &str, cmd: &[&str], runs: usize) -> Result<f64, String> {
    let mut c = connect(addr)?;
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        c.call_ok(cmd)?;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(&mut v))
}

fn bitmap(addrs: [&str; 2], sizes: &Sizes, log: &mut Log) -> Result<Vec<BitRow>, String> {
    let cmds: [&[&str]; 3] = [
        &["BITCOUNT", "bm"],
        &["BITCOUNT", "bm", "3", "-3", "BIT"],
        &["BITOP", "NOT", "dest", "bm"],
    ];
    let runs = 4 * sizes.rounds.max(1) + 1;
    let mut rows: Vec<BitRow> = cmds
        .iter()
        .map(|c| BitRow {
            what: c.join(" "),
            ms: [0.0; 2],
        })
        .collect();
    let mut counts = Vec::new();
    for (i, addr) in addrs.into_iter().enumerate() {
        log.progress(&format!(
            "bitmap: {} MB string on {addr}",
            sizes.bitmap_bytes >> 20
        ));
        connect(addr)?.call_ok(&["FLUSHALL"])?;
        counts.push(fill_bitmap(addr, sizes.bitmap_bytes)?);
        for (row, cmd) in rows.iter_mut().zip(cmds) {
            row.ms[i] = median_ms(addr, cmd, runs)?;
        }
        connect(addr)?.call_ok(&["FLUSHALL"])?;
    }
    if counts[0] != counts[1] {
        return Err(format!("bitmap: BITCOUNT differs: {counts:?}"));
    }
    Ok(rows)
}

fn bitmap_table(rows: &[BitRow], names: [&str; 2]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| command | {} ms | {} ms | speed ratio ({} ms / {} ms) |",
        names[0], names[1], names[1], names[0]
    );
    s.push_str("|---|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| `{}` | {:.3} | {:.3} | **{:.2}** |",
            r.what,
            r.ms[0],
            r.ms[1],
            r.ms[1] / r.ms[0].max(1e-9)
        );
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Cache: Zipf GET / SET on a miss under maxmemory.

const ZIPF_S: f64 = 0.99;
const VALUE_BYTES: usize = 100;

fn info_u64(c: &mut Conn, section: &str, field: &str) -> Result<u64, String> {
    let v = c.info_field(section, field)?;
    v.parse()
        .map_err(|_| format!("INFO {field}: not a number: {v:?}"))
}

/// `maxmemory m` and `allkeys-lru` on a running server.
fn set_cache_config(c: &mut Conn, m: u64) -> Result<(), String> {
    c.call_ok(&["CONFIG", "SET", "maxmemory", &m.to_string()])?;
    c.call_ok(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])?;
    Ok(())
}

/// The cumulative distribution of Zipf(s) over ranks 1..=n: `cdf[k]` is P(rank <= k + 1).
pub fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut cdf = Vec::with_capacity(n);
    let mut sum = 0.0;
    for k in 1..=n {
        sum += (k as f64).powf(-s);
        cdf.push(sum);
    }
    for c in &mut cdf {
        *c /= sum;
    }
    cdf
}

/// A rank (0-based) drawn from `cdf` with the uniform `u` in [0, 1).
pub fn zipf_pick(cdf: &[f64], u: f64) -> usize {
    cdf.partition_point(|&c| c <= u).min(cdf.len() - 1)
}

pub struct CacheRow {
    pub requests: u64,
    pub elapsed: Duration,
    pub hits: u64,
    pub gets: u64,
    /// Round trips of every request, ms, sorted.
    pub rtts: Vec<f64>,
    pub evicted: u64,
    pub used: u64,
}

impl CacheRow {
    fn hit_ratio(&self) -> f64 {
        self.hits as f64 / self.gets.max(1) as f64
    }
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What one client of the cache workload saw: (requests, measured hits, measured GETs, round
/// trips in ms).
type ClientCounts = (u64, u64, u64, Vec<f64>);

/// One client of the cache workload.
fn cache_client(addr: &str, cdf: &[f64], gets: usize, seed: u64) -> Result<ClientCounts, String> {
    let mut c = connect(addr)?;
    let mut rng = oxidis_core::Rng::new(seed);
    let value = vec![b'x'; VALUE_BYTES];
    let (mut requests, mut hits, mut measured) = (0, 0, 0);
    let mut rtts = Vec::with_capacity(gets * 2);
    for i in 0..gets {
        let key = format!("cache:{}", zipf_pick(cdf, rng.unit_f64()));
        let t = Instant::now();
        let r = c.call(&[b"GET".as_slice(), key.as_bytes()])?;
        rtts.push(t.elapsed().as_secs_f64() * 1000.0);
        requests += 1;
        let hit = match r {
            Reply::Bulk(_) => true,
            Reply::Nil => false,
            other => return Err(format!("cache: GET answered {other:?}")),
        };
        if i >= gets / 2 {
            measured += 1;
            hits += u64::from(hit);
        }
        if !hit {
            let t = Instant::now();
            c.call_ok(&[b"SET".as_slice(), key.as_bytes(), &value])?;
            rtts.push(t.elapsed().as_secs_f64() * 1000.0);
            requests += 1;
        }
    }
    Ok((requests, hits, measured, rtts))
}

fn cache(addrs: [&str; 2], sizes: &Sizes, log: &mut Log) -> Result<[CacheRow; 2], String> {
    let cdf = zipf_cdf(sizes.cache_keys, ZIPF_S);
    let mut rows = Vec::new();
    for (si, addr) in addrs.iter().enumerate() {
        log.progress(&format!(
            "cache: server {si}, {} clients x {} GETs",
            sizes.cache_clients, sizes.cache_gets
        ));
        let mut c = connect(addr)?;
        c.call_ok(&["FLUSHALL"])?;
        set_cache_config(&mut c, sizes.cache_maxmemory)?;
        let t = Instant::now();
        let results: Vec<Result<ClientCounts, String>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..sizes.cache_clients)
                .map(|k| {
                    let cdf = &cdf;
                    sc.spawn(move || cache_client(addr, cdf, sizes.cache_gets, 1000 + k as u64))
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("cache client panicked".into()))
                })
                .collect()
        });
        let elapsed = t.elapsed();
        let mut row = CacheRow {
            requests: 0,
            elapsed,
            hits: 0,
            gets: 0,
            rtts: Vec::new(),
            evicted: info_u64(&mut c, "stats", "evicted_keys")?,
            used: info_u64(&mut c, "memory", "used_memory")?,
        };
        for r in results {
            let (req, hits, gets, rtts) = r?;
            row.requests += req;
            row.hits += hits;
            row.gets += gets;
            row.rtts.extend(rtts);
        }
        row.rtts.sort_by(f64::total_cmp);
        c.call_ok(&["FLUSHALL"])?;
        rows.push(row);
    }
    let b = rows.pop().ok_or("no result")?;
    let a = rows.pop().ok_or("no result")?;
    Ok([a, b])
}

fn cache_table(rows: &[CacheRow; 2], names: [&str; 2], maxmemory: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| figure | {} | {} | ratio ({} / {}) |",
        names[0], names[1], names[0], names[1]
    );
    s.push_str("|---|---:|---:|---:|\n");
    let mut row = |what: &str, a: f64, b: f64, prec: usize| {
        let _ = writeln!(
            s,
            "| {what} | {a:.prec$} | {b:.prec$} | **{:.2}** |",
            a / b.max(1e-9)
        );
    };
    row(
        "hit ratio (warm half)",
        rows[0].hit_ratio(),
        rows[1].hit_ratio(),
        3,
    );
    row("requests/s", rows[0].rps(), rows[1].rps(), 0);
    row(
        "p99 round trip ms",
        quantile(&rows[0].rtts, 0.99),
        quantile(&rows[1].rtts, 0.99),
        3,
    );
    row(
        "evicted_keys",
        rows[0].evicted as f64,
        rows[1].evicted as f64,
        0,
    );
    row(
        &format!("used_memory MB (maxmemory {:.1})", mb(maxmemory)),
        mb(rows[0].used),
        mb(rows[1].used),
        2,
    );
    for (r, name) in rows.iter().zip(names) {
        if r.used > maxmemory + maxmemory / 20 {
            let _ = writeln!(
                s,
                "\n{name} ended {:.1} MB over its maxmemory with {} keys evicted: it kept more \
                 than fits, so its hit ratio is not comparable.",
                mb(r.used - maxmemory),
                r.evicted
            );
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Driver.

/// Progress lines to stderr (stdout gets the tables).
struct Log {
    t: Instant,
    quiet: bool,
}

impl Log {
    /// Appends a finished section to the report and prints it at once (so a later failure
    /// does not lose it).
    fn section(&mut self, md: &mut String, text: &str) {
        md.push_str(text);
        if !self.quiet {
            print!("{text}");
        }
    }

    fn progress(&mut self, msg: &str) {
        if !self.quiet {
            eprintln!("[{:6.1}s] {msg}", self.t.elapsed().as_secs_f64());
        }
    }
}

/// Everything one run measured, as markdown.
pub struct Report {
    pub markdown: String,
    pub svg: Option<String>,
}

/// Runs the chosen sections; `start(0)` starts a fresh oxidis-server, `start(1)` a fresh
/// redis-server.
fn run_sections(
    start: &dyn Fn(usize) -> Result<Server, String>,
    sizes: &Sizes,
    sections: &[&str],
    tests: &[&'static str],
    quiet: bool,
) -> Result<Report, String> {
    let names = ["oxidis", "redis"];
    let mut log = Log {
        t: Instant::now(),
        quiet,
    };
    let mut md = String::new();
    let mut svg = None;
    let head = format!(
        "# Oxidis vs redis-server {}\n\n{} logical CPUs; redis-benchmark shares them with the server it measures. Load average at the start: {} (other work on the machine slows both servers alike within a run: compare ratios from one run).\n\n",
        redis_version(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "?".into())
    );
    log.section(&mut md, &head);
    if sections.contains(&"throughput") {
        let a = start(0)?;
        let b = start(1)?;
        let targets = [Target::of(&a), Target::of(&b)];
        let t = throughput(&targets, sizes, tests, &mut log)?;
        let text = format!(
            "## Throughput\n\nredis-benchmark -c 50 -r 100000 -n {}/{} (-P 1/-P 16; LRANGE_100 a quarter), median of {} rounds alternating A B / B A. CPU µs/req: the server's user + system CPU time (every thread, from /proc/PID/stat, in 10 ms ticks) over the redis-benchmark run, divided by its requests.\n\n{}\n",
            sizes.requests[0],
            sizes.requests[1],
            sizes.rounds,
            throughput_table(&t, names)
        );
        log.section(&mut md, &text);
        svg = Some(throughput_svg(
            &t,
            "Oxidis vs redis-server 7.0: redis-benchmark throughput ratio",
        ));
    }
    if sections.contains(&"aof") {
        let a = start(0)?;
        let b = start(1)?;
        let rows = aof_always(&[Target::of(&a), Target::of(&b)], sizes, &mut log)?;
        let text = format!(
            "## AOF, appendfsync always\n\nredis-benchmark -t set -c 50 -r 100000 -n {} -P 1 with appendonly yes and appendfsync always (each server in its own temporary dir), median of {} rounds alternating A B / B A.\n\n{}\n",
            sizes.requests[0],
            sizes.rounds,
            aof_table(&rows, names)
        );
        log.section(&mut md, &text);
    }
    if sections.contains(&"memory") {
        let rows = memory(start, names, sizes, &mut log)?;
        let text = format!("## Memory\n\nEach data set loaded into a fresh server of each kind, pipelined (1000 commands per batch).\n\n{}\n", memory_table(&rows, names));
        log.section(&mut md, &text);
    }
    if sections.contains(&"growth") {
        let rows = growth(start, names, sizes.growth_keys, None, false, &mut log)?;
        let text = format!("## Latency under growth\n\nA probing client times `SET probe:key ...` (one at a time, 200 µs apart) while a loader pipelines SETs of new keys (1000 per batch) from 0 keys.\n\n{}\n", growth_table(&rows, names, sizes.growth_keys, false));
        log.section(&mut md, &text);
        if can_isolate() {
            let rows = growth(start, names, sizes.growth_keys, None, true, &mut log)?;
            let text = format!("## Latency under growth, server isolated\n\nThe same load with each server's event-loop thread alone on CPU 0 under SCHED_FIFO (`taskset`, `chrt -f 1`), the loader on the other CPUs and the probe there under SCHED_FIFO: what the server itself makes the probe wait, without the loader or the machine's other processes taking its CPU (on this shared 2-CPU machine `perf record -e sched:sched_switch` showed the sandbox's supervisor, nice -10, preempting the server for 6-12 ms at a time). Both servers run the same way.\n\n{}\n", growth_table(&rows, names, sizes.growth_keys, false));
            log.section(&mut md, &text);
        } else {
            log.progress("growth, isolated: skipped (needs 2 CPUs, taskset and chrt with root or CAP_SYS_NICE)");
        }
    }
    if sections.contains(&"lazyfree") {
        let a = start(0)?;
        let b = start(1)?;
        let rows = lazyfree([&a.addr(), &b.addr()], sizes, &mut log)?;
        let text = format!("## Lazy free\n\nA big set deleted three ways; a second client PINGs (200 µs apart) throughout and reports its longest round trip.\n\n{}\n", lazyfree_table(&rows, names, sizes.big_set));
        log.section(&mut md, &text);
    }
    if sections.contains(&"bitmap") {
        let a = start(0)?;
        let b = start(1)?;
        let rows = bitmap([&a.addr(), &b.addr()], sizes, &mut log)?;
        let text = format!("## Bitmaps\n\nA {} MB string of pseudo-random bytes (the same on both servers); median reply time of {} runs of each command.\n\n{}\n", sizes.bitmap_bytes >> 20, 4 * sizes.rounds.max(1) + 1, bitmap_table(&rows, names));
        log.section(&mut md, &text);
    }
    if sections.contains(&"cache") {
        let a = start(0)?;
        let b = start(1)?;
        let rows = cache([&a.addr(), &b.addr()], sizes, &mut log)?;
        drop((a, b));
        let text = format!(
            "## Cache: Zipf GET, SET on a miss, allkeys-lru\n\n{} clients, {} GETs each (one request at a time, SET of a {VALUE_BYTES}-byte value on a miss) over {} keys drawn with Zipf s = {ZIPF_S}, `maxmemory {}` and `allkeys-lru`; hit ratio over each client's second half, requests/s and round-trip p99 over the whole run.\n\n{}\n",
            sizes.cache_clients,
            sizes.cache_gets,
            sizes.cache_keys,
            sizes.cache_maxmemory,
            cache_table(&rows, names, sizes.cache_maxmemory)
        );
        log.section(&mut md, &text);
        let rows = growth(
            start,
            names,
            sizes.cache_growth_keys,
            Some(sizes.cache_growth_maxmemory),
            false,
            &mut log,
        )?;
        let text = format!("## Latency under growth, with eviction\n\nAs above, from 0 to {} keys with `maxmemory {}` and `allkeys-lru`: eviction runs through most of the load.\n\n{}\n", sizes.cache_growth_keys, sizes.cache_growth_maxmemory, growth_table(&rows, names, sizes.cache_growth_keys, true));
        log.section(&mut md, &text);
    }
    if sections.contains(&"repl") {
        // Rounds alternating A B / B A; the median of each figure per server.
        let mut runs: [Vec<ReplRow>; 2] = [Vec::new(), Vec::new()];
        for round in 0..sizes.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                runs[i].push(repl(start, i, sizes, &mut log)?);
            }
        }
        let rows = runs.map(|v| median_repl(&v));
        let text = format!(
            "## Replication\n\nEach server as master and replica of its own kind: REPLICAOF of a fresh replica to a master holding {} string keys (16 B key, 16 B value; `repl-diskless-sync-delay 0`), timed until the replica's link is up with every key loaded; then redis-benchmark -t set -c 50 -r 100000 -n {} -P 16 on the master while the replica's lag (the master's `master_repl_offset` minus the replica's, two INFO reads) is sampled every 20 ms, and the time from the benchmark's end until the offsets are equal; median of {} rounds alternating A B / B A.\n\n{}\n",
            sizes.string_keys,
            sizes.requests[1],
            sizes.rounds,
            repl_table(&rows, names)
        );
        log.section(&mut md, &text);
    }
    Ok(Report { markdown: md, svg })
}

// ---------------------------------------------------------------------------------------------
// Replication: full sync time and replica lag.

pub struct ReplRow {
    pub full_sync: Duration,
    pub lag_mean: f64,
    /// The mean lag in time: bytes behind ÷ the stream's rate during the load (ms). A
    /// faster master has more bytes in flight for the same delay; this compares delays.
    pub lag_ms: f64,
    /// The 1-minute load average when the round ended.
    pub load: f64,
    pub lag_p99: f64,
    pub lag_max: f64,
    pub catch_up: Duration,
    pub rps: f64,
}

/// Master and replica both of kind `i` (`start(i)`): full sync of `string_keys` keys, then
/// the lag under a redis-benchmark SET load.
fn repl(
    start: &dyn Fn(usize) -> Result<Server, String>,
    i: usize,
    sizes: &Sizes,
    log: &mut Log,
) -> Result<ReplRow, String> {
    let master = start(i)?;
    let replica = start(i)?;
    let mut m = connect(&master.addr())?;
    m.call_ok(&["CONFIG", "SET", "repl-diskless-sync-delay", "0"])?;
    let n = sizes.string_keys;
    log.progress(&format!("repl: loading {n} keys into master {i}"));
    Dataset::Strings.load(&master.addr(), sizes)?;
    let mut r = connect(&replica.addr())?;
    let port = master.port().to_string();
    let t = Instant::now();
    r.call_ok(&["REPLICAOF", "127.0.0.1", &port])?;
    let deadline = t + Duration::from_secs(600);
    loop {
        if r.info_field("replication", "master_link_status")? == "up"
            && r.info_field("replication", "master_sync_in_progress")? == "0"
            && r.call_ok(&["DBSIZE"])? == Reply::Int(n as i64)
        {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "repl: the replica of kind {i} did not finish its full sync"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let full_sync = t.elapsed();
    log.progress(&format!(
        "repl: full sync {:.2}s; lag under redis-benchmark",
        full_sync.as_secs_f64()
    ));
    let addr = master.addr();
    let requests = sizes.requests[1];
    let off0 = info_u64(&mut m, "replication", "master_repl_offset")?;
    let t_load = Instant::now();
    let bench = std::thread::spawn(move || redis_benchmark(&addr, None, "set", 16, requests));
    let mut lags = Vec::new();
    while !bench.is_finished() {
        let mo = info_u64(&mut m, "replication", "master_repl_offset")?;
        let ro = info_u64(&mut r, "replication", "master_repl_offset")?;
        lags.push(mo.saturating_sub(ro) as f64);
        std::thread::sleep(Duration::from_millis(20));
    }
    let row = bench
        .join()
        .map_err(|_| "redis-benchmark thread panicked")??;
    let load_ms = t_load.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let target = info_u64(&mut m, "replication", "master_repl_offset")?;
    let rate = target.saturating_sub(off0) as f64 / load_ms.max(1.0);
    loop {
        if info_u64(&mut r, "replication", "master_repl_offset")? >= target {
            break;
        }
        if t.elapsed() > Duration::from_secs(600) {
            return Err(format!("repl: the replica of kind {i} did not catch up"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let catch_up = t.elapsed();
    let mean = lags.iter().sum::<f64>() / lags.len().max(1) as f64;
    lags.sort_by(f64::total_cmp);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN);
    let lag_ms = if rate > 0.0 { mean / rate } else { f64::NAN };
    log.progress(&format!(
        "repl round, kind {i}: full sync {:.2}s, {:.0} SET/s, lag mean {mean:.0} B = {lag_ms:.2} ms of stream ({:.0} B/ms), catch-up {:.1} ms, load {load:.2}",
        full_sync.as_secs_f64(),
        row.rps,
        rate,
        catch_up.as_secs_f64() * 1000.0
    ));
    Ok(ReplRow {
        full_sync,
        lag_mean: mean,
        lag_ms,
        load,
        lag_p99: quantile(&lags, 0.99),
        lag_max: lags.last().copied().unwrap_or(f64::NAN),
        catch_up,
        rps: row.rps,
    })
}

/// The median of each figure over the rounds.
fn median_repl(v: &[ReplRow]) -> ReplRow {
    let pick = |f: fn(&ReplRow) -> f64| median(&mut v.iter().map(f).collect::<Vec<_>>());
    ReplRow {
        full_sync: Duration::from_secs_f64(pick(|r| r.full_sync.as_secs_f64())),
        lag_mean: pick(|r| r.lag_mean),
        lag_ms: pick(|r| r.lag_ms),
        load: pick(|r| r.load),
        lag_p99: pick(|r| r.lag_p99),
        lag_max: pick(|r| r.lag_max),
        catch_up: Duration::from_secs_f64(pick(|r| r.catch_up.as_secs_f64())),
        rps: pick(|r| r.rps),
    }
}

fn repl_table(rows: &[ReplRow; 2], names: [&str; 2]) -> String {
    let mut s = format!(
        "| replication | {} | {} | ratio |\n| --- | ---: | ---: | ---: |\n",
        names[0], names[1]
    );
    let mut row = |label: &str, a: f64, b: f64, digits: usize| {
        let ratio = if b > 0.0 {
            format!("{:.2}", a / b)
        } else {
            "–".into()
        };
        let _ = writeln!(s, "| {label} | {a:.digits$} | {b:.digits$} | {ratio} |");
    };
    row(
        "full sync, s",
        rows[0].full_sync.as_secs_f64(),
        rows[1].full_sync.as_secs_f64(),
        2,
    );
    row("SET requests/s on the master", rows[0].rps, rows[1].rps, 0);
    row(
        "replica lag, mean bytes",
        rows[0].lag_mean,
        rows[1].lag_mean,
        0,
    );
    row(
        "replica lag, mean ms of stream",
        rows[0].lag_ms,
        rows[1].lag_ms,
        2,
    );
    row(
        "load average (median of rounds)",
        rows[0].load,
        rows[1].load,
        2,
    );
    row(
        "replica lag, p99 bytes",
        rows[0].lag_p99,
        rows[1].lag_p99,
        0,
    );
    row(
        "replica lag, max bytes",
        rows[0].lag_max,
        rows[1].lag_max,
        0,
    );
    row(
        "catch-up after the load, ms",
        rows[0].catch_up.as_secs_f64() * 1e3,
        rows[1].catch_up.as_secs_f64() * 1e3,
        1,
    );
    s
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.split_whitespace()
                .find_map(|w| w.strip_prefix("v=").map(str::to_string))
        })
        .unwrap_or_else(|| "?".into())
}

/// The CI smoke run (`--quick` sizes, every section, against servers at `oxidis`/`redis`-style
/// starters): passes when everything completes without an error.
pub fn quick_suite(bin: &Path) -> Suite {
    let name = "bench --quick (smoke)";
    let bin = bin.to_path_buf();
    let start = move |i: usize| {
        if i == 0 {
            servers::start_oxidis(&bin)
        } else {
            servers::start_redis()
        }
    };
    let mut s = Suite::new(name);
    match run_sections(&start, &Sizes::quick(), &SECTIONS, &TESTS, true) {
        Ok(r) => {
            s.passed = 1;
            s.info = r
                .markdown
                .lines()
                .filter(|l| l.starts_with('|'))
                .map(str::to_string)
                .collect();
        }
        Err(e) => s.fail(e),
    }
    s
}

pub fn cli(args: &[String]) -> ExitCode {
    match cli_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cli_inner(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: cargo xtask bench [--quick] [--rounds N] [--only throughput,aof,memory,growth,lazyfree,bitmap,cache,repl] [--tests set,xadd,...] [--docs]";
    let mut sizes = Sizes::full();
    let mut sections: Vec<&str> = SECTIONS.to_vec();
    let mut tests: Vec<&'static str> = TESTS.to_vec();
    let mut docs = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => {
                let rounds = sizes.rounds.min(Sizes::quick().rounds.max(1));
                sizes = Sizes {
                    rounds,
                    ..Sizes::quick()
                };
            }
            "--rounds" => {
                sizes.rounds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or(USAGE)?;
            }
            "--only" => {
                let list = it.next().ok_or(USAGE)?;
                sections = SECTIONS
                    .iter()
                    .copied()
                    .filter(|s| list.split(',').any(|w| w == *s))
                    .collect();
                if sections.is_empty() {
                    return Err(USAGE.into());
                }
            }
            "--tests" => {
                let list = it.next().ok_or(USAGE)?;
                tests = TESTS
                    .iter()
                    .copied()
                    .filter(|t| list.split(',').any(|w| w.eq_ignore_ascii_case(t)))
                    .collect();
                if tests.is_empty() {
                    return Err(USAGE.into());
                }
            }
            "--docs" => docs = true,
            _ => return Err(USAGE.into()),
        }
    }
    // BENCH_OXIDIS_BIN: measure that oxidis-server binary (e.g. a copy of an earlier build, for
    // before/after figures) instead of building this tree's.
    let bin = match std::env::var_os("BENCH_OXIDIS_BIN") {
        Some(b) => PathBuf::from(b),
        None => {
            let mut build = crate::cargo_cmd();
            build.args(["build", "--release", "-p", "oxidis-server"]);
            run_status(build)?;
            servers::oxidis_bin("release")
        }
    };
    if crate::setup::which("redis-benchmark").is_none() {
        return Err("redis-benchmark is not installed (apt-get install redis-tools)".into());
    }
    let start = |i: usize| {
        if i == 0 {
            servers::start_oxidis(&bin)
        } else {
            servers::start_redis()
        }
    };
    let t = Instant::now();
    let report = run_sections(&start, &sizes, &sections, &tests, false)?;
    let dir = crate::repo_root().join("bench-results");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let md_path = dir.join("bench.md");
    let mut md = report.markdown;
    let total = format!("Total bench time: {:.0} s.\n", t.elapsed().as_secs_f64());
    print!("{total}");
    md.push_str(&total);
    write(&md_path, &md)?;
    eprintln!("wrote {}", md_path.display());
    if let Some(svg) = report.svg {
        let p = dir.join("throughput.svg");
        write(&p, &svg)?;
        eprintln!("wrote {}", p.display());
        if docs {
            let d: PathBuf = crate::repo_root().join("docs/bench-throughput.svg");
            write(&d, &svg)?;
            write(&crate::repo_root().join("docs/bench.md"), &md)?;
            eprintln!("wrote {} and docs/bench.md", d.display());
        }
    }
    Ok(())
}

fn write(p: &Path, text: &str) -> Result<(), String> {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_of_reads_this_process() {
        let rss = rss_of(std::process::id()).expect("our own /proc status");
        assert!(rss > 0);
        assert!(rss_of(u32::MAX).is_err());
    }

    #[test]
    fn csv_rows_are_matched_on_their_first_word() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
            \"LPUSH (needed to benchmark LRANGE)\",\"74626.87\",\"0.448\",\"0.112\",\"0.447\",\"0.631\",\"0.679\",\"1.399\"\n\
            \"LRANGE_100 (first 100 elements)\",\"52356.02\",\"0.608\",\"0.144\",\"0.599\",\"0.919\",\"1.007\",\"3.151\"\n";
        assert_eq!(
            parse_csv(csv, "lrange_100"),
            Some(Row {
                rps: 52356.02,
                p50: 0.599,
                p99: 1.007,
                cpu_us: None,
                sys_us: None,
            })
        );
        assert_eq!(parse_csv(csv, "lpush").map(|r| r.rps), Some(74626.87));
        assert_eq!(parse_csv(csv, "mset"), None);
        assert_eq!(parse_csv("", "mset"), None);
    }

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        let v: Vec<f64> = (0..=1000).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.999), 999.0);
        assert_eq!(quantile(&v, 1.0), 1000.0);
    }

    #[test]
    fn zipf_ranks_follow_the_law() {
        let cdf = zipf_cdf(1000, ZIPF_S);
        assert!((cdf[999] - 1.0).abs() < 1e-12);
        assert_eq!(zipf_pick(&cdf, 0.0), 0);
        assert_eq!(zipf_pick(&cdf, 0.999_999_999), 999);
        let mut rng = oxidis_core::Rng::new(1);
        let mut counts = [0u32; 1000];
        for _ in 0..100_000 {
            counts[zipf_pick(&cdf, rng.unit_f64())] += 1;
        }
        // Rank 1 is drawn about twice as often as rank 2 and ten times as often as rank 10.
        let r = |a: usize, b: usize| f64::from(counts[a]) / f64::from(counts[b]);
        assert!((1.8..2.2).contains(&r(0, 1)), "{}", r(0, 1));
        assert!((8.0..12.0).contains(&r(0, 9)), "{}", r(0, 9));
    }

    #[test]
    fn keys_are_sixteen_bytes() {
        assert_eq!(key16("key:", 42), "key:000000000042");
        assert_eq!(key16("val:", 9_999_999).len(), 16);
    }

    #[test]
    fn svg_has_a_bar_per_test_and_pipeline() {
        let row = Row {
            rps: 2.0,
            p50: 0.1,
            p99: 0.2,
            cpu_us: Some(3.0),
            sys_us: Some(2.0),
        };
        let half = Row {
            rps: 1.0,
            ..row.clone()
        };
        let t = Throughput {
            tests: TESTS.to_vec(),
            rows: vec![vec![[row.clone(), half.clone()]; TESTS.len()]; 2],
        };
        let svg = throughput_svg(&t, "t <x>");
        // The drawing itself is tested in ratio_chart.rs.
        assert_eq!(svg.matches("<rect x=").count(), 2 + 2 * TESTS.len());
        assert!(svg.contains("t &lt;x&gt;"));
        assert!(svg.contains(">2.00<"));
    }
}
