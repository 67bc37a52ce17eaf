//! `cargo xtask memreport [--quick]`: how much memory Oxidis and Redis need for the same data.
//!
//! Builds the release oxidis-server, then for each data set starts a fresh redis-server and a
//! fresh oxidis-server (same flags, see `servers::server_args`), loads the data set into both
//! (pipelined multi-element commands, both servers at once), checks it arrived (HLEN, SCARD,
//! ... or DBSIZE), and reads each server's resident set size (VmRSS in /proc/PID/status) and
//! INFO memory's `used_memory`. Prints one markdown table with the ratios (Oxidis / Redis).
//!
//! Data sets (elements like Redis's own benchmarks use: "field:123456", "value:123456",
//! "member:123456", scores i as float): one hash with 1M fields, one set with 1M members, one
//! zset with 1M members, one list with 1M elements, 100k hashes of 10 fields, one stream with
//! 1M small entries (`XADD big:stream * field value:123456`, one command each), 1M string keys
//! (`MSET key:123456 value:123456 ...`, the keyspace's own cost per key). A second table
//! gives bytes per element: (figure − the empty server's) ÷ elements, for used_memory and RSS.
//! `--quick` divides every size by 10 (a smoke run).

use crate::difftest::{connect, decode_one, encode_all, show_bytes, Cmd};
use crate::servers;
use oxidis_core::resp::Reply;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Commands per pipelined write.
const PIPELINE: usize = 200;

/// One data set: `commands` commands made by `command(i, scale)`, then a check that must
/// reply the integer `expect`.
struct DataSet {
    name: String,
    /// Elements (fields, members, entries) in all: the per-element table divides by it.
    elements: usize,
    commands: usize,
    command: fn(usize) -> Cmd,
    check: &'static [&'static str],
    expect: i64,
}

fn s(x: impl Into<String>) -> Vec<u8> {
    x.into().into_bytes()
}

/// 100 elements per command for the big collections.
const PER: usize = 100;

fn big_hash(i: usize) -> Cmd {
    let mut c = vec![s("HSET"), s("big:hash")];
    for j in i * PER..(i + 1) * PER {
        c.push(s(format!("field:{j}")));
        c.push(s(format!("value:{j}")));
    }
    c
}

fn big_set(i: usize) -> Cmd {
    let mut c = vec![s("SADD"), s("big:set")];
    c.extend((i * PER..(i + 1) * PER).map(|j| s(format!("member:{j}"))));
    c
}

fn big_zset(i: usize) -> Cmd {
    let mut c = vec![s("ZADD"), s("big:zset")];
    for j in i * PER..(i + 1) * PER {
        c.push(s(format!("{j}")));
        c.push(s(format!("member:{j}")));
    }
    c
}

fn big_list(i: usize) -> Cmd {
    let mut c = vec![s("RPUSH"), s("big:list")];
    c.extend((i * PER..(i + 1) * PER).map(|j| s(format!("member:{j}"))));
    c
}

fn small_hash(i: usize) -> Cmd {
    let mut c = vec![s("HSET"), s(format!("hash:{i}"))];
    for j in 0..10 {
        c.push(s(format!("field:{j}")));
        c.push(s(format!("value:{i}")));
    }
    c
}

/// 100 small string keys per command ("key:123456" -> "value:123456"): the per-key cost of
/// the keyspace itself (dict entry, key, value, LRU/LFU field).
fn strings(i: usize) -> Cmd {
    let mut c = vec![s("MSET")];
    for j in i * PER..(i + 1) * PER {
        c.push(s(format!("key:{j}")));
        c.push(s(format!("value:{j}")));
    }
    c
}

/// One stream entry per command, IDs from the server's clock (`*`), as producers add them.
fn stream_entry(i: usize) -> Cmd {
    vec![
        s("XADD"),
        s("big:stream"),
        s("*"),
        s("field"),
        s(format!("value:{i}")),
    ]
}

