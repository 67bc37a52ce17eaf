//! maxmemory: the per-key access clock and counter (Redis's evict.c LRU clock and LFU
//! counter), and eviction.
//!
//! Every key carries Redis's 24-bit `robj->lru` field (in `types::Key`, which costs no memory).
//! Under an LRU policy (or none) it is the LRU clock of the last access, seconds modulo 2^24;
//! under an LFU policy it is 16 bits of "last decrement time" in minutes and an 8-bit
//! logarithmic access counter. Lookups update it as Redis's lookupKey does (`Db::touch`).
//! Time is the engine's `now`, never a wall clock.
//!
//! Eviction is Redis 7.0's performEvictions: before each command while `maxmemory` is set
//! (dispatch), and from the engine's tick while a previous round left memory over the limit
//! (Redis's evictionTimeProc). Memory is what the host counts (`HostInfo::used_memory`: the
//! native server's counting allocator; the wasm host's own counter) minus what Redis does not
//! count for eviction (the AOF buffer not yet taken by the host). A round samples keys into
//! Redis's 16-entry pool (`maxmemory-samples` per database per refill) and deletes the best
//! candidate until the memory freed, measured across each deletion as Redis does, covers the
//! excess. Redis bounds a round by time (`maxmemory-eviction-tenacity`: 500 µs at the default
//! 10); the core has no clock, so it bounds a round by keys instead (`keys_per_round`), and the
//! tick goes on where the round stopped, so one command never pays for a big excess.

use crate::config::MaxmemoryPolicy;
use crate::engine::{Client, Server};
use crate::lazyfree::FreeReason;
use crate::rng::Rng;
use crate::time::UnixMillis;
use crate::types::key::LRU_MAX;

/// Redis's LRU_CLOCK_RESOLUTION: the LRU clock ticks once a second.
pub const LRU_CLOCK_RESOLUTION: u64 = 1000;
/// Redis's LFU_INIT_VAL: the counter of a new key, so it is not evicted at once.
pub const LFU_INIT_VAL: u32 = 5;

/// How key accesses are recorded: the policy's kind and the LFU tunables, with the current
/// time. Each database keeps a copy (`Db::access`), set by `Server::sync_access` when the
/// configuration or the time changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// An LFU policy is selected (Redis's MAXMEMORY_FLAG_LFU).
    pub lfu: bool,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// The engine's time, ms.
    pub now_ms: u64,
    /// A fork child is saving (BGSAVE, BGREWRITEAOF): accesses leave the field alone, as
    /// lookupKey does under hasActiveChildProcess, so pages are not copied for it.
    pub frozen: bool,
}

impl Access {
    /// Redis's LRU_CLOCK(): seconds modulo 2^24.
    #[inline]
    pub fn lru_clock(&self) -> u32 {
        ((self.now_ms / LRU_CLOCK_RESOLUTION) & LRU_MAX as u64) as u32
    }

    /// Redis's LFUGetTimeInMinutes: minutes modulo 2^16.
    #[inline]
    pub fn lfu_minutes(&self) -> u32 {
        ((self.now_ms / 1000 / 60) & 65535) as u32
    }

    /// The field of a new key (Redis's createObject).
    #[inline]
    pub fn new_key(&self) -> u32 {
        if self.lfu {
            (self.lfu_minutes() << 8) | LFU_INIT_VAL
        } else {
            self.lru_clock()
        }
    }

    /// The field after an access (lookupKey: updateLFU, or the LRU clock).
    #[inline]
    pub fn touched(&self, field: u32, rng: &mut Rng) -> u32 {
        if self.frozen {
            field
        } else if self.lfu {
            let counter = self.lfu_log_incr(self.lfu_decr_and_return(field), rng);
            (self.lfu_minutes() << 8) | counter
        } else {
            self.lru_clock()
        }
    }

    /// Redis's estimateObjectIdleTime: ms since the last access of an LRU field.
    pub fn idle_ms(&self, field: u32) -> u64 {
        let clock = self.lru_clock();
        let ticks = if clock >= field {
            clock - field
        } else {
            clock + (LRU_MAX - field)
        };
        u64::from(ticks) * LRU_CLOCK_RESOLUTION
    }

    /// Redis's LFUTimeElapsed: minutes since `ldt`, wrapping at 2^16.
    fn lfu_time_elapsed(&self, ldt: u32) -> u32 {
        let now = self.lfu_minutes();
        if now >= ldt {
            now - ldt
        } else {
            65535 - ldt + now
        }
    }

    /// Redis's LFUDecrAndReturn: the counter, decremented by one per `lfu-decay-time`
    /// minutes since its last decrement (not stored: the caller does when it updates).
    pub fn lfu_decr_and_return(&self, field: u32) -> u32 {
        let ldt = field >> 8;
        let counter = field & 255;
        let periods = self
            .lfu_time_elapsed(ldt)
            .checked_div(self.lfu_decay_time)
            .unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// Redis's LFULogIncr: increments the counter with probability 1 / ((c - 5) * factor + 1).
    fn lfu_log_incr(&self, counter: u32, rng: &mut Rng) -> u32 {
        if counter >= 255 {
            return 255;
        }
        let r = rng.unit_f64();
        let baseval = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (baseval * self.lfu_log_factor as f64 + 1.0);
        if r < p {
            counter + 1
        } else {
            counter
        }
    }

    /// The field for RESTORE's / the RDB's IDLETIME seconds (Redis's objectSetLRUOrLFU): only
    /// under an LRU-style policy.
    pub fn field_for_idle_secs(&self, idle_secs: u64) -> Option<u32> {
        if self.lfu {
            return None;
        }
        let clock = self.lru_clock();
        let idle = idle_secs.saturating_mul(1000) / LRU_CLOCK_RESOLUTION;
        Some(match u64::from(clock).checked_sub(idle) {
            Some(at) => at as u32,
            // Before the clock's start: Redis puts it half-way round the circle, so it looks
            // idle for a long while.
            None => (clock + LRU_MAX / 2) % LRU_MAX,
        })
    }

    /// The field for RESTORE's / the RDB's FREQ (objectSetLRUOrLFU): only under LFU.
    pub fn field_for_freq(&self, freq: u8) -> Option<u32> {
        self.lfu
            .then(|| (self.lfu_minutes() << 8) | u32::from(freq))
    }
}

/// Redis's EVPOOL_SIZE.
const EVPOOL_SIZE: usize = 16;

/// What a round of evictions achieved (Redis's EVICT_OK / EVICT_RUNNING / EVICT_FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EvictResult {
    /// Within the limit, or evicting is not possible now (loading, a busy script, a pause).
    Ok,
    /// Still over the limit; the tick goes on evicting.
    Running,
    /// Over the limit with nothing left to evict (or noeviction): deny-oom commands fail.
    Fail,
}

