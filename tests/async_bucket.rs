//! `AsyncBucket` (feature `async`): the same entries, rules, errors and bytes as `Bucket`, a
//! memory hit answered without the blocking pool, deferred writes and budgets through the async
//! API, `#[cached]` on `async fn` with every option, and `examples/async.rs` run to its end.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, LazyLock};
use std::time::Duration;

use bucketcache::{AsyncBucket, Bucket, CachedCallInfo, Error};
use serde::Serialize;

use crate::common::{builder, clock, files_in};

#[path = "../examples/async.rs"]
mod example;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect()
}

#[test]
fn the_async_example_runs() {
    example::main().unwrap();
}

#[test]
fn async_bucket_is_clone_send_sync_and_its_futures_are_send() {
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn send<T: Send>(_: &T) {}
    send_sync_clone::<AsyncBucket>();
    let dir = tempfile::tempdir().unwrap();
    let cache = AsyncBucket::new(Bucket::open(dir.path()).unwrap());
    send(&cache.get::<u32>("k"));
    send(&cache.set("k", &1u32));
    send(&cache.get_or_insert_with("k", || async { 1u32 }));
    send(&cache.remove("k"));
    // Spawned on a multi-thread runtime.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = cache.clone();
    let v = rt
        .block_on(async move {
            tokio::spawn(async move {
                c.set("k", &3u32).await?;
                c.get::<u32>("k").await
            })
            .await
        })
        .unwrap()
        .unwrap();
    assert_eq!(v, Some(3));
}

#[test]
fn async_set_writes_the_bytes_bucket_writes_and_each_reads_the_other() {
    for backend in ["json", "msgpack"] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let clock = clock();
        let sync = builder(a.path(), backend, &clock)
            .lifetime(Duration::from_secs(60))
            .open()
            .unwrap();
        let cache = AsyncBucket::new(
            builder(b.path(), backend, &clock)
                .lifetime(Duration::from_secs(60))
                .open()
                .unwrap(),
        );
        let value = ("Ada", 1815, vec![1.5, 2.0]);
        sync.set(&("user", 7), &value).unwrap();
        runtime().block_on(cache.set(&("user", 7), &value)).unwrap();
        let names = entries(a.path());
        assert_eq!(names, entries(b.path()), "{backend}: the same file name");
        assert_eq!(
            std::fs::read(a.path().join(&names[0])).unwrap(),
            std::fs::read(b.path().join(&names[0])).unwrap(),
            "{backend}: the same bytes"
        );
        // Each reads what the other wrote (a fresh bucket: from the store, not memory).
        let fresh = AsyncBucket::new(builder(a.path(), backend, &clock).open().unwrap());
        let got: Option<(String, u32, Vec<f64>)> =
            runtime().block_on(fresh.get(&("user", 7))).unwrap();
        assert_eq!(got, Some(("Ada".into(), 1815, vec![1.5, 2.0])));
        let sync_b = builder(b.path(), backend, &clock).open().unwrap();
        assert_eq!(
            sync_b.get::<(String, u32, Vec<f64>)>(&("user", 7)).unwrap(),
            Some(("Ada".into(), 1815, vec![1.5, 2.0]))
        );
    }
}

#[test]
fn expiry_contains_remove_prune_and_stats_behave_as_on_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .lifetime(Duration::from_secs(60))
        .open()
        .unwrap();
    let cache = AsyncBucket::new(b.clone());
    runtime().block_on(async {
        cache.set("a", &1u8).await.unwrap();
        cache.set("b", &2u8).await.unwrap();
        let (v, expiration) = cache.get_with_expiration::<u8>("a").await.unwrap().unwrap();
        assert_eq!(v, 1);
        assert_eq!(
            expiration,
            Some(bucketcache::Clock::now(&*clock) + chrono::Duration::seconds(60))
        );
        assert!(cache.contains("a").await.unwrap());
        assert!(!cache.contains("zzz").await.unwrap());
        assert_eq!(
            cache.get::<String>("a").await.unwrap(),
            None,
            "another type"
        );
        assert!(cache.remove("a").await.unwrap());
        assert!(!cache.remove("a").await.unwrap());
        assert_eq!(cache.get::<u8>("a").await.unwrap(), None);
        clock.advance(Duration::from_secs(61));
        // Expired: a miss from memory; the file stays until read or pruned.
        assert_eq!(cache.get::<u8>("b").await.unwrap(), None);
        cache.set("c", &3u8).await.unwrap();
        clock.advance(Duration::from_secs(61));
        b.unload("c");
        assert_eq!(cache.prune().await.unwrap().files, 1);
        assert_eq!(entries(dir.path()), Vec::<String>::new());
    });
    let s = cache.stats();
    assert_eq!((s.sets, s.removes, s.expired), (3, 1, 1));
    assert_eq!(s, b.stats(), "one set of counters");
}

