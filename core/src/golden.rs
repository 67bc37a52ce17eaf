//! Golden RESP transcripts (testdata/golden/**/*.resp): the one source of truth for
//! behaviour. One parser and one runner; the drivers differ (the Engine in-process, a socket to
//! oxidis-server, a socket to Debian's redis-server, the wasm build).
//!
//! ```text
//! # A comment.              (`#t` and `#f` alone are RESP3 booleans, not comments)
//! > SET k "hello world"      a request, split as redis-cli splits (quotes, \xHH escapes),
//! +OK                         sent as a RESP multibulk; then the expected reply, as the
//! > GET k                     raw RESP lines (CRLF removed), e.g. `$11` then `hello world`
//! $11
//! hello world
//! @advance 101                advance the clock (a real server: sleep that long)
//! @raw "*1\r\n$4\r\nPING\r\n"  send these bytes as they are (double-quoted escapes)
//! +PONG
//! @closed                     the server has closed the connection
//! [c2] > GET k                run on another client (c1 is the default)
//! :*                          (as a reply line) any integer: for ids such as HELLO's
//! :*c2id                      any integer, remembered as c2id ...
//! > CLIENT KILL ID ${c2id}     ... for a later request to use
//! $*                          any bulk string; the line after it (its content, e.g. `x`) is
//! x                           not compared: for ACL LOG's age-seconds and client-info
//! [c2] > BLPOP q 0            a request with no reply lines expects none (yet): the
//! > LPUSH q a                 drivers wait a short quiet period on a real server
//! :1
//! [c2] @read                  the replies pending on c2 now (a woken BLPOP, a pubsub
//! *2                          message), as the lines that follow; none when no lines follow
//! $1
//! q
//! ```
//! A reply's extent is found by decoding it, so its lines compare one for one; trailing empty
//! lines are ignored on both sides (an empty bulk's last line is empty).
//!
//! Transcripts under `cluster/` ([`CLUSTER_DIR`], [`needs_cluster`]) run on a server started
//! with `cluster-enabled yes` (a fresh single node, no slots), every other one on a plain
//! server: each driver starts its server accordingly (the TCP runners take a cluster-mode
//! server for them, and reset it with FLUSHALL and CLUSTER RESET HARD between transcripts).
//!
//! Transcripts under `topology/<name>/` ([`TOPOLOGY_DIR`], [`Topology`]) run on several
//! servers set up before the transcript starts: `replica/` (n1 a master, n2 its synced
//! replica), `cluster3/` (three cluster masters in state ok), `cluster3r/` (cluster3 plus n4, a
//! replica of n1). Every driver starts fresh servers for each such transcript and sets them up
//! with the same commands ([`Driver::select_node`], [`Driver::vars`]); their steps name a node:
//!
//! ```text
//! [n2] > GET k                 node n2's first client (no prefix: n1.c1)
//! [n2.c2] > GET k              node n2's second client ([c2] is n1.c2)
//! -MOVED 3300 127.0.0.1:${n2.port}   ${n2.port}, ${n2.bus} (bus port), ${n2.id} (node ID)
//!                              stand for what differs between setups, in requests and in
//!                              expected lines; a recording writes them itself ([`generalize`])
//! $?                           a bulk compared by its shape (the step's last reply): its
//! # Replication                length is not compared, its lines are, one for one, where `*`
//! master_repl_offset:*         matches any run of characters (`#` lines are content here);
//!                              a blank line ends it. `$?any-order`: the same, lines in any
//!                              order (CLUSTER NODES)
//! *?3                          an array whose elements may come in any order (CLUSTER SHARDS)
//! ```

use crate::resp::{decode_reply, split_args};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send `bytes` as client `client` (0-based) and expect `expect` (lines) back.
    Send {
        /// The topology node (0-based: `[n2]` is 1; 0 outside topologies).
        node: usize,
        client: usize,
        bytes: Vec<u8>,
        expect: Vec<String>,
        line: usize,
        shown: String,
        /// Set when the request uses `${name}` captures: re-split at run time once they are
        /// substituted (`bytes` is then the unsubstituted encoding).
        template: Option<String>,
    },
    Advance(u64),
    /// Read what client `client` has been sent since (a reply that arrives later: a woken
    /// blocking command, a published message) and expect `expect`.
    Read {
        node: usize,
        client: usize,
        expect: Vec<String>,
        line: usize,
    },
    /// The server must have closed this client's connection.
    Closed {
        node: usize,
        client: usize,
        line: usize,
    },
}

use crate::resp::encode_request;

