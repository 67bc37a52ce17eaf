//! The golden-transcript driver over TCP: replays testdata/golden on any server address
//! (oxidis-server in native's tests and `cargo xtask test`, or Debian's redis-server to prove
//! the transcripts are Redis's behaviour), and records a transcript's replies from a server.

use crate::transcripts::transcripts;
use crate::Conn;
use oxidis_core::golden::{self, Driver};
use std::path::Path;
use std::time::Duration;

/// How long a transcript waits for the replies it expects.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// A request that expects no reply: how long to watch for one anyway.
const NO_REPLY_WAIT: Duration = Duration::from_millis(200);
/// Recording: the wait for a first byte, then the quiet that ends a reply.
const RECORD_FIRST: Duration = Duration::from_millis(300);
const RECORD_QUIET: Duration = Duration::from_millis(50);

/// The transcript's clients `[c0]`, `[c1]` ..., each connected on first use.
pub struct TcpDriver {
    addr: String,
    conns: Vec<Option<Conn>>,
}

impl TcpDriver {
    pub fn new(addr: &str) -> TcpDriver {
        TcpDriver {
            addr: addr.to_string(),
            conns: Vec::new(),
        }
    }

    fn conn(&mut self, n: usize) -> Result<&mut Conn, String> {
        while self.conns.len() <= n {
            self.conns.push(None);
        }
        if self.conns[n].is_none() {
            let mut c = Conn::connect(&self.addr)?;
            c.set_timeout(REPLY_TIMEOUT);
            self.conns[n] = Some(c);
        }
        Ok(self.conns[n].as_mut().expect("just set"))
    }

    /// Sends and reads like a recording must: without knowing how many replies come.
    fn send_recording(&mut self, client: usize, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let c = self.conn(client)?;
        c.send_raw(bytes)?;
        c.read_quiet(RECORD_FIRST, RECORD_QUIET)
    }

    fn read_recording(&mut self, client: usize) -> Result<Vec<u8>, String> {
        self.conn(client)?.read_quiet(RECORD_FIRST, RECORD_QUIET)
    }
}

/// `expect` whole replies (and all that came with them), or for 0 whatever arrives meanwhile.
fn read_expected(c: &mut Conn, expect: usize) -> Result<Vec<u8>, String> {
    if expect == 0 {
        c.read_quiet(NO_REPLY_WAIT, NO_REPLY_WAIT)
    } else {
        c.read_replies(expect).map(|(bytes, _)| bytes)
    }
}

impl Driver for TcpDriver {
    fn send(&mut self, client: usize, bytes: &[u8], expect: usize) -> Result<Vec<u8>, String> {
        let c = self.conn(client)?;
        c.send_raw(bytes)?;
        read_expected(c, expect)
    }

    fn advance(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    fn read(&mut self, client: usize, expect: usize) -> Result<Vec<u8>, String> {
        read_expected(self.conn(client)?, expect)
    }

    fn is_closed(&mut self, client: usize) -> bool {
        match self.conn(client) {
            Ok(c) => c.is_closed(Duration::from_secs(5)),
            Err(_) => true,
        }
    }
}

/// Replays every transcript (whose path contains `filter`) that suits the server at `addr`,
/// each on fresh connections after FLUSHALL. A cluster-mode server (`cluster_enabled:1`) runs
/// the transcripts of `cluster/` (golden::needs_cluster) and a plain one all the others: a
/// full run takes one server of each kind. Returns (transcripts run, failure messages).
pub fn run_against(addr: &str, root: &Path, filter: &str) -> (usize, Vec<String>) {
    let results = run_each(addr, root, filter);
    let ran = results.len();
    let failures = results.into_iter().flat_map(|(_, f)| f).collect();
    (ran, failures)
}

/// Like `run_against`, but one entry per transcript: (its name, its failure messages), so
/// callers can count transcripts that passed and failed.
pub fn run_each(addr: &str, root: &Path, filter: &str) -> Vec<(String, Vec<String>)> {
    let cluster = match is_cluster(addr) {
        Ok(c) => c,
        Err(e) => return vec![(addr.to_string(), vec![format!("INFO cluster: {e}")])],
    };
    if cluster {
        settle_cluster_node(addr);
    }
    transcripts(root, filter)
        .into_iter()
        .filter(|(name, _)| golden::needs_cluster(name) == cluster)
        .map(|(name, f)| {
            let failures = run_one(addr, &f, &name);
            (name, failures)
        })
        .collect()
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
    if let Err(e) = flushall(addr) {
        return vec![format!("{name}: FLUSHALL: {e}")];
    }
    let mut d = TcpDriver::new(addr);
    golden::run(name, &steps, &mut d)
}

/// Whether the server runs in cluster mode (INFO's cluster_enabled:1).
pub fn is_cluster(addr: &str) -> Result<bool, String> {
    match Conn::connect(addr)?.call(&["INFO", "cluster"])? {
        oxidis_core::resp::Reply::Bulk(b) | oxidis_core::resp::Reply::Verbatim(_, b) => {
            Ok(b.windows(17).any(|w| w == b"cluster_enabled:1"))
        }
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// redis-server leaves its cluster state alone for 2 s after it starts (clusterUpdateState's
/// CLUSTER_WRITABLE_DELAY: CLUSTER INFO's cluster_size lags then): wait until the node is
/// older than that, so a freshly started server answers as it always will.
fn settle_cluster_node(addr: &str) {
    let uptime = Conn::connect(addr)
        .and_then(|mut c| c.call(&["INFO", "server"]))
        .ok()
        .and_then(|r| match r {
            oxidis_core::resp::Reply::Bulk(b) | oxidis_core::resp::Reply::Verbatim(_, b) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                text.lines()
                    .find_map(|l| l.strip_prefix("uptime_in_seconds:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            }
            _ => None,
        })
        .unwrap_or(0);
    if uptime < 3 {
        std::thread::sleep(Duration::from_secs(3 - uptime));
    }
}

/// The state a transcript starts from: an empty keyspace and, on a cluster node, a fresh
/// node (CLUSTER RESET HARD: no slots, no other node, epochs 0, a new ID). The reset's reply
/// is not checked: the transcripts under cluster/ also leave the node as they found it.
fn flushall(addr: &str) -> Result<(), String> {
    let mut c = Conn::connect(addr)?;
    c.call_ok(&["FLUSHALL"])?;
    if is_cluster(addr)? {
        let _ = c.call(&["CLUSTER", "RESET", "HARD"]);
    }
    Ok(())
}

/// Writes a transcript's expected replies from a real server: reads `file`, sends every
/// request to `addr` (after FLUSHALL), and returns the text with each request followed by
/// the server's reply lines (replacing any it had). Directives and comments are kept;
/// `@advance` sleeps; `[cN] @read` records what arrived on that client meanwhile. A request
/// whose reply does not come within 300 ms (a BLPOP that blocks) records none. This records
/// Redis's behaviour instead of anybody's guess of it.
pub fn record(addr: &str, text: &str) -> Result<String, String> {
    flushall(addr)?;
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
                || golden::is_comment(l)
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
