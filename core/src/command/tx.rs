//! Transactions (Redis's multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the watched-keys
//! index that every write touches.
//!
//! - While a client is in MULTI, dispatch queues every command but EXEC, DISCARD, MULTI, WATCH,
//!   QUIT and RESET ([`queues`]) and replies +QUEUED; a command refused while queueing (unknown,
//!   arity, NOAUTH, no_multi ...) flags the transaction so EXEC answers EXECABORT.
//! - EXEC runs the queue through [`super::call`], the same path as a top-level command (stats,
//!   `key_modified`, reply modes), inside one array reply.
//! - WATCH: [`WatchIndex`] maps (db, key) to the clients watching it, in WATCH order, as
//!   Redis's `db->watched_keys`; each client keeps its own (db, key) list. A write to a key calls
//!   [`touch_key`] through `Ctx::key_modified`: one `is_empty` test when nothing is watched in
//!   that db. Expiry deletions reach it through `Db::expired_log` (see [`drain_expired`]);
//!   FLUSHDB, FLUSHALL and SWAPDB through [`touch_all_in_db`].

use super::{call, CmdError, CommandSpec, Ctx};
use crate::engine::{Client, Server};
use crate::resp::ReplyWriter;
use crate::time::UnixMillis;
use std::collections::HashMap;

/// One queued command: its table row and arguments (the name included).
pub struct Queued {
    pub cmd: &'static CommandSpec,
    pub args: Vec<Vec<u8>>,
}

/// A client's MULTI state and WATCHed keys (Redis's mstate + the MULTI/DIRTY_* flags).
#[derive(Default)]
pub struct MultiState {
    /// CLIENT_MULTI: inside MULTI.
    pub active: bool,
    /// CLIENT_DIRTY_CAS: a watched key changed; EXEC will answer a nil array.
    pub dirty_cas: bool,
    /// CLIENT_DIRTY_EXEC: a command was refused while queueing; EXEC will answer EXECABORT.
    pub dirty_exec: bool,
    pub queue: Vec<Queued>,
    /// Union of the queued commands' flags (EXEC counts as a write when one of them is).
    pub queued_flags: u32,
    /// Bytes of queued arguments (CLIENT LIST's multi-mem, roughly).
    pub queued_bytes: usize,
    /// Watched keys as (db, key), in WATCH order.
    pub watched: Vec<(usize, Vec<u8>)>,
    /// Set while EXEC runs the queue: blocking commands must not block (CLIENT_DENY_BLOCKING).
    pub in_exec: bool,
}

impl MultiState {
    /// CLIENT LIST's multi=: queued commands inside MULTI, -1 outside.
    pub fn list_count(&self) -> i64 {
        if self.active {
            self.queue.len() as i64
        } else {
            -1
        }
    }
}

/// One client watching one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watcher {
    /// The client's slab slot.
    slot: usize,
    /// The key was already expired when WATCHed (its deletion is then no change).
    expired: bool,
}

/// Per database: watched key -> watchers in WATCH order (Redis's `db->watched_keys`).
#[derive(Default)]
pub struct WatchIndex {
    dbs: Vec<HashMap<Vec<u8>, Vec<Watcher>>>,
}

impl WatchIndex {
    fn db(&mut self, db: usize) -> &mut HashMap<Vec<u8>, Vec<Watcher>> {
        if self.dbs.len() <= db {
            self.dbs.resize_with(db + 1, HashMap::new);
        }
        &mut self.dbs[db]
    }

    /// True if some client watches a key of `db` (the O(1) test on the write path).
    pub fn any_in(&self, db: usize) -> bool {
        self.dbs.get(db).is_some_and(|m| !m.is_empty())
    }

    /// How many clients watch `key` in `db`.
    #[cfg(test)]
    pub fn watchers(&self, db: usize, key: &[u8]) -> usize {
        self.dbs
            .get(db)
            .and_then(|m| m.get(key))
            .map_or(0, Vec::len)
    }
}

