//! Commands: the table's row type, the context a handler runs in, Redis's error texts, and
//! dispatch in Redis's order (processCommand): QUIT, lookup, arity, then the handler.
//!
//! A handler's signature is `fn(&mut Ctx, &[&[u8]]) -> Result<(), CmdError>`: `args[0]` is the
//! command name as sent. Handlers validate everything first and write their reply last,
//! through `ctx.out()`, straight into the client's output buffer (no intermediate `Reply`
//! allocation on the hot path); an `Err` is written by dispatch (`run_handler`), which first
//! discards whatever part of a reply the handler wrote, so a command never answers twice
//! (debug builds assert that no handler writes and then fails).

pub mod acl;
pub mod bitops;
pub mod blocking;
pub mod client_evict;
pub mod cluster;
pub mod connection;
pub mod debug;
pub mod expire;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod intro;
pub mod keys;
pub mod list;
pub mod migrate;
pub mod notify;
pub mod object;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod table;
pub mod tracking;
pub mod tx;
pub mod zset;

use crate::cnum::parse_i64;
use crate::engine::{Client, ClientHandle, Server};
use crate::keyspace::Db;
use crate::resp::ReplyWriter;
use crate::time::UnixMillis;
use crate::types::Kind;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// Redis's shared.slowevalerr.
pub(crate) const BUSY_SCRIPT: &[u8] =
    b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

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

    /// Every flag with its name, in COMMAND INFO's order.
    pub const ALL: [(u32, &str); 28] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (ONLY_SENTINEL, "only_sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PROTECTED, "protected"),
        (MODULE_GETKEYS, "module_getkeys"),
        (MODULE_NO_CLUSTER, "module_no_cluster"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
        (MODULE_GETCHANNELS, "module_getchannels"),
        (TOUCHES_ARBITRARY_KEYS, "touches_arbitrary_keys"),
    ];
}

/// One row of the command table (see table.rs, generated from Redis's own metadata).
pub struct CommandSpec {
    /// Lowercase; a subcommand's is "parent|sub" (Redis's fullname).
    pub name: &'static str,
    /// Redis's arity: N means exactly N arguments (name included), -N at least N.
    pub arity: i32,
    pub(crate) flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub acl_categories: &'static [&'static str],
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    /// COMMAND INFO's tips and key specs, as Redis sends them in RESP3.
    pub(crate) tips_resp3: &'static [u8],
    pub(crate) key_specs_resp3: &'static [u8],
    /// COMMAND DOCS's fields beyond summary/since/group/complexity (arguments, history ...),
    /// as RESP3 key/value pairs.
    pub(crate) doc_extra_count: usize,
    pub(crate) doc_extra_resp3: &'static [u8],
    /// None for containers (CLIENT, CONFIG, COMMAND), whose subcommands have handlers.
    pub(crate) handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A container (CLIENT, CONFIG, COMMAND ...) has no handler of its own: its subcommands do.
    pub fn is_container(&self) -> bool {
        self.handler.is_none()
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The flags' names, in COMMAND INFO's order (which never shows `may_replicate`: Redis's
    /// addReplyCommandFlags leaves it out, though the table carries it).
    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        flags::ALL
            .iter()
            .filter(|(bit, _)| self.flags & bit & !flags::MAY_REPLICATE != 0)
            .map(|(_, n)| *n)
    }

    /// COMMAND DOCS's extra fields (arguments, history, doc_flags ...) as (name, value), decoded
    /// from the table's RESP3.
    pub fn doc_extra(&self) -> Vec<(Vec<u8>, crate::resp::Reply)> {
        let mut rest = self.doc_extra_resp3;
        let mut next = || {
            let (r, n) = crate::resp::decode_reply(rest).ok()??;
            rest = &rest[n..];
            Some(r)
        };
        let mut out = Vec::with_capacity(self.doc_extra_count);
        for _ in 0..self.doc_extra_count {
            match (next(), next()) {
                (Some(crate::resp::Reply::Simple(k) | crate::resp::Reply::Bulk(k)), Some(v)) => {
                    out.push((k, v))
                }
                _ => break,
            }
        }
        out
    }

    /// The part after '|' for subcommands.
    pub(crate) fn short_name(&self) -> &'static str {
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

type Index = HashMap<&'static [u8], &'static CommandSpec, NameHash>;

/// The hash of maps keyed by command names (the index, INFO commandstats' counters).
pub(crate) type NameHash = std::hash::BuildHasherDefault<NameHasher>;

/// The command index's hash, run once per request: 8 bytes per 64-bit multiply, then a fold
/// of the high half into the low bits (the bucket index). foldhash's 128-bit multiply is a
/// libcall on wasm32, where lookup was ~9% of a GET on the direct path.
#[derive(Default)]
pub(crate) struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h = self.0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

fn command_index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        table::COMMANDS
            .iter()
            .map(|c| (c.name.as_bytes(), c))
            .collect()
    })
}

