//! Redis's listpack (listpack.c) as an in-memory byte buffer, for the values that keep Redis's
//! exact layout in memory (stream nodes: their splitting rule reads the listpack's byte size,
//! and RDB stores them verbatim). The element encoders are shared with `rdb::packed`, which
//! writes and validates listpacks for the other types' RDB encodings.
//!
//! Layout: `total-bytes u32 LE | count u16 LE (65535 = unknown) | entries | 0xFF`, each entry
//! `encoding+data | backlen` (the entry's size, 7 bits per byte, read from the right).

use crate::cnum::parse_i64;

/// The header's count saturates here ("unknown": count by walking).
const COUNT_UNKNOWN: u16 = 65535;
const HDR: usize = 6;
const EOF_BYTE: u8 = 0xff;

/// lpEncodeBacklen's size for an entry of `l` bytes.
pub fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// lpEncodeBacklen: the entry size, most significant 7-bit group first, every byte but the
/// first (the one read last from the right) with the high bit set.
pub fn push_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let g = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { g } else { g | 128 });
    }
}

/// The bytes of an entry (encoding + data, without backlen) for `s`, as lpEncodeGetType picks:
/// a canonical decimal of at most 20 bytes becomes an integer.
pub fn lp_entry(s: &[u8], out: &mut Vec<u8>) {
    if s.len() <= 20 {
        if let Some(v) = parse_i64(s) {
            lp_int_entry(v, out);
            return;
        }
    }
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.push(0xe0 | (n >> 8) as u8);
        out.push(n as u8);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// The bytes of an integer entry (without backlen), in the smallest encoding.
pub fn lp_int_entry(v: i64, out: &mut Vec<u8>) {
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1fff;
        out.push(0xc0 | (u >> 8) as u8);
        out.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        out.push(0xf1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8388608..=8388607).contains(&v) {
        out.push(0xf2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&v) {
        out.push(0xf3);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        out.push(0xf4);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// One element as stored: integers natively, strings as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Val<'a> {
    /// The element as a string (an integer formatted into `buf`).
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Val::Int(n) => buf.format(*n).as_bytes(),
            Val::Str(s) => s,
        }
    }

    /// The integer (streams store their counters and deltas as integers).
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(n) => *n,
            Val::Str(s) => parse_i64(s).unwrap_or(0),
        }
    }

    /// Whether it equals the string `s` (lpCompare).
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        let mut b = itoa::Buffer::new();
        self.bytes(&mut b) == s
    }
}

fn le_int(b: &[u8]) -> i64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    let shift = 64 - 8 * b.len() as u32;
    (i64::from_le_bytes(w) << shift) >> shift
}

/// Decodes the (trusted) entry at `p`: its value and the size of encoding + data.
fn decode(b: &[u8], p: usize) -> (Val<'_>, usize) {
    let c = b[p];
    if c & 0x80 == 0 {
        (Val::Int(i64::from(c)), 1)
    } else if c & 0xc0 == 0x80 {
        let n = (c & 0x3f) as usize;
        (Val::Str(&b[p + 1..p + 1 + n]), 1 + n)
    } else if c & 0xe0 == 0xc0 {
        let u = (u16::from(c & 0x1f) << 8) | u16::from(b[p + 1]);
        let v = if u >= 1 << 12 {
            i64::from(u) - (1 << 13)
        } else {
            i64::from(u)
        };
        (Val::Int(v), 2)
    } else if c & 0xf0 == 0xe0 {
        let n = (((c & 0x0f) as usize) << 8) | b[p + 1] as usize;
        (Val::Str(&b[p + 2..p + 2 + n]), 2 + n)
    } else {
        match c {
            0xf0 => {
                let n = u32::from_le_bytes([b[p + 1], b[p + 2], b[p + 3], b[p + 4]]) as usize;
                (Val::Str(&b[p + 5..p + 5 + n]), 5 + n)
            }
            0xf1 => (Val::Int(le_int(&b[p + 1..p + 3])), 3),
            0xf2 => (Val::Int(le_int(&b[p + 1..p + 4])), 4),
            0xf3 => (Val::Int(le_int(&b[p + 1..p + 5])), 5),
            _ => (Val::Int(le_int(&b[p + 1..p + 9])), 9),
        }
    }
}