/// `[c2] rest`, `[n2] rest` or `[n2.c3] rest` → (node, client, rest), 0-based; (0, 0, line)
/// without a prefix.
fn target_prefix(line: &str) -> (usize, usize, &str) {
    let Some(rest) = line.strip_prefix('[') else {
        return (0, 0, line);
    };
    let Some((target, tail)) = rest.split_once(']') else {
        return (0, 0, line);
    };
    let num = |s: &str, p: char| s.strip_prefix(p)?.parse::<usize>().ok().filter(|&n| n > 0);
    let parsed = match target.split_once('.') {
        Some((n, c)) => num(n, 'n').zip(num(c, 'c')),
        None => num(target, 'c')
            .map(|c| (1, c))
            .or_else(|| num(target, 'n').map(|n| (n, 1))),
    };
    match parsed {
        Some((n, c)) => (n - 1, c - 1, tail.trim_start()),
        None => (0, 0, line),
    }
}

/// The directory whose transcripts need a cluster-mode server.
pub const CLUSTER_DIR: &str = "cluster/";

/// Whether the transcript `name` (its path under testdata/golden, `/`-separated) runs on a
/// server with `cluster-enabled yes`.
pub fn needs_cluster(name: &str) -> bool {
    name.replace('\\', "/").starts_with(CLUSTER_DIR)
}

/// A `#` line is a comment, except RESP3's booleans `#t` and `#f`, which are reply lines.
pub fn is_comment(line: &str) -> bool {
    line.starts_with('#') && line != "#t" && line != "#f"
}

/// Whether a transcript line can be a reply line (not a request, a directive, a
/// node/client prefix or blank); `#` lines are comments unless in a shape bulk.
pub fn is_reply_line(l: &str) -> bool {
    // "> " starts a request; ">3" is a RESP3 push's first line.
    !(l.starts_with("> ") || l.starts_with('@') || l.starts_with('[') || l.is_empty())
}

pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    // Inside a shape bulk's content ([`SHAPE_BULK`], up to a blank line) a `#` line is content (INFO's
    // `# Replication`), not a comment.
    let mut in_shape = false;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let (node, client, line) = target_prefix(raw);
        if is_comment(raw) && !in_shape {
            continue;
        }
        if !is_reply_line(raw) {
            in_shape = false;
        }
        if let Some(cmd) = line.strip_prefix("> ") {
            let mut args = Vec::new();
            if !split_args(cmd.as_bytes(), &mut args) || args.is_empty() {
                return Err(format!("line {lineno}: cannot split {cmd:?}"));
            }
            steps.push(Step::Send {
                node,
                client,
                bytes: encode_request(&args),
                expect: Vec::new(),
                line: lineno,
                shown: cmd.to_string(),
                template: cmd.contains("${").then(|| cmd.to_string()),
            });
        } else if let Some(raw_bytes) = line.strip_prefix("@raw ") {
            let mut args = Vec::new();
            if !split_args(raw_bytes.as_bytes(), &mut args) || args.len() != 1 {
                return Err(format!("line {lineno}: @raw takes one quoted string"));
            }
            steps.push(Step::Send {
                node,
                client,
                bytes: args.pop().unwrap_or_default(),
                expect: Vec::new(),
                line: lineno,
                shown: raw_bytes.to_string(),
                template: None,
            });
        } else if let Some(ms) = line.strip_prefix("@advance ") {
            let ms = ms
                .trim()
                .parse()
                .map_err(|_| format!("line {lineno}: bad @advance"))?;
            steps.push(Step::Advance(ms));
        } else if line.trim_end() == "@read" {
            steps.push(Step::Read {
                node,
                client,
                expect: Vec::new(),
                line: lineno,
            });
        } else if line.trim_end() == "@closed" {
            steps.push(Step::Closed {
                node,
                client,
                line: lineno,
            });
        } else if line.starts_with('@') {
            return Err(format!("line {lineno}: unknown directive {line:?}"));
        } else {
            match steps.last_mut() {
                Some(Step::Send { expect, .. } | Step::Read { expect, .. }) => {
                    in_shape |= raw == SHAPE_BULK || raw == SHAPE_BULK_ANY_ORDER;
                    expect.push(raw.to_string())
                }
                _ if raw.trim().is_empty() => {}
                _ => {
                    return Err(format!(
                        "line {lineno}: reply line with no request before it"
                    ))
                }
            }
        }
    }
    for s in &mut steps {
        if let Step::Send { expect, .. } | Step::Read { expect, .. } = s {
            while expect.last().is_some_and(|l| l.is_empty()) {
                expect.pop();
            }
        }
    }
    Ok(steps)
}

/// Splits reply bytes into the lines a transcript shows.
pub fn reply_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Splits a byte stream into whole replies; the remainder is returned as an error if it does
/// not decode.
pub fn split_replies(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match decode_reply(bytes)? {
            Some((_, n)) => {
                out.push(bytes[..n].to_vec());
                bytes = &bytes[n..];
            }
            None => {
                return Err(format!(
                    "incomplete reply {:?}",
                    String::from_utf8_lossy(bytes)
                ))
            }
        }
    }
    Ok(out)
}