/// Looks a top-level command up by name, case-insensitively (a fast non-cryptographic hash of
/// the lowercased bytes: this runs once per request).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    command_index().get(&*lower).copied()
}

/// The command names after `rename-command` (Redis's server.commands once config.c renamed or
/// deleted entries): lowercase name -> command.
pub type Renamed = HashMap<Vec<u8>, &'static CommandSpec, foldhash::fast::FixedState>;

/// Redis's rename-command lines applied in order to the command table: `to` empty deletes the
/// command. Errors are config.c's ("No such command in rename-command", "Target command name
/// already exists"), with the index of the failing pair. None when there is nothing to rename.
pub fn apply_renames(
    renames: &[(Vec<u8>, Vec<u8>)],
) -> Result<Option<Renamed>, (usize, &'static str)> {
    if renames.is_empty() {
        return Ok(None);
    }
    let mut t: Renamed = table::COMMANDS
        .iter()
        .map(|c| (c.name.as_bytes().to_vec(), c))
        .collect();
    for (i, (from, to)) in renames.iter().enumerate() {
        let Some(cmd) = t.remove(&from.to_ascii_lowercase()) else {
            return Err((i, "No such command in rename-command"));
        };
        if !to.is_empty() && t.insert(to.to_ascii_lowercase(), cmd).is_some() {
            return Err((i, "Target command name already exists"));
        }
    }
    Ok(Some(t))
}

/// The one lookup of a request's command name: the renamed table if the config file renamed
/// anything, else the static index.
pub(crate) fn lookup_in(srv: &Server, name: &[u8]) -> Option<&'static CommandSpec> {
    match &srv.renamed {
        None => lookup(name),
        Some(t) => t.get(&name.to_ascii_lowercase()).copied(),
    }
}

/// The last command name a request sent (its bytes as sent, up to 16) and the command it
/// named: a client sending the same command again (a loop of GETs) skips the lowercasing and
/// the hash (~5% of a GET on wasm). The names a table answers for never change after start.
#[derive(Clone, Copy, Default)]
pub(crate) struct LookupCache {
    name: [u8; 16],
    len: u8,
    cmd: Option<&'static CommandSpec>,
}

/// `lookup_in` through the server's one-entry cache.
#[inline]
fn lookup_cached(srv: &mut Server, name: &[u8]) -> Option<&'static CommandSpec> {
    let c = &srv.last_lookup;
    if c.cmd.is_some() && usize::from(c.len) == name.len() && c.name[..name.len()] == *name {
        return c.cmd;
    }
    let cmd = lookup_in(srv, name);
    if cmd.is_some() && name.len() <= 16 {
        let c = &mut srv.last_lookup;
        c.name[..name.len()].copy_from_slice(name);
        c.len = name.len() as u8;
        c.cmd = cmd;
    }
    cmd
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

impl From<crate::keyspace::WrongType> for CmdError {
    fn from(_: crate::keyspace::WrongType) -> CmdError {
        CmdError::WrongType
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.text()))
    }
}

/// Redis's start/end normalisation for index ranges (LRANGE, LTRIM, ZRANGE by rank,
/// ZREMRANGEBYRANK): negative indexes count from the tail, then both are clamped. None for an
/// empty range; else (first, last), both < `len`.
pub fn clamp_index_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let start = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    }
    .max(0);
    let mut end = if end < 0 {
        llen.saturating_add(end)
    } else {
        end
    };
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

/// Redis's `getLongLongFromObjectOrReply`.
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Compares an argument with an option name as Redis does, with `strcasecmp` on the C
/// string: case-insensitive, and the argument counts only up to its first NUL byte
/// ("NX\0junk" is NX).
pub fn is(arg: &[u8], word: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(word.as_bytes())
}

