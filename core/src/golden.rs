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

use crate::resp::{decode_reply, split_args};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send `bytes` as client `client` (0-based) and expect `expect` (lines) back.
    Send {
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
        client: usize,
        expect: Vec<String>,
        line: usize,
    },
    /// The server must have closed this client's connection.
    Closed {
        client: usize,
        line: usize,
    },
}

use crate::resp::encode_request;

fn client_prefix(line: &str) -> (usize, &str) {
    if let Some(rest) = line.strip_prefix("[c") {
        if let Some((n, tail)) = rest.split_once(']') {
            if let Ok(n) = n.parse::<usize>() {
                return (n.saturating_sub(1), tail.trim_start());
            }
        }
    }
    (0, line)
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

pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let (client, line) = client_prefix(raw);
        if is_comment(raw) {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("> ") {
            let mut args = Vec::new();
            if !split_args(cmd.as_bytes(), &mut args) || args.is_empty() {
                return Err(format!("line {lineno}: cannot split {cmd:?}"));
            }
            steps.push(Step::Send {
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
                client,
                expect: Vec::new(),
                line: lineno,
            });
        } else if line.trim_end() == "@closed" {
            steps.push(Step::Closed {
                client,
                line: lineno,
            });
        } else if line.starts_with('@') {
            return Err(format!("line {lineno}: unknown directive {line:?}"));
        } else {
            match steps.last_mut() {
                Some(Step::Send { expect, .. } | Step::Read { expect, .. }) => {
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
}

/// Whether the reply lines match the expected ones (`:*` matches any integer).
/// Compares reply lines with expected ones: equal, or an integer where `:*` / `:*name`
/// stands (a named one is remembered in `vars` for later `${name}` substitutions).
fn lines_match(got: &[String], expect: &[String], vars: &mut HashMap<String, i64>) -> bool {
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
            g == e
                || capture_name(e).is_some_and(|var| {
                    let Some(v) = g.strip_prefix(':').and_then(|n| n.parse().ok()) else {
                        return false;
                    };
                    if !var.is_empty() {
                        vars.insert(var.to_string(), v);
                    }
                    true
                })
        })
}

/// A reply line that matches any bulk string (its length line; the content line after it is
/// not compared): for fields that differ from run to run (ACL LOG's age and client-info).
/// `$*N` matches a bulk string of exactly N bytes (ACL GENPASS).
pub const ANY_BULK: &str = "$*";

/// Counts the replies `expect` holds (it is RESP, split at CRLF).
fn count_expected_replies(expect: &[String]) -> Result<usize, String> {
    let concrete: Vec<&str> = expect
        .iter()
        .map(|l| {
            if l.starts_with(ANY_BULK) {
                "$1"
            } else if capture_name(l).is_some() {
                ":0"
            } else {
                l.as_str()
            }
        })
        .collect();
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

/// Replaces `${name}` with the captured integers; None if one is unknown.
fn substitute(template: &str, vars: &HashMap<String, i64>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}')? + i;
        out.push_str(&vars.get(&rest[i + 2..end])?.to_string());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Encodes a request line after substituting captures.
pub fn encode_template(template: &str, vars: &HashMap<String, i64>) -> Result<Vec<u8>, String> {
    let text =
        substitute(template, vars).ok_or_else(|| format!("unknown capture in {template:?}"))?;
    let mut args = Vec::new();
    if !split_args(text.as_bytes(), &mut args) || args.is_empty() {
        return Err(format!("cannot split {text:?}"));
    }
    Ok(encode_request(&args))
}

/// Runs a transcript; returns the mismatches, each as a readable message.
pub fn run(name: &str, steps: &[Step], driver: &mut dyn Driver) -> Vec<String> {
    let mut failures = Vec::new();
    let mut vars = HashMap::new();
    for step in steps {
        match step {
            Step::Advance(ms) => driver.advance(*ms),
            Step::Closed { client, line } => {
                if !driver.is_closed(*client) {
                    failures.push(format!(
                        "{name}:{line}: connection was expected to be closed"
                    ));
                }
            }
            Step::Read {
                client,
                expect,
                line,
            } => {
                let n = match count_expected_replies(expect) {
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
                                "{name}:{line}: [c{}] @read\n  expected {expect:?}\n  got      {got:?}",
                                client + 1
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
                let n = match count_expected_replies(expect) {
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
                            failures.push(format!(
                                "{name}:{line}: > {shown}\n  expected {expect:?}\n  got      {got:?}"
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
                assert_eq!(count_expected_replies(expect), Ok(1));
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
                client: 2,
                expect: vec![],
                line: 10
            }
        );
    }

    #[test]
    fn integer_wildcard_line() {
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
        }
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
}
