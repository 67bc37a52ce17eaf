//! The hash value, in Redis 7.0's two encodings.
//!
//! - "listpack": every field and value packed into one exact-size byte buffer, in insertion
//!   order, each entry a LEB128 length then its bytes (field, value, field, value ...). Lookups
//!   scan it, as Redis's listpack does; it is only used while the hash is small.
//! - "hashtable": a [`Dict`] of fields to values (incremental rehashing and the SCAN guarantee
//!   come with it).
//!
//! The conversion is one-way, as in Redis: a listpack becomes a table once it holds more than
//! `hash-max-listpack-entries` pairs, or is given a field or value longer than
//! `hash-max-listpack-value` bytes (Redis's hashTypeTryConversion and hashTypeSet), and a table
//! never goes back.
//!
//! Interface other code relies on: `len`, `is_empty`, `get(field)`, `iter` (field, value),
//! `encoding` ("listpack" / "hashtable").

use super::dict::Dict;
use super::CompactBytes;
use crate::rng::Rng;
use std::fmt;
use std::ops::Range;

/// Redis's LISTPACK_MAX_SAFETY_SIZE: a listpack that would grow past this converts.
const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

/// The encoding thresholds (hash-max-listpack-entries / hash-max-listpack-value; Redis 7.0
/// defaults to 512 and 64).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: u64,
    pub max_value: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entries: 512,
            max_value: 64,
        }
    }
}

/// A hash: field -> value, both binary strings.
pub struct Hash(Repr);

enum Repr {
    Listpack(Listpack),
    // Boxed so a small hash stays 24 bytes.
    Table(Box<Table>),
}

struct Table {
    dict: Dict<CompactBytes>,
    /// The dict's hash seed, so a clone hashes alike.
    seed: u64,
}

/// Field/value pairs packed back to back: `len(field) field len(value) value ...`.
#[derive(Clone, Default)]
struct Listpack {
    buf: Box<[u8]>,
    /// Pairs, not entries.
    count: u32,
}

fn len_size(mut n: usize) -> usize {
    let mut size = 1;
    while n >= 0x80 {
        n >>= 7;
        size += 1;
    }
    size
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The entry at `pos`: (its data range, the position after it). `pos` must start an entry
/// of a well-formed buffer (only this module writes them).
fn entry_at(buf: &[u8], mut pos: usize) -> (Range<usize>, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (pos..pos + n, pos + n)
}

fn encode_pair(field: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(
        len_size(field.len()) + field.len() + len_size(value.len()) + value.len(),
    );
    put_len(&mut v, field.len());
    v.extend_from_slice(field);
    put_len(&mut v, value.len());
    v.extend_from_slice(value);
    v
}

/// Where a pair sits in the buffer.
struct Found {
    /// The whole pair (field entry and value entry).
    pair: Range<usize>,
    /// The value entry, length prefix included.
    value_entry: Range<usize>,
    /// The value's bytes.
    value: Range<usize>,
}

struct LpIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LpIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, next) = entry_at(self.buf, self.pos);
        let (v, next) = entry_at(self.buf, next);
        self.pos = next;
        Some((&self.buf[f], &self.buf[v]))
    }
}

impl Listpack {
    fn iter(&self) -> LpIter<'_> {
        LpIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    fn find(&self, field: &[u8]) -> Option<Found> {
        let buf = &self.buf[..];
        let mut pos = 0;
        while pos < buf.len() {
            let (f, vstart) = entry_at(buf, pos);
            let (v, end) = entry_at(buf, vstart);
            if &buf[f] == field {
                return Some(Found {
                    pair: pos..end,
                    value_entry: vstart..end,
                    value: v,
                });
            }
            pos = end;
        }
        None
    }

