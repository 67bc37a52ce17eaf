//! The per-call cost of core dispatch, for callgrind: N direct calls (`Engine::call_args`, the
//! wasm host's path), each reply drained, with maxmemory at 3gb as the wasm build sets it.
//! `get` (the default): GETs of one small string. `zadd`: redis-benchmark's `ZADD myzset
//! <random score> element:<random>` over 100k members, after loading them (the tree work of
//! moving a member). Run it twice and divide the difference by the difference in N, so the
//! set-up cancels out:
//!
//!     cargo build --release -p oxidis-core --example callloop
//!     valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.10k target/release/examples/callloop 10000 get
//!     valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.20k target/release/examples/callloop 20000 get
//!
//! (instructions per call = (refs at 20000 - refs at 10000) / 10000; `callgrind_annotate
//! --tree=calling` shows where they go). It reads no clock: the figure is a count, not a time.

#![allow(clippy::disallowed_methods)]
use oxidis_core::{Config, Engine, Rng, UnixMillis};
fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10000);
    let zadd = args.next().as_deref() == Some("zadd");
    let mut eng = Engine::new(Config::default(), 1);
    let c = eng.connect(UnixMillis(1), Default::default());
    let mut out = Vec::new();
    eng.call_args(UnixMillis(1), c, &[b"CONFIG", b"SET", b"maxmemory", b"3gb"]);
    eng.call_args(UnixMillis(1), c, &[b"SET", b"key:1", b"value"]);
    eng.drain_output(c, &mut out);
    assert_eq!(out, b"+OK\r\n+OK\r\n");
    let mut rng = Rng::new(7);
    if zadd {
        for i in 0..100_000 {
            let member = format!("element:{i:012}");
            let score = (rng.next_u64() % 100_000).to_string();
            let args: [&[u8]; 4] = [b"ZADD", b"myzset", score.as_bytes(), member.as_bytes()];
            eng.call_args(UnixMillis(1), c, &args);
            out.clear();
            eng.drain_output(c, &mut out);
        }
    }
    for i in 0..n {
        out.clear();
        if zadd {
            let score = (rng.next_u64() % 100_000).to_string();
            let member = format!("element:{:012}", rng.next_u64() % 100_000);
            let args: [&[u8]; 4] = [b"ZADD", b"myzset", score.as_bytes(), member.as_bytes()];
            eng.call_args(UnixMillis(2 + i / 1000), c, &args);
        } else {
            eng.call_args(UnixMillis(2 + i / 1000), c, &[b"GET", b"key:1"]);
        }
        eng.drain_output(c, &mut out);
    }
    if zadd {
        assert_eq!(out, b":0\r\n");
    } else {
        assert_eq!(out, b"$5\r\nvalue\r\n");
    }
}
