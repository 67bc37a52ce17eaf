//! The golden-transcript driver over TCP: replays testdata/golden on any server address
//! (oxidis-server, or Debian's redis-server to prove the transcripts are Redis's behaviour).

use oxidis_core::golden::{self, Driver};
use oxidis_core::resp::decode_reply;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct TcpDriver {
    addr: String,
    conns: Vec<Option<TcpStream>>,
}

impl TcpDriver {
    pub fn new(addr: &str) -> TcpDriver {
        TcpDriver {
            addr: addr.to_string(),
            conns: Vec::new(),
        }
    }

    fn conn(&mut self, n: usize) -> Result<&mut TcpStream, String> {
        while self.conns.len() <= n {
            self.conns.push(None);
        }
        if self.conns[n].is_none() {
            let s = TcpStream::connect(&self.addr)
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            s.set_nodelay(true).ok();
            self.conns[n] = Some(s);
        }
        Ok(self.conns[n].as_mut().expect("just set"))
    }
}

/// Reads until `n` whole replies have arrived (or, for n = 0, a short quiet period passes).
fn read_replies(s: &mut TcpStream, n: usize) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let mut pos = 0;
        let mut whole = 0;
        while let Ok(Some((_, used))) = decode_reply(&buf[pos..]) {
            pos += used;
            whole += 1;
        }
        if n > 0 && whole >= n && pos == buf.len() {
            return Ok(buf);
        }
        let wait = if n == 0 {
            Duration::from_millis(200)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        if wait.is_zero() {
            return Err(format!(
                "timed out waiting for {n} replies, got {:?}",
                String::from_utf8_lossy(&buf)
            ));
        }
        s.set_read_timeout(Some(wait)).ok();
        match s.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if n == 0 {
                    return Ok(buf);
                }
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// Reads whatever arrives: waits up to `first` for the first bytes, then until the bytes
/// decode as whole replies and nothing more comes for `quiet` (recording: the number of
/// replies is not known yet).
fn read_quiet(s: &mut TcpStream, first: Duration, quiet: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let wait = if buf.is_empty() { first } else { quiet };
        s.set_read_timeout(Some(wait)).ok();
        match s.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if golden::split_replies(&buf).is_ok() || Instant::now() > deadline {
                    return Ok(buf);
                }
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

impl TcpDriver {
    /// Sends and reads like a recording must: without knowing how many replies come.
    fn send_recording(&mut self, client: usize, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let s = self.conn(client)?;
        s.write_all(bytes).map_err(|e| format!("write: {e}"))?;
        read_quiet(s, Duration::from_millis(300), Duration::from_millis(50))
    }

    fn read_recording(&mut self, client: usize) -> Result<Vec<u8>, String> {
        let s = self.conn(client)?;
        read_quiet(s, Duration::from_millis(300), Duration::from_millis(50))
    }
}

impl Driver for TcpDriver {
    fn send(&mut self, client: usize, bytes: &[u8], expect: usize) -> Result<Vec<u8>, String> {
        let s = self.conn(client)?;
        s.write_all(bytes).map_err(|e| format!("write: {e}"))?;
        read_replies(s, expect)
    }

    fn advance(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    fn read(&mut self, client: usize, expect: usize) -> Result<Vec<u8>, String> {
        let s = self.conn(client)?;
        read_replies(s, expect)
    }

    fn is_closed(&mut self, client: usize) -> bool {
        let Ok(s) = self.conn(client) else {
            return true;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut b = [0u8; 1];
        matches!(s.read(&mut b), Ok(0))
            || matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

pub fn transcript_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "resp") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

/// Replays every transcript (whose path contains `filter`) on `addr`, each on fresh
/// connections after FLUSHALL. Returns (transcripts run, failure messages).
pub fn run_against(addr: &str, root: &Path, filter: &str) -> (usize, Vec<String>) {
    let results = run_each(addr, root, filter);
    let ran = results.len();
    let failures = results.into_iter().flat_map(|(_, f)| f).collect();
    (ran, failures)
}

/// Like `run_against`, but one entry per transcript: (its name, its failure messages), so
/// callers can count transcripts that passed and failed.
pub fn run_each(addr: &str, root: &Path, filter: &str) -> Vec<(String, Vec<String>)> {
    let mut results = Vec::new();
    for f in transcript_files(root) {
        let name = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        if !name.contains(filter) {
            continue;
        }
        let failures = run_one(addr, &f, &name);
        results.push((name, failures));
    }
    results
}

fn run_one(addr: &str, file: &Path, name: &str) -> Vec<String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let steps = match golden::parse(&text) {
        Ok(s) => s,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut reset = TcpDriver::new(addr);
    if let Err(e) = reset.send(0, b"*1\r\n$8\r\nFLUSHALL\r\n", 1) {
        return vec![format!("{name}: FLUSHALL: {e}")];
    }
    let mut d = TcpDriver::new(addr);
    golden::run(name, &steps, &mut d)
}

/// Writes a transcript's expected replies from a real server: reads `file`, sends every
/// request to `addr` (after FLUSHALL), and returns the text with each request followed by
/// the server's reply lines (replacing any it had). Directives and comments are kept;
/// `@advance` sleeps; `[cN] @read` records what arrived on that client meanwhile. A request
/// whose reply does not come within 300 ms (a BLPOP that blocks) records none. This records
/// Redis's behaviour instead of anybody's guess of it.
pub fn record(addr: &str, text: &str) -> Result<String, String> {
    let mut reset = TcpDriver::new(addr);
    reset.send(0, b"*1\r\n$8\r\nFLUSHALL\r\n", 1)?;
    let mut d = TcpDriver::new(addr);
    let mut out = String::new();
    let mut vars = std::collections::HashMap::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let steps = golden::parse(line).map_err(|e| format!("{line:?}: {e}"))?;
        out.push_str(line);
        out.push('\n');
        let is_reply_line = |l: &&str| {
            // "> " starts a request; ">3" is a RESP3 push's first line.
            !(l.starts_with("> ")
                || l.starts_with('@')
                || l.starts_with('#')
                || l.starts_with('[')
                || l.is_empty())
        };
        match steps.first() {
            Some(golden::Step::Send {
                client,
                bytes,
                template,
                ..
            }) => {
                // Drop the reply lines recorded before, if any: they are rewritten, except
                // `:*` wildcards and `:*name` captures, which stay in place.
                let mut old = Vec::new();
                while lines.peek().is_some_and(is_reply_line) {
                    old.extend(lines.next());
                }
                let bytes = match template {
                    Some(t) => golden::encode_template(t, &vars)?,
                    None => bytes.clone(),
                };
                let closes = lines.peek().is_some_and(|l| l.trim_end() == "@closed");
                // Whatever arrives: nothing for a request that blocks or is not answered
                // (CLIENT REPLY OFF).
                let reply = if closes {
                    d.send(*client, &bytes, 0)?
                } else {
                    d.send_recording(*client, &bytes)?
                };
                for (i, l) in golden::reply_lines(&reply).into_iter().enumerate() {
                    let kept = old.get(i).and_then(|o| {
                        let var = golden::capture_name(o)?;
                        let v: i64 = l.strip_prefix(':')?.parse().ok()?;
                        if !var.is_empty() {
                            vars.insert(var.to_string(), v);
                        }
                        Some(o.to_string())
                    });
                    out.push_str(kept.as_deref().unwrap_or(&l));
                    out.push('\n');
                }
            }
            Some(golden::Step::Read { client, .. }) => {
                while lines.peek().is_some_and(is_reply_line) {
                    lines.next();
                }
                let reply = d.read_recording(*client)?;
                for l in golden::reply_lines(&reply) {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
            Some(golden::Step::Advance(ms)) => d.advance(*ms),
            _ => {}
        }
    }
    Ok(out)
}