/// The bytes C string functions see (`%s`, `strcmp`, `strtod`): up to the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    &b[..memchr::memchr(0, b).unwrap_or(b.len())]
}

/// What a handler can reach: the server state, every client, and which one is calling.
pub struct Ctx<'e> {
    pub now: UnixMillis,
    pub srv: &'e mut Server,
    pub clients: &'e mut slab::Slab<Client>,
    pub handle: ClientHandle,
    pub cmd: &'static CommandSpec,
}

impl<'e> Ctx<'e> {
    pub fn client(&mut self) -> &mut Client {
        &mut self.clients[self.handle.0]
    }

    pub fn client_ref(&self) -> &Client {
        &self.clients[self.handle.0]
    }

    /// The writer for the calling client's replies.
    pub fn out(&mut self) -> ReplyWriter<'_> {
        self.flush_keyspace_log();
        let c = &mut self.clients[self.handle.0];
        ReplyWriter::new(&mut c.out, c.resp3)
    }

    /// The calling client's database and reply writer, borrowed together (to write a value
    /// into the reply without copying it).
    pub fn db_out(&mut self) -> (&mut Db, ReplyWriter<'_>) {
        self.flush_keyspace_log();
        let c = &mut self.clients[self.handle.0];
        (
            &mut self.srv.dbs[c.db],
            ReplyWriter::new(&mut c.out, c.resp3),
        )
    }

    /// Redis's lookupKeyRead + checkType in the calling client's database (the `T` at `key`,
    /// None when missing, WRONGTYPE for another type), with the reply writer borrowed
    /// alongside so the value can go into the reply without a copy.
    #[inline]
    pub fn read<T: Kind>(&mut self, key: &[u8]) -> Result<(Option<&T>, ReplyWriter<'_>), CmdError> {
        let now = self.now;
        let (db, out) = self.db_out();
        Ok((db.read(key, now)?, out))
    }

    /// The calling client's selected database.
    pub fn db(&mut self) -> &mut Db {
        let i = self.clients[self.handle.0].db;
        &mut self.srv.dbs[i]
    }

    /// Redis's signalModifiedKey + server.dirty++: call after every change to a key of the
    /// current database (WATCH, keyspace notifications and save rules hang off this).
    pub fn key_modified(&mut self, key: &[u8]) {
        self.srv.dirty += 1;
        let db = self.clients[self.handle.0].db;
        self.key_modified_in(db, key);
    }

    /// Redis's signalModifiedKey for a key of any database (MOVE, SWAPDB, COPY ... DB):
    /// touches its watchers and invalidates it for tracking clients (trackingInvalidateKey).
    /// Does not count a change (`key_modified` does).
    pub fn key_modified_in(&mut self, db: usize, key: &[u8]) {
        if self.srv.watched.any_in(db) {
            // Expiry deletions that happened in this command come first, as in Redis.
            tx::drain_expired(self.srv, self.clients);
            tx::touch_key(self.srv, self.clients, db, key, None);
        }
        if self.srv.tracking.enabled_once() {
            tx::drain_expired(self.srv, self.clients);
            tracking::key_modified(self.srv, self.clients, self.handle, key);
        }
    }

    /// Redis's alsoPropagate with the command replaced: what the AOF records instead of the
    /// command as executed (EXPIRE -> PEXPIREAT, SPOP -> SREM ...). Call once per command to
    /// record, in the current database; a handler that calls it replaces the default.
    pub fn propagate(&mut self, args: &[&[u8]]) {
        if self.srv.persist.propagate {
            let db = self.clients[self.handle.0].db;
            let cmd = args.iter().map(|a| a.to_vec()).collect();
            self.srv
                .persist
                .rewrite
                .get_or_insert_with(Vec::new)
                .push((db, cmd));
        }
    }

    /// Replies with a Redis error (used for errors that do not abort the handler's flow).
    pub fn error(&mut self, e: &CmdError) {
        intro::count_error(self.srv, e.text());
        let c = &mut self.clients[self.handle.0];
        ReplyWriter::new(&mut c.out, c.resp3).error(e.text());
    }
}

/// What became of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// Executed, queued or refused: the request is consumed.
    Done,
    /// Postponed by CLIENT PAUSE: leave it unconsumed and retry when the pause ends.
    Postponed,
}