/// One candidate in the eviction pool: a higher `idle` is a better candidate.
#[derive(Clone, Debug)]
struct PoolEntry {
    idle: u64,
    key: Vec<u8>,
    db: usize,
}

/// Eviction state and counters (on `Server`).
#[derive(Debug, Default)]
pub(crate) struct Evict {
    /// Redis's EvictionPoolLRU: sorted by ascending `idle`, empty slots as None.
    pool: Vec<Option<PoolEntry>>,
    /// The random policies' database cursor (Redis's static next_db).
    next_db: usize,
    /// A round stopped over the limit: the tick keeps evicting (isEvictionProcRunning).
    pub(crate) running: bool,
    /// INFO's evicted_keys.
    pub(crate) evicted_keys: u64,
    /// The OOM state at the start of the current command (server.pre_command_oom_state):
    /// scripts refuse their first deny-oom command by it.
    pub(crate) pre_command_oom: bool,
    /// INFO's total_eviction_exceeded_time / current_eviction_exceeded_time, in the engine's
    /// time (ms).
    exceeded_since: Option<UnixMillis>,
    pub(crate) exceeded_total_ms: u64,
    /// INFO's used_memory_startup: what the host counted when it set the engine up.
    pub(crate) startup_used: u64,
    /// The host's figure from `Engine::set_used_memory` (hosts without a counter function).
    pub(crate) reported_used: u64,
    /// INFO's used_memory_peak, sampled by the tick (serverCron's stat_peak_memory).
    pub(crate) peak_used: u64,
}

/// Redis's getMemoryOverheadData: the one breakdown INFO memory and MEMORY STATS / DOCTOR
/// both show, from the host's used-memory figure and the structures the engine knows.
pub(crate) struct Overhead {
    /// Used memory (the host's count less the Lua states, as Redis's zmalloc_used_memory).
    pub used: u64,
    pub peak: u64,
    pub startup: u64,
    /// Replicas' share of the replication buffer (what exceeds repl-backlog-size; MONITOR
    /// clients are normal clients, as in Redis) and the backlog's.
    pub clients_slaves: u64,
    pub repl_backlog: u64,
    pub clients_normal: u64,
    pub aof_buffer: u64,
    pub lua_caches: u64,
    /// The cluster bus links (mem_cluster_links, as the cluster cron last summed them).
    pub cluster_links: u64,
    /// Per non-empty database: (index, main table, expires table).
    pub dbs: Vec<(usize, u64, u64)>,
    pub keys: u64,
    /// Everything above but used and peak: overhead.total.
    pub total: u64,
    pub dataset: u64,
    pub dataset_perc: f64,
    pub bytes_per_key: u64,
    pub rss: u64,
}

impl Evict {
    /// CONFIG RESETSTAT: evicted_keys and the exceeded times start again (a round in
    /// progress counts from now).
    pub(crate) fn reset_stats(&mut self, now: UnixMillis) {
        self.evicted_keys = 0;
        self.exceeded_total_ms = 0;
        if self.exceeded_since.is_some() {
            self.exceeded_since = Some(now);
        }
    }

    /// INFO's current_eviction_exceeded_time (ms).
    pub(crate) fn current_exceeded_ms(&self, now: UnixMillis) -> u64 {
        self.exceeded_since.map_or(0, |t| now.0.saturating_sub(t.0))
    }
}

/// Redis's evictionTimeLimitUs: the time a round may take at `tenacity` (0-100), in µs.
fn time_limit_us(tenacity: i64) -> u64 {
    match tenacity {
        t if t <= 10 => 50 * t.max(0) as u64,
        t if t < 100 => (500.0 * 1.15f64.powf(t as f64 - 10.0)) as u64,
        _ => u64::MAX,
    }
}

/// How many keys a round may evict at `tenacity`: Redis's time limit at about 2 µs a key
/// (sampling 5 keys per database and deleting one), checked every 16 keys as Redis checks
/// its clock — 256 at the default 10, 16 at 0, no limit at 100.
pub(crate) fn keys_per_round(tenacity: i64) -> u64 {
    let keys = time_limit_us(tenacity) / 2;
    keys.div_ceil(16).max(1).saturating_mul(16)
}

impl Server {
    /// Redis's zmalloc_used_memory: what the host counts (its `HostInfo::used_memory`
    /// function, else the figure it last gave `Engine::set_used_memory`; 0 when it counts
    /// nothing, and then nothing is ever evicted), less the Lua states, which Redis allocates
    /// outside zmalloc (they have their own INFO fields).
    pub(crate) fn used_memory(&self) -> u64 {
        let reported = self.host_used_memory();
        let lua = self.script.vm.as_ref().map_or(0, |vm| vm.used_memory())
            + self.script.functions.used_memory();
        reported.saturating_sub(lua as u64)
    }

