//! The Redis store against a real `redis-server` (see `bucketcache_redis::testing`): layout,
//! expiry, namespaces, prune, faults, the near cache.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketcache::{Bucket, BucketBuilder, Error, ManualClock, Store};
use bucketcache_core::store::{Fetched, Kind, Locked, ReadLimits};
use bucketcache_redis::redis;
use bucketcache_redis::testing::RedisServer;
use bucketcache_redis::{RedisOptions, RedisStore, RedisStoreError};

fn setup() {
    bucketcache::install_default_backends().unwrap();
    bucketcache_redis::register().unwrap();
}

/// A namespace of its own for each test (the shared server outlives them).
fn ns(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

fn builder(server: &RedisServer, namespace: &str) -> BucketBuilder {
    setup();
    Bucket::builder(namespace)
        .backend("json")
        .store(server.url())
}

fn limits() -> ReadLimits<'static> {
    ReadLimits {
        max_bytes: 1 << 20,
        may_begin: &|_| true,
    }
}

fn raw_get(server: &RedisServer, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.connection())
        .unwrap()
}

fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut server.connection())
        .unwrap()
}

fn file_name(b: &Bucket, key: &str) -> String {
    b.path_for_key(key)
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn redis_error(e: &Error) -> &RedisStoreError {
    RedisStoreError::find(e).unwrap_or_else(|| panic!("not a Redis store error: {e:?}"))
}

#[test]
fn an_entry_is_the_backends_bytes_under_namespace_colon_name() {
    let Some(server) =
        RedisServer::shared("an_entry_is_the_backends_bytes_under_namespace_colon_name")
    else {
        return;
    };
    let ns = ns("layout");
    let b = builder(server, &ns).open().unwrap();
    b.set("k", &[1, 2, 3]).unwrap();
    let name = file_name(&b, "k");
    let raw = raw_get(server, &format!("{ns}:{name}")).expect("the key exists");
    let dir = tempfile::tempdir().unwrap();
    let on_disk = Bucket::builder(dir.path()).backend("json").open().unwrap();
    on_disk.set("k", &[1, 2, 3]).unwrap();
    assert_eq!(
        raw,
        std::fs::read(on_disk.path_for_key("k").unwrap()).unwrap()
    );
    assert_eq!(b.path(), Path::new(&ns));
    assert_eq!(b.store().name(), "redis");
    assert_eq!(
        pttl(server, &format!("{ns}:{name}")),
        -1,
        "no lifetime: no expiry"
    );
}

#[test]
fn a_second_store_on_the_same_namespace_reads_what_the_first_wrote() {
    let Some(server) =
        RedisServer::shared("a_second_store_on_the_same_namespace_reads_what_the_first_wrote")
    else {
        return;
    };
    let ns = ns("two-stores");
    let one = builder(server, &ns).open().unwrap();
    let two = builder(server, &ns).open().unwrap();
    one.set("shared", &"value").unwrap();
    assert_eq!(
        two.get::<String>("shared").unwrap().as_deref(),
        Some("value")
    );
    assert!(two.remove("shared").unwrap());
    one.unload("shared");
    assert_eq!(one.get::<String>("shared").unwrap(), None);
}

#[test]
fn an_expiring_entry_gets_a_redis_expiry_at_its_expiration() {
    let Some(server) =
        RedisServer::shared("an_expiring_entry_gets_a_redis_expiry_at_its_expiration")
    else {
        return;
    };
    let ns = ns("expiry");
    let b = builder(server, &ns)
        .lifetime(Duration::from_secs(60))
        .open()
        .unwrap();
    b.set("k", &1).unwrap();
    let key = format!("{ns}:{}", file_name(&b, "k"));
    let left = pttl(server, &key);
    assert!((58_000..=60_001).contains(&left), "PTTL {left}");
    // The expiry is the entry's own instant, to the millisecond (rounded up).
    let (_, expiration) = b.get_with_expiration::<i32>("k").unwrap().unwrap();
    let expected = expiration.unwrap().and_utc().timestamp_micros();
    let at: i64 = redis::cmd("PEXPIRETIME")
        .arg(&key)
        .query(&mut server.connection())
        .unwrap_or(-3); // Redis < 7 has no PEXPIRETIME
    if at != -3 {
        assert_eq!(at, (expected + 999) / 1000);
    }

    // Redis drops a short-lived entry by itself.
    let short = builder(server, &ns)
        .lifetime(Duration::from_millis(150))
        .open()
        .unwrap();
    short.set("short", &1).unwrap();
    let key = format!("{ns}:{}", file_name(&short, "short"));
    assert!(raw_get(server, &key).is_some());
    let deadline = Instant::now() + Duration::from_secs(3);
    while raw_get(server, &key).is_some() {
        assert!(Instant::now() < deadline, "Redis kept an expired entry");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(short.get::<i32>("short").unwrap(), None);
}

#[test]
fn two_namespaces_never_see_each_others_entries() {
    let Some(server) = RedisServer::shared("two_namespaces_never_see_each_others_entries") else {
        return;
    };
    let base = ns("ns");
    let names = [
        base.clone(),
        format!("{base}:sub"),
        format!("{base}*"),
        format!("{base}?"),
    ];
    let buckets: Vec<Bucket> = names
        .iter()
        .map(|n| builder(server, n).open().unwrap())
        .collect();
    for (i, b) in buckets.iter().enumerate() {
        b.set("k", &i).unwrap();
        b.set(&format!("only-{i}"), &i).unwrap();
    }
    for (i, b) in buckets.iter().enumerate() {
        b.unload("k");
        assert_eq!(b.get::<usize>("k").unwrap(), Some(i));
        let listed = b.store().list().unwrap();
        assert_eq!(listed.len(), 2, "{}: {listed:?}", names[i]);
        let items = b.inspector().items().unwrap();
        assert!(items.iter().all(|it| it.state.word() == "ok"), "{items:?}");
        for j in 0..names.len() {
            if j != i {
                assert_eq!(b.get::<usize>(&format!("only-{j}")).unwrap(), None);
            }
        }
    }
}

#[test]
fn prune_scans_the_namespace_and_removes_only_expired_entries() {
    let Some(server) =
        RedisServer::shared("prune_scans_the_namespace_and_removes_only_expired_entries")
    else {
        return;
    };
    let ns = ns("prune");
    let clock = Arc::new(ManualClock::starting_now());
    let b = builder(server, &ns)
        .clock(clock.clone())
        .lifetime(Duration::from_secs(3600))
        .open()
        .unwrap();
    for i in 0..1500 {
        b.set(&i, &i).unwrap(); // more than one SCAN step
    }
    let mut con = server.connection();
    redis::cmd("SET")
        .arg(format!("{ns}:notes"))
        .arg("foreign")
        .exec(&mut con)
        .unwrap();
    let plain = builder(server, &ns).open().unwrap();
    plain.set("forever", &1).unwrap(); // never expires: lifetime changed for `b`
    clock.advance(Duration::from_secs(2 * 3600));
    let live_elsewhere = builder(server, &ns)
        .lifetime(Duration::from_secs(1800))
        .clock(clock.clone())
        .open()
        .unwrap();
    live_elsewhere.set("fresh", &1).unwrap();
    let pruned = b.prune().unwrap();
    assert_eq!(pruned.files, 1501, "{pruned:?}");
    assert!(
        raw_get(server, &format!("{ns}:notes")).is_some(),
        "foreign keys stay"
    );
    let left: Vec<String> = b
        .store()
        .list()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn remove_if_deletes_only_what_it_judged() {
    let Some(server) = RedisServer::shared("remove_if_deletes_only_what_it_judged") else {
        return;
    };
    let ns = ns("cad");
    let store = RedisStore::open(&server.url(), &ns, RedisOptions::default()).unwrap();
    store.write("a.json", b"old").unwrap();
    let key = store.key_of("a.json");
    // Another machine writes a fresh value between the judgement and the delete.
    let removed = store
        .remove_if("a.json", &|seen| {
            assert_eq!(seen, b"old");
            redis::cmd("SET")
                .arg(&key)
                .arg("new")
                .exec(&mut server.connection())
                .unwrap();
            true
        })
        .unwrap();
    assert_eq!(removed, None);
    assert_eq!(raw_get(server, &key).as_deref(), Some(&b"new"[..]));
    assert_eq!(store.remove_if("a.json", &|_| true).unwrap(), Some(3));
    assert_eq!(raw_get(server, &key), None);
}

#[test]
fn keys_of_other_types_are_foreign_and_never_removed() {
    let Some(server) = RedisServer::shared("keys_of_other_types_are_foreign_and_never_removed")
    else {
        return;
    };
    let ns = ns("types");
    let b = builder(server, &ns).open().unwrap();
    let name = file_name(&b, "k");
    let key = format!("{ns}:{name}");
    redis::cmd("RPUSH")
        .arg(&key)
        .arg("x")
        .exec(&mut server.connection())
        .unwrap();
    assert_eq!(b.get::<i32>("k").unwrap(), None);
    assert!(!b.remove("k").unwrap());
    let store = b.store();
    assert!(matches!(
        store.read(&name, &limits()).unwrap(),
        Fetched::NotAFile(Kind::Record("Redis list"))
    ));
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, Kind::Record("Redis list"));
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(exists, 1);
}

#[test]
fn a_database_number_in_the_url_is_another_keyspace() {
    let Some(server) = RedisServer::shared("a_database_number_in_the_url_is_another_keyspace")
    else {
        return;
    };
    let ns = ns("db");
    let zero = builder(server, &ns).open().unwrap();
    setup();
    let one = Bucket::builder(&ns)
        .backend("json")
        .store(server.url().replace("/0", "/1"))
        .open()
        .unwrap();
    zero.set("k", &0).unwrap();
    assert_eq!(one.get::<i32>("k").unwrap(), None);
}

/// How many connections the server has accepted so far.
fn connections_received(server: &RedisServer) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut server.connection())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

#[test]
fn connections_are_reused() {
    let Some(server) = RedisServer::shared("connections_are_reused") else {
        return;
    };
    let ns = ns("reuse");
    let store = RedisStore::open(&server.url(), &ns, RedisOptions::default()).unwrap();
    store.write("a.json", b"1").unwrap();
    let before = connections_received(server);
    for _ in 0..200 {
        store.read("a.json", &limits()).unwrap();
        store.write("a.json", b"2").unwrap();
    }
    let after = connections_received(server);
    // Only the two INFO connections of this test (other tests may connect meanwhile: a margin).
    assert!(
        after - before < 20,
        "{} new connections for 400 calls",
        after - before
    );
}

#[test]
fn a_value_larger_than_redis_accepts_is_a_typed_error_at_set() {
    let Some(server) =
        RedisServer::start_or_skip("a_value_larger_than_redis_accepts_is_a_typed_error_at_set")
    else {
        return;
    };
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1mb")
        .exec(&mut server.connection())
        .unwrap();
    let b = builder(&server, "big").backend("msgpack").open().unwrap();
    b.set("small", &1).unwrap(); // the store reads the server's limit
    let big = vec![7u8; 2 << 20];
    let err = b.set("big", &big).unwrap_err();
    assert!(
        matches!(err, Error::EntryTooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert_eq!(b.store().max_value_bytes(), Some(1 << 20));
    let direct = RedisStore::open(&server.url(), "big", RedisOptions::default()).unwrap();
    direct.write("x.bin", b"x").unwrap();
    let err = direct.write("y.bin", &big).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("proto-max-bulk-len"), "{err}");
}

/// Options with short timeouts, for the fault tests.
fn quick(server: &RedisServer, namespace: &str) -> BucketBuilder {
    builder(server, namespace)
        .connect_timeout(Duration::from_millis(300))
        .command_timeout(Duration::from_millis(300))
        .store_options(serde_json::json!({"reconnect_backoff_ms": 200}))
}

#[test]
fn a_server_down_is_an_error_within_the_timeouts_and_the_same_bucket_works_when_it_is_back() {
    let Some(server) = RedisServer::start_or_skip(
        "a_server_down_is_an_error_within_the_timeouts_and_the_same_bucket_works_when_it_is_back",
    ) else {
        return;
    };
    let b = quick(&server, "faults").open().unwrap();
    let open = quick(&server, "faults").fail_open(true).open().unwrap();
    b.set("k", &1).unwrap();
    b.set("other", &1).unwrap();
    server.stop();

    let started = Instant::now();
    let err = b.set("k", &2).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(redis_error(&err).is_unavailable(), "{err}");
    // Through the public API, callers branch on the kind without knowing the store.
    assert_eq!(
        err.store_error_kind(),
        Some(bucketcache_core::store::StoreErrorKind::Unavailable),
        "{err}"
    );
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1), "memory is unchanged");
    b.unload("other");
    let err = b.get::<i32>("other").unwrap_err();
    assert!(redis_error(&err).is_unavailable(), "{err}");
    assert_eq!(open.get::<i32>("other").unwrap(), None, "fail_open: a miss");

    server.restart(); // empty: persistence is off
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match b.set("k", &3) {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "still failing: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open.get::<i32>("k").unwrap(), Some(3));
}

#[test]
fn a_server_that_does_not_answer_fails_within_the_command_timeout() {
    let Some(server) = RedisServer::start_or_skip(
        "a_server_that_does_not_answer_fails_within_the_command_timeout",
    ) else {
        return;
    };
    let b = quick(&server, "hang").open().unwrap();
    b.set("k", &1).unwrap();
    let pid = server.pid().unwrap().to_string();
    let signal = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    };
    signal("-STOP");
    b.unload("k");
    let started = Instant::now();
    let result = b.get::<i32>("k");
    let took = started.elapsed();
    signal("-CONT");
    let err = result.unwrap_err();
    assert!(
        matches!(redis_error(&err), RedisStoreError::Timeout { .. }),
        "{err}"
    );
    let bound = Duration::from_millis(300 + 300 + 400);
    assert!(took < bound, "took {took:?}");
    assert_eq!(
        b.get::<i32>("k").unwrap(),
        Some(1),
        "works again once it answers"
    );
}

