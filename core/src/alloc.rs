//! The counting global allocator both hosts install: the System allocator (glibc natively,
//! dlmalloc on wasm32) plus a live-bytes counter, the host's figure for INFO's `used_memory`
//! and for `maxmemory` (Redis counts through zmalloc in the same way). It does no I/O: the
//! host declares it `#[global_allocator]` and passes `allocated` as `HostInfo::used_memory`.

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