#[test]
fn errors_are_the_errors_of_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .max_entry_bytes(100)
        .open()
        .unwrap();
    let cache = AsyncBucket::new(b.clone());
    let big = "x".repeat(1000);
    let sync_error = b.set("k", &big).unwrap_err();
    let async_error = runtime().block_on(cache.set("k", &big)).unwrap_err();
    assert!(matches!(async_error, Error::EntryTooLarge { .. }));
    assert_eq!(async_error.to_string(), sync_error.to_string());
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn a_memory_hit_answers_inline_while_the_blocking_pool_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(dir.path()).unwrap();
    b.set("warm", &1u32).unwrap(); // in memory
    b.set("cold", &2u32).unwrap();
    b.unload("cold");
    let cache = AsyncBucket::new(b);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        // The only blocking thread is taken until `release` is sent.
        let (release, wait) = mpsc::channel::<()>();
        let busy = tokio::task::spawn_blocking(move || wait.recv().unwrap());
        tokio::task::yield_now().await;
        assert_eq!(cache.get::<u32>("warm").await.unwrap(), Some(1));
        assert!(cache.contains("warm").await.unwrap());
        // A store read needs the pool: it waits for it.
        let cold = tokio::spawn({
            let cache = cache.clone();
            async move { cache.get::<u32>("cold").await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!cold.is_finished(), "a store read goes through the pool");
        release.send(()).unwrap();
        busy.await.unwrap();
        assert_eq!(cold.await.unwrap().unwrap(), Some(2));
    });
}

#[test]
fn a_failed_async_computation_is_not_stored_and_the_next_caller_computes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AsyncBucket::new(Bucket::open(dir.path()).unwrap());
    runtime().block_on(async {
        let failed: anyhow::Result<u32> = cache
            .get_or_try_insert_with("k", || async { anyhow::bail!("offline") })
            .await;
        assert!(failed.is_err());
        assert_eq!(cache.get::<u32>("k").await.unwrap(), None);
        let v = cache
            .get_or_try_insert_with("k", || async { Ok::<u32, anyhow::Error>(7) })
            .await
            .unwrap();
        assert_eq!(v, 7);
        let again: anyhow::Result<u32> = cache
            .get_or_try_insert_with("k", || async { anyhow::bail!("not called") })
            .await;
        assert_eq!(again.unwrap(), 7);
    });
}

#[test]
fn a_disk_budget_holds_through_the_async_api() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .backend("json")
        .max_entries(10)
        .open()
        .unwrap();
    let cache = AsyncBucket::new(b.clone());
    runtime().block_on(async {
        for i in 0..40u32 {
            cache.set(&i, &i).await.unwrap();
            assert!(
                b.inspector().usage().unwrap().entries <= 10,
                "after set {i}"
            );
        }
    });
    assert!(b.stats().store_evictions >= 30);
}

// ---- #[cached] on async fn ----

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
static CACHE: LazyLock<AsyncBucket> =
    LazyLock::new(|| AsyncBucket::new(Bucket::builder(DIR.path()).backend("json").open().unwrap()));

static HITS: AtomicUsize = AtomicUsize::new(0);

fn on_hit(info: &CachedCallInfo<u64>) {
    assert_eq!(info.callargs["verbose"], serde_json::json!(true));
    HITS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn cached_async_fn_keeps_ignore_nocache_callback_and_version() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = CACHE, ignore(verbose), nocache = refresh, callback = on_hit, version = 3)]
    async fn mul(a: u64, b: u64, verbose: bool, refresh: bool) -> u64 {
        let _ = verbose;
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        a * b
    }
    runtime().block_on(async {
        assert_eq!(mul(6, 7, true, false).await, 42);
        assert_eq!(mul(6, 7, true, false).await, 42);
        assert_eq!(
            (CALLS.load(Ordering::SeqCst), HITS.load(Ordering::SeqCst)),
            (1, 1)
        );
        assert_eq!(mul(6, 7, true, true).await, 42, "nocache recomputes");
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
        assert_eq!(mul(6, 7, true, false).await, 42);
        assert_eq!(
            (CALLS.load(Ordering::SeqCst), HITS.load(Ordering::SeqCst)),
            (2, 2)
        );
    });
}

#[derive(Serialize)]
struct Client {
    region: String,
    #[serde(skip)]
    cache: AsyncBucket,
}

