//! The blocking commands (Redis 7.0's blocked.c and the blocking halves of t_list.c and
//! t_zset.c): BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, and
//! CLIENT UNBLOCK; XREAD / XREADGROUP BLOCK block here too (`Op::XRead`, served by
//! `serve_stream_key` with `command::stream`'s help).
//!
//! A command that finds nothing to pop blocks its client: the client is queued (FIFO) on each
//! of its keys, its deadline goes into a sorted set of timeouts, and the engine stops
//! processing its input. Storing a value under a blocked-on key (`Db::insert_new`/`Db::set`,
//! Redis's dbAdd → signalKeyAsReady) queues the key as ready; after every top-level command
//! the engine calls [`handle_ready`] (Redis's handleClientsBlockedOnKeys), which serves the
//! waiting clients in the order they blocked for as long as the key has elements, writing each
//! reply into that client's buffer and queueing `Event::Output`. A BLMOVE that pushes to
//! another blocked-on key makes that key ready in turn, served in the same call. The engine's
//! `tick` replies to clients whose timeout passed ([`expire`]), and `next_deadline` reports
//! the earliest one ([`Blocking::next_deadline`]).
//!
//! Inside EXEC (`MultiState::in_exec`, Redis's CLIENT_DENY_BLOCKING) nothing blocks: the
//! command answers as if it had timed out at once.
//!
//! Propagation (AOF) is what redis-server 7.0 writes, served at once or woken alike: the pop
//! as LPOP/RPOP key (BLMPOP: with the count served), the move as LMOVE/RPOPLPUSH, the zset
//! pops as ZPOPMIN/ZPOPMAX key [count]; a woken client's effects go out right after the
//! command that woke it, in its own database (`serve_woken`). XREAD propagates nothing;
//! XREADGROUP its XCLAIM / XGROUP forms (`command::stream`).

use super::list::{self, End};
use super::{is, notify, parse_int, stream, zset, CmdError, CommandSpec, Ctx};
use crate::engine::{Client, ClientHandle, Event, Server};
use crate::time::UnixMillis;
use crate::types::{List, Value, ZSet};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// What a blocked client will do once one of its keys is ready.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// BLPOP/BRPOP: reply [key, element].
    Pop(End),
    /// BLMPOP: reply [key, [elements]].
    MPop(End, usize),
    /// BLMOVE/BRPOPLPUSH: move to `dst`, reply the element.
    Move { dst: Vec<u8>, from: End, to: End },
    /// BZPOPMIN/BZPOPMAX: reply [key, member, score].
    ZPop { max: bool },
    /// BZMPOP: reply [key, [[member, score], ...]].
    ZMPop { max: bool, count: i64 },
    /// XREAD / XREADGROUP BLOCK: per key, the ID to read after (for a group, resolved to
    /// the group's last ID when served).
    XRead(Box<stream::Blocked>),
    /// WAIT: until `numreplicas` replicas acked `offset` (no keys; served by
    /// `repl::master::serve_waiting`); the timeout replies the count of acks then.
    Wait { offset: i64, numreplicas: i64 },
    /// SHUTDOWN waiting for lagging replicas (no keys, no timeout of its own: the server
    /// exits, or `repl::master::cancel_shutdown` answers it with an error).
    Shutdown,
    /// MIGRATE waiting for its target (no keys; command/migrate.rs answers it).
    Migrate,
}

/// The type of value an operation waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wants {
    List,
    ZSet,
    Stream,
    /// WAIT waits for no key.
    Nothing,
}

impl Op {
    fn wants(&self) -> Wants {
        match self {
            Op::Pop(_) | Op::MPop(..) | Op::Move { .. } => Wants::List,
            Op::ZPop { .. } | Op::ZMPop { .. } => Wants::ZSet,
            Op::XRead(_) => Wants::Stream,
            Op::Wait { .. } | Op::Shutdown | Op::Migrate => Wants::Nothing,
        }
    }
}

/// A blocked client's state (Redis's c->bpop).
pub struct Blocked {
    db: usize,
    keys: Vec<Vec<u8>>,
    /// Absolute ms; 0 blocks forever.
    deadline: u64,
    op: Op,
    cmd: &'static CommandSpec,
    /// CLIENT REPLY OFF or SKIP was in force for the blocking command: its reply, when it
    /// comes, is dropped (Redis does not reset a blocked client, so the flags still apply).
    silenced: bool,
    /// The blocking call's arguments and duration in µs (Redis's c->argv and c->duration),
    /// for the stats added when it is served (`intro::update_stats_on_unblock`).
    argv: Vec<Vec<u8>>,
    call_us: u64,
}

