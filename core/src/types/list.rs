//! The list value: Redis's quicklist idea (a linked sequence of listpacks) in Rust form.
//!
//! Interface other code relies on: `len`, `is_empty`, `iter` (front to back), `encoding`
//! ("quicklist", the only list encoding Redis 7.0 reports), `from_items`.
//!
//! Layout: a `VecDeque` of chunks; each chunk packs its elements into one byte buffer as
//! `[varint len][bytes][reverse varint len]` (like a listpack entry: the trailing length lets
//! the tail be read backwards, so RPOP and reverse iteration never rescan a chunk). A chunk
//! holds at most `CHUNK_BYTES` of entries unless it holds a single large element. The live
//! bytes of a chunk sit in `buf[start..end]`: a front gap makes LPUSH into a chunk O(1)
//! amortized, as the back gap does for RPUSH, and LPOP/RPOP just move `start`/`end`. A chunk
//! the list grows past is shrunk to its exact size, so a long list costs its entry bytes
//! (2 bytes of framing per element under 128 bytes) plus ~40 bytes per chunk.
//!
//! Index lookups walk chunk counts from the nearer end (O(n / chunk) like quicklist), then
//! entries inside one chunk from its nearer end.

use std::collections::VecDeque;
use std::fmt;

/// Entry bytes a chunk may hold (Redis's default list-max-listpack-size -2 is 8 KB per node;
/// 4 KB keeps in-chunk scans and splices short at the same memory cost per element).
const CHUNK_BYTES: usize = 4096;

/// Bytes of a LEB128 varint of `n`.
fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

/// Encoded size of an element of `n` bytes.
fn entry_size(n: usize) -> usize {
    n + 2 * varint_len(n)
}

/// Writes one entry into `dst` (exactly `entry_size(data.len())` bytes).
fn write_entry(dst: &mut [u8], data: &[u8]) {
    let n = data.len();
    let k = varint_len(n);
    // Forward length: LEB128, low bits first.
    let mut v = n;
    for (i, b) in dst[..k].iter_mut().enumerate() {
        *b = (v & 0x7f) as u8 | if i + 1 < k { 0x80 } else { 0 };
        v >>= 7;
    }
    dst[k..k + n].copy_from_slice(data);
    // Backward length: the same groups, mirrored, so the last byte holds the low bits and
    // 0x80 means "more to the left".
    let back = &mut dst[k + n..];
    let mut v = n;
    for i in 0..k {
        back[k - 1 - i] = (v & 0x7f) as u8 | if i + 1 < k { 0x80 } else { 0 };
        v >>= 7;
    }
}

/// Decodes the entry starting at `pos`: (data start, data len, next entry start).
fn read_fwd(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = pos;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let k = p - pos;
    (p, n, p + n + k)
}

/// Decodes the entry ending at `end`: (entry start, data start, data len).
fn read_back(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p -= 1;
        let b = buf[p];
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let k = end - p;
    let data = p - n;
    (data - k, data, n)
}

#[derive(Clone)]
struct Chunk {
    /// Live entries are `buf[start..end]`; the rest is room to grow at either end.
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    count: usize,
}

impl Chunk {
    fn with_entry(data: &[u8]) -> Chunk {
        let need = entry_size(data.len());
        let mut buf = vec![0u8; need].into_boxed_slice();
        write_entry(&mut buf, data);
        Chunk {
            buf,
            start: 0,
            end: need,
            count: 1,
        }
    }

    /// A chunk holding exactly these entry bytes.
    fn from_bytes(bytes: &[u8], count: usize) -> Chunk {
        Chunk {
            buf: bytes.into(),
            start: 0,
            end: bytes.len(),
            count,
        }
    }

    fn bytes(&self) -> usize {
        self.end - self.start
    }

