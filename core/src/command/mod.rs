//! Commands: the table's row type, the context a handler runs in, Redis's error texts, and
//! dispatch in Redis's order (processCommand): QUIT, lookup, arity, then the handler.
//!
//! A handler's signature is `fn(&mut Ctx, &[&[u8]]) -> Result<(), CmdError>`: `args[0]` is the
//! command name as sent. Handlers validate everything first and write their reply last,
//! through `ctx.out()`, straight into the client's output buffer (no intermediate `Reply`
//! allocation on the hot path); an `Err` is written by dispatch.

pub mod blocking;
pub mod connection;
pub mod expire;
pub mod hash;
pub mod keys;
pub mod list;
pub mod object;
pub mod persistence;
pub mod pubsub;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod table;
pub mod tx;
pub mod zset;

use crate::engine::{Client, ClientId, Server};
use crate::keyspace::Db;
use crate::resp::{parse_i64, ReplyWriter};
use crate::time::UnixMillis;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

pub type Handler = fn(&mut Ctx, &[&[u8]]) -> Result<(), CmdError>;

/// Command flags, in the order COMMAND INFO lists them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const MODULE: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const ASKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const MAY_REPLICATE: u32 = 1 << 15;
    pub const SENTINEL: u32 = 1 << 16;
    pub const ONLY_SENTINEL: u32 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    pub const PROTECTED: u32 = 1 << 19;
    pub const MODULE_GETKEYS: u32 = 1 << 20;
    pub const MODULE_NO_CLUSTER: u32 = 1 << 21;
    pub const NO_ASYNC_LOADING: u32 = 1 << 22;
    pub const NO_MULTI: u32 = 1 << 23;
    pub const MOVABLEKEYS: u32 = 1 << 24;
    pub const ALLOW_BUSY: u32 = 1 << 25;
    pub const MODULE_GETCHANNELS: u32 = 1 << 26;
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 27;

    /// Names as COMMAND INFO prints them, indexed by bit.
    pub const NAMES: [&str; 28] = [
        "write",
        "readonly",
        "denyoom",
        "module",
        "admin",
        "pubsub",
        "noscript",
        "blocking",
        "loading",
        "stale",
        "skip_monitor",
        "skip_slowlog",
        "asking",
        "fast",
        "no_auth",
        "may_replicate",
        "sentinel",
        "only_sentinel",
        "no_mandatory_keys",
        "protected",
        "module_getkeys",
        "module_no_cluster",
        "no_async_loading",
        "no_multi",
        "movablekeys",
        "allow_busy",
        "module_getchannels",
        "touches_arbitrary_keys",
    ];
}

/// One row of the command table (see table.rs, generated from Redis's own metadata).
pub struct CommandSpec {
    /// Lowercase; a subcommand's is "parent|sub" (Redis's fullname).
    pub name: &'static str,
    /// Redis's arity: N means exactly N arguments (name included), -N at least N.
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub acl_categories: &'static [&'static str],
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    /// COMMAND INFO's tips and key specs, as Redis sends them in RESP3.
    pub tips_resp3: &'static [u8],
    pub key_specs_resp3: &'static [u8],
    /// COMMAND DOCS's fields beyond summary/since/group/complexity (arguments, history ...),
    /// as RESP3 key/value pairs.
    pub doc_extra_count: usize,
    pub doc_extra_resp3: &'static [u8],
    /// None for containers (CLIENT, CONFIG, COMMAND), whose subcommands have handlers.
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The part after '|' for subcommands.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands
            .iter()
            .find(|s| s.short_name().as_bytes().eq_ignore_ascii_case(name))
    }
}

fn command_index() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    INDEX.get_or_init(|| table::COMMANDS.iter().map(|c| (c.name, c)).collect())
}

/// Looks a top-level command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    command_index()
        .get(std::str::from_utf8(lower).ok()?)
        .copied()
}

/// Every command and subcommand, parents before their children.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    table::COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

/// A command error; `Display` is Redis's exact text (without the leading '-').
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    NoSuchKey,
    OutOfRange,
    Overflow,
    /// Any other message, complete with its prefix ("ERR ...", "WRONGTYPE ..."). Bytes,
    /// because some texts quote arguments, which may be binary.
    Msg(Vec<u8>),
}

impl CmdError {
    /// "ERR " + `msg`.
    pub fn err(msg: impl AsRef<[u8]>) -> CmdError {
        let mut text = b"ERR ".to_vec();
        text.extend_from_slice(msg.as_ref());
        CmdError::Msg(text)
    }