/// call()'s note on a command that blocked its client: what updateStatsOnUnblock needs later.
pub(crate) fn note_call(c: &mut Client, args: &[&[u8]], duration_us: u64) {
    if let Some(b) = c.blocked.as_mut() {
        b.argv = args.iter().map(|a| a.to_vec()).collect();
        b.call_us = duration_us;
    }
}

impl Blocked {
    /// Drops what was written for this client since `start` if its reply is silenced.
    fn settle_reply(&self, c: &mut Client, start: usize) {
        if self.silenced {
            c.out.truncate(start);
        }
    }
}

/// The server's blocking state (Redis's db->blocking_keys and server.clients_timeout_table).
#[derive(Debug, Default)]
pub struct Blocking {
    /// Per database: key -> blocked client slots, in the order they blocked.
    waiting: Vec<HashMap<Vec<u8>, VecDeque<usize>>>,
    /// (deadline ms, slot) of clients blocked with a timeout.
    timeouts: BTreeSet<(u64, usize)>,
    /// Clients unblocked since the engine last looked: their buffered input runs next.
    pub unblocked: Vec<ClientHandle>,
    blocked_clients: usize,
}

impl Blocking {
    /// The earliest blocked client's deadline.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        self.timeouts.first().map(|&(d, _)| UnixMillis(d))
    }

    /// Blocked clients with a timeout (INFO's clients_in_timeout_table).
    pub fn in_timeout_table(&self) -> usize {
        self.timeouts.len()
    }

    /// How many clients are blocked (INFO's blocked_clients).
    pub fn blocked_clients(&self) -> usize {
        self.blocked_clients
    }
}

/// Redis 7.0's getTimeoutFromObjectOrReply in seconds: a long double (string2ld: no spaces,
/// no trailing bytes, hex allowed, NaN refused), times 1000 rounded up; 0 means forever.
/// Values too big for a long long turn negative in C's conversion, hence "negative".
/// Returns the absolute deadline in ms, 0 for none.
pub fn parse_timeout(now: UnixMillis, arg: &[u8]) -> Result<u64, CmdError> {
    let not_float = || CmdError::err("timeout is not a float or out of range");
    if arg.is_empty() || arg.len() >= 5 * 1024 || crate::cnum::is_c_space(arg[0]) {
        return Err(not_float());
    }
    // Integers are exact in C's long double; an f64 would round big ones.
    if let Some(n) = crate::cnum::parse_i64(arg) {
        return match n.checked_mul(1000) {
            Some(0) => Ok(0),
            Some(ms) if ms > 0 => Ok(now.0.saturating_add(ms as u64)),
            _ => Err(CmdError::err("timeout is negative")),
        };
    }
    let (v, used, erange) = crate::cnum::strtod(arg);
    if used != arg.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return Err(not_float());
    }
    let ms = (v * 1000.0).ceil();
    // (long long) of an out-of-range value is LLONG_MIN on the platforms Redis ships for.
    // [-2^63, 2^63): what fits a long long.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let tval = if (-LIMIT..LIMIT).contains(&ms) {
        ms as i64
    } else {
        i64::MIN
    };
    if tval < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    if tval == 0 {
        return Ok(0);
    }
    Ok(now.0.saturating_add(tval as u64))
}

/// Blocks the calling client on `keys` (duplicates once), or, when it may not block (EXEC),
/// replies what a timeout would: a null array (a null bulk for BLMOVE/BRPOPLPUSH).
fn block(ctx: &mut Ctx, keys: &[&[u8]], deadline: u64, op: Op) {
    if ctx.client_ref().tx.in_exec {
        if matches!(op, Op::Move { .. }) {
            ctx.out().nil();
        } else {
            ctx.out().nil_array();
        }
        return;
    }
    let slot = ctx.handle.0;
    let db = ctx.client_ref().db;
    let b = &mut ctx.srv.blocking;
    if b.waiting.len() <= db {
        b.waiting.resize_with(db + 1, HashMap::new);
    }
    let mut seen = HashSet::new();
    let mut own = Vec::new();
    for &k in keys {
        if !seen.insert(k) {
            continue;
        }
        b.waiting[db].entry(k.to_vec()).or_default().push_back(slot);
        ctx.srv.dbs[db].blocking_keys.insert(k.to_vec());
        own.push(k.to_vec());
    }
    if deadline != 0 {
        b.timeouts.insert((deadline, slot));
    }
    b.blocked_clients += 1;
    ctx.clients[slot].blocked = Some(Box::new(Blocked {
        db,
        keys: own,
        deadline,
        op,
        cmd: ctx.cmd,
        silenced: ctx.clients[slot].reply.off || ctx.clients[slot].reply.skip,
        argv: Vec::new(),
        call_us: 0,
    }));
}

