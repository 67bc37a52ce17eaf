//! The set value, with Redis 7.0's two encodings (t_set.c):
//!
//! - "intset": while every member is a canonical integer (Redis's `string2ll`: no '+', no
//!   leading zeros, no "-0", within i64) and there are at most `set-max-intset-entries` of
//!   them, the members are kept as a sorted array of the narrowest integer width that holds
//!   them all (16, 32 or 64 bits), like Redis's intset. Iteration is ascending.
//! - "hashtable": the keyspace's incrementally rehashing [`Dict`] with `()` values, so SSCAN
//!   keeps Redis's guarantee across resizes. Iteration is hash order.
//!
//! The conversion is one-way, as in Redis: a set never goes back to an intset (only a new
//! set, such as the one SPOP's "keep the remainder" strategy builds, starts small again).
//!
//! Interface other code relies on: `len`, `is_empty`, `contains(member)`, `members()` (owned
//! bytes; intset members formatted as decimal), `encoding` ("intset" / "hashtable").

use super::dict::Dict;
use super::CompactBytes;
use crate::cnum::parse_i64;
use crate::rng::Rng;
use std::fmt;

/// Redis caps set-max-intset-entries at 2^30 because of intset internals.
const INTSET_HARD_MAX: u64 = 1 << 30;

/// One member as the set stores it: an intset holds integers, a hash table byte strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (integers as their decimal text).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Member::Bytes(b) => b.to_vec(),
        }
    }

    /// Runs `f` on the member's bytes without allocating.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }
}

/// A member taken out of a set (SPOP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedMember {
    Int(i64),
    Bytes(CompactBytes),
}

impl OwnedMember {
    pub fn as_member(&self) -> Member<'_> {
        match self {
            OwnedMember::Int(n) => Member::Int(*n),
            OwnedMember::Bytes(b) => Member::Bytes(b.as_bytes()),
        }
    }
}

