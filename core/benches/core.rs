//! Microbenchmarks of the hot paths: the request decoder, dispatch through the engine, and the
//! keyspace hash table. `cargo bench -p oxidis-core` (criterion; `-- --quick` for a fast pass).
//! Compare instruction counts with `valgrind --tool=callgrind` on the server for the stable
//! picture on a noisy machine (see xtask/src/bench.rs).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use oxidis_core::internals::Dict;
use oxidis_core::resp::{encode_request, Decoded, RequestDecoder};
use oxidis_core::{Config, ConnInfo, Engine, UnixMillis};

/// 16 pipelined `SET key:NNNNNNNNNNNN xxx` requests, as redis-benchmark -P 16 sends them.
fn set_pipeline(base: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..16 {
        let key = format!("key:{:012}", base + i);
        buf.extend(encode_request(&["SET", &key, "xxx"]));
    }
    buf
}

fn decoder(c: &mut Criterion) {
    let mut g = c.benchmark_group("decoder");
    let pipeline = set_pipeline(0);
    g.throughput(Throughput::Elements(16));
    g.bench_function("16 x SET multibulk", |b| {
        let mut d = RequestDecoder::new();
        b.iter(|| {
            let mut pos = 0;
            let mut n = 0;
            while pos < pipeline.len() {
                match d.decode(black_box(&pipeline[pos..])) {
                    Ok(Decoded::Request { consumed }) => {
                        pos += consumed;
                        n += 1;
                    }
                    _ => break,
                }
            }
            assert_eq!(n, 16);
        })
    });
    g.bench_function("16 x SET split at every 7 bytes", |b| {
        b.iter(|| {
            let mut d = RequestDecoder::new();
            let mut buf: Vec<u8> = Vec::new();
            let mut n = 0;
            for chunk in pipeline.chunks(7) {
                buf.extend_from_slice(chunk);
                let mut pos = 0;
                while let Ok(Decoded::Request { consumed }) = d.decode(&buf[pos..]) {
                    pos += consumed;
                    n += 1;
                }
                buf.drain(..pos);
            }
            assert_eq!(n, 16);
        })
    });
    g.finish();
}

fn dispatch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch");
    let mut eng = Engine::new(Config::default(), 1);
    let id = eng.connect(UnixMillis(0), ConnInfo::default());
    let mut out = Vec::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("PING_MBULK x16", encode_request(&["PING"]).repeat(16)),
        ("SET x16", set_pipeline(0)),
        (
            "GET x16",
            encode_request(&["GET", "key:000000000003"]).repeat(16),
        ),
        (
            "INCR x16",
            encode_request(&["INCR", "counter:000000001"]).repeat(16),
        ),
        (
            "HSET x16",
            encode_request(&["HSET", "myhash", "field", "xxx"]).repeat(16),
        ),
        (
            "LPUSH+RPOP x8",
            [
                encode_request(&["LPUSH", "mylist", "xxx"]),
                encode_request(&["RPOP", "mylist"]),
            ]
            .concat()
            .repeat(8),
        ),
    ];
    g.throughput(Throughput::Elements(16));
    for (name, input) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                eng.feed(UnixMillis(1), id, black_box(input));
                out.clear();
                eng.drain_output(id, &mut out);
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn dict(c: &mut Criterion) {
    let mut g = c.benchmark_group("dict");
    let keys: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("insert 100k (growing)", |b| {
        b.iter_batched(
            || Dict::<u64>::new(7),
            |mut d| {
                for (i, k) in keys.iter().enumerate() {
                    d.insert(k, i as u64);
                }
                d
            },
            BatchSize::LargeInput,
        )
    });
    let mut full = Dict::<u64>::new(7);
    for (i, k) in keys.iter().enumerate() {
        full.insert(k, i as u64);
    }
    while full.rehash_steps(1000) {}
    g.bench_function("get 100k hits", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for k in &keys {
                sum = sum.wrapping_add(*full.get(k).unwrap_or(&0));
            }
            sum
        })
    });
    g.bench_function("get 100k misses", |b| {
        b.iter(|| keys.iter().filter(|k| full.get(&k[1..]).is_some()).count())
    });
    g.finish();
}

criterion_group!(benches, decoder, dispatch, dict);
criterion_main!(benches);
