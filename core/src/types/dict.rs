//! `Dict`: Redis's incrementally rehashing hash table (dict.c), the curriculum's progressive
//! rehashing. Two power-of-two tables of chained buckets; while a resize is under way every
//! operation moves one bucket (and `rehash_steps` lets the host's tick move more), so no
//! single command pays for a whole resize. `scan` is Redis's reverse-binary cursor, which
//! returns every entry present for a whole scan even across resizes.
//!
//! Memory layout (issue 19, memory per key): the entries are not one allocation each but
//! live densely in one store shared by both tables (`Entries`: fixed-size chunks of
//! `CHUNK` entries, so growing never copies or doubles a big block), and buckets and chain
//! links are 32-bit entry numbers rather than pointers. An entry is then its key, value and
//! a 4-byte link with no allocator header or rounding: the keyspace's `{Key, Value, link}`
//! costs 48 bytes instead of a 56-byte node in a 64-byte malloc chunk, and a bucket 4 bytes
//! instead of 8. A rehash moves links, never entries; removing an entry moves the store's
//! last entry into its place and re-points the one link that named it (`relink`). All of it
//! is safe Rust.

use super::{CompactBytes, Key};
use crate::rng::Rng;
use std::hash::BuildHasher;

/// What a `Dict` can be keyed by: bytes it hashes and compares, made from a slice on insert.
/// `CompactBytes` for collections; the keyspace's `Key`, which also carries the LRU/LFU field.
pub trait DictKey: std::ops::Deref<Target = [u8]> {
    fn from_slice(b: &[u8]) -> Self;
}

impl DictKey for CompactBytes {
    #[inline]
    fn from_slice(b: &[u8]) -> Self {
        CompactBytes::new(b)
    }
}

impl DictKey for Key {
    #[inline]
    fn from_slice(b: &[u8]) -> Self {
        Key::new(b)
    }
}

const INITIAL_SIZE: usize = 4;