/// Redis's intset: sorted, duplicate-free integers at the narrowest width holding them all.
/// The width only grows (as in Redis, removing the one wide value does not narrow it).
#[derive(Clone, Debug, PartialEq, Eq)]
enum IntSet {
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl IntSet {
    fn new() -> IntSet {
        IntSet::I16(Vec::new())
    }

    fn len(&self) -> usize {
        match self {
            IntSet::I16(v) => v.len(),
            IntSet::I32(v) => v.len(),
            IntSet::I64(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Option<i64> {
        match self {
            IntSet::I16(v) => v.get(i).map(|&x| i64::from(x)),
            IntSet::I32(v) => v.get(i).map(|&x| i64::from(x)),
            IntSet::I64(v) => v.get(i).copied(),
        }
    }

    fn find(&self, n: i64) -> bool {
        match self {
            IntSet::I16(v) => i16::try_from(n).is_ok_and(|x| v.binary_search(&x).is_ok()),
            IntSet::I32(v) => i32::try_from(n).is_ok_and(|x| v.binary_search(&x).is_ok()),
            IntSet::I64(v) => v.binary_search(&n).is_ok(),
        }
    }

    /// Widens the encoding so `n` fits (intsetUpgradeAndAdd).
    fn upgrade_for(&mut self, n: i64) {
        let fits16 = i16::try_from(n).is_ok();
        let fits32 = i32::try_from(n).is_ok();
        match self {
            IntSet::I16(v) if !fits16 => {
                *self = if fits32 {
                    IntSet::I32(v.iter().map(|&x| i32::from(x)).collect())
                } else {
                    IntSet::I64(v.iter().map(|&x| i64::from(x)).collect())
                };
            }
            IntSet::I32(v) if !fits32 => {
                *self = IntSet::I64(v.iter().map(|&x| i64::from(x)).collect());
            }
            _ => {}
        }
    }

    /// True if `n` was added.
    fn insert(&mut self, n: i64) -> bool {
        self.upgrade_for(n);
        fn ins<T: Ord + Copy>(v: &mut Vec<T>, x: T) -> bool {
            match v.binary_search(&x) {
                Ok(_) => false,
                Err(pos) => {
                    v.insert(pos, x);
                    true
                }
            }
        }
        match self {
            IntSet::I16(v) => i16::try_from(n).is_ok_and(|x| ins(v, x)),
            IntSet::I32(v) => i32::try_from(n).is_ok_and(|x| ins(v, x)),
            IntSet::I64(v) => ins(v, n),
        }
    }

    /// True if `n` was present.
    fn remove(&mut self, n: i64) -> bool {
        fn rem<T: Ord + Copy>(v: &mut Vec<T>, x: T) -> bool {
            match v.binary_search(&x) {
                Ok(pos) => {
                    v.remove(pos);
                    true
                }
                Err(_) => false,
            }
        }
        match self {
            IntSet::I16(v) => i16::try_from(n).is_ok_and(|x| rem(v, x)),
            IntSet::I32(v) => i32::try_from(n).is_ok_and(|x| rem(v, x)),
            IntSet::I64(v) => rem(v, n),
        }
    }

    fn remove_at(&mut self, i: usize) -> Option<i64> {
        let n = self.get(i)?;
        match self {
            IntSet::I16(v) => {
                v.remove(i);
            }
            IntSet::I32(v) => {
                v.remove(i);
            }
            IntSet::I64(v) => {
                v.remove(i);
            }
        }
        Some(n)
    }
}

/// The hash-table encoding; the seed is kept so a clone hashes like its original.
struct Table {
    dict: Dict<()>,
    seed: u64,
}

/// Rejection sampling for `Table::fair_random`: a random bucket (while rehashing, a bucket of
/// the smaller table with the buckets of the bigger one that map to it) is visited and its
/// entry `k < FAIR_SLOTS` taken if it has that many, else another bucket is tried. Every
/// entry has the same chance per try as long as no bucket holds more than FAIR_SLOTS
/// entries (about one on average: the load factor stays at most 1).
const FAIR_SLOTS: u64 = 8;
/// Below this size a uniform pick is simply the n-th entry of an iteration.
const FAIR_SMALL: usize = 64;
/// Tries before settling for the plain (slightly biased) random entry.
const FAIR_TRIES: usize = 10_000;

impl Table {
    fn fair_random(&mut self, rng: &mut Rng) -> Option<CompactBytes> {
        let len = self.dict.len();
        if len == 0 {
            return None;
        }
        if len <= FAIR_SMALL {
            let k = rng.below(len as u64) as usize;
            return self.dict.iter().nth(k).map(|(key, _)| key.clone());
        }
        // The smaller table's mask (slots() is one power of two, or two while rehashing):
        // a cursor below it makes `scan` visit one whole group of buckets, all alike.
        let slots = self.dict.slots() as u64;
        let mask = (slots & slots.wrapping_neg()).wrapping_sub(1);
        for _ in 0..FAIR_TRIES {
            let cursor = rng.next_u64() & mask;
            let k = rng.below(FAIR_SLOTS);
            let mut seen = 0;
            let mut picked = None;
            self.dict.scan(cursor, |key, _| {
                if seen == k {
                    picked = Some(key.clone());
                }
                seen += 1;
            });
            if picked.is_some() {
                return picked;
            }
        }
        self.dict.random_entry(rng).map(|(key, _)| key.clone())
    }
}

enum Repr {
    Ints(IntSet),
    Table(Table),
}

pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Set {
        Set::new_intset()
    }
}

impl Set {
    /// Heap bytes for MEMORY USAGE: the intset's array; for a table, buckets and nodes plus
    /// the members of the first `samples` entries, extrapolated (objectComputeSize).
    pub fn memory_usage(&self, samples: usize) -> usize {
        match &self.repr {
            Repr::Ints(i) => match i {
                IntSet::I16(v) => v.capacity() * 2,
                IntSet::I32(v) => v.capacity() * 4,
                IntSet::I64(v) => v.capacity() * 8,
            },
            Repr::Table(t) => {
                let node = std::mem::size_of::<CompactBytes>() + std::mem::size_of::<usize>();
                t.dict.slots() * std::mem::size_of::<usize>()
                    + t.dict.len() * node
                    + super::extrapolate(
                        t.dict.iter().map(|(k, _)| k.heap_size()),
                        samples,
                        t.dict.len(),
                    )
            }
        }
    }

    /// An empty intset-encoded set (Redis's createIntsetObject).
    pub fn new_intset() -> Set {
        Set {
            repr: Repr::Ints(IntSet::new()),
        }
    }

    /// An empty hashtable-encoded set (Redis's createSetObject).
    pub fn new_hashtable(seed: u64) -> Set {
        Set {
            repr: Repr::Table(Table {
                dict: Dict::new(seed),
                seed,
            }),
        }
    }

    /// Redis's setTypeCreate: an intset when the first member is an integer, else a table.
    pub fn for_first_member(member: &[u8], rng: &mut Rng) -> Set {
        if as_int(member).is_some() {
            Set::new_intset()
        } else {
            Set::new_hashtable(rng.next_u64())
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(i) => i.len(),
            Repr::Table(t) => t.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    /// The hash table's figures (DEBUG HTSTATS-KEY); None for the intset encoding.
    pub fn dict_stats(&self) -> Option<String> {
        match &self.repr {
            Repr::Table(t) => Some(t.dict.stats_text()),
            Repr::Ints(_) => None,
        }
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn is_intset(&self) -> bool {
        matches!(self.repr, Repr::Ints(_))
    }

    /// Redis's setTypeIsMember.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(i) => as_int(member).is_some_and(|n| i.find(n)),
            Repr::Table(t) => t.dict.contains_key(member),
        }
    }

    /// Membership of a member taken from another set (no formatting for intset-to-intset).
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (&self.repr, member) {
            (Repr::Ints(i), Member::Int(n)) => i.find(n),
            (_, Member::Bytes(b)) => self.contains(b),
            (Repr::Table(t), Member::Int(n)) => t
                .dict
                .contains_key(itoa::Buffer::new().format(n).as_bytes()),
        }
    }

    /// Every member as bytes, in iteration order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        self.iter().map(Member::to_vec).collect()
    }

    /// Iteration order: ascending for an intset, hash order for a table.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        let (ints, table) = match &self.repr {
            Repr::Ints(i) => (Some(i), None),
            Repr::Table(t) => (None, Some(t)),
        };
        let ints = ints
            .into_iter()
            .flat_map(|i| (0..i.len()).filter_map(move |k| i.get(k).map(Member::Int)));
        let table = table
            .into_iter()
            .flat_map(|t| t.dict.iter().map(|(k, _)| Member::Bytes(k.as_bytes())));
        ints.chain(table)
    }

