//! Set and get of a ~100-byte struct per backend, next to the file-system floor measured in the
//! same run: raw `write` of a temp file + `rename` for a set, `fs::read` for a cold get.
//! `get warm` reads from the in-memory layer, cycling over 10,000 keys (and one hot key);
//! `set over budget` sets 20,000 keys in turn into a 5,000-entry disk budget (each set evicts
//! about one entry), next to write+rename over 5,000 names and a set without budget over 5,000
//! keys, the three interleaved operation by operation (the file system's speed drifts as files
//! are created and deleted).
//!
//! `get 1 MiB` reads a 1 MiB string next to `fs::read` of a 1 MiB file.
//!
//! `cargo bench --bench bucket` (e.g. `-- "get warm" --warm-up-time 1 --measurement-time 3`)

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

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
        group.bench_function(format!("{backend}/N={WARM_KEYS}"), |bench| {
            bench.iter(|| {
                i = (i + 1) % WARM_KEYS;
                black_box(b.get::<Value>(&("user", i)).unwrap().unwrap())
            })
        });
        assert_eq!(b.stats().store_hits, 0, "every read came from memory");
    }
    {
        let dir = tempfile::tempdir().unwrap();
        let b = bucket(dir.path(), "msgpack");
        b.set(&("user", 1), &value()).unwrap();
        group.bench_function("msgpack/one hot key", |bench| {
            bench.iter(|| black_box(b.get::<Value>(&("user", 1)).unwrap().unwrap()))
        });
    }
    group.finish();

    // The three writers below run interleaved, one operation each in turn, in every benchmark
    // of the group; each benchmark times only its own: the file system's state (which drifts
    // as files are created and deleted) is the same for all three.
    // One parent directory, so that the three directories sit together on the disk (ext4
    // places subdirectories and their files near their parent).
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
        // A `String` is checked to be UTF-8 whoever makes it: the floor of a get that returns
        // one (the bytes read, then validated).
        group.bench_function("floor: fs::read_to_string", |b| {
            b.iter(|| black_box(fs::read_to_string(&path).unwrap()))
        });
        // A JSON string is scanned for escapes as well: the floor of a json get.
        let json_path = dir.path().join(format!("{:064x}.json", 1));
        fs::write(&json_path, serde_json::to_vec(&big).unwrap()).unwrap();
        group.bench_function("floor: fs::read + serde_json String", |b| {
            b.iter(|| {
                let bytes = fs::read(&json_path).unwrap();
                black_box(serde_json::from_slice::<String>(&bytes).unwrap())
            })
        });
    }
    for backend in ["msgpack", "json"] {
        let dir = tempfile::tempdir().unwrap();
        bucket(dir.path(), backend).set("big", &big).unwrap();
        group.bench_function(backend, |bench| {
            bench.iter_batched(
                || bucket(dir.path(), backend),
                |b| (black_box(b.get::<String>("big").unwrap().unwrap()), b),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("set over budget");
    let parent = tempfile::tempdir().unwrap();
    let floor_dir = parent.path().join("floor");
    fs::create_dir(&floor_dir).unwrap();
    for i in 0..BUDGET_ENTRIES {
        fs::write(floor_dir.join(format!("{i:064x}.bin")), &payload).unwrap();
    }
    let plain = bucket(&parent.path().join("plain"), "msgpack");
    let budgeted = Bucket::builder(parent.path().join("budgeted"))
        .backend("msgpack")
        .max_entries(BUDGET_ENTRIES)
        .open()
        .unwrap();
    let v = value();
    for i in 0..BUDGET_ENTRIES {
        plain.set(&("user", i), &v).unwrap();
    }
    // Steady state: the budget is full before the first measured set.
    for i in 0..BUDGET_KEYS {
        budgeted.set(&("user", i), &v).unwrap();
    }
    let mut n = 0u64;
    let mut step = |timed: usize| -> Duration {
        n += 1;
        let mut took = Duration::ZERO;
        for which in 0..3 {
            let start = Instant::now();
            match which {
                0 => {
                    let i = n % BUDGET_ENTRIES;
                    let tmp = floor_dir.join(format!(".{i}.tmp"));
                    fs::write(&tmp, &payload).unwrap();
                    fs::rename(&tmp, floor_dir.join(format!("{i:064x}.bin"))).unwrap();
                }
                1 => plain.set(&("user", n % BUDGET_ENTRIES), &v).unwrap(),
                _ => budgeted.set(&("user", n % BUDGET_KEYS), &v).unwrap(),
            }
            if which == timed {
                took = start.elapsed();
            }
        }
        took
    };
    let names = [
        "floor: write temp + rename (5,000 names)",
        "msgpack, no budget (5,000 keys)",
        "msgpack, max_entries 5,000 (20,000 keys)",
    ];
    for (timed, name) in names.into_iter().enumerate() {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| step(timed)).sum())
        });
    }
    group.finish();
    let s = budgeted.stats();
    assert!(s.store_evictions >= BUDGET_KEYS - BUDGET_ENTRIES, "{s:?}");
    assert!(budgeted.inspector().usage().unwrap().entries <= BUDGET_ENTRIES);
}

/// Keys read by the warm-get benchmark.
const WARM_KEYS: u64 = 10_000;
/// The disk budget of the set-over-budget benchmark, in entries...
const BUDGET_ENTRIES: u64 = 5_000;
/// ...and the keys set into it in turn.
const BUDGET_KEYS: u64 = 20_000;

/// The msgpack envelope of the bench value: the same bytes the floor writes and reads.
fn rmp_like_payload() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket(dir.path(), "msgpack");
    b.set("x", &value()).unwrap();
    fs::read(b.path_for_key("x").unwrap()).unwrap()
}

criterion_group!(bucket_benches, benches);
criterion_main!(bucket_benches);