/// How a transcript reaches a server.
pub trait Driver {
    /// Sends `bytes` as client `client` and returns every reply byte the server sends back for
    /// them (waiting until the replies are complete: as many as `expect_replies`, or none
    /// expected and a short quiet period).
    fn send(
        &mut self,
        client: usize,
        bytes: &[u8],
        expect_replies: usize,
    ) -> Result<Vec<u8>, String>;
    fn advance(&mut self, ms: u64);
    fn is_closed(&mut self, client: usize) -> bool;
    /// Returns what client `client` has been sent and not read yet, waiting (on a real
    /// server) until `expect_replies` whole replies are there, or for none expected a short
    /// quiet period.
    /// (The default refuses, so a driver written before `@read` existed fails such
    /// transcripts loudly instead of skipping them.)
    fn read(&mut self, client: usize, expect_replies: usize) -> Result<Vec<u8>, String> {
        let _ = (client, expect_replies);
        Err("this driver cannot @read".to_string())
    }
    /// Makes node `node` (0-based: `[n2]` is 1) the one the next step's client belongs to.
    /// Only a topology driver has nodes beyond the first; the default refuses them, so a
    /// topology transcript on a one-server driver fails instead of running on the wrong node.
    fn select_node(&mut self, node: usize) -> Result<(), String> {
        match node {
            0 => Ok(()),
            n => Err(format!(
                "this driver runs one server: there is no node n{}",
                n + 1
            )),
        }
    }
    /// The values `${name}` stands for from the start ([`topology_vars`]: `n2.port`, ...).
    fn vars(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The directory whose transcripts run on a topology of several servers: its subdirectory
/// names the topology ([`Topology`]).
pub const TOPOLOGY_DIR: &str = "topology/";

/// A set of servers wired together before a transcript starts, named by the directory the
/// transcript is in (`topology/replica/`, `topology/cluster3/`). Every driver sets it up the
/// same way, with real commands or their in-process equivalent, and waits until it is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// `topology/replica/`: n1 a master, n2 its replica (`REPLICAOF 127.0.0.1 ${n1.port}`),
    /// the link up and the first sync done (n1's INFO shows the replica `state=online`).
    Replica,
    /// `topology/cluster3/`: three cluster masters n1, n2, n3 that met each other, with the
    /// slots 0-5460, 5461-10922 and 10923-16383 (CLUSTER ADDSLOTSRANGE), each in
    /// `cluster_state:ok` and knowing all three nodes and every slot's owner.
    Cluster3,
    /// `topology/cluster3r/`: cluster3 plus n4, a replica of n1 (CLUSTER REPLICATE
    /// ${n1.id}, config epoch 4), in sync, and every node seeing it as n1's replica: for
    /// READONLY/READWRITE on a cluster replica, and the commands' replies with a replica.
    Cluster3R,
}

impl Topology {
    /// The topology of the transcript `name` (its path under testdata/golden): None outside
    /// `topology/`, an error for an unknown topology directory.
    pub fn of(name: &str) -> Result<Option<Topology>, String> {
        let name = name.replace('\\', "/");
        let Some(rest) = name.strip_prefix(TOPOLOGY_DIR) else {
            return Ok(None);
        };
        match rest.split('/').next() {
            Some("replica") => Ok(Some(Topology::Replica)),
            Some("cluster3") => Ok(Some(Topology::Cluster3)),
            Some("cluster3r") => Ok(Some(Topology::Cluster3R)),
            other => Err(format!(
                "{name}: unknown topology {other:?} (known: replica, cluster3, cluster3r)"
            )),
        }
    }

    /// How many servers it takes.
    pub fn nodes(self) -> usize {
        match self {
            Topology::Replica => 2,
            Topology::Cluster3 => 3,
            Topology::Cluster3R => 4,
        }
    }

    /// How many of its nodes are masters serving slots (a cluster's `cluster_size`).
    pub fn masters(self) -> usize {
        (0..self.nodes())
            .filter(|&i| self.master_of(i).is_none())
            .count()
    }

    /// Whether its servers run with `cluster-enabled yes`.
    pub fn cluster(self) -> bool {
        matches!(self, Topology::Cluster3 | Topology::Cluster3R)
    }

    /// The slot range node `i` (0-based) serves in a cluster topology.
    pub fn slots(self, i: usize) -> Option<(u16, u16)> {
        match (self, i) {
            (Topology::Cluster3 | Topology::Cluster3R, 0) => Some((0, 5460)),
            (Topology::Cluster3 | Topology::Cluster3R, 1) => Some((5461, 10922)),
            (Topology::Cluster3 | Topology::Cluster3R, 2) => Some((10923, 16383)),
            _ => None,
        }
    }

