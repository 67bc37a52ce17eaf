//! The keyspace: a database is a `Dict` of keys to values plus a `Dict` of keys to their
//! expiry time (ms), like Redis's `db->dict` and `db->expires`. Reads expire lazily; the
//! engine's tick runs the active expiry cycle with a bounded budget.

use crate::config::notify;
use crate::evict::Access;
use crate::lazyfree::{is_big, FreeReason};
use crate::rng::Rng;
use crate::time::UnixMillis;
use crate::types::{Dict, Key, Kind, Value};

pub(crate) mod slots;

/// Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP.
const EXPIRE_SAMPLE: usize = 20;
/// Keep sampling while more than this percentage of a sample was expired.
const EXPIRE_ACCEPTABLE_STALE: usize = 10;

/// The key holds a value of another type than the command works on (Redis's checkType
/// failing): the command answers WRONGTYPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

pub struct Db {
    /// The keys, each with Redis's 24-bit LRU/LFU field (`types::Key`).
    pub(crate) keys: Dict<Value, Key>,
    /// Each key with a TTL and its expiry time (ms). Keyed by a `Key` (16 bytes inline):
    /// an entry is `{u64, Key, link}` = 32 bytes in the dict's dense store.
    pub(crate) expires: Dict<u64, Key>,
    /// Keys removed because their TTL passed (INFO's expired_keys).
    pub(crate) expired_count: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    /// Set while expiry deletions must be reported (a client WATCHes a key of this database,
    /// or effects are propagated to the AOF): expiry then logs the keys it deletes in
    /// `expired_log`, for the engine to touch watchers and propagate DELs.
    pub(crate) log_expired: bool,
    pub(crate) expired_log: Vec<Vec<u8>>,
    /// Big values this database dropped itself (expired, overwritten), for the engine to free
    /// lazily or not according to their option (`Server::collect_pending_free`).
    pub(crate) pending_free: Vec<(FreeReason, Value)>,
    /// Keys some client is blocked on (BLPOP ...), kept by `command::blocking`: storing a
    /// value under one of them queues it in `ready` (Redis's signalKeyAsReady from dbAdd).
    pub(crate) blocking_keys: std::collections::HashSet<Vec<u8>>,
    /// Blocked-on keys that received a value since the engine last served blocked clients.
    pub(crate) ready_keys: Vec<Vec<u8>>,
    /// How accesses update a key's LRU/LFU field, and the time (`Server::sync_access`).
    pub(crate) access: Access,
    /// Draws LFULogIncr's coin (its own stream, so lookups need not borrow the server's).
    pub(crate) lfu_rng: Rng,
    /// The keyspace-notification classes on (`command::notify::sync`; 0 when none would be
    /// published): expiry, key creation and read misses are then logged in `notify_log` as
    /// (class, event, key), for `command::notify::flush` to publish in order.
    pub(crate) notify_flags: u32,
    pub(crate) notify_log: Vec<(u32, &'static str, Vec<u8>)>,
    /// How a passed TTL is treated (a replica leaves deletion to its master: repl/replica.rs).
    pub(crate) expiry: Expiry,
    /// Cluster mode, database 0: the keys of each hash slot (slots.rs). None otherwise, so the
    /// keyspace pays nothing for it.
    pub(crate) slots: Option<Box<slots::SlotIndex>>,
}

/// Redis 7.0's expireIfNeeded on a master and on a replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// A master: a key past its TTL is deleted when looked up.
    #[default]
    Delete,
    /// A replica, for its clients: reads see such a key as missing, but it stays (its
    /// master's DEL removes it); write lookups delete it.
    Hide,
    /// A replica, for its master's commands: the key is still there.
    Keep,
}

impl Db {
    pub(crate) fn new(seed: u64) -> Db {
        Db {
            keys: Dict::new(seed),
            expires: Dict::new(seed ^ 0x5bd1_e995),
            expired_count: 0,
            hits: 0,
            misses: 0,
            log_expired: false,
            expired_log: Vec::new(),
            pending_free: Vec::new(),
            blocking_keys: Default::default(),
            ready_keys: Vec::new(),
            access: Access::default(),
            lfu_rng: Rng::new(seed ^ 0x1f_0123),
            notify_flags: 0,
            notify_log: Vec::new(),
            expiry: Expiry::Delete,
            slots: None,
        }
    }

