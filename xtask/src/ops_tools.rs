//! The tools operators watch a server with, run against oxidis-server and, as the control,
//! Debian's redis-server (part of the real clients suite):
//!
//! - Debian's `prometheus-redis-exporter` scrapes each server; the metric names it exports for
//!   Oxidis must be the ones it exports for Redis (commandstats, errorstats, keyspace, memory,
//!   clients ... series), and the families operators graph must be there on both.
//! - `redis-cli --stat`, `--bigkeys`, `--memkeys` and `--latency`: the same layout on both
//!   (numbers differ: each server's own), `--bigkeys`'s summary equal on the same data.
//! - `redis-cli MONITOR`: the lines a fixed sequence of commands produces, equal once the
//!   timestamp and the client's port are masked (`[0 lua]`, redacted AUTH, MULTI/EXEC order).
//! - INFO's `instantaneous_ops_per_sec`, `_input_kbps` and `_output_kbps` become non-zero
//!   while `redis-benchmark` loads the server and fall back to 0 once it stops (polled until
//!   a deadline: no timing threshold).

use crate::suite::Suite;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXPORTER: &str = "prometheus-redis-exporter";

/// Metric families an exporter scrape must have on both servers.
const FAMILIES: &[&str] = &[
    "redis_commands_total",
    "redis_commands_duration_seconds_total",
    "redis_commands_rejected_calls_total",
    "redis_commands_failed_calls_total",
    "redis_errors_total",
    "redis_db_keys",
    "redis_memory_used_bytes",
    "redis_connected_clients",
    "redis_latency_percentiles_usec",
];

pub fn run(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    for addr in [oxidis, redis] {
        populate(addr)?;
    }
    exporter(r, oxidis, redis)?;
    stat(r, oxidis, redis)?;
    bigkeys(r, oxidis, redis)?;
    latency(r, oxidis, redis)?;
    monitor(r, oxidis, redis)?;
    instantaneous(r, oxidis, redis)?;
    Ok(())
}

fn check(r: &mut Suite, ok: bool, what: impl FnOnce() -> String) {
    if ok {
        r.passed += 1;
    } else {
        r.fail(what());
    }
}

fn host_port(addr: &str) -> Result<(&str, &str), String> {
    addr.rsplit_once(':')
        .ok_or_else(|| format!("address {addr:?} is not HOST:PORT"))
}