/// 1000000 -> "1M", 100000 -> "100k".
fn count(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// The data sets at full size divided by `div`.
fn data_sets(div: usize) -> Vec<DataSet> {
    let big = 1_000_000 / div;
    let small = 100_000 / div;
    vec![
        DataSet {
            name: format!("hash, {} fields", count(big)),
            elements: big,
            commands: big / PER,
            command: big_hash,
            check: &["HLEN", "big:hash"],
            expect: big as i64,
        },
        DataSet {
            name: format!("set, {} members", count(big)),
            elements: big,
            commands: big / PER,
            command: big_set,
            check: &["SCARD", "big:set"],
            expect: big as i64,
        },
        DataSet {
            name: format!("zset, {} members", count(big)),
            elements: big,
            commands: big / PER,
            command: big_zset,
            check: &["ZCARD", "big:zset"],
            expect: big as i64,
        },
        DataSet {
            name: format!("list, {} elements", count(big)),
            elements: big,
            commands: big / PER,
            command: big_list,
            check: &["LLEN", "big:list"],
            expect: big as i64,
        },
        DataSet {
            name: format!("{} hashes x 10 fields", count(small)),
            elements: small * 10,
            commands: small,
            command: small_hash,
            check: &["DBSIZE"],
            expect: small as i64,
        },
        DataSet {
            name: format!("stream, {} entries", count(big)),
            elements: big,
            commands: big,
            command: stream_entry,
            check: &["XLEN", "big:stream"],
            expect: big as i64,
        },
        DataSet {
            name: format!("strings, {} keys", count(big)),
            elements: big,
            commands: big / PER,
            command: strings,
            check: &["DBSIZE"],
            expect: big as i64,
        },
    ]
}

/// What one server used for one data set.
#[derive(Clone, Debug, Default, PartialEq)]
struct Usage {
    rss: Option<u64>,
    used_memory: Option<u64>,
    /// Why the data set did not load completely (the figures are then not comparable).
    problem: Option<String>,
}

fn rss_of(pid: u32) -> Option<u64> {
    crate::bench::rss_of(pid).ok()
}

/// `used_memory` from an INFO reply's text.
fn parse_used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Loads `ds` into the server at `addr` and measures it. `Err` only when the server cannot
/// be talked to at all.
fn load_and_measure(addr: &str, pid: u32, ds: &DataSet) -> Result<Usage, String> {
    let mut conn = connect(addr)?;
    let mut errors = 0usize;
    let mut first_error = None;
    let mut i = 0;
    while i < ds.commands {
        let n = PIPELINE.min(ds.commands - i);
        let cmds: Vec<Cmd> = (i..i + n).map(ds.command).collect();
        let (buf, ends) = conn.exchange(&encode_all(&cmds), n)?;
        let mut start = 0;
        for e in ends {
            if matches!(decode_one(&buf[start..e]), Some(Reply::Error(_))) {
                errors += 1;
                first_error.get_or_insert_with(|| show_bytes(&buf[start..e], 80));
            }
            start = e;
        }
        i += n;
    }
    let mut usage = Usage::default();
    match conn.call(ds.check)? {
        Reply::Int(n) if n == ds.expect && errors == 0 => {}
        other => {
            let got = match other {
                Reply::Int(n) => n.to_string(),
                Reply::Error(e) => format!("-{}", String::from_utf8_lossy(&e)),
                other => format!("{other:?}"),
            };
            let mut why = format!("{} replied {got}, not {}", ds.check.join(" "), ds.expect);
            if let Some(e) = first_error {
                why.push_str(&format!("; {errors} load errors, first: {e}"));
            }
            usage.problem = Some(why);
        }
    }
    usage.used_memory = match conn.call(&["INFO", "memory"])? {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => parse_used_memory(&String::from_utf8_lossy(&b)),
        _ => None,
    };
    usage.rss = rss_of(pid);
    Ok(usage)
}

/// Bytes as MB with one decimal (1 MB = 2^20 bytes), or "n/a".
fn mb(b: Option<u64>) -> String {
    match b {
        Some(b) => format!("{:.1} MB", b as f64 / (1 << 20) as f64),
        None => "n/a".to_string(),
    }
}

/// Oxidis / Redis, as "0.85x", or "n/a".
fn ratio(ox: Option<u64>, rs: Option<u64>) -> String {
    match (ox, rs) {
        (Some(o), Some(r)) if r > 0 => format!("{:.2}x", o as f64 / r as f64),
        _ => "n/a".to_string(),
    }
}

/// One markdown row per data set; a data set that did not load on a server is marked.
fn table(rows: &[(String, Usage, Usage)]) -> String {
    let mut out = String::from(
        "| data set | Redis RSS | Oxidis RSS | RSS Oxidis/Redis | Redis used_memory \
         | Oxidis used_memory | used_memory Oxidis/Redis |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, rs, ox) in rows {
        let mark = |u: &Usage| if u.problem.is_some() { " (!)" } else { "" };
        out.push_str(&format!(
            "| {name} | {}{} | {}{} | {} | {} | {} | {} |\n",
            mb(rs.rss),
            mark(rs),
            mb(ox.rss),
            mark(ox),
            ratio(ox.rss, rs.rss),
            mb(rs.used_memory),
            mb(ox.used_memory),
            ratio(ox.used_memory, rs.used_memory),
        ));
    }
    out
}

/// Bytes per element: (figure − the empty server's) ÷ elements, or "n/a".
fn per_element(u: Option<u64>, empty: Option<u64>, elements: usize) -> String {
    match (u, empty) {
        (Some(u), Some(e)) if elements > 0 => {
            format!("{:.1}", u.saturating_sub(e) as f64 / elements as f64)
        }
        _ => "n/a".to_string(),
    }
}

/// One markdown row per data set: bytes per element over the empty server (`empty`: Redis's,
/// Oxidis's), used_memory and RSS, and the used_memory ratio.
fn per_element_table(rows: &[(String, usize, Usage, Usage)], empty: &(Usage, Usage)) -> String {
    let mut out = String::from(
        "| data set | Redis used_memory B/elem | Oxidis used_memory B/elem | Oxidis/Redis \
         | Redis RSS B/elem | Oxidis RSS B/elem |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (name, n, rs, ox) in rows {
        let delta = |u: Option<u64>, e: Option<u64>| u.zip(e).map(|(u, e)| u.saturating_sub(e));
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            per_element(rs.used_memory, empty.0.used_memory, *n),
            per_element(ox.used_memory, empty.1.used_memory, *n),
            ratio(
                delta(ox.used_memory, empty.1.used_memory),
                delta(rs.used_memory, empty.0.used_memory)
            ),
            per_element(rs.rss, empty.0.rss, *n),
            per_element(ox.rss, empty.1.rss, *n),
        ));
    }
    out
}