    /// What the host counts, Lua states included (`used_memory` takes them off).
    #[inline]
    fn host_used_memory(&self) -> u64 {
        match self.host.used_memory {
            Some(f) => f() as u64,
            None => self.evict.reported_used,
        }
    }

    /// Memory as eviction sees it: (used, the part not counted for eviction).
    pub(crate) fn memory_for_evict(&self) -> (u64, u64) {
        (self.used_memory(), self.mem_not_counted_for_evict())
    }

    /// Redis's getMemoryOverheadData: startup memory, client buffers, the AOF buffer, the
    /// script cache, the databases' hash tables; the dataset is what is left of used memory.
    /// INFO memory and MEMORY STATS / DOCTOR all read this.
    /// The replication buffer figures are the ones the replication code last computed
    /// (`repl::master::buffer_memory`, refreshed before each sleep); `overhead_with` takes
    /// fresh ones.
    pub(crate) fn overhead(&self) -> Overhead {
        self.overhead_with(self.repl.master.buffer_mem)
    }

    /// `overhead` with the replication buffer figures (total, backlog, replicas).
    pub(crate) fn overhead_with(&self, repl: (u64, u64, u64)) -> Overhead {
        let used = self.memory_for_evict().0;
        let startup = self.evict.startup_used;
        // Every client's accounted memory (CLIENT LIST's tot-mem), kept as a running sum
        // (client_evict.rs): Redis's stat_clients_type_memory, also kept incrementally.
        let clients_normal = self.clients_memory as u64;
        let aof_buffer = self.aof_buffer_len();
        // The cache keeps SHA1s (the bodies live in the Lua state, counted with it).
        let lua_caches: u64 = self.script.cache.keys().map(|k| k.len() as u64 + 64).sum();
        let (_, repl_backlog, clients_slaves) = repl;
        let cluster_links = self
            .cluster
            .as_ref()
            .map_or(0, |c| c.stat_cluster_links_memory as u64);
        let mut total = startup
            + repl_backlog
            + clients_slaves
            + clients_normal
            + cluster_links
            + aof_buffer
            + lua_caches;
        let mut dbs = Vec::new();
        let mut keys = 0;
        for (i, db) in self.dbs.iter().enumerate() {
            if db.keys.is_empty() {
                continue;
            }
            keys += db.keys.len() as u64;
            let main = db.keys.overhead_bytes() as u64;
            let expires = db.expires.overhead_bytes() as u64;
            total += main + expires;
            dbs.push((i, main, expires));
        }
        let dataset = used.saturating_sub(total);
        let net = if used > startup { used - startup } else { 1 };
        Overhead {
            used,
            peak: self.evict.peak_used.max(used),
            startup,
            clients_slaves,
            repl_backlog,
            clients_normal,
            aof_buffer,
            lua_caches,
            cluster_links,
            dbs,
            keys,
            total,
            dataset,
            dataset_perc: dataset as f64 * 100.0 / net as f64,
            bytes_per_key: net.checked_div(keys).unwrap_or(0),
            rss: self.host.used_memory_rss.map_or(0, |f| f() as u64),
        }
    }

    /// Redis's freeMemoryGetNotCountedMemory: the AOF buffer (here, the propagated effects
    /// the host has not taken yet) while AOF is on, and the replication backlog while
    /// replicas are attached.
    pub(crate) fn mem_not_counted_for_evict(&self) -> u64 {
        self.mem_not_counted_for_evict_with(self.repl.master.buffer_mem.0)
    }

    /// `mem_not_counted_for_evict` with a fresh replication buffer total.
    pub(crate) fn mem_not_counted_for_evict_with(&self, repl_buffer_mem: u64) -> u64 {
        self.aof_buffer_len() + crate::repl::master::not_counted_for_evict(self, repl_buffer_mem)
    }

    /// The AOF buffer: the propagated effects the host has not taken yet (propagation on).
    fn aof_buffer_len(&self) -> u64 {
        if self.persist.propagate {
            self.persist.pending_len() as u64
        } else {
            0
        }
    }

    /// Redis's getMaxmemoryState: the bytes to free, or None within the limit.
    fn bytes_to_free(&self) -> Option<u64> {
        let max = self.config.maxmemory;
        if max == 0 {
            return None;
        }
        let (reported, not_counted) = self.memory_for_evict();
        if reported <= max {
            return None;
        }
        let used = reported.saturating_sub(not_counted);
        (used > max).then(|| used - max)
    }

    /// isSafeToPerformEvictions: not while loading, a busy script runs, or clients are paused.
    fn safe_to_evict(&self, now: UnixMillis) -> bool {
        !self.persist.loading
            && !self.script.busy
            && self.pause.as_ref().is_none_or(|p| p.end.0 <= now.0)
    }

    /// How accesses are recorded now, under the current configuration.
    pub(crate) fn access(&self, now: UnixMillis) -> Access {
        let c = &self.config;
        Access {
            lfu: matches!(
                c.maxmemory_policy,
                MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
            ),
            lfu_log_factor: c.lfu_log_factor.clamp(0, i64::from(u32::MAX)) as u32,
            lfu_decay_time: c.lfu_decay_time.clamp(0, i64::from(u32::MAX)) as u32,
            now_ms: now.0,
            frozen: self.persist.child_active(),
        }
    }

    /// Gives every database the current `access` (before each command, on each tick, before
    /// loading): a comparison when nothing changed.
    pub(crate) fn sync_access(&mut self, now: UnixMillis) {
        let a = self.access(now);
        if self.dbs.first().is_some_and(|db| db.access != a) {
            for db in &mut self.dbs {
                db.access = a;
            }
        }
    }
}