    /// Queues `key` for the blocked clients waiting on it, if any.
    #[inline]
    /// Redis's signalKeyAsReady: queues `key` for the clients blocked on it (XADD on an
    /// existing stream calls this; adding a key does it by itself).
    pub(crate) fn signal_ready(&mut self, key: &[u8]) {
        if !self.blocking_keys.is_empty() && self.blocking_keys.contains(key) {
            self.ready_keys.push(key.to_vec());
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key's expiry time in ms, if it has one.
    pub(crate) fn expire_at(&self, key: &[u8]) -> Option<u64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Deletes the key if its TTL has passed; true if it is to be treated as gone (Redis's
    /// expireIfNeeded: on a replica, see `Expiry`, it may stay in the table).
    pub(crate) fn expire_if_needed(&mut self, key: &[u8], now: UnixMillis) -> bool {
        match self.expire_at(key) {
            Some(at) if at <= now.0 => match self.expiry {
                Expiry::Delete => {
                    self.remove_expired(key);
                    true
                }
                Expiry::Hide => true,
                Expiry::Keep => false,
            },
            _ => false,
        }
    }

    /// A read lookup's expiry: true if the key must be seen as missing (deleted, or hidden
    /// on a replica).
    fn expired_for_read(&mut self, key: &[u8], now: UnixMillis) -> bool {
        self.expire_if_needed(key, now) && self.expiry == Expiry::Hide
    }

    /// The live value of `key` (lazily expiring it), without touching hit/miss stats;
    /// records the access in the key's LRU/LFU field (Redis's lookupKeyWrite).
    pub(crate) fn get(&mut self, key: &[u8], now: UnixMillis) -> Option<&Value> {
        self.get_mut(key, now).map(|v| &*v)
    }

    pub(crate) fn get_mut(&mut self, key: &[u8], now: UnixMillis) -> Option<&mut Value> {
        if self.expire_if_needed(key, now) && self.expiry == Expiry::Hide {
            // lookupKeyWrite deletes it on a replica too (EXPIRE_FORCE_DELETE_EXPIRED).
            self.remove_expired(key);
        }
        self.touch(key)
    }

    /// The value of `key`, recording the access in its LRU/LFU field as Redis's lookupKey
    /// does (expiry is the caller's).
    #[inline]
    fn touch(&mut self, key: &[u8]) -> Option<&mut Value> {
        touch(&mut self.keys, &self.access, &mut self.lfu_rng, key)
    }

    /// Redis's lookupKeyReadWithFlags(LOOKUP_NOTOUCH): counts a hit or miss but leaves the
    /// key's LRU/LFU field alone (EXISTS, TYPE, SCAN's TYPE filter, OBJECT). The field comes
    /// along for OBJECT.
    pub(crate) fn lookup_read_notouch(
        &mut self,
        key: &[u8],
        now: UnixMillis,
    ) -> Option<(&Value, u32)> {
        let hidden = self.expired_for_read(key, now);
        match self.keys.get_entry(key).filter(|_| !hidden) {
            Some((k, v)) => {
                self.hits += 1;
                Some((v, k.lru()))
            }
            None => {
                count_miss(
                    &mut self.misses,
                    self.notify_flags,
                    &mut self.notify_log,
                    key,
                );
                None
            }
        }
    }

    /// A key's LRU/LFU field as it is (no expiry, no access): RENAME and MOVE carry it to the
    /// new name with the value, as Redis moves the object with its header.
    pub(crate) fn lru_of(&self, key: &[u8]) -> Option<u32> {
        self.keys.get_entry(key).map(|(k, _)| k.lru())
    }

    /// Sets a key's LRU/LFU field (RESTORE's IDLETIME/FREQ, the RDB's IDLE/FREQ opcodes).
    pub(crate) fn set_lru(&mut self, key: &[u8], field: u32) {
        if let Some((k, _)) = self.keys.get_entry_mut(key) {
            k.set_lru(field);
        }
    }

    /// Deletes a key whose TTL passed (not a change a save rule counts, as in Redis).
    fn remove_expired(&mut self, key: &[u8]) {
        if self.delete(key, FreeReason::Expire) {
            self.expired_count += 1;
            if self.log_expired {
                self.expired_log.push(key.to_vec());
            }
            self.log_event(notify::EXPIRED, "expired", key);
        }
    }

    /// Logs a keyspace event the databases raise themselves, if its class is on.
    #[inline]
    pub(crate) fn log_event(&mut self, class: u32, event: &'static str, key: &[u8]) {
        if self.notify_flags & class != 0 {
            self.notify_log.push((class, event, key.to_vec()));
        }
    }

    /// Redis's lookupKeyRead: like `get`, counting keyspace hits and misses.
    pub(crate) fn lookup_read(&mut self, key: &[u8], now: UnixMillis) -> Option<&Value> {
        let hidden = self.expired_for_read(key, now);
        let found = if hidden {
            None
        } else {
            touch(&mut self.keys, &self.access, &mut self.lfu_rng, key)
        };
        match found {
            Some(v) => {
                self.hits += 1;
                Some(&*v)
            }
            None => {
                count_miss(
                    &mut self.misses,
                    self.notify_flags,
                    &mut self.notify_log,
                    key,
                );
                None
            }
        }
    }

    /// lookupKeyReadWithFlags(LOOKUP_NOTOUCH|LOOKUP_NONOTIFY) (OBJECT): counts the hit or
    /// miss but leaves the LRU/LFU field alone and raises no `keymiss`. The field comes along.
    pub(crate) fn lookup_read_nonotify(
        &mut self,
        key: &[u8],
        now: UnixMillis,
    ) -> Option<(&Value, u32)> {
        let flags = self.notify_flags;
        self.notify_flags &= !notify::KEY_MISS;
        let found = self.lookup_read_notouch(key, now).is_some();
        self.notify_flags = flags;
        if found {
            self.keys.get_entry(key).map(|(k, v)| (v, k.lru()))
        } else {
            None
        }
    }

    /// Redis's lookupKeyRead + checkType: the `T` at `key` (None when missing), counting a
    /// hit or miss.
    #[inline]
    pub fn read<T: Kind>(&mut self, key: &[u8], now: UnixMillis) -> Result<Option<&T>, WrongType> {
        self.lookup_read(key, now)
            .map(|v| T::of(v).ok_or(WrongType))
            .transpose()
    }

    /// `read`, mutable: for reads that change the structure (a random pick advances a table's
    /// rehashing).
    #[inline]
    pub fn read_mut<T: Kind>(
        &mut self,
        key: &[u8],
        now: UnixMillis,
    ) -> Result<Option<&mut T>, WrongType> {
        let hidden = self.expired_for_read(key, now);
        let found = if hidden {
            None
        } else {
            touch(&mut self.keys, &self.access, &mut self.lfu_rng, key)
        };
        match found {
            Some(v) => {
                self.hits += 1;
                T::of_mut(v).ok_or(WrongType).map(Some)
            }
            None => {
                count_miss(
                    &mut self.misses,
                    self.notify_flags,
                    &mut self.notify_log,
                    key,
                );
                Ok(None)
            }
        }
    }

    /// Redis's lookupKeyWrite + checkType: the `T` at `key` to change (None when missing),
    /// without touching the hit/miss stats.
    #[inline]
    pub fn write<T: Kind>(
        &mut self,
        key: &[u8],
        now: UnixMillis,
    ) -> Result<Option<&mut T>, WrongType> {
        self.get_mut(key, now)
            .map(|v| T::of_mut(v).ok_or(WrongType))
            .transpose()
    }

    /// lookupKeyWrite + checkType for a look that changes nothing: the `T` at `key` (None
    /// when missing, lazily expiring it), without touching the hit/miss stats.
    #[inline]
    pub fn get_as<T: Kind>(
        &mut self,
        key: &[u8],
        now: UnixMillis,
    ) -> Result<Option<&T>, WrongType> {
        self.get(key, now)
            .map(|v| T::of(v).ok_or(WrongType))
            .transpose()
    }

    /// The key is in the table (expired or not: for a key the command just changed).
    pub(crate) fn exists(&self, key: &[u8]) -> bool {
        self.keys.get(key).is_some()
    }

    /// Whether the key exists: a write lookup (lazily expiring it, recording the access).
    pub(crate) fn contains(&mut self, key: &[u8], now: UnixMillis) -> bool {
        self.get(key, now).is_some()
    }

    /// Redis's setKey: stores `value`, dropping any TTL unless `keep_ttl`. A big old value
    /// is freed under lazyfree-lazy-server-del.
    pub(crate) fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        if !keep_ttl {
            self.persist(key);
        }
        self.signal_ready(key);
        let access = self.access;
        // A new key's field is a new object's; on overwrite (Redis's dbSetValue) the new
        // object is fresh too (LRU clock now), except that an LFU counter carries over.
        let old = self.keys.insert_with(key, value, |k, new| {
            if new || !access.lfu {
                k.set_lru(access.new_key());
            }
        });
        match old {
            Some(old) => self.discard(FreeReason::ServerDel, old),
            None => {
                if let Some(ix) = self.slots.as_mut() {
                    ix.add(self.keys.len() - 1, key);
                }
                self.log_event(notify::NEW, "new", key)
            }
        }
    }

    /// Drops a value this database removed: big ones are set aside for the engine, which frees
    /// them according to `reason`'s lazyfree option; small ones go at once.
    pub(crate) fn discard(&mut self, reason: FreeReason, v: Value) {
        if is_big(&v) {
            self.pending_free.push((reason, v));
            crate::lazyfree::note_pending();
        }
    }

    /// Deletes the key and its TTL, freeing the value as `reason` says; true if it existed.
    pub(crate) fn delete(&mut self, key: &[u8], reason: FreeReason) -> bool {
        match self.remove(key) {
            Some(v) => {
                self.discard(reason, v);
                true
            }
            None => false,
        }
    }

    /// Adds a key the caller knows is absent (after a lookup).
    pub(crate) fn insert_new(&mut self, key: &[u8], value: Value) {
        self.signal_ready(key);
        self.log_event(notify::NEW, "new", key);
        let mut k = Key::new(key);
        k.set_lru(self.access.new_key());
        self.keys.insert_new(k, value);
        if let Some(ix) = self.slots.as_mut() {
            ix.add(self.keys.len() - 1, key);
        }
    }

    /// Adds a loaded key (RDB, DEBUG RELOAD, an AOF preamble): Redis's dbAddRDBLoad, which
    /// raises no `new` event.
    pub(crate) fn insert_loaded(&mut self, key: &[u8], value: Value) {
        self.signal_ready(key);
        let mut k = Key::new(key);
        k.set_lru(self.access.new_key());
        self.keys.insert_new(k, value);
        if let Some(ix) = self.slots.as_mut() {
            ix.add(self.keys.len() - 1, key);
        }
    }

    /// Deletes the key and its TTL; returns the value.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let pos = match self.slots {
            Some(_) => self.keys.position(key),
            None => None,
        };
        let (_, v) = self.keys.remove(key)?;
        if let (Some(ix), Some(pos)) = (self.slots.as_mut(), pos) {
            // The dict moved its last entry into the removed one's place (Dict::position).
            let moved = (pos < self.keys.len()).then(|| self.keys.key_at(pos).as_bytes());
            ix.remove(pos, key, moved);
        }
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(v)
    }

