//! ZRANK / ZRANGE-by-index cost as a skiplist-encoded sorted set grows (1k .. 1M members):
//! the order-statistic tree makes both O(log n), so the time per operation should grow by a
//! roughly constant step per 10x, not 10x.
//!
//!     cargo run --release -p oxidis-core --example zset_rank
//!
//! It drives the data structure directly (no RESP), so it measures the tree, not the codec.
//! (An example, not core: core itself never reads a clock, hence the allow below.)

#![allow(clippy::disallowed_methods)]

use oxidis_core::internals::{Limits, ZSet};
use std::hint::black_box;
use std::time::Instant;

const LIM: Limits = Limits {
    max_entries: 128,
    max_value: 64,
    seed: 42,
};

/// A small xorshift, so the member order is scrambled relative to insertion.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn member(i: u64) -> Vec<u8> {
    format!("member:{i:08}").into_bytes()
}

fn main() {
    let sizes = [1_000u64, 10_000, 100_000, 1_000_000];
    let ops = 200_000u64;
    let mut z = ZSet::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut built = 0u64;
    println!(
        "{:>9} {:>10} {:>12} {:>14} {:>14}",
        "members", "build s", "ZRANK ns", "ZRANGE i i ns", "ZRANGE i i+9 ns"
    );
    for &n in &sizes {
        let t = Instant::now();
        while built < n {
            // Random scores with ties, so the (score, member) order matters.
            let score = (rng.next() % (n * 4)) as f64;
            z.insert(&member(built), score, &LIM);
            built += 1;
        }
        let build = t.elapsed().as_secs_f64();
        assert_eq!(z.len() as u64, n);

        let probes: Vec<Vec<u8>> = (0..4096).map(|_| member(rng.next() % n)).collect();
        let t = Instant::now();
        let mut acc = 0usize;
        for i in 0..ops {
            acc = acc.wrapping_add(z.rank(&probes[(i & 4095) as usize]).unwrap_or(0));
        }
        let rank_ns = t.elapsed().as_nanos() as f64 / ops as f64;
        black_box(acc);

        let idx: Vec<usize> = (0..4096).map(|_| (rng.next() % n) as usize).collect();
        let t = Instant::now();
        let mut acc = 0f64;
        for i in 0..ops {
            // ZRANGE key i i: one select by rank.
            if let Some((_, s)) = z.iter_from(idx[(i & 4095) as usize], false).next() {
                acc += s;
            }
        }
        let select_ns = t.elapsed().as_nanos() as f64 / ops as f64;
        black_box(acc);

        let t = Instant::now();
        let mut acc = 0usize;
        for i in 0..ops {
            // ZRANGE key i i+9: a seek then an in-order walk.
            acc += z
                .iter_from(idx[(i & 4095) as usize], false)
                .take(10)
                .map(|(m, _)| m.len())
                .sum::<usize>();
        }
        let range_ns = t.elapsed().as_nanos() as f64 / ops as f64;
        black_box(acc);
        println!("{n:>9} {build:>10.3} {rank_ns:>12.0} {select_ns:>14.0} {range_ns:>14.0}");
    }
}