#[test]
fn a_tls_url_to_a_plain_server_is_an_error_not_a_panic() {
    let Some(server) = RedisServer::shared("a_tls_url_to_a_plain_server_is_an_error_not_a_panic")
    else {
        return;
    };
    let b = builder(server, "tls")
        .store(server.url().replace("redis://", "rediss://"))
        .connect_timeout(Duration::from_millis(500))
        .open()
        .unwrap();
    let err = b.set("k", &1).unwrap_err();
    assert!(redis_error(&err).is_unavailable(), "{err}");
}

#[test]
fn a_near_copy_is_used_for_at_most_near_ttl() {
    let Some(server) = RedisServer::shared("a_near_copy_is_used_for_at_most_near_ttl") else {
        return;
    };
    let ns = ns("near");
    let ttl = Duration::from_millis(600);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = builder(server, &ns)
        .near_cache(dir_a.path())
        .near_ttl(ttl)
        .open()
        .unwrap();
    let b = builder(server, &ns)
        .near_cache(dir_b.path())
        .near_ttl(ttl)
        .open()
        .unwrap();
    b.set("k", &1).unwrap();
    assert_eq!(a.get::<i32>("k").unwrap(), Some(1));
    let read_at = Instant::now();
    let name = file_name(&a, "k");
    assert!(
        dir_a.path().join(&name).exists(),
        "a Redis hit is copied near"
    );
    b.set("k", &2).unwrap(); // another machine
                             // Within the ttl, memory and then the near directory answer the old value (checked only
                             // while the ttl has surely not passed: this machine may be slow).
    let memory = a.get::<i32>("k").unwrap();
    a.unload("k");
    let near = a.get::<i32>("k").unwrap();
    if read_at.elapsed() < ttl {
        assert_eq!((memory, near), (Some(1), Some(1)));
    }
    // After it, never.
    while read_at.elapsed() <= ttl {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        a.get::<i32>("k").unwrap(),
        Some(2),
        "memory and near copy expired"
    );
    // Writes go to Redis, then near.
    a.set("w", &5).unwrap();
    assert!(dir_a.path().join(file_name(&a, "w")).exists());
    assert_eq!(b.get::<i32>("w").unwrap(), Some(5));
}