/// Takes a client out of every blocking structure (Redis's unblockClient for keys), without
/// replying. Returns its state if it was blocked.
fn unblock(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) -> Option<Blocked> {
    let b = *clients.get_mut(slot)?.blocked.take()?;
    let bl = &mut srv.blocking;
    if let Some(w) = bl.waiting.get_mut(b.db) {
        for k in &b.keys {
            if let Some(q) = w.get_mut(k.as_slice()) {
                // Served clients come off the front: O(1) for the usual case.
                if q.front() == Some(&slot) {
                    q.pop_front();
                } else {
                    q.retain(|&s| s != slot);
                }
                if q.is_empty() {
                    w.remove(k.as_slice());
                    if let Some(db) = srv.dbs.get_mut(b.db) {
                        db.blocking_keys.remove(k.as_slice());
                    }
                }
            }
        }
    }
    if b.deadline != 0 {
        bl.timeouts.remove(&(b.deadline, slot));
    }
    bl.blocked_clients = bl.blocked_clients.saturating_sub(1);
    Some(b)
}

/// Unblocks a client that is going away (disconnect, CLIENT KILL, RESET): no reply.
pub fn forget_client(srv: &mut Server, clients: &mut slab::Slab<Client>, id: ClientHandle) {
    unblock(srv, clients, id.0);
}

/// Marks a client as unblocked with output for the host.
fn finish(srv: &mut Server, slot: usize) {
    srv.blocking.unblocked.push(ClientHandle(slot));
    srv.events.push_back(Event::Output(ClientHandle(slot)));
}

/// Replies to every blocked client whose deadline is `now` or earlier with the timeout reply
/// (a null array for every blocking command of Redis 7.0, BLMOVE included).
pub fn expire(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    while let Some(&(d, slot)) = srv.blocking.timeouts.first() {
        if d > now.0 {
            break;
        }
        let Some(b) = unblock(srv, clients, slot) else {
            srv.blocking.timeouts.remove(&(d, slot));
            continue;
        };
        let acks = wait_acks(srv, clients, &b);
        if let Some(c) = clients.get_mut(slot) {
            let start = c.out.len();
            let mut w = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
            match acks {
                Some(n) => w.int(n),
                None => w.nil_array(),
            }
            b.settle_reply(c, start);
        }
        finish(srv, slot);
    }
}

/// Cluster mode, from the cron (clientsCronHandleTimeout's clusterRedirectBlockedClientIfNeeded):
/// a client blocked on keys whose slot this node no longer serves gets the redirection.
pub(crate) fn cluster_redirect(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    let mut redirect = Vec::new();
    for (slot, c) in clients.iter() {
        let Some(b) = c.blocked.as_ref() else {
            continue;
        };
        let Some(key) = b.keys.first() else {
            continue;
        };
        let write = b.cmd.flags & super::flags::WRITE != 0;
        if let Some(msg) = super::cluster::blocked_redirect(srv, c, key, write) {
            redirect.push((slot, msg));
        }
    }
    for (slot, msg) in redirect {
        let Some(b) = unblock(srv, clients, slot) else {
            continue;
        };
        let c = &mut clients[slot];
        let start = c.out.len();
        crate::resp::ReplyWriter::new(&mut c.out, c.resp3).error(&msg);
        b.settle_reply(c, start);
        super::intro::count_error(srv, &msg);
        finish(srv, slot);
    }
}

/// WAIT's timeout reply: the replicas that acked its offset (None: not a WAIT).
fn wait_acks(srv: &Server, clients: &slab::Slab<Client>, b: &Blocked) -> Option<i64> {
    match b.op {
        Op::Wait { offset, .. } => Some(crate::repl::master::count_acks(srv, clients, offset)),
        _ => None,
    }
}

/// WAIT blocks its client until `deadline` (0: forever) or enough acks.
pub(crate) fn block_wait(ctx: &mut Ctx, deadline: u64, offset: i64, numreplicas: i64) {
    block(
        ctx,
        &[],
        deadline,
        Op::Wait {
            offset,
            numreplicas,
        },
    );
}

/// SHUTDOWN blocks its client while the server waits for its replicas.
pub(crate) fn block_shutdown(ctx: &mut Ctx) {
    block(ctx, &[], 0, Op::Shutdown);
}

/// MIGRATE blocks its client while the target answers (command/migrate.rs times it out).
pub(crate) fn block_migrate(ctx: &mut Ctx) {
    block(ctx, &[], 0, Op::Migrate);
}

/// MIGRATE is done: `reply` (raw RESP) goes to its client, which runs its buffered input next.
pub(crate) fn unblock_migrate(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    slot: usize,
    reply: &[u8],
) {
    let blocked = clients
        .get(slot)
        .and_then(|c| c.blocked.as_ref())
        .is_some_and(|b| b.op == Op::Migrate);
    if !blocked {
        return;
    }
    let Some(b) = unblock(srv, clients, slot) else {
        return;
    };
    if let Some(c) = clients.get_mut(slot) {
        let start = c.out.len();
        c.out.extend_from_slice(reply);
        b.settle_reply(c, start);
    }
    finish(srv, slot);
}

