//! Real clients against oxidis-server: redis-cli one-shot commands (tty and raw formatting),
//! `redis-cli --pipe` mass insertion, redis-benchmark, redis-cli reading INFO / CONFIG GET, and
//! the operators' tools (ops_tools.rs: redis_exporter, redis-cli --stat/--bigkeys/--memkeys/
//! --latency, MONITOR).
//! Every check also runs against Debian's redis-server as a control: redis-cli's output for
//! Oxidis is compared with its output for Redis, and the absolute checks (pipe summary, DBSIZE,
//! benchmark lines) must pass on Redis too, which proves the checks themselves are right.
//!
//! `cargo xtask clients --oxidis ADDR [--redis ADDR]` (without --redis a temporary
//! redis-server is started on a free port).

use crate::suite::Suite;
use oxidis_testkit::Conn;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

/// Commands run one-shot with redis-cli, in order, on a flushed server. Chosen to cover each
/// reply type in both renderings: status, integer, bulk, empty bulk, nil, arrays with nil
/// elements, errors (command, arity, unknown command), binary/UTF-8/quotes needing escapes.
const ONESHOT: &[&[&str]] = &[
    &["PING"],
    &["PING", "hello world"],
    &["ECHO", "h\u{e9}llo\nworld"],
    &["SET", "k", "v"],
    &["GET", "k"],
    &["GET", "missing"],
    &["SET", "n", "10"],
    &["INCR", "n"],
    &["INCRBY", "n", "5"],
    &["DECR", "n"],
    &["INCR", "k"],
    &["INCRBYFLOAT", "n", "1.5"],
    &["APPEND", "k", "xyz"],
    &["STRLEN", "k"],
    &["MSET", "a", "1", "b", "2", "c", "3"],
    &["MGET", "a", "b", "missing", "c"],
    &["EXISTS", "a", "b", "missing"],
    &["DEL", "a", "missing"],
    &["KEYS", "b*"],
    &["KEYS", "nomatch*"],
    &["TYPE", "k"],
    &["TYPE", "missing"],
    &["EXPIREAT", "k", "4000000000"],
    &["EXPIRETIME", "k"],
    &["TTL", "missing"],
    &["PERSIST", "k"],
    &["TTL", "k"],
    &["GETRANGE", "k", "0", "1"],
    &["SETRANGE", "k", "1", "Z"],
    &["GET", "k"],
    &["SET", "k", "w", "NX"],
    &["SET", "k", "w", "XX", "GET"],
    &["GETDEL", "k"],
    &["FOO", "bar"],
    &["GET"],
    &["SET", "k", "v", "EX", "0"],
    &["SET", "bin", "a\nb \"q\" \\ \t"],
    &["GET", "bin"],
    &["SET", "e", ""],
    &["GET", "e"],
    &["MGET"],
    &["SET", "neg", "-1"],
    &["GET", "neg"],
    &["GETSET", "n", "7"],
    &["SETNX", "n", "8"],
    &["SETNX", "fresh", "8"],
    &["SETEX", "tmp", "100", "v"],
    &["PSETEX", "tmp2", "100000", "v"],
    &["SETEX", "tmp", "0", "v"],
    &["TTL", "tmp"],
    &["GETEX", "tmp", "PERSIST"],
    &["TTL", "tmp"],
    &["MSETNX", "x1", "1", "x2", "2"],
    &["MSETNX", "x1", "1", "x3", "3"],
    &["DECRBY", "n", "3"],
    &["SUBSTR", "bin", "0", "2"],
    &["SET", "l1", "ohmytext"],
    &["SET", "l2", "mynewtext"],
    &["LCS", "l1", "l2"],
    &["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    &["UNLINK", "x1", "x2", "nosuch"],
    &["RENAME", "x3", "x4"],
    &["RENAMENX", "x4", "n"],
    &["RENAME", "nosuch", "x"],
    &["COPY", "x4", "x5"],
    &["COPY", "x4", "x5"],
    &["MOVE", "x5", "1"],
    &["MOVE", "x5", "99"],
    &["TOUCH", "x4", "nosuch"],
    &["EXPIRE", "x4", "1000", "NX"],
    &["PEXPIRE", "x4", "5000000", "GT"],
    &["EXPIRE", "x4", "10", "NX", "XX"],
    &["PEXPIREAT", "x4", "4000000000000"],
    &["PEXPIRETIME", "x4"],
    &["PTTL", "fresh"],
    &["PTTL", "nosuch"],
    &["SCAN", "0", "MATCH", "x4", "COUNT", "1000"],
    &["SCAN", "abc"],
    &["SELECT", "1"],
    &["SELECT", "16"],
    &["CLIENT", "GETNAME"],
    &["CLIENT", "SETNAME", "has space"],
    &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
    &["CONFIG", "GET", "maxmemory-policy"],
    &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    &["CONFIG", "SET", "hz", "abc"],
    &["COMMAND", "INFO", "get", "nosuch"],
    &["COMMAND", "DOCS", "get"],
    &["HELLO", "4"],
    &["TYPE", "x4"],
    &["FLUSHDB"],
    &["SET", "only", "1"],
    &["RANDOMKEY"],
    &["DBSIZE"],
];

/// Commands run in one redis-cli session, read from its standard input (as a person's typed
/// commands would be): connection state such as SELECT and CLIENT SETNAME carries over.
const SCRIPT: &[&[&str]] = &[
    &["SET", "a", "b c"],
    &["SELECT", "1"],
    &["GET", "a"],
    &["SET", "a", "in db 1"],
    &["SELECT", "0"],
    &["GET", "a"],
    &["MOVE", "a", "1"],
    &["CLIENT", "SETNAME", "script"],
    &["CLIENT", "GETNAME"],
    &["SET", "q", "quote\"d\nline"],
    &["GET", "q"],
    &["INCRBYFLOAT", "f", "10.5"],
    &["INCRBYFLOAT", "f", "0.1"],
    &["FOO", "bar"],
    &["PING"],
];

/// The redis-cli renderings compared: tty-style (`(integer) 1`, `(nil)`, `(error) ERR ...`,
/// quoted strings) and raw (the default when stdout is not a terminal).
const MODES: &[(&str, Option<&str>)] = &[("tty", Some("--no-raw")), ("raw", None)];

const PIPE_KEYS: usize = 100_000;

/// The tests redis-benchmark runs for `-t ping,set,get,incr,mset`.
const BENCH_TESTS: &[&str] = &[
    "PING_INLINE",
    "PING_MBULK",
    "SET",
    "GET",
    "INCR",
    "MSET (10 keys)",
];

/// `cargo xtask clients --oxidis ADDR [--redis ADDR]`
pub fn cli(args: &[String]) -> ExitCode {
    let usage = "usage: cargo xtask clients --oxidis ADDR [--redis ADDR]";
    let (mut oxidis, mut redis) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--oxidis" => oxidis = it.next().cloned(),
            "--redis" => redis = it.next().cloned(),
            _ => {
                eprintln!("{usage}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(oxidis) = oxidis else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let mut temp = None;
    let redis = match redis {
        Some(r) => r,
        None => match crate::servers::start_redis() {
            Ok(t) => {
                let addr = t.addr();
                temp = Some(t);
                addr
            }
            Err(e) => {
                eprintln!("clients: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let started = Instant::now();
    let result = run(&oxidis, &redis);
    drop(temp);
    crate::difftest::finish_cli("clients", "", started, result)
}

/// Runs every client check on both servers. `Err` only when a client program cannot be run.
pub fn run(oxidis: &str, redis: &str) -> Result<Suite, String> {
    let mut r = Suite::new("clients");
    for addr in [oxidis, redis] {
        Conn::connect(addr)?;
    }
    oneshot(&mut r, oxidis, redis)?;
    script(&mut r, oxidis, redis)?;
    config_info(&mut r, oxidis, redis)?;
    pipe(&mut r, oxidis, redis)?;
    benchmark(&mut r, oxidis, redis)?;
    // Last: it flushes both servers and loads its own dataset.
    crate::ops_tools::run(&mut r, oxidis, redis)?;
    Ok(r)
}

fn check(r: &mut Suite, ok: bool, what: impl FnOnce() -> String) {
    if ok {
        r.passed += 1;
    } else {
        r.fail(what());
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

fn oneshot(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let mut outs: Vec<Vec<String>> = Vec::new();
    for addr in [oxidis, redis] {
        let flush = redis_cli(addr, &[], &["FLUSHALL"])?;
        let mut v = Vec::new();
        if flush.trim() != "OK" {
            // Without FLUSHALL the comparison below would be meaningless for this server.
            v.push(format!("FLUSHALL replied {flush:?}"));
        }
        for cmd in ONESHOT {
            for (_, flag) in MODES {
                let flags: Vec<&str> = flag.iter().copied().collect();
                v.push(redis_cli(addr, &flags, cmd)?);
            }
        }
        outs.push(v);
    }
    let (ox, rs) = (&outs[0], &outs[1]);
    if ox.len() != rs.len() {
        check(r, false, || {
            format!("redis-cli one-shot on oxidis: {}", ox[0])
        });
        return Ok(());
    }
    // The control must show every rendering the list is meant to cover, or the list (or
    // redis-cli) changed under us and the comparison proves less than it claims.
    let tty: String = rs.iter().step_by(2).cloned().collect();
    for needle in [
        "(error) ERR",
        "(nil)",
        "(integer) ",
        "1) ",
        "(empty array)",
        "\"\"",
        "\\n",
    ] {
        if !tty.contains(needle) {
            return Err(format!(
                "redis-cli control output never shows {needle:?}: the harness is wrong"
            ));
        }
    }
    let mut i = 0;
    for cmd in ONESHOT {
        for (mode, _) in MODES {
            let (a, b) = (&ox[i], &rs[i]);
            check(r, a == b, || {
                format!(
                    "redis-cli ({mode}) {}: output differs\n  oxidis: {a:?}\n  redis:  {b:?}",
                    cmd.join(" ")
                )
            });
            i += 1;
        }
    }
    Ok(())
}

/// One argument as a redis-cli input line writes it: double-quoted with escapes
/// (Redis's sdscatrepr, which sdssplitargs reads back).
fn quote_arg(a: &str) -> String {
    let mut q = String::new();
    oxidis_core::resp::render::repr(a.as_bytes(), &mut q);
    q
}

fn script(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let text: String = SCRIPT
        .iter()
        .map(|cmd| {
            cmd.iter()
                .map(|a| quote_arg(a))
                .collect::<Vec<_>>()
                .join(" ")
                + "\n"
        })
        .collect();
    let path = std::env::temp_dir().join(format!("oxidis-cli-script-{}.txt", std::process::id()));
    std::fs::write(&path, text).map_err(|e| format!("{path:?}: {e}"))?;
    for (mode, flag) in MODES {
        let mut outs = Vec::new();
        for addr in [oxidis, redis] {
            redis_cli(addr, &[], &["FLUSHALL"])?;
            let flags: Vec<&str> = flag.iter().copied().collect();
            let out = run_cmd(
                cli_command(addr, &flags, &[]).stdin(open(&path)?),
                Duration::from_secs(30),
            )?;
            outs.push(output_text(&out));
        }
        let (a, b) = (&outs[0], &outs[1]);
        // The control must have run the whole script in one session.
        if !b.contains("10.6") || !b.contains("script") {
            return Err(format!(
                "redis-cli script control output is unexpected: {b:?}"
            ));
        }
        check(r, a == b, || {
            format!("redis-cli ({mode}) script on stdin: output differs\n  oxidis: {a:?}\n  redis:  {b:?}")
        });
    }
    std::fs::remove_file(&path).ok();
    Ok(())
}

fn config_info(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    for (name, addr) in [("oxidis", oxidis), ("redis (control)", redis)] {
        for section in [None, Some("server"), Some("keyspace"), Some("all")] {
            let mut cmd = vec!["INFO"];
            cmd.extend(section);
            let out = redis_cli(addr, &[], &cmd)?;
            let ok = !out.starts_with("ERR")
                && !out.contains("(error)")
                && match section {
                    None | Some("server") | Some("all") => {
                        out.contains("# Server") && out.contains("redis_version:")
                    }
                    _ => out.contains("# Keyspace"),
                };
            check(r, ok, || {
                format!("{name}: redis-cli {}: {}", cmd.join(" "), cut(&out, 300))
            });
        }
        let all = redis_cli(addr, &[], &["CONFIG", "GET", "*"])?;
        let lines = all.lines().count();
        check(
            r,
            lines >= 2 && lines % 2 == 0 && !all.starts_with("ERR") && !all.contains("(error)"),
            || format!("{name}: redis-cli CONFIG GET *: {}", cut(&all, 300)),
        );
    }
    // Values with stable defaults must read the same as on Redis, in both renderings.
    for param in ["maxmemory", "save", "appendonly", "databases"] {
        for (mode, flag) in MODES {
            let flags: Vec<&str> = flag.iter().copied().collect();
            let a = redis_cli(oxidis, &flags, &["CONFIG", "GET", param])?;
            let b = redis_cli(redis, &flags, &["CONFIG", "GET", param])?;
            check(r, a == b, || {
                format!(
                    "redis-cli ({mode}) CONFIG GET {param}: output differs\n  oxidis: {a:?}\n  \
                     redis:  {b:?}"
                )
            });
        }
    }
    // A glob matches several parameters in the server's dict order: compare as sorted pairs.
    let a = redis_cli(oxidis, &[], &["CONFIG", "GET", "maxmemory-*"])?;
    let b = redis_cli(redis, &[], &["CONFIG", "GET", "maxmemory-*"])?;
    check(r, config_pairs(&a) == config_pairs(&b), || {
        format!("redis-cli CONFIG GET maxmemory-*: differs\n  oxidis: {a:?}\n  redis:  {b:?}")
    });
    Ok(())
}

/// CONFIG GET's raw output as sorted (name, value) pairs.
fn config_pairs(out: &str) -> Vec<(&str, &str)> {
    let lines: Vec<&str> = out.lines().collect();
    let mut pairs: Vec<(&str, &str)> = lines
        .chunks(2)
        .map(|c| (c[0], c.get(1).copied().unwrap_or("<missing>")))
        .collect();
    pairs.sort();
    pairs
}

/// The RESP stream of `n` SETs, as a mass-insertion file is written.
fn pipe_payload(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 48);
    for i in 0..n {
        let (k, v) = (format!("key:{i}"), format!("value:{i}"));
        oxidis_core::resp::append_request(&mut out, &["SET", &k, &v]);
    }
    out
}

/// The figures of redis-cli --pipe's last line, "errors: E, replies: R".
fn pipe_summary(out: &str) -> Option<(u64, u64)> {
    let line = out.lines().rev().find(|l| l.starts_with("errors: "))?;
    let (e, r) = line.strip_prefix("errors: ")?.split_once(", replies: ")?;
    Some((e.trim().parse().ok()?, r.trim().parse().ok()?))
}

fn pipe(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let path =
        std::env::temp_dir().join(format!("oxidis-clients-pipe-{}.resp", std::process::id()));
    std::fs::write(&path, pipe_payload(PIPE_KEYS)).map_err(|e| format!("{path:?}: {e}"))?;
    let result = (|| {
        for (name, addr) in [("oxidis", oxidis), ("redis (control)", redis)] {
            let flush = redis_cli(addr, &[], &["FLUSHALL"])?;
            let out = run_cmd(
                cli_command(addr, &["--pipe"], &[]).stdin(open(&path)?),
                Duration::from_secs(120),
            )?;
            let text = output_text(&out);
            let summary = pipe_summary(&text);
            check(
                r,
                out.status.success() && summary == Some((0, PIPE_KEYS as u64)),
                || {
                    format!(
                        "{name}: redis-cli --pipe of {PIPE_KEYS} SETs (after FLUSHALL: \
                         {:?}): exit {:?}, output: {}",
                        flush.trim(),
                        out.status.code(),
                        cut(&text, 500)
                    )
                },
            );
            let dbsize = redis_cli(addr, &[], &["DBSIZE"])?;
            check(r, dbsize.trim() == PIPE_KEYS.to_string(), || {
                format!("{name}: DBSIZE after --pipe: {}", cut(&dbsize, 200))
            });
            let last = format!("key:{}", PIPE_KEYS - 1);
            let v = redis_cli(addr, &[], &["GET", &last])?;
            check(
                r,
                v.trim_end() == format!("value:{}", PIPE_KEYS - 1),
                || format!("{name}: GET {last} after --pipe: {}", cut(&v, 200)),
            );
        }
        Ok(())
    })();
    std::fs::remove_file(&path).ok();
    result
}

/// (test name, requests per second) from redis-benchmark -q output, whose progress lines are
/// overwritten with '\r'.
fn bench_figures(out: &str) -> Vec<(String, f64)> {
    out.split(['\r', '\n'])
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(": ")?;
            let (rps, _) = rest.split_once(" requests per second")?;
            Some((name.to_string(), rps.trim().parse().ok()?))
        })
        .collect()
}

fn benchmark(r: &mut Suite, oxidis: &str, redis: &str) -> Result<(), String> {
    let mut figures = Vec::new();
    for (name, addr) in [("oxidis", oxidis), ("redis (control)", redis)] {
        redis_cli(addr, &[], &["FLUSHALL"])?;
        let (host, port) = split_addr(addr)?;
        let out = run_cmd(
            Command::new("redis-benchmark").args([
                "-h",
                host,
                "-p",
                port,
                "-t",
                "ping,set,get,incr,mset",
                "-n",
                "100000",
                "-P",
                "16",
                "-q",
            ]),
            Duration::from_secs(300),
        )?;
        let text = output_text(&out);
        let got = bench_figures(&text);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        let trouble = text.contains("Error") || text.contains("WARNING");
        check(
            r,
            out.status.success() && names == BENCH_TESTS && !trouble,
            || {
                let tail: String = text
                    .split(['\r', '\n'])
                    .filter(|l| !l.contains("rps="))
                    .collect::<Vec<_>>()
                    .join("\n");
                format!(
                    "{name}: redis-benchmark -t ping,set,get,incr,mset -n 100000 -P 16 -q: exit \
                     {:?}, tests {names:?}, output: {}",
                    out.status.code(),
                    cut(tail.trim(), 600)
                )
            },
        );
        figures.push(got);
    }
    let mut table = vec![format!(
        "redis-benchmark -P 16 -n 100000 (requests/s)\n  {:<16}{:>14}{:>14}",
        "test", "oxidis", "redis"
    )];
    for t in BENCH_TESTS {
        let fig = |i: usize| {
            figures[i]
                .iter()
                .find(|(n, _)| n == t)
                .map_or("-".to_string(), |(_, v)| format!("{v:.0}"))
        };
        table.push(format!("  {t:<16}{:>14}{:>14}", fig(0), fig(1)));
    }
    r.info.push(table.join("\n"));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Processes

fn split_addr(addr: &str) -> Result<(&str, &str), String> {
    addr.rsplit_once(':')
        .ok_or_else(|| format!("address {addr:?} is not HOST:PORT"))
}

fn cli_command(addr: &str, flags: &[&str], args: &[&str]) -> Command {
    let (host, port) = split_addr(addr).unwrap_or((addr, "6379"));
    let mut c = Command::new("redis-cli");
    c.args(["-h", host, "-p", port]).args(flags);
    c.args(args.iter().map(|a| OsStr::from_bytes(a.as_bytes())));
    c
}

/// redis-cli's stdout then stderr, with its exit status appended when it is not 0.
fn redis_cli(addr: &str, flags: &[&str], args: &[&str]) -> Result<String, String> {
    split_addr(addr)?;
    let out = run_cmd(
        cli_command(addr, flags, args).stdin(Stdio::null()),
        Duration::from_secs(30),
    )?;
    Ok(output_text(&out))
}

fn output_text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.stderr.is_empty() {
        s.push_str("[stderr] ");
        s.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    if !out.status.success() {
        s.push_str(&format!("[exit {:?}]", out.status.code()));
    }
    s
}

fn open(p: &Path) -> Result<std::fs::File, String> {
    std::fs::File::open(p).map_err(|e| format!("{p:?}: {e}"))
}

/// Runs a command to completion, killing it (by its own PID) after `limit`.
fn run_cmd(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{desc}: {e}"))?;
    let mut so = child.stdout.take().expect("piped");
    let mut se = child.stderr.take().expect("piped");
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        so.read_to_end(&mut v).ok();
        v
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        se.read_to_end(&mut v).ok();
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                child.kill().ok();
                child.wait().ok();
                return Err(format!("{desc}: no exit after {limit:?}, killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("{desc}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: to.join().unwrap_or_default(),
        stderr: te.join().unwrap_or_default(),
    })
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return format!("{s:?}");
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} bytes)", &s[..end], s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_payload_is_valid_resp() {
        let p = pipe_payload(3);
        assert_eq!(
            &p[..],
            &b"*3\r\n$3\r\nSET\r\n$5\r\nkey:0\r\n$7\r\nvalue:0\r\n\
               *3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$7\r\nvalue:1\r\n\
               *3\r\n$3\r\nSET\r\n$5\r\nkey:2\r\n$7\r\nvalue:2\r\n"[..]
        );
        // Every request decodes, and nothing is left over.
        let p = pipe_payload(12_345);
        let mut dec = oxidis_core::resp::RequestDecoder::new();
        let (mut pos, mut n) = (0, 0);
        while pos < p.len() {
            match dec.decode(&p[pos..]) {
                Ok(oxidis_core::resp::Decoded::Request { consumed }) => {
                    pos += consumed;
                    n += 1;
                }
                other => panic!("{other:?} at {pos}"),
            }
        }
        assert_eq!(n, 12_345);
    }

    #[test]
    fn pipe_summary_is_parsed_from_the_last_line() {
        let ok = "All data transferred. Waiting for the last reply...\n\
                  Last reply received from server.\nerrors: 0, replies: 100000\n";
        assert_eq!(pipe_summary(ok), Some((0, 100_000)));
        let bad = "ERR value is not an integer or out of range\nerrors: 1, replies: 2\n";
        assert_eq!(pipe_summary(bad), Some((1, 2)));
        assert_eq!(pipe_summary("Error reading from the server\n"), None);
        assert_ne!(pipe_summary(bad), Some((0, PIPE_KEYS as u64)));
    }

    #[test]
    fn benchmark_lines_are_found_between_progress_updates() {
        let out = "PING_INLINE: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r    \
                   \rPING_INLINE: 1176470.50 requests per second, p50=0.311 msec\n\
                   \rMSET (10 keys): 645161.31 requests per second, p50=1.175 msec\n\n";
        let f = bench_figures(out);
        assert_eq!(
            f,
            vec![
                ("PING_INLINE".to_string(), 1176470.50),
                ("MSET (10 keys)".to_string(), 645161.31)
            ]
        );
        // A run cut short by a server error lacks tests and is caught by the name check.
        let cut_short = "\rPING_INLINE: 1.0 requests per second\nError from server: ERR x\n";
        let names: Vec<String> = bench_figures(cut_short).into_iter().map(|x| x.0).collect();
        assert_ne!(names, BENCH_TESTS);
    }

    #[test]
    fn config_pairs_ignore_order_but_not_values() {
        let a = "maxmemory-clients\n0\nmaxmemory-samples\n5\n";
        let b = "maxmemory-samples\n5\nmaxmemory-clients\n0\n";
        let c = "maxmemory-samples\n0\nmaxmemory-clients\n5\n";
        assert_eq!(config_pairs(a), config_pairs(b));
        assert_ne!(config_pairs(a), config_pairs(c));
        assert_ne!(config_pairs(a), config_pairs("maxmemory-clients\n0\n"));
    }

    #[test]
    fn a_differing_output_is_a_failure() {
        let mut r = Suite::default();
        check(&mut r, "OK\n" == "OK\n", || "same".into());
        check(&mut r, "(nil)\n" == "\"\"\n", || "differs".into());
        assert_eq!((r.passed, r.failed), (1, 1));
        assert_eq!(r.details, vec!["differs".to_string()]);
    }
}