/// Runs one request on behalf of client `id`: Redis's processCommand (lookup, arity, auth,
/// MULTI rules, pause, then queue or call) plus the reply-mode bookkeeping of resetClient.
pub fn dispatch(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    args: &[&[u8]],
) -> Dispatched {
    let c = &mut clients[id.0];
    let out_start = c.out.len();
    connection::before_command(c, out_start);
    let r = process_command(now, srv, clients, id, args);
    // The embedder's clock reading is this request's only (a refused one leaves it unused).
    srv.stats.counters.clock_hint = None;
    if r == Dispatched::Done {
        if let Some(c) = clients.get_mut(id.0) {
            // resetClient: ASKING lasts one command (or a whole transaction).
            if c.cluster_flags & cluster::ASKING != 0 && c.last_cmd != "asking" && !c.tx.active {
                c.cluster_flags &= !cluster::ASKING;
            }
            connection::after_command(c);
        }
    }
    notify::flush_after_command(now, srv, clients, id, out_start);
    tx::drain_expired(srv, clients);
    crate::repl::master::after_command(srv, clients, id);
    r
}

fn process_command(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    args: &[&[u8]],
) -> Dispatched {
    // rejectCommand: the error reply, and a MULTI in progress is doomed. A refused EXEC
    // discards the transaction and says why (execCommandAbort).
    let reject = |srv: &mut Server,
                  clients: &mut slab::Slab<Client>,
                  cmd: Option<&'static CommandSpec>,
                  mut msg: Vec<u8>| {
        if let Some(cmd) = cmd {
            intro::count_rejected(srv, cmd);
        }
        if cmd.is_some_and(|c| c.name == "exec") {
            tx::discard_transaction(srv, clients, id.0);
            let why = msg.strip_prefix(b"ERR ").unwrap_or(&msg);
            let mut m = b"EXECABORT Transaction discarded because of: ".to_vec();
            m.extend_from_slice(why);
            msg = m;
        }
        intro::count_error(srv, &msg);
        let c = &mut clients[id.0];
        tx::flag_transaction(c);
        ReplyWriter::new(&mut c.out, c.resp3).error(&msg);
        if let Some(exec) = cmd.filter(|c| c.name == "exec") {
            intro::feed_monitors_exec_abort(now, srv, clients, id, exec, args);
        }
        Dispatched::Done
    };
    // Redis 7.0 answers QUIT before any lookup, whatever its arguments.
    if args[0].len() >= 4 && args[0][..4].eq_ignore_ascii_case(b"quit") && is(args[0], "quit") {
        srv.stats.commands_processed += 1;
        let c = &mut clients[id.0];
        ReplyWriter::new(&mut c.out, c.resp3).ok();
        c.close_after_reply = true;
        return Dispatched::Done;
    }
    // processCommand sets lastcmd before any check (NULL when the lookup fails).
    clients[id.0].last_cmd = "NULL";
    let Some(mut cmd) = lookup_cached(srv, args[0]) else {
        srv.stats.unknown_commands += 1;
        return reject(srv, clients, None, unknown_command_error(args));
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
                // No command was found (Redis's c->cmd is NULL): nothing's rejected_calls.
                return reject(srv, clients, None, msg);
            }
        }
    }
    clients[id.0].last_cmd = cmd.name;
    if !cmd.arity_ok(args.len()) {
        let msg = format!("ERR wrong number of arguments for '{}' command", cmd.name);
        return reject(srv, clients, Some(cmd), msg.into_bytes());
    }
    if connection::auth_required(srv, &clients[id.0]) && !cmd.has(flags::NO_AUTH) {
        return reject(
            srv,
            clients,
            Some(cmd),
            b"NOAUTH Authentication required.".to_vec(),
        );
    }
    let in_multi = clients[id.0].tx.active;
    if in_multi && cmd.has(flags::NO_MULTI) {
        return reject(
            srv,
            clients,
            Some(cmd),
            b"ERR Command not allowed inside a transaction".to_vec(),
        );
    }
    // ACLCheckAllPerm: the command, its keys and its channels, for this client's user.
    if let Err((why, pos)) = acl::check(srv, &clients[id.0], cmd, args) {
        let context = if in_multi {
            crate::acl::LogContext::Multi
        } else {
            crate::acl::LogContext::Toplevel
        };
        acl::log_denied(now, srv, clients, id.0, cmd, args, why, pos, context);
        return reject(srv, clients, Some(cmd), acl::noperm_text(why, cmd));
    }
    // Cluster mode: the keys' slot must be served here (getNodeByQuery); a refused EXEC
    // discards the transaction and answers the redirection itself.
    if srv.cluster.is_some() {
        match cluster::check(srv, clients, id.0, cmd, args, now) {
            Ok(slot) => clients[id.0].slot = slot,
            Err(msg) if cmd.name == "exec" => {
                tx::discard_transaction(srv, clients, id.0);
                intro::count_rejected(srv, cmd);
                intro::count_error(srv, &msg);
                let c = &mut clients[id.0];
                ReplyWriter::new(&mut c.out, c.resp3).error(&msg);
                return Dispatched::Done;
            }
            Err(msg) => return reject(srv, clients, Some(cmd), msg),
        }
    }
    // The maxmemory directive: evict before every command, then refuse what may grow memory
    // when nothing more can go (not while a busy script yields: its propagation must not mix
    // with DELs).
    // The master's stream is never refused for memory (replica-ignore-maxmemory's intent).
    if srv.config.maxmemory > 0
        && !srv.script.busy
        && !crate::repl::replica::is_master_client(srv, id.0)
    {
        let out_of_memory =
            crate::evict::perform_evictions(now, srv, clients) == crate::evict::EvictResult::Fail;
        if out_of_memory && oom_rejects(srv, &clients[id.0], cmd, args, in_multi) {
            return reject(srv, clients, Some(cmd), OOM_ERROR.to_vec());
        }
        // For scripts: their first deny-oom command fails if memory was over at the start.
        srv.evict.pre_command_oom = out_of_memory;
    }
    // Keep the tracking table within tracking-table-max-keys (trackingLimitUsedSlots).
    if srv.tracking.client_count() > 0 {
        tracking::limit(srv, clients);
    }
    // Writes are refused while the disk cannot take them (a failed BGSAVE or AOF write).
    if let Some(msg) = persistence::refuses_write(srv, &clients[id.0], cmd, args) {
        return reject(srv, clients, Some(cmd), msg);
    }
    // Writes are refused without enough good replicas (min-replicas-to-write, 0 by default:
    // then the check's own first tests pass at once).
    if srv.config.min_replicas_to_write != 0 {
        if let Some(msg) = crate::repl::master::refuses_write(srv, &clients[id.0], cmd, args) {
            return reject(srv, clients, Some(cmd), msg);
        }
    }
    // Only a replica refuses for its role (read-only, stale data): a master skips both
    // checks for one test (each begins by asking the same).
    let replica = srv.repl.replica.is_replica();
    // A read-only replica refuses writes but its master's (repl/replica.rs).
    if replica {
        if let Some(msg) =
            crate::repl::replica::readonly_rejects(srv, &clients[id.0], id.0, cmd, args)
        {
            return reject(srv, clients, Some(cmd), msg);
        }
    }
    // RESP2 subscribers may only (un)subscribe, PING, QUIT and RESET.
    if let Some(msg) = pubsub::subscriber_mode_error(&clients[id.0], cmd) {
        return reject(srv, clients, Some(cmd), msg);
    }
    // replica-serve-stale-data no: while the link is down only `stale` commands run.
    if replica {
        if let Some(msg) = crate::repl::replica::stale_rejects(srv, &clients[id.0], id.0, cmd, args)
        {
            return reject(srv, clients, Some(cmd), msg);
        }
    }
    // A replica loading its master's RDB: -LOADING but for `loading` commands (async
    // loading: only `no_async_loading` ones).
    // (Only while loading: the check's own first test.)
    if srv.persist.loading {
        if let Some(msg) = crate::repl::replica::loading_rejects(srv, &clients[id.0], cmd) {
            return reject(srv, clients, Some(cmd), msg);
        }
    }
    // A replica (a MONITOR client is one) may not touch the keyspace.
    if intro::monitor_rejects(srv, id.0, cmd.flags)
        || (crate::repl::master::is_replica(&clients[id.0])
            && cmd.flags & (flags::WRITE | flags::READONLY | flags::MAY_REPLICATE) != 0)
    {
        let msg = b"ERR Replica can't interact with the keyspace".to_vec();
        return reject(srv, clients, Some(cmd), msg);
    }
    // processCommand's isInsideYieldingLongCommand check: a busy script lets through only
    // what may run beside it.
    if srv.script.busy && !cmd.has(flags::ALLOW_BUSY) {
        let function = srv
            .script
            .running
            .as_ref()
            .is_some_and(|r| r.function.is_some());
        let msg = if function {
            scripting::BUSY_FUNCTION
        } else {
            BUSY_SCRIPT
        };
        return reject(srv, clients, Some(cmd), msg.to_vec());
    }
    // A script's own flags (getCommandFlags: a SHA1 of an EVAL's body, a cache look-up) are
    // needed only by a pause and by MULTI's queue; without either, the table's flags do.
    let cmd_flags = if in_multi || srv.pause.is_some() || crate::repl::writes_paused(srv) {
        crate::script::command_flags(srv, cmd, args)
    } else {
        cmd.flags
    };
    if connection::must_postpone(srv, &clients[id.0], cmd, cmd_flags, now) {
        clients[id.0].postponed = true;
        srv.any_postponed = true;
        return Dispatched::Postponed;
    }
    clients[id.0].postponed = false;
    if in_multi && tx::queues(cmd) {
        let c = &mut clients[id.0];
        tx::queue_command(c, cmd, cmd_flags, args);
        tx::reply_queued(&mut ReplyWriter::new(&mut c.out, c.resp3));
        return Dispatched::Done;
    }
    call(now, srv, clients, id, cmd, args);
    Dispatched::Done
}

