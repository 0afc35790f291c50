//! The async API against the blocking one, in one run on the same data (feature `async`):
//!
//! - `get` of a memory hit, a file-store hit, an LMDB hit (with `--features lmdb`) and a Redis
//!   hit (a throwaway `redis-server`, see `bucketcache_redis::testing`) — the store hits with
//!   the memory layer off, so that every read reaches the store;
//! - next to the Redis hits, a raw redis-rs async `GET` of the same key on a multiplexed
//!   connection (the floor of a native async read);
//! - a memoized hit (`get_or_insert_with`, memory);
//! - the blocking-pool hop alone (`spawn_blocking` of nothing, awaited).
//!
//! Async cases run on a current-thread tokio runtime, `iters` calls inside one `block_on`.
//!
//! `cargo bench --bench async --features lmdb`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bucketcache::{AsyncBucket, Bucket};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const KEY: (&str, u32) = ("user", 7);
const VALUE: (&str, u32, [f64; 3]) = ("Ada Lovelace", 1815, [1.5, 2.5, 3.5]);
type Value = (String, u32, [f64; 3]);

/// `sync/<name>` and `async/<name>`: a `get` of `KEY` through `bucket`.
fn sync_and_async(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    bucket: &Bucket,
) {
    bucket.set(&KEY, &VALUE).unwrap();
    assert!(bucket.get::<Value>(&KEY).unwrap().is_some());
    g.bench_function(format!("sync/{name}"), |b| {
        b.iter(|| black_box(bucket.get::<Value>(&KEY).unwrap()))
    });
    let cache = AsyncBucket::new(bucket.clone());
    let rt = runtime();
    g.bench_function(format!("async/{name}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(cache.get::<Value>(&KEY).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
}

fn gets(c: &mut Criterion) {
    bucketcache::install_default_backends().unwrap();
    let mut g = c.benchmark_group("async_vs_sync_get");
    let dir = tempfile::tempdir().unwrap();

    let memory = Bucket::builder(dir.path().join("memory")).open().unwrap();
    sync_and_async(&mut g, "memory_hit", &memory);

    let fs = Bucket::builder(dir.path().join("fs"))
        .memory_limit(0)
        .open()
        .unwrap();
    sync_and_async(&mut g, "fs_hit", &fs);

    #[cfg(feature = "lmdb")]
    {
        let lmdb = Bucket::builder(dir.path().join("lmdb"))
            .store("lmdb")
            .memory_limit(0)
            .open()
            .unwrap();
        sync_and_async(&mut g, "lmdb_hit", &lmdb);
    }

    match bucketcache_redis::testing::RedisServer::start() {
        Ok(server) => {
            bucketcache_redis::register().unwrap();
            let redis = Bucket::builder("bench-async")
                .store(server.url())
                .memory_limit(0)
                .open()
                .unwrap();
            sync_and_async(&mut g, "redis_hit", &redis);
            // The floor: the same key, raw, on a multiplexed connection.
            let key = format!(
                "bench-async:{}.{}",
                redis.hash_for_key(&KEY).unwrap(),
                redis.backend().file_extension()
            );
            let rt = runtime();
            let client = bucketcache_redis::redis::Client::open(server.url()).unwrap();
            let mut con = rt
                .block_on(client.get_multiplexed_async_connection())
                .unwrap();
            g.bench_function("raw_redis_rs_async_get", |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let v: Option<Vec<u8>> = bucketcache_redis::redis::cmd("GET")
                                .arg(&key)
                                .query_async(&mut con)
                                .await
                                .unwrap();
                            black_box(v);
                        }
                        start.elapsed()
                    })
                })
            });
        }
        Err(why) => eprintln!("SKIPPED the Redis cases: {why}"),
    }
    g.finish();
}

fn memoized(c: &mut Criterion) {
    let mut g = c.benchmark_group("async_vs_sync_memoized_hit");
    let dir = tempfile::tempdir().unwrap();
    let bucket = Bucket::builder(dir.path()).open().unwrap();
    let _: u64 = bucket.get_or_insert_with(&("square", 12), || 144).unwrap();
    g.bench_function("sync", |b| {
        b.iter(|| {
            let v: u64 = bucket.get_or_insert_with(&("square", 12), || 0).unwrap();
            black_box(v)
        })
    });
    let cache = AsyncBucket::new(bucket.clone());
    let rt = runtime();
    g.bench_function("async", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let v: u64 = cache
                        .get_or_insert_with(&("square", 12), || async { 0 })
                        .await
                        .unwrap();
                    black_box(v);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn hop(c: &mut Criterion) {
    let mut g = c.benchmark_group("blocking_pool_hop");
    for (name, rt) in [
        ("current_thread", runtime()),
        ("multi_thread", tokio::runtime::Runtime::new().unwrap()),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        tokio::task::spawn_blocking(|| black_box(1)).await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = gets, memoized, hop
}
criterion_main!(benches);