    /// Redis's setTypeAdd: true if the member was new. Converts to a hash table when the
    /// member is not an integer or the intset outgrows `max_intset` entries.
    pub fn add(&mut self, member: &[u8], max_intset: u64, rng: &mut Rng) -> bool {
        match as_int(member) {
            Some(n) if self.is_intset() => self.add_int(n, max_intset, rng),
            _ => {
                self.ensure_table(rng);
                let Repr::Table(t) = &mut self.repr else {
                    return false;
                };
                if t.dict.contains_key(member) {
                    return false;
                }
                t.dict.insert_new(CompactBytes::new(member), ());
                true
            }
        }
    }

    /// `add` for a member taken from another set.
    pub fn add_member(&mut self, member: Member<'_>, max_intset: u64, rng: &mut Rng) -> bool {
        match member {
            Member::Int(n) if self.is_intset() => self.add_int(n, max_intset, rng),
            m => m.with_bytes(|b| self.add(b, max_intset, rng)),
        }
    }

    fn add_int(&mut self, n: i64, max_intset: u64, rng: &mut Rng) -> bool {
        let Repr::Ints(i) = &mut self.repr else {
            return false;
        };
        if !i.insert(n) {
            return false;
        }
        if i.len() as u64 > max_intset.min(INTSET_HARD_MAX) {
            self.ensure_table(rng);
        }
        true
    }

