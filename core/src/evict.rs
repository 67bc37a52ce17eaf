//! maxmemory: the per-key access clock and counter (Redis's evict.c LRU clock and LFU
//! counter), and eviction.
//!
//! Every key carries Redis's 24-bit `robj->lru` field (in `types::Key`, which costs no memory).
//! Under an LRU policy (or none) it is the LRU clock of the last access, seconds modulo 2^24;
//! under an LFU policy it is 16 bits of "last decrement time" in minutes and an 8-bit
//! logarithmic access counter. Lookups update it as Redis's lookupKey does (`Db::touch`).
//! Time is the engine's `now`, never a wall clock.

use crate::config::MaxmemoryPolicy;
use crate::engine::Server;
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
        if self.lfu {
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

impl Server {
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
        assert_eq!(never.lfu_decr_and_return(f), c10k);
        assert_eq!(a.field_for_freq(200), Some((10 << 8) | 200));
        assert_eq!(Access::default().field_for_freq(200), None);
    }
}
