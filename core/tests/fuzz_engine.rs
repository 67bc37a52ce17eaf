//! The engine's reply stream, checked: random sequences of every command in the table (and
//! unknown ones), with arguments drawn from a vocabulary of edge cases, on two clients, with
//! the clock moving and ticks in between, plus steps that steer into the states that change how
//! many replies a request gets (CLIENT REPLY, MULTI/EXEC, pub/sub, blocking, CLIENT PAUSE,
//! HELLO, RESET, QUIT, protocol errors), requests sent inline, split or pipelined.
//!
//! Every byte the engine emits is decoded, and the test asserts:
//! - the output is well-formed RESP: RESP2 (no RESP3 type) or RESP3 (no RESP2 null) as the
//!   client negotiated, bulk strings closed by CRLF;
//! - exactly one reply per request, published messages aside, with the real exceptions modelled
//!   per client (see `Model`): SUBSCRIBE and its kin answer once per channel (arrays in RESP2,
//!   pushes in RESP3); inside MULTI a command answers +QUEUED (or an error that dooms the
//!   transaction) and EXEC answers one array whose elements are the queued commands' replies;
//!   CLIENT REPLY OFF and SKIP silence whole commands (and a protocol error), and inside EXEC
//!   whatever is written while they are in force (the header, some elements), all but the
//!   (un)subscribe confirmations, pushes that Redis sends anyway; a blocked or paused
//!   client answers later, in order; QUIT and a protocol error answer and close (silenced, they
//!   leave the connection open but deaf, unless other output was pending); RESET answers
//!   +RESET; a successful SHUTDOWN answers nothing (the host exits on `Event::Shutdown`).
//!
//! At the end every client is unpaused, unblocked and timed out, and every request must have
//! had its reply (a client closed by the server — CLIENT KILL, idle timeout — is excused).
//!
//! `FUZZ_CASES=N` runs more cases (CI runs 400).

use oxidis_core::resp::{decode_reply, encode_request, Reply};
use oxidis_core::{
    all_commands, flags, lookup, ClientHandle, CommandSpec, Config, ConnInfo, Engine, Event,
    UnixMillis,
};
use proptest::prelude::*;
use std::collections::{BTreeSet, VecDeque};

const TOKENS: &[&str] = &[
    "k",
    "k2",
    "list",
    "h",
    "s",
    "z",
    "",
    "0",
    "1",
    "-1",
    "2",
    "10",
    "100",
    "1000000",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1.5",
    "-0.5",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e308",
    "0x10",
    "(1",
    "[a",
    "(a",
    "+",
    "-",
    "*",
    "?",
    "[",
    "\\",
    "a*b",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "LIMIT",
    "COUNT",
    "MATCH",
    "TYPE",
    "WITHSCORES",
    "BYSCORE",
    "BYLEX",
    "REV",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "IDX",
    "LEN",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "ALPHA",
    "DESC",
    "ASC",
    "BY",
    "STORE",
    "REPLACE",
    "ABSTTL",
    "DB",
    "ASYNC",
    "SYNC",
    "ON",
    "OFF",
    "SKIP",
    "ID",
    "ADDR",
    "USER",
    "SKIPME",
    "yes",
    "no",
    "WRITE",
    "ALL",
    "TIMEOUT",
    "ERROR",
    "AUTH",
    "SETNAME",
    "default",
    "3",
    "2",
    "hz",
    "maxmemory",
    "save",
    "timeout",
    "LIB-NAME",
    "\x00",
    "a\r\nb",
    "\u{e9}",
    "nosort",
    "w_*",
    "h_*->f",
    "#",
    "FILTERBY",
    "ACLCAT",
    "PATTERN",
    "NOSAVE",
    "ABORT",
    "RELOAD",
    "HELP",
    "WITHVALUES",
    "0.001",
];

fn names() -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = all_commands()
        // REPLICAOF/SLAVEOF make the whole server a replica that refuses every client's
        // writes: the reply model does not follow roles (the replication tests do).
        .filter(|c| !matches!(c.name, "replicaof" | "slaveof"))
        .map(|c| c.name.split('|').map(str::to_string).collect())
        .collect();
    out.push(vec!["nosuchcommand".into()]);
    out
}