#[test]
fn a_near_copy_never_outlives_its_entry() {
    let Some(server) = RedisServer::shared("a_near_copy_never_outlives_its_entry") else {
        return;
    };
    let ns = ns("near-expiry");
    let dir = tempfile::tempdir().unwrap();
    let b = builder(server, &ns)
        .near_cache(dir.path())
        .near_ttl(Duration::from_secs(60))
        .lifetime(Duration::from_millis(200))
        .open()
        .unwrap();
    b.set("k", &1).unwrap();
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1));
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(b.get::<i32>("k").unwrap(), None);
    assert!(
        !dir.path().join(file_name(&b, "k")).exists(),
        "the expired near copy is deleted on read"
    );
}

#[test]
fn a_lock_has_one_holder_until_it_is_released_or_its_holder_stops_renewing() {
    let Some(server) = RedisServer::shared(
        "a_lock_has_one_holder_until_it_is_released_or_its_holder_stops_renewing",
    ) else {
        return;
    };
    let ns = ns("locks");
    let options = RedisOptions::from_json(&serde_json::json!({"lock_ttl_ms": 300})).unwrap();
    let one = RedisStore::open(&server.url(), &ns, options).unwrap();
    let two = RedisStore::open(&server.url(), &ns, options).unwrap();
    let lease = match one.try_lock("d1").unwrap() {
        Locked::Acquired(lease) => lease,
        other => panic!("{other:?}"),
    };
    assert!(matches!(two.try_lock("d1").unwrap(), Locked::Busy));
    assert!(
        matches!(two.try_lock("d2").unwrap(), Locked::Acquired(_)),
        "one lock per entry"
    );
    let key = format!("{ns}:.lock:d1");
    assert!(
        raw_get(server, &key).is_some(),
        "a helper key under <namespace>:."
    );
    assert!(
        one.list().unwrap().is_empty(),
        "helper keys are never entries"
    );
    // Held longer than its ttl: the holder renews it.
    std::thread::sleep(Duration::from_millis(700));
    assert!(matches!(two.try_lock("d1").unwrap(), Locked::Busy));
    drop(lease);
    assert_eq!(raw_get(server, &key), None, "released on drop");
    let again = two.try_lock("d1").unwrap();
    assert!(matches!(again, Locked::Acquired(_)));
    drop(again);

    // A holder that took the lock and died (never renews): free once its ttl has passed.
    redis::cmd("SET")
        .arg(&key)
        .arg("a dead holder")
        .arg("NX")
        .arg("PX")
        .arg(300)
        .exec(&mut server.connection())
        .unwrap();
    assert!(matches!(one.try_lock("d1").unwrap(), Locked::Busy));
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match one.try_lock("d1").unwrap() {
            Locked::Acquired(_) => break,
            _ => assert!(
                Instant::now() < deadline,
                "a dead holder's lock never expired"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- said plainly (issue #20, 12) ----

#[test]
fn errors_name_the_redis_key_and_server_not_a_file_path() {
    let Some(server) =
        RedisServer::start_or_skip("errors_name_the_redis_key_and_server_not_a_file_path")
    else {
        return;
    };
    let b = builder(&server, "plain").open().unwrap();
    b.set("k", &1).unwrap();
    let config = |name: &str, value: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .exec(&mut server.connection())
            .unwrap()
    };
    config("maxmemory-policy", "noeviction");
    config("maxmemory", "1");
    let err = b.set("k", &2).unwrap_err();
    config("maxmemory", "0");
    let name = file_name(&b, "k");
    let key = format!("plain:{name}");
    let text = err.to_string();
    assert!(text.contains(&key), "names the key: {text}");
    assert!(text.contains(&server.url()), "names the server: {text}");
    assert!(
        !text.contains(&format!("plain/{name}")),
        "no made-up file path: {text}"
    );
    assert!(
        matches!(redis_error(&err), RedisStoreError::Refused { key: Some(k), .. } if *k == key),
        "{err:?}"
    );
    b.set("k", &3).unwrap();
}

#[test]
fn a_key_of_another_type_is_foreign_with_its_type() {
    let Some(server) = RedisServer::shared("a_key_of_another_type_is_foreign_with_its_type") else {
        return;
    };
    let ns = ns("typed");
    let b = builder(server, &ns).open().unwrap();
    let (list, hash) = (file_name(&b, "a list"), file_name(&b, "a hash"));
    let mut con = server.connection();
    redis::cmd("RPUSH")
        .arg(format!("{ns}:{list}"))
        .arg("x")
        .exec(&mut con)
        .unwrap();
    redis::cmd("HSET")
        .arg(format!("{ns}:{hash}"))
        .arg("f")
        .arg("v")
        .exec(&mut con)
        .unwrap();
    let items = b.inspector().items().unwrap();
    let reason = |name: &str| {
        items
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| i.state.reason().map(str::to_owned))
    };
    assert_eq!(reason(&list).as_deref(), Some("a Redis list, not an entry"));
    assert_eq!(reason(&hash).as_deref(), Some("a Redis hash, not an entry"));
    assert!(
        items
            .iter()
            .all(|i| i.state.word() == "foreign" && i.kind != Kind::Special),
        "{items:?}"
    );
    assert_eq!(b.prune().unwrap().files, 0, "never removed");
}

#[test]
fn a_value_over_proto_max_bulk_len_is_too_large_for_this_server_with_its_limit() {
    let Some(server) = RedisServer::start_or_skip(
        "a_value_over_proto_max_bulk_len_is_too_large_for_this_server_with_its_limit",
    ) else {
        return;
    };
    let b = builder(&server, "big").open().unwrap();
    b.set("small", &1).unwrap(); // the store knows the limit: 512 MB
    let limit: u64 = 1 << 20;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg(limit.to_string())
        .exec(&mut server.connection())
        .unwrap();
    let big = "x".repeat(2 << 20);
    let too_large = |err: &Error| match err {
        Error::EntryTooLarge { limit: l, .. } => *l == limit,
        other => matches!(
            RedisStoreError::find(other),
            Some(RedisStoreError::TooLarge { limit: l, .. }) if *l == limit
        ),
    };
    // The limit was lowered under the bucket: the server's refusal is said as what it is.
    let err = b.set("big", &big).unwrap_err();
    assert!(
        matches!(RedisStoreError::find(&err), Some(RedisStoreError::TooLarge { limit: l, key, .. })
            if *l == limit && key.starts_with("big:")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("too large for this server (limit {limit} bytes")),
        "{err}"
    );
    // Then it is known: refused before sending, typed with the limit.
    let err = b.set("big", &big).unwrap_err();
    assert!(too_large(&err), "{err:?}");
    // A new bucket learns it on its first set.
    let fresh = builder(&server, "big").open().unwrap();
    let err = fresh.set("big", &big).unwrap_err();
    assert!(too_large(&err), "{err:?}");
    b.set("small", &2).unwrap();
    assert_eq!(fresh.get::<i32>("small").unwrap(), Some(2), "nothing broke");
    assert_eq!(fresh.get::<String>("big").unwrap(), None, "nothing written");
}

#[test]
fn a_set_that_is_not_answered_has_an_unknown_outcome_of_its_own() {
    let Some(server) =
        RedisServer::start_or_skip("a_set_that_is_not_answered_has_an_unknown_outcome_of_its_own")
    else {
        return;
    };
    let b = quick(&server, "unknown").open().unwrap();
    b.set("k", &1).unwrap();
    let pid = server.pid().unwrap().to_string();
    let signal = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    };
    signal("-STOP");
    let result = b.set("k", &2);
    signal("-CONT");
    let err = result.unwrap_err();
    let redis = redis_error(&err);
    assert!(
        matches!(redis, RedisStoreError::OutcomeUnknown { timed_out: true, command: "SET", key: Some(k), .. }
            if k.starts_with("unknown:")),
        "{err:?}"
    );
    assert!(redis.is_outcome_unknown() && redis.is_unavailable());
    assert_eq!(redis.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(
        err.store_error_kind(),
        Some(bucketcache_core::store::StoreErrorKind::OutcomeUnknown)
    );
    assert!(err.to_string().contains("outcome unknown"), "{err}");
    // What the caller may assume: the key holds the old value or the new one, never a mix, and
    // the bucket's memory no longer vouches for the old one (the next read asks Redis).
    assert!(
        !b.is_loaded("k"),
        "memory kept the old value after an unknown outcome"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let now = loop {
        match b.get::<i32>("k") {
            Ok(v) => break v,
            Err(e) => assert!(Instant::now() < deadline, "still failing: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(matches!(now, Some(1) | Some(2)), "{now:?}");
}