thread_local! {
    /// Buckets moved by every dict's incremental rehash on this thread, for the native loop's
    /// turn report (a counter beside the tables, so no dict grows by a field).
    static REHASHED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Buckets moved by incremental rehashing (all dicts of this thread) since it started.
pub fn rehashed_buckets() -> u64 {
    REHASHED.with(|c| c.get())
}

/// A bucket array this big or bigger (256 KB of links) is not freed where its rehash
/// completes while retiring is on ([`set_retire_tables`]): unmapping tens of MB of touched
/// pages took milliseconds of the event loop's turn (measured: a 32 MB array's free in a
/// 13 ms turn of the growth bench).
const RETIRE_MIN_BUCKETS: usize = 1 << 16;

thread_local! {
    static RETIRE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static RETIRED: std::cell::RefCell<Vec<RetiredTable>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty bucket array a completed rehash left behind, for a host to free elsewhere (its
/// lazy-free worker). Only its memory: every bucket was empty.
pub struct RetiredTable(#[allow(dead_code)] Vec<Link>);

/// Whether big old bucket arrays are set aside ([`take_retired_tables`]) rather than freed
/// at once, on this thread. Off by default: a host without a worker needs nothing.
pub fn set_retire_tables(on: bool) {
    RETIRE.with(|c| c.set(on));
}

/// The bucket arrays set aside since the last call.
pub fn take_retired_tables() -> Vec<RetiredTable> {
    RETIRED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// Frees a table whose entries have all moved out: a big one is set aside while retiring is
/// on, any other freed here.
fn retire(t: Table) {
    debug_assert_eq!(t.used, 0);
    if t.buckets.len() >= RETIRE_MIN_BUCKETS && RETIRE.with(|c| c.get()) {
        RETIRED.with(|r| r.borrow_mut().push(RetiredTable(t.buckets)));
    }
}
/// Redis's HASHTABLE_MIN_FILL (htNeedsResize): a table of more than `INITIAL_SIZE` buckets
/// whose entries fill less than this percentage of them is shrunk by `shrink_if_needed` to
/// the smallest power of two that holds its entries, incrementally like any resize. Deleting
/// never shrinks by itself: the keyspace asks from the engine's tick (Redis's cron
/// tryResizeHashTables), hash, set and zset tables after removing members (as t_hash.c,
/// t_set.c and t_zset.c do).
const MIN_FILL_PERCENT: usize = 10;

/// A bucket or chain link: `NONE`, or entry number + 1 in the dict's `Entries`.
type Link = u32;
const NONE: Link = 0;

/// Entries per chunk of the store (the first chunk grows like a Vec up to it, so a small
/// dict's store stays small).
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

struct Node<V, K> {
    key: K,
    value: V,
    next: Link,
}

/// The entries of both tables, dense: entry `i` (link `i + 1`) is `chunks[i / CHUNK][i %
/// CHUNK]`, and every entry below `len` exists.
struct Entries<V, K> {
    chunks: Vec<Vec<Node<V, K>>>,
    len: usize,
}

impl<V, K> Entries<V, K> {
    fn new() -> Self {
        Entries {
            chunks: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn at(&self, link: Link) -> &Node<V, K> {
        let i = (link - 1) as usize;
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    #[inline]
    fn at_mut(&mut self, link: Link) -> &mut Node<V, K> {
        let i = (link - 1) as usize;
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    /// Stores a node at the end; its link.
    fn push(&mut self, node: Node<V, K>) -> Link {
        assert!(
            self.len < Link::MAX as usize,
            "hash table has too many entries"
        );
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(node),
            _ => {
                let mut c = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                c.push(node);
                self.chunks.push(c);
            }
        }
        self.len += 1;
        self.len as Link
    }

    /// Removes the entry at `link`, moving the last entry into its place: the removed node,
    /// and the old link of the entry that moved (to `link`), if one did.
    fn swap_remove(&mut self, link: Link) -> (Node<V, K>, Option<Link>) {
        let last_link = self.len as Link;
        let chunk = self.chunks.last_mut().expect("an entry to remove");
        let last = chunk.pop().expect("chunks are never empty");
        if chunk.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        if link == last_link {
            return (last, None);
        }
        (std::mem::replace(self.at_mut(link), last), Some(last_link))
    }
}

struct Table {
    buckets: Vec<Link>,
    used: usize,
}

impl Table {
    fn empty() -> Table {
        Table {
            buckets: Vec::new(),
            used: 0,
        }
    }
    /// `n` empty buckets. `vec![0; n]` comes from calloc, whose fresh pages the OS maps
    /// lazily, so starting a resize to 16M buckets costs nothing up front (writing 64 MB of
    /// links would stall the server for tens of ms); the incremental rehash touches the
    /// pages a few at a time.
    fn with_size(n: usize) -> Table {
        Table {
            buckets: vec![NONE; n],
            used: 0,
        }
    }
    fn mask(&self) -> u64 {
        (self.buckets.len() as u64).wrapping_sub(1)
    }
}

pub struct Dict<V, K = CompactBytes> {
    tables: [Table; 2],
    entries: Entries<V, K>,
    /// The next bucket of table 0 to move into table 1, while rehashing.
    rehash_idx: Option<usize>,
    hasher: foldhash::fast::FixedState,
}

impl<V, K: DictKey> Dict<V, K> {
    pub fn new(seed: u64) -> Dict<V, K> {
        Dict {
            tables: [Table::empty(), Table::empty()],
            entries: Entries::new(),
            rehash_idx: None,
            hasher: foldhash::fast::FixedState::with_seed(seed),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Bucket slots allocated (both tables), for memory figures and tests.
    pub fn slots(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    /// Bytes of the table's own structure: an entry per entry and a link per bucket (what
    /// Redis's getMemoryOverheadData counts for a database's dicts).
    pub fn overhead_bytes(&self) -> usize {
        self.len() * std::mem::size_of::<Node<V, K>>() + self.slots() * std::mem::size_of::<Link>()
    }

    /// Moves up to `n` buckets to the new table, visiting at most 10·n empty ones (Redis's
    /// dictRehash). Returns true while rehashing remains to be done.
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * 10;
        let mut moved = 0;
        while moved < n && self.tables[0].used > 0 {
            while self.tables[0].buckets[idx] == NONE {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut cur = std::mem::replace(&mut self.tables[0].buckets[idx], NONE);
            while cur != NONE {
                let h = self.hash(&self.entries.at(cur).key);
                let t1 = &mut self.tables[1];
                let slot = (h & t1.mask()) as usize;
                let node = self.entries.at_mut(cur);
                let next = std::mem::replace(&mut node.next, t1.buckets[slot]);
                t1.buckets[slot] = cur;
                t1.used += 1;
                self.tables[0].used -= 1;
                cur = next;
            }
            idx += 1;
            moved += 1;
        }
        REHASHED.with(|c| c.set(c.get() + moved as u64));
        if self.tables[0].used == 0 {
            let new = std::mem::replace(&mut self.tables[1], Table::empty());
            retire(std::mem::replace(&mut self.tables[0], new));
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    fn rehash_step(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash_steps(1);
        }
    }

    fn start_resize(&mut self, size: usize) {
        let size = size.max(INITIAL_SIZE).next_power_of_two();
        if self.is_rehashing() || size == self.tables[0].buckets.len() {
            return;
        }
        if self.tables[0].buckets.is_empty() {
            self.tables[0] = Table::with_size(size);
            return;
        }
        self.tables[1] = Table::with_size(size);
        self.rehash_idx = Some(0);
    }

    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let t0 = &self.tables[0];
        if t0.buckets.is_empty() {
            self.start_resize(INITIAL_SIZE);
        } else if t0.used >= t0.buckets.len() {
            self.start_resize(t0.used + 1);
        }
    }

    /// Halves memory after mass deletion, as Redis's cron does (htNeedsResize). Returns true
    /// if a shrink was started.
    pub fn shrink_if_needed(&mut self) -> bool {
        if self.is_rehashing() {
            return false;
        }
        let size = self.tables[0].buckets.len();
        let used = self.tables[0].used;
        if size > INITIAL_SIZE && used * 100 / size < MIN_FILL_PERCENT {
            self.start_resize(used);
            return self.is_rehashing();
        }
        false
    }

    /// The head of `h`'s chain in table `t` (`NONE` for an unallocated table).
    #[inline]
    fn head(&self, t: usize, h: u64) -> Link {
        let table = &self.tables[t];
        if table.buckets.is_empty() {
            NONE
        } else {
            table.buckets[(h & table.mask()) as usize]
        }
    }

    /// The link of `key`'s entry, if present.
    fn find(&self, key: &[u8], h: u64) -> Option<Link> {
        for t in 0..2 {
            let mut cur = self.head(t, h);
            while cur != NONE {
                let node = self.entries.at(cur);
                if &node.key[..] == key {
                    return Some(cur);
                }
                cur = node.next;
            }
            if !self.is_rehashing() {
                break;
            }
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        if self.is_empty() {
            return None;
        }
        let l = self.find(key, self.hash(key))?;
        Some(&self.entries.at(l).value)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let l = self.find(key, self.hash(key))?;
        Some(&mut self.entries.at_mut(l).value)
    }

    /// The entry of `key`, with its key writable: for the metadata a key type carries (the
    /// keyspace's LRU/LFU field). Replacing the key's bytes would break the table.
    pub fn get_entry_mut(&mut self, key: &[u8]) -> Option<(&mut K, &mut V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let l = self.find(key, self.hash(key))?;
        let n = self.entries.at_mut(l);
        Some((&mut n.key, &mut n.value))
    }

    /// The entry of `key`, read-only.
    pub fn get_entry(&self, key: &[u8]) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let n = self.entries.at(self.find(key, self.hash(key))?);
        Some((&n.key, &n.value))
    }

    /// Inserts or replaces; returns the old value. Hashes the key once.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        self.rehash_step();
        let h = self.hash(key);
        if let Some(l) = self.find(key, h) {
            return Some(std::mem::replace(&mut self.entries.at_mut(l).value, value));
        }
        self.expand_if_needed();
        self.insert_hashed(K::from_slice(key), value, h);
        None
    }

    /// `insert`, letting `key_meta` set the metadata of the key (true: a new key, false: the
    /// one already there) before the value goes in. Hashes the key once.
    pub fn insert_with(
        &mut self,
        key: &[u8],
        value: V,
        key_meta: impl FnOnce(&mut K, bool),
    ) -> Option<V> {
        self.rehash_step();
        let h = self.hash(key);
        if let Some(l) = self.find(key, h) {
            let node = self.entries.at_mut(l);
            key_meta(&mut node.key, false);
            return Some(std::mem::replace(&mut node.value, value));
        }
        self.expand_if_needed();
        let mut k = K::from_slice(key);
        key_meta(&mut k, true);
        self.insert_hashed(k, value, h);
        None
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: K, value: V) {
        self.rehash_step();
        self.expand_if_needed();
        let h = self.hash(&key);
        self.insert_hashed(key, value, h);
    }

    /// While rehashing, a key whose bucket of table 0 has not moved yet goes into table 0
    /// (the rehash moves it later), as only buckets below `rehash_idx` must be empty there.
    /// So table 1 is written only where the rehash has already written: in a doubling, bucket
    /// i of table 0 moves to buckets i and i + size0, two sequential fronts, so the new array's
    /// fresh pages are touched (and page-faulted) in order, a page every 1024 buckets, rather
    /// than a random page per new key (measured: ~900 page faults in one 556-command turn of
    /// the growth bench right after a 16M-bucket array was allocated).
    fn insert_hashed(&mut self, key: K, value: V, h: u64) {
        let t = match self.rehash_idx {
            Some(ri) if (h & self.tables[0].mask()) as usize >= ri => 0,
            Some(_) => 1,
            None => 0,
        };
        let slot = (h & self.tables[t].mask()) as usize;
        let next = self.tables[t].buckets[slot];
        let l = self.entries.push(Node { key, value, next });
        let table = &mut self.tables[t];
        table.buckets[slot] = l;
        table.used += 1;
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        for t in 0..2 {
            let (mut prev, mut cur) = (NONE, self.head(t, h));
            while cur != NONE && &self.entries.at(cur).key[..] != key {
                prev = cur;
                cur = self.entries.at(cur).next;
            }
            if cur != NONE {
                let next = self.entries.at(cur).next;
                if prev == NONE {
                    let table = &mut self.tables[t];
                    let slot = (h & table.mask()) as usize;
                    table.buckets[slot] = next;
                } else {
                    self.entries.at_mut(prev).next = next;
                }
                self.tables[t].used -= 1;
                let (node, moved) = self.entries.swap_remove(cur);
                if let Some(old) = moved {
                    self.relink(old, cur);
                }
                return Some((node.key, node.value));
            }
            if !self.is_rehashing() {
                break;
            }
        }
        None
    }

    /// The entry at `old` moved to `new` (`Entries::swap_remove`): re-points the one bucket
    /// or chain link that named it, found through its key's hash.
    fn relink(&mut self, old: Link, new: Link) {
        let h = self.hash(&self.entries.at(new).key);
        for t in 0..2 {
            let table = &mut self.tables[t];
            if !table.buckets.is_empty() {
                let slot = (h & table.mask()) as usize;
                if table.buckets[slot] == old {
                    table.buckets[slot] = new;
                    return;
                }
                let mut cur = table.buckets[slot];
                while cur != NONE {
                    let node = self.entries.at_mut(cur);
                    if node.next == old {
                        node.next = new;
                        return;
                    }
                    cur = node.next;
                }
            }
        }
        unreachable!("a stored entry is linked from its key's bucket");
    }

    /// The position of `key`'s entry in the dense store (`0..len()`), for an index kept
    /// beside the dict (keyspace/slots.rs). Positions are stable except in one way: an
    /// insert puts the new entry at position `len() - 1`, and `remove` moves the entry at
    /// the last position into the removed one's place.
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        self.find(key, self.hash(key)).map(|l| (l - 1) as usize)
    }

    /// The key of the entry at `pos` (`0..len()`).
    pub fn key_at(&self, pos: usize) -> &K {
        &self.entries.at(pos as Link + 1).key
    }

    /// Empties the dict, returning the old contents (so a host can free them elsewhere).
    pub fn take(&mut self) -> Dict<V, K> {
        let seed_hasher = self.hasher.clone();
        std::mem::replace(
            self,
            Dict {
                tables: [Table::empty(), Table::empty()],
                entries: Entries::new(),
                rehash_idx: None,
                hasher: seed_hasher,
            },
        )
    }

    /// The entries of one chain, from its head.
    fn chain(&self, head: Link) -> impl Iterator<Item = &Node<V, K>> {
        let mut cur = head;
        std::iter::from_fn(move || {
            if cur == NONE {
                return None;
            }
            let n = self.entries.at(cur);
            cur = n.next;
            Some(n)
        })
    }

    /// A random entry, like dictGetRandomKey: a random non-empty bucket, then a random node
    /// of its chain.
    pub fn random_entry(&mut self, rng: &mut Rng) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let (t, slot) = match self.rehash_idx {
            Some(ri) => {
                let s0 = self.tables[0].buckets.len();
                let s1 = self.tables[1].buckets.len();
                loop {
                    // Buckets of table 0 below rehash_idx are empty: skip them.
                    let h = ri + rng.below((s0 + s1 - ri) as u64) as usize;
                    let (t, slot) = if h >= s0 { (1, h - s0) } else { (0, h) };
                    if self.tables[t].buckets[slot] != NONE {
                        break (t, slot);
                    }
                }
            }
            None => {
                let mask = self.tables[0].mask();
                loop {
                    let slot = (rng.next_u64() & mask) as usize;
                    if self.tables[0].buckets[slot] != NONE {
                        break (0, slot);
                    }
                }
            }
        };
        let head = self.tables[t].buckets[slot];
        let len = self.chain(head).count();
        let pick = rng.below(len as u64) as usize;
        self.chain(head).nth(pick).map(|n| (&n.key, &n.value))
    }

    /// Redis's dictGetSomeKeys: up to `count` entries (distinct, not uniformly chosen) from
    /// consecutive buckets after a random one, jumping elsewhere after a run of empty buckets,
    /// visiting at most 10·count buckets. Cheaper than `count` random picks; eviction samples
    /// with it. Returns how many it visited.
    pub fn some_entries(
        &mut self,
        rng: &mut Rng,
        count: usize,
        mut f: impl FnMut(&K, &V),
    ) -> usize {
        let count = count.min(self.len());
        if count == 0 {
            return 0;
        }
        for _ in 0..count {
            if !self.is_rehashing() {
                break;
            }
            self.rehash_steps(1);
        }
        let rehash_idx = self.rehash_idx;
        let tables = if rehash_idx.is_some() { 2 } else { 1 };
        let max_mask = self.tables[0].mask().max(if tables == 2 {
            self.tables[1].mask()
        } else {
            0
        });
        let mut maxsteps = count * 10;
        let mut i = (rng.next_u64() & max_mask) as usize;
        let mut empty_run = 0;
        let mut stored = 0;
        while stored < count && maxsteps > 0 {
            maxsteps -= 1;
            for j in 0..tables {
                if let Some(ri) = rehash_idx {
                    // Buckets of table 0 below the rehash index are empty: in a shrink,
                    // jump to the index; in a growth, only table 1 has them.
                    if j == 0 && i < ri {
                        if i >= self.tables[1].buckets.len() {
                            i = ri;
                        } else {
                            continue;
                        }
                    }
                }
                let t = &self.tables[j];
                if i >= t.buckets.len() {
                    continue;
                }
                let head = t.buckets[i];
                if head == NONE {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = (rng.next_u64() & max_mask) as usize;
                        empty_run = 0;
                    }
                } else {
                    empty_run = 0;
                    for n in self.chain(head) {
                        f(&n.key, &n.value);
                        stored += 1;
                        if stored == count {
                            return stored;
                        }
                    }
                }
            }
            i = (i + 1) & max_mask as usize;
        }
        stored
    }

    fn visit_bucket(&self, t: usize, slot: u64, f: &mut impl FnMut(&K, &V)) {
        let table = &self.tables[t];
        for n in self.chain(table.buckets[(slot & table.mask()) as usize]) {
            f(&n.key, &n.value);
        }
    }

    /// Redis's dictScan: visits the bucket(s) at `cursor`, returns the next cursor (0 = done).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        if !self.is_rehashing() {
            let m0 = self.tables[0].mask();
            self.visit_bucket(0, v & m0, &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (mut small, mut big) = (0, 1);
            if self.tables[0].buckets.len() > self.tables[1].buckets.len() {
                std::mem::swap(&mut small, &mut big);
            }
            let (m0, m1) = (self.tables[small].mask(), self.tables[big].mask());
            self.visit_bucket(small, v & m0, &mut f);
            loop {
                self.visit_bucket(big, v & m1, &mut f);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// Redis's dictGetStats text (DEBUG HTSTATS): each table's size, elements, used buckets
    /// and chain lengths, the rehashing target only while a resize is under way.
    pub fn stats_text(&self) -> String {
        const VECTLEN: usize = 50;
        let mut s = String::new();
        let n = if self.is_rehashing() { 2 } else { 1 };
        for (idx, t) in self.tables.iter().take(n).enumerate() {
            let name = if idx == 0 {
                "main hash table"
            } else {
                "rehashing target"
            };
            if t.used == 0 {
                s.push_str(&format!(
                    "Hash table {idx} stats ({name}):\nNo stats available for empty dictionaries\n"
                ));
                continue;
            }
            let mut clvector = [0u64; VECTLEN];
            let (mut slots, mut maxchain, mut totchain) = (0u64, 0u64, 0u64);
            for &b in &t.buckets {
                let len = self.chain(b).count() as u64;
                if len == 0 {
                    clvector[0] += 1;
                    continue;
                }
                slots += 1;
                clvector[(len as usize).min(VECTLEN - 1)] += 1;
                maxchain = maxchain.max(len);
                totchain += len;
            }
            let size = t.buckets.len();
            s.push_str(&format!(
                "Hash table {idx} stats ({name}):\n table size: {size}\n number of elements: {}\n \
                 different slots: {slots}\n max chain length: {maxchain}\n \
                 avg chain length (counted): {:.2}\n avg chain length (computed): {:.2}\n \
                 Chain length distribution:\n",
                t.used,
                totchain as f32 / slots as f32,
                t.used as f32 / slots as f32
            ));
            for (i, &c) in clvector.iter().enumerate().take(VECTLEN - 1) {
                if c != 0 {
                    let pct = c as f32 / size as f32 * 100.0;
                    s.push_str(&format!("   {i}: {c} ({pct:.2}%)\n"));
                }
            }
        }
        s
    }

    /// Every entry, in bucket order (table 0's buckets, then table 1's), as before.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.tables.iter().flat_map(move |t| {
            t.buckets
                .iter()
                .flat_map(move |&b| self.chain(b).map(|n| (&n.key, &n.value)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn some_entries_are_distinct_and_cover_a_small_table() {
        let mut d: Dict<u32> = Dict::new(4);
        let mut rng = Rng::new(2);
        for i in 0..50u32 {
            d.insert(&i.to_be_bytes(), i);
        }
        let mut all = HashSet::new();
        assert_eq!(
            d.some_entries(&mut rng, 100, |_, v| assert!(all.insert(*v))),
            50
        );
        assert_eq!(all.len(), 50);
        for _ in 0..20 {
            let mut seen = HashSet::new();
            let n = d.some_entries(&mut rng, 5, |_, v| assert!(seen.insert(*v)));
            assert_eq!(n, 5);
        }
        // While growing (both tables in use). Like Redis's, a call may find nothing when its
        // random starts land in the new table's still-empty half: callers sample again.
        let (mut calls, mut found) = (0, 0);
        for i in 50..5000u32 {
            d.insert(&i.to_be_bytes(), i);
            if d.is_rehashing() {
                let mut seen = HashSet::new();
                found += d.some_entries(&mut rng, 5, |_, v| assert!(seen.insert(*v)));
                calls += 1;
            }
        }
        assert!(found > calls * 4, "{found} of {calls} calls x 5");
    }

    #[test]
    fn grows_incrementally() {
        let mut d: Dict<u32> = Dict::new(1);
        let mut max_rehashing_len = 0;
        for i in 0..10_000u32 {
            d.insert(&i.to_be_bytes(), i);
            if d.is_rehashing() {
                max_rehashing_len = max_rehashing_len.max(d.len());
            }
        }
        assert!(max_rehashing_len > 0, "a resize was spread over operations");
        for i in 0..10_000u32 {
            assert_eq!(d.get(&i.to_be_bytes()), Some(&i));
        }
        while d.rehash_steps(100) {}
        assert_eq!(d.slots(), 16384);
        for i in 0..9_990u32 {
            assert_eq!(d.remove(&i.to_be_bytes()).map(|(_, v)| v), Some(i));
        }
        assert!(d.shrink_if_needed());
        while d.rehash_steps(100) {}
        assert_eq!(d.slots(), 16);
        assert_eq!(d.len(), 10);
    }

    /// While rehashing, table 0's buckets below `rehash_idx` stay empty (new keys whose
    /// bucket has not moved go to table 0), and table 1 is only written at or below the
    /// rehash's two fronts; a completed rehash's big array is set aside only while retiring is
    /// on.
    #[test]
    fn inserts_during_a_rehash_follow_its_fronts_and_big_arrays_retire() {
        set_retire_tables(true);
        let _ = take_retired_tables();
        let mut d: Dict<u32> = Dict::new(7);
        let n = (RETIRE_MIN_BUCKETS as u32) * 2;
        for i in 0..n {
            d.insert(&i.to_be_bytes(), i);
            if i % 1009 != 0 {
                continue;
            }
            if let Some(ri) = d.rehash_idx {
                let size0 = d.tables[0].buckets.len();
                assert!(d.tables[0].buckets[..ri].iter().all(|&b| b == NONE));
                if d.tables[1].buckets.len() == 2 * size0 {
                    let written = |b: usize| d.tables[1].buckets[b] != NONE;
                    assert!((ri..size0).all(|b| !written(b) && !written(b + size0)));
                }
            }
        }
        while d.rehash_steps(1000) {}
        for i in 0..n {
            assert_eq!(d.get(&i.to_be_bytes()), Some(&i));
        }
        let retired = take_retired_tables();
        assert_eq!(
            retired.len(),
            1,
            "the 64K-bucket array of the last doubling"
        );
        assert_eq!(retired[0].0.len(), RETIRE_MIN_BUCKETS);
        set_retire_tables(false);
        let mut d: Dict<u32> = Dict::new(7);
        for i in 0..n {
            d.insert(&i.to_be_bytes(), i);
        }
        while d.rehash_steps(1000) {}
        assert!(take_retired_tables().is_empty());
    }

    /// Every key present for the whole scan is returned, even when the table grows or
    /// shrinks between cursor calls.
    fn scan_guarantee(initial: u32, churn: Vec<(bool, u32)>) {
        let mut d: Dict<()> = Dict::new(9);
        for i in 0..initial {
            d.insert(&i.to_be_bytes(), ());
        }
        let stable: HashSet<u32> = (0..initial).filter(|i| i % 3 == 0).collect();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut churn = churn.into_iter();
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(u32::from_be_bytes(k.as_bytes().try_into().unwrap()));
            });
            // Mutate between calls, but never touch the stable keys.
            for _ in 0..5 {
                if let Some((add, n)) = churn.next() {
                    let k = if n % 3 == 0 { n + 1 } else { n };
                    if add {
                        d.insert(&(k + 1_000_000).to_be_bytes(), ());
                    } else if k < initial {
                        d.remove(&k.to_be_bytes());
                    }
                    d.shrink_if_needed();
                }
            }
            if cursor == 0 {
                break;
            }
        }
        assert!(stable.is_subset(&seen));
    }

    /// `position`'s contract: new entries go last, a removal moves the last entry into the
    /// removed one's place, and nothing else moves (not a rehash).
    #[test]
    fn positions_move_only_by_removal_of_another() {
        let mut d: Dict<u32> = Dict::new(11);
        for i in 0..3000u32 {
            d.insert(&i.to_be_bytes(), i);
            assert_eq!(d.position(&i.to_be_bytes()), Some(d.len() - 1));
        }
        let mut order: Vec<u32> = (0..d.len())
            .map(|p| u32::from_be_bytes(d.key_at(p)[..].try_into().unwrap()))
            .collect();
        for i in (0..3000u32).step_by(7) {
            let pos = d.position(&i.to_be_bytes()).unwrap();
            d.remove(&i.to_be_bytes());
            order.swap_remove(pos);
            d.rehash_steps(3);
            for (p, k) in order.iter().enumerate() {
                assert_eq!(d.position(&k.to_be_bytes()), Some(p));
            }
        }
    }

    proptest! {
        #[test]
        fn scan_returns_all_stable_keys(initial in 0u32..600, churn in proptest::collection::vec((any::<bool>(), 0u32..2000), 0..400)) {
            scan_guarantee(initial, churn);
        }

        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec((0u8..4, 0u16..300), 0..3000)) {
            let mut d: Dict<u16> = Dict::new(3);
            let mut model = HashMap::new();
            let mut rng = Rng::new(5);
            for (op, k) in ops {
                let key = k.to_le_bytes();
                match op {
                    0 => prop_assert_eq!(d.insert(&key, k), model.insert(k, k)),
                    1 => prop_assert_eq!(d.remove(&key).map(|(_, v)| v), model.remove(&k)),
                    2 => prop_assert_eq!(d.get(&key), model.get(&k)),
                    3 if k % 4 == 0 => {
                        d.rehash_steps(1 + k as usize % 3);
                    }
                    _ => {
                        d.shrink_if_needed();
                        if let Some((kk, v)) = d.random_entry(&mut rng) {
                            prop_assert_eq!(model.get(v), Some(v));
                            prop_assert_eq!(kk.as_bytes(), &v.to_le_bytes()[..]);
                        } else {
                            prop_assert!(model.is_empty());
                        }
                    }
                }
                prop_assert_eq!(d.len(), model.len());
            }
            prop_assert_eq!(d.iter().count(), model.len());
            // Every entry is reachable through its own bucket, and a scan returns each once.
            for (k, v) in &model {
                prop_assert_eq!(d.get(&k.to_le_bytes()), Some(v));
            }
            let (mut cursor, mut seen) = (0, Vec::new());
            loop {
                cursor = d.scan(cursor, |_, v| seen.push(*v));
                if cursor == 0 {
                    break;
                }
            }
            seen.sort_unstable();
            let mut want: Vec<u16> = model.keys().copied().collect();
            want.sort_unstable();
            prop_assert_eq!(seen, want);
        }
    }
}