    /// Converts an intset to a hash table (setTypeConvert); a no-op for a table.
    fn ensure_table(&mut self, rng: &mut Rng) {
        if let Repr::Ints(ints) = &self.repr {
            let seed = rng.next_u64();
            let mut dict = Dict::new(seed);
            let mut buf = itoa::Buffer::new();
            for k in 0..ints.len() {
                if let Some(n) = ints.get(k) {
                    dict.insert_new(CompactBytes::new(buf.format(n).as_bytes()), ());
                }
            }
            self.repr = Repr::Table(Table { dict, seed });
        }
    }

    /// Redis's setTypeRemove: true if the member was there. A table shrinks after mass
    /// deletion like Redis's (htNeedsResize + dictResize).
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(i) => as_int(member).is_some_and(|n| i.remove(n)),
            Repr::Table(t) => {
                let removed = t.dict.remove(member).is_some();
                if removed {
                    t.dict.shrink_if_needed();
                }
                removed
            }
        }
    }

    /// `remove` for a member taken from another set.
    pub fn remove_member(&mut self, member: Member<'_>) -> bool {
        match (&mut self.repr, member) {
            (Repr::Ints(i), Member::Int(n)) => i.remove(n),
            (_, m) => m.with_bytes(|b| self.remove(b)),
        }
    }

    /// A uniformly random member (Redis's setTypeRandomElement, whose dictGetFairRandomKey
    /// this betters: a plain random bucket then random chain entry favours short chains).
    /// None when empty.
    pub fn random_member(&mut self, rng: &mut Rng) -> Option<OwnedMember> {
        match &mut self.repr {
            Repr::Ints(i) => {
                if i.len() == 0 {
                    return None;
                }
                i.get(rng.below(i.len() as u64) as usize)
                    .map(OwnedMember::Int)
            }
            Repr::Table(t) => t.fair_random(rng).map(OwnedMember::Bytes),
        }
    }

    /// Removes and returns a uniformly random member (SPOP).
    pub fn pop_random(&mut self, rng: &mut Rng) -> Option<OwnedMember> {
        match &mut self.repr {
            Repr::Ints(i) => {
                if i.len() == 0 {
                    return None;
                }
                let k = rng.below(i.len() as u64) as usize;
                i.remove_at(k).map(OwnedMember::Int)
            }
            Repr::Table(t) => {
                let key = t.fair_random(rng)?;
                t.dict.remove(key.as_bytes());
                t.dict.shrink_if_needed();
                Some(OwnedMember::Bytes(key))
            }
        }
    }

    /// One step of Redis's dictScan over a table-encoded set; None for an intset (SSCAN then
    /// returns the whole set at once).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8])) -> Option<u64> {
        match &self.repr {
            Repr::Ints(_) => None,
            Repr::Table(t) => Some(t.dict.scan(cursor, |k, _| f(k.as_bytes()))),
        }
    }

    /// Lets a table's pending incremental rehash advance by `n` buckets (for hosts' ticks).
    #[cfg(test)]
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        match &mut self.repr {
            Repr::Ints(_) => false,
            Repr::Table(t) => t.dict.rehash_steps(n),
        }
    }
}

/// Redis's isSdsRepresentableAsLongLong (string2ll).
fn as_int(b: &[u8]) -> Option<i64> {
    if b.len() > 20 {
        return None;
    }
    parse_i64(b)
}