    /// Sets an absolute expiry time on an existing key.
    pub(crate) fn set_expire(&mut self, key: &[u8], at_ms: u64) {
        if let Some(slot) = self.expires.get_mut(key) {
            *slot = at_ms;
        } else {
            self.expires.insert_new(Key::new(key), at_ms);
        }
    }

    /// Removes the TTL; true if there was one.
    pub(crate) fn persist(&mut self, key: &[u8]) -> bool {
        !self.expires.is_empty() && self.expires.remove(key).is_some()
    }

    /// Removes everything, returning the old contents for the host to free.
    pub(crate) fn flush(&mut self) -> Dict<Value, Key> {
        if let Some(ix) = self.slots.as_mut() {
            ix.clear();
        }
        self.expires.take();
        self.keys.take()
    }

    /// Removes everything, returning the old keys and expiry tables (for FLUSH* ASYNC).
    pub(crate) fn flush_all(&mut self) -> (Dict<Value, Key>, Dict<u64, Key>) {
        if let Some(ix) = self.slots.as_mut() {
            ix.clear();
        }
        (self.keys.take(), self.expires.take())
    }

    /// Redis's dbRandomKey: a random live key, expiring the dead ones it meets. Gives up
    /// (returning any key) after many tries when all keys have TTLs, as Redis does.
    pub(crate) fn random_key(&mut self, rng: &mut Rng, now: UnixMillis) -> Option<Vec<u8>> {
        let all_volatile = self.keys.len() == self.expires.len();
        let mut tries = 0;
        loop {
            let key = self.keys.random_entry(rng)?.0.to_vec();
            match self.expire_at(&key) {
                Some(at) if at <= now.0 => {
                    tries += 1;
                    if all_volatile && tries > 100 {
                        return Some(key);
                    }
                    self.remove_expired(&key);
                }
                _ => return Some(key),
            }
        }
    }