impl Client {
    #[bucketcache::cached(bucket = self.cache, method)]
    async fn lookup(&self, id: u32) -> Result<String, std::io::Error> {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(std::io::Error::other("first call fails"));
        }
        Ok(format!("{}-{id}", self.region))
    }
}

#[test]
fn cached_async_methods_cache_ok_values_only() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client {
        region: "eu".into(),
        cache: AsyncBucket::new(Bucket::open(dir.path()).unwrap()),
    };
    runtime().block_on(async {
        assert!(client.lookup(1).await.is_err(), "an Err is not stored");
        assert_eq!(client.lookup(1).await.unwrap(), "eu-1");
        assert_eq!(client.lookup(1).await.unwrap(), "eu-1");
    });
    assert_eq!(entries(dir.path()).len(), 1);
}

#[test]
fn cached_async_fn_on_a_deferred_write_bucket_writes_at_sync() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = d, ignore(d))]
    async fn square(d: &bucketcache::DeferredWriteBucket, x: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        x * x
    }
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(dir.path()).unwrap();
    let d = b.deferred();
    runtime().block_on(async {
        assert_eq!(square(&d, 12).await, 144);
        assert_eq!(square(&d, 12).await, 144);
    });
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(entries(dir.path()).len(), 0, "nothing written before sync");
    d.sync().unwrap();
    assert_eq!(entries(dir.path()).len(), 1);
}

#[test]
fn cached_async_fn_on_a_bucket_argument_computes_once_for_concurrent_tasks() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b))]
    async fn slow(b: Arc<Bucket>, x: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        x + 1
    }
    let dir = tempfile::tempdir().unwrap();
    let b = Arc::new(Bucket::open(dir.path()).unwrap());
    runtime().block_on(async {
        let tasks: Vec<_> = (0..16).map(|_| tokio::spawn(slow(b.clone(), 1))).collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 2);
        }
    });
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
}

#[test]
fn redis_gets_and_sets_are_native_async_and_need_no_blocking_thread() {
    let test = "redis_gets_and_sets_are_native_async_and_need_no_blocking_thread";
    let Some(server) = bucketcache_redis::testing::RedisServer::shared(test) else {
        return;
    };
    bucketcache::install_default_backends().unwrap();
    bucketcache_redis::register().unwrap();
    let ns = format!("async-native-{}", std::process::id());
    let clock = clock(); // the same expirations: the same bytes
    let open = || {
        Bucket::builder(&ns)
            .clock(clock.clone())
            .store(server.url())
            .backend("json")
            .lifetime(Duration::from_secs(600))
            .open()
            .unwrap()
    };
    let sync = open();
    sync.set("from-sync", &1u32).unwrap();
    let cache = AsyncBucket::new(open());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let (release, wait) = mpsc::channel::<()>();
        let busy = tokio::task::spawn_blocking(move || wait.recv().unwrap());
        tokio::task::yield_now().await;
        // With the only blocking thread taken, Redis reads and writes still complete.
        let limit = Duration::from_secs(10); // a hop would wait for the pool forever
        let got = tokio::time::timeout(limit, cache.get::<u32>("from-sync")).await;
        assert_eq!(got.expect("no blocking thread needed").unwrap(), Some(1));
        let set = tokio::time::timeout(limit, cache.set("from-async", &2u32)).await;
        set.expect("no blocking thread needed").unwrap();
        cache.bucket().unload("from-async");
        assert_eq!(cache.get::<u32>("from-async").await.unwrap(), Some(2));
        assert!(cache.contains("from-async").await.unwrap());
        assert_eq!(cache.get::<u32>("missing").await.unwrap(), None);
        release.send(()).unwrap();
        busy.await.unwrap();
        assert!(cache.remove("from-async").await.unwrap());
    });
    assert_eq!(sync.get::<u32>("from-async").unwrap(), None);
    // The same bytes as the blocking API's.
    rt.block_on(cache.set("same", &("a", 1))).unwrap();
    let mut con = server.connection();
    let via_async: Vec<u8> = bucketcache_redis::redis::cmd("GET")
        .arg(format!("{ns}:{}.json", sync.hash_for_key("same").unwrap()))
        .query(&mut con)
        .unwrap();
    sync.set("same", &("a", 1)).unwrap();
    let via_sync: Vec<u8> = bucketcache_redis::redis::cmd("GET")
        .arg(format!("{ns}:{}.json", sync.hash_for_key("same").unwrap()))
        .query(&mut con)
        .unwrap();
    assert_eq!(via_async, via_sync);
}