    /// The node (0-based) node `i` replicates, if any: by REPLICAOF on plain servers, by
    /// CLUSTER REPLICATE (once it knows its master) on cluster nodes.
    pub fn master_of(self, i: usize) -> Option<usize> {
        match (self, i) {
            (Topology::Replica, 1) | (Topology::Cluster3R, 3) => Some(0),
            _ => None,
        }
    }
}

/// The `${name}` values of a topology's nodes, as every driver hands them to [`run`]:
/// `nK.port` (client port), and on cluster nodes `nK.bus` (bus port) and `nK.id` (node ID),
/// for node K = 1, 2, ... given as (port, bus port, node ID).
pub fn topology_vars(nodes: &[(u16, Option<u16>, Option<String>)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, (port, bus, id)) in nodes.iter().enumerate() {
        let n = i + 1;
        out.push((format!("n{n}.port"), port.to_string()));
        if let Some(b) = bus {
            out.push((format!("n{n}.bus"), b.to_string()));
        }
        if let Some(id) = id {
            out.push((format!("n{n}.id"), id.clone()));
        }
    }
    out
}

/// A reply line that starts a bulk string compared by its shape: its length is not compared,
/// and it must be the step's last reply (or the last element of it); its content is every line after it, compared line
/// for line, where `*` in an expected line matches any run of characters (so INFO's
/// `master_repl_offset:*` checks the field's name and place, not its value). For INFO
/// replication, CLUSTER INFO and CLUSTER NODES-like texts whose numbers vary between runs.
pub const SHAPE_BULK: &str = "$?";

/// Like [`SHAPE_BULK`], but the content lines may come in any order (each expected line
/// matches a different line): CLUSTER NODES lists the nodes in the order of Redis's dict.
pub const SHAPE_BULK_ANY_ORDER: &str = "$?any-order";

/// The first line of a step's expected reply `*?N`: an array of N elements that may come in
/// any order (each expected element, as the lines that follow, matches a different element
/// of the reply): CLUSTER SHARDS lists the shards in the order of Redis's dict.
pub const ARRAY_ANY_ORDER: &str = "*?";

/// The extents (in lines) of the replies `lines` hold, one after the other; None if they do
/// not decode (`concrete` gives each line as it decodes: wildcards made concrete).
fn reply_extents(lines: &[String]) -> Option<Vec<usize>> {
    let mut bytes = lines.join("\r\n").into_bytes();
    bytes.extend_from_slice(b"\r\n");
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let (_, n) = decode_reply(rest).ok()??;
        out.push(rest[..n].windows(2).filter(|w| w == b"\r\n").count());
        rest = &rest[n..];
    }
    Some(out)
}

/// Lines as they decode: `:*` as an integer, `$*` as a bulk of its content line's length,
/// `${name}` substituted.
fn concrete_lines(expect: &[String], vars: &HashMap<String, String>) -> Vec<String> {
    expect
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if l.starts_with(ANY_BULK) {
                // Its content line, whatever it says, stands for the bulk's content.
                format!("${}", expect.get(i + 1).map_or(0, String::len))
            } else if capture_name(l).is_some() {
                ":0".to_string()
            } else {
                expected_line(l, vars)
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|| l.clone())
            }
        })
        .collect()
}

/// [`ARRAY_ANY_ORDER`]: `n` elements in `expect`, matched with `got`'s in any order.
fn array_any_order(
    n: &str,
    got: &[String],
    expect: &[String],
    vars: &mut HashMap<String, String>,
) -> bool {
    let Ok(n) = n.parse::<usize>() else {
        return false;
    };
    if got.first().map(String::as_str) != Some(&format!("*{n}")) {
        return false;
    }
    let (Some(want), Some(have)) = (
        reply_extents(&concrete_lines(expect, vars)),
        reply_extents(&got[1..]),
    ) else {
        return false;
    };
    if want.len() != n || have.len() != n {
        return false;
    }
    let split = |lines: &[String], ext: &[usize]| {
        let mut at = 0;
        ext.iter()
            .map(|&len| {
                at += len;
                lines[at - len..at].to_vec()
            })
            .collect::<Vec<_>>()
    };
    let (want, have) = (split(expect, &want), split(&got[1..], &have));
    let mut used = vec![false; n];
    want.iter().all(|w| {
        let hit = (0..n).find(|&i| !used[i] && lines_match(&have[i], w, &mut vars.clone()));
        hit.map(|i| used[i] = true).is_some()
    })
}

/// Whether `got` fits `pattern`, where `*` matches any run of characters.
pub fn glob_match(pattern: &str, got: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == got;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !got.starts_with(first) || got.len() < first.len() + last.len() || !got.ends_with(last) {
        return false;
    }
    let mut rest = &got[first.len()..got.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// An expected line with its `${name}` substituted; None if a name is unknown.
fn expected_line<'a>(
    e: &'a str,
    vars: &HashMap<String, String>,
) -> Option<std::borrow::Cow<'a, str>> {
    if e.contains("${") {
        substitute(e, vars).map(std::borrow::Cow::Owned)
    } else {
        Some(std::borrow::Cow::Borrowed(e))
    }
}