/// Redis's shared.oomerr.
pub(crate) const OOM_ERROR: &[u8] = b"OOM command not allowed when used memory > 'maxmemory'.";

/// processCommand's reject_cmd_on_oom, once memory is over the limit with nothing to evict:
/// deny-oom commands (a script's own flags decide for EVAL/FCALL; EXEC if it queued one),
/// and inside MULTI everything but EXEC, DISCARD, QUIT and RESET (queueing takes memory too).
fn oom_rejects(
    srv: &Server,
    c: &Client,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
    in_multi: bool,
) -> bool {
    let is_exec = cmd.name == "exec";
    let flags = crate::script::command_flags(srv, cmd, args);
    let denyoom =
        flags & flags::DENYOOM != 0 || (is_exec && c.tx.queued_flags & flags::DENYOOM != 0);
    denyoom || (in_multi && !matches!(cmd.name, "exec" | "discard" | "quit" | "reset"))
}

/// Redis's call(): runs a looked-up, checked command (a top-level one, or one queued in
/// MULTI, from EXEC) and counts it.
pub fn call(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
) {
    srv.stats.commands_processed += 1;
    srv.sync_access(now);
    if cmd.flags & (flags::READONLY | flags::FAST) != flags::READONLY | flags::FAST {
        srv.forget_db_scan();
    }
    let Some(handler) = cmd.handler else {
        // A container called bare: its arity (-2) has already refused it.
        return;
    };
    let mut ctx = Ctx {
        now,
        srv,
        clients,
        handle: id,
        cmd,
    };
    let saved = tracking::enter_call(now, ctx.srv, ctx.clients, id.0, cmd, args);
    let before = persistence::before_command(ctx.srv, ctx.clients[id.0].db);
    let timer = intro::call_start(ctx.srv);
    let ok = run_handler(&mut ctx, |ctx| handler(ctx, args));
    intro::call_end(now, ctx.srv, ctx.clients, id, cmd, args, timer);
    tracking::after_handler(ctx.srv, ctx.clients, id.0, cmd, args, now);
    persistence::after_command(&mut ctx, args, before, ok);
    tracking::leave_call(ctx.srv, ctx.clients, saved);
}

