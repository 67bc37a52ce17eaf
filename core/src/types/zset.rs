//! The sorted set value, in Redis 7.0's two encodings:
//!
//! - "listpack": a `Vec` of (member, score) kept sorted by (score, member), while the set has
//!   at most `zset-max-listpack-entries` members of at most `zset-max-listpack-value` bytes.
//!   Lookups by member are linear, as in Redis's ziplist/listpack; small sets stay compact.
//! - "skiplist": a member -> score `Dict` (Redis's incrementally rehashing table, so ZSCAN
//!   keeps its guarantee) plus an order-statistic AVL tree (`OsTree`) keyed by (score,
//!   member) for O(log n) insert, delete, rank and select.
//!
//! Conversion is one-way (listpack -> skiplist), as in Redis. Interface other code relies
//! on: `len`, `score(member)`, `iter` (member, score) in rank order, `encoding`.

#[path = "ostree.rs"]
pub mod ostree;

use super::dict::Dict;
use super::CompactBytes;
use ostree::{cmp_entry, OsTree};
use std::cmp::Ordering;
use std::fmt;

/// The encoding thresholds (from the config) and a hash seed for a table if one is created.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
    pub seed: u64,
}

impl Limits {
    /// Whether a set of `len` members, the longest `max_len` bytes, fits a listpack (Redis's
    /// zsetConvertToListpackIfNeeded rule, which matches inserting one by one).
    pub fn fits_listpack(&self, len: usize, max_len: usize) -> bool {
        len <= self.max_entries && max_len <= self.max_value
    }
}

enum Repr {
    Listpack(Vec<(CompactBytes, f64)>),
    Skiplist {
        dict: Dict<f64>,
        tree: OsTree,
        seed: u64,
    },
}

pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        match &self.repr {
            Repr::Listpack(v) => ZSet {
                repr: Repr::Listpack(v.clone()),
            },
            Repr::Skiplist { tree, seed, .. } => {
                let mut dict = Dict::new(*seed);
                for (m, s) in tree.iter() {
                    dict.insert_new(CompactBytes::new(m), s);
                }
                ZSet {
                    repr: Repr::Skiplist {
                        dict,
                        tree: tree.clone(),
                        seed: *seed,
                    },
                }
            }
        }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for ZSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s)),
            )
            .finish()
    }
}

/// Rank-order iterator over either encoding.
pub enum Iter<'a> {
    Listpack(std::slice::Iter<'a, (CompactBytes, f64)>),
    ListpackRev(std::iter::Rev<std::slice::Iter<'a, (CompactBytes, f64)>>),
    Tree(ostree::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack(it) => it.next().map(|(m, s)| (m.as_bytes(), *s)),
            Iter::ListpackRev(it) => it.next().map(|(m, s)| (m.as_bytes(), *s)),
            Iter::Tree(it) => it.next(),
        }
    }
}

impl ZSet {
    /// Heap bytes for MEMORY USAGE: the small encoding's array and members; for the skiplist
    /// encoding, the dict's buckets and nodes, the tree's nodes and the members of the first
    /// `samples` entries, extrapolated (objectComputeSize).
    pub fn memory_usage(&self, samples: usize) -> usize {
        match &self.repr {
            Repr::Listpack(v) => {
                v.capacity() * std::mem::size_of::<(CompactBytes, f64)>()
                    + v.iter().map(|(m, _)| m.heap_size()).sum::<usize>()
            }
            Repr::Skiplist { dict, tree, .. } => {
                let node = std::mem::size_of::<CompactBytes>() + 8 + std::mem::size_of::<usize>();
                dict.slots() * std::mem::size_of::<usize>()
                    + dict.len() * node
                    + tree.memory_usage()
                    // A member is held twice (dict and tree).
                    + 2 * super::extrapolate(
                        dict.iter().map(|(k, _)| k.heap_size()),
                        samples,
                        dict.len(),
                    )
            }
        }
    }

    /// An empty listpack-encoded set.
    pub fn new() -> ZSet {
        ZSet {
            repr: Repr::Listpack(Vec::new()),
        }
    }

    /// An empty set encoded as Redis's ZADD creates one: a skiplist when listpacks are
    /// disabled or the first member is already too long for one.
    pub fn for_first_member(first_len: usize, lim: &Limits) -> ZSet {
        if lim.max_entries == 0 || first_len > lim.max_value {
            ZSet::new_skiplist(lim.seed)
        } else {
            ZSet::new()
        }
    }