/// Whole requests that reach the states the reply model must follow, drawn often enough that
/// their combinations (SKIP then EXEC, SUBSCRIBE inside MULTI, a blocked client's pipeline...)
/// come up in a CI-sized run.
const SCENARIOS: &[&[&str]] = &[
    &["CLIENT", "REPLY", "OFF"],
    &["CLIENT", "REPLY", "ON"],
    &["CLIENT", "REPLY", "SKIP"],
    &["MULTI"],
    &["EXEC"],
    &["DISCARD"],
    &["WATCH", "k"],
    &["UNWATCH"],
    &["SET", "k", "v"],
    &["GET", "k"],
    &["SUBSCRIBE", "ch", "ch2"],
    &["SUBSCRIBE", "ch"],
    &["UNSUBSCRIBE"],
    &["UNSUBSCRIBE", "ch", "nosuch"],
    &["PSUBSCRIBE", "c*"],
    &["PUNSUBSCRIBE"],
    &["SSUBSCRIBE", "ch"],
    &["SUNSUBSCRIBE"],
    &["PUBLISH", "ch", "m"],
    &["SPUBLISH", "ch", "m"],
    &["PING"],
    &["PING", "x"],
    &["HELLO", "3"],
    &["HELLO", "2"],
    &["HELLO"],
    &["RESET"],
    &["QUIT"],
    &["BLPOP", "list", "0"],
    &["BLPOP", "list", "0.05"],
    &["BRPOPLPUSH", "list", "list2", "0"],
    &["BZPOPMIN", "z", "1"],
    &["LPUSH", "list", "a"],
    &["ZADD", "z", "1", "a"],
    &["CLIENT", "PAUSE", "50"],
    &["CLIENT", "PAUSE", "50", "WRITE"],
    &["CLIENT", "UNPAUSE"],
    &["WAIT", "0", "0"],
    &["SHUTDOWN", "NOSAVE"],
    &["CLIENT", "TRACKING", "OFF"],
    &["CLIENT", "TRACKING", "ON"],
    &["CLIENT", "TRACKING", "ON", "BCAST"],
    &["FLUSHALL"],
];

/// Bytes that are not a valid request: the reply is a protocol error and the connection closes.
const GARBAGE: &[&[u8]] = &[
    b"*1\r\nfoo\r\n",
    b"*x\r\n",
    b"\"unbalanced\r\n",
    b"*1\r\n$-5\r\n",
];

const START: u64 = 1_700_000_000_000;

/// One request as the model sees it.
#[derive(Clone)]
enum Req {
    Cmd(Vec<Vec<u8>>),
    /// A protocol error.
    Garbage,
}

impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Req::Cmd(argv) => {
                let words: Vec<String> = argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                write!(f, "{words:?}")
            }
            Req::Garbage => f.write_str("<protocol error>"),
        }
    }
}

/// The replies of `wants` that are pushes, sent under CLIENT REPLY OFF/SKIP too (Redis's
/// CLIENT_PUSHING): (un)subscribe confirmations, in both protocols.
fn pushes(wants: &[Want]) -> Vec<Want> {
    wants
        .iter()
        .copied()
        .filter(|w| matches!(w, Want::Confirm(_)))
        .collect()
}

/// What one reply must be (published messages are set aside before this is checked).
#[derive(Clone, Copy, Debug)]
enum Want {
    Any,
    Error,
    Simple(&'static str),
    /// A (un)subscribe confirmation: an array (RESP2) or push (RESP3) led by this kind.
    Confirm(&'static str),
}

#[derive(Clone, Debug, Default)]
struct Multi {
    queued: Vec<Vec<Vec<u8>>>,
    doomed: bool,
}

/// What the test knows of one client: the requests sent and not yet answered, the output not
/// yet matched, and the state that decides how many replies the next request gets.
#[derive(Clone, Debug)]
struct Model {
    slot: ClientHandle,
    /// CLIENT ID, for CLIENT KILL / UNBLOCK from the other client.
    id: u64,
    queue: VecDeque<Req>,
    out: Vec<u8>,
    /// None once a HELLO's reply was silenced (its outcome is then unknown).
    resp3: Option<bool>,
    off: bool,
    skip: bool,
    skip_next: bool,
    multi: Option<Multi>,
    watching: bool,
    subs: [BTreeSet<Vec<u8>>; 3],
    /// QUIT or a protocol error was run: the server ignores the rest and closes once a write
    /// has sent everything; if CLIENT REPLY OFF/SKIP silenced its reply, and nothing else was
    /// pending, no write comes and the connection stays open, deaf (as in Redis).
    closing: bool,
    /// That reply was sent: the connection must close once it is read.
    must_close: bool,
    /// Since the last reply matched: whether the client was subscribed at some point, and the
    /// protocol (None if it changed): published messages waiting ahead of the next reply were
    /// written then (silenced requests may have run in between: RESET, HELLO, UNSUBSCRIBE).
    msg_subscribed: bool,
    msg_resp3: Option<bool>,
    /// The state can no longer be known (a silenced EXEC that WATCH may have aborted): the
    /// client is replaced at the end of the step.
    lost: bool,
}

const SUB_KINDS: [(&str, &str, usize); 6] = [
    ("subscribe", "subscribe", 0),
    ("psubscribe", "psubscribe", 1),
    ("ssubscribe", "ssubscribe", 2),
    ("unsubscribe", "unsubscribe", 0),
    ("punsubscribe", "punsubscribe", 1),
    ("sunsubscribe", "sunsubscribe", 2),
];

fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// A frame's extent, checked strictly: `Ok(None)` while incomplete. `resp3` None accepts
/// both protocols.
fn frame_len(buf: &[u8], resp3: Option<bool>) -> Result<Option<usize>, String> {
    fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
        let Some(nl) = buf[at..].iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        if nl == 0 || buf[at + nl - 1] != b'\r' {
            return Err(format!("line without CRLF at byte {at}"));
        }
        Ok(Some((&buf[at..at + nl - 1], at + nl + 1)))
    }
    fn walk(buf: &[u8], at: usize, resp3: Option<bool>) -> Result<Option<usize>, String> {
        let Some(&kind) = buf.get(at) else {
            return Ok(None);
        };
        let only3 = b"_,#(=%~>|!";
        if resp3 == Some(false) && only3.contains(&kind) {
            return Err(format!(
                "RESP3 type {:?} sent to a RESP2 client",
                kind as char
            ));
        }
        let Some((body, next)) = line(buf, at + 1)? else {
            return Ok(None);
        };
        let num = || -> Result<i64, String> {
            std::str::from_utf8(body)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad number {:?}", String::from_utf8_lossy(body)))
        };
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {
                if kind == b':' {
                    num()?;
                }
                Ok(Some(next))
            }
            b'$' | b'=' | b'!' => {
                let n = num()?;
                if n == -1 && kind == b'$' {
                    if resp3 == Some(true) {
                        return Err("RESP2 null bulk ($-1) sent to a RESP3 client".into());
                    }
                    return Ok(Some(next));
                }
                let n = usize::try_from(n).map_err(|_| format!("bad length {n}"))?;
                if buf.len() < next + n + 2 {
                    return Ok(None);
                }
                if &buf[next + n..next + n + 2] != b"\r\n" {
                    return Err("bulk string not closed by CRLF".into());
                }
                Ok(Some(next + n + 2))
            }
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                let n = num()?;
                if n == -1 && kind == b'*' {
                    if resp3 == Some(true) {
                        return Err("RESP2 null array (*-1) sent to a RESP3 client".into());
                    }
                    return Ok(Some(next));
                }
                let n = usize::try_from(n).map_err(|_| format!("bad count {n}"))?;
                let n = if matches!(kind, b'%' | b'|') {
                    2 * n
                } else {
                    n
                };
                let mut at = next;
                for _ in 0..n {
                    match walk(buf, at, resp3)? {
                        Some(end) => at = end,
                        None => return Ok(None),
                    }
                }
                if kind == b'|' {
                    return walk(buf, at, resp3);
                }
                Ok(Some(at))
            }
            other => Err(format!("unknown type byte {:?}", other as char)),
        }
    }
    walk(buf, 0, resp3)
}