    /// Replaces `range` of the buffer with `with`, keeping the buffer exactly sized.
    fn splice(&mut self, range: Range<usize>, with: &[u8]) {
        if range.len() == with.len() {
            self.buf[range].copy_from_slice(with);
            return;
        }
        if range.start == self.buf.len() {
            // Appending: grow in place when the allocator can.
            let mut v = std::mem::take(&mut self.buf).into_vec();
            v.reserve_exact(with.len());
            v.extend_from_slice(with);
            self.buf = v.into_boxed_slice();
            return;
        }
        let mut v = Vec::with_capacity(self.buf.len() - range.len() + with.len());
        v.extend_from_slice(&self.buf[..range.start]);
        v.extend_from_slice(with);
        v.extend_from_slice(&self.buf[range.end..]);
        self.buf = v.into_boxed_slice();
    }
}

impl Default for Hash {
    fn default() -> Hash {
        Hash::new()
    }
}

impl Hash {
    /// An empty listpack-encoded hash.
    pub fn new() -> Hash {
        Hash(Repr::Listpack(Listpack::default()))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Listpack(lp) => lp.count as usize,
            Repr::Table(t) => t.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    /// The hash table's figures (DEBUG HTSTATS-KEY); None for the listpack encoding.
    pub fn dict_stats(&self) -> Option<String> {
        match &self.0 {
            Repr::Table(t) => Some(t.dict.stats_text()),
            Repr::Listpack(_) => None,
        }
    }

    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.0 {
            Repr::Listpack(lp) => lp.find(field).map(|f| &lp.buf[f.value]),
            Repr::Table(t) => t.dict.get(field).map(|v| v.as_bytes()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.0 {
            Repr::Listpack(lp) => lp.find(field).is_some(),
            Repr::Table(t) => t.dict.contains_key(field),
        }
    }

    /// Every (field, value): insertion order for a listpack, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let (lp, table) = match &self.0 {
            Repr::Listpack(lp) => (Some(lp.iter()), None),
            Repr::Table(t) => (
                None,
                Some(t.dict.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes()))),
            ),
        };
        lp.into_iter().flatten().chain(table.into_iter().flatten())
    }

    /// Converts to a hashtable (no-op if it is one already).
    pub fn convert_to_table(&mut self, rng: &mut Rng) {
        if let Repr::Listpack(lp) = &self.0 {
            let seed = rng.next_u64();
            let mut dict = Dict::new(seed);
            for (f, v) in lp.iter() {
                dict.insert_new(CompactBytes::new(f), CompactBytes::new(v));
            }
            self.0 = Repr::Table(Box::new(Table { dict, seed }));
        }
    }

    /// Redis's hashTypeTryConversion, before a write of these fields and values: any of them
    /// too long for a listpack (or the listpack growing past its safety size) converts.
    pub fn prepare(&mut self, args: &[&[u8]], lim: &Limits, rng: &mut Rng) {
        let Repr::Listpack(lp) = &self.0 else {
            return;
        };
        let mut sum = 0usize;
        for a in args {
            if a.len() as u64 > lim.max_value {
                self.convert_to_table(rng);
                return;
            }
            sum = sum.saturating_add(a.len());
        }
        if lp.buf.len().saturating_add(sum) > LISTPACK_MAX_SAFETY_SIZE {
            self.convert_to_table(rng);
        }
    }

    /// Redis's hashTypeSet: sets `field` to `value`, converting when a threshold is crossed.
    /// A new field goes to the listpack's tail. Returns true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: &Limits, rng: &mut Rng) -> bool {
        if matches!(self.0, Repr::Listpack(_))
            && (field.len() as u64 > lim.max_value || value.len() as u64 > lim.max_value)
        {
            self.convert_to_table(rng);
        }
        match &mut self.0 {
            Repr::Listpack(lp) => {
                let new = match lp.find(field) {
                    Some(found) => {
                        if lp.buf[found.value.clone()] != *value {
                            let mut enc = Vec::with_capacity(len_size(value.len()) + value.len());
                            put_len(&mut enc, value.len());
                            enc.extend_from_slice(value);
                            lp.splice(found.value_entry, &enc);
                        }
                        false
                    }
                    None => {
                        let end = lp.buf.len();
                        lp.splice(end..end, &encode_pair(field, value));
                        lp.count += 1;
                        true
                    }
                };
                if u64::from(lp.count) > lim.max_entries {
                    self.convert_to_table(rng);
                }
                new
            }
            Repr::Table(t) => t.dict.insert(field, CompactBytes::new(value)).is_none(),
        }
    }

    /// Removes `field`; true if it was there. A table shrinks after deletions, as Redis's
    /// hashTypeDelete resizes it.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Listpack(lp) => match lp.find(field) {
                Some(found) => {
                    lp.splice(found.pair, &[]);
                    lp.count -= 1;
                    true
                }
                None => false,
            },
            Repr::Table(t) => {
                let removed = t.dict.remove(field).is_some();
                if removed {
                    t.dict.shrink_if_needed();
                }
                removed
            }
        }
    }

    /// One random pair (Redis: lpRandomPair / dictGetFairRandomKey).
    pub fn random_pair(&mut self, rng: &mut Rng) -> Option<(&[u8], &[u8])> {
        match &mut self.0 {
            Repr::Listpack(lp) => {
                if lp.count == 0 {
                    return None;
                }
                let i = rng.below(u64::from(lp.count)) as usize;
                lp.iter().nth(i)
            }
            Repr::Table(t) => t
                .dict
                .random_entry(rng)
                .map(|(k, v)| (k.as_bytes(), v.as_bytes())),
        }
    }

    /// Calls `f` with `count` random pairs, repeats allowed (HRANDFIELD with a negative
    /// count). `f` returns false to stop early.
    pub fn random_pairs(
        &mut self,
        count: u64,
        rng: &mut Rng,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) {
        if self.is_empty() {
            return;
        }
        match &mut self.0 {
            Repr::Listpack(lp) => {
                let pairs: Vec<(&[u8], &[u8])> = lp.iter().collect();
                for _ in 0..count {
                    let (k, v) = pairs[rng.below(pairs.len() as u64) as usize];
                    if !f(k, v) {
                        return;
                    }
                }
            }
            Repr::Table(t) => {
                for _ in 0..count {
                    let Some((k, v)) = t.dict.random_entry(rng) else {
                        return;
                    };
                    if !f(k.as_bytes(), v.as_bytes()) {
                        return;
                    }
                }
            }
        }
    }

    /// `count` distinct random pairs (`count` < len), for HRANDFIELD with a positive count. A
    /// listpack gives them in its own order, as Redis's lpRandomPairsUnique does.
    pub fn random_unique_pairs(&self, count: usize, rng: &mut Rng) -> Vec<(&[u8], &[u8])> {
        let len = self.len();
        let count = count.min(len);
        match &self.0 {
            Repr::Listpack(lp) => {
                // Selection sampling (Knuth's algorithm S): ordered, uniform.
                let mut out = Vec::with_capacity(count);
                let mut need = count;
                for (i, pair) in lp.iter().enumerate() {
                    if need == 0 {
                        break;
                    }
                    if (rng.below((len - i) as u64) as usize) < need {
                        out.push(pair);
                        need -= 1;
                    }
                }
                out
            }
            Repr::Table(t) => {
                let mut all: Vec<(&[u8], &[u8])> = t
                    .dict
                    .iter()
                    .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                    .collect();
                // A partial Fisher-Yates shuffle picks `count` distinct entries.
                for i in 0..count {
                    let j = i + rng.below((all.len() - i) as u64) as usize;
                    all.swap(i, j);
                }
                all.truncate(count);
                all
            }
        }
    }

    /// HSCAN's step: a listpack is returned whole with cursor 0 (as Redis does); a table
    /// visits the bucket(s) at `cursor` and returns the next cursor.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.0 {
            Repr::Listpack(lp) => {
                for (k, v) in lp.iter() {
                    f(k, v);
                }
                0
            }
            Repr::Table(t) => t.dict.scan(cursor, |k, v| f(k.as_bytes(), v.as_bytes())),
        }
    }

    /// Whether `scan` returns everything in one call.
    pub fn scans_whole(&self) -> bool {
        matches!(self.0, Repr::Listpack(_))
    }

    /// Heap bytes for MEMORY USAGE: exact for a listpack; for a table, the buckets and nodes
    /// plus the fields and values of the first `samples` entries, extrapolated to all (Redis's
    /// objectComputeSize).
    pub fn memory_usage(&self, samples: usize) -> usize {
        match &self.0 {
            Repr::Listpack(lp) => lp.buf.len(),
            Repr::Table(t) => {
                let node = 2 * std::mem::size_of::<CompactBytes>() + std::mem::size_of::<usize>();
                let fixed = std::mem::size_of::<Table>()
                    + t.dict.slots() * std::mem::size_of::<usize>()
                    + t.dict.len() * node;
                fixed
                    + super::extrapolate(
                        t.dict.iter().map(|(k, v)| k.heap_size() + v.heap_size()),
                        samples,
                        t.dict.len(),
                    )
            }
        }
    }

    /// Approximate heap bytes this hash owns (for memory figures).
    #[cfg(test)]
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Listpack(lp) => lp.buf.len(),
            Repr::Table(t) => {
                let node = 2 * std::mem::size_of::<CompactBytes>() + std::mem::size_of::<usize>();
                let mut total = std::mem::size_of::<Table>()
                    + t.dict.slots() * std::mem::size_of::<usize>()
                    + t.dict.len() * node;
                for (k, v) in t.dict.iter() {
                    total += k.heap_size() + v.heap_size();
                }
                total
            }
        }
    }
}