    fn live(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Moves the live bytes into a new buffer of `cap` bytes, at offset `at`.
    fn realloc(&mut self, cap: usize, at: usize) {
        let live = self.bytes();
        let mut buf = vec![0u8; cap].into_boxed_slice();
        buf[at..at + live].copy_from_slice(self.live());
        self.buf = buf;
        self.start = at;
        self.end = at + live;
    }

    /// Drops the gaps (for a chunk the list has grown past).
    fn shrink(&mut self) {
        if self.buf.len() != self.bytes() {
            self.realloc(self.bytes(), 0);
        }
    }

    /// Capacity for `live + need` bytes, doubling up to the chunk limit.
    fn grown_cap(&self, need: usize) -> usize {
        let want = self.bytes() + need;
        want.max((self.bytes() * 2).min(CHUNK_BYTES))
    }

    fn push_back(&mut self, data: &[u8]) {
        let need = entry_size(data.len());
        if self.buf.len() - self.end < need {
            if self.buf.len() - self.bytes() >= need && self.start > 0 {
                let live = self.bytes();
                self.buf.copy_within(self.start..self.end, 0);
                self.start = 0;
                self.end = live;
            } else {
                self.realloc(self.grown_cap(need), 0);
            }
        }
        write_entry(&mut self.buf[self.end..self.end + need], data);
        self.end += need;
        self.count += 1;
    }

    fn push_front(&mut self, data: &[u8]) {
        let need = entry_size(data.len());
        if self.start < need {
            let cap = self.grown_cap(need);
            let at = cap - self.bytes();
            self.realloc(cap, at);
        }
        self.start -= need;
        write_entry(&mut self.buf[self.start..self.start + need], data);
        self.count += 1;
    }

    fn pop_front(&mut self) -> Vec<u8> {
        let (d, n, next) = read_fwd(&self.buf, self.start);
        let v = self.buf[d..d + n].to_vec();
        self.start = next;
        self.count -= 1;
        v
    }

    fn pop_back(&mut self) -> Vec<u8> {
        let (s, d, n) = read_back(&self.buf, self.end);
        let v = self.buf[d..d + n].to_vec();
        self.end = s;
        self.count -= 1;
        v
    }

    /// Byte offset (in `buf`) where entry `i` starts; `i == count` gives `end`.
    fn offset_of(&self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut p = self.start;
            for _ in 0..i {
                p = read_fwd(&self.buf, p).2;
            }
            p
        } else {
            let mut p = self.end;
            for _ in i..self.count {
                p = read_back(&self.buf, p).0;
            }
            p
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        let (d, n, _) = read_fwd(&self.buf, self.offset_of(i));
        &self.buf[d..d + n]
    }

    /// Replaces bytes `buf[from..to]` with `with` (whole entries), rebuilding the buffer
    /// exactly sized.
    fn splice(&mut self, from: usize, to: usize, with: &[u8]) {
        let mut v = Vec::with_capacity(self.bytes() - (to - from) + with.len());
        v.extend_from_slice(&self.buf[self.start..from]);
        v.extend_from_slice(with);
        v.extend_from_slice(&self.buf[to..self.end]);
        self.end = v.len();
        self.start = 0;
        self.buf = v.into_boxed_slice();
    }

    fn insert(&mut self, i: usize, data: &[u8]) {
        let at = self.offset_of(i);
        let mut e = vec![0u8; entry_size(data.len())];
        write_entry(&mut e, data);
        self.splice(at, at, &e);
        self.count += 1;
    }

    fn replace(&mut self, i: usize, data: &[u8]) {
        let at = self.offset_of(i);
        let next = read_fwd(&self.buf, at).2;
        let mut e = vec![0u8; entry_size(data.len())];
        write_entry(&mut e, data);
        self.splice(at, next, &e);
    }

    /// Splits off the second half (by bytes) into a new chunk; needs `count >= 2`.
    fn split(&mut self) -> Chunk {
        let half = self.start + self.bytes() / 2;
        let mut p = self.start;
        let mut k = 0;
        // At least one entry stays, at least one moves.
        while k < self.count - 1 {
            let next = read_fwd(&self.buf, p).2;
            p = next;
            k += 1;
            if p >= half {
                break;
            }
        }
        let tail = Chunk::from_bytes(&self.buf[p..self.end], self.count - k);
        let head = Chunk::from_bytes(&self.buf[self.start..p], k);
        *self = head;
        tail
    }

    fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            buf: &self.buf,
            pos: self.start,
            end: self.end,
        }
    }
}

struct ChunkIter<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.end {
            return None;
        }
        let (d, n, next) = read_fwd(self.buf, self.pos);
        self.pos = next;
        Some(&self.buf[d..d + n])
    }
}

impl<'a> DoubleEndedIterator for ChunkIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.end {
            return None;
        }
        let (s, d, n) = read_back(self.buf, self.end);
        self.end = s;
        Some(&self.buf[d..d + n])
    }
}