fn cli(addr: &str, args: &[&str]) -> Result<String, String> {
    let (h, p) = host_port(addr)?;
    let out = Command::new("redis-cli")
        .args(["-h", h, "-p", p])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The same small dataset on both servers: a key of each type, some errors and some calls.
fn populate(addr: &str) -> Result<(), String> {
    cli(addr, &["FLUSHALL"])?;
    cli(addr, &["SET", "str", "hello world"])?;
    cli(addr, &["RPUSH", "list", "a", "b", "c"])?;
    cli(addr, &["HSET", "hash", "f1", "v1", "f2", "v2"])?;
    cli(addr, &["SADD", "set", "x", "y"])?;
    cli(
        addr,
        &["ZADD", "zset", "1", "a", "2", "b", "3", "c", "4", "d"],
    )?;
    cli(addr, &["XADD", "stream", "1-1", "f", "v"])?;
    cli(addr, &["GET", "str"])?;
    cli(addr, &["LPUSH", "str", "x"])?; // WRONGTYPE: an errorstat and a failed call
    cli(addr, &["CONFIG", "SET", "latency-tracking", "yes"])?;
    Ok(())
}

/// A free loopback port (bound, then released for the child to take).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

fn http_get(port: u16, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    Ok(body)
}

/// Kills a child this suite started (by its own PID) and reaps it.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The metric names of one scrape of `addr` (and the scrape's text).
fn scrape(addr: &str) -> Result<(std::collections::BTreeSet<String>, String), String> {
    let port = free_port()?;
    let child = Command::new(EXPORTER)
        .arg(format!("--redis.addr=redis://{addr}"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{EXPORTER}: {e} (apt-get install prometheus-redis-exporter)"))?;
    let _guard = Reaped(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        match http_get(port, "/metrics") {
            Ok(t) if t.contains("redis_up") => break t,
            _ if Instant::now() > deadline => {
                return Err(format!("{EXPORTER} on {addr}: no /metrics within 15 s"))
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let names = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("HTTP/"))
        .filter(|l| l.starts_with("redis_"))
        .map(|l| l.split(['{', ' ']).next().unwrap_or("").to_string())
        .collect();
    Ok((names, text))
}

fn exporter(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let (ox, ox_text) = scrape(oxidis)?;
    let (rs, _) = scrape(redis)?;
    for fam in FAMILIES {
        check(r, rs.contains(*fam), || {
            format!("{EXPORTER} control: redis-server's scrape has no {fam} (the list is wrong)")
        });
        check(r, ox.contains(*fam), || {
            format!("{EXPORTER}: oxidis's scrape has no {fam}")
        });
    }
    let missing: Vec<&String> = rs.difference(&ox).collect();
    let extra: Vec<&String> = ox.difference(&rs).collect();
    check(r, missing.is_empty() && extra.is_empty(), || {
        format!(
            "{EXPORTER}: metric names differ\n  only redis: {missing:?}\n  only oxidis: {extra:?}"
        )
    });
    // The numbers behind the series are Oxidis's own: the dataset's keys and the calls made.
    for (what, needle) in [
        ("keyspace", "redis_db_keys{db=\"db0\"} 6"),
        ("commandstats", "redis_commands_total{cmd=\"rpush\"} 1"),
        (
            "failed calls",
            "redis_commands_failed_calls_total{cmd=\"lpush\"} 1",
        ),
        ("errorstats", "redis_errors_total{err=\"WRONGTYPE\"} 1"),
    ] {
        check(r, ox_text.contains(needle), || {
            format!("{EXPORTER}: oxidis's {what} series lack {needle:?}")
        });
    }
    r.info.push(format!(
        "{EXPORTER}: {} metric names on oxidis, {} on redis-server",
        ox.len(),
        rs.len()
    ));
    Ok(())
}

/// Runs a redis-cli mode that never ends by itself for `secs`, unbuffered, and returns its
/// output (stdbuf: redis-cli's printf output is block-buffered into a pipe).
fn timed_cli(addr: &str, args: &[&str], secs: f64) -> Result<String, String> {
    let (h, p) = host_port(addr)?;
    let mut child = Command::new("stdbuf")
        .args(["-o0", "redis-cli", "-h", h, "-p", p])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("stdbuf redis-cli: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    std::thread::sleep(Duration::from_secs_f64(secs));
    drop(Reaped(child));
    let bytes = reader.join().unwrap_or_default();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// INFO stats's instantaneous_* figures as numbers: (ops/s, input kbps, output kbps).
fn instantaneous_rates(addr: &str) -> Result<(f64, f64, f64), String> {
    let info = cli(addr, &["INFO", "stats"])?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("INFO stats on {addr} has no {name}: {info:?}"))
    };
    Ok((
        field("instantaneous_ops_per_sec")?,
        field("instantaneous_input_kbps")?,
        field("instantaneous_output_kbps")?,
    ))
}

/// Polls `addr`'s rates every 250 ms until `want` holds or 20 s pass; the last reading.
fn poll_rates(
    addr: &str,
    want: impl Fn((f64, f64, f64)) -> bool,
) -> Result<(bool, (f64, f64, f64)), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rates = instantaneous_rates(addr)?;
        if want(rates) || Instant::now() > deadline {
            return Ok((want(rates), rates));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn instantaneous(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    for (name, addr) in [("oxidis", oxidis), ("redis", redis)] {
        let (h, p) = host_port(addr)?;
        let bench = Command::new("redis-benchmark")
            .args([
                "-h",
                h,
                "-p",
                p,
                "-c",
                "4",
                "-n",
                "100000000",
                "-t",
                "ping,set",
            ])
            .args(["-q", "-l"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-benchmark: {e}"))?;
        let bench = Reaped(bench);
        let (ok, rates) = poll_rates(addr, |(ops, i, o)| ops > 0.0 && i > 0.0 && o > 0.0)?;
        check(r, ok, || {
            format!("{name}: instantaneous ops/input/output under redis-benchmark: {rates:?}")
        });
        drop(bench);
        // Back down to what the polling INFO itself costs (4 a second, a few kB out).
        let (ok, rates) = poll_rates(addr, |(ops, i, o)| ops < 50.0 && i < 10.0 && o < 100.0)?;
        check(r, ok, || {
            format!("{name}: instantaneous rates once redis-benchmark stopped: {rates:?}")
        });
    }
    Ok(())
}

fn stat(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let mut outs = Vec::new();
    for addr in [oxidis, redis] {
        outs.push(timed_cli(addr, &["--stat", "-i", "0.2"], 1.0)?);
    }
    let header = |s: &str| s.lines().take(2).collect::<Vec<_>>().join("\n");
    // A data row: keys, mem (e.g. 1.24M), clients, blocked, requests (+n), connections.
    let rows = |s: &str| {
        s.lines()
            .skip(2)
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() == 7 && w[0] == "6" && w[4].parse::<u64>().is_ok()
            })
            .count()
    };
    check(
        r,
        header(&outs[0]) == header(&outs[1]) && !header(&outs[0]).is_empty(),
        || {
            format!(
                "redis-cli --stat header differs\n  oxidis: {:?}\n  redis: {:?}",
                outs[0], outs[1]
            )
        },
    );
    for (name, out) in [("oxidis", &outs[0]), ("redis", &outs[1])] {
        check(r, rows(out) >= 2, || {
            format!("redis-cli --stat on {name}: no rows with 6 keys: {out:?}")
        });
    }
    Ok(())
}

/// The part of --bigkeys / --memkeys output after the scan (the scan's progress lines follow
/// each server's SCAN order).
fn summary(s: &str) -> String {
    s.split_once("-------- summary -------")
        .map(|(_, t)| t.to_string())
        .unwrap_or_default()
}

/// Digits replaced by '#': --memkeys's byte counts are each server's own.
fn mask_digits(s: &str) -> String {
    let mut out = String::new();
    let mut prev_digit = false;
    for c in s.chars() {
        if c.is_ascii_digit() || (prev_digit && c == '.') {
            if !prev_digit {
                out.push('#');
            }
            prev_digit = true;
        } else {
            prev_digit = false;
            out.push(c);
        }
    }
    out
}

fn bigkeys(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let b: Vec<String> = [oxidis, redis]
        .iter()
        .map(|a| cli(a, &["--bigkeys"]).map(|o| summary(&o)))
        .collect::<Result<_, _>>()?;
    check(r, !b[1].is_empty() && b[0] == b[1], || {
        format!(
            "redis-cli --bigkeys summary differs\n  oxidis: {:?}\n  redis: {:?}",
            b[0], b[1]
        )
    });
    let m: Vec<String> = [oxidis, redis]
        .iter()
        .map(|a| cli(a, &["--memkeys"]).map(|o| mask_digits(&summary(&o))))
        .collect::<Result<_, _>>()?;
    check(r, !m[1].is_empty() && m[0] == m[1], || {
        format!(
            "redis-cli --memkeys summary differs (digits masked)\n  oxidis: {:?}\n  redis: {:?}",
            m[0], m[1]
        )
    });
    Ok(())
}

fn latency(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    for (name, addr) in [("oxidis", oxidis), ("redis", redis)] {
        // Not a tty: redis-cli prints "min max avg samples" once after the interval.
        let out = cli(addr, &["--latency", "-i", "0.3"])?;
        let w: Vec<&str> = out.split_whitespace().collect();
        let ok = w.len() == 4
            && w[0].parse::<u64>().is_ok()
            && w[2].parse::<f64>().is_ok()
            && w[3].parse::<u64>().is_ok_and(|n| n > 0);
        check(r, ok, || format!("redis-cli --latency on {name}: {out:?}"));
    }
    Ok(())
}

/// MONITOR lines with the time and the client's address masked: "+T [0 ADDR] ..." / "[0 lua]".
fn mask_monitor(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| *l != "OK")
        .map(|l| {
            let Some((_, rest)) = l.split_once(' ') else {
                return l.to_string();
            };
            match rest.split_once("] ") {
                Some((who, args)) if who.ends_with(" lua") => format!("{who}] {args}"),
                Some((who, args)) => {
                    let db = who.trim_start_matches('[').split(' ').next().unwrap_or("");
                    format!("[{db} ADDR] {args}")
                }
                None => rest.to_string(),
            }
        })
        .collect()
}

fn monitor(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let mut outs = Vec::new();
    for addr in [oxidis, redis] {
        let (h, p) = host_port(addr)?;
        let mut child = Command::new("stdbuf")
            .args(["-o0", "redis-cli", "-h", h, "-p", p, "MONITOR"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-cli MONITOR: {e}"))?;
        let mut out = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            out.read_to_end(&mut v).ok();
            v
        });
        // Wait until the monitor is registered (CLIENT LIST shows its O flag).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cli(addr, &["CLIENT", "LIST"])?.contains("flags=O") {
            if Instant::now() > deadline {
                return Err(format!("redis-cli MONITOR on {addr}: never registered"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        cli(addr, &["SET", "k", "a \"quoted\"\nvalue"])?;
        cli(addr, &["GET", "k"])?;
        cli(addr, &["AUTH", "user", "secret"])?;
        cli(
            addr,
            &["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"],
        )?;
        cli(addr, &["-n", "3", "HSET", "h", "f", "1"])?;
        cli(addr, &["CONFIG", "GET", "port"])?; // admin: not shown
        let (h2, p2) = host_port(addr)?;
        let mut multi = Command::new("redis-cli")
            .args(["-h", h2, "-p", p2])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-cli: {e}"))?;
        multi
            .stdin
            .take()
            .expect("piped")
            .write_all(b"MULTI\nINCR n\nGET n\nEXEC\n")
            .map_err(|e| e.to_string())?;
        multi.wait().ok();
        cli(addr, &["PING"])?;
        // The last command's line has arrived once a later PING's has: wait for it.
        std::thread::sleep(Duration::from_millis(300));
        drop(Reaped(child));
        let bytes = reader.join().unwrap_or_default();
        outs.push(mask_monitor(&String::from_utf8_lossy(&bytes)));
    }
    let expect_some = [
        "[0 ADDR] \"AUTH\" \"(redacted)\" \"(redacted)\"",
        "[0 lua] \"incr\" \"n\"",
        "[3 ADDR] \"HSET\" \"h\" \"f\" \"1\"",
        "[0 ADDR] \"EXEC\"",
    ];
    for line in expect_some {
        check(r, outs[1].iter().any(|l| l == line), || {
            format!(
                "redis-cli MONITOR control: redis-server never showed {line:?}: {:?}",
                outs[1]
            )
        });
    }
    check(r, outs[0] == outs[1], || {
        format!(
            "redis-cli MONITOR lines differ (time and port masked)\n  oxidis: {:?}\n  redis: {:?}",
            outs[0], outs[1]
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_are_masked_but_lua_and_db_kept() {
        let out = "OK\n1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\n\
                   1339518083.107500 [0 lua] \"get\" \"k\"\n\
                   1339518083.107600 [3 127.0.0.1:1] \"ping\"\n";
        assert_eq!(
            mask_monitor(out),
            vec![
                "[0 ADDR] \"keys\" \"*\"",
                "[0 lua] \"get\" \"k\"",
                "[3 ADDR] \"ping\""
            ]
        );
    }

    #[test]
    fn memkeys_numbers_are_masked() {
        assert_eq!(
            mask_digits("Biggest list found '\"l\"' has 12.5 bytes, 3 keys"),
            "Biggest list found '\"l\"' has # bytes, # keys"
        );
    }
}