/// Compares reply lines with expected ones: equal (after `${name}` substitution), or an
/// integer where `:*` / `:*name` stands (a named one is remembered in `vars` for later
/// `${name}` substitutions), or a bulk's shape after [`SHAPE_BULK`].
pub fn lines_match(got: &[String], expect: &[String], vars: &mut HashMap<String, String>) -> bool {
    if let Some(k) = expect
        .iter()
        .position(|l| l == SHAPE_BULK || l == SHAPE_BULK_ANY_ORDER)
    {
        let any_order = expect[k] == SHAPE_BULK_ANY_ORDER;
        if !lines_match(&got[..k.min(got.len())], &expect[..k], vars)
            || got.len() <= k
            || !got[k].starts_with('$')
            || got[k] == "$-1"
        {
            return false;
        }
        // The content's lines, whether CRLF (INFO) or LF (CLUSTER NODES) ends them.
        let content = got[k + 1..].join("\n");
        let mut got: Vec<&str> = content
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .collect();
        while got.last().is_some_and(|l| l.is_empty()) {
            got.pop();
        }
        let pats: Option<Vec<_>> = expect[k + 1..]
            .iter()
            .map(|e| expected_line(e, vars).map(|c| c.into_owned()))
            .collect();
        let Some(mut pats) = pats else { return false };
        while pats.last().is_some_and(|l| l.is_empty()) {
            pats.pop();
        }
        if got.len() != pats.len() {
            return false;
        }
        if !any_order {
            return got.iter().zip(&pats).all(|(g, p)| glob_match(p, g));
        }
        let mut used = vec![false; got.len()];
        return pats.iter().all(|p| {
            let hit = (0..got.len()).find(|&i| !used[i] && glob_match(p, got[i]));
            hit.map(|i| used[i] = true).is_some()
        });
    }
    if let Some(n) = expect.first().and_then(|l| l.strip_prefix(ARRAY_ANY_ORDER)) {
        return array_any_order(n, got, &expect[1..], vars);
    }
    let mut skip = false;
    got.len() == expect.len()
        && got.iter().zip(expect).all(|(g, e)| {
            if std::mem::take(&mut skip) {
                return true;
            }
            if let Some(len) = e.strip_prefix(ANY_BULK) {
                skip = true;
                return g.starts_with('$') && g != "$-1" && (len.is_empty() || g[1..] == *len);
            }
            if let Some(var) = capture_name(e) {
                let Some(v) = g.strip_prefix(':').and_then(|n| n.parse::<i64>().ok()) else {
                    return false;
                };
                if !var.is_empty() {
                    vars.insert(var.to_string(), v.to_string());
                }
                return true;
            }
            expected_line(e, vars).is_some_and(|e| *g == *e)
        })
}

/// A reply line that matches any bulk string (its length line; the content line after it is
/// not compared): for fields that differ from run to run (ACL LOG's age and client-info).
/// `$*N` matches a bulk string of exactly N bytes (ACL GENPASS).
pub const ANY_BULK: &str = "$*";

/// Counts the replies `expect` holds (it is RESP, split at CRLF; `${name}` substituted).
fn count_expected_replies(
    expect: &[String],
    vars: &HashMap<String, String>,
) -> Result<usize, String> {
    if let Some(k) = expect
        .iter()
        .position(|l| l == SHAPE_BULK || l == SHAPE_BULK_ANY_ORDER)
    {
        // The shape bulk ends the step: an empty bulk in its place decodes like it (inside an
        // array, as CLUSTER REPLICAS's one line).
        let mut stand_in = expect[..k].to_vec();
        stand_in.extend(["$0".to_string(), String::new()]);
        return count_expected_replies(&stand_in, vars);
    }
    if expect
        .first()
        .is_some_and(|l| l.starts_with(ARRAY_ANY_ORDER))
    {
        return Ok(1);
    }
    let concrete = concrete_lines(expect, vars);
    let mut joined = concrete.join("\r\n").into_bytes();
    if !joined.is_empty() {
        joined.extend_from_slice(b"\r\n");
    }
    // An empty bulk at the end lost its empty line to trimming: put CRLFs back until it decodes.
    for _ in 0..4 {
        if let Ok(v) = split_replies(&joined) {
            return Ok(v.len());
        }
        joined.extend_from_slice(b"\r\n");
    }
    Err(format!("expected reply does not decode: {expect:?}"))
}