impl Clone for Set {
    fn clone(&self) -> Set {
        match &self.repr {
            Repr::Ints(i) => Set {
                repr: Repr::Ints(i.clone()),
            },
            Repr::Table(t) => {
                let mut dict = Dict::new(t.seed);
                for (k, _) in t.dict.iter() {
                    dict.insert_new(k.clone(), ());
                }
                Set {
                    repr: Repr::Table(Table { dict, seed: t.seed }),
                }
            }
        }
    }
}

/// Equal when they hold the same members (whatever their encodings).
impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Set({}) ", self.encoding())?;
        f.debug_set()
            .entries(
                self.iter()
                    .map(|m| String::from_utf8_lossy(&m.to_vec()).into_owned()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn intset_widths_grow_and_stay_sorted() {
        let mut rng = Rng::new(1);
        let mut s = Set::new_intset();
        assert!(s.add(b"5", 512, &mut rng));
        assert!(matches!(&s.repr, Repr::Ints(IntSet::I16(_))));
        assert!(s.add(b"-70000", 512, &mut rng));
        assert!(matches!(&s.repr, Repr::Ints(IntSet::I32(_))));
        assert!(s.add(b"9223372036854775807", 512, &mut rng));
        assert!(s.add(b"-9223372036854775808", 512, &mut rng));
        assert!(matches!(&s.repr, Repr::Ints(IntSet::I64(_))));
        assert!(!s.add(b"5", 512, &mut rng));
        assert_eq!(
            s.members(),
            vec![
                b"-9223372036854775808".to_vec(),
                b"-70000".to_vec(),
                b"5".to_vec(),
                b"9223372036854775807".to_vec()
            ]
        );
        assert!(s.remove(b"-70000"));
        assert!(!s.remove(b"-70000"));
        assert!(s.contains(b"5") && !s.contains(b"05") && !s.contains(b"+5"));
        assert_eq!(s.encoding(), "intset");
    }

    #[test]
    fn non_canonical_integers_convert() {
        for m in [
            &b"a"[..],
            b"007",
            b"+1",
            b"-0",
            b" 1",
            b"1.0",
            b"9223372036854775808",
            b"",
        ] {
            let mut rng = Rng::new(1);
            let mut s = Set::new_intset();
            s.add(b"1", 512, &mut rng);
            assert!(s.add(m, 512, &mut rng), "{m:?}");
            assert_eq!(s.encoding(), "hashtable", "{m:?}");
            assert!(s.contains(m) && s.contains(b"1"));
            assert!(s.contains_member(Member::Int(1)));
            assert_eq!(s.len(), 2);
        }
    }

    #[test]
    fn size_limit_converts_one_way() {
        let mut rng = Rng::new(1);
        let mut s = Set::new_intset();
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4, &mut rng);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"4", 4, &mut rng);
        assert_eq!(s.encoding(), "hashtable");
        for i in 0..5 {
            assert!(s.remove(i.to_string().as_bytes()));
        }
        assert!(s.is_empty());
        s.add(b"1", 4, &mut rng);
        assert_eq!(s.encoding(), "hashtable");
        // Limit 0: even the first member converts (Redis checks after adding).
        let mut z = Set::new_intset();
        z.add(b"1", 0, &mut rng);
        assert_eq!(z.encoding(), "hashtable");
    }

    #[test]
    fn clone_and_eq() {
        let mut rng = Rng::new(3);
        let mut a = Set::new_hashtable(9);
        let mut b = Set::new_intset();
        for i in 0..100 {
            a.add(i.to_string().as_bytes(), 512, &mut rng);
            b.add(i.to_string().as_bytes(), 512, &mut rng);
        }
        assert_eq!(a, b);
        let c = a.clone();
        assert_eq!(c, a);
        b.remove(b"3");
        assert_ne!(a, b);
    }

    #[test]
    fn pop_and_random_cover_members() {
        for table in [false, true] {
            let mut rng = Rng::new(5);
            let mut s = if table {
                Set::new_hashtable(1)
            } else {
                Set::new_intset()
            };
            for i in 0..50 {
                s.add(i.to_string().as_bytes(), 512, &mut rng);
            }
            let mut seen = HashSet::new();
            for _ in 0..2000 {
                let m = s.random_member(&mut rng).unwrap().as_member().to_vec();
                assert!(s.contains(&m));
                seen.insert(m);
            }
            assert_eq!(seen.len(), 50);
            let mut popped = HashSet::new();
            while let Some(m) = s.pop_random(&mut rng) {
                assert!(popped.insert(m.as_member().to_vec()));
            }
            assert_eq!(popped, seen);
            assert!(s.random_member(&mut rng).is_none());
        }
    }

    fn rehashing(s: &Set) -> bool {
        matches!(&s.repr, Repr::Table(t) if t.dict.is_rehashing())
    }

    /// Every member of a big table is drawn about equally often, also in mid-rehash (a
    /// plain random bucket + random chain entry would favour members of short chains).
    #[test]
    fn random_member_is_uniform_on_tables() {
        let mut rng = Rng::new(21);
        let mut s = Set::new_hashtable(4);
        let mut n = 0;
        // Grow until a resize has just started, then stop writing so it stays under way.
        while n < 200 || !rehashing(&s) {
            s.add(format!("m{n}").as_bytes(), 512, &mut rng);
            n += 1;
        }
        for mid_rehash in [true, false] {
            if !mid_rehash {
                while s.rehash_steps(100) {}
            }
            assert_eq!(rehashing(&s), mid_rehash);
            let draws = 300 * n;
            let mut hist = std::collections::HashMap::new();
            for _ in 0..draws {
                let m = s.random_member(&mut rng).unwrap().as_member().to_vec();
                *hist.entry(m).or_insert(0usize) += 1;
            }
            assert_eq!(hist.len(), n);
            // 300 expected each, standard deviation about 17.
            let (lo, hi) = (*hist.values().min().unwrap(), *hist.values().max().unwrap());
            assert!(
                lo > 200 && hi < 400,
                "min {lo} max {hi} (mid-rehash {mid_rehash})"
            );
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Pop,
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-40i64..40).prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (-70_000i64..70_000).prop_map(|n| n.to_string().into_bytes()),
            "[a-c0-9+-]{0,3}".prop_map(String::into_bytes),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => member().prop_map(Op::Add),
            3 => member().prop_map(Op::Remove),
            1 => Just(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_hashset(ops in proptest::collection::vec(op(), 0..400), max in 0u64..40) {
            let mut rng = Rng::new(11);
            let mut s = Set::new_intset();
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Add(m) => prop_assert_eq!(s.add(&m, max, &mut rng), model.insert(m)),
                    Op::Remove(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Pop => match s.pop_random(&mut rng) {
                        Some(m) => prop_assert!(model.remove(&m.as_member().to_vec())),
                        None => prop_assert!(model.is_empty()),
                    },
                }
                prop_assert_eq!(s.len(), model.len());
                let all_ints = model.iter().all(|m| as_int(m).is_some());
                if s.is_intset() {
                    prop_assert!(!converted, "never converts back");
                    prop_assert!(all_ints && model.len() as u64 <= max);
                    let members: Vec<i64> = s.iter().map(|m| match m {
                        Member::Int(n) => n,
                        Member::Bytes(_) => i64::MIN,
                    }).collect();
                    prop_assert!(members.windows(2).all(|w| w[0] < w[1]), "sorted");
                } else {
                    converted = true;
                }
            }
            let got: HashSet<Vec<u8>> = s.members().into_iter().collect();
            prop_assert_eq!(&got, &model);
            for m in &model {
                prop_assert!(s.contains(m));
            }
            let c = s.clone();
            prop_assert_eq!(&c, &s);
        }
    }
}