/// A Redis list.
#[derive(Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn from_items<I: IntoIterator<Item = Vec<u8>>>(items: I) -> List {
        let mut l = List::new();
        for it in items {
            l.push_back(&it);
        }
        l
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nodes and their bytes, for DEBUG OBJECT's ql_nodes and ql_uncompressed_size.
    pub fn node_figures(&self) -> (usize, usize) {
        (
            self.chunks.len(),
            self.chunks.iter().map(|c| c.buf.len()).sum(),
        )
    }

    /// The name OBJECT ENCODING reports (Redis 7.0 has no other list encoding).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned (chunk buffers and the chunk table), for memory accounting.
    pub fn heap_size(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(|c| c.buf.len()).sum::<usize>()
    }

    pub fn push_back(&mut self, data: &[u8]) {
        let need = entry_size(data.len());
        match self.chunks.back_mut() {
            Some(c) if c.bytes() + need <= CHUNK_BYTES => c.push_back(data),
            last => {
                if let Some(c) = last {
                    c.shrink();
                }
                self.chunks.push_back(Chunk::with_entry(data));
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, data: &[u8]) {
        let need = entry_size(data.len());
        match self.chunks.front_mut() {
            Some(c) if c.bytes() + need <= CHUNK_BYTES => c.push_front(data),
            first => {
                if let Some(c) = first {
                    c.shrink();
                }
                self.chunks.push_front(Chunk::with_entry(data));
            }
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.front_mut()?;
        let v = c.pop_front();
        if c.count == 0 {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.back_mut()?;
        let v = c.pop_back();
        if c.count == 0 {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(v)
    }

    /// (chunk index, index inside it) of element `i < len`, walking from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut rest = i;
            for (ci, c) in self.chunks.iter().enumerate() {
                if rest < c.count {
                    return (ci, rest);
                }
                rest -= c.count;
            }
        } else {
            let mut from_end = self.len - i; // >= 1
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if from_end <= c.count {
                    return (ci, c.count - from_end);
                }
                from_end -= c.count;
            }
        }
        unreachable!("index checked against len")
    }

    /// Redis's index convention: negative counts from the tail (-1 is the last element).
    /// None when out of range.
    pub fn resolve_index(&self, index: i64) -> Option<usize> {
        let i = if index < 0 {
            // -(index + 1) cannot overflow, unlike -index for i64::MIN.
            let back = (-(index + 1)) as u64;
            (self.len as u64).checked_sub(back + 1)?
        } else {
            index as u64
        };
        (i < self.len as u64).then_some(i as usize)
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (ci, k) = self.locate(i);
        Some(self.chunks[ci].get(k))
    }

    /// Replaces element `i`; false when out of range.
    pub fn set(&mut self, i: usize, data: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        let (ci, k) = self.locate(i);
        self.chunks[ci].replace(k, data);
        self.rebalance(ci);
        true
    }

    /// Inserts so the new element ends up at position `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, data: &[u8]) {
        if i == 0 {
            return self.push_front(data);
        }
        if i >= self.len {
            return self.push_back(data);
        }
        let (ci, k) = self.locate(i);
        self.chunks[ci].insert(k, data);
        self.len += 1;
        self.rebalance(ci);
    }

    /// After chunk `ci` changed in place: split it if it grew past the limit, merge it with a
    /// neighbour if both fit in one, drop it if empty.
    fn rebalance(&mut self, ci: usize) {
        let c = &mut self.chunks[ci];
        if c.count == 0 {
            self.chunks.remove(ci);
            return;
        }
        if c.bytes() > CHUNK_BYTES && c.count >= 2 {
            let tail = c.split();
            self.chunks.insert(ci + 1, tail);
            self.rebalance(ci + 1);
            self.rebalance(ci);
            return;
        }
        if ci + 1 < self.chunks.len() && self.try_merge(ci) {
            return;
        }
        if ci > 0 {
            self.try_merge(ci - 1);
        }
    }

    /// Merges chunk `ci + 1` into chunk `ci` if the two fit in one chunk.
    fn try_merge(&mut self, ci: usize) -> bool {
        let total = self.chunks[ci].bytes() + self.chunks[ci + 1].bytes();
        if total > CHUNK_BYTES {
            return false;
        }
        let Some(next) = self.chunks.remove(ci + 1) else {
            return false;
        };
        let c = &mut self.chunks[ci];
        let mut v = Vec::with_capacity(total);
        v.extend_from_slice(c.live());
        v.extend_from_slice(next.live());
        *c = Chunk::from_bytes(&v, c.count + next.count);
        true
    }

    /// Removes the first `n` elements (all if `n >= len`).
    pub fn drop_front(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(c) = self.chunks.front_mut() else {
                break;
            };
            if n >= c.count {
                n -= c.count;
                self.chunks.pop_front();
            } else {
                c.start = c.offset_of(n);
                c.count -= n;
                n = 0;
            }
        }
    }

    /// Removes the last `n` elements (all if `n >= len`).
    pub fn drop_back(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(c) = self.chunks.back_mut() else {
                break;
            };
            if n >= c.count {
                n -= c.count;
                self.chunks.pop_back();
            } else {
                c.end = c.offset_of(c.count - n);
                c.count -= n;
                n = 0;
            }
        }
    }

    /// Removes elements equal to `value`, at most `limit` of them (None: all), scanning from
    /// the tail when `from_back`. Returns how many were removed.
    pub fn remove_matching(
        &mut self,
        value: &[u8],
        limit: Option<usize>,
        from_back: bool,
    ) -> usize {
        let mut removed = 0usize;
        let n = self.chunks.len();
        let mut touched = Vec::new();
        for step in 0..n {
            if limit.is_some_and(|l| removed >= l) {
                break;
            }
            let ci = if from_back { n - 1 - step } else { step };
            let c = &self.chunks[ci];
            // Which entries (by position in the chunk) go.
            let mut hits: Vec<usize> = Vec::new();
            let positions: Box<dyn Iterator<Item = (usize, &[u8])>> = if from_back {
                Box::new(
                    c.iter()
                        .rev()
                        .enumerate()
                        .map(|(j, e)| (c.count - 1 - j, e)),
                )
            } else {
                Box::new(c.iter().enumerate())
            };
            for (j, e) in positions {
                if limit.is_some_and(|l| removed >= l) {
                    break;
                }
                if e == value {
                    hits.push(j);
                    removed += 1;
                }
            }
            if hits.is_empty() {
                continue;
            }
            hits.sort_unstable();
            let mut v = Vec::with_capacity(c.bytes());
            let mut p = c.start;
            let mut hi = 0;
            for j in 0..c.count {
                let next = read_fwd(&c.buf, p).2;
                if hi < hits.len() && hits[hi] == j {
                    hi += 1;
                } else {
                    v.extend_from_slice(&c.buf[p..next]);
                }
                p = next;
            }
            let count = c.count - hits.len();
            self.chunks[ci] = Chunk::from_bytes(&v, count);
            touched.push(ci);
        }
        self.len -= removed;
        if !touched.is_empty() {
            // Drop emptied chunks and merge neighbours that fit together.
            self.chunks.retain(|c| c.count > 0);
            let mut i = 0;
            while i + 1 < self.chunks.len() {
                if !self.try_merge(i) {
                    i += 1;
                }
            }
        }
        removed
    }

    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len)
    }

    /// Elements `start .. start + count` (clamped to the list), front to back; the iterator is
    /// double-ended, so `.rev()` walks the same range from its end.
    pub fn range(&self, start: usize, count: usize) -> Iter<'_> {
        let start = start.min(self.len);
        let count = count.min(self.len - start);
        if count == 0 {
            return Iter {
                list: self,
                front: (0, 0),
                back: (0, 0),
                remaining: 0,
            };
        }
        let (fc, fk) = self.locate(start);
        let (bc, bk) = self.locate(start + count - 1);
        let front = (fc, self.chunks[fc].offset_of(fk));
        let bchunk = &self.chunks[bc];
        let back = (bc, read_fwd(&bchunk.buf, bchunk.offset_of(bk)).2);
        Iter {
            list: self,
            front,
            back,
            remaining: count,
        }
    }
}

