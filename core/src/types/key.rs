//! `Key`: a keyspace key that also carries Redis's 24-bit `robj->lru` field (the LRU clock of
//! the last access, or the LFU form: 16-bit minutes + 8-bit log counter), at no cost in
//! memory.
//!
//! Redis keeps that field in the value's object header. Oxidis's dict node is `{key: 24 B,
//! value: 24 B, next: 8 B}` = 56 B, a 64-byte allocator chunk: one more field would push it to
//! 80 B. The key has room instead: an inline key gives up 3 of `CompactBytes`'s 22 inline bytes
//! (19 left: "user:1000000000" and "key:000000000001" still fit), and a heap key stores the
//! field in the padding between the enum's tag and its pointer. The keyspace dict is
//! `Dict<Value, Key>`; every other dict keeps `CompactBytes` keys with all 22 bytes.

use std::borrow::Borrow;
use std::fmt;

/// Longest key kept inline, without an allocation.
pub const INLINE_CAP: usize = 19;

/// The largest value of the 24-bit field (Redis's LRU_CLOCK_MAX).
pub const LRU_MAX: u32 = (1 << 24) - 1;

#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        lru: [u8; 3],
        len: u8,
        buf: [u8; INLINE_CAP],
    },
    Heap {
        lru: [u8; 3],
        bytes: Box<[u8]>,
    },
}

impl Key {
    pub fn new(b: &[u8]) -> Key {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Key(Repr::Inline {
                lru: [0; 3],
                len: b.len() as u8,
                buf,
            })
        } else {
            Key(Repr::Heap {
                lru: [0; 3],
                bytes: b.into(),
            })
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf, .. } => &buf[..*len as usize],
            Repr::Heap { bytes, .. } => bytes,
        }
    }

    /// The 24-bit LRU/LFU field.
    #[inline]
    pub fn lru(&self) -> u32 {
        let (Repr::Inline { lru, .. } | Repr::Heap { lru, .. }) = &self.0;
        u32::from_le_bytes([lru[0], lru[1], lru[2], 0])
    }

    /// Sets the 24-bit LRU/LFU field (higher bits are dropped). Only this field can change
    /// in a key already in a table: its bytes, and so its hash, never do.
    #[inline]
    pub fn set_lru(&mut self, v: u32) {
        let (Repr::Inline { lru, .. } | Repr::Heap { lru, .. }) = &mut self.0;
        let b = v.to_le_bytes();
        *lru = [b[0], b[1], b[2]];
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_field() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        for n in [0, 1, 19, 20, 22, 100] {
            let v: Vec<u8> = (0..n as u8).collect();
            let mut k = Key::new(&v);
            assert_eq!(k.as_bytes(), &v[..]);
            assert_eq!(k.lru(), 0);
            k.set_lru(0x1ab_cdef);
            assert_eq!(k.lru(), 0xab_cdef);
            assert_eq!(k.as_bytes(), &v[..], "the field never touches the bytes");
            k.set_lru(LRU_MAX);
            assert_eq!(k.lru(), LRU_MAX);
            assert_eq!(k.clone().as_bytes(), &v[..]);
        }
    }
}
