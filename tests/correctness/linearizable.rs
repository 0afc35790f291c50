//! **Rule: a bucket is linearizable per key for one process.** Once `set(k, v2)` or `remove(k)`
//! has returned, no `get` (or memoized call) that starts later returns an older value — whatever
//! the store (files, LMDB, Redis), the in-memory layer (on or off) and the near cache.
//!
//! One thread loops `set(k, i)` / `remove(k)` (or `set` / `shrink_to(0)`, the path of prune and
//! eviction) and publishes, after each returns, a stamp of the last completed mutation; other
//! threads `get(k)` (one of them through a memoized call) and judge each answer against the
//! stamp they read *before* starting: an older value is a stale read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bucketcache::{Bucket, BucketBuilder};

/// Reads judged per configuration.
const GETS: u64 = 20_000;
/// What a memoized reader stores when it finds nothing (never judged stale).
const ABSENT: u64 = u64::MAX;
const KEY: &str = "contested";

/// How the writer takes the value away after each `set`.
#[derive(Clone, Copy, Debug)]
enum Removal {
    /// `remove(k)`.
    Remove,
    /// `shrink_to(None, Some(0))`: the removal path of prune and disk-budget eviction.
    Shrink,
}

/// Runs the race on `bucket` and returns the stale reads seen among [`GETS`] reads, with the
/// first few of them (reader, stamp before the read, value read) for the failure message.
fn stale_reads(bucket: &Bucket, removal: Removal) -> (u64, Vec<(usize, u64, u64)>) {
    // 2i: `set(k, i)` returned; 2i + 1: the removal after it returned.
    let stamp = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let gets = AtomicU64::new(0);
    let stale = AtomicU64::new(0);
    let seen = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !done.load(Ordering::SeqCst) {
                i += 1;
                bucket.set(KEY, &i).unwrap();
                stamp.store(2 * i, Ordering::SeqCst);
                match removal {
                    Removal::Remove => {
                        bucket.remove(KEY).unwrap();
                    }
                    Removal::Shrink => {
                        bucket.shrink_to(None, Some(0)).unwrap();
                    }
                }
                stamp.store(2 * i + 1, Ordering::SeqCst);
            }
        });
        for reader in 0..3 {
            let (stamp, done, gets, stale, seen) = (&stamp, &done, &gets, &stale, &seen);
            s.spawn(move || {
                while gets.fetch_add(1, Ordering::SeqCst) < GETS {
                    let before = stamp.load(Ordering::SeqCst);
                    let got = if reader == 0 {
                        Some(bucket.get_or_insert_with(KEY, || ABSENT).unwrap())
                    } else {
                        bucket.get::<u64>(KEY).unwrap()
                    };
                    let last = before / 2;
                    let older = match got {
                        Some(ABSENT) | None => false,
                        // After `set(k, last)` returned: nothing before `last`.
                        Some(v) if before % 2 == 0 => v < last,
                        // After the removal of `last` returned: not `last` nor before.
                        Some(v) => v <= last,
                    };
                    if older {
                        stale.fetch_add(1, Ordering::SeqCst);
                        let mut seen = seen.lock().unwrap();
                        if seen.len() < 5 {
                            seen.push((reader, before, got.unwrap_or_default()));
                        }
                    }
                }
                done.store(true, Ordering::SeqCst);
            });
        }
    });
    (stale.load(Ordering::SeqCst), seen.into_inner().unwrap())
}

fn check(name: &str, builder: impl Fn() -> BucketBuilder) {
    bucketcache::install_default_backends().unwrap();
    let mut failures = Vec::new();
    for memory in [true, false] {
        for removal in [Removal::Remove, Removal::Shrink] {
            let b = builder()
                .memory_limit(if memory { 1 << 20 } else { 0 })
                .open()
                .unwrap();
            let (stale, first) = stale_reads(&b, removal);
            if stale > 0 {
                failures.push(format!(
                    "memory layer {}, {removal:?}: {stale}, the first (reader, stamp before, \
                     value): {first:?}",
                    if memory { "on" } else { "off" }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: reads (of {GETS}) that returned a value older than the last completed \
         set/removal: {failures:?}"
    );
}

#[test]
fn a_get_after_a_set_or_remove_returned_never_sees_an_older_value_on_files() {
    let dir = tempfile::tempdir().unwrap();
    check("fs", || Bucket::builder(dir.path()).backend("msgpack"));
}

#[cfg(feature = "lmdb")]
#[test]
fn a_get_after_a_set_or_remove_returned_never_sees_an_older_value_on_lmdb() {
    let dir = tempfile::tempdir().unwrap();
    check("lmdb", || {
        Bucket::builder(dir.path()).backend("msgpack").store("lmdb")
    });
}

#[test]
fn a_get_after_a_set_or_remove_returned_never_sees_an_older_value_on_redis() {
    use bucketcache_redis::testing::RedisServer;
    let Some(server) = RedisServer::shared(
        "a_get_after_a_set_or_remove_returned_never_sees_an_older_value_on_redis",
    ) else {
        return;
    };
    bucketcache_redis::register().unwrap();
    let ns = format!("linearizable-{}", std::process::id());
    check("redis", || {
        Bucket::builder(&ns).backend("msgpack").store(server.url())
    });
}

#[test]
fn a_get_after_a_set_or_remove_returned_never_sees_an_older_value_through_a_near_cache() {
    use bucketcache_redis::testing::RedisServer;
    let Some(server) = RedisServer::shared(
        "a_get_after_a_set_or_remove_returned_never_sees_an_older_value_through_a_near_cache",
    ) else {
        return;
    };
    bucketcache_redis::register().unwrap();
    let ns = format!("linearizable-near-{}", std::process::id());
    let near = tempfile::tempdir().unwrap();
    check("redis with a near cache", || {
        Bucket::builder(&ns)
            .backend("msgpack")
            .store(server.url())
            .near_cache(near.path())
    });
}