/// The size of the (trusted) entry's encoding + data at `p`: `decode`'s second half without
/// building the value (skipping entries is the inner loop of a stream node's scan).
#[inline]
fn encoded_size(b: &[u8], p: usize) -> usize {
    let c = b[p];
    if c & 0x80 == 0 {
        1
    } else if c & 0xc0 == 0x80 {
        1 + (c & 0x3f) as usize
    } else if c & 0xe0 == 0xc0 {
        2
    } else if c & 0xf0 == 0xe0 {
        2 + ((((c & 0x0f) as usize) << 8) | b[p + 1] as usize)
    } else {
        match c {
            0xf0 => 5 + u32::from_le_bytes([b[p + 1], b[p + 2], b[p + 3], b[p + 4]]) as usize,
            0xf1 => 3,
            0xf2 => 4,
            0xf3 => 5,
            _ => 9,
        }
    }
}

/// A listpack. Positions (`usize`) are byte offsets of entries, as listpack.c's pointers.
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listpack({} bytes)", self.buf.len())
    }
}

impl Listpack {
    /// lpNew: an empty listpack (7 bytes).
    pub fn new() -> Listpack {
        Listpack::with_capacity(HDR + 1)
    }

    /// lpNew(capacity): preallocates, as Redis does for stream nodes.
    pub fn with_capacity(cap: usize) -> Listpack {
        let mut buf = Vec::with_capacity(cap.max(HDR + 1));
        buf.extend_from_slice(&[7, 0, 0, 0, 0, 0, EOF_BYTE]);
        Listpack { buf }
    }

    /// A listpack from a blob that has been validated already (`rdb::packed::listpack_entries`
    /// checks every entry and back-length): positions read from it stay in bounds.
    pub fn from_validated(buf: Vec<u8>) -> Listpack {
        Listpack { buf }
    }