/// Redis's performEvictions: evicts keys by the policy until memory is back within
/// `maxmemory` or the round's key budget is spent (then the tick continues).
#[inline]
pub(crate) fn perform_evictions(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
) -> EvictResult {
    // The common case, cheaply: the host's own figure (before the Lua states and the memory
    // not counted for eviction are taken off it, which only lower it) is within the limit and
    // no earlier round left the limit exceeded, so there is nothing to free and no metric to
    // update (what `evict_round` and the match below would find, at the cost of a few reads).
    if srv.evict.exceeded_since.is_none() && srv.host_used_memory() <= srv.config.maxmemory {
        return EvictResult::Ok;
    }
    perform_evictions_round(now, srv, clients)
}

/// `perform_evictions` when memory may be over the limit or a round left it exceeded.
#[inline(never)]
fn perform_evictions_round(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
) -> EvictResult {
    if !srv.safe_to_evict(now) {
        return EvictResult::Ok;
    }
    let result = evict_round(now, srv, clients);
    // update_metrics
    let e = &mut srv.evict;
    match result {
        EvictResult::Running | EvictResult::Fail => {
            e.exceeded_since.get_or_insert(now);
        }
        EvictResult::Ok => {
            if let Some(t) = e.exceeded_since.take() {
                e.exceeded_total_ms += now.0.saturating_sub(t.0);
            }
        }
    }
    result
}

fn evict_round(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) -> EvictResult {
    let Some(to_free) = srv.bytes_to_free() else {
        return EvictResult::Ok;
    };
    let policy = srv.config.maxmemory_policy;
    if policy == MaxmemoryPolicy::Noeviction {
        return EvictResult::Fail;
    }
    let budget = keys_per_round(srv.config.maxmemory_eviction_tenacity);
    let lazy = srv.config.lazyfree_lazy_eviction;
    let mut freed: i64 = 0;
    let mut keys_freed = 0u64;
    while freed < to_free as i64 {
        let Some((db, key)) = select_victim(srv) else {
            // cant_free: nothing left to evict.
            return EvictResult::Fail;
        };
        let before = srv.memory_for_evict().0 as i64;
        evict_key(now, srv, clients, db, &key);
        freed += before - srv.memory_for_evict().0 as i64;
        keys_freed += 1;
        if keys_freed.is_multiple_of(16) {
            // Values freed elsewhere leave memory later than the deletion: look again.
            if lazy && srv.bytes_to_free().is_none() {
                break;
            }
            if keys_freed >= budget {
                srv.evict.running = true;
                break;
            }
        }
    }
    if srv.evict.running {
        EvictResult::Running
    } else {
        EvictResult::Ok
    }
}

/// The engine's tick: samples the peak; while a round left memory over the limit, goes on
/// evicting (Redis's evictionTimeProc).
pub(crate) fn tick(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    let used = srv.used_memory();
    srv.evict.peak_used = srv.evict.peak_used.max(used);
    if srv.evict.running && perform_evictions(now, srv, clients) != EvictResult::Running {
        srv.evict.running = false;
    }
}

/// The key to evict next under the policy, if any: (database, key).
fn select_victim(srv: &mut Server) -> Option<(usize, Vec<u8>)> {
    use MaxmemoryPolicy as P;
    let policy = srv.config.maxmemory_policy;
    let allkeys = matches!(policy, P::AllkeysLru | P::AllkeysLfu | P::AllkeysRandom);
    if matches!(policy, P::AllkeysRandom | P::VolatileRandom) {
        let n = srv.dbs.len();
        for _ in 0..n {
            srv.evict.next_db = srv.evict.next_db.wrapping_add(1);
            let j = srv.evict.next_db % n;
            let Server { dbs, rng, .. } = &mut *srv;
            let db = &mut dbs[j];
            let key = if allkeys {
                db.keys.random_entry(rng).map(|(k, _)| k.to_vec())
            } else {
                db.expires.random_entry(rng).map(|(k, _)| k.to_vec())
            };
            if let Some(k) = key {
                return Some((j, k));
            }
        }
        return None;
    }
    let samples = srv.config.maxmemory_samples.clamp(1, i64::from(u32::MAX)) as usize;
    if srv.evict.pool.len() != EVPOOL_SIZE {
        srv.evict.pool = vec![None; EVPOOL_SIZE];
    }
    loop {
        let mut total_keys = 0;
        for i in 0..srv.dbs.len() {
            let n = if allkeys {
                srv.dbs[i].keys.len()
            } else {
                srv.dbs[i].expires.len()
            };
            if n != 0 {
                pool_populate(srv, i, allkeys, samples);
                total_keys += n;
            }
        }
        if total_keys == 0 {
            return None;
        }
        // From the best candidate down; entries whose key is gone are ghosts.
        for k in (0..EVPOOL_SIZE).rev() {
            let Some(e) = srv.evict.pool[k].take() else {
                continue;
            };
            let db = &srv.dbs[e.db];
            let exists = if allkeys {
                db.keys.contains_key(&e.key)
            } else {
                db.expires.contains_key(&e.key)
            };
            if exists {
                return Some((e.db, e.key));
            }
        }
    }
}