/// Commands that run at once even inside MULTI (processCommand's list).
pub fn queues(cmd: &CommandSpec) -> bool {
    !matches!(
        cmd.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Redis's flagTransaction: a command refused while queueing aborts the EXEC.
pub fn flag_transaction(c: &mut Client) {
    if c.tx.active {
        c.tx.dirty_exec = true;
    }
}

/// Redis's queueMultiCommand (the +QUEUED reply is the caller's).
/// `cmd_flags` as getCommandFlags gives them (EXEC is postponed by CLIENT PAUSE WRITE when a
/// queued command may write).
pub fn queue_command(c: &mut Client, cmd: &'static CommandSpec, cmd_flags: u32, args: &[&[u8]]) {
    // No sense in keeping the commands of an aborted transaction.
    if c.tx.dirty_exec {
        return;
    }
    c.tx.queued_bytes += args.iter().map(|a| a.len()).sum::<usize>();
    c.tx.queued_flags |= cmd_flags;
    c.tx.queue.push(Queued {
        cmd,
        args: args.iter().map(|a| a.to_vec()).collect(),
    });
}

/// Redis's discardTransaction: leaves MULTI, clears the flags, unwatches everything.
pub fn discard_transaction(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) {
    let Some(c) = clients.get_mut(slot) else {
        return;
    };
    c.tx.active = false;
    c.tx.dirty_cas = false;
    c.tx.dirty_exec = false;
    c.tx.queue = Vec::new();
    c.tx.queued_flags = 0;
    c.tx.queued_bytes = 0;
    unwatch_all(srv, clients, slot);
}

/// Redis's unwatchAllKeys (the DIRTY_CAS flag is the caller's).
pub fn unwatch_all(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) {
    let Some(c) = clients.get_mut(slot) else {
        return;
    };
    for (db, key) in std::mem::take(&mut c.tx.watched) {
        let map = srv.watched.db(db);
        if let Some(list) = map.get_mut(&key) {
            list.retain(|w| w.slot != slot);
            if list.is_empty() {
                map.remove(&key);
            }
        }
    }
    sync_expiry_logging(srv);
}

/// Forgets a client that is going away.
pub fn client_gone(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) {
    unwatch_all(srv, clients, slot);
}

/// Redis's touchWatchedKey: `key` of `db` changed. `present` is whether the key is in the
/// table right after the change (None: look it up).
pub fn touch_key(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    db: usize,
    key: &[u8],
    present: Option<bool>,
) {
    if !srv.watched.any_in(db) {
        return;
    }
    let present =
        present.unwrap_or_else(|| srv.dbs.get(db).is_some_and(|d| d.keys.contains_key(key)));
    let Some(list) = srv.watched.db(db).get_mut(key) else {
        return;
    };
    let mut dirty = Vec::new();
    for w in list.iter_mut() {
        if w.expired {
            // The key was already expired when WATCHed: its deletion is no logical change.
            // Redis 7.0 then stops looking at the other watchers when the key is present
            // (a `break` in touchWatchedKey): kept for byte-exact behaviour.
            if !present {
                w.expired = false;
                continue;
            }
            break;
        }
        dirty.push(w.slot);
    }
    for slot in dirty {
        if let Some(c) = clients.get_mut(slot) {
            c.tx.dirty_cas = true;
        }
        // Nothing more to learn about a dirty client: stop tracking its keys.
        unwatch_all(srv, clients, slot);
    }
}

/// Redis's touchAllWatchedKeysInDb: `emptied` is about to be flushed or (SWAPDB) replaced with
/// the contents of `replaced_with`. Call before the change.
pub fn touch_all_in_db(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    emptied: usize,
    replaced_with: Option<usize>,
    now: UnixMillis,
) {
    if !srv.watched.any_in(emptied) {
        return;
    }
    let keys: Vec<Vec<u8>> = srv.watched.db(emptied).keys().cloned().collect();
    let expired_in = |srv: &Server, db: usize, key: &[u8]| {
        srv.dbs[db].expires.get(key).is_some_and(|&at| at <= now.0)
    };
    for key in keys {
        let in_emptied = srv.dbs[emptied].keys.contains_key(&key);
        let in_replacement = replaced_with.is_some_and(|r| srv.dbs[r].keys.contains_key(&key));
        if !in_emptied && !in_replacement {
            continue;
        }
        let replacement_expired = replaced_with.is_some_and(|r| expired_in(srv, r, &key));
        let mut dirty = Vec::new();
        if let Some(list) = srv.watched.db(emptied).get_mut(&key) {
            for w in list.iter_mut() {
                if w.expired {
                    if !in_replacement {
                        // Expired key now deleted: no logical change.
                        w.expired = false;
                        continue;
                    } else if replacement_expired {
                        // An expired key stays expired.
                        continue;
                    }
                } else if !in_emptied && replacement_expired {
                    // A missing key is replaced with an expired one.
                    w.expired = true;
                    continue;
                }
                dirty.push(w.slot);
            }
        }
        for slot in dirty {
            if let Some(c) = clients.get_mut(slot) {
                c.tx.dirty_cas = true;
            }
            unwatch_all(srv, clients, slot);
        }
    }
}

/// Handles the keys expiry deleted since the last call (lazily in a lookup or in the active
/// cycle): propagates them as DEL (AOF) and touches their watchers. Expiry deletes through
/// `Db`, which cannot reach the clients, so it logs the keys while someone needs them and this
/// is the one place that drains the log.
#[inline]
pub fn drain_expired(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    // The common case (nobody watches, no AOF) costs one test per command, inlined.
    if srv.expiry_logging {
        drain_expired_log(srv, clients);
    }
}

/// `drain_expired` while expiry logs its keys.
#[inline(never)]
fn drain_expired_log(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    for db in 0..srv.dbs.len() {
        if srv.dbs[db].expired_log.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut srv.dbs[db].expired_log);
        super::persistence::propagate_expired(srv, db, &keys);
        for key in keys {
            // The key was just deleted: it was absent right after the change.
            touch_key(srv, clients, db, &key, Some(false));
            // deleteExpiredKeyAndPropagate's signalModifiedKey(NULL, ...).
            super::tracking::key_deleted(srv, clients, &key);
        }
    }
}

/// Keeps `Db::log_expired` on exactly while someone needs expiry deletions reported: a client
/// watching a key of that database, effects propagated to the AOF, or client-side caching
/// (once a client has enabled tracking, as Redis's tracking table lives on from then).
pub(crate) fn sync_expiry_logging(srv: &mut Server) {
    let every_db = srv.persist.propagate || srv.tracking.enabled_once();
    for (i, db) in srv.dbs.iter_mut().enumerate() {
        db.log_expired = every_db || srv.watched.any_in(i);
    }
    srv.expiry_logging = srv.dbs.iter().any(|db| db.log_expired);
}

/// Redis's isWatchedKeyExpired: a watched key (live when watched) has expired since.
fn watched_key_expired(srv: &Server, slot: usize, c: &Client, now: UnixMillis) -> bool {
    c.tx.watched.iter().any(|(db, key)| {
        let was_expired = srv
            .watched
            .dbs
            .get(*db)
            .and_then(|m| m.get(key))
            .and_then(|l| l.iter().find(|w| w.slot == slot))
            .is_some_and(|w| w.expired);
        !was_expired && srv.dbs[*db].expires.get(key).is_some_and(|&at| at <= now.0)
    })
}

/// MULTI
pub fn multi(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    if ctx.client_ref().tx.active {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.client().tx.active = true;
    ctx.out().ok();
    Ok(())
}

/// DISCARD
pub fn discard(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    if !ctx.client_ref().tx.active {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    discard_transaction(ctx.srv, ctx.clients, ctx.handle.0);
    ctx.out().ok();
    Ok(())
}

/// EXEC
pub fn exec(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    if !ctx.client_ref().tx.active {
        return Err(CmdError::err("EXEC without MULTI"));
    }
    drain_expired(ctx.srv, ctx.clients);
    if watched_key_expired(ctx.srv, ctx.handle.0, ctx.client_ref(), ctx.now) {
        ctx.client().tx.dirty_cas = true;
    }
    let (cas, abort) = {
        let t = &ctx.client_ref().tx;
        (t.dirty_cas, t.dirty_exec)
    };
    if cas || abort {
        discard_transaction(ctx.srv, ctx.clients, ctx.handle.0);
        if abort {
            return Err(CmdError::Msg(
                b"EXECABORT Transaction discarded because of previous errors.".to_vec(),
            ));
        }
        ctx.out().nil_array();
        return Ok(());
    }
    // Unwatch at once: nothing the queue does can abort it now.
    unwatch_all(ctx.srv, ctx.clients, ctx.handle.0);
    let queue = std::mem::take(&mut ctx.client().tx.queue);
    ctx.client().tx.in_exec = true;
    ctx.out().array_len(queue.len());
    // The transaction's effects reach the AOF wrapped in MULTI/EXEC, as Redis propagates them.
    ctx.srv.persist.begin_multi();
    for q in &queue {
        let args: smallvec::SmallVec<[&[u8]; 8]> = q.args.iter().map(Vec::as_slice).collect();
        // The rules may have changed since the command was queued (multi.c checks again).
        if let Err((why, pos)) =
            super::acl::check(ctx.srv, &ctx.clients[ctx.handle.0], q.cmd, &args)
        {
            let context = crate::acl::LogContext::Multi;
            super::acl::log_denied(
                ctx.now,
                ctx.srv,
                ctx.clients,
                ctx.handle.0,
                q.cmd,
                &args,
                why,
                pos,
                context,
            );
            ctx.error(&CmdError::Msg(super::acl::exec_noperm_text(why)));
            continue;
        }
        call(ctx.now, ctx.srv, ctx.clients, ctx.handle, q.cmd, &args);
        if !ctx.clients.contains(ctx.handle.0) {
            ctx.srv.persist.end_multi();
            return Ok(());
        }
    }
    ctx.srv.persist.end_multi();
    ctx.client().tx.in_exec = false;
    // The queue ran: leave MULTI (the commands may have watched nothing: WATCH is refused).
    discard_transaction(ctx.srv, ctx.clients, ctx.handle.0);
    Ok(())
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if ctx.client_ref().tx.active {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    // No point in watching once a watched key has changed.
    if !ctx.client_ref().tx.dirty_cas {
        let slot = ctx.handle.0;
        let db = ctx.client_ref().db;
        let now = ctx.now;
        for key in &args[1..] {
            let c = &ctx.clients[slot];
            if c.tx.watched.iter().any(|(d, k)| *d == db && k == key) {
                continue;
            }
            let expired = ctx.srv.dbs[db]
                .expires
                .get(key)
                .is_some_and(|&at| at <= now.0);
            ctx.srv
                .watched
                .db(db)
                .entry(key.to_vec())
                .or_default()
                .push(Watcher { slot, expired });
            ctx.clients[slot].tx.watched.push((db, key.to_vec()));
        }
        sync_expiry_logging(ctx.srv);
    }
    ctx.out().ok();
    Ok(())
}

/// UNWATCH
pub fn unwatch(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    unwatch_all(ctx.srv, ctx.clients, ctx.handle.0);
    ctx.client().tx.dirty_cas = false;
    ctx.out().ok();
    Ok(())
}

/// Writes the reply for a command queued inside MULTI.
pub fn reply_queued(out: &mut ReplyWriter<'_>) {
    out.simple("QUEUED");
}

#[cfg(test)]
mod tests {
    use crate::resp::{decode_reply, Reply};
    use crate::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};

    struct T {
        eng: Engine,
        now: UnixMillis,
    }

    impl T {
        fn new() -> T {
            T {
                eng: Engine::new(Config::default(), 7),
                now: UnixMillis(1_000_000),
            }
        }

        fn client(&mut self) -> ClientHandle {
            self.eng.connect(self.now, ConnInfo::default())
        }

        fn run(&mut self, id: ClientHandle, cmd: &str) -> Reply {
            let mut args = Vec::new();
            assert!(crate::resp::split_args(cmd.as_bytes(), &mut args));
            self.eng
                .feed(self.now, id, &crate::resp::encode_request(&args));
            let mut out = Vec::new();
            self.eng.drain_output(id, &mut out);
            let (r, n) = decode_reply(&out).unwrap().unwrap();
            assert_eq!(n, out.len(), "one reply to {cmd}");
            r
        }

        fn exec_aborted(&mut self, id: ClientHandle) -> bool {
            assert_eq!(self.run(id, "MULTI"), Reply::simple("OK"));
            assert_eq!(self.run(id, "PING"), Reply::simple("QUEUED"));
            match self.run(id, "EXEC") {
                Reply::NilArray => true,
                Reply::Array(_) => false,
                r => panic!("{r:?}"),
            }
        }

        fn watchers(&self, key: &[u8]) -> usize {
            self.eng.server().watched.watchers(0, key)
        }
    }

    #[test]
    fn exec_runs_the_queue_through_dispatch() {
        let mut t = T::new();
        let a = t.client();
        let before = t.eng.server().stats.commands_processed;
        t.run(a, "MULTI");
        t.run(a, "SET k 1");
        t.run(a, "INCR k");
        assert_eq!(
            t.run(a, "EXEC"),
            Reply::Array(vec![Reply::simple("OK"), Reply::Int(2)])
        );
        // MULTI, SET, INCR and EXEC: the queued commands count once, when they run.
        assert_eq!(t.eng.server().stats.commands_processed - before, 4);
        assert_eq!(t.eng.server().dirty, 2);
    }

    #[test]
    fn watch_index_is_cleaned_up() {
        let mut t = T::new();
        let (a, b) = (t.client(), t.client());
        t.run(a, "WATCH k k2");
        t.run(b, "WATCH k");
        assert_eq!(t.watchers(b"k"), 2);
        // Watching twice is once.
        t.run(a, "WATCH k");
        assert_eq!(t.watchers(b"k"), 2);
        t.run(a, "UNWATCH");
        assert_eq!(t.watchers(b"k"), 1);
        assert_eq!(t.watchers(b"k2"), 0);
        t.eng.disconnect(b);
        assert!(!t.eng.server().watched.any_in(0));
        assert!(!t.eng.server().dbs[0].log_expired);
        // A dirty client stops watching at once (nothing more can change its fate).
        let c = t.client();
        t.run(a, "WATCH k other");
        t.run(c, "SET k 1");
        assert!(!t.eng.server().watched.any_in(0));
        assert!(t.exec_aborted(a));
        // EXEC and DISCARD unwatch.
        t.run(a, "WATCH k");
        t.run(a, "MULTI");
        t.run(a, "DISCARD");
        assert!(!t.eng.server().watched.any_in(0));
    }

    #[test]
    fn a_slot_reused_after_disconnect_does_not_inherit_watches() {
        let mut t = T::new();
        let a = t.client();
        let w = t.client();
        t.run(w, "WATCH k");
        t.eng.disconnect(w);
        let fresh = t.client();
        assert_eq!(fresh, w, "the slab reuses the slot");
        t.run(a, "SET k 1");
        assert!(!t.exec_aborted(fresh));
    }

    #[test]
    fn active_expiry_of_a_watched_key_aborts() {
        let mut t = T::new();
        let (a, b) = (t.client(), t.client());
        t.run(a, "SET k v PX 100");
        t.run(a, "WATCH k");
        t.now = t.now.saturating_add(200);
        // The active cycle deletes it before anyone looks.
        for _ in 0..50 {
            t.eng.tick(t.now);
        }
        assert_eq!(t.eng.server().dbs[0].len(), 0);
        // Recreating it afterwards cannot hide the change.
        t.run(b, "SET k v2");
        assert!(t.exec_aborted(a));
    }

    #[test]
    fn lazily_expired_watched_key_then_recreated_aborts() {
        let mut t = T::new();
        let (a, b) = (t.client(), t.client());
        t.run(a, "SET k v PX 100");
        t.run(a, "WATCH k");
        t.now = t.now.saturating_add(200);
        // GET deletes it lazily (a touch); nothing in the db remembers it.
        assert_eq!(t.run(b, "GET k"), Reply::Nil);
        assert!(t.exec_aborted(a));
    }

    #[test]
    fn key_already_expired_when_watched() {
        let mut t = T::new();
        let (a, b) = (t.client(), t.client());
        t.run(a, "SET k v PX 100");
        t.now = t.now.saturating_add(200);
        t.run(a, "WATCH k");
        // Its lazy deletion is no logical change...
        assert_eq!(t.run(b, "GET k"), Reply::Nil);
        assert!(!t.exec_aborted(a));
        // ... but creating it after the deletion is.
        t.run(a, "SET k v PX 100");
        t.now = t.now.saturating_add(200);
        t.run(a, "WATCH k");
        t.run(b, "GET k");
        t.run(b, "SET k new");
        assert!(t.exec_aborted(a));
    }

    #[test]
    fn overwriting_an_expired_watched_key() {
        // a watched k when it had already expired, b while it was live. SET looks the key
        // up first, which deletes it (no change for a, a change for b), then creates it (a
        // change for both).
        let mut t = T::new();
        let (a, b, c) = (t.client(), t.client(), t.client());
        t.run(c, "SET k v PX 100");
        t.run(b, "WATCH k");
        t.now = t.now.saturating_add(200);
        t.run(a, "WATCH k");
        t.run(c, "SET k w");
        assert!(t.exec_aborted(a));
        assert!(t.exec_aborted(b));
    }

    #[test]
    fn flush_and_swapdb_touch_only_existing_keys() {
        let mut t = T::new();
        let (a, b) = (t.client(), t.client());
        t.run(a, "WATCH missing");
        t.run(b, "FLUSHALL");
        assert!(!t.exec_aborted(a));
        t.run(b, "SELECT 1");
        t.run(b, "SET k 1");
        t.run(a, "WATCH k");
        t.run(b, "SWAPDB 0 1");
        assert!(t.exec_aborted(a));
        assert_eq!(t.run(a, "GET k"), Reply::bulk(b"1"));
        // The watch stays with database 0 after the swap.
        t.run(a, "WATCH k");
        t.run(b, "SELECT 0");
        t.run(b, "SET k 2");
        assert!(t.exec_aborted(a));
    }

    #[test]
    fn errors_while_queueing_discard_the_queue() {
        let mut t = T::new();
        let a = t.client();
        t.run(a, "MULTI");
        t.run(a, "NOPE");
        t.run(a, "SET k v");
        assert!(t.eng.client(a).unwrap().tx.queue.is_empty());
        assert!(t.run(a, "EXEC").is_error());
        assert!(!t.eng.client(a).unwrap().tx.active);
        assert_eq!(t.run(a, "EXISTS k"), Reply::Int(0));
    }

    #[test]
    fn deny_blocking_flag_is_set_only_during_exec() {
        let mut t = T::new();
        let a = t.client();
        t.run(a, "MULTI");
        t.run(a, "PING");
        t.run(a, "EXEC");
        assert!(!t.eng.client(a).unwrap().tx.in_exec);
    }
}
