//! The native host's memory figures: the counting allocator is the core's
//! (`oxidis_core::alloc::Counting`, installed in main.rs); RSS is read here.

pub use oxidis_core::alloc::{allocated, big_allocated, big_freed, Counting};

/// Resident set size in bytes, from /proc/self/statm (Redis's zmalloc_get_rss does the same).
pub fn rss() -> usize {
    let Ok(text) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: usize = text
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.saturating_mul(usize::try_from(page).unwrap_or(4096))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_live_bytes() {
        // Other test threads allocate too, so compare against a large, distinctive block.
        let before = allocated();
        let v: Vec<u8> = Vec::with_capacity(64 << 20);
        assert!(allocated() >= before + (64 << 20) - (8 << 20));
        drop(v);
        assert!(allocated() < before + (32 << 20));
        assert!(rss() > 0);
    }
}
