//! `Key`: a keyspace key that also carries Redis's 24-bit `robj->lru` field (the LRU clock of
//! the last access, or the LFU form: 16-bit minutes + 8-bit log counter), at no cost in
//! memory.
//!
//! Redis keeps that field in the value's object header. Oxidis keeps it in the key, which is
//! 20 bytes with 4-byte alignment: a 32-bit header (the 24-bit field and a length byte) and
//! 16 bytes that hold a key of up to 16 bytes inline ("key:000000000001", "user:1000000000")
//! or the address and length of a longer key's heap bytes. The keyspace dict's entry is then
//! `{Value: 24 B, Key: 20 B, link: 4 B}` = 48 bytes (types/dict.rs stores entries densely,
//! with no allocator header). Every other dict keeps `CompactBytes` keys (22 bytes inline).
//!
//! The heap form is the one piece of `unsafe` here: a pointer kept as an integer (so the key
//! needs only 4-byte alignment), through Rust's exposed-provenance API. Invariants: the length
//! byte is `HEAP` exactly when `bytes` holds the address (exposed by `expose_provenance`) and
//! length of a `Box<[u8]>` this `Key` owns, made by `Key::new` and freed only by `Drop`; a
//! `Key` is never copied bitwise (no `Copy`; `Clone` makes a new box).

use std::borrow::Borrow;
use std::fmt;

/// Longest key kept inline, without an allocation.
pub const INLINE_CAP: usize = 16;

/// The largest value of the 24-bit field (Redis's LRU_CLOCK_MAX).
pub const LRU_MAX: u32 = (1 << 24) - 1;

/// The length byte of a heap key.
const HEAP: u32 = 0xff;

pub struct Key {
    /// Bits 0-23: the LRU/LFU field; bits 24-31: the inline length (0..=16), or `HEAP`.
    meta: u32,
    /// Inline: the key's bytes. Heap: the address (8 bytes, native order) and the length
    /// (4 bytes) of the owned boxed bytes.
    bytes: [u8; INLINE_CAP],
}

impl Key {
    pub fn new(b: &[u8]) -> Key {
        let mut bytes = [0u8; INLINE_CAP];
        if b.len() <= INLINE_CAP {
            bytes[..b.len()].copy_from_slice(b);
            return Key {
                meta: (b.len() as u32) << 24,
                bytes,
            };
        }
        let len = u32::try_from(b.len()).expect("a key shorter than 4 GB");
        let boxed: Box<[u8]> = b.into();
        let addr = Box::into_raw(boxed).cast::<u8>().expose_provenance() as u64;
        bytes[..8].copy_from_slice(&addr.to_ne_bytes());
        bytes[8..12].copy_from_slice(&len.to_ne_bytes());
        Key {
            meta: HEAP << 24,
            bytes,
        }
    }

    #[inline]
    fn is_heap(&self) -> bool {
        self.meta >> 24 == HEAP
    }

    /// A heap key's address and length.
    #[inline]
    fn heap_parts(&self) -> (*mut u8, usize) {
        let addr = u64::from_ne_bytes(self.bytes[..8].try_into().expect("8 bytes"));
        let len = u32::from_ne_bytes(self.bytes[8..12].try_into().expect("4 bytes"));
        (
            std::ptr::with_exposed_provenance_mut(addr as usize),
            len as usize,
        )
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        if self.is_heap() {
            let (p, len) = self.heap_parts();
            // SAFETY: a heap key owns the `Box<[u8]>` of `len` bytes at `p` (module
            // invariants); its provenance was exposed when the box was made, and the bytes
            // live until `Drop`, so borrowing them for `&self`'s lifetime is sound.
            unsafe { std::slice::from_raw_parts(p, len) }
        } else {
            &self.bytes[..(self.meta >> 24) as usize]
        }
    }

    /// The 24-bit LRU/LFU field.
    #[inline]
    pub fn lru(&self) -> u32 {
        self.meta & LRU_MAX
    }

    /// Sets the 24-bit LRU/LFU field (higher bits are dropped). Only this field can change
    /// in a key already in a table: its bytes, and so its hash, never do.
    #[inline]
    pub fn set_lru(&mut self, v: u32) {
        self.meta = (self.meta & !LRU_MAX) | (v & LRU_MAX);
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.is_heap() {
            let (p, len) = self.heap_parts();
            // SAFETY: the box `Key::new` leaked with exactly this address and length, owned by
            // this key alone and freed nowhere else (module invariants).
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, len)) });
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        let mut k = Key::new(self.as_bytes());
        k.set_lru(self.lru());
        k
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
        assert_eq!(std::mem::size_of::<Key>(), 20);
        assert_eq!(std::mem::align_of::<Key>(), 4);
        for n in [0, 1, 15, 16, 17, 19, 20, 22, 100, 70_000] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut k = Key::new(&v);
            assert_eq!(k.as_bytes(), &v[..]);
            assert_eq!(k.lru(), 0);
            k.set_lru(0x1ab_cdef);
            assert_eq!(k.lru(), 0xab_cdef);
            assert_eq!(k.as_bytes(), &v[..], "the field never touches the bytes");
            k.set_lru(LRU_MAX);
            assert_eq!(k.lru(), LRU_MAX);
            let c = k.clone();
            drop(k);
            assert_eq!(c.as_bytes(), &v[..]);
            assert_eq!(c.lru(), LRU_MAX);
            // Moved around (a dict's store moves entries): the heap bytes stay owned.
            let moved = Box::new(c);
            assert_eq!(moved.as_bytes(), &v[..]);
        }
    }

    #[test]
    fn the_keyspace_entry_is_48_bytes() {
        struct Entry {
            _key: Key,
            _value: crate::types::Value,
            _next: u32,
        }
        assert_eq!(std::mem::size_of::<Entry>(), 48);
    }
}
