//! The LMDB store's own accounting: usage kept in every write transaction, a recency index,
//! budgets that use them, and the resize lock's deadline.

use std::sync::Arc;
use std::time::Duration;

use bucketcache_core::budget::Usage;
use bucketcache_core::store::{Store, StoreOptions};
use bucketcache_core::time::ManualClock;
use bucketcache_core::Bucket;
use bucketcache_lmdb::LmdbStore;

fn setup() {
    bucketcache::install_default_backends().unwrap();
    bucketcache_lmdb::register().unwrap();
}

/// The usage from a full listing of the store.
fn listed_usage(store: &LmdbStore) -> Usage {
    let listed = store.list().unwrap();
    Usage::new(
        listed.len() as u64,
        listed.iter().map(|l| l.size).sum::<u64>(),
    )
}

#[test]
fn usage_stays_exact_after_sets_overwrites_removes_and_prune() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2030-01-01T00:00:00".parse().unwrap()));
    let b = Bucket::builder(dir.path())
        .store("lmdb")
        .backend("json")
        .clock(clock.clone())
        .lifetime(Duration::from_secs(60))
        .open()
        .unwrap();
    let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
    let check = |when: &str| {
        let usage = store
            .usage()
            .unwrap()
            .expect("the LMDB store counts its usage");
        assert_eq!(usage, listed_usage(&store), "{when}");
        assert_eq!(usage, b.inspector().usage().unwrap(), "{when}");
    };
    check("empty");
    for i in 0..100 {
        b.set(&i, &"x".repeat(i)).unwrap();
    }
    check("after sets");
    for i in 0..50 {
        b.set(&i, &"y".repeat(200 - i)).unwrap(); // overwrites, larger
    }
    check("after overwrites");
    for i in 0..30 {
        assert!(b.remove(&(i * 3)).unwrap());
    }
    assert!(!b.remove(&"never set").unwrap());
    check("after removes");
    clock.advance(Duration::from_secs(61));
    for i in 1000..1010 {
        b.set(&i, &i).unwrap(); // written after the others: not expired
    }
    let pruned = b.prune().unwrap();
    assert_eq!(pruned.files, 70, "{pruned:?}");
    check("after prune");
    assert_eq!(store.usage().unwrap().unwrap().entries, 10);
}

#[test]
fn a_budget_on_lmdb_holds_without_a_record_and_evicts_the_least_recently_used() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .store("lmdb")
        .backend("json")
        .max_entries(50)
        .open()
        .unwrap();
    for i in 0..400 {
        b.set(&i, &i).unwrap();
        b.unload(&0);
        assert_eq!(
            b.get::<i32>(&0).unwrap(),
            Some(0),
            "used on every set: never evicted"
        );
        let usage = b.inspector().usage().unwrap();
        assert!(usage.entries <= 50, "{i}: {usage:?}");
    }
    assert!(b.stats().store_evictions >= 350, "{:?}", b.stats());
    assert_eq!(
        b.stats().store_entries,
        Some(b.inspector().usage().unwrap().entries)
    );
    assert!(
        !dir.path().join(".bucketcache-budget").exists(),
        "the store counts: no record file"
    );
    // The most recent survive.
    assert_eq!(b.get::<i32>(&399).unwrap(), Some(399));
    assert_eq!(b.get::<i32>(&100).unwrap(), None);
}

#[test]
fn a_budget_of_bytes_on_lmdb_holds_after_every_set() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .store("lmdb")
        .backend("json")
        .max_bytes(10_000)
        .open()
        .unwrap();
    for i in 0..300 {
        b.set(&i, &"z".repeat(i % 97)).unwrap();
        let usage = b.inspector().usage().unwrap();
        assert!(usage.bytes <= 10_000, "{i}: {usage:?}");
    }
}