/// Redis's evictionPoolPopulate: samples `samples` keys of database `dbi` and inserts the
/// good candidates into the pool, keeping it sorted by ascending score.
fn pool_populate(srv: &mut Server, dbi: usize, allkeys: bool, samples: usize) {
    use MaxmemoryPolicy as P;
    let policy = srv.config.maxmemory_policy;
    let Server {
        dbs, rng, evict, ..
    } = &mut *srv;
    let db = &mut dbs[dbi];
    let access = db.access;
    let score = |field: u32| -> u64 {
        match policy {
            P::AllkeysLfu | P::VolatileLfu => 255 - u64::from(access.lfu_decr_and_return(field)),
            _ => access.idle_ms(field),
        }
    };
    let mut picked: Vec<(u64, Vec<u8>)> = Vec::with_capacity(samples);
    if allkeys {
        db.keys.some_entries(rng, samples, |k, _| {
            picked.push((score(k.lru()), k.to_vec()))
        });
    } else {
        let keys = &db.keys;
        db.expires.some_entries(rng, samples, |k, at| {
            let idle = if policy == P::VolatileTtl {
                // The sooner it expires, the better.
                u64::MAX - *at
            } else {
                keys.get_entry(k).map_or(0, |(key, _)| score(key.lru()))
            };
            picked.push((idle, k.to_vec()));
        });
    }
    let pool = &mut evict.pool;
    for (idle, key) in picked {
        // The first empty slot or the first entry with a smaller score.
        let mut k = 0;
        while k < EVPOOL_SIZE && pool[k].as_ref().is_some_and(|e| e.idle < idle) {
            k += 1;
        }
        if k == 0 && pool[EVPOOL_SIZE - 1].is_some() {
            // Worse than everything in a full pool.
            continue;
        } else if k < EVPOOL_SIZE && pool[k].is_none() {
            // An empty slot.
        } else if pool[EVPOOL_SIZE - 1].is_none() {
            // Room on the right: shift k.. right by one.
            pool[k..].rotate_right(1);
        } else {
            // Full: drop the worst (leftmost), shifting ..k left.
            k -= 1;
            pool[..=k].rotate_left(1);
        }
        pool[k] = Some(PoolEntry { idle, key, db: dbi });
    }
}