    /// One bounded round of Redis's active expiry cycle: sample keys with a TTL and delete the
    /// dead, repeating while more than 10% of a sample was dead, at most `budget` samples.
    /// Returns how many keys it expired.
    pub(crate) fn active_expire(&mut self, now: UnixMillis, rng: &mut Rng, budget: usize) -> usize {
        let mut expired = 0;
        let mut sampled = 0;
        while sampled < budget && !self.expires.is_empty() {
            let mut dead = Vec::new();
            let n = EXPIRE_SAMPLE.min(self.expires.len());
            for _ in 0..n {
                if let Some((k, at)) = self.expires.random_entry(rng) {
                    if *at <= now.0 {
                        dead.push(k.to_vec());
                    }
                }
            }
            sampled += n;
            dead.sort_unstable();
            dead.dedup();
            for k in &dead {
                self.remove_expired(k);
            }
            expired += dead.len();
            if dead.len() * 100 <= n * EXPIRE_ACCEPTABLE_STALE {
                break;
            }
        }
        expired
    }

    /// Background housekeeping for the tables: advance resizes, start shrinks.
    pub(crate) fn rehash_tick(&mut self, buckets: usize) {
        self.keys.shrink_if_needed();
        self.expires.shrink_if_needed();
        self.keys.rehash_steps(buckets);
        self.expires.rehash_steps(buckets);
    }
}