/// Runs a handler for `ctx.handle` and answers its `Err`: the one place a command's error reply
/// is written (a command called by EXEC, a blocked client being served). True if it succeeded.
///
/// The handler contract (validate, then reply) is kept by construction: on `Err`, whatever
/// the handler wrote of its own reply is cut off before the error goes out, so the client
/// never gets a partial reply followed by an error. What else is in the buffer stays: the
/// replies before this command (pipelined requests, EXEC's header and earlier elements) lie
/// before the mark, and pushes this command delivered to its own client before replying
/// (RESP3 PUBLISH to a channel it subscribes) move the mark past themselves
/// (`pubsub::Sink::deliver`). CLIENT REPLY OFF/SKIP is applied after this, per stretch
/// (`connection::end_reply_stretch`).
/// Each call keeps its own mark, so EXEC's nested calls nest. Debug builds assert that no
/// handler relies on the cut: it hides a bug (work done, then a failure).
fn run_handler(ctx: &mut Ctx, handler: impl FnOnce(&mut Ctx) -> Result<(), CmdError>) -> bool {
    let slot = ctx.handle.0;
    let c = &mut ctx.clients[slot];
    let outer = std::mem::replace(&mut c.reply_start, c.out.len());
    let result = handler(ctx);
    // The handler may have closed its own client (CLIENT KILL): nothing to answer then.
    let Some(c) = ctx.clients.get_mut(slot) else {
        return result.is_ok();
    };
    let start = std::mem::replace(&mut c.reply_start, outer);
    let Err(e) = result else {
        return true;
    };
    let partial = discard_partial_reply(&mut c.out, start);
    debug_assert!(
        partial == 0,
        "handler of '{}' wrote part of its reply ({partial} bytes) and then failed with {e}",
        ctx.cmd.name
    );
    ctx.error(&e);
    false
}

