//! `CompactBytes`: an immutable byte string that keeps up to 22 bytes inline (no allocation),
//! for keys and small string values, where per-key memory is a headline figure.

use std::borrow::Borrow;
use std::fmt;

const INLINE_CAP: usize = 22;

#[derive(Clone)]
pub struct CompactBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        buf: [u8; INLINE_CAP],
    },
    Heap(Box<[u8]>),
    /// A string a bit command built or changed in place: Redis's "raw" encoding whatever its
    /// length (SETBIT, BITFIELD and BITOP leave their strings raw, not embstr). A Vec, so it
    /// grows greedily as an sds does (boxed, so a `CompactBytes` stays 24 bytes).
    #[allow(clippy::box_collection)]
    Raw(Box<Vec<u8>>),
}

impl CompactBytes {
    pub fn new(b: &[u8]) -> CompactBytes {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            CompactBytes(Repr::Inline {
                len: b.len() as u8,
                buf,
            })
        } else {
            CompactBytes(Repr::Heap(b.into()))
        }
    }

    pub fn from_vec(v: Vec<u8>) -> CompactBytes {
        if v.len() <= INLINE_CAP {
            CompactBytes::new(&v)
        } else {
            CompactBytes(Repr::Heap(v.into_boxed_slice()))
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(b) => b,
            Repr::Raw(v) => v,
        }
    }

    /// A "raw"-encoded string of these bytes (see `Repr::Raw`).
    pub fn raw(v: Vec<u8>) -> CompactBytes {
        CompactBytes(Repr::Raw(Box::new(v)))
    }

    /// Whether this is a "raw"-encoded string (made by `raw` or `raw_mut`).
    pub fn is_raw(&self) -> bool {
        matches!(self.0, Repr::Raw(_))
    }

    /// The bytes, writable in place, after making this a raw string at least `min_len` long
    /// (zero-padded: Redis's dbUnshareStringValue + sdsgrowzero, with sdsMakeRoomFor's greedy
    /// capacity: double below 1 MB, else 1 MB more). True in the second field when the length
    /// changed.
    pub fn raw_mut(&mut self, min_len: usize) -> (&mut [u8], bool) {
        if !self.is_raw() {
            let v = std::mem::replace(self, CompactBytes::new(b"")).into_vec();
            self.0 = Repr::Raw(Box::new(v));
        }
        let Repr::Raw(v) = &mut self.0 else {
            unreachable!("made raw above")
        };
        let grew = v.len() < min_len;
        if grew {
            const MAX_PREALLOC: usize = 1 << 20;
            let greedy = if min_len < MAX_PREALLOC {
                min_len * 2
            } else {
                min_len + MAX_PREALLOC
            };
            if v.capacity() < min_len {
                v.reserve_exact(greedy - v.len());
            }
            v.resize(min_len, 0);
        }
        (v, grew)
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Heap(b) => b.into_vec(),
            Repr::Raw(v) => *v,
            Repr::Inline { .. } => self.as_bytes().to_vec(),
        }
    }

    /// Heap bytes this value owns beyond its own size (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
            Repr::Raw(v) => v.capacity(),
        }
    }
}

impl std::ops::Deref for CompactBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for CompactBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for CompactBytes {}

impl std::hash::Hash for CompactBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialOrd for CompactBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for CompactBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(b: &[u8]) -> Self {
        CompactBytes::new(b)
    }
}

impl From<Vec<u8>> for CompactBytes {
    fn from(v: Vec<u8>) -> Self {
        CompactBytes::from_vec(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_round_trip() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        assert_eq!(std::mem::size_of::<crate::types::Value>(), 24);
        for n in [0, 1, 22, 23, 100] {
            let v: Vec<u8> = (0..n as u8).collect();
            assert_eq!(CompactBytes::new(&v).as_bytes(), &v[..]);
            assert_eq!(CompactBytes::from_vec(v.clone()).into_vec(), v);
            let mut raw = CompactBytes::new(&v);
            assert!(!raw.is_raw());
            assert!(!raw.raw_mut(n).1);
            assert!(raw.is_raw());
            assert_eq!(
                raw.raw_mut(n + 2),
                (&mut [&v[..], &[0, 0]].concat()[..], true)
            );
            assert_eq!(raw.clone().into_vec().len(), n + 2);
            // Growth is greedy, as sdsMakeRoomFor's: room for as much again.
            assert!(raw.heap_size() >= 2 * (n + 2), "{n}");
        }
    }
}