/// `Db::touch` on the parts, so the hit/miss counters stay free to borrow.
#[inline]
/// Counts a read lookup's miss and raises `keymiss` (a free function over the fields, so a
/// lookup can hold its hit's borrow of the table in the other arm).
fn count_miss(
    misses: &mut u64,
    notify_flags: u32,
    notify_log: &mut Vec<(u32, &'static str, Vec<u8>)>,
    key: &[u8],
) {
    *misses += 1;
    if notify_flags & notify::KEY_MISS != 0 {
        notify_log.push((notify::KEY_MISS, "keymiss", key.to_vec()));
    }
}

fn touch<'a>(
    keys: &'a mut Dict<Value, Key>,
    access: &Access,
    rng: &mut Rng,
    key: &[u8],
) -> Option<&'a mut Value> {
    let (k, v) = keys.get_entry_mut(key)?;
    k.set_lru(access.touched(k.lru(), rng));
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_and_active_expiry() {
        let mut db = Db::new(1);
        let mut rng = Rng::new(1);
        for i in 0..1000u32 {
            db.set(&i.to_be_bytes(), Value::Int(i as i64), false);
            if i % 2 == 0 {
                db.set_expire(&i.to_be_bytes(), 100);
            }
        }
        assert!(db.get(&0u32.to_be_bytes(), UnixMillis(99)).is_some());
        assert!(db.get(&0u32.to_be_bytes(), UnixMillis(100)).is_none());
        assert_eq!(db.expired_count, 1);
        let mut total = 1;
        for _ in 0..100 {
            total += db.active_expire(UnixMillis(100), &mut rng, 200);
        }
        assert_eq!(total, 500);
        assert_eq!(db.len(), 500);
        assert!(db.expires.is_empty());
    }

    #[test]
    fn set_clears_ttl_unless_kept() {
        let mut db = Db::new(1);
        db.set(b"k", Value::Int(1), false);
        db.set_expire(b"k", 50);
        db.set(b"k", Value::Int(2), true);
        assert_eq!(db.expire_at(b"k"), Some(50));
        db.set(b"k", Value::Int(3), false);
        assert_eq!(db.expire_at(b"k"), None);
    }
}
