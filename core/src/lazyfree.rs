//! Lazy free (Redis's lazyfree.c), without threads in the core.
//!
//! Freeing a big value (a set of a million members) takes as long as building it did. Redis
//! hands such values to a background thread when asked to (UNLINK, FLUSHDB/FLUSHALL ASYNC,
//! and the `lazyfree-lazy-*` options for DEL, expiry, implicit deletions and flushes without a
//! mode). The core cannot spawn threads, so it hands them to the host instead:
//!
//! - a command or the keyspace drops a value through [`Server::free_value`] /
//!   [`Server::free_db`] (or, inside `Db`, through its `pending_free` list, which the engine
//!   empties after every `feed` and `tick`);
//! - if the value is big (free effort above [`LAZYFREE_THRESHOLD`], as Redis counts it) and the
//!   applicable option says lazy, and the host said it frees lazily
//!   ([`HostInfo::frees_lazily`](crate::engine::HostInfo)), it goes to a queue the host takes
//!   with [`Engine::take_lazyfree`](crate::Engine::take_lazyfree) and drops on a worker thread;
//! - otherwise it is dropped right away, so a host that does nothing (the wasm build) needs no
//!   code at all.

use crate::engine::Server;
use crate::types::Value;
use crate::types::{Dict, Key};
use std::sync::atomic::{AtomicU64, Ordering};

/// Redis's LAZYFREE_THRESHOLD: values whose free effort is at most this are freed at once
/// (handing them over would cost more than freeing them).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Bumped whenever a database sets a value aside in its `pending_free` list (`note_pending`);
/// each engine remembers the count it last collected at, so the scan of every database after
/// each request is skipped when nothing was set aside anywhere (most requests).
static PENDING_GEN: AtomicU64 = AtomicU64::new(0);

/// A database put a value in its `pending_free` list.
pub(crate) fn note_pending() {
    PENDING_GEN.fetch_add(1, Ordering::Relaxed);
}

/// Which `lazyfree-lazy-*` option governs a drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeReason {
    /// A key's TTL passed (lazyfree-lazy-expire).
    Expire,
    /// An implicit delete: SET over a key, RENAME's destination ... (lazyfree-lazy-server-del).
    ServerDel,
    /// DEL (lazyfree-lazy-user-del).
    UserDel,
    /// A key evicted under maxmemory (lazyfree-lazy-eviction).
    Evict,
    /// UNLINK, FLUSH* ASYNC: always lazy.
    Always,
}

/// What the host frees on its worker: opaque, the host only counts it and drops it. `Send`,
/// so it can cross to another thread.
pub struct Garbage(Kind);

// The values are never read, only dropped: that is their use (on the host's thread).
#[allow(dead_code)]
enum Kind {
    Value(Value),
    /// A whole database (FLUSHDB/FLUSHALL ASYNC): its keys and its expiry table.
    Db(Box<(Dict<Value, Key>, Dict<u64, Key>)>),
    /// A big bucket array a completed rehash left (memory only, not an object).
    Table(crate::types::dict::RetiredTable),
}

impl Garbage {
    /// How many objects this is, for INFO's lazyfree_pending_objects / lazyfreed_objects
    /// (Redis counts one per value, and a flushed database's key count).
    pub fn objects(&self) -> usize {
        match &self.0 {
            Kind::Value(_) => 1,
            Kind::Db(db) => db.0.len(),
            Kind::Table(_) => 0,
        }
    }
}

// The host moves Garbage to another thread: keep every value type Send.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Garbage>();
    assert_send::<Value>();
};

/// Redis's lazyfreeGetFreeEffort: roughly how many allocations freeing `v` walks. Compact
/// encodings (listpack, intset) and strings are one allocation.
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Int(_) | Value::Str(_) => 1,
        Value::List(l) => l.len(),
        Value::Hash(h) if h.encoding() == "listpack" => 1,
        Value::Hash(h) => h.len(),
        Value::Set(s) if s.encoding() == "intset" => 1,
        Value::Set(s) => s.len(),
        Value::ZSet(z) if z.encoding() == "listpack" => 1,
        Value::ZSet(z) => z.len(),
        // Redis counts the rax nodes, and every group as one allocation plus its PEL, taking
        // the first group's PEL size for all.
        Value::Stream(s) => {
            s.rax_nodes()
                + s.groups()
                    .values()
                    .next()
                    .map_or(0, |g| s.groups().len() * (1 + g.pel.len()))
        }
    }
}

