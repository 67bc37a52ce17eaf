//! Client eviction: `maxmemory-clients` and CLIENT NO-EVICT, as Redis 7.0 does it (server.c's
//! updateClientMemUsageAndBucket, networking.c's getClientMemoryUsage and evictClients).
//!
//! Every client's memory is accounted when it changes: after its bytes arrive, after each
//! command it runs, when the host reports output it holds unsent (`Engine::report_unsent`), and
//! for every client on each tick (Redis's clientsCron, which also catches output pushed to a
//! client by someone else's PUBLISH). The server keeps the sum. When the sum of all clients'
//! memory (NO-EVICT ones included, as Redis counts them) reaches the limit, the biggest
//! evictable clients are closed first, by power-of-two size class (Redis's memory-usage
//! buckets, 32 KB and below in one), the oldest first within a class, until the sum is below
//! the limit; each one counts in INFO's `evicted_clients`. NO-EVICT clients are never
//! evicted; Oxidis has no replica or master links, the other exempt kinds.
//!
//! What counts ([`client_memory`]): the query buffer's allocation, the output buffer (the
//! engine's and what the host holds unsent), the MULTI queue and WATCHed keys, subscriptions'
//! overhead, and a fixed 1 KB for the client itself. The arguments of the command being run
//! are not counted between commands (they are freed after each one, as in Redis, where
//! argv-mem is 0 for an idle client).
//!
//! The sum is kept whether or not eviction is on: it is INFO's `mem_clients_normal`.
//! The check is O(1) per command (the sum is kept as Redis's buckets keep theirs); only when
//! the sum reaches the limit does it walk the clients to choose which to evict, which Redis's
//! buckets avoid but which is then followed by closing clients anyway.

use crate::engine::{Client, ClientHandle, Event, Server};

/// The smallest limit Redis applies, so a bad setting cannot cut every client off.
const MIN_LIMIT: u64 = 128 * 1024;
/// Redis's CLIENT_MEM_USAGE_BUCKET_MIN_LOG and MAX_LOG: the size classes, in powers of two.
const BUCKET_MIN_LOG: u32 = 15;
const BUCKET_MAX_LOG: u32 = 33;
/// What the client struct itself costs, counted once per client.
const CLIENT_BASE: usize = 1024;

/// The bytes a client is accounted for (CLIENT LIST's tot-mem without argv-mem).
#[inline]
pub(crate) fn client_memory(c: &Client) -> usize {
    let qbuf = c.query_buffer_capacity().max(c.query_buffer_len());
    let (sub, psub, ssub) = super::pubsub::subscription_counts(c);
    qbuf + multi_memory(c)
        + c.out.capacity()
        + c.host_pending
        + (sub + psub + ssub) * std::mem::size_of::<usize>()
        + CLIENT_BASE
}

/// CLIENT LIST's multi-mem: the queued commands and the WATCHed keys.
pub(crate) fn multi_memory(c: &Client) -> usize {
    c.tx.queued_bytes
        + c.tx.watched.len() * 56
        + c.tx.queue.capacity() * std::mem::size_of::<super::tx::Queued>()
}

/// Redis's getClientEvictionLimit: 0 when client eviction is off; a negative
/// `maxmemory-clients` is a percentage of `maxmemory` (off without a maxmemory).
pub(crate) fn limit(srv: &Server) -> u64 {
    let cfg = &srv.config;
    let bytes = if cfg.maxmemory_clients < 0 && cfg.maxmemory > 0 {
        (cfg.maxmemory as f64 * -(cfg.maxmemory_clients as f64) / 100.0) as u64
    } else if cfg.maxmemory_clients > 0 {
        cfg.maxmemory_clients as u64
    } else {
        return 0;
    };
    bytes.max(MIN_LIMIT)
}

/// Re-accounts one client's memory in the server's sum.
#[inline]
pub(crate) fn update(srv: &mut Server, c: &mut Client) {
    let m = client_memory(c);
    srv.clients_memory = srv.clients_memory.saturating_sub(c.mem_accounted) + m;
    c.mem_accounted = m;
}

/// Takes a client that goes away out of the sum.
pub(crate) fn forget(srv: &mut Server, c: &Client) {
    srv.clients_memory = srv.clients_memory.saturating_sub(c.mem_accounted);
}

/// Re-accounts every client (the tick's pass, Redis's clientsCron), then evicts if needed.
pub(crate) fn cron(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    for (_, c) in clients.iter_mut() {
        update(srv, c);
    }
    evict(srv, clients);
}

/// Redis's power-of-two size class of a client using `mem` bytes.
fn bucket(mem: usize) -> u32 {
    let bits = usize::BITS - mem.leading_zeros();
    bits.clamp(BUCKET_MIN_LOG, BUCKET_MAX_LOG)
}