    pub fn new_skiplist(seed: u64) -> ZSet {
        ZSet {
            repr: Repr::Skiplist {
                dict: Dict::new(seed),
                tree: OsTree::new(),
                seed,
            },
        }
    }

    /// A set from pairs sorted by (score, member) with distinct members, encoded by the
    /// listpack rule (the result of ZRANGESTORE, ZUNIONSTORE ...).
    pub fn from_sorted(pairs: Vec<(CompactBytes, f64)>, lim: &Limits) -> ZSet {
        let max_len = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if lim.fits_listpack(pairs.len(), max_len) {
            let pairs = pairs
                .into_iter()
                .map(|(m, s)| (m, listpack_score(s)))
                .collect();
            return ZSet {
                repr: Repr::Listpack(pairs),
            };
        }
        let mut z = ZSet::new_skiplist(lim.seed);
        if let Repr::Skiplist { dict, tree, .. } = &mut z.repr {
            for (m, s) in pairs {
                dict.insert_new(m.clone(), s);
                tree.insert(m, s);
            }
        }
        z
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(v) => v.len(),
            Repr::Skiplist { tree, .. } => tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The skiplist encoding's hash table figures (DEBUG HTSTATS-KEY); None for listpack.
    pub fn dict_stats(&self) -> Option<String> {
        match &self.repr {
            Repr::Skiplist { dict, .. } => Some(dict.stats_text()),
            Repr::Listpack(_) => None,
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Skiplist { .. } => "skiplist",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Listpack(_))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Listpack(v) => v
                .iter()
                .find(|(m, _)| m.as_bytes() == member)
                .map(|(_, s)| *s),
            Repr::Skiplist { dict, .. } => dict.get(member).copied(),
        }
    }