/// For a reply line `:*` (Some("")) or `:*name` (Some("name")): any integer, captured as name.
pub fn capture_name(line: &str) -> Option<&str> {
    let n = line.strip_prefix(":*")?;
    n.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        .then_some(n)
}

/// Replaces `${name}` with the captured or topology values; None if one is unknown.
fn substitute(template: &str, vars: &HashMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}')? + i;
        out.push_str(vars.get(&rest[i + 2..end])?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Encodes a request line after substituting captures.
pub fn encode_template(template: &str, vars: &HashMap<String, String>) -> Result<Vec<u8>, String> {
    let text =
        substitute(template, vars).ok_or_else(|| format!("unknown capture in {template:?}"))?;
    let mut args = Vec::new();
    if !split_args(text.as_bytes(), &mut args) || args.is_empty() {
        return Err(format!("cannot split {text:?}"));
    }
    Ok(encode_request(&args))
}

/// Writes `line` as a recording shows it: every topology value that stands alone in it (not
/// inside a longer number or word) as its `${name}`, so the transcript holds for any ports
/// and node IDs. Longer values first (an ID before a port it might contain).
pub fn generalize(line: &str, topology: &[(String, String)]) -> String {
    // `$40` is a bulk's length, not a value.
    if line
        .strip_prefix('$')
        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
    {
        return line.to_string();
    }
    let mut vars: Vec<&(String, String)> = topology.iter().filter(|(_, v)| v.len() >= 4).collect();
    vars.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut out = line.to_string();
    for (name, value) in vars {
        let mut res = String::new();
        let mut rest = out.as_str();
        while let Some(i) = rest.find(value.as_str()) {
            let before = rest[..i].chars().next_back().or(res.chars().next_back());
            let after = rest[i + value.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            res.push_str(&rest[..i]);
            if word(before) || word(after) {
                res.push_str(value);
            } else {
                res.push_str(&format!("${{{name}}}"));
            }
            rest = &rest[i + value.len()..];
        }
        res.push_str(rest);
        out = res;
    }
    out
}

/// Runs a transcript; returns the mismatches, each as a readable message.
pub fn run(name: &str, steps: &[Step], driver: &mut dyn Driver) -> Vec<String> {
    let mut failures = Vec::new();
    let mut vars: HashMap<String, String> = driver.vars().into_iter().collect();
    for step in steps {
        let (node, line) = match step {
            Step::Send { node, line, .. }
            | Step::Read { node, line, .. }
            | Step::Closed { node, line, .. } => (*node, *line),
            Step::Advance(_) => (0, 0),
        };
        if let Err(e) = driver.select_node(node) {
            failures.push(format!("{name}:{line}: {e}"));
            continue;
        }
        let who = |client: &usize| match node {
            0 => format!("[c{}]", client + 1),
            n => format!("[n{}.c{}]", n + 1, client + 1),
        };
        match step {
            Step::Advance(ms) => driver.advance(*ms),
            Step::Closed { client, line, .. } => {
                if !driver.is_closed(*client) {
                    failures.push(format!(
                        "{name}:{line}: {} connection was expected to be closed",
                        who(client)
                    ));
                }
            }
            Step::Read {
                client,
                expect,
                line,
                ..
            } => {
                let n = match count_expected_replies(expect, &vars) {
                    Ok(n) => n,
                    Err(e) => {
                        failures.push(format!("{name}:{line}: {e}"));
                        continue;
                    }
                };
                match driver.read(*client, n) {
                    Ok(got) => {
                        let got = reply_lines(&got);
                        if !lines_match(&got, expect, &mut vars) {
                            failures.push(format!(
                                "{name}:{line}: {} @read\n  expected {expect:?}\n  got      {got:?}",
                                who(client)
                            ));
                        }
                    }
                    Err(e) => failures.push(format!("{name}:{line}: @read: {e}")),
                }
            }
            Step::Send {
                client,
                bytes,
                expect,
                line,
                shown,
                template,
                ..
            } => {
                let bytes = match template {
                    None => bytes.clone(),
                    Some(t) => match encode_template(t, &vars) {
                        Ok(b) => b,
                        Err(e) => {
                            failures.push(format!("{name}:{line}: {e}"));
                            continue;
                        }
                    },
                };
                let n = match count_expected_replies(expect, &vars) {
                    Ok(n) => n,
                    Err(e) => {
                        failures.push(format!("{name}:{line}: {e}"));
                        continue;
                    }
                };
                match driver.send(*client, &bytes, n) {
                    Ok(got) => {
                        let got = reply_lines(&got);
                        if !lines_match(&got, expect, &mut vars) {
                            let at = if node == 0 && *client == 0 {
                                String::new()
                            } else {
                                format!("{} ", who(client))
                            };
                            failures.push(format!(
                                "{name}:{line}: {at}> {shown}\n  expected {expect:?}\n  got      {got:?}"
                            ));
                        }
                    }
                    Err(e) => failures.push(format!("{name}:{line}: > {shown}: {e}")),
                }
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_format() {
        let t = "# c\n> SET k \"a b\"\n+OK\n\n> GET k\n$3\na b\n@advance 5\n[c2] > GET e\n$0\n\n@raw \"PING\\r\\n\"\n+PONG\n@closed\n";
        let steps = parse(t).unwrap();
        assert_eq!(steps.len(), 6);
        match &steps[0] {
            Step::Send { bytes, expect, .. } => {
                assert_eq!(bytes, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n");
                assert_eq!(expect, &["+OK"]);
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(steps[2], Step::Advance(5));
        match &steps[3] {
            Step::Send { client, expect, .. } => {
                assert_eq!(*client, 1);
                assert_eq!(expect, &["$0"]);
                assert_eq!(count_expected_replies(expect, &HashMap::new()), Ok(1));
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(reply_lines(b"$0\r\n\r\n"), vec!["$0"]);
    }

    #[test]
    fn read_steps_take_the_lines_after_them() {
        let t = "[c2] > BLPOP q 0\n> LPUSH q a\n:1\n[c2] @read\n*2\n$1\nq\n$1\na\n[c3] @read\n> PING\n+PONG\n";
        let steps = parse(t).unwrap();
        assert_eq!(steps.len(), 5);
        match &steps[0] {
            Step::Send { client, expect, .. } => {
                assert_eq!(*client, 1);
                assert!(expect.is_empty());
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(
            steps[2],
            Step::Read {
                node: 0,
                client: 1,
                expect: vec![
                    "*2".into(),
                    "$1".into(),
                    "q".into(),
                    "$1".into(),
                    "a".into()
                ],
                line: 4
            }
        );
        assert_eq!(
            steps[3],
            Step::Read {
                node: 0,
                client: 2,
                expect: vec![],
                line: 10
            }
        );
    }

    /// A driver answering every request and read with the same bytes, on a one-node topology
    /// (port 30001, bus 40001, id "abab…").
    struct Fixed(&'static [u8]);
    impl Driver for Fixed {
        fn send(&mut self, _: usize, _: &[u8], _: usize) -> Result<Vec<u8>, String> {
            Ok(self.0.to_vec())
        }
        fn advance(&mut self, _: u64) {}
        fn is_closed(&mut self, _: usize) -> bool {
            false
        }
        fn read(&mut self, _: usize, _: usize) -> Result<Vec<u8>, String> {
            Ok(self.0.to_vec())
        }
        fn vars(&self) -> Vec<(String, String)> {
            topology_vars(&[(30001, Some(40001), Some("ab".repeat(20)))])
        }
    }

    #[test]
    fn integer_wildcard_line() {
        let steps = parse("> CLIENT ID\n:*\n").unwrap();
        assert!(run("t", &steps, &mut Fixed(b":42\r\n")).is_empty());
        assert_eq!(run("t", &steps, &mut Fixed(b"$2\r\n42\r\n")).len(), 1);
    }

    #[test]
    fn captures_feed_later_requests() {
        struct Echo(Vec<Vec<u8>>);
        impl Driver for Echo {
            fn send(&mut self, _: usize, b: &[u8], _: usize) -> Result<Vec<u8>, String> {
                self.0.push(b.to_vec());
                Ok(b":7\r\n".to_vec())
            }
            fn advance(&mut self, _: u64) {}
            fn is_closed(&mut self, _: usize) -> bool {
                false
            }
        }
        let steps = parse("> CLIENT ID\n:*me\n> CLIENT KILL ID ${me}\n:7\n").unwrap();
        let mut d = Echo(Vec::new());
        assert!(run("t", &steps, &mut d).is_empty());
        assert_eq!(
            d.0[1],
            b"*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$2\r\nID\r\n$1\r\n7\r\n"
        );
        // An unknown capture is a failure, not a panic.
        let steps = parse("> GET ${nope}\n$-1\n").unwrap();
        assert_eq!(run("t", &steps, &mut Echo(Vec::new())).len(), 1);
    }

    #[test]
    fn node_prefixes_and_topologies() {
        assert_eq!(target_prefix("[n2] > GET k"), (1, 0, "> GET k"));
        assert_eq!(target_prefix("[n3.c2] @read"), (2, 1, "@read"));
        assert_eq!(target_prefix("[c2] > PING"), (0, 1, "> PING"));
        assert_eq!(target_prefix("[x] > PING"), (0, 0, "[x] > PING"));
        assert_eq!(
            Topology::of("topology/replica/role.resp"),
            Ok(Some(Topology::Replica))
        );
        assert_eq!(Topology::of("cluster/x.resp"), Ok(None));
        assert!(Topology::of("topology/nope/x.resp").is_err());
        // A one-server driver refuses another node instead of running there.
        struct One;
        impl Driver for One {
            fn send(&mut self, _: usize, _: &[u8], _: usize) -> Result<Vec<u8>, String> {
                Ok(b"+OK\r\n".to_vec())
            }
            fn advance(&mut self, _: u64) {}
            fn is_closed(&mut self, _: usize) -> bool {
                false
            }
        }
        let steps = parse("[n2] > PING\n+OK\n").unwrap();
        assert_eq!(run("t", &steps, &mut One).len(), 1);
    }

    #[test]
    fn topology_values_and_shapes() {
        let moved = parse("> GET k\n-MOVED 1 127.0.0.1:${n1.port}\n").unwrap();
        assert!(run("t", &moved, &mut Fixed(b"-MOVED 1 127.0.0.1:30001\r\n")).is_empty());
        assert_eq!(
            run("t", &moved, &mut Fixed(b"-MOVED 1 127.0.0.1:30002\r\n")).len(),
            1
        );
        let id = parse("> CLUSTER MYID\n$40\n${n1.id}\n").unwrap();
        let mut reply = b"$40\r\n".to_vec();
        reply.extend_from_slice("ab".repeat(20).as_bytes());
        reply.extend_from_slice(b"\r\n");
        assert!(run("t", &id, &mut Fixed(reply.leak())).is_empty());
        let info =
            parse("> INFO replication\n$?\n# Replication\nrole:master\nmaster_repl_offset:*\n")
                .unwrap();
        let ok = b"$52\r\n# Replication\r\nrole:master\r\nmaster_repl_offset:17\r\n\r\n";
        assert!(run("t", &info, &mut Fixed(ok)).is_empty());
        // The names, their order and their number are compared.
        let renamed = b"$52\r\n# Replication\r\nrole:master\r\nmaster_repl_offsex:17\r\n\r\n";
        assert_eq!(run("t", &info, &mut Fixed(renamed)).len(), 1);
        let swapped = b"$52\r\n# Replication\r\nmaster_repl_offset:17\r\nrole:master\r\n\r\n";
        assert_eq!(run("t", &info, &mut Fixed(swapped)).len(), 1);
        let more = b"$60\r\n# Replication\r\nrole:master\r\nmaster_repl_offset:17\r\nx:1\r\n\r\n";
        assert_eq!(run("t", &info, &mut Fixed(more)).len(), 1);
        let nodes = parse("> CLUSTER NODES\n$?any-order\na *\nb *\n").unwrap();
        assert!(run("t", &nodes, &mut Fixed(b"$8\r\nb 1\r\na 2\r\n")).is_empty());
        assert_eq!(
            run("t", &nodes, &mut Fixed(b"$8\r\nb 1\r\nb 2\r\n")).len(),
            1
        );
        let shards = parse("> X\n*?2\n*1\n:1\n*1\n:${n1.port}\n").unwrap();
        assert!(run(
            "t",
            &shards,
            &mut Fixed(b"*2\r\n*1\r\n:30001\r\n*1\r\n:1\r\n")
        )
        .is_empty());
        assert!(run(
            "t",
            &shards,
            &mut Fixed(b"*2\r\n*1\r\n:1\r\n*1\r\n:30001\r\n")
        )
        .is_empty());
        assert_eq!(
            run("t", &shards, &mut Fixed(b"*2\r\n*1\r\n:1\r\n*1\r\n:1\r\n")).len(),
            1
        );
        assert_eq!(
            run(
                "t",
                &shards,
                &mut Fixed(b"*3\r\n*1\r\n:1\r\n*1\r\n:30001\r\n:3\r\n")
            )
            .len(),
            1
        );
        let lf = parse("> CLUSTER NODES\n$?any-order\na *\nb *\n\n").unwrap();
        assert!(run("t", &lf, &mut Fixed(b"$8\r\nb 1\na 2\n\r\n")).is_empty());
        assert!(glob_match("a*c*e", "abcde") && !glob_match("a*c*e", "abde"));
        assert!(!glob_match("ab*ba", "aba"));
    }

    #[test]
    fn recordings_name_topology_values() {
        let vars = topology_vars(&[(30001, Some(40001), Some("ab".repeat(20)))]);
        assert_eq!(
            generalize("-MOVED 5 127.0.0.1:30001", &vars),
            "-MOVED 5 127.0.0.1:${n1.port}"
        );
        assert_eq!(generalize(":30001", &vars), ":${n1.port}");
        assert_eq!(generalize("offset=1300011", &vars), "offset=1300011");
        assert_eq!(generalize("$30001", &vars), "$30001");
        let line = format!("{} 127.0.0.1:30001@40001 myself", "ab".repeat(20));
        assert_eq!(
            generalize(&line, &vars),
            "${n1.id} 127.0.0.1:${n1.port}@${n1.bus} myself"
        );
    }
}
