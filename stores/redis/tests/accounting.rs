//! The Redis store's own accounting against a real `redis-server`: the usage hash and the
//! recency index kept by the scripts that change entries, and budgets that use them.

use std::sync::Arc;
use std::time::Duration;

use bucketcache::{Bucket, ManualClock, Store};
use bucketcache_core::budget::Usage;
use bucketcache_redis::redis;
use bucketcache_redis::testing::RedisServer;
use bucketcache_redis::{RedisOptions, RedisStore};

fn setup() {
    bucketcache::install_default_backends().unwrap();
    bucketcache_redis::register().unwrap();
}

fn ns(test: &str) -> String {
    format!("acct{}-{test}", std::process::id())
}

fn listed_usage(store: &RedisStore) -> Usage {
    let listed = store.list().unwrap();
    Usage::new(
        listed.len() as u64,
        listed.iter().map(|l| l.size).sum::<u64>(),
    )
}

#[test]
fn redis_usage_stays_exact_after_sets_overwrites_removes_and_prune() {
    let Some(server) = RedisServer::shared("redis_usage_stays_exact") else {
        return;
    };
    setup();
    let namespace = ns("exact");
    let clock = Arc::new(ManualClock::new("2030-01-01T00:00:00".parse().unwrap()));
    let b = Bucket::builder(&namespace)
        .backend("json")
        .store(server.url())
        .clock(clock.clone())
        .lifetime(Duration::from_secs(60))
        .max_entries(1_000_000)
        .open()
        .unwrap();
    let store = RedisStore::open(&server.url(), &namespace, RedisOptions::default()).unwrap();
    // Written before the namespace was counted: the first use counts it once.
    b.set(&"early", &1).unwrap();
    let check = |when: &str| {
        let usage = store
            .usage()
            .unwrap()
            .expect("the Redis store counts its usage");
        assert_eq!(usage, listed_usage(&store), "{when}");
        assert_eq!(usage, b.inspector().usage().unwrap(), "{when}");
    };
    check("first count");
    for i in 0..100 {
        b.set(&i, &"x".repeat(i)).unwrap();
    }
    check("after sets");
    for i in 0..50 {
        b.set(&i, &"y".repeat(200 - i)).unwrap();
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
    assert_eq!(pruned.files, 71, "{pruned:?}");
    check("after prune");
    // Helper keys are never entries.
    let names: Vec<_> = store.list().unwrap().into_iter().map(|l| l.name).collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    assert_eq!(names.len() as u64, store.usage().unwrap().unwrap().entries);
}

#[test]
fn an_entry_redis_expired_is_uncounted_when_it_reaches_the_front_of_the_recency_index() {
    let Some(server) = RedisServer::shared("an_entry_redis_expired") else {
        return;
    };
    setup();
    let namespace = ns("expired");
    let store = RedisStore::open(&server.url(), &namespace, RedisOptions::default()).unwrap();
    assert_eq!(store.usage().unwrap(), Some(Usage::new(0, 0)));
    let soon = std::time::SystemTime::now() + Duration::from_millis(50);
    store
        .write_expiring("a.json", b"12345", Some(soon))
        .unwrap();
    store.write("b.json", b"123").unwrap();
    assert_eq!(store.usage().unwrap(), Some(Usage::new(2, 8)));
    std::thread::sleep(Duration::from_millis(120)); // Redis's own expiry, not a timing check
    let candidates = store.eviction_candidates(10).unwrap().unwrap();
    let names: Vec<_> = candidates.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["b.json"]);
    assert_eq!(store.usage().unwrap(), Some(Usage::new(1, 3)));
    assert_eq!(store.stat("b.json").unwrap().unwrap().size, 3);
    assert_eq!(store.stat(".usage").unwrap(), None);
}