    /// lpBytes: the listpack's total size.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The blob, exactly as Redis stores it (RDB, DUMP).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Heap bytes held (for memory figures).
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// lpShrinkToFit.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    fn header_count(&self) -> u16 {
        u16::from_le_bytes([self.buf[4], self.buf[5]])
    }

    fn fix_header(&mut self, count_delta: i32) {
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let c = self.header_count();
        if c != COUNT_UNKNOWN {
            let n = i64::from(c) + i64::from(count_delta);
            let n = if n >= i64::from(COUNT_UNKNOWN) {
                COUNT_UNKNOWN
            } else {
                n as u16
            };
            self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        }
    }

    fn push_encoded(&mut self, enc: &[u8]) {
        self.buf.pop(); // the terminator
        self.buf.extend_from_slice(enc);
        push_backlen(&mut self.buf, enc.len());
        self.buf.push(EOF_BYTE);
        self.fix_header(1);
    }

    /// lpAppend of a string (integer-encoded when it is a canonical decimal).
    pub fn append(&mut self, s: &[u8]) {
        let mut enc = Vec::with_capacity(s.len() + 5);
        lp_entry(s, &mut enc);
        self.push_encoded(&enc);
    }

    /// lpAppendInteger.
    pub fn append_int(&mut self, v: i64) {
        let mut enc = Vec::with_capacity(9);
        lp_int_entry(v, &mut enc);
        self.push_encoded(&enc);
    }

    /// lpFirst: the first entry's position.
    pub fn first(&self) -> Option<usize> {
        (self.buf[HDR] != EOF_BYTE).then_some(HDR)
    }

    fn entry_len(&self, p: usize) -> usize {
        let l = encoded_size(&self.buf, p);
        l + backlen_size(l)
    }

    /// lpNext.
    pub fn next(&self, p: usize) -> Option<usize> {
        let q = p + self.entry_len(p);
        (self.buf[q] != EOF_BYTE).then_some(q)
    }

    /// The position after the entry at `p` without the end check (for skipping known entries).
    pub fn skip(&self, p: usize) -> usize {
        p + self.entry_len(p)
    }

    /// lpGet.
    pub fn get(&self, p: usize) -> Val<'_> {
        decode(&self.buf, p).0
    }

    /// lpReplaceInteger: the entry at `p` becomes `v` (which may change its size, moving
    /// everything after it).
    pub fn replace_int(&mut self, p: usize, v: i64) {
        let old = self.entry_len(p);
        let mut enc = Vec::with_capacity(10);
        lp_int_entry(v, &mut enc);
        let l = enc.len();
        push_backlen(&mut enc, l);
        self.buf.splice(p..p + old, enc);
        self.fix_header(0);
    }

    /// Every element, decoded (tests and debugging).
    pub fn elements(&self) -> Vec<Val<'_>> {
        let mut out = Vec::new();
        let mut p = self.first();
        while let Some(q) = p {
            out.push(self.get(q));
            p = self.next(q);
        }
        out
    }

    /// The header's element count (lpLength when it has not saturated).
    pub fn header_len(&self) -> Option<usize> {
        let c = self.header_count();
        (c != COUNT_UNKNOWN).then_some(c as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlen_matches_listpack_c() {
        // lpEncodeBacklen for 200: two bytes, [1, 200 & 127 | 128].
        let mut v = Vec::new();
        push_backlen(&mut v, 200);
        assert_eq!(v, [1, (200 & 127) | 128]);
        let mut v = Vec::new();
        push_backlen(&mut v, 5);
        assert_eq!(v, [5]);
        let mut v = Vec::new();
        push_backlen(&mut v, 20000);
        assert_eq!(
            v,
            [
                (20000 >> 14) as u8,
                ((20000 >> 7) & 127) as u8 | 128,
                (20000 & 127) as u8 | 128
            ]
        );
    }

    #[test]
    fn encoded_size_is_decodes_size() {
        let mut lp = Listpack::new();
        let ints = [
            0,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            40_000,
            -40_000,
            1 << 22,
            1 << 30,
        ];
        for v in ints.into_iter().chain([1 << 40, i64::MIN, i64::MAX]) {
            lp.append_int(v);
        }
        for n in [0, 1, 63, 64, 4095, 4096, 70_000] {
            lp.append(&vec![b'a'; n]);
        }
        let mut p = lp.first();
        let mut seen = 0;
        while let Some(q) = p {
            assert_eq!(encoded_size(&lp.buf, q), decode(&lp.buf, q).1);
            seen += 1;
            p = lp.next(q);
        }
        assert_eq!(seen, 14 + 7);
    }

    #[test]
    fn append_get_replace() {
        let mut lp = Listpack::new();
        assert_eq!(lp.bytes(), 7);
        assert_eq!(lp.first(), None);
        lp.append_int(1);
        lp.append(b"hello");
        lp.append(b"-42");
        lp.append(&[b'x'; 100]);
        lp.append_int(i64::MIN);
        assert_eq!(lp.header_len(), Some(5));
        let e = lp.elements();
        assert_eq!(e[0], Val::Int(1));
        assert_eq!(e[1], Val::Str(b"hello"));
        assert_eq!(e[2], Val::Int(-42));
        assert_eq!(e[3], Val::Str(&[b'x'; 100]));
        assert_eq!(e[4], Val::Int(i64::MIN));
        // Growing the first integer moves every entry after it.
        let p = lp.first().unwrap();
        lp.replace_int(p, 100_000);
        lp.replace_int(p, 3);
        let p2 = lp.next(p).unwrap();
        assert_eq!(lp.get(p), Val::Int(3));
        assert_eq!(lp.get(p2), Val::Str(b"hello"));
        assert_eq!(lp.elements().len(), 5);
        let total = u32::from_le_bytes(lp.as_bytes()[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, lp.bytes());
    }
}
