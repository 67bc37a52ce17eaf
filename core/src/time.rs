//! Time as the host passes it in. The core never reads a clock: every entry point takes `now`.

/// Milliseconds since the Unix epoch, like Redis's `mstime()`. Absolute (not monotonic) because
/// EXPIREAT, PXAT and EXPIRETIME speak wall time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    pub fn as_millis(self) -> u64 {
        self.0
    }
    pub fn as_secs(self) -> u64 {
        self.0 / 1000
    }
    pub fn saturating_add(self, ms: u64) -> UnixMillis {
        UnixMillis(self.0.saturating_add(ms))
    }
}