/// A published message (pmessage, smessage...): pushes in RESP3, arrays in RESP2; or a
/// client-side caching push (`invalidate`, `tracking-redir-broken`: a random CLIENT TRACKING ON
/// makes them), which come between replies like messages.
fn is_message(r: &Reply, subscribed: bool) -> bool {
    let items = match r {
        Reply::Push(items) => items,
        Reply::Array(items) if subscribed => items,
        _ => return false,
    };
    if matches!(r, Reply::Push(_))
        && matches!(
            (items.first(), items.len()),
            (Some(Reply::Bulk(k)), 2) if k == b"invalidate" || k == b"tracking-redir-broken"
        )
    {
        return true;
    }
    matches!(
        (items.first(), items.len()),
        (Some(Reply::Bulk(k)), 3) if k == b"message" || k == b"smessage"
    ) || matches!((items.first(), items.len()), (Some(Reply::Bulk(k)), 4) if k == b"pmessage")
}

/// Whether SHUTDOWN's options are valid (persistence.rs's `shutdown`): then it succeeds.
fn shutdown_succeeds(args: &[Vec<u8>]) -> bool {
    let opts: Vec<String> = args[1..].iter().map(|a| lower(a)).collect();
    let known = ["nosave", "save", "now", "force", "abort"];
    opts.iter().all(|o| known.contains(&o.as_str()))
        && !opts.iter().any(|o| o == "abort")
        && !(opts.iter().any(|o| o == "nosave") && opts.iter().any(|o| o == "save"))
}

/// How the dispatcher treats a top-level request (Redis's processCommand order).
enum Route {
    /// Refused before running: an error reply; a transaction in progress is doomed.
    Reject,
    Queue,
    Call(&'static CommandSpec),
}

impl Model {
    fn new(slot: ClientHandle, id: u64) -> Model {
        Model {
            slot,
            id,
            queue: VecDeque::new(),
            out: Vec::new(),
            resp3: Some(false),
            off: false,
            skip: false,
            skip_next: false,
            multi: None,
            watching: false,
            subs: Default::default(),
            closing: false,
            must_close: false,
            msg_subscribed: false,
            msg_resp3: Some(false),
            lost: false,
        }
    }

    fn subscribed(&self) -> bool {
        self.subs.iter().any(|s| !s.is_empty())
    }

    /// The next reply in `out` from `*pos`, published messages skipped (`may_get_messages`:
    /// the client is subscribed before or after the request being matched).
    fn next_reply(
        &self,
        pos: &mut usize,
        may_get_messages: bool,
    ) -> Result<Option<(Reply, Vec<u8>)>, String> {
        loop {
            let rest = &self.out[*pos..];
            let Some(n) = frame_len(rest, None)? else {
                return Ok(None);
            };
            let (r, used) = decode_reply(&rest[..n])?.ok_or("the decoder wants more bytes")?;
            if used != n {
                return Err(format!("decoder took {used} bytes of a {n}-byte frame"));
            }
            let message = is_message(&r, may_get_messages || self.msg_subscribed);
            // Checked again in the protocol it was written in.
            frame_len(rest, if message { self.msg_resp3 } else { self.resp3 })?;
            let bytes = rest[..n].to_vec();
            *pos += n;
            if !message {
                return Ok(Some((r, bytes)));
            }
        }
    }