/// A double-ended iterator over a range of a list's elements.
pub struct Iter<'a> {
    list: &'a List,
    /// (chunk, byte offset of the next entry to yield from the front)
    front: (usize, usize),
    /// (chunk, byte offset just past the next entry to yield from the back)
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let chunks = &self.list.chunks;
        let (mut ci, mut p) = self.front;
        if p >= chunks[ci].end {
            ci += 1;
            p = chunks[ci].start;
        }
        let c = &chunks[ci];
        let (d, n, next) = read_fwd(&c.buf, p);
        self.front = (ci, next);
        self.remaining -= 1;
        Some(&c.buf[d..d + n])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let chunks = &self.list.chunks;
        let (mut ci, mut p) = self.back;
        if p <= chunks[ci].start {
            ci -= 1;
            p = chunks[ci].end;
        }
        let c = &chunks[ci];
        let (s, d, n) = read_back(&c.buf, p);
        self.back = (ci, s);
        self.remaining -= 1;
        Some(&c.buf[d..d + n])
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn model(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    /// Structural invariants: counts add up, no empty chunk, only single-element chunks may
    /// exceed the limit, and the backward decoding agrees with the forward one.
    fn check(l: &List) {
        let mut total = 0;
        for c in &l.chunks {
            assert!(c.count > 0, "empty chunk");
            assert!(c.bytes() <= CHUNK_BYTES || c.count == 1, "oversized chunk");
            let fwd: Vec<&[u8]> = c.iter().collect();
            let mut back: Vec<&[u8]> = c.iter().rev().collect();
            back.reverse();
            assert_eq!(fwd.len(), c.count);
            assert_eq!(fwd, back);
            total += c.count;
        }
        assert_eq!(total, l.len);
        let rev: Vec<&[u8]> = l.iter().rev().collect();
        assert_eq!(rev.len(), l.len);
    }

    #[test]
    fn varints_round_trip_both_ways() {
        for n in [
            0usize,
            1,
            127,
            128,
            300,
            16383,
            16384,
            1 << 21,
            (1 << 28) + 5,
        ] {
            let data = vec![7u8; n.min(20_000)];
            // Only the length framing matters; use a fake len by writing a real entry when small.
            if n <= 20_000 {
                let mut e = vec![0u8; entry_size(n)];
                write_entry(&mut e, &data);
                assert_eq!(read_fwd(&e, 0), (varint_len(n), n, e.len()));
                assert_eq!(read_back(&e, e.len()), (0, varint_len(n), n));
            }
        }
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(entry_size(10), 12);
    }

    #[test]
    fn resolve_index_edges() {
        let l = List::from_items([b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(l.resolve_index(0), Some(0));
        assert_eq!(l.resolve_index(2), Some(2));
        assert_eq!(l.resolve_index(3), None);
        assert_eq!(l.resolve_index(-1), Some(2));
        assert_eq!(l.resolve_index(-3), Some(0));
        assert_eq!(l.resolve_index(-4), None);
        assert_eq!(l.resolve_index(i64::MIN), None);
        assert_eq!(l.resolve_index(i64::MAX), None);
    }

    #[test]
    fn large_elements_get_their_own_chunk() {
        let mut l = List::new();
        l.push_back(b"x");
        l.push_back(&vec![b'y'; CHUNK_BYTES * 2]);
        l.push_back(b"z");
        l.push_front(&[b'w'; 200]);
        check(&l);
        assert_eq!(l.len(), 4);
        assert_eq!(l.get(2).map(|e| e.len()), Some(CHUNK_BYTES * 2));
        assert!(l.set(0, &vec![b'q'; CHUNK_BYTES * 3]));
        l.insert(1, &vec![b'r'; CHUNK_BYTES]);
        check(&l);
        assert_eq!(l.get(0).map(|e| e.len()), Some(CHUNK_BYTES * 3));
        assert_eq!(l.get(4), Some(&b"z"[..]));
    }

    #[test]
    fn remove_matching_limits_and_direction() {
        let items: Vec<Vec<u8>> = "a b a c a".split(' ').map(|s| s.into()).collect();
        let mut l = List::from_items(items.clone());
        assert_eq!(l.remove_matching(b"a", Some(2), true), 2);
        assert_eq!(model(&l), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        let mut l = List::from_items(items);
        assert_eq!(l.remove_matching(b"a", Some(1), false), 1);
        assert_eq!(l.remove_matching(b"zz", None, false), 0);
        assert_eq!(l.remove_matching(b"a", None, false), 2);
        assert_eq!(model(&l), vec![b"b".to_vec(), b"c".to_vec()]);
    }

    /// A million 10-byte elements: entry bytes plus chunk overhead, per element.
    #[test]
    fn memory_per_small_element() {
        let mut l = List::new();
        for i in 0..1_000_000u32 {
            l.push_back(format!("v{:09}", i).as_bytes());
        }
        let per = l.heap_size() as f64 / l.len() as f64;
        println!("RPUSH: {per:.3} heap bytes per element");
        // 12 bytes of entry (1 + 10 + 1) plus chunk overhead well under one byte.
        assert!(per < 12.5, "{per} bytes per element");
        let mut l = List::new();
        for i in 0..1_000_000u32 {
            l.push_front(format!("v{:09}", i).as_bytes());
        }
        let per = l.heap_size() as f64 / l.len() as f64;
        println!("LPUSH: {per:.3} heap bytes per element");
        assert!(per < 12.5, "{per} bytes per element (LPUSH)");
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        PopBack,
        PopFront,
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        DropFront(usize),
        DropBack(usize),
        Remove(Vec<u8>, Option<usize>, bool),
        Range(usize, usize),
    }

    fn elem() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => prop::collection::vec(b'a'..b'd', 0..3),
            3 => prop::collection::vec(any::<u8>(), 0..300),
            1 => prop::collection::vec(any::<u8>(), 3000..9000),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => elem().prop_map(Op::PushBack),
            6 => elem().prop_map(Op::PushFront),
            3 => Just(Op::PopBack),
            3 => Just(Op::PopFront),
            2 => (any::<usize>(), elem()).prop_map(|(i, e)| Op::Set(i, e)),
            3 => (any::<usize>(), elem()).prop_map(|(i, e)| Op::Insert(i, e)),
            1 => (0usize..40).prop_map(Op::DropFront),
            1 => (0usize..40).prop_map(Op::DropBack),
            2 => (prop::collection::vec(b'a'..b'd', 0..3), prop::option::of(0usize..4), any::<bool>())
                .prop_map(|(v, l, b)| Op::Remove(v, l, b)),
            2 => (any::<usize>(), 0usize..50).prop_map(|(s, c)| Op::Range(s, c)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn behaves_like_a_vecdeque(ops in prop::collection::vec(op(), 1..400)) {
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::PushBack(e) => { l.push_back(&e); m.push_back(e); }
                    Op::PushFront(e) => { l.push_front(&e); m.push_front(e); }
                    Op::PopBack => prop_assert_eq!(l.pop_back(), m.pop_back()),
                    Op::PopFront => prop_assert_eq!(l.pop_front(), m.pop_front()),
                    Op::Set(i, e) => {
                        let i = if m.is_empty() { i } else { i % (m.len() + 1) };
                        let ok = i < m.len();
                        prop_assert_eq!(l.set(i, &e), ok);
                        if ok { m[i] = e; }
                    }
                    Op::Insert(i, e) => {
                        let i = i % (m.len() + 1);
                        l.insert(i, &e);
                        m.insert(i, e);
                    }
                    Op::DropFront(n) => { l.drop_front(n); m.drain(..n.min(m.len())); }
                    Op::DropBack(n) => { l.drop_back(n); let k = m.len() - n.min(m.len()); m.truncate(k); }
                    Op::Remove(v, limit, back) => {
                        let mut want = 0;
                        let idx: Vec<usize> = if back { (0..m.len()).rev().collect() } else { (0..m.len()).collect() };
                        let mut gone = Vec::new();
                        for i in idx {
                            if limit.is_some_and(|l| want >= l) { break; }
                            if m[i] == v { gone.push(i); want += 1; }
                        }
                        gone.sort_unstable();
                        for i in gone.into_iter().rev() { m.remove(i); }
                        prop_assert_eq!(l.remove_matching(&v, limit, back), want);
                    }
                    Op::Range(s, c) => {
                        let s = if m.is_empty() { 0 } else { s % (m.len() + 1) };
                        let want: Vec<&[u8]> = m.iter().skip(s).take(c).map(|e| &e[..]).collect();
                        let got: Vec<&[u8]> = l.range(s, c).collect();
                        prop_assert_eq!(&got, &want);
                        let mut rev: Vec<&[u8]> = l.range(s, c).rev().collect();
                        rev.reverse();
                        prop_assert_eq!(rev, want);
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                check(&l);
            }
            prop_assert_eq!(model(&l), m.iter().cloned().collect::<Vec<_>>());
            for (i, e) in m.iter().enumerate() {
                prop_assert_eq!(l.get(i), Some(&e[..]));
            }
            prop_assert_eq!(l.get(m.len()), None);
        }
    }
}