/// True if `v` is worth freeing elsewhere (Redis's `free_effort > LAZYFREE_THRESHOLD`).
pub fn is_big(v: &Value) -> bool {
    free_effort(v) > LAZYFREE_THRESHOLD
}

impl Server {
    /// Whether drops for `reason` are lazy under the current configuration.
    pub(crate) fn lazy_for(&self, reason: FreeReason) -> bool {
        let c = &self.config;
        match reason {
            FreeReason::Expire => c.lazyfree_lazy_expire,
            FreeReason::ServerDel => c.lazyfree_lazy_server_del,
            FreeReason::UserDel => c.lazyfree_lazy_user_del,
            FreeReason::Evict => c.lazyfree_lazy_eviction,
            FreeReason::Always => true,
        }
    }

    /// Drops `v`: on the host's worker if it is big, `reason` says lazy and the host frees
    /// lazily; here and now otherwise (Redis's dbAsyncDelete / freeObjAsync).
    pub(crate) fn free_value(&mut self, v: Value, reason: FreeReason) {
        if self.host.frees_lazily && self.lazy_for(reason) && is_big(&v) {
            self.lazyfree.push(Garbage(Kind::Value(v)));
        }
    }

    /// Drops a flushed database: on the host's worker when `lazy` (FLUSH* ASYNC, or no mode
    /// and lazyfree-lazy-user-flush) and the host frees lazily (Redis's emptyDbAsync).
    pub(crate) fn free_db(&mut self, keys: Dict<Value, Key>, expires: Dict<u64, Key>, lazy: bool) {
        if lazy && self.host.frees_lazily && !keys.is_empty() {
            self.lazyfree
                .push(Garbage(Kind::Db(Box::new((keys, expires)))));
        }
    }

    /// Moves the big values the databases set aside (expired or overwritten) to the host's
    /// queue, or drops them, according to their options.
    /// Runs after every request: the databases are scanned only when some database (of any
    /// engine) set a value aside since this engine last looked (`note_pending`).
    #[inline]
    pub(crate) fn collect_pending_free(&mut self) {
        // Inlined for the common case: nothing retired, nothing set aside since last time.
        if self.host.frees_lazily || PENDING_GEN.load(Ordering::Relaxed) != self.pending_free_seen {
            self.collect_pending_free_now();
        }
    }