/// Cuts `out` back to `start`, where a failed command's reply began; returns how many bytes
/// went (none when the buffer is already shorter: freed by the output buffer limit).
fn discard_partial_reply(out: &mut Vec<u8>, start: usize) -> usize {
    let partial = out.len().saturating_sub(start);
    out.truncate(start.min(out.len()));
    partial
}

/// What C's `%.<max>s` prints of an argument: up to `max` bytes, stopping at a NUL.
pub(crate) fn truncated(b: &[u8], max: usize) -> &[u8] {
    let b = c_str(b);
    &b[..b.len().min(max)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::{decode_reply, Reply};
    use crate::testing::Session;

    fn fails_cleanly(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
        Err(CmdError::NoSuchKey)
    }

    fn fails_after_writing(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
        let mut out = ctx.out();
        out.array_len(2);
        out.bulk(b"half");
        Err(CmdError::Syntax)
    }

    #[test]
    fn a_failing_handler_answers_with_its_error_after_earlier_replies() {
        let mut s = Session::new(1);
        // A reply already waiting in the buffer (a pipeline) is not the failed command's.
        s.eng.feed(crate::testing::NOW, s.id, b"SET a 1\r\n");
        assert_eq!(
            s.run_handler("x", fails_cleanly),
            b"+OK\r\n-ERR no such key\r\n"
        );
    }

    #[test]
    fn a_partial_reply_is_cut_before_the_error_goes_out() {
        let mut out = b"+OK\r\n*2\r\n$4\r\nhalf\r\n".to_vec();
        assert_eq!(discard_partial_reply(&mut out, 5), 14);
        assert_eq!(out, b"+OK\r\n");
        assert_eq!(discard_partial_reply(&mut out, 5), 0);
        // A buffer the output limit already freed: nothing to cut.
        let mut freed = Vec::new();
        assert_eq!(discard_partial_reply(&mut freed, 5), 0);
        assert!(freed.is_empty());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "handler of 'broken' wrote part of its reply (14 bytes)")]
    fn debug_builds_catch_a_handler_that_writes_then_fails() {
        Session::new(1).run_handler("broken", fails_after_writing);
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn release_builds_send_only_the_error_of_a_handler_that_writes_then_fails() {
        let mut s = Session::new(1);
        assert_eq!(
            s.run_handler("broken", fails_after_writing),
            b"-ERR syntax error\r\n"
        );
    }

    #[test]
    fn client_reply_skip_drops_the_error_of_the_skipped_command() {
        let mut s = Session::new(1);
        assert_eq!(s.raw(&["CLIENT", "REPLY", "SKIP"]), b"");
        assert_eq!(s.run_handler("x", fails_cleanly), b"");
        assert_eq!(s.run_handler("x", fails_cleanly), b"-ERR no such key\r\n");
    }

    #[test]
    fn each_failing_command_in_exec_is_one_element() {
        let mut s = Session::new(1);
        for req in [
            &["MULTI"][..],
            &["SET", "k", "v"],
            &["LPUSH", "k", "x"],
            &["GET", "k"],
        ] {
            s.raw(req);
        }
        let out = s.raw(&["EXEC"]);
        let (reply, used) = decode_reply(&out).unwrap().unwrap();
        assert_eq!(used, out.len(), "one reply");
        assert_eq!(
            reply,
            Reply::Array(vec![
                Reply::Simple(b"OK".to_vec()),
                Reply::Error(CmdError::WrongType.text().to_vec()),
                Reply::bulk(b"v"),
            ])
        );
    }
}