#[test]
fn the_accounting_is_never_listed_as_entries_and_stat_is_one_lookup() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
    store.write("0a.json", b"{}").unwrap();
    store.write("0b.json", b"[1]").unwrap();
    let names: Vec<_> = store.list().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["0a.json", "0b.json"]);
    let stat = store.stat("0b.json").unwrap().unwrap();
    assert_eq!(stat.size, 3);
    assert!(stat.used.is_some());
    assert_eq!(store.stat(".bucketcache-usage").unwrap(), None);
    assert_eq!(store.stat("missing.json").unwrap(), None);
    // Least recently used first; a touch moves an entry last.
    let order = |s: &LmdbStore| -> Vec<String> {
        let c = s.eviction_candidates(10).unwrap().unwrap();
        c.into_iter().map(|l| l.name).collect()
    };
    assert_eq!(order(&store), ["0a.json", "0b.json"]);
    store.touch("0a.json").unwrap();
    assert_eq!(order(&store), ["0b.json", "0a.json"]);
    // A candidate used since it was listed stays.
    let stale = store.eviction_candidates(1).unwrap().unwrap().remove(0);
    store.touch(&stale.name).unwrap();
    assert_eq!(store.remove_if_unchanged(&stale).unwrap(), None);
    let fresh = store.stat(&stale.name).unwrap().unwrap();
    assert_eq!(store.remove_if_unchanged(&fresh).unwrap(), Some(fresh.size));
    assert_eq!(store.usage().unwrap().unwrap(), Usage::new(1, 2));
    assert_eq!(order(&store), ["0a.json"]);
}

#[test]
fn the_usage_is_the_listing_after_the_environment_is_reopened() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
        for i in 0..20 {
            store
                .write(&format!("{i:02}.json"), &vec![b'1'; i])
                .unwrap();
        }
    }
    let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
    assert_eq!(store.usage().unwrap().unwrap(), listed_usage(&store));
}

#[cfg(target_os = "linux")]
#[test]
fn a_resize_lock_held_by_another_process_fails_the_open_at_the_deadline_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(bucketcache_lmdb::RESIZE_LOCK_FILE);
    std::fs::write(&lock, b"").unwrap();
    // Another process takes the lock and keeps it.
    let mut holder = std::process::Command::new("flock")
        .arg("-o") // the lock stays with flock(1) alone, which is killed below
        .arg(&lock)
        .args(["sleep", "10"])
        .spawn()
        .expect("flock(1) holds the lock");
    let held = std::time::Instant::now();
    while std::time::Instant::now() - held < Duration::from_secs(10) {
        let f = std::fs::File::open(&lock).unwrap();
        if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared).is_err() {
            break; // the holder has it
        }
        drop(f);
        std::thread::sleep(Duration::from_millis(10));
    }
    let options = StoreOptions::new(dir.path()).lock_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = LmdbStore::open(&options).unwrap_err();
    let waited = started.elapsed();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        matches!(err, bucketcache_core::Error::Store { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(".bucketcache-lmdb.lock"), "{message}");
    assert!(message.contains("still held"), "{message}");
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    // Once free, it opens.
    assert!(LmdbStore::open(&options).is_ok());
}

#[test]
fn a_batch_of_victims_goes_in_one_call_and_those_used_since_stay() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
    for i in 0..10 {
        store
            .write(&format!("{i:02x}.json"), &vec![b'1'; i + 1])
            .unwrap();
    }
    let victims = store.eviction_candidates(4).unwrap().unwrap();
    store.touch(&victims[1].name).unwrap(); // used since it was listed: stays
    store.write(&victims[2].name, b"22").unwrap(); // rewritten since: stays
    let removed = store.remove_all_if_unchanged(&victims);
    assert_eq!(removed, [Some(1), None, None, Some(4)]);
    assert_eq!(store.stat(&victims[0].name).unwrap(), None);
    assert!(store.stat(&victims[1].name).unwrap().is_some());
    assert_eq!(store.usage().unwrap().unwrap(), listed_usage(&store));
    assert_eq!(store.usage().unwrap().unwrap().entries, 8);
}
