//! The original's two benchmarks (`test_benchmarks.py`):
//!
//! - the overhead of a memoized call: a plain call, a hit through the same `Bucket` (warm: the
//!   entry is in memory), a hit through a new `Bucket` each time (cold: the file is read), and a
//!   `nocache` call (the original's `test_cache_overhead`: compute and overwrite);
//! - 500 overwrites of 10 keys, immediate writes against `deferred_write`;
//! - single flight across processes: a miss with the cross-process lock next to a miss without
//!   it (the lock's cost), and a hit with and without it (a hit takes no lock).
//!
//! - freshness: a warm hit with the options off, with stale-while-revalidate and
//!   stale-if-error, with refresh ahead, and a stale hit (an expired entry served within the
//!   window while another process holds its refresh).
//!
//! `cargo bench --bench memoize`

use std::hint::black_box;
use std::path::Path;

use bucketcache::{deferred_write, Bucket};
use criterion::{criterion_group, criterion_main, Criterion};

fn plain(a: i64, b: i64) -> i64 {
    black_box(a) * black_box(b)
}

#[bucketcache::cached(bucket = bucket, ignore(bucket), nocache = refresh)]
fn memoized(bucket: &Bucket, a: i64, b: i64, refresh: bool) -> i64 {
    black_box(a) * black_box(b)
}

fn open(dir: &Path) -> Bucket {
    Bucket::builder(dir).backend("json").open().unwrap()
}

fn overhead(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let warm = open(dir.path());
    memoized(&warm, 6, 7, false);
    let mut g = c.benchmark_group("memoize_overhead");
    g.bench_function("plain_call", |b| b.iter(|| plain(6, 7)));
    // The same read without the macro, for comparison: a warm `get` of a similar key.
    warm.set(&("memoized", 6, 7), &42i64).unwrap();
    g.bench_function("bucket_get_warm", |b| {
        b.iter(|| warm.get::<i64>(&("memoized", 6, 7)).unwrap())
    });
    g.bench_function("hit_warm", |b| b.iter(|| memoized(&warm, 6, 7, false)));
    g.bench_function("hit_cold", |b| {
        // A new `Bucket` has an empty memory layer: the hit reads the file.
        b.iter(|| memoized(&open(dir.path()), 6, 7, false))
    });
    // What the cold case pays besides the read.
    g.bench_function("open_bucket_only", |b| b.iter(|| open(dir.path())));
    g.bench_function("nocache_call", |b| b.iter(|| memoized(&warm, 6, 7, true)));
    g.finish();
}

fn single_flight(c: &mut Criterion) {
    let mut g = c.benchmark_group("single_flight_across_processes");
    for across in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let b = Bucket::builder(dir.path())
            .backend("msgpack")
            .single_flight_across_processes(across)
            .open()
            .unwrap();
        let label = if across { "with lock" } else { "without lock" };
        let mut i = 0u64;
        // A miss: lookup, (lock,) compute, store, (unlock).
        g.bench_function(format!("miss, {label}"), |bench| {
            bench.iter(|| {
                i += 1;
                let v: u64 = b.get_or_insert_with(&("miss", i), || i).unwrap();
                black_box(v)
            })
        });
        b.set("hit", &1u64).unwrap();
        g.bench_function(format!("hit, {label}"), |bench| {
            bench.iter(|| {
                let v: u64 = b.get_or_insert_with("hit", || unreachable!()).unwrap();
                black_box(v)
            })
        });
    }
    g.finish();
}

fn overwrites(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path());
    let mut g = c.benchmark_group("500_overwrites_of_10_keys");
    g.sample_size(10);
    g.bench_function("immediate", |bench| {
        bench.iter(|| {
            for i in 0..500 {
                b.set(&(i % 10), &i).unwrap();
            }
        })
    });
    g.bench_function("deferred", |bench| {
        bench.iter(|| {
            deferred_write(&b, |d| {
                for i in 0..500 {
                    d.set(&(i % 10), &i)?;
                }
                Ok::<_, bucketcache::Error>(())
            })
            .unwrap()
        })
    });
    g.finish();
}

fn freshness(c: &mut Criterion) {
    use std::sync::Arc;
    use std::time::Duration;
    let mut g = c.benchmark_group("freshness");
    for label in ["off", "swr+sie", "refresh ahead", "stale hit"] {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(bucketcache::ManualClock::starting_now());
        let mut builder = Bucket::builder(dir.path())
            .backend("msgpack")
            .clock(clock.clone())
            .lifetime(Duration::from_secs(3600));
        builder = match label {
            "off" => builder,
            "refresh ahead" => builder.refresh_ahead(true),
            _ => builder
                .stale_while_revalidate(Duration::from_secs(600))
                .stale_if_error(Duration::from_secs(600)),
        };
        let b = builder.open().unwrap();
        let v: u64 = b.get_or_insert_with("hot", || 1).unwrap();
        black_box(v);
        // "Another process" refreshes the expired entry: this one serves it stale.
        let _held = (label == "stale hit").then(|| {
            clock.advance(Duration::from_secs(3601));
            let digest = b.hash_for_key("hot").unwrap();
            b.store().try_lock(&digest).unwrap()
        });
        g.bench_function(format!("hit, {label}"), |bench| {
            bench.iter(|| {
                let v: u64 = b.get_or_insert_with("hot", || unreachable!()).unwrap();
                black_box(v)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, overhead, overwrites, single_flight, freshness);
criterion_main!(benches);
