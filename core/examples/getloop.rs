//! The per-call cost of core dispatch, for callgrind: N direct GETs (`Engine::call_args`, the
//! wasm host's path) of one small string, each reply drained, with maxmemory at 3gb as the wasm
//! build sets it. Run it twice and divide the difference by the difference in N, so the set-up
//! cancels out:
//!
//!     cargo build --release -p oxidis-core --example getloop
//!     valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.10k target/release/examples/getloop 10000
//!     valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.20k target/release/examples/getloop 20000
//!
//! (instructions per GET = (refs at 20000 - refs at 10000) / 10000; `callgrind_annotate
//! --tree=calling` shows where they go). It reads no clock: the figure is a count, not a time.

#![allow(clippy::disallowed_methods)]
use oxidis_core::{Config, Engine, UnixMillis};
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10000);
    let mut eng = Engine::new(Config::default(), 1);
    let c = eng.connect(UnixMillis(1), Default::default());
    let mut out = Vec::new();
    eng.call_args(UnixMillis(1), c, &[b"CONFIG", b"SET", b"maxmemory", b"3gb"]);
    eng.call_args(UnixMillis(1), c, &[b"SET", b"key:1", b"value"]);
    eng.drain_output(c, &mut out);
    assert_eq!(out, b"+OK\r\n+OK\r\n");
    for i in 0..n {
        out.clear();
        eng.call_args(UnixMillis(2 + i / 1000), c, &[b"GET", b"key:1"]);
        eng.drain_output(c, &mut out);
    }
    assert_eq!(out, b"$5\r\nvalue\r\n");
}