    /// (member, score) in rank order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// From rank `start` onwards; with `rev`, from reverse rank `start` downwards.
    pub fn iter_from(&self, start: usize, rev: bool) -> Iter<'_> {
        match &self.repr {
            Repr::Listpack(v) => {
                let n = v.len();
                if rev {
                    let end = n.saturating_sub(start);
                    Iter::ListpackRev(v[..end].iter().rev())
                } else {
                    Iter::Listpack(v[start.min(n)..].iter())
                }
            }
            Repr::Skiplist { tree, .. } => Iter::Tree(tree.iter_from(start, rev)),
        }
    }

    /// The pair at 0-based rank `r`.
    pub fn get_by_rank(&self, r: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Listpack(v) => v.get(r).map(|(m, s)| (m.as_bytes(), *s)),
            Repr::Skiplist { tree, .. } => tree.select(r),
        }
    }

    /// The member's 0-based rank (ascending).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Listpack(v) => v.iter().position(|(m, _)| m.as_bytes() == member),
            Repr::Skiplist { dict, tree, .. } => {
                let s = *dict.get(member)?;
                tree.rank(s, member)
            }
        }
    }

    /// How many pairs satisfy `pred`, which holds for a prefix of the rank order.
    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Listpack(v) => v.partition_point(|(m, s)| pred(*s, m.as_bytes())),
            Repr::Skiplist { tree, .. } => tree.partition_point(pred),
        }
    }

    /// Converts a listpack to the skiplist encoding (one-way), as Redis's zsetConvert does.
    pub fn convert_to_skiplist(&mut self, seed: u64) {
        if let Repr::Listpack(v) = &mut self.repr {
            let v = std::mem::take(v);
            let mut dict = Dict::new(seed);
            let mut tree = OsTree::new();
            for (m, s) in v {
                dict.insert_new(m.clone(), s);
                tree.insert(m, s);
            }
            self.repr = Repr::Skiplist { dict, tree, seed };
        }
    }

    /// Adds `member` with `score` or moves it to `score`; true if it was added. A new member
    /// converts a listpack that would outgrow the limits first (Redis's zsetAdd). `score`
    /// must not be NaN.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: &Limits) -> bool {
        debug_assert!(!score.is_nan());
        if let Repr::Listpack(v) = &mut self.repr {
            let score = listpack_score(score);
            if let Some(i) = v.iter().position(|(m, _)| m.as_bytes() == member) {
                if v[i].1 != score {
                    let (m, _) = v.remove(i);
                    let at = listpack_pos(v, score, member);
                    v.insert(at, (m, score));
                }
                return false;
            }
            if v.len() < lim.max_entries && member.len() <= lim.max_value {
                let at = listpack_pos(v, score, member);
                v.insert(at, (CompactBytes::new(member), score));
                return true;
            }
            self.convert_to_skiplist(lim.seed);
        }
        let Repr::Skiplist { dict, tree, .. } = &mut self.repr else {
            unreachable!("converted above");
        };
        match dict.get_mut(member) {
            Some(cur) => {
                if *cur != score {
                    let old = *cur;
                    *cur = score;
                    let m = tree
                        .remove(old, member)
                        .unwrap_or_else(|| CompactBytes::new(member));
                    tree.insert(m, score);
                }
                false
            }
            None => {
                let m = CompactBytes::new(member);
                dict.insert_new(m.clone(), score);
                tree.insert(m, score);
                true
            }
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Listpack(v) => {
                let i = v.iter().position(|(m, _)| m.as_bytes() == member)?;
                Some(v.remove(i).1)
            }
            Repr::Skiplist { dict, tree, .. } => {
                let (_, s) = dict.remove(member)?;
                tree.remove(s, member);
                // Redis's zsetDel shrinks the table as soon as it is mostly empty.
                dict.shrink_if_needed();
                Some(s)
            }
        }
    }

    /// Removes and returns the lowest (or with `max`, the highest) pair.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let r = if max { self.len().checked_sub(1)? } else { 0 };
        let (m, s) = self.get_by_rank(r).map(|(m, s)| (m.to_vec(), s))?;
        self.remove(&m);
        Some((m, s))
    }

    /// Removes the pairs of ranks `start..end` (0-based, end exclusive); returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Listpack(v) => {
                v.drain(start..end);
            }
            Repr::Skiplist { dict, tree, .. } => {
                let doomed: Vec<(Vec<u8>, f64)> = tree
                    .iter_from(start, false)
                    .take(end - start)
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                for (m, s) in doomed {
                    tree.remove(s, &m);
                    dict.remove(&m);
                }
                dict.shrink_if_needed();
            }
        }
        end - start
    }

    /// Redis's dictScan over the member table (skiplist encoding); a listpack is returned
    /// whole with cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Listpack(v) => {
                v.iter().for_each(|(m, s)| f(m.as_bytes(), *s));
                0
            }
            Repr::Skiplist { dict, .. } => dict.scan(cursor, |m, s| f(m.as_bytes(), *s)),
        }
    }

    /// Checks that both halves of a skiplist agree and the tree is balanced (for tests).
    #[cfg(test)]
    pub fn check(&self) -> Result<(), String> {
        match &self.repr {
            Repr::Listpack(v) => {
                for w in v.windows(2) {
                    if cmp_entry(w[0].1, w[0].0.as_bytes(), w[1].1, w[1].0.as_bytes())
                        != Ordering::Less
                    {
                        return Err("listpack order".into());
                    }
                }
                Ok(())
            }
            Repr::Skiplist { dict, tree, .. } => {
                tree.check()?;
                if dict.len() != tree.len() {
                    return Err("dict and tree sizes differ".into());
                }
                for (m, s) in tree.iter() {
                    if dict.get(m) != Some(&s) {
                        return Err("dict and tree disagree".into());
                    }
                }
                Ok(())
            }
        }
    }
}

/// The score a listpack keeps: Redis stores it as text (d2string), which prints -0 as "0".
fn listpack_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