/// `cargo xtask memreport [--quick]`
pub fn cli(args: &[String]) -> ExitCode {
    let div = match args {
        [] => 1,
        [q] if q == "--quick" => 10,
        _ => {
            eprintln!("usage: cargo xtask memreport [--quick]");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut build = crate::cargo_cmd();
    build.args(["build", "--release", "-p", "oxidis-server"]);
    if let Err(e) = crate::suite::run_status(build) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let oxidis = servers::oxidis_bin("release");
    let built = started.elapsed();
    let mut rows = Vec::new();
    let mut per_elem = Vec::new();
    let mut empty = (Usage::default(), Usage::default());
    let mut notes = Vec::new();
    // The empty servers first: the fixed cost every row includes.
    for ds in std::iter::once(None).chain(data_sets(div).into_iter().map(Some)) {
        let name = ds
            .as_ref()
            .map_or("empty server (baseline)", |d| d.name.as_str())
            .to_string();
        let t = Instant::now();
        let measured = (|| -> Result<(Usage, Usage), String> {
            let rs = servers::start_redis()?;
            let ox = servers::start_oxidis(&oxidis)?;
            let Some(ds) = &ds else {
                // Give both a moment to finish starting up (allocations after accept()).
                std::thread::sleep(Duration::from_millis(200));
                let empty = |p: &servers::Server| -> Result<Usage, String> {
                    let mut c = connect(&p.addr())?;
                    let used = match c.call(&["INFO", "memory"])? {
                        Reply::Bulk(b) => parse_used_memory(&String::from_utf8_lossy(&b)),
                        _ => None,
                    };
                    Ok(Usage {
                        rss: rss_of(p.pid()),
                        used_memory: used,
                        problem: None,
                    })
                };
                return Ok((empty(&rs)?, empty(&ox)?));
            };
            std::thread::scope(|sc| {
                let h = sc.spawn(|| load_and_measure(&ox.addr(), ox.pid(), ds));
                let r = load_and_measure(&rs.addr(), rs.pid(), ds)
                    .map_err(|e| format!("redis-server: {e}"));
                let o = h
                    .join()
                    .unwrap_or_else(|_| Err("loader panicked".into()))
                    .unwrap_or_else(|e| Usage {
                        problem: Some(format!("oxidis-server: {e}")),
                        ..Usage::default()
                    });
                Ok((r?, o))
            })
        })();
        match measured {
            Ok((rs, ox)) => {
                for (who, u) in [("Redis", &rs), ("Oxidis", &ox)] {
                    if let Some(p) = &u.problem {
                        notes.push(format!("(!) {name}, {who}: {p}"));
                    }
                }
                eprintln!("  {name}: measured in {:.1?}", t.elapsed());
                match &ds {
                    Some(d) => per_elem.push((name.clone(), d.elements, rs.clone(), ox.clone())),
                    None => empty = (rs.clone(), ox.clone()),
                }
                rows.push((name, rs, ox));
            }
            Err(e) => {
                eprintln!("memreport: {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "\n## Memory: Oxidis vs Redis {}\n",
        if div == 1 {
            ""
        } else {
            "(--quick: sizes / 10)"
        }
    );
    print!("{}", table(&rows));
    println!(
        "\nRSS: VmRSS of the server process after loading; used_memory: INFO memory. Each data \
         set on fresh servers; ratios are Oxidis / Redis (below 1 = Oxidis smaller)."
    );
    println!(
        "\n### Bytes per element\n\n{}\n(figure − the empty server's) ÷ elements (fields, \
         members, entries; 10 per small hash), so the fixed cost of an empty server is left out.",
        per_element_table(&per_elem, &empty)
    );
    for n in &notes {
        println!("{n}");
    }
    println!(
        "\nmemreport: {:.0?} in all ({:.0?} building oxidis-server)",
        started.elapsed(),
        built
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_memory_is_read_from_info() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n";
        assert_eq!(parse_used_memory(info), Some(1 << 20));
        assert_eq!(parse_used_memory("# Memory\r\nused_memory_rss:5\r\n"), None);
    }

    #[test]
    fn own_rss_is_readable() {
        let rss = rss_of(std::process::id()).expect("/proc/self/status");
        assert!(rss > 0);
    }

    #[test]
    fn data_sets_have_the_announced_sizes() {
        for ds in data_sets(1) {
            let elems: usize = (0..ds.commands)
                .map(|i| {
                    let c = (ds.command)(i);
                    match &c[0][..] {
                        b"HSET" | b"ZADD" => (c.len() - 2) / 2,
                        b"MSET" => (c.len() - 1) / 2,
                        b"XADD" => 1,
                        _ => c.len() - 2,
                    }
                })
                .sum();
            // 1M elements each (100k hashes x 10 fields too).
            assert_eq!(elems, 1_000_000, "{}", ds.name);
            assert_eq!(ds.elements, 1_000_000, "{}", ds.name);
        }
        assert_eq!(big_hash(3)[2], b"field:300");
        assert_eq!(big_zset(0)[2..4], [b"0".to_vec(), b"member:0".to_vec()]);
        assert_eq!(small_hash(7)[1], b"hash:7");
        assert_eq!(data_sets(10)[0].expect, 100_000);
        assert_eq!(data_sets(10)[0].name, "hash, 100k fields");
        assert_eq!(data_sets(1)[4].name, "100k hashes x 10 fields");
        assert_eq!(data_sets(1)[5].name, "stream, 1M entries");
        assert_eq!(data_sets(1)[6].name, "strings, 1M keys");
        assert_eq!(
            strings(2)[1..3],
            [b"key:200".to_vec(), b"value:200".to_vec()]
        );
        assert_eq!(stream_entry(7)[4], b"value:7");
        assert_eq!(count(12345), "12345");
    }

    #[test]
    fn table_shows_ratios_and_marks_failed_loads() {
        let rs = Usage {
            rss: Some(100 << 20),
            used_memory: Some(80 << 20),
            problem: None,
        };
        let ox = Usage {
            rss: Some(50 << 20),
            used_memory: None,
            problem: Some("HLEN replied Error".into()),
        };
        let t = table(&[("hash".into(), rs, ox)]);
        assert!(
            t.contains("| hash | 100.0 MB | 50.0 MB (!) | 0.50x | 80.0 MB | n/a | n/a |"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 3);
    }

    #[test]
    fn per_element_figures_leave_out_the_empty_server() {
        let u = |rss: u64, used: u64| Usage {
            rss: Some(rss),
            used_memory: Some(used),
            problem: None,
        };
        let empty = (u(1000, 500), u(2000, 100));
        let t = per_element_table(&[("s".into(), 10, u(2000, 1500), u(2500, 600))], &empty);
        assert!(
            t.contains("| s | 100.0 | 50.0 | 0.50x | 100.0 | 50.0 |"),
            "{t}"
        );
        assert_eq!(per_element(None, Some(1), 1), "n/a");
    }
}
