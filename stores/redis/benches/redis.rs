//! The Redis store next to its floor, the `redis` crate's raw `SET`/`GET` of the same bytes on
//! the same server in the same run; and the near cache's hit next to the file store's warm and
//! cold get. The server is started like the tests' (`bucketcache_redis::testing`).
//!
//! `cargo bench -p bucketcache-redis --bench redis`
//!
//! Before criterion's groups (one after the other), a paired run measures each contender of a
//! comparison in turn, batch by batch, many rounds, and prints the medians and their ratio to
//! the floor as Markdown: on a shared, busy machine only interleaved figures compare fairly.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bucketcache::store::{ReadLimits, Store};
use bucketcache::Bucket;
use bucketcache_redis::redis;
use bucketcache_redis::testing::RedisServer;
use bucketcache_redis::{RedisOptions, RedisStore};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Value {
    id: u64,
    name: String,
    email: String,
    score: f64,
    active: bool,
    tags: Vec<String>,
}

fn value() -> Value {
    Value {
        id: 42,
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        score: 0.9375,
        active: true,
        tags: vec!["admin".into(), "ops".into()],
    }
}

const KEYS: u64 = 1000;
const ROUNDS: usize = 60;
const BATCH: usize = 200;

/// One operation of a contender: it prepares (untimed) and returns the time of the operation.
type Op<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// Runs the contenders in turn, `BATCH` operations each, for `ROUNDS` rounds; prints one
/// Markdown row per contender: median µs per operation and the ratio to the first.
fn paired(title: &str, mut contenders: Vec<(&str, Op<'_>)>) {
    let mut per_op: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for _ in 0..ROUNDS {
        for (k, (_, op)) in contenders.iter_mut().enumerate() {
            let total: Duration = (0..BATCH).map(|_| op()).sum();
            per_op[k].push(total.as_secs_f64() * 1e6 / BATCH as f64);
        }
    }
    let medians: Vec<f64> = per_op
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    println!("\n| {title} | median µs/op | × first |\n|---|---:|---:|");
    for ((label, _), m) in contenders.iter().zip(&medians) {
        println!("| {label} | {m:.2} | {:.2}× |", m / medians[0]);
    }
}

fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn name(i: u64) -> String {
    format!("{i:064x}.msgpack")
}

fn benches(c: &mut Criterion) {
    bucketcache::install_default_backends().unwrap();
    bucketcache_redis::register().unwrap();
    let server = match RedisServer::start() {
        Ok(server) => server,
        Err(why) => {
            eprintln!("SKIPPED the Redis benchmarks: {why}");
            return;
        }
    };
    let url = server.url();
    let bucket = |ns: &str| {
        Bucket::builder(ns)
            .backend("msgpack")
            .store(url.as_str())
            .open()
            .unwrap()
    };
    let b = bucket("bench");
    b.set("x", &value()).unwrap();
    let store = RedisStore::open(&url, "bench", RedisOptions::default()).unwrap();
    let limits = ReadLimits {
        max_bytes: 1 << 20,
        may_begin: &|_| true,
    };
    let name_x = b
        .path_for_key("x")
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let payload = match store.read(&name_x, &limits).unwrap() {
        bucketcache::store::Fetched::Bytes(bytes) => bytes,
        other => panic!("{other:?}"),
    };
    let mut raw = server.connection();
    for i in 0..KEYS {
        store.write(&name(i), &payload).unwrap();
        b.set(&("user", i), &value()).unwrap();
    }

    // Paired runs first (see the module's documentation).
    {
        let mut raw = server.connection();
        let (mut i, mut j, mut k) = (0u64, 0u64, 0u64);
        paired(
            "Redis set, ~100-byte msgpack entry",
            vec![
                (
                    "floor: raw `SET`",
                    Box::new(|| {
                        i = (i + 1) % KEYS;
                        let key = store.key_of(&name(i));
                        timed(|| {
                            redis::cmd("SET")
                                .arg(key)
                                .arg(&payload[..])
                                .exec(&mut raw)
                                .unwrap()
                        })
                    }),
                ),
                (
                    "store write",
                    Box::new(|| {
                        j = (j + 1) % KEYS;
                        let n = name(j);
                        timed(|| store.write(&n, &payload).unwrap())
                    }),
                ),
                (
                    "bucket set (msgpack)",
                    Box::new(|| {
                        k = (k + 1) % KEYS;
                        let v = value();
                        timed(|| b.set(&("user", k), &v).unwrap())
                    }),
                ),
            ],
        );
        let mut raw = server.connection();
        let (mut i, mut j, mut k) = (0u64, 0u64, 0u64);
        paired(
            "Redis get",
            vec![
                (
                    "floor: raw `GET`",
                    Box::new(|| {
                        i = (i + 1) % KEYS;
                        let key = store.key_of(&name(i));
                        timed(|| {
                            let got: Option<Vec<u8>> =
                                redis::cmd("GET").arg(key).query(&mut raw).unwrap();
                            black_box(got.unwrap());
                        })
                    }),
                ),
                (
                    "store read",
                    Box::new(|| {
                        j = (j + 1) % KEYS;
                        let n = name(j);
                        timed(|| {
                            black_box(store.read(&n, &limits).unwrap());
                        })
                    }),
                ),
                (
                    "bucket get, not in memory (msgpack)",
                    Box::new(|| {
                        k = (k + 1) % KEYS;
                        b.unload(&("user", k));
                        timed(|| {
                            black_box(b.get::<Value>(&("user", k)).unwrap().unwrap());
                        })
                    }),
                ),
            ],
        );
    }

    let mut group = c.benchmark_group("redis set");
    let mut i = 0u64;
    group.bench_function("floor: raw SET", |bench| {
        bench.iter(|| {
            i = (i + 1) % KEYS;
            redis::cmd("SET")
                .arg(store.key_of(&name(i)))
                .arg(&payload[..])
                .exec(&mut raw)
                .unwrap();
        })
    });
    group.bench_function("store write", |bench| {
        bench.iter(|| {
            i = (i + 1) % KEYS;
            store.write(&name(i), &payload).unwrap();
        })
    });
    group.bench_function("bucket set (msgpack)", |bench| {
        bench.iter(|| {
            i = (i + 1) % KEYS;
            b.set(&("user", i), &value()).unwrap();
        })
    });
    group.finish();

    let mut group = c.benchmark_group("redis get");
    group.bench_function("floor: raw GET", |bench| {
        bench.iter(|| {
            i = (i + 1) % KEYS;
            let got: Option<Vec<u8>> = redis::cmd("GET")
                .arg(store.key_of(&name(i)))
                .query(&mut raw)
                .unwrap();
            black_box(got.unwrap());
        })
    });
    group.bench_function("store read", |bench| {
        bench.iter(|| {
            i = (i + 1) % KEYS;
            black_box(store.read(&name(i), &limits).unwrap());
        })
    });
    group.bench_function("bucket get cold (msgpack)", |bench| {
        bench.iter_batched(
            || {
                i = (i + 1) % KEYS;
                b.unload(&("user", i));
                i
            },
            |i| black_box(b.get::<Value>(&("user", i)).unwrap().unwrap()),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    // The near cache's hit (memory dropped, the near file answers) next to the file store.
    let near_dir = tempfile::tempdir().unwrap();
    let near = Bucket::builder("bench")
        .backend("msgpack")
        .store(url.as_str())
        .near_cache(near_dir.path())
        .near_ttl(Duration::from_secs(3600))
        .open()
        .unwrap();
    let fs_dir = tempfile::tempdir().unwrap();
    let fs = Bucket::builder(fs_dir.path())
        .backend("msgpack")
        .open()
        .unwrap();
    for i in 0..KEYS {
        near.get::<Value>(&("user", i)).unwrap().unwrap(); // copied near
        fs.set(&("user", i), &value()).unwrap();
    }
    {
        let (mut i, mut j) = (0u64, 0u64);
        let (fs_ref, near_ref) = (&fs, &near);
        paired(
            "Near cache hit",
            vec![
                (
                    "fs store get cold (file read)",
                    Box::new(move || {
                        i = (i + 1) % KEYS;
                        fs_ref.unload(&("user", i));
                        timed(|| {
                            black_box(fs_ref.get::<Value>(&("user", i)).unwrap().unwrap());
                        })
                    }),
                ),
                (
                    "near cache hit, near file",
                    Box::new(move || {
                        j = (j + 1) % KEYS;
                        near_ref.unload(&("user", j));
                        timed(|| {
                            black_box(near_ref.get::<Value>(&("user", j)).unwrap().unwrap());
                        })
                    }),
                ),
                (
                    "fs store get warm (memory)",
                    Box::new(move || {
                        timed(|| {
                            black_box(fs_ref.get::<Value>(&("user", 1)).unwrap().unwrap());
                        })
                    }),
                ),
                (
                    "near cache hit, memory",
                    Box::new(move || {
                        timed(|| {
                            black_box(near_ref.get::<Value>(&("user", 1)).unwrap().unwrap());
                        })
                    }),
                ),
            ],
        );
    }
    let mut group = c.benchmark_group("near cache");
    for (label, bucket) in [("fs get cold", &fs), ("near hit (near file)", &near)] {
        group.bench_function(label, |bench| {
            bench.iter_batched(
                || {
                    i = (i + 1) % KEYS;
                    bucket.unload(&("user", i));
                    i
                },
                |i| black_box(bucket.get::<Value>(&("user", i)).unwrap().unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    for (label, bucket) in [("fs get warm", &fs), ("near hit (memory)", &near)] {
        bucket.get::<Value>(&("user", 1)).unwrap();
        group.bench_function(label, |bench| {
            bench.iter(|| black_box(bucket.get::<Value>(&("user", 1)).unwrap().unwrap()))
        });
    }
    group.finish();
    drop(server);
}

criterion_group! {
    name = redis_benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(redis_benches);