/// Where (score, member) goes in a sorted listpack.
fn listpack_pos(v: &[(CompactBytes, f64)], score: f64, member: &[u8]) -> usize {
    v.partition_point(|(m, s)| cmp_entry(*s, m.as_bytes(), score, member) == Ordering::Less)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn lim(entries: usize) -> Limits {
        Limits {
            max_entries: entries,
            max_value: 4,
            seed: 7,
        }
    }

    /// The model: member -> score, ordered afterwards.
    fn sorted(model: &BTreeMap<Vec<u8>, i64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<_> = model.iter().map(|(m, s)| (m.clone(), *s as f64)).collect();
        v.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
        v
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>, i8),
        Remove(Vec<u8>),
        Pop(bool),
        RemoveRange(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let member = proptest::collection::vec(0u8..4, 0..6);
        prop_oneof![
            5 => (member.clone(), -5i8..5).prop_map(|(m, s)| Op::Insert(m, s)),
            2 => member.prop_map(Op::Remove),
            1 => any::<bool>().prop_map(Op::Pop),
            1 => (0u8..20, 0u8..20).prop_map(|(a, b)| Op::RemoveRange(a, b)),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_model(ops in proptest::collection::vec(op(), 0..200), entries in 0usize..20) {
            let l = lim(entries);
            let mut z = ZSet::new();
            let mut model: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
            let mut converted = false;
            for o in ops {
                match o {
                    Op::Insert(m, s) => {
                        let added = z.insert(&m, f64::from(s), &l);
                        prop_assert_eq!(added, model.insert(m, i64::from(s)).is_none());
                    }
                    Op::Remove(m) => {
                        prop_assert_eq!(z.remove(&m), model.remove(&m).map(|s| s as f64));
                    }
                    Op::Pop(max) => {
                        let v = sorted(&model);
                        let want = if max { v.last().cloned() } else { v.first().cloned() };
                        if let Some((m, _)) = &want {
                            model.remove(m);
                        }
                        prop_assert_eq!(z.pop(max), want);
                    }
                    Op::RemoveRange(a, b) => {
                        let v = sorted(&model);
                        let (a, b) = (a as usize, b as usize);
                        let n = z.remove_rank_range(a, b);
                        let gone: Vec<_> = v.iter().skip(a).take(b.saturating_sub(a)).collect();
                        prop_assert_eq!(n, gone.len());
                        for (m, _) in gone {
                            model.remove(m);
                        }
                    }
                }
                z.check().map_err(TestCaseError::fail)?;
                // One-way conversion, only when a limit was crossed.
                if !z.is_listpack() {
                    converted = true;
                }
                prop_assert_eq!(z.is_listpack(), !converted);
                if z.is_listpack() {
                    prop_assert!(z.len() <= entries);
                }
            }
            let v = sorted(&model);
            prop_assert_eq!(z.len(), v.len());
            let got: Vec<_> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
            prop_assert_eq!(&got, &v);
            for (i, (m, s)) in v.iter().enumerate() {
                prop_assert_eq!(z.rank(m), Some(i));
                prop_assert_eq!(z.score(m), Some(*s));
                prop_assert_eq!(z.get_by_rank(i).map(|(m, s)| (m.to_vec(), s)), Some((m.clone(), *s)));
                let rev: Vec<_> = z.iter_from(i, true).map(|(m, s)| (m.to_vec(), s)).collect();
                let want: Vec<_> = v[..v.len() - i].iter().rev().cloned().collect();
                prop_assert_eq!(rev, want);
            }
            for t in -6..6 {
                let pp = z.partition_point(|s, _| s < f64::from(t));
                prop_assert_eq!(pp, v.iter().filter(|(_, s)| *s < f64::from(t)).count());
            }
            prop_assert_eq!(z.clone(), z);
        }
    }

    #[test]
    fn converts_at_the_limits() {
        let l = Limits {
            max_entries: 3,
            max_value: 5,
            seed: 1,
        };
        let mut z = ZSet::new();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64, &l);
        }
        assert_eq!(z.encoding(), "listpack");
        // Updating an existing member never converts.
        z.insert(b"a", 10.0, &l);
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"d", 0.0, &l);
        assert_eq!(z.encoding(), "skiplist");
        z.remove(b"d");
        z.remove(b"a");
        assert_eq!(z.encoding(), "skiplist");

        let mut z = ZSet::new();
        z.insert(b"12345", 1.0, &l);
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"123456", 1.0, &l);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(ZSet::for_first_member(6, &l).encoding(), "skiplist");
        let off = Limits {
            max_entries: 0,
            ..l
        };
        assert_eq!(ZSet::for_first_member(1, &off).encoding(), "skiplist");

        let pairs = |n: usize| -> Vec<(CompactBytes, f64)> {
            (0..n)
                .map(|i| (CompactBytes::new(&[b'a' + i as u8]), 0.0))
                .collect()
        };
        assert_eq!(ZSet::from_sorted(pairs(3), &l).encoding(), "listpack");
        assert_eq!(ZSet::from_sorted(pairs(4), &l).encoding(), "skiplist");
        assert_eq!(ZSet::from_sorted(pairs(4), &l).len(), 4);
    }

    #[test]
    fn scan_returns_every_member_of_a_big_set() {
        let l = lim(2);
        let mut z = ZSet::new();
        for i in 0..1000u32 {
            z.insert(&i.to_be_bytes(), f64::from(i), &l);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, |m, s| {
                assert_eq!(z.score(m), Some(s));
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