/// replyToClientsBlockedOnShutdown: the shutdown was cancelled (ABORT, or it failed).
pub(crate) fn unblock_shutdown(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) {
    if !clients
        .get(slot)
        .and_then(|c| c.blocked.as_ref())
        .is_some_and(|b| b.op == Op::Shutdown)
    {
        return;
    }
    let Some(b) = unblock(srv, clients, slot) else {
        return;
    };
    if let Some(c) = clients.get_mut(slot) {
        let start = c.out.len();
        crate::resp::ReplyWriter::new(&mut c.out, c.resp3)
            .error(b"ERR Errors trying to SHUTDOWN. Check logs.");
        b.settle_reply(c, start);
    }
    finish(srv, slot);
}

/// The offset and replica count a client blocked in WAIT waits for.
pub(crate) fn wait_target(c: &Client) -> Option<(i64, i64)> {
    match c.blocked.as_ref()?.op {
        Op::Wait {
            offset,
            numreplicas,
        } => Some((offset, numreplicas)),
        _ => None,
    }
}

/// A WAIT client got its acks: it is answered with their count.
pub(crate) fn unblock_wait(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    slot: usize,
    acks: i64,
) {
    let Some(b) = unblock(srv, clients, slot) else {
        return;
    };
    if let Some(c) = clients.get_mut(slot) {
        let start = c.out.len();
        crate::resp::ReplyWriter::new(&mut c.out, c.resp3).int(acks);
        b.settle_reply(c, start);
    }
    finish(srv, slot);
}

/// Redis's handleClientsBlockedOnKeys: serves clients blocked on keys that received values,
/// until no key is ready (serving a BLMOVE can make its destination ready).
#[inline]
pub fn handle_ready(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    // Keys are only queued while someone is blocked on them (one test, inlined, per request).
    if srv.blocking.blocked_clients != 0 {
        serve_ready(now, srv, clients);
    }
}

/// `handle_ready` while some client is blocked.
#[inline(never)]
fn serve_ready(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    loop {
        let mut batch = Vec::new();
        for (i, db) in srv.dbs.iter_mut().enumerate() {
            for k in db.ready_keys.drain(..) {
                batch.push((i, k));
            }
        }
        if batch.is_empty() {
            return;
        }
        let mut seen = HashSet::new();
        for (db, key) in batch {
            if seen.insert((db, key.clone())) {
                serve_key(now, srv, clients, db, &key);
            }
        }
    }
}

/// Serves the clients blocked on one key, first come first served, while it has elements of
/// a type they wait for.
fn serve_key(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    db: usize,
    key: &[u8],
) {
    loop {
        let wants = match srv.dbs[db].get(key, now) {
            Some(Value::List(_)) => Wants::List,
            Some(Value::ZSet(_)) => Wants::ZSet,
            Some(Value::Stream(_)) => return serve_stream_key(now, srv, clients, db, key),
            _ => return,
        };
        let Some(queue) = srv.blocking.waiting.get(db).and_then(|w| w.get(key)) else {
            return;
        };
        let next = queue.iter().copied().find(|&s| {
            clients
                .get(s)
                .and_then(|c| c.blocked.as_ref())
                .is_some_and(|b| b.op.wants() == wants)
        });
        let Some(slot) = next else {
            return;
        };
        let Some(b) = unblock(srv, clients, slot) else {
            return;
        };
        serve_woken(now, srv, clients, slot, &b, |ctx| {
            serve_client(ctx, key, &b.op)
        });
    }
}

/// Runs `serve` as the woken client `slot` (its database, its reply, CLIENT REPLY as it
/// was) and propagates the effects it recorded with `Ctx::propagate` as one command's:
/// Redis's alsoPropagate in serveClientBlockedOnList / the zset and stream serving, then
/// afterCommand(receiver). Without this, the pushing command alone reached the AOF and the
/// element came back after a restart.
fn serve_woken(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    slot: usize,
    b: &Blocked,
    serve: impl FnOnce(&mut Ctx) -> Result<(), CmdError>,
) {
    let start = clients[slot].out.len();
    srv.persist.rewrite = None;
    let errors = srv.stats.error_replies;
    let clock = srv.host.monotonic_us;
    let t0 = clock.map(|f| f());
    let mut ctx = Ctx {
        now,
        srv,
        clients,
        handle: ClientHandle(slot),
        cmd: b.cmd,
    };
    super::run_handler(&mut ctx, serve);
    let reply_us = match (t0, clock) {
        (Some(t0), Some(f)) => f().saturating_sub(t0),
        _ => 0,
    };
    let had_errors = srv.stats.error_replies != errors;
    let argv: Vec<&[u8]> = b.argv.iter().map(Vec::as_slice).collect();
    super::intro::update_stats_on_unblock(
        now,
        srv,
        &clients[slot],
        b.cmd,
        &argv,
        b.call_us + reply_us,
        reply_us,
        had_errors,
    );
    if let Some(ops) = srv.persist.rewrite.take() {
        srv.persist.emit_ops(&ops);
    }
    b.settle_reply(&mut clients[slot], start);
    finish(srv, slot);
}

