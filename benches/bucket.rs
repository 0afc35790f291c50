//! Set and get of a ~100-byte struct per backend, next to the file-system floor measured in the
//! same run: raw `write` of a temp file + `rename` for a set, `fs::read` for a cold get; a 1 MiB
//! value next to `fs::read` of a 1 MiB file; warm gets over 10,000 keys held in memory.
//!
//! `cargo bench --bench bucket` (filter with e.g. `-- "get cold"`)

use std::fs;
use std::hint::black_box;
use std::path::Path;

use bucketcache::Bucket;
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
/// Keys of the warm-get benchmark (the N).
const WARM_KEYS: u64 = 10_000;
const BACKENDS: [&str; 3] = ["msgpack", "json", "pickle"];

fn bucket(dir: &Path, backend: &str) -> Bucket {
    Bucket::builder(dir).backend(backend).open().unwrap()
}

fn benches(c: &mut Criterion) {
    let payload = rmp_like_payload();
    let mut group = c.benchmark_group("set");
    {
        let dir = tempfile::tempdir().unwrap();
        let mut i = 0u64;
        group.bench_function("floor: write temp + rename", |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                let tmp = dir.path().join(format!(".{i}.tmp"));
                fs::write(&tmp, &payload).unwrap();
                fs::rename(&tmp, dir.path().join(format!("{i:064x}.bin"))).unwrap();
            })
        });
    }
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = bucket(dir.path(), backend);
        let v = value();
        let mut i = 0u64;
        group.bench_function(backend, |bench| {
            bench.iter(|| {
                i = (i + 1) % KEYS;
                b.set(&("user", i), &v).unwrap();
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("get cold");
    {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..KEYS {
            fs::write(dir.path().join(format!("{i:064x}.bin")), &payload).unwrap();
        }
        let mut i = 0u64;
        group.bench_function("floor: fs::read", |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(fs::read(dir.path().join(format!("{i:064x}.bin"))).unwrap());
            })
        });
    }
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let writer = bucket(dir.path(), backend);
        for i in 0..KEYS {
            writer.set(&("user", i), &value()).unwrap();
        }
        let mut i = 0u64;
        group.bench_function(backend, |bench| {
            bench.iter_batched(
                || {
                    i = (i + 1) % KEYS;
                    (bucket(dir.path(), backend), i)
                },
                // The bucket is returned, so that dropping it is not timed.
                |(b, i)| (black_box(b.get::<Value>(&("user", i)).unwrap().unwrap()), b),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("get warm");
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = bucket(dir.path(), backend);
        for i in 0..WARM_KEYS {
            b.set(&("user", i), &value()).unwrap();
        }
        let mut i = 0u64;
        group.bench_function(format!("{backend}, {WARM_KEYS} keys"), |bench| {
            bench.iter(|| {
                i = (i + 7919) % WARM_KEYS;
                black_box(b.get::<Value>(&("user", i)).unwrap().unwrap())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("get 1 MiB");
    group.sample_size(20);
    let big = "x".repeat(1 << 20);
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{:064x}.bin", 1));
        fs::write(&path, &big).unwrap();
        group.bench_function("floor: fs::read", |b| {
            b.iter(|| black_box(fs::read(&path).unwrap()))
        });
    }
    {
        let dir = tempfile::tempdir().unwrap();
        bucket(dir.path(), "msgpack").set("big", &big).unwrap();
        group.bench_function("msgpack", |bench| {
            bench.iter_batched(
                || bucket(dir.path(), "msgpack"),
                |b| (black_box(b.get::<String>("big").unwrap().unwrap()), b),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// The msgpack envelope of the bench value: the same bytes the floor writes and reads.
fn rmp_like_payload() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket(dir.path(), "msgpack");
    b.set("x", &value()).unwrap();
    fs::read(b.path_for_key("x").unwrap()).unwrap()
}

criterion_group!(bucket_benches, benches);
criterion_main!(bucket_benches);
