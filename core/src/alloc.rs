//! The counting global allocator both hosts install: the System allocator (glibc natively,
//! dlmalloc on wasm32) plus a live-bytes counter, the host's figure for INFO's `used_memory`
//! and for `maxmemory` (Redis counts through zmalloc in the same way). It does no I/O: the
//! host declares it `#[global_allocator]` and passes `allocated` as `HostInfo::used_memory`.
//!
//! Why glibc natively (issue 19, `cargo xtask bench --only memory`, RSS growth per key for 1M
//! small string keys / 1M with TTLs / 100k small hashes, one run each, measured when every
//! dict entry was its own 56-byte allocation): glibc 72.4 / 128.9 / 332.6 B; mimalloc 3.3
//! (crate 0.1.52) 79.7 / 132.1 / 346.1; mimalloc 2.3 72.9 / 130.0 / 332.0. Since then dict
//! entries live in the dict's own dense chunks (types/dict.rs), so no allocator header or
//! size class is paid per key at all (52.4 / 88.7 / 312.2 B with glibc): a small-object
//! allocator has nothing left to win on the keyspace.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// Blocks of at least this many bytes are also counted apart ([`big_allocated`],
/// [`big_freed`]): a hash table's new bucket array, a big reply or query buffer. The native
/// loop reports them per turn (the page faults of touching or unmapping such a block are what
/// can stall a turn); the check costs one compare per call.
pub const BIG_BLOCK: usize = 1 << 20;
static BIG_ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static BIG_FREED: AtomicUsize = AtomicUsize::new(0);

/// Bytes currently allocated through the Rust allocator (when a host installed `Counting`).
pub fn allocated() -> usize {
    ALLOCATED.load(Relaxed)
}

/// Bytes ever allocated in blocks of at least [`BIG_BLOCK`] (a realloc to that size counts its
/// new size).
pub fn big_allocated() -> usize {
    BIG_ALLOCATED.load(Relaxed)
}

/// Bytes ever freed in blocks of at least [`BIG_BLOCK`] (a realloc from that size counts its
/// old size).
pub fn big_freed() -> usize {
    BIG_FREED.load(Relaxed)
}

#[inline]
fn count_big(counter: &AtomicUsize, size: usize) {
    if size >= BIG_BLOCK {
        counter.fetch_add(size, Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter
// is only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
            count_big(&BIG_ALLOCATED, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
            count_big(&BIG_ALLOCATED, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Relaxed);
        count_big(&BIG_FREED, layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count_big(&BIG_FREED, layout.size());
            count_big(&BIG_ALLOCATED, new_size);
            if new_size >= layout.size() {
                ALLOCATED.fetch_add(new_size - layout.size(), Relaxed);
            } else {
                ALLOCATED.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}