/// Redis's serveClientsBlockedOnStreamKey: every client blocked on the stream `key` whose
/// ID is now behind the stream's last ID (for a group: the group's last delivered ID) is
/// served, in the order they blocked; the others stay blocked. A client whose group was
/// destroyed gets -NOGROUP. Propagation (XREADGROUP's XCLAIMs) goes out as the served
/// command's would.
fn serve_stream_key(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    db: usize,
    key: &[u8],
) {
    let Some(queue) = srv.blocking.waiting.get(db).and_then(|w| w.get(key)) else {
        return;
    };
    let slots: Vec<usize> = queue.iter().copied().collect();
    for slot in slots {
        let Some(Op::XRead(x)) = clients
            .get(slot)
            .and_then(|c| c.blocked.as_ref())
            .map(|b| &b.op)
        else {
            continue;
        };
        let Some(Value::Stream(s)) = srv.dbs[db].get(key, now) else {
            return;
        };
        if !stream::blocked_ready(s, key, x) {
            continue;
        }
        let Some(b) = unblock(srv, clients, slot) else {
            continue;
        };
        let Op::XRead(x) = &b.op else { continue };
        serve_woken(now, srv, clients, slot, &b, |ctx| {
            stream::serve_blocked(ctx, key, x)
        });
    }
}

/// XREAD / XREADGROUP with BLOCK and nothing to serve: blocks on `keys` (or, inside EXEC,
/// answers the timeout's null array at once).
pub(crate) fn block_xread(ctx: &mut Ctx, keys: &[&[u8]], deadline: u64, x: stream::Blocked) {
    block(ctx, keys, deadline, Op::XRead(Box::new(x)));
}

/// Redis's serveClientBlockedOnList / the zset serving: pops for the woken client (whose
/// selected database is the one it blocked in), writes its reply and records what to
/// propagate, as redis-server 7.0 writes it in its AOF: `LPOP|RPOP key` (BLPOP, BRPOP),
/// `LPOP|RPOP key n` (BLMPOP, n the count served), `LMOVE src dst left|right left|right`
/// (BLMOVE, the ends in lowercase) or `RPOPLPUSH src dst` (BRPOPLPUSH), `ZPOPMIN|ZPOPMAX
/// key [n]` (by `zpop_generic`).
fn serve_client(ctx: &mut Ctx, key: &[u8], op: &Op) -> Result<(), CmdError> {
    let now = ctx.now;
    match op {
        Op::Pop(end) => {
            if let Some(mut e) = list::pop(ctx.db(), key, now, *end, 1)? {
                if let Some(v) = e.pop() {
                    ctx.key_modified(key);
                    let mut out = ctx.out();
                    out.array_len(2);
                    out.bulk(key);
                    out.bulk(&v);
                    ctx.propagate(&[pop_name(*end), key]);
                    ctx.notify_removal(notify::LIST, list::pop_event(*end), key);
                }
            }
        }
        Op::MPop(end, count) => {
            if let Some(e) = list::pop(ctx.db(), key, now, *end, *count)? {
                ctx.key_modified(key);
                list::write_key_elements(&mut ctx.out(), key, &e);
                list::propagate_mpop(ctx, key, *end, e.len());
                ctx.notify_removal(notify::LIST, list::pop_event(*end), key);
            }
        }
        Op::Move { dst, from, to } => {
            // A destination of another type: the client gets WRONGTYPE and nothing moves.
            if let Some(v) = list::lmove_generic(ctx.db(), key, dst, now, *from, *to)? {
                ctx.key_modified(dst);
                ctx.key_modified(key);
                ctx.notify(notify::LIST, list::push_event(*to), dst);
                ctx.out().bulk(&v);
                ctx.notify_removal(notify::LIST, list::pop_event(*from), key);
                if ctx.cmd.name == "brpoplpush" {
                    ctx.propagate(&[b"RPOPLPUSH", key, dst]);
                } else {
                    let end = |e: End| -> &[u8] {
                        match e {
                            End::Left => b"left",
                            End::Right => b"right",
                        }
                    };
                    ctx.propagate(&[b"LMOVE", key, dst, end(*from), end(*to)]);
                }
            }
        }
        Op::ZPop { max } => zset::zpop_generic(ctx, &[key], *max, true, -1, false, false)?,
        Op::ZMPop { max, count } => {
            zset::zpop_generic(ctx, &[key], *max, true, *count, true, true)?
        }
        // Streams are served by serve_stream_key.
        Op::XRead(_) | Op::Wait { .. } | Op::Shutdown | Op::Migrate => {}
    }
    Ok(())
}