#[test]
fn a_budget_on_redis_holds_and_evicts_the_least_recently_used() {
    let Some(server) = RedisServer::shared("a_budget_on_redis_holds") else {
        return;
    };
    setup();
    let namespace = ns("budget");
    let b = Bucket::builder(&namespace)
        .backend("json")
        .store(server.url())
        .max_entries(50)
        .open()
        .unwrap();
    for i in 0..300 {
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
    assert!(b.stats().store_evictions >= 250, "{:?}", b.stats());
    assert_eq!(b.get::<i32>(&299).unwrap(), Some(299));
    assert_eq!(b.get::<i32>(&100).unwrap(), None);
}

#[test]
fn a_budget_on_redis_behind_a_near_cache_keeps_the_stores_count_and_recency() {
    let Some(server) = RedisServer::shared("a_budget_on_redis_behind_a_near_cache") else {
        return;
    };
    setup();
    let namespace = ns("near-budget");
    let near = tempfile::tempdir().unwrap();
    let b = Bucket::builder(&namespace)
        .backend("json")
        .store(server.url())
        .near_cache(near.path())
        .max_entries(20)
        .open()
        .unwrap();
    let store = RedisStore::open(&server.url(), &namespace, RedisOptions::default()).unwrap();
    // The near cache forwards what it does not change: the far store's count, recency, stat.
    let wrapped = b.store();
    assert!(wrapped.supports_recency());
    b.set(&"first", &1).unwrap();
    assert_eq!(wrapped.usage().unwrap(), store.usage().unwrap());
    assert!(wrapped.usage().unwrap().is_some());
    let name = store.list().unwrap().remove(0).name;
    assert_eq!(wrapped.stat(&name).unwrap(), store.stat(&name).unwrap());
    assert!(wrapped.eviction_candidates(1).unwrap().is_some());
    // A key written behind the store's back is listed but not in its count: the budget's
    // totals are the count (no listing per set).
    let mut con = server.connection();
    redis::cmd("SET")
        .arg(format!("{namespace}:{}", "f".repeat(64) + ".json"))
        .arg("{}")
        .query::<()>(&mut con)
        .unwrap();
    for i in 0..150 {
        b.set(&i, &i).unwrap();
        b.unload(&"first");
        assert_eq!(
            b.get::<i32>(&"first").unwrap(),
            Some(1),
            "{i}: used on every set (through the near copy): never evicted"
        );
        let counted = store.usage().unwrap().unwrap();
        assert!(counted.entries <= 20, "{i}: {counted:?}");
        assert_eq!(b.stats().store_entries, Some(counted.entries), "{i}");
    }
    assert_eq!(
        store.list().unwrap().len() as u64,
        store.usage().unwrap().unwrap().entries + 1,
        "the foreign key is listed, never counted"
    );
    assert!(b.stats().store_evictions >= 130, "{:?}", b.stats());
}

#[test]
fn a_batch_eviction_removes_exactly_the_unchanged_victims_and_keeps_the_count() {
    let Some(server) = RedisServer::shared("redis_batch_eviction") else {
        return;
    };
    setup();
    let namespace = ns("batch");
    let store = RedisStore::open(&server.url(), &namespace, RedisOptions::default()).unwrap();
    store.usage().unwrap(); // counted from here on
                            // More victims than one script takes, so the batch spans several scripts.
    let names: Vec<String> = (0..300).map(|i| format!("{i:032x}.json")).collect();
    for (i, name) in names.iter().enumerate() {
        store.write(name, &vec![b'x'; 10 + i % 7]).unwrap();
    }
    let mut victims = store.eviction_candidates(300).unwrap().unwrap();
    assert_eq!(victims.len(), 300);
    // After listing: one rewritten with another size, one used again (a new recency score),
    // one removed by someone else; and a victim that is not an entry at all.
    let rewritten = victims[5].name.clone();
    store.write(&rewritten, &[b'y'; 99]).unwrap();
    let touched = victims[200].name.clone();
    std::thread::sleep(Duration::from_millis(2)); // a later millisecond score
    store.touch(&touched).unwrap();
    let gone = victims[250].name.clone();
    assert!(store.remove(&gone).unwrap());
    let mut not_an_entry = victims[0].clone();
    not_an_entry.kind = bucketcache::store::Kind::Directory;
    victims.push(not_an_entry);

    let removed = store.remove_all_if_unchanged(&victims);
    assert_eq!(removed.len(), victims.len());
    let stayed: Vec<&str> = victims
        .iter()
        .zip(&removed)
        .filter(|(_, r)| r.is_none())
        .map(|(v, _)| v.name.as_str())
        .collect();
    assert_eq!(
        stayed,
        [
            rewritten.as_str(),
            touched.as_str(),
            gone.as_str(),
            victims[0].name.as_str()
        ]
    );
    for (victim, size) in victims.iter().zip(&removed).take(300) {
        if let Some(size) = size {
            assert_eq!(*size, victim.size, "{}", victim.name);
        }
    }
    let left: Vec<String> = store.list().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&rewritten) && left.contains(&touched),
        "{left:?}"
    );
    assert_eq!(store.usage().unwrap().unwrap(), listed_usage(&store));
}

#[test]
fn the_usage_a_write_answers_is_used_once_and_never_after_a_removal() {
    let Some(server) = RedisServer::shared("redis_recent_usage") else {
        return;
    };
    setup();
    let namespace = ns("recent");
    let store = RedisStore::open(&server.url(), &namespace, RedisOptions::default()).unwrap();
    let other = RedisStore::open(&server.url(), &namespace, RedisOptions::default()).unwrap();
    store.usage().unwrap(); // counted from here on
    let name = |i: u32| format!("{i:032x}.json");
    store.write(&name(1), b"12345").unwrap();
    assert_eq!(store.usage().unwrap(), Some(Usage::new(1, 5)));
    // Another writer: the next read is the server's, not the answer of our earlier write.
    other.write(&name(2), b"123").unwrap();
    assert_eq!(store.usage().unwrap(), Some(Usage::new(2, 8)));
    // A write, then a removal through the same store: the write's answer predates it.
    store.write(&name(3), b"1").unwrap();
    assert!(store.remove(&name(1)).unwrap());
    assert_eq!(store.usage().unwrap(), Some(Usage::new(2, 4)));
    assert_eq!(store.usage().unwrap(), Some(listed_usage(&store)));
}