/// Deletes one evicted key: THE place every eviction goes through (Redis's part of
/// performEvictions after the choice). Frees the value (lazily under lazyfree-lazy-eviction),
/// counts it, invalidates WATCH and tracking (signalModifiedKey) and propagates the deletion.
pub(crate) fn evict_key(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    db: usize,
    key: &[u8],
) {
    let Some(value) = srv.dbs[db].remove(key) else {
        return;
    };
    srv.free_value(value, FreeReason::Evict);
    srv.evict.evicted_keys += 1;
    // signalModifiedKey: WATCH and client-side caching's invalidation.
    crate::command::tx::touch_key(srv, clients, db, key, Some(false));
    crate::command::tracking::key_deleted(srv, clients, key);
    crate::command::notify::evicted(now, srv, clients, db, key);
    // propagateDeletion: DEL, or UNLINK under lazyfree-lazy-eviction, outside any MULTI.
    if srv.persist.propagate {
        let name: &[u8] = if srv.config.lazyfree_lazy_eviction {
            b"UNLINK"
        } else {
            b"DEL"
        };
        srv.persist.emit(db, &[name, key]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::{decode_reply, encode_request, Reply};
    use crate::{ClientHandle, Config, ConnInfo, Engine};

    /// One request at time `now_s` (seconds), its one reply.
    fn at(eng: &mut Engine, id: ClientHandle, now_s: u64, args: &[&str]) -> Reply {
        eng.feed(UnixMillis(now_s * 1000), id, &encode_request(args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        let (reply, used) = decode_reply(&out).expect("valid").expect("whole");
        assert_eq!(used, out.len(), "one reply to {args:?}");
        reply
    }

    fn engine(policy: &str) -> (Engine, ClientHandle) {
        let mut cfg = Config::default();
        cfg.set("maxmemory-policy", policy.as_bytes())
            .expect("valid");
        let mut eng = Engine::new(cfg, 3);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        (eng, id)
    }

    thread_local! {
        /// The host's used-memory figure in these tests.
        static USED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn fake_used() -> usize {
        USED.with(|u| u.get())
    }

    fn set_used(n: usize) {
        USED.with(|u| u.set(n));
    }

    /// An engine whose host reports `fake_used`, configured with `config`.
    fn limited(config: &[(&str, &str)], frees_lazily: bool) -> (Engine, ClientHandle) {
        let mut cfg = Config::default();
        for (k, v) in config {
            cfg.set(k, v.as_bytes()).expect("valid");
        }
        let mut eng = Engine::new(cfg, 11);
        eng.set_host_info(
            UnixMillis(0),
            crate::HostInfo {
                used_memory: Some(fake_used),
                frees_lazily,
                ..Default::default()
            },
        );
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        (eng, id)
    }

    fn evicted(eng: &Engine) -> u64 {
        eng.server().evict.evicted_keys
    }

    fn exists(eng: &mut Engine, id: ClientHandle, now_s: u64, key: &str) -> bool {
        at(eng, id, now_s, &["EXISTS", key]) == Reply::Int(1)
    }

    const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

    #[test]
    fn tenacity_bounds_a_round_by_keys() {
        assert_eq!(keys_per_round(0), 16);
        assert_eq!(keys_per_round(10), 256);
        assert_eq!(keys_per_round(1), 32);
        assert!(keys_per_round(50) > 10_000);
        assert!(keys_per_round(100) > 1 << 60);
    }

    #[test]
    fn allkeys_lru_evicts_the_least_recently_used_in_rounds_the_tick_continues() {
        let (mut eng, id) = limited(
            &[
                ("maxmemory", "1mb"),
                ("maxmemory-policy", "allkeys-lru"),
                ("maxmemory-eviction-tenacity", "0"),
            ],
            false,
        );
        set_used(0);
        for i in 0..100 {
            at(&mut eng, id, 1_000, &["SET", &format!("old:{i}"), "v"]);
            at(&mut eng, id, 1_000, &["SET", &format!("new:{i}"), "v"]);
        }
        for i in 0..100 {
            at(&mut eng, id, 5_000, &["GET", &format!("new:{i}")]);
        }
        // Over the limit; deleting frees nothing the host can see, so each round stops at its
        // budget (16 keys at tenacity 0) and reports that eviction goes on.
        set_used(2 << 20);
        assert_eq!(
            at(&mut eng, id, 5_000, &["SET", "k", "v"]),
            Reply::Simple(b"OK".to_vec())
        );
        assert_eq!(evicted(&eng), 16);
        assert!(eng.server().evict.running);
        assert_eq!(eng.next_deadline(), Some(UnixMillis(0)));
        eng.tick(UnixMillis(5_000_000));
        assert_eq!(evicted(&eng), 32);
        // Back within the limit: the tick stops evicting.
        set_used(1000);
        eng.tick(UnixMillis(5_000_100));
        assert!(!eng.server().evict.running);
        assert_eq!(evicted(&eng), 32);
        let old_left = (0..100)
            .filter(|i| exists(&mut eng, id, 5_000, &format!("old:{i}")))
            .count();
        let new_left = (0..100)
            .filter(|i| exists(&mut eng, id, 5_000, &format!("new:{i}")))
            .count();
        assert_eq!(old_left + new_left, 200 - 32);
        assert_eq!(new_left, 100, "only least recently used keys went");
        let info = |eng: &mut Engine, section: &str| match at(eng, id, 5_000, &["INFO", section]) {
            Reply::Bulk(b) => String::from_utf8(b).expect("text"),
            other => panic!("{other:?}"),
        };
        let stats = info(&mut eng, "stats");
        assert!(stats.contains("\r\nevicted_keys:32\r\n"), "{stats}");
        let mem = info(&mut eng, "memory");
        for field in [
            "\r\nused_memory:1000\r\n",
            "\r\nmaxmemory:1048576\r\n",
            "\r\nmaxmemory_human:1.00M\r\n",
            "\r\nmaxmemory_policy:allkeys-lru\r\n",
            "\r\nmem_not_counted_for_evict:0\r\n",
            "\r\nused_memory_startup:0\r\n",
            // The ticks while 2 MB were used saw the peak.
            "\r\nused_memory_peak:2097152\r\n",
        ] {
            assert!(mem.contains(field), "{field} in {mem}");
        }
        at(&mut eng, id, 5_000, &["CONFIG", "RESETSTAT"]);
        assert!(info(&mut eng, "stats").contains("\r\nevicted_keys:0\r\n"));
        // Everything evictable gone while still over: deny-oom commands fail, reads work.
        set_used(2 << 20);
        at(&mut eng, id, 5_000, &["GET", "x"]);
        for t in 0..20 {
            eng.tick(UnixMillis(5_000_200 + t));
        }
        assert_eq!(eng.db_size(0), Some(0));
        assert_eq!(
            at(&mut eng, id, 5_001, &["SET", "k", "v"]),
            Reply::Error(OOM.into())
        );
        assert_eq!(at(&mut eng, id, 5_001, &["GET", "k"]), Reply::Nil);
        set_used(0);
    }

    #[test]
    fn allkeys_lfu_keeps_the_frequently_used() {
        let (mut eng, id) = limited(
            &[
                ("maxmemory", "1mb"),
                ("maxmemory-policy", "allkeys-lfu"),
                ("maxmemory-eviction-tenacity", "0"),
            ],
            false,
        );
        set_used(0);
        for i in 0..50 {
            at(&mut eng, id, 1_000, &["SET", &format!("hot:{i}"), "v"]);
            at(&mut eng, id, 1_000, &["SET", &format!("cold:{i}"), "v"]);
            for _ in 0..20 {
                at(&mut eng, id, 1_000, &["GET", &format!("hot:{i}")]);
            }
        }
        set_used(2 << 20);
        at(&mut eng, id, 1_000, &["GET", "x"]);
        eng.tick(UnixMillis(1_000_000));
        set_used(0);
        assert_eq!(evicted(&eng), 32);
        let hot_left = (0..50)
            .filter(|i| exists(&mut eng, id, 1_000, &format!("hot:{i}")))
            .count();
        assert_eq!(hot_left, 50);
    }

    #[test]
    fn volatile_policies_only_evict_keys_with_a_ttl() {
        for policy in [
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let (mut eng, id) = limited(
                &[
                    ("maxmemory", "1mb"),
                    ("maxmemory-policy", policy),
                    ("maxmemory-eviction-tenacity", "0"),
                ],
                false,
            );
            set_used(0);
            for i in 0..40 {
                at(&mut eng, id, 1_000, &["SET", &format!("p:{i}"), "v"]);
                let ttl = (1000 + i).to_string();
                at(
                    &mut eng,
                    id,
                    1_000,
                    &["SET", &format!("t:{i}"), "v", "EX", &ttl],
                );
            }
            set_used(2 << 20);
            at(&mut eng, id, 1_000, &["GET", "x"]);
            assert_eq!(evicted(&eng), 16, "{policy}");
            set_used(0);
            if policy == "volatile-ttl" {
                // The sooner a key expires, the sooner it goes.
                let gone: Vec<usize> = (0..40)
                    .filter(|i| !exists(&mut eng, id, 1_000, &format!("t:{i}")))
                    .collect();
                assert!(gone.iter().all(|&i| i < 32), "{gone:?}");
            }
            // Once the keys with a TTL are gone, nothing is left to evict: OOM.
            set_used(2 << 20);
            for t in 0..5 {
                eng.tick(UnixMillis(1_000_000 + t));
            }
            assert_eq!(eng.db_size(0), Some(40), "{policy}");
            assert_eq!(
                at(&mut eng, id, 1_000, &["SET", "k", "v"]),
                Reply::Error(OOM.into()),
                "{policy}"
            );
            set_used(0);
            assert!((0..40).all(|i| exists(&mut eng, id, 1_000, &format!("p:{i}"))));
        }
    }

    #[test]
    fn allkeys_random_visits_every_database() {
        let (mut eng, id) = limited(
            &[
                ("maxmemory", "1mb"),
                ("maxmemory-policy", "allkeys-random"),
                ("maxmemory-eviction-tenacity", "0"),
            ],
            false,
        );
        set_used(0);
        for db in ["0", "1"] {
            at(&mut eng, id, 1_000, &["SELECT", db]);
            for i in 0..20 {
                at(&mut eng, id, 1_000, &["SET", &format!("k:{i}"), "v"]);
            }
        }
        set_used(2 << 20);
        at(&mut eng, id, 1_000, &["PING"]);
        set_used(0);
        assert_eq!(evicted(&eng), 16);
        assert_eq!(eng.db_size(0), Some(12));
        assert_eq!(eng.db_size(1), Some(12));
    }

    #[test]
    fn evictions_propagate_and_free_lazily_when_asked() {
        let (mut eng, id) = limited(
            &[
                ("maxmemory", "1mb"),
                ("maxmemory-policy", "allkeys-lru"),
                ("maxmemory-eviction-tenacity", "0"),
                ("lazyfree-lazy-eviction", "yes"),
            ],
            true,
        );
        set_used(0);
        eng.set_propagation(true);
        let members: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
        let mut sadd = vec!["SADD", "big"];
        sadd.extend(members.iter().map(String::as_str));
        at(&mut eng, id, 1_000, &sadd);
        let mut out = Vec::new();
        eng.take_propagated(&mut out);
        set_used(2 << 20);
        at(&mut eng, id, 2_000, &["PING"]);
        set_used(0);
        assert_eq!(eng.db_size(0), Some(0));
        out.clear();
        eng.take_propagated(&mut out);
        assert_eq!(out, b"*2\r\n$6\r\nUNLINK\r\n$3\r\nbig\r\n");
        assert_eq!(
            eng.take_lazyfree().len(),
            1,
            "a big set goes to the host's worker"
        );
    }

    #[test]
    fn no_eviction_while_paused_or_under_the_limit() {
        let (mut eng, id) = limited(
            &[("maxmemory", "1mb"), ("maxmemory-policy", "allkeys-lru")],
            false,
        );
        set_used(1 << 20);
        at(&mut eng, id, 1_000, &["SET", "k", "v"]);
        assert_eq!(evicted(&eng), 0, "at the limit is within it");
        let other = eng.connect(UnixMillis(0), ConnInfo::default());
        at(
            &mut eng,
            other,
            1_000,
            &["CLIENT", "PAUSE", "10000", "WRITE"],
        );
        set_used(2 << 20);
        at(&mut eng, id, 1_001, &["GET", "k"]);
        assert_eq!(
            evicted(&eng),
            0,
            "the dataset stays still while clients are paused"
        );
        at(&mut eng, other, 1_002, &["CLIENT", "UNPAUSE"]);
        at(&mut eng, id, 1_003, &["GET", "k"]);
        assert_eq!(evicted(&eng), 1);
        set_used(0);
    }

    #[test]
    fn a_host_may_push_its_used_memory_figure() {
        let (mut eng, id) = engine("noeviction");
        at(&mut eng, id, 1_000, &["CONFIG", "SET", "maxmemory", "1mb"]);
        assert_eq!(
            at(&mut eng, id, 1_000, &["SET", "k", "v"]),
            Reply::Simple(b"OK".to_vec())
        );
        eng.set_used_memory(2 << 20);
        assert_eq!(
            at(&mut eng, id, 1_000, &["SET", "k", "v"]),
            Reply::Error(OOM.into())
        );
        eng.set_used_memory(1 << 19);
        assert_eq!(
            at(&mut eng, id, 1_000, &["SET", "k", "v"]),
            Reply::Simple(b"OK".to_vec())
        );
    }

    #[test]
    fn lookups_touch_the_lru_clock_but_exists_type_and_object_do_not() {
        let (mut eng, id) = engine("allkeys-lru");
        at(&mut eng, id, 1_000, &["SET", "k", "v"]);
        assert_eq!(
            at(&mut eng, id, 1_100, &["OBJECT", "IDLETIME", "k"]),
            Reply::Int(100)
        );
        for look in [
            &["EXISTS", "k"][..],
            &["TYPE", "k"],
            &["OBJECT", "ENCODING", "k"],
        ] {
            at(&mut eng, id, 1_150, look);
        }
        assert_eq!(
            at(&mut eng, id, 1_200, &["OBJECT", "IDLETIME", "k"]),
            Reply::Int(200)
        );
        at(&mut eng, id, 1_300, &["GET", "k"]);
        assert_eq!(
            at(&mut eng, id, 1_310, &["OBJECT", "IDLETIME", "k"]),
            Reply::Int(10)
        );
        at(&mut eng, id, 1_400, &["TOUCH", "k", "nokey"]);
        at(&mut eng, id, 1_400, &["APPEND", "k", "w"]);
        assert_eq!(
            at(&mut eng, id, 1_401, &["OBJECT", "IDLETIME", "k"]),
            Reply::Int(1)
        );
        // Overwriting makes a fresh object: idle 0.
        at(&mut eng, id, 1_500, &["SET", "k", "x"]);
        assert_eq!(
            at(&mut eng, id, 1_500, &["OBJECT", "IDLETIME", "k"]),
            Reply::Int(0)
        );
    }

    #[test]
    fn idle_and_freq_survive_snapshots_and_restore() {
        let (mut eng, id) = engine("allkeys-lru");
        at(&mut eng, id, 1_000, &["SET", "old", "v"]);
        at(&mut eng, id, 1_900, &["SET", "new", "v"]);
        let rdb = eng.export_rdb(UnixMillis(2_000_000));
        let (mut other, oid) = engine("volatile-lru");
        other
            .import_rdb(&rdb, UnixMillis(5_000_000))
            .expect("loads");
        assert_eq!(
            at(&mut other, oid, 5_000, &["OBJECT", "IDLETIME", "old"]),
            Reply::Int(1000)
        );
        assert_eq!(
            at(&mut other, oid, 5_000, &["OBJECT", "IDLETIME", "new"]),
            Reply::Int(100)
        );
        // Without an LRU policy the IDLE opcodes still count when loading (objectSetLRUOrLFU
        // only refuses them under LFU), but none are written.
        let (mut plain, pid) = engine("noeviction");
        plain
            .import_rdb(&rdb, UnixMillis(5_000_000))
            .expect("loads");
        let rdb2 = plain.export_rdb(UnixMillis(5_000_000));
        assert!(rdb2.len() < rdb.len(), "IDLE opcodes left out");
        assert_eq!(
            at(&mut plain, pid, 5_000, &["OBJECT", "IDLETIME", "old"]),
            Reply::Int(1000)
        );

        let (mut lfu, lid) = engine("allkeys-lfu");
        let dump = match at(&mut lfu, lid, 1_000, &["SET", "k", "v"]) {
            Reply::Simple(_) => match at(&mut lfu, lid, 1_000, &["DUMP", "k"]) {
                Reply::Bulk(b) => b,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        let payload = String::from_utf8_lossy(&dump).into_owned();
        // RESTORE's FREQ; then a snapshot carries it to another LFU server.
        let mut req = encode_request(&[&b"RESTORE"[..], b"r", b"0", &dump, b"FREQ", b"77"]);
        lfu.feed(UnixMillis(1_000_000), lid, &req);
        req.clear();
        lfu.drain_output(lid, &mut req);
        assert_eq!(req, b"+OK\r\n", "{payload}");
        assert_eq!(
            at(&mut lfu, lid, 1_000, &["OBJECT", "FREQ", "r"]),
            Reply::Int(77)
        );
        let rdb = lfu.export_rdb(UnixMillis(1_000_000));
        let (mut other, oid) = engine("volatile-lfu");
        other
            .import_rdb(&rdb, UnixMillis(1_000_000))
            .expect("loads");
        assert_eq!(
            at(&mut other, oid, 1_000, &["OBJECT", "FREQ", "r"]),
            Reply::Int(77)
        );
        // SET made it 5, DUMP's read lookup 6.
        assert_eq!(
            at(&mut other, oid, 1_000, &["OBJECT", "FREQ", "k"]),
            Reply::Int(6)
        );
        // Ten minutes later with lfu-decay-time 1: decayed by ten.
        assert_eq!(
            at(&mut other, oid, 1_600, &["OBJECT", "FREQ", "r"]),
            Reply::Int(67)
        );
    }

    fn lfu(now_ms: u64) -> Access {
        Access {
            lfu: true,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            now_ms,
            frozen: false,
        }
    }

    #[test]
    fn lru_clock_and_idle_time_wrap() {
        let a = Access {
            now_ms: 5_500,
            ..Access::default()
        };
        assert_eq!(a.lru_clock(), 5);
        assert_eq!(a.new_key(), 5);
        assert_eq!(a.idle_ms(2), 3000);
        // The clock wrapped since the access (2^24 s, about 194 days).
        let late = Access {
            now_ms: (u64::from(LRU_MAX) + 3) * 1000,
            ..a
        };
        assert_eq!(late.lru_clock(), 2);
        assert_eq!(late.idle_ms(LRU_MAX - 1), 3000);
        assert_eq!(a.field_for_idle_secs(3), Some(2));
        assert_eq!(a.field_for_idle_secs(7), Some(5 + LRU_MAX / 2));
        assert_eq!(lfu(0).field_for_idle_secs(3), None);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let mut rng = Rng::new(7);
        let a = lfu(60_000 * 10);
        let mut f = a.new_key();
        assert_eq!(f & 255, LFU_INIT_VAL);
        assert_eq!(f >> 8, 10);
        for _ in 0..100 {
            f = a.touched(f, &mut rng);
        }
        let c100 = f & 255;
        for _ in 0..10_000 {
            f = a.touched(f, &mut rng);
        }
        let c10k = f & 255;
        // redis.conf's table for factor 10: 10 after 100 hits, 18 after 1k, 142 after 100k.
        assert!((8..=14).contains(&c100), "{c100}");
        assert!((30..=80).contains(&c10k), "{c10k}");
        // Three minutes later (decay time 1): three less, not yet stored.
        let later = lfu(60_000 * 13);
        assert_eq!(later.lfu_decr_and_return(f), c10k - 3);
        // Decay never goes below zero; decay time 0 never decays.
        assert_eq!(lfu(60_000 * 10_000).lfu_decr_and_return(f), 0);
        let never = Access {
            lfu_decay_time: 0,
            ..later
        };
        // While a fork child saves, accesses change nothing.
        let frozen = Access { frozen: true, ..a };
        assert_eq!(frozen.touched(f, &mut rng), f);
        assert_eq!(never.lfu_decr_and_return(f), c10k);
        assert_eq!(a.field_for_freq(200), Some((10 << 8) | 200));
        assert_eq!(Access::default().field_for_freq(200), None);
    }
}
