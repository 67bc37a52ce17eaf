//! `Dict`: Redis's incrementally rehashing hash table (dict.c), the curriculum's progressive
//! rehashing. Two power-of-two tables of chained buckets; while a resize is under way every
//! operation moves one bucket (and `rehash_steps` lets the host's tick move more), so no
//! single command pays for a whole resize. `scan` is Redis's reverse-binary cursor, which
//! returns every entry present for a whole scan even across resizes.

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

/// A bucket array this big or bigger (512 KB of pointers) is not freed where its rehash
/// completes while retiring is on ([`set_retire_tables`]): unmapping tens of MB of touched
/// pages took milliseconds of the event loop's turn (measured: a 32 MB array's free in a
/// 13 ms turn of the growth bench).
const RETIRE_MIN_BUCKETS: usize = 1 << 16;

thread_local! {
    static RETIRE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static RETIRED: std::cell::RefCell<Vec<RetiredTable>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty bucket array a completed rehash left behind, for a host to free elsewhere (its
/// lazy-free worker). Only its memory: every bucket was `None`, so it is held as plain words.
pub struct RetiredTable(#[allow(dead_code)] Vec<usize>);

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
/// on, any other freed here (its `Drop` skips the scan of an empty table).
fn retire<V, K>(t: Table<V, K>) {
    debug_assert_eq!(t.used, 0);
    if t.buckets.len() < RETIRE_MIN_BUCKETS || !RETIRE.with(|c| c.get()) {
        return;
    }
    let mut t = std::mem::ManuallyDrop::new(t);
    let mut buckets = std::mem::ManuallyDrop::new(std::mem::take(&mut t.buckets));
    let (ptr, len, cap) = (buckets.as_mut_ptr(), buckets.len(), buckets.capacity());
    // SAFETY: `Option<Box<_>>` and `usize` have the same size and alignment, so the block has
    // the layout a `Vec<usize>` of capacity `cap` frees with; every element is `None`, the
    // null pointer (the table is empty), which is a valid `usize` (0). The table itself owns
    // nothing else (its Vec was taken), so not dropping it leaks nothing.
    let words = unsafe { Vec::from_raw_parts(ptr.cast::<usize>(), len, cap) };
    RETIRED.with(|r| r.borrow_mut().push(RetiredTable(words)));
}
/// Redis's HASHTABLE_MIN_FILL (htNeedsResize): a table of more than `INITIAL_SIZE` buckets
/// whose entries fill less than this percentage of them is shrunk by `shrink_if_needed` to
/// the smallest power of two that holds its entries, incrementally like any resize. Deleting
/// never shrinks by itself: the keyspace asks from the engine's tick (Redis's cron
/// tryResizeHashTables), hash, set and zset tables after removing members (as t_hash.c,
/// t_set.c and t_zset.c do).
const MIN_FILL_PERCENT: usize = 10;

struct Node<V, K> {
    key: K,
    value: V,
    next: Option<Box<Node<V, K>>>,
}

struct Table<V, K> {
    buckets: Vec<Option<Box<Node<V, K>>>>,
    used: usize,
}

impl<V, K> Table<V, K> {
    fn empty() -> Table<V, K> {
        Table {
            buckets: Vec::new(),
            used: 0,
        }
    }
    fn with_size(n: usize) -> Table<V, K> {
        Table {
            buckets: zeroed_buckets(n),
            used: 0,
        }
    }
    fn mask(&self) -> u64 {
        (self.buckets.len() as u64).wrapping_sub(1)
    }
}

/// `n` empty buckets in zeroed memory. A big table comes from calloc, whose fresh pages the OS
/// maps lazily, so starting a resize to 16M buckets costs nothing up front (writing 128 MB of
/// `None`s would stall the server for tens of ms); the incremental rehash touches the pages a
/// few at a time.
fn zeroed_buckets<V, K>(n: usize) -> Vec<Option<Box<Node<V, K>>>> {
    if n == 0 {
        return Vec::new();
    }
    let layout = std::alloc::Layout::array::<Option<Box<Node<V, K>>>>(n)
        .unwrap_or_else(|_| panic!("hash table of {n} buckets is too big"));
    // SAFETY: `Option<Box<T>>` is guaranteed to represent `None` as the null pointer, i.e. all
    // zero bits (the documented null-pointer optimization), so zeroed memory holds `n` valid
    // `None`s. The block comes from the global allocator with exactly the layout
    // `Vec<Option<Box<Node<V, K>>>>` of capacity `n` uses, so the Vec may own and free it.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<Option<Box<Node<V, K>>>>();
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Vec::from_raw_parts(p, n, n)
    }
}

impl<V, K> Drop for Table<V, K> {
    // Unlink chains iteratively so a long chain cannot overflow the stack.
    fn drop(&mut self) {
        // A table a rehash emptied: no need to read its whole bucket array again.
        if self.used == 0 {
            return;
        }
        for bucket in self.buckets.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
    }
}

pub struct Dict<V, K = CompactBytes> {
    tables: [Table<V, K>; 2],
    /// The next bucket of table 0 to move into table 1, while rehashing.
    rehash_idx: Option<usize>,
    hasher: foldhash::fast::FixedState,
}

impl<V, K: DictKey> Dict<V, K> {
    pub fn new(seed: u64) -> Dict<V, K> {
        Dict {
            tables: [Table::empty(), Table::empty()],
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

    /// Bytes of the table's own structure: an entry node per entry and a pointer per bucket
    /// (what Redis's getMemoryOverheadData counts for a database's dicts).
    pub fn overhead_bytes(&self) -> usize {
        self.len() * std::mem::size_of::<Node<V, K>>()
            + self.slots() * std::mem::size_of::<Option<Box<Node<V, K>>>>()
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
            while self.tables[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut chain = self.tables[0].buckets[idx].take();
            while let Some(mut node) = chain {
                chain = node.next.take();
                let h = self.hash(&node.key);
                let t1 = &mut self.tables[1];
                let slot = (h & t1.mask()) as usize;
                node.next = t1.buckets[slot].take();
                t1.buckets[slot] = Some(node);
                t1.used += 1;
                self.tables[0].used -= 1;
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

    fn find_in(&self, key: &[u8], h: u64) -> Option<&Node<V, K>> {
        for t in 0..2 {
            let table = &self.tables[t];
            if !table.buckets.is_empty() {
                let mut cur = table.buckets[(h & table.mask()) as usize].as_deref();
                while let Some(node) = cur {
                    if &node.key[..] == key {
                        return Some(node);
                    }
                    cur = node.next.as_deref();
                }
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
        self.find_in(key, self.hash(key)).map(|n| &n.value)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        self.find_mut(key, h)
    }

    fn find_mut(&mut self, key: &[u8], h: u64) -> Option<&mut V> {
        self.find_node_mut(key, h).map(|n| &mut n.value)
    }

    /// The entry of `key`, with its key writable: for the metadata a key type carries (the
    /// keyspace's LRU/LFU field). Replacing the key's bytes would break the table.
    pub fn get_entry_mut(&mut self, key: &[u8]) -> Option<(&mut K, &mut V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        self.find_node_mut(key, h)
            .map(|n| (&mut n.key, &mut n.value))
    }

    /// The entry of `key`, read-only.
    pub fn get_entry(&self, key: &[u8]) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        self.find_in(key, self.hash(key))
            .map(|n| (&n.key, &n.value))
    }

    fn find_node_mut(&mut self, key: &[u8], h: u64) -> Option<&mut Node<V, K>> {
        if self.is_empty() {
            return None;
        }
        // Find the node's position immutably, then walk to it mutably (a returned mutable
        // borrow inside a loop is beyond today's borrow checker).
        let (t, depth) = (0..2).find_map(|t| {
            let table = &self.tables[t];
            if table.buckets.is_empty() || (t == 1 && !self.is_rehashing()) {
                return None;
            }
            let mut cur = table.buckets[(h & table.mask()) as usize].as_deref();
            let mut depth = 0;
            while let Some(node) = cur {
                if &node.key[..] == key {
                    return Some((t, depth));
                }
                depth += 1;
                cur = node.next.as_deref();
            }
            None
        })?;
        let table = &mut self.tables[t];
        let slot = (h & table.mask()) as usize;
        let mut node = table.buckets[slot].as_deref_mut()?;
        for _ in 0..depth {
            node = node.next.as_deref_mut()?;
        }
        Some(node)
    }

    /// Inserts or replaces; returns the old value. Hashes the key once.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        self.rehash_step();
        let h = self.hash(key);
        if let Some(slot) = self.find_mut(key, h) {
            return Some(std::mem::replace(slot, value));
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
        if let Some(node) = self.find_node_mut(key, h) {
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
    /// fresh pages are touched (and page-faulted) in order, a page every 512 buckets, rather
    /// than a random page per new key (measured: ~900 page faults in one 556-command turn of
    /// the growth bench right after a 16M-bucket array was allocated).
    fn insert_hashed(&mut self, key: K, value: V, h: u64) {
        let t = match self.rehash_idx {
            Some(ri) if (h & self.tables[0].mask()) as usize >= ri => 0,
            Some(_) => 1,
            None => 0,
        };
        let table = &mut self.tables[t];
        let slot = (h & table.mask()) as usize;
        let next = table.buckets[slot].take();
        table.buckets[slot] = Some(Box::new(Node { key, value, next }));
        table.used += 1;
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        let rehashing = self.is_rehashing();
        for t in 0..2 {
            let table = &mut self.tables[t];
            if !table.buckets.is_empty() {
                let slot = (h & table.mask()) as usize;
                let mut cur = &mut table.buckets[slot];
                while cur.as_ref().is_some_and(|n| &n.key[..] != key) {
                    cur = &mut cur.as_mut().expect("checked").next;
                }
                if let Some(mut node) = cur.take() {
                    *cur = node.next.take();
                    table.used -= 1;
                    let Node { key, value, .. } = *node;
                    return Some((key, value));
                }
            }
            if !rehashing {
                break;
            }
        }
        None
    }

    /// Empties the dict, returning the old contents (so a host can free them elsewhere).
    pub fn take(&mut self) -> Dict<V, K> {
        let seed_hasher = self.hasher.clone();
        std::mem::replace(
            self,
            Dict {
                tables: [Table::empty(), Table::empty()],
                rehash_idx: None,
                hasher: seed_hasher,
            },
        )
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
                    if self.tables[t].buckets[slot].is_some() {
                        break (t, slot);
                    }
                }
            }
            None => {
                let mask = self.tables[0].mask();
                loop {
                    let slot = (rng.next_u64() & mask) as usize;
                    if self.tables[0].buckets[slot].is_some() {
                        break (0, slot);
                    }
                }
            }
        };
        let head = self.tables[t].buckets[slot].as_deref();
        let mut len = 0;
        let mut cur = head;
        while let Some(n) = cur {
            len += 1;
            cur = n.next.as_deref();
        }
        let mut pick = rng.below(len) as usize;
        let mut cur = head;
        while let Some(n) = cur {
            if pick == 0 {
                return Some((&n.key, &n.value));
            }
            pick -= 1;
            cur = n.next.as_deref();
        }
        None
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
                let mut cur = t.buckets[i].as_deref();
                if cur.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = (rng.next_u64() & max_mask) as usize;
                        empty_run = 0;
                    }
                } else {
                    empty_run = 0;
                    while let Some(n) = cur {
                        f(&n.key, &n.value);
                        stored += 1;
                        if stored == count {
                            return stored;
                        }
                        cur = n.next.as_deref();
                    }
                }
            }
            i = (i + 1) & max_mask as usize;
        }
        stored
    }

    fn visit_bucket(table: &Table<V, K>, slot: u64, f: &mut impl FnMut(&K, &V)) {
        let mut cur = table.buckets[(slot & table.mask()) as usize].as_deref();
        while let Some(n) = cur {
            f(&n.key, &n.value);
            cur = n.next.as_deref();
        }
    }

    /// Redis's dictScan: visits the bucket(s) at `cursor`, returns the next cursor (0 = done).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        if !self.is_rehashing() {
            let t0 = &self.tables[0];
            let m0 = t0.mask();
            Self::visit_bucket(t0, v & m0, &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (mut small, mut big) = (&self.tables[0], &self.tables[1]);
            if small.buckets.len() > big.buckets.len() {
                std::mem::swap(&mut small, &mut big);
            }
            let (m0, m1) = (small.mask(), big.mask());
            Self::visit_bucket(small, v & m0, &mut f);
            loop {
                Self::visit_bucket(big, v & m1, &mut f);
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
            for b in &t.buckets {
                let mut len = 0u64;
                let mut cur = b.as_deref();
                while let Some(node) = cur {
                    len += 1;
                    cur = node.next.as_deref();
                }
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

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.tables.iter().flat_map(|t| {
            t.buckets.iter().flat_map(|b| {
                let mut cur = b.as_deref();
                std::iter::from_fn(move || {
                    let n = cur?;
                    cur = n.next.as_deref();
                    Some((&n.key, &n.value))
                })
            })
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
                assert!(d.tables[0].buckets[..ri].iter().all(Option::is_none));
                if d.tables[1].buckets.len() == 2 * size0 {
                    let written = |b: usize| d.tables[1].buckets[b].is_some();
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

    proptest! {
        #[test]
        fn scan_returns_all_stable_keys(initial in 0u32..600, churn in proptest::collection::vec((any::<bool>(), 0u32..2000), 0..400)) {
            scan_guarantee(initial, churn);
        }

        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec((0u8..4, 0u16..300), 0..2000)) {
            let mut d: Dict<u16> = Dict::new(3);
            let mut model = HashMap::new();
            let mut rng = Rng::new(5);
            for (op, k) in ops {
                let key = k.to_le_bytes();
                match op {
                    0 => prop_assert_eq!(d.insert(&key, k), model.insert(k, k)),
                    1 => prop_assert_eq!(d.remove(&key).map(|(_, v)| v), model.remove(&k)),
                    2 => prop_assert_eq!(d.get(&key), model.get(&k)),
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
        }
    }
}