    /// Takes replies matching `wants`; `Ok(false)` if they have not all arrived.
    fn take(
        &self,
        pos: &mut usize,
        wants: &[Want],
        msgs: bool,
    ) -> Result<Option<Vec<Reply>>, String> {
        let mut got = Vec::new();
        for w in wants {
            let Some((r, bytes)) = self.next_reply(pos, msgs)? else {
                return Ok(None);
            };
            let ok = match w {
                Want::Any => true,
                Want::Error => r.is_error(),
                Want::Simple(s) => r == Reply::simple(s),
                Want::Confirm(kind) => matches!(
                    &r,
                    Reply::Array(items) | Reply::Push(items)
                        if items.len() == 3 && items[0] == Reply::bulk(kind.as_bytes())
                ),
            };
            if !ok {
                return Err(format!(
                    "expected a reply like {w:?}, got {:?}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
            got.push(r);
        }
        Ok(Some(got))
    }

    fn route(&mut self, args: &[Vec<u8>]) -> Route {
        let Some(mut spec) = lookup(&args[0]) else {
            return Route::Reject;
        };
        if !spec.subcommands.is_empty() && args.len() >= 2 {
            match spec.subcommand(&args[1]) {
                Some(sub) => spec = sub,
                None => return Route::Reject,
            }
        }
        if !spec.arity_ok(args.len()) {
            if spec.name == "exec" {
                // A refused EXEC discards the transaction (execCommandAbort).
                self.multi = None;
                self.watching = false;
            }
            return Route::Reject;
        }
        if self.multi.is_some() && spec.has(flags::NO_MULTI) {
            return Route::Reject;
        }
        const SUBSCRIBER_OK: [&str; 9] = [
            "ping",
            "subscribe",
            "ssubscribe",
            "unsubscribe",
            "sunsubscribe",
            "psubscribe",
            "punsubscribe",
            "quit",
            "reset",
        ];
        if self.subscribed() && !SUBSCRIBER_OK.contains(&spec.name) {
            match self.resp3 {
                Some(false) => return Route::Reject,
                Some(true) => {}
                None => self.lost = true,
            }
        }
        if self.multi.is_some()
            && !matches!(
                spec.name,
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
            )
        {
            return Route::Queue;
        }
        Route::Call(spec)
    }

    /// The replies a command run by `call` writes (at top level or inside EXEC), and its
    /// effect on the model. HELLO's effect is settled from its reply (`hello_pending`).
    fn call_effects(
        &mut self,
        spec: &CommandSpec,
        args: &[Vec<u8>],
        in_exec: bool,
    ) -> (Vec<Want>, bool) {
        let name = spec.name;
        if name == "ssubscribe" && in_exec {
            // Refused to a client that may not block (DENY BLOCKING), with no exception for
            // MULTI as SUBSCRIBE and PSUBSCRIBE have.
            return (vec![Want::Error], false);
        }
        if name == "client|reply" {
            return match lower(&args[2]).as_str() {
                "on" => {
                    self.off = false;
                    self.skip = false;
                    (vec![Want::Simple("OK")], false)
                }
                "off" => {
                    self.off = true;
                    (vec![], false)
                }
                "skip" => {
                    if !self.off {
                        self.skip_next = true;
                    }
                    (vec![], false)
                }
                _ => (vec![Want::Error], false),
            };
        }
        if let Some(&(_, kind, set)) = SUB_KINDS.iter().find(|(n, ..)| *n == name) {
            let chans = &args[1..];
            let subscribe = !name.contains("unsub");
            let wants = if subscribe || !chans.is_empty() {
                vec![Want::Confirm(kind); chans.len()]
            } else {
                vec![Want::Confirm(kind); self.subs[set].len().max(1)]
            };
            if subscribe {
                self.subs[set].extend(chans.iter().cloned());
            } else if chans.is_empty() {
                self.subs[set].clear();
            } else {
                for c in chans {
                    self.subs[set].remove(c);
                }
            }
            return (wants, false);
        }
        if name == "hello" && args.len() > 1 {
            return (vec![Want::Any], true);
        }
        (vec![Want::Any], false)
    }

    /// Settles HELLO from its reply (read in either protocol): a map means RESP3, an array
    /// RESP2, an error no change. Silenced, `HELLO 2|3` still switches; with AUTH or SETNAME
    /// options the outcome is unknown.
    fn settle_hello(&mut self, was: Option<bool>, args: &[Vec<u8>], reply: Option<&Reply>) {
        self.resp3 = match reply {
            Some(Reply::Map(_)) => Some(true),
            Some(Reply::Array(_)) => Some(false),
            Some(_) => was,
            None if args.len() == 2 => match args[1].as_slice() {
                b"2" => Some(false),
                b"3" => Some(true),
                _ => was,
            },
            None => None,
        };
    }

    /// Matches the oldest unanswered request with the output. `Ok(false)`: its replies have
    /// not all arrived (it is blocked, paused or not run yet).
    fn settle_one(&mut self, shutdowns: &mut usize) -> Result<bool, String> {
        let Some(req) = self.queue.front().cloned() else {
            return Ok(false);
        };
        if self.closing {
            // QUIT or a protocol error was answered: the rest of the input is ignored.
            self.queue.clear();
            return Ok(false);
        }
        let mut m = self.clone();
        m.msg_subscribed |= m.subscribed();
        if m.msg_resp3 != m.resp3 {
            m.msg_resp3 = None;
        }
        let mut pos = 0;
        let msgs_before = self.subscribed();
        let done = match &req {
            Req::Garbage => {
                let wants = if m.off || m.skip {
                    vec![]
                } else {
                    vec![Want::Error]
                };
                m.closing = true;
                m.must_close = !wants.is_empty();
                m.take(&mut pos, &wants, msgs_before)?.is_some()
            }
            Req::Cmd(args) => m.run_top(args, &mut pos, shutdowns)?,
        };
        if !done {
            return Ok(false);
        }
        m.queue.pop_front();
        m.out.drain(..pos);
        if pos > 0 {
            m.msg_subscribed = m.subscribed();
            m.msg_resp3 = m.resp3;
        }
        *self = m;
        Ok(true)
    }

    /// A top-level request: routing, its replies (or the transaction's), reply silencing.
    fn run_top(
        &mut self,
        args: &[Vec<u8>],
        pos: &mut usize,
        shutdowns: &mut usize,
    ) -> Result<bool, String> {
        let msgs_before = self.subscribed();
        if lower(&args[0]) == "quit" {
            let wants = if self.off || self.skip {
                vec![]
            } else {
                vec![Want::Simple("OK")]
            };
            self.closing = true;
            self.must_close = !wants.is_empty();
            return Ok(self.take(pos, &wants, msgs_before)?.is_some());
        }
        let in_multi = self.multi.is_some();
        let (wants, hello, exec) = match self.route(args) {
            Route::Reject => {
                if let Some(t) = &mut self.multi {
                    t.doomed = true;
                }
                (vec![Want::Error], false, None)
            }
            Route::Queue => {
                if let Some(t) = &mut self.multi {
                    t.queued.push(args.to_vec());
                }
                (vec![Want::Simple("QUEUED")], false, None)
            }
            Route::Call(spec) => match spec.name {
                "multi" if in_multi => (vec![Want::Error], false, None),
                "multi" => {
                    self.multi = Some(Multi::default());
                    (vec![Want::Simple("OK")], false, None)
                }
                "discard" if in_multi => {
                    self.multi = None;
                    self.watching = false;
                    (vec![Want::Simple("OK")], false, None)
                }
                "watch" if in_multi => (vec![Want::Error], false, None),
                "watch" => {
                    self.watching = true;
                    (vec![Want::Any], false, None)
                }
                "unwatch" => {
                    self.watching = false;
                    (vec![Want::Any], false, None)
                }
                "exec" => match self.multi.take() {
                    None => (vec![Want::Error], false, None),
                    Some(t) if t.doomed => {
                        self.watching = false;
                        (vec![Want::Error], false, None)
                    }
                    Some(t) => (vec![], false, Some(t.queued)),
                },
                "reset" => {
                    self.resp3 = Some(false);
                    self.off = false;
                    self.skip_next = false;
                    self.multi = None;
                    self.watching = false;
                    self.subs = Default::default();
                    (vec![Want::Simple("RESET")], false, None)
                }
                "monitor" => {
                    // A monitor is sent a line for every command any client runs: the model
                    // does not follow that stream, so the client is replaced.
                    self.lost = true;
                    (vec![], false, None)
                }
                // A replica (SYNC/PSYNC) is sent an RDB and the replication stream; REPLCONF
                // ACK/GETACK answer nothing; WAIT for replicas blocks for acks that never
                // come: the model follows none of it, so the client is replaced.
                "sync" | "psync" => {
                    self.lost = true;
                    (vec![], false, None)
                }
                "replconf"
                    if args[1..]
                        .iter()
                        .any(|a| matches!(lower(a).as_str(), "ack" | "getack")) =>
                {
                    self.lost = true;
                    (vec![], false, None)
                }
                "wait"
                    if std::str::from_utf8(&args[1])
                        .ok()
                        .and_then(|n| n.parse::<i64>().ok())
                        .is_some_and(|n| n > 0) =>
                {
                    self.lost = true;
                    (vec![], false, None)
                }
                "shutdown" if shutdown_succeeds(args) => {
                    // No reply: the host exits on Event::Shutdown (this engine has no storage
                    // to fail saving to).
                    *shutdowns += 1;
                    (vec![], false, None)
                }
                _ => {
                    let (w, h) = self.call_effects(spec, args, false);
                    (w, h, None)
                }
            },
        };
        if self.lost {
            // The route depends on what the model cannot know: the client is replaced.
            return Ok(true);
        }
        if let Some(queued) = exec {
            return self.run_exec(queued, pos);
        }
        let silenced = self.off || self.skip;
        self.skip = std::mem::take(&mut self.skip_next);
        let msgs = msgs_before || self.subscribed();
        let was = self.resp3;
        if silenced {
            if hello {
                self.settle_hello(was, args, None);
            }
            // (Un)subscribe confirmations are pushes: sent whatever CLIENT REPLY says.
            return Ok(self.take(pos, &pushes(&wants), msgs)?.is_some());
        }
        if hello {
            self.resp3 = None;
        }
        let Some(got) = self.take(pos, &wants, msgs)? else {
            return Ok(false);
        };
        if hello {
            self.settle_hello(was, args, got.first());
        }
        Ok(true)
    }

    /// EXEC of a transaction that was not doomed: one array of the queued commands' replies
    /// (nil if a WATCHed key changed). As Redis 7.0 decides at each write whether CLIENT REPLY
    /// OFF/SKIP drops it, the header is seen if replies are on as EXEC starts, and each queued
    /// command's replies as the state is when it writes (CLIENT REPLY OFF/ON inside change it;
    /// a SKIP inside applies after the EXEC). So the array's length may differ from the
    /// elements sent (SUBSCRIBE with other than one channel, CLIENT REPLY inside), and a
    /// silenced EXEC may send the replies that follow an ON inside it.
    fn run_exec(&mut self, queued: Vec<Vec<Vec<u8>>>, pos: &mut usize) -> Result<bool, String> {
        let watching = std::mem::take(&mut self.watching);
        let finish = |m: &mut Model| m.skip = std::mem::take(&mut m.skip_next);
        let mut p = *pos;
        if self.off || self.skip {
            if watching {
                // Neither the nil of an abort nor the header is seen: whether the queue ran
                // cannot be told if running it could show or change anything here.
                let effects = queued.iter().any(|q| {
                    let n = lower(&q[0]);
                    n == "hello" || n.contains("subscribe") || n == "client"
                });
                if effects {
                    self.lost = true;
                }
                finish(self);
                return Ok(true);
            }
        } else {
            // Visible: the first line says whether it ran.
            let msgs = self.subscribed();
            let mut at = *pos;
            let header = loop {
                let rest = &self.out[at..];
                let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                    return Ok(false);
                };
                let line = &rest[..nl + 1];
                if matches!(line, b"*-1\r\n" | b"_\r\n") || !line.starts_with(b"*") {
                    // Not a header: a whole frame (a message, or the nil of an aborted EXEC).
                    let Some(n) = frame_len(rest, None)? else {
                        return Ok(false);
                    };
                    let (r, _) = decode_reply(&rest[..n])?.ok_or("the decoder wants more bytes")?;
                    if is_message(&r, msgs || self.msg_subscribed) {
                        frame_len(rest, self.msg_resp3)?;
                        at += n;
                        continue;
                    }
                    frame_len(rest, self.resp3)?;
                    if r == Reply::Nil || r == Reply::NilArray {
                        if !watching {
                            return Err("EXEC answered nil without a WATCH".into());
                        }
                        finish(self);
                        *pos = at + n;
                        return Ok(true);
                    }
                    return Err(format!("EXEC answered {r:?}, not an array"));
                }
                break (line.to_vec(), at + nl + 1);
            };
            let want = format!("*{}\r\n", queued.len());
            if header.0 != want.as_bytes() {
                return Err(format!(
                    "EXEC of {} queued commands began {:?}",
                    queued.len(),
                    String::from_utf8_lossy(&header.0)
                ));
            }
            p = header.1;
        }
        // The queued commands run one after the other, each changing the state the next
        // one's replies are read with (and whether they are sent at all).
        let mut m = self.clone();
        for q in &queued {
            let spec = match lookup(&q[0]) {
                Some(s) if !s.subcommands.is_empty() && q.len() >= 2 => s.subcommand(&q[1]),
                s => s,
            }
            .expect("looked up when queued");
            let before = m.subscribed();
            // Messages inside the array are written by the queued commands (a PUBLISH to a
            // channel this client has just subscribed to), in the protocol of the moment.
            m.msg_resp3 = m.resp3;
            let (wants, hello) = m.call_effects(spec, q, true);
            let msgs = before || m.subscribed();
            let was = m.resp3;
            // After the command's effect on the state: CLIENT REPLY ON's +OK is sent.
            if m.off || m.skip {
                if hello {
                    m.settle_hello(was, q, None);
                }
                if m.take(&mut p, &pushes(&wants), msgs)?.is_none() {
                    return Ok(false);
                }
                continue;
            }
            if hello {
                m.resp3 = None;
            }
            let Some(got) = m.take(&mut p, &wants, msgs)? else {
                return Ok(false);
            };
            if hello {
                m.settle_hello(was, q, got.first());
            }
        }
        *self = m;
        finish(self);
        *pos = p;
        Ok(true)
    }
}

/// Two fuzzed clients, their models, and the engine.
struct Harness {
    eng: Engine,
    now: u64,
    clients: Vec<Model>,
    next_id: u64,
    /// SHUTDOWNs the model saw succeed (for the log).
    shutdowns: usize,
    /// What was sent and received, for the failure message.
    log: Vec<String>,
}

impl Harness {
    fn new() -> Harness {
        let mut eng = Engine::new(Config::default(), 3);
        eng.set_host_info(UnixMillis(START), Default::default());
        let mut h = Harness {
            eng,
            now: START,
            clients: Vec::new(),
            next_id: 1,
            shutdowns: 0,
            log: Vec::new(),
        };
        for _ in 0..2 {
            let m = h.connect();
            h.clients.push(m);
        }
        h
    }

    fn connect(&mut self) -> Model {
        let slot = self.eng.connect(UnixMillis(self.now), ConnInfo::default());
        self.next_id += 1;
        Model::new(slot, self.next_id - 1)
    }

    fn send(&mut self, who: usize, reqs: Vec<(Req, Vec<u8>)>, split: usize) {
        let m = &mut self.clients[who];
        let mut bytes = Vec::new();
        for (req, b) in reqs {
            self.log.push(format!("c{} > {req:?}", m.id));
            m.queue.push_back(req);
            bytes.extend(b);
        }
        let cut = split % (bytes.len() + 1);
        self.eng.feed(UnixMillis(self.now), m.slot, &bytes[..cut]);
        self.eng.feed(UnixMillis(self.now), m.slot, &bytes[cut..]);
    }

    fn tick(&mut self, advance: u64) {
        self.log.push(format!("tick +{advance}ms"));
        self.now += advance;
        self.eng.tick(UnixMillis(self.now));
    }

    /// Drains every client's output and matches it with its requests; replaces clients the
    /// server closed (checking that a QUIT or protocol error left nothing unexplained).
    fn settle(&mut self) -> Result<(), String> {
        while let Some(e) = self.eng.poll_event() {
            if e == Event::Shutdown {
                self.log.push("Event::Shutdown".into());
            }
        }
        for i in 0..self.clients.len() {
            let slot = self.clients[i].slot;
            let mut out = Vec::new();
            self.eng.drain_output(slot, &mut out);
            let m = &mut self.clients[i];
            if !out.is_empty() {
                self.log
                    .push(format!("c{} < {:?}", m.id, String::from_utf8_lossy(&out)));
            }
            m.out.extend(out);
            while !m.lost
                && m.settle_one(&mut self.shutdowns).map_err(|e| {
                    format!("client {}: {e}\n  unanswered requests: {:?}", m.id, m.queue)
                })?
            {}
            let closed = self.eng.should_close(slot);
            if !closed && !m.lost {
                if m.must_close {
                    return Err(format!(
                        "client {}: its QUIT or protocol error was answered, and it stays open",
                        m.id
                    ));
                }
                // Messages sent before may still wait there, unmatched.
                if m.closing {
                    if let Some((r, _)) = m.next_reply(&mut 0, true)? {
                        return Err(format!(
                            "client {}: deaf after a silenced QUIT or protocol error, yet sent {r:?}",
                            m.id
                        ));
                    }
                }
                continue;
            }
            // What is left must not be a reply nobody asked for, unless the server cut the
            // client off (CLIENT KILL, idle timeout) in the middle of it.
            let mut p = 0;
            if m.queue.is_empty() && !m.lost {
                match m.next_reply(&mut p, m.subscribed()) {
                    Ok(None) => {}
                    Ok(Some((r, _))) => {
                        return Err(format!(
                            "client {}: a reply no request asked for: {r:?}",
                            m.id
                        ))
                    }
                    Err(e) => return Err(format!("client {}: {e}", m.id)),
                }
            }
            self.eng.disconnect(slot);
            self.clients[i] = self.connect();
        }
        Ok(())
    }

    /// Ends every wait (pauses, blocked clients, timeouts) and checks that every request
    /// was answered.
    fn finish(&mut self) -> Result<(), String> {
        let ctl = self.eng.connect(UnixMillis(self.now), ConnInfo::default());
        self.next_id += 1;
        // Rounds while they make progress: a buffered request may block or pause again.
        let mut stalled = 0;
        while stalled < 3 {
            let before: usize = self.clients.iter().map(|m| m.queue.len()).sum();
            let mut bytes = encode_request(&["CLIENT", "UNPAUSE"]);
            for m in &self.clients {
                bytes.extend(encode_request(&["CLIENT", "UNBLOCK", &m.id.to_string()]));
            }
            self.eng.feed(UnixMillis(self.now), ctl, &bytes);
            self.now += 2_000_000_000;
            self.eng.tick(UnixMillis(self.now));
            let mut out = Vec::new();
            self.eng.drain_output(ctl, &mut out);
            if stalled == 0 {
                self.log.push(format!(
                    "ctl < {:?} (CLIENT UNPAUSE, CLIENT UNBLOCK each, a tick of 2e9 ms)",
                    String::from_utf8_lossy(&out)
                ));
            }
            self.settle()?;
            // Silenced requests leave the queue at once, run or not: one round at least. A
            // client unblocked is progress too: silenced, its pipeline may block again and
            // again (BRPOPLPUSH after BRPOPLPUSH) before a request that answers.
            let after: usize = self.clients.iter().map(|m| m.queue.len()).sum();
            if after == 0 {
                return Ok(());
            }
            let unblocked = out.windows(4).any(|w| w == b":1\r\n");
            stalled = if after < before || unblocked {
                0
            } else {
                stalled + 1
            };
        }
        Err(format!(
            "requests never answered: {:?}",
            self.clients
                .iter()
                .map(|m| (m.id, &m.queue))
                .collect::<Vec<_>>()
        ))
    }
}

impl Harness {
    fn failure(&self, e: String) -> String {
        let from = self.log.len().saturating_sub(60);
        format!(
            "{e}\n--- the last steps ({} SHUTDOWNs succeeded in this case):\n{}",
            self.shutdowns,
            self.log[from..].join("\n")
        )
    }
}

fn inline_form(argv: &[Vec<u8>]) -> Option<Vec<u8>> {
    let plain = |a: &Vec<u8>| {
        !a.is_empty()
            && a.iter()
                .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\'')
    };
    if !argv.iter().all(plain) || argv[0][0] == b'*' {
        return None;
    }
    let mut line = argv.join(&b' ');
    line.extend_from_slice(b"\r\n");
    Some(line)
}

/// One step: (kind, command or scenario, argument tokens, client, clock advance, split
/// point / form).
type Step = (u8, usize, Vec<usize>, u8, u64, usize);

fn run_case(steps: &[Step]) -> Result<(), String> {
    let names = names();
    let mut h = Harness::new();
    for &(kind, pick, ref toks, who, advance, form) in steps {
        let slot = (who % 2) as usize;
        let other = h.clients[1 - slot].id.to_string();
        let words =
            |w: &[&str]| -> Vec<Vec<u8>> { w.iter().map(|s| s.as_bytes().to_vec()).collect() };
        let random = |pick: usize, toks: &[usize]| -> Vec<Vec<u8>> {
            let mut argv: Vec<Vec<u8>> = names[pick % names.len()]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect();
            argv.extend(
                toks.iter()
                    .map(|&t| TOKENS[t % TOKENS.len()].as_bytes().to_vec()),
            );
            argv
        };
        let argvs: Vec<Vec<Vec<u8>>> = match kind {
            0..=49 => vec![random(pick, toks)],
            50..=74 => vec![words(SCENARIOS[pick % SCENARIOS.len()])],
            75..=84 => {
                // A transaction: MULTI, a few commands (scenarios or random ones), then EXEC
                // (or DISCARD), pipelined.
                let mut t = vec![words(&["MULTI"])];
                for &x in toks.iter().take(4) {
                    t.push(match x % 3 {
                        0 => random(x / 3, &[x / 7, x / 11][..(x % 3)]),
                        _ => words(SCENARIOS[(x / 3) % SCENARIOS.len()]),
                    });
                }
                t.push(words(if pick % 5 == 0 {
                    &["DISCARD"]
                } else {
                    &["EXEC"]
                }));
                t
            }
            85..=92 => vec![match pick % 6 {
                0 | 1 => words(&["CLIENT", "UNBLOCK", &other]),
                2 => words(&["CLIENT", "UNBLOCK", &other, "ERROR"]),
                3 | 4 => words(&["PUBLISH", "ch", "hello"]),
                _ => words(&["CLIENT", "KILL", "ID", &other]),
            }],
            _ => vec![],
        };
        if !argvs.is_empty() {
            let mut reqs = Vec::new();
            for argv in argvs {
                let bytes = match form % 4 {
                    0 => inline_form(&argv).unwrap_or_else(|| encode_request(&argv)),
                    _ => encode_request(&argv),
                };
                reqs.push((Req::Cmd(argv), bytes));
            }
            if form % 7 == 0 {
                // A pipeline: a scenario request right behind.
                let next = words(SCENARIOS[(pick / 7) % SCENARIOS.len()]);
                let b = encode_request(&next);
                reqs.push((Req::Cmd(next), b));
            }
            h.send(slot, reqs, form / 4);
        } else if kind < 95 {
            let g = GARBAGE[pick % GARBAGE.len()];
            h.send(slot, vec![(Req::Garbage, g.to_vec())], form / 4);
        }
        if who == 2 {
            h.tick(advance);
        }
        h.settle().map_err(|e| h.failure(e))?;
    }
    h.finish().map_err(|e| h.failure(e))
}

proptest! {
    // FUZZ_CASES=N runs more (CI runs 400).
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
    ))]
    #[test]
    fn every_request_gets_exactly_its_replies(
        steps in proptest::collection::vec(
            (0u8..100, 0usize..10_000, proptest::collection::vec(0usize..10_000, 0..7), 0u8..3, 0u64..2000, 0usize..400),
            1..60,
        )
    ) {
        if let Err(e) = run_case(&steps) {
            prop_assert!(false, "{}", e);
        }
    }
}