    #[inline(never)]
    fn collect_pending_free_now(&mut self) {
        if self.host.frees_lazily {
            for t in crate::types::dict::take_retired_tables() {
                self.lazyfree.push(Garbage(Kind::Table(t)));
            }
        }
        let gen = PENDING_GEN.load(Ordering::Relaxed);
        if gen == self.pending_free_seen {
            return;
        }
        self.pending_free_seen = gen;
        for i in 0..self.dbs.len() {
            if self.dbs[i].pending_free.is_empty() {
                continue;
            }
            for (reason, v) in std::mem::take(&mut self.dbs[i].pending_free) {
                self.free_value(v, reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::HostInfo;
    use crate::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};

    fn engine(frees_lazily: bool, config: &[(&str, &str)]) -> (Engine, ClientHandle) {
        let mut cfg = Config::default();
        for (k, v) in config {
            cfg.set(k, v.as_bytes()).expect("valid");
        }
        let mut eng = Engine::new(cfg, 1);
        eng.set_host_info(
            UnixMillis(0),
            HostInfo {
                frees_lazily,
                ..HostInfo::default()
            },
        );
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        (eng, id)
    }

    fn run(eng: &mut Engine, id: ClientHandle, now: u64, cmd: &str) -> Vec<u8> {
        let mut req = Vec::new();
        for line in cmd.split(';') {
            req.extend_from_slice(line.trim().as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        eng.feed(UnixMillis(now), id, &req);
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        out
    }

    fn big_set(eng: &mut Engine, id: ClientHandle, key: &str, n: usize) {
        let members: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let reply = run(eng, id, 1, &format!("SADD {key} {}", members.join(" ")));
        assert_eq!(reply, format!(":{n}\r\n").into_bytes());
    }

    fn queued(eng: &mut Engine) -> Vec<usize> {
        eng.take_lazyfree().iter().map(Garbage::objects).collect()
    }

    #[test]
    fn unlink_hands_only_big_values_to_the_host() {
        let (mut eng, id) = engine(true, &[]);
        big_set(&mut eng, id, "big", 65);
        big_set(&mut eng, id, "small", 64);
        assert_eq!(run(&mut eng, id, 1, "UNLINK big small nope"), b":2\r\n");
        assert_eq!(queued(&mut eng), [1]);
        // Intsets are one allocation, whatever their size.
        let ints: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        run(&mut eng, id, 1, &format!("SADD ints {}", ints.join(" ")));
        assert_eq!(run(&mut eng, id, 1, "UNLINK ints"), b":1\r\n");
        assert_eq!(queued(&mut eng), Vec::<usize>::new());
    }

    #[test]
    fn del_is_lazy_only_with_lazyfree_lazy_user_del() {
        let (mut eng, id) = engine(true, &[]);
        big_set(&mut eng, id, "big", 100);
        assert_eq!(run(&mut eng, id, 1, "DEL big"), b":1\r\n");
        assert!(queued(&mut eng).is_empty());
        run(&mut eng, id, 1, "CONFIG SET lazyfree-lazy-user-del yes");
        big_set(&mut eng, id, "big", 100);
        assert_eq!(run(&mut eng, id, 1, "DEL big"), b":1\r\n");
        assert_eq!(queued(&mut eng), [1]);
    }

    #[test]
    fn a_host_that_does_not_free_lazily_gets_nothing() {
        let (mut eng, id) = engine(false, &[("lazyfree-lazy-user-del", "yes")]);
        big_set(&mut eng, id, "big", 100);
        assert_eq!(run(&mut eng, id, 1, "UNLINK big"), b":1\r\n");
        big_set(&mut eng, id, "big", 100);
        assert_eq!(run(&mut eng, id, 1, "FLUSHALL ASYNC"), b"+OK\r\n");
        assert!(queued(&mut eng).is_empty());
    }

    #[test]
    fn flushes_follow_their_mode_and_lazyfree_lazy_user_flush() {
        let (mut eng, id) = engine(true, &[]);
        big_set(&mut eng, id, "a", 3);
        run(&mut eng, id, 1, "SET b 1");
        assert_eq!(run(&mut eng, id, 1, "FLUSHDB ASYNC"), b"+OK\r\n");
        assert_eq!(queued(&mut eng), [2]);
        run(&mut eng, id, 1, "SET b 1");
        assert_eq!(run(&mut eng, id, 1, "FLUSHALL"), b"+OK\r\n");
        assert!(queued(&mut eng).is_empty());
        run(&mut eng, id, 1, "CONFIG SET lazyfree-lazy-user-flush yes");
        run(&mut eng, id, 1, "SET b 1; SELECT 3; SET c 1; SET d 1");
        assert_eq!(run(&mut eng, id, 1, "FLUSHALL"), b"+OK\r\n");
        let mut q = queued(&mut eng);
        q.sort();
        assert_eq!(q, [1, 2]);
        run(&mut eng, id, 1, "SET b 1");
        assert_eq!(run(&mut eng, id, 1, "FLUSHDB SYNC"), b"+OK\r\n");
        assert!(queued(&mut eng).is_empty());
    }

    #[test]
    fn overwrite_and_expiry_follow_their_options() {
        let (mut eng, id) = engine(true, &[]);
        big_set(&mut eng, id, "big", 100);
        run(&mut eng, id, 1, "SET big x");
        assert!(queued(&mut eng).is_empty());
        run(
            &mut eng,
            id,
            1,
            "CONFIG SET lazyfree-lazy-server-del yes lazyfree-lazy-expire yes",
        );
        run(&mut eng, id, 1, "DEL big");
        big_set(&mut eng, id, "big", 100);
        assert_eq!(run(&mut eng, id, 1, "SET big x"), b"+OK\r\n");
        assert_eq!(queued(&mut eng), [1]);
        run(&mut eng, id, 1, "DEL big");
        big_set(&mut eng, id, "big", 100);
        run(&mut eng, id, 1, "PEXPIRE big 10");
        assert_eq!(run(&mut eng, id, 20, "EXISTS big"), b":0\r\n");
        assert_eq!(queued(&mut eng), [1]);
        // Active expiry too.
        big_set(&mut eng, id, "big", 100);
        run(&mut eng, id, 20, "PEXPIRE big 10");
        eng.tick(UnixMillis(100));
        assert_eq!(queued(&mut eng), [1]);
        assert_eq!(run(&mut eng, id, 100, "DBSIZE"), b":0\r\n");
    }
}
