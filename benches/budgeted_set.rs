//! A budgeted `set` on LMDB and on Redis at 1 k and at 50 k entries: the store keeps its own
//! usage and recency index (`Store::usage`, `Store::eviction_candidates`), so the cost of a
//! `set` over budget does not grow with the number of entries (no listing, no record).
//!
//! `cargo bench -p bucketcache --bench budgeted_set`
//!
//! Each location is filled to its budget (`max_entries` = N) first; every measured `set` writes
//! a new key, so the location stays at its budget and evicts (a tenth of the budget at a time,
//! down to the low-water mark): the figure includes the amortised eviction.

use std::sync::atomic::{AtomicU64, Ordering};

use bucketcache::Bucket;
use bucketcache_redis::testing::RedisServer;
use criterion::{criterion_group, criterion_main, Criterion};

const SIZES: [u64; 2] = [1_000, 50_000];

fn fill(b: &Bucket, n: u64) {
    for i in 0..n {
        b.set(&format!("fill-{i}"), &i).unwrap();
    }
}

fn bench(
    c: &mut Criterion,
    name: &str,
    make: &dyn Fn(u64) -> Bucket,
    make_unbudgeted: &dyn Fn(u64) -> Bucket,
) {
    let mut group = c.benchmark_group(format!("set over budget ({name})"));
    group.sample_size(20);
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(3));
    for n in SIZES {
        let b = make(n);
        fill(&b, n);
        let next = AtomicU64::new(0);
        group.bench_function(format!("{n} entries"), |bench| {
            bench.iter(|| {
                let i = next.fetch_add(1, Ordering::Relaxed);
                b.set(&format!("new-{i}"), &i).unwrap();
            })
        });
        let usage = b.inspector().usage().unwrap();
        assert!(usage.entries <= n, "{usage:?}");
        drop(b);
        // The floor: the same store without a budget, held at the same number of entries by
        // overwriting them in turn (on LMDB a write transaction grows with the B+tree's depth).
        let floor = make_unbudgeted(n);
        fill(&floor, n);
        group.bench_function(format!("{n} entries, no budget"), |bench| {
            bench.iter(|| {
                let i = next.fetch_add(1, Ordering::Relaxed);
                floor.set(&format!("fill-{}", i % n), &i).unwrap();
            })
        });
    }
    group.finish();
}

fn lmdb(c: &mut Criterion) {
    bucketcache::install_default_backends().unwrap();
    bucketcache_lmdb::register().unwrap();
    let dirs: Vec<_> = SIZES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let floors: Vec<_> = SIZES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let unbudgeted = |n: u64| {
        let dir = &floors[SIZES.iter().position(|&s| s == n).unwrap()];
        Bucket::builder(dir.path())
            .store("lmdb")
            .backend("json")
            .open()
            .unwrap()
    };
    let make = |n: u64| {
        let dir = &dirs[SIZES.iter().position(|&s| s == n).unwrap()];
        Bucket::builder(dir.path())
            .store("lmdb")
            .backend("json")
            .max_entries(n)
            .open()
            .unwrap()
    };
    bench(c, "lmdb", &make, &unbudgeted);
}

fn redis(c: &mut Criterion) {
    bucketcache::install_default_backends().unwrap();
    bucketcache_redis::register().unwrap();
    let Ok(server) = RedisServer::start() else {
        eprintln!("no redis-server: the Redis group is skipped");
        return;
    };
    let make = |n: u64| {
        Bucket::builder(format!("bench-{n}"))
            .store(server.url())
            .backend("json")
            .max_entries(n)
            .open()
            .unwrap()
    };
    let unbudgeted = |n: u64| {
        Bucket::builder(format!("floor-{n}"))
            .store(server.url())
            .backend("json")
            .open()
            .unwrap()
    };
    bench(c, "redis", &make, &unbudgeted);
}

criterion_group!(benches, lmdb, redis);
criterion_main!(benches);