/// Re-points the blocked-key mirrors after SWAPDB swapped two databases' contents and queues
/// every blocked key of both as ready (Redis's scanDatabaseForReadyKeys): call it from SWAPDB.
pub fn databases_swapped(srv: &mut Server, a: usize, b: usize) {
    for i in [a, b] {
        let keys: Vec<Vec<u8>> = srv
            .blocking
            .waiting
            .get(i)
            .map(|w| w.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(db) = srv.dbs.get_mut(i) {
            db.blocking_keys = keys.iter().cloned().collect();
            db.ready_keys = keys;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The commands

/// BLPOP/BRPOP: timeout first, then the first non-empty list among the keys.
fn bpop(ctx: &mut Ctx, args: &[&[u8]], end: End) -> Result<(), CmdError> {
    let last = args.len() - 1;
    let deadline = parse_timeout(ctx.now, args[last])?;
    let keys = &args[1..last];
    let now = ctx.now;
    match list::mpop(ctx.db(), keys, now, end, 1)? {
        Some((i, mut e)) => {
            let v = e.pop().unwrap_or_default();
            ctx.key_modified(keys[i]);
            let mut out = ctx.out();
            out.array_len(2);
            out.bulk(keys[i]);
            out.bulk(&v);
            // Propagated as the pop it was (Redis's rewriteClientCommandVector).
            ctx.propagate(&[pop_name(end), keys[i]]);
            ctx.notify_removal(notify::LIST, list::pop_event(end), keys[i]);
        }
        None => block(ctx, keys, deadline, Op::Pop(end)),
    }
    Ok(())
}

/// LPOP or RPOP: what a BLPOP/BRPOP propagates as.
fn pop_name(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LPOP",
        End::Right => b"RPOP",
    }
}

/// BLPOP key [key ...] timeout
pub fn blpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    bpop(ctx, args, End::Left)
}

/// BRPOP key [key ...] timeout
pub fn brpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    bpop(ctx, args, End::Right)
}

/// BLMOVE/BRPOPLPUSH: a WRONGTYPE source fails at once; an existing source moves like LMOVE
/// and propagates as `as_moved` (LMOVE or RPOPLPUSH with the client's own arguments, as
/// Redis rewrites it); a missing one blocks.
fn bmove(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    deadline: u64,
    as_moved: &[&[u8]],
) -> Result<(), CmdError> {
    let now = ctx.now;
    match ctx.db().get_as::<List>(src, now)? {
        Some(_) => {
            list::lmove_command(ctx, src, dst, from, to)?;
            ctx.propagate(as_moved);
            Ok(())
        }
        None => {
            let op = Op::Move {
                dst: dst.to_vec(),
                from,
                to,
            };
            block(ctx, &[src], deadline, op);
            Ok(())
        }
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let from = list::parse_end(args[3])?;
    let to = list::parse_end(args[4])?;
    let deadline = parse_timeout(ctx.now, args[5])?;
    let as_moved = [b"LMOVE".as_slice(), args[1], args[2], args[3], args[4]];
    bmove(ctx, args[1], args[2], from, to, deadline, &as_moved)
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let deadline = parse_timeout(ctx.now, args[3])?;
    let as_moved = [b"RPOPLPUSH".as_slice(), args[1], args[2]];
    bmove(
        ctx,
        args[1],
        args[2],
        End::Right,
        End::Left,
        deadline,
        &as_moved,
    )
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (keys, end, count) = list::parse_mpop(args, 2)?;
    let deadline = parse_timeout(ctx.now, args[1])?;
    let now = ctx.now;
    match list::mpop(ctx.db(), &keys, now, end, count)? {
        Some((i, e)) => {
            ctx.key_modified(keys[i]);
            list::write_key_elements(&mut ctx.out(), keys[i], &e);
            list::propagate_mpop(ctx, keys[i], end, e.len());
            ctx.notify_removal(notify::LIST, list::pop_event(end), keys[i]);
        }
        None => block(ctx, &keys, deadline, Op::MPop(end, count)),
    }
    Ok(())
}

/// The first key holding a sorted set (WRONGTYPE if another type comes first).
fn first_zset<'a>(ctx: &mut Ctx, keys: &[&'a [u8]]) -> Result<Option<&'a [u8]>, CmdError> {
    let now = ctx.now;
    for &k in keys {
        if ctx.db().get_as::<ZSet>(k, now)?.is_some() {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

fn bzpop(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> Result<(), CmdError> {
    let last = args.len() - 1;
    let deadline = parse_timeout(ctx.now, args[last])?;
    let keys = &args[1..last];
    match first_zset(ctx, keys)? {
        Some(k) => zset::zpop_generic(ctx, &[k], max, true, -1, false, false)?,
        None => block(ctx, keys, deadline, Op::ZPop { max }),
    }
    Ok(())
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    bzpop(ctx, args, false)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    bzpop(ctx, args, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (keys, max, count) = zset::parse_zmpop(args, 2)?;
    let deadline = parse_timeout(ctx.now, args[1])?;
    match first_zset(ctx, keys)? {
        Some(k) => zset::zpop_generic(ctx, &[k], max, true, count, true, true)?,
        None => block(ctx, keys, deadline, Op::ZMPop { max, count }),
    }
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
pub fn client_unblock(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 4 {
        let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        m.extend_from_slice(args[1]);
        m.extend_from_slice(b"'. Try CLIENT HELP.");
        return Err(CmdError::Msg(m));
    }
    let mut error = false;
    if let Some(&reason) = args.get(3) {
        if is(reason, "timeout") {
            error = false;
        } else if is(reason, "error") {
            error = true;
        } else {
            return Err(CmdError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    }
    let id = parse_int(args[2])?;
    let target = ctx
        .clients
        .iter()
        // A client blocked in SHUTDOWN is left alone (Redis 7.0.15 panics on the TIMEOUT
        // form): the shutdown answers it.
        .find(|(_, c)| {
            i64::try_from(c.client_id).is_ok_and(|cid| cid == id)
                && c.blocked.as_ref().is_some_and(|b| b.op != Op::Shutdown)
        })
        .map(|(slot, _)| slot);
    let Some(slot) = target else {
        ctx.out().int(0);
        return Ok(());
    };
    let b = unblock(ctx.srv, ctx.clients, slot);
    let acks = b.as_ref().and_then(|b| wait_acks(ctx.srv, ctx.clients, b));
    let c = &mut ctx.clients[slot];
    let start = c.out.len();
    let mut w = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    if error {
        w.error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else if let Some(n) = acks {
        w.int(n);
    } else {
        w.nil_array();
    }
    if let Some(b) = b {
        b.settle_reply(c, start);
    }
    if error {
        super::intro::count_error(ctx.srv, b"UNBLOCKED client");
    }
    finish(ctx.srv, slot);
    ctx.out().int(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ConnInfo, Engine};
    use crate::Config;

    #[test]
    fn timeouts_parse_like_redis_7_0() {
        let now = UnixMillis(1_000);
        assert_eq!(parse_timeout(now, b"0"), Ok(0));
        assert_eq!(parse_timeout(now, b"0.1"), Ok(1_100));
        assert_eq!(parse_timeout(now, b"0.0001"), Ok(1_001));
        assert_eq!(parse_timeout(now, b"-0.0001"), Ok(0));
        assert_eq!(parse_timeout(now, b"0x10"), Ok(17_000));
        assert_eq!(parse_timeout(now, b"1e-5"), Ok(1_001));
        let neg = Err(CmdError::err("timeout is negative"));
        for t in ["-1", "inf", "-inf", "1e100"] {
            assert_eq!(parse_timeout(now, t.as_bytes()), neg, "{t}");
        }
        let nf = Err(CmdError::err("timeout is not a float or out of range"));
        for t in ["abc", "nan", " 1", "1 ", "", "1e5000", "1e-5000"] {
            assert_eq!(parse_timeout(now, t.as_bytes()), nf, "{t}");
        }
        // Past the clock's range: blocks "forever", as Redis 7.0 does.
        let far = parse_timeout(now, b"9223372036854775");
        assert!(
            far.clone().is_ok_and(|d| d > 9_000_000_000_000_000_000),
            "{far:?}"
        );
    }

    fn run(eng: &mut Engine, id: ClientHandle, now: u64, cmd: &str) -> String {
        eng.feed(UnixMillis(now), id, format!("{cmd}\r\n").as_bytes());
        take(eng, id)
    }

    fn take(eng: &mut Engine, id: ClientHandle) -> String {
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).replace("\r\n", " ")
    }

    #[test]
    fn fifo_wakeups_deadlines_and_pipelined_input_after_unblocking() {
        let mut eng = Engine::new(Config::default(), 1);
        let c: Vec<ClientHandle> = (0..4)
            .map(|_| eng.connect(UnixMillis(0), ConnInfo::default()))
            .collect();
        assert_eq!(run(&mut eng, c[0], 10, "BLPOP q 0"), "");
        // Input after a blocking command waits until the client is unblocked.
        assert_eq!(run(&mut eng, c[1], 10, "BLPOP q 0.5\r\nPING"), "");
        assert_eq!(run(&mut eng, c[2], 20, "BRPOP q 2"), "");
        assert_eq!(eng.next_deadline(), Some(UnixMillis(510)));
        assert_eq!(run(&mut eng, c[3], 30, "RPUSH q a b"), ":2 ");
        assert_eq!(take(&mut eng, c[0]), "*2 $1 q $1 a ");
        assert_eq!(take(&mut eng, c[1]), "*2 $1 q $1 b +PONG ");
        assert_eq!(take(&mut eng, c[2]), "");
        assert_eq!(eng.next_deadline(), Some(UnixMillis(2020)));
        eng.tick(UnixMillis(2019));
        assert_eq!(take(&mut eng, c[2]), "");
        eng.tick(UnixMillis(2020));
        assert_eq!(take(&mut eng, c[2]), "*-1 ");
        assert_eq!(eng.next_deadline(), None);
    }

    #[test]
    fn blmove_chains_wake_the_destination_waiters() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        let p = eng.connect(UnixMillis(0), ConnInfo::default());
        run(&mut eng, a, 0, "BLMOVE src dst LEFT RIGHT 0");
        run(&mut eng, b, 0, "BZPOPMIN dst 0");
        run(&mut eng, b, 0, "PING");
        run(&mut eng, p, 0, "SET other x");
        let c = eng.connect(UnixMillis(0), ConnInfo::default());
        run(&mut eng, c, 0, "BLPOP dst 0");
        assert_eq!(run(&mut eng, p, 0, "LPUSH src v"), ":1 ");
        assert_eq!(take(&mut eng, a), "$1 v ");
        // The zset waiter ignores a list; the list waiter gets it.
        assert_eq!(take(&mut eng, b), "");
        assert_eq!(take(&mut eng, c), "*2 $3 dst $1 v ");
        assert_eq!(run(&mut eng, p, 0, "ZADD dst 1 m"), ":1 ");
        assert_eq!(take(&mut eng, b), "*3 $3 dst $1 m $1 1 +PONG ");
    }

    #[test]
    fn client_unblock_and_disconnect() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        let p = eng.connect(UnixMillis(0), ConnInfo::default());
        let ida = eng.client(a).map(|c| c.client_id).unwrap_or(0);
        let idb = eng.client(b).map(|c| c.client_id).unwrap_or(0);
        run(&mut eng, a, 0, "BLPOP q 0");
        run(&mut eng, b, 0, "BLPOP q 0");
        assert_eq!(
            run(&mut eng, p, 0, &format!("CLIENT UNBLOCK {ida} ERROR")),
            ":1 "
        );
        assert_eq!(
            take(&mut eng, a),
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK "
        );
        assert_eq!(run(&mut eng, p, 0, &format!("CLIENT UNBLOCK {ida}")), ":0 ");
        eng.disconnect(b);
        assert_eq!(run(&mut eng, p, 0, &format!("CLIENT UNBLOCK {idb}")), ":0 ");
        assert_eq!(run(&mut eng, p, 0, "LPUSH q x"), ":1 ");
        assert_eq!(run(&mut eng, p, 0, "LLEN q"), ":1 ");
        assert_eq!(eng.server().blocking.blocked_clients(), 0);
        assert!(eng.server().dbs[0].blocking_keys.is_empty());
    }

    #[test]
    fn the_idle_timeout_spares_blocked_and_subscribed_clients() {
        let mut cfg = Config::default();
        cfg.set("timeout", b"1").expect("valid");
        let mut eng = Engine::new(cfg, 1);
        let blocked = eng.connect(UnixMillis(0), ConnInfo::default());
        let sub = eng.connect(UnixMillis(0), ConnInfo::default());
        let idle = eng.connect(UnixMillis(0), ConnInfo::default());
        run(&mut eng, blocked, 0, "BLPOP q 0");
        run(&mut eng, sub, 0, "SUBSCRIBE ch");
        eng.tick(UnixMillis(5000));
        assert!(eng.should_close(idle));
        assert!(!eng.should_close(blocked));
        assert!(!eng.should_close(sub));
    }

    #[test]
    fn deny_blocking_answers_like_a_timeout() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        if let Some(c) = eng.client_mut(a) {
            c.tx.in_exec = true;
        }
        assert_eq!(run(&mut eng, a, 0, "BLPOP q 0"), "*-1 ");
        assert_eq!(run(&mut eng, a, 0, "BLMOVE q d LEFT LEFT 0"), "$-1 ");
        assert_eq!(run(&mut eng, a, 0, "BZMPOP 0 1 z MIN"), "*-1 ");
        assert_eq!(eng.server().blocking.blocked_clients(), 0);
    }
}