    /// The reply text, without the leading '-'.
    pub fn text(&self) -> &[u8] {
        match self {
            CmdError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            }
            CmdError::NotInteger => "ERR value is not an integer or out of range",
            CmdError::NotFloat => "ERR value is not a valid float",
            CmdError::Syntax => "ERR syntax error",
            CmdError::NoSuchKey => "ERR no such key",
            CmdError::OutOfRange => "ERR index out of range",
            CmdError::Overflow => "ERR increment or decrement would overflow",
            CmdError::Msg(m) => return m,
        }
        .as_bytes()
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.text()))
    }
}

/// Redis's `getLongLongFromObjectOrReply`.
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// What a handler can reach: the server state, every client, and which one is calling.
pub struct Ctx<'e> {
    pub now: UnixMillis,
    pub srv: &'e mut Server,
    pub clients: &'e mut slab::Slab<Client>,
    pub id: ClientId,
    pub cmd: &'static CommandSpec,
}

impl<'e> Ctx<'e> {
    pub fn client(&mut self) -> &mut Client {
        &mut self.clients[self.id.0]
    }

    pub fn client_ref(&self) -> &Client {
        &self.clients[self.id.0]
    }

    /// The writer for the calling client's replies.
    pub fn out(&mut self) -> ReplyWriter<'_> {
        let c = &mut self.clients[self.id.0];
        ReplyWriter::new(&mut c.out, c.resp3)
    }

    /// The calling client's selected database.
    pub fn db(&mut self) -> &mut Db {
        let i = self.clients[self.id.0].db;
        &mut self.srv.dbs[i]
    }

    /// Redis's signalModifiedKey + server.dirty++: call after every change to a key of the
    /// current database (WATCH, keyspace notifications and save rules hang off this).
    pub fn key_modified(&mut self, _key: &[u8]) {
        self.srv.dirty += 1;
    }

    /// Replies with a Redis error (used for errors that do not abort the handler's flow).
    pub fn error(&mut self, e: &CmdError) {
        self.srv.stats.error_replies += 1;
        let c = &mut self.clients[self.id.0];
        ReplyWriter::new(&mut c.out, c.resp3).error(e.text());
    }
}

/// Runs one request on behalf of client `id`: Redis's processCommand + call.
pub fn dispatch(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientId,
    args: &[&[u8]],
) {
    srv.stats.commands_processed += 1;
    let reject = |srv: &mut Server, clients: &mut slab::Slab<Client>, msg: Vec<u8>| {
        srv.stats.error_replies += 1;
        let c = &mut clients[id.0];
        ReplyWriter::new(&mut c.out, c.resp3).error(&msg);
    };
    // Redis 7.0 answers QUIT before any lookup, whatever its arguments.
    if is(args[0], "quit") {
        let c = &mut clients[id.0];
        ReplyWriter::new(&mut c.out, c.resp3).ok();
        c.close_after_reply = true;
        return;
    }
    let Some(mut cmd) = lookup(args[0]) else {
        srv.stats.unknown_commands += 1;
        reject(srv, clients, unknown_command_error(args));
        return;
    };
    if !cmd.subcommands.is_empty() && args.len() >= 2 {
        match cmd.subcommand(args[1]) {
            Some(sub) => cmd = sub,
            None => {
                let mut msg = b"ERR unknown subcommand '".to_vec();
                msg.extend_from_slice(truncated(args[1], 128));
                msg.extend_from_slice(b"'. Try ");
                msg.extend(
                    truncated(args[0], usize::MAX)
                        .iter()
                        .map(u8::to_ascii_uppercase),
                );
                msg.extend_from_slice(b" HELP.");
                reject(srv, clients, msg);
                return;
            }
        }
    }
    if !cmd.arity_ok(args.len()) {
        let msg = format!("ERR wrong number of arguments for '{}' command", cmd.name);
        reject(srv, clients, msg.into_bytes());
        return;
    }
    // RESP2 subscribers may only (un)subscribe, PING, QUIT and RESET.
    if let Some(msg) = pubsub::subscriber_mode_error(&clients[id.0], cmd) {
        reject(srv, clients, msg);
        return;
    }
    if cmd.name == "ping" && pubsub::subscriber_ping(&mut clients[id.0], args) {
        return;
    }
    let Some(handler) = cmd.handler else {
        // A container called bare: its arity (-2) has already refused it.
        return;
    };
    let mut ctx = Ctx {
        now,
        srv,
        clients,
        id,
        cmd,
    };
    if let Err(e) = handler(&mut ctx, args) {
        ctx.error(&e);
    }
}

/// What C's `%.<max>s` prints of an argument: up to `max` bytes, stopping at a NUL.
fn truncated(b: &[u8], max: usize) -> &[u8] {
    let end = memchr::memchr(0, b).unwrap_or(b.len()).min(max);
    &b[..end]
}

/// Redis 7.0's text: "unknown command 'x', with args beginning with: 'a' 'b' ".
fn unknown_command_error(args: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(truncated(a, room));
        list.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(truncated(args[0], 128));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&list);
    msg
}