/// Redis's evictClients: while the clients' memory is at or above the limit, closes the
/// biggest evictable client. Returns whether any was evicted.
///
/// Inlined for its first test: with `maxmemory-clients` 0 (the default) there is no limit
/// (`limit` is 0), and a call costs one comparison.
#[inline]
pub(crate) fn evict(srv: &mut Server, clients: &mut slab::Slab<Client>) -> bool {
    if srv.config.maxmemory_clients == 0 {
        return false;
    }
    evict_over_limit(srv, clients)
}

/// `evict` when `maxmemory-clients` is set.
#[inline(never)]
fn evict_over_limit(srv: &mut Server, clients: &mut slab::Slab<Client>) -> bool {
    let limit = limit(srv);
    if limit == 0 || (srv.clients_memory as u64) < limit {
        return false;
    }
    // Only now, over the limit, look at every client: fresh figures, then the biggest first.
    let mut candidates = Vec::new();
    for (slot, c) in clients.iter_mut() {
        update(srv, c);
        // clientEvictionAllowed: normal and pubsub clients only (never a replica).
        if !c.no_evict && !c.close_asap && !crate::repl::master::is_replica(c) {
            candidates.push((bucket(c.mem_accounted), c.client_id, slot));
        }
    }
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut evicted = false;
    for (_, _, slot) in candidates {
        if (srv.clients_memory as u64) < limit {
            break;
        }
        let c = &mut clients[slot];
        c.close_asap = true;
        c.out = Vec::new();
        forget(srv, c);
        c.mem_accounted = 0;
        srv.stats.evicted_clients += 1;
        srv.events.push_back(Event::Close(ClientHandle(slot)));
        evicted = true;
    }
    evicted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Engine, UnixMillis};

    fn engine(maxmemory_clients: &str) -> Engine {
        let mut eng = Engine::new(Config::default(), 1);
        let c = eng.connect(UnixMillis(1), Default::default());
        for (k, v) in [
            ("maxmemory", "10mb"),
            ("maxmemory-clients", maxmemory_clients),
        ] {
            eng.feed(
                UnixMillis(1),
                c,
                format!("CONFIG SET {k} {v}\r\n").as_bytes(),
            );
        }
        let mut out = Vec::new();
        eng.drain_output(c, &mut out);
        assert_eq!(out, b"+OK\r\n+OK\r\n");
        eng
    }

    #[test]
    fn limits_follow_redis() {
        let eng = engine("0");
        assert_eq!(limit(&eng.srv), 0);
        assert_eq!(limit(&engine("10%").srv), 1024 * 1024);
        assert_eq!(limit(&engine("1k").srv), MIN_LIMIT);
        assert_eq!(limit(&engine("1mb").srv), 1 << 20);
        assert_eq!(bucket(0), 15);
        assert_eq!(bucket(40_000), 16);
        assert_eq!(bucket(usize::MAX), 33);
    }

    #[test]
    fn the_sum_follows_clients_as_they_come_and_go() {
        let mut eng = engine("0");
        let base = eng.srv.clients_memory;
        let c = eng.connect(UnixMillis(1), Default::default());
        eng.feed(UnixMillis(2), c, b"*2\r\n$3\r\nGET\r\n$100000\r\n");
        assert!(eng.srv.clients_memory >= base + 20);
        eng.report_unsent(UnixMillis(2), c, 500_000);
        assert!(eng.srv.clients_memory >= base + 500_000);
        eng.disconnect(c);
        assert_eq!(eng.srv.clients_memory, base);
    }

    #[test]
    fn the_biggest_client_goes_and_no_evict_ones_stay() {
        let mut eng = engine("200kb");
        let small = eng.connect(UnixMillis(1), Default::default());
        let guarded = eng.connect(UnixMillis(1), Default::default());
        let big = eng.connect(UnixMillis(1), Default::default());
        let now = UnixMillis(2);
        eng.feed(now, guarded, b"CLIENT NO-EVICT on\r\n");
        let mut sink = Vec::new();
        eng.drain_output(guarded, &mut sink);
        eng.feed(now, small, b"PING\r\n");
        // A big partial bulk string waits in `big`'s query buffer.
        let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000\r\n".to_vec();
        req.extend(vec![b'x'; 300_000]);
        eng.feed(now, big, &req);
        assert!(eng.closes_at_once(big));
        assert!(!eng.closes_at_once(small));
        assert_eq!(eng.srv.stats.evicted_clients, 1);
        // The guarded client's output held by the host is just as big: it stays, and the
        // others go (Redis: "Over client maxmemory after evicting all evictable clients").
        eng.report_unsent(now, guarded, 300_000);
        assert!(!eng.closes_at_once(guarded));
        assert!(eng.closes_at_once(small));
        assert_eq!(eng.srv.stats.evicted_clients, 3);
    }
}