impl Clone for Hash {
    fn clone(&self) -> Hash {
        match &self.0 {
            Repr::Listpack(lp) => Hash(Repr::Listpack(lp.clone())),
            Repr::Table(t) => {
                let mut dict = Dict::new(t.seed);
                for (k, v) in t.dict.iter() {
                    dict.insert_new(k.clone(), v.clone());
                }
                Hash(Repr::Table(Box::new(Table { dict, seed: t.seed })))
            }
        }
    }
}

/// Equal when they map the same fields to the same values (order and encoding aside).
impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash[{}]", self.encoding())?;
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashSet};

    fn lim(entries: u64, value: u64) -> Limits {
        Limits {
            max_entries: entries,
            max_value: value,
        }
    }

    #[test]
    fn small_hash_is_a_compact_listpack_in_insertion_order() {
        assert_eq!(std::mem::size_of::<Hash>(), 24);
        let mut rng = Rng::new(1);
        let mut h = Hash::new();
        let l = Limits::default();
        assert!(h.set(b"b", b"1", &l, &mut rng));
        assert!(h.set(b"a", b"2", &l, &mut rng));
        assert!(!h.set(b"b", b"33", &l, &mut rng));
        assert_eq!(h.encoding(), "listpack");
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, vec![(&b"b"[..], &b"33"[..]), (&b"a"[..], &b"2"[..])]);
        // 1+1 + 1+2 + 1+1 + 1+1 bytes: no per-entry overhead beyond the length byte.
        assert_eq!(h.heap_size(), 9);
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![(&b"a"[..], &b"2"[..])]);
    }

    #[test]
    fn converts_past_the_entry_limit_and_never_back() {
        let mut rng = Rng::new(2);
        let l = lim(4, 64);
        let mut h = Hash::new();
        for i in 0..4u8 {
            h.set(&[i], b"v", &l, &mut rng);
        }
        assert_eq!(h.encoding(), "listpack");
        // Overwriting does not add an entry.
        h.set(&[0], b"w", &l, &mut rng);
        assert_eq!(h.encoding(), "listpack");
        h.set(&[9], b"v", &l, &mut rng);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(&[0]), Some(&b"w"[..]));
        for i in 0..4u8 {
            h.remove(&[i]);
        }
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn converts_on_a_long_field_or_value() {
        let mut rng = Rng::new(3);
        let l = lim(128, 4);
        let mut h = Hash::new();
        h.set(b"f", b"1234", &l, &mut rng);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f", b"12345", &l, &mut rng);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.set(b"abcde", b"1", &l, &mut rng);
        assert_eq!(h.encoding(), "hashtable");
        // hashTypeTryConversion looks at every argument, existing field or not.
        let mut h = Hash::new();
        h.set(b"f", b"1", &l, &mut rng);
        h.prepare(&[b"f", b"1", b"g", b"long!"], &l, &mut rng);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.prepare(&[b"f", b"1234"], &l, &mut rng);
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn long_lengths_round_trip() {
        let mut rng = Rng::new(4);
        let l = lim(128, 1 << 20);
        let mut h = Hash::new();
        let big = vec![7u8; 300_000];
        h.set(&big[..200], &big, &l, &mut rng);
        h.set(b"x", b"", &l, &mut rng);
        h.set(b"", b"y", &l, &mut rng);
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(&big[..200]), Some(&big[..]));
        assert_eq!(h.get(b"x"), Some(&b""[..]));
        assert_eq!(h.get(b""), Some(&b"y"[..]));
        h.set(&big[..200], b"small", &l, &mut rng);
        assert_eq!(h.heap_size(), 2 + 200 + 1 + 5 + 2 + 1 + 1 + 1 + 1);
    }

    #[test]
    fn clone_and_eq_ignore_order_and_encoding() {
        let mut rng = Rng::new(5);
        let mut a = Hash::new();
        let mut b = Hash::new();
        for i in 0..10u8 {
            a.set(&[i], &[i, i], &Limits::default(), &mut rng);
            b.set(&[9 - i], &[9 - i, 9 - i], &lim(3, 64), &mut rng);
        }
        assert_eq!(a.encoding(), "listpack");
        assert_eq!(b.encoding(), "hashtable");
        assert_eq!(a, b);
        let c = b.clone();
        assert_eq!(c, a);
        assert_eq!(c.encoding(), "hashtable");
        b.set(&[0], b"x", &lim(3, 64), &mut rng);
        assert_ne!(a, b);
        assert!(format!("{a:?}").starts_with("Hash[listpack]{"));
    }

    #[test]
    fn random_choices_are_members_and_unique_when_asked() {
        let mut rng = Rng::new(6);
        for limits in [Limits::default(), lim(2, 64)] {
            let mut h = Hash::new();
            for i in 0..20u8 {
                h.set(&[i], &[i + 100], &limits, &mut rng);
            }
            let mut seen = HashSet::new();
            for _ in 0..2000 {
                let (k, v) = h.random_pair(&mut rng).unwrap();
                assert_eq!(v, &[k[0] + 100]);
                seen.insert(k.to_vec());
            }
            assert_eq!(seen.len(), 20, "every field comes up ({})", h.encoding());
            let mut n = 0;
            let mut repeats = HashSet::new();
            h.random_pairs(100, &mut rng, |k, v| {
                assert_eq!(v, &[k[0] + 100]);
                repeats.insert(k.to_vec());
                n += 1;
                true
            });
            assert_eq!(n, 100);
            assert!(repeats.len() < 100, "repeats allowed");
            for count in [0, 1, 5, 19] {
                let picks = h.random_unique_pairs(count, &mut rng);
                assert_eq!(picks.len(), count);
                let distinct: HashSet<_> = picks.iter().map(|p| p.0.to_vec()).collect();
                assert_eq!(distinct.len(), count);
                if h.encoding() == "listpack" {
                    let order: Vec<u8> = picks.iter().map(|p| p.0[0]).collect();
                    let mut sorted = order.clone();
                    sorted.sort_unstable();
                    assert_eq!(order, sorted, "listpack order");
                }
            }
        }
        let mut empty = Hash::new();
        assert!(empty.random_pair(&mut rng).is_none());
        empty.random_pairs(5, &mut rng, |_, _| panic!("nothing to pick"));
    }

    #[test]
    fn unique_sampling_is_roughly_uniform() {
        let mut rng = Rng::new(7);
        let mut h = Hash::new();
        for i in 0..10u8 {
            h.set(&[i], b"", &Limits::default(), &mut rng);
        }
        let mut hits = [0u32; 10];
        for _ in 0..10_000 {
            for (k, _) in h.random_unique_pairs(3, &mut rng) {
                hits[k[0] as usize] += 1;
            }
        }
        // Expected 3000 each.
        for h in hits {
            assert!((2700..3300).contains(&h), "{hits:?}");
        }
    }

    #[test]
    fn scan_of_a_table_visits_everything() {
        let mut rng = Rng::new(8);
        let mut h = Hash::new();
        for i in 0..1000u32 {
            h.set(&i.to_be_bytes(), b"v", &lim(128, 64), &mut rng);
        }
        assert!(!h.scans_whole());
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(u8, Vec<u8>),
        Remove(u8),
        Get(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..40, proptest::collection::vec(any::<u8>(), 0..12))
                .prop_map(|(f, v)| Op::Set(f, v)),
            (0u8..40).prop_map(Op::Remove),
            (0u8..40).prop_map(Op::Get),
        ]
    }

    fn field(f: u8) -> Vec<u8> {
        // Some fields are long enough to force a conversion under small limits.
        if f % 13 == 12 {
            vec![f; 20]
        } else {
            vec![f]
        }
    }

    proptest! {
        #[test]
        fn behaves_like_an_ordered_map(
            ops in proptest::collection::vec(op(), 0..300),
            max_entries in 0u64..50,
            max_value in 0u64..16,
        ) {
            let l = lim(max_entries, max_value);
            let mut rng = Rng::new(9);
            let mut h = Hash::new();
            // Insertion order, as a listpack keeps it.
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut was_table = false;
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        let f = field(f);
                        let pos = model.iter().position(|(k, _)| *k == f);
                        let new = h.set(&f, &v, &l, &mut rng);
                        prop_assert_eq!(new, pos.is_none());
                        match pos {
                            Some(i) => model[i].1 = v,
                            None => model.push((f, v)),
                        }
                    }
                    Op::Remove(f) => {
                        let f = field(f);
                        let pos = model.iter().position(|(k, _)| *k == f);
                        prop_assert_eq!(h.remove(&f), pos.is_some());
                        if let Some(i) = pos {
                            model.remove(i);
                        }
                    }
                    Op::Get(f) => {
                        let f = field(f);
                        let want = model.iter().find(|(k, _)| *k == f).map(|(_, v)| v.as_slice());
                        prop_assert_eq!(h.get(&f), want);
                        prop_assert_eq!(h.contains(&f), want.is_some());
                    }
                }
                prop_assert_eq!(h.len(), model.len());
                let too_big = model.len() as u64 > l.max_entries
                    || model.iter().any(|(k, v)| k.len() as u64 > l.max_value || v.len() as u64 > l.max_value);
                if too_big {
                    prop_assert_eq!(h.encoding(), "hashtable");
                }
                if was_table {
                    prop_assert_eq!(h.encoding(), "hashtable", "one-way conversion");
                }
                was_table = h.encoding() == "hashtable";
                if h.encoding() == "listpack" {
                    let got: Vec<(Vec<u8>, Vec<u8>)> = h.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
                    prop_assert_eq!(&got, &model);
                } else {
                    let got: BTreeMap<Vec<u8>, Vec<u8>> = h.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
                    let want: BTreeMap<Vec<u8>, Vec<u8>> = model.iter().cloned().collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
