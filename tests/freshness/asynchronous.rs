//! Freshness on the async API: `AsyncBucket` memoization and `#[cached] async fn`, on a real
//! multi-thread tokio runtime. Lifetimes run on a manual clock; "nobody waits" is shown by
//! counting: every other caller has answered while the one computation is still held at a gate.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use bucketcache::store::Locked;
use bucketcache::{AsyncBucket, Bucket, ManualClock};
use tokio::sync::Semaphore;

use crate::common::{builder, clock};

const LIFETIME: Duration = Duration::from_secs(60);
const TASKS: usize = 16;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn swr(dir: &std::path::Path, clock: &Arc<ManualClock>) -> AsyncBucket {
    AsyncBucket::new(
        builder(dir, "json", clock)
            .lifetime(LIFETIME)
            .stale_while_revalidate(Duration::from_secs(600))
            .open()
            .unwrap(),
    )
}

/// Waits (a bounded while, parking the task) until `cond` holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `TASKS` concurrent memoized calls of key "k" whose computation (counted in `runs`) returns
/// `value` once the gate opens. Returns the tasks' handles and how many have answered.
fn race(
    cache: &AsyncBucket,
    runs: &Arc<AtomicUsize>,
    gate: &Arc<Semaphore>,
    background: bool,
    value: u64,
) -> (Vec<tokio::task::JoinHandle<u64>>, Arc<AtomicUsize>) {
    let answered = Arc::new(AtomicUsize::new(0));
    let handles = (0..TASKS)
        .map(|_| {
            let (cache, runs, gate, answered) =
                (cache.clone(), runs.clone(), gate.clone(), answered.clone());
            tokio::spawn(async move {
                let compute = move || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    gate.acquire().await.unwrap().forget();
                    value
                };
                let v: u64 = if background {
                    cache.get_or_insert_with_background("k", compute).await
                } else {
                    cache.get_or_insert_with("k", compute).await
                }
                .unwrap();
                answered.fetch_add(1, Ordering::SeqCst);
                v
            })
        })
        .collect();
    (handles, answered)
}

#[test]
fn an_async_stale_entry_is_refreshed_once_while_every_other_task_gets_the_stale_value_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let cache = swr(dir.path(), &clock);
    runtime().block_on(async {
        assert_eq!(
            cache
                .get_or_insert_with("k", || async { 1u64 })
                .await
                .unwrap(),
            1
        );
        clock.advance(LIFETIME + Duration::from_secs(1));
        let (runs, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
        let (handles, answered) = race(&cache, &runs, &gate, false, 2);
        // Every task but the refresher answers while the refresh is held at the gate.
        eventually("the other tasks answered", || {
            answered.load(Ordering::SeqCst) == TASKS - 1
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one computation");
        gate.add_permits(1);
        let mut values = Vec::new();
        for h in handles {
            values.push(h.await.unwrap());
        }
        values.sort_unstable();
        let mut expected = vec![1; TASKS - 1];
        expected.push(2);
        assert_eq!(
            values, expected,
            "the stale value, and the refresher its own"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get::<u64>("k").await.unwrap(), Some(2));
        let s = cache.stats();
        assert_eq!(s.stale_served, (TASKS - 1) as u64);
        assert_eq!(s.refreshes_started, 1);
    });
}

/// The race above on another store (a Redis URL or `lmdb`): one refresh, everyone else the
/// stale value at once.
fn one_refresh_on(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    if store.starts_with("redis") {
        bucketcache_redis::register().unwrap();
    }
    let cache = AsyncBucket::new(
        builder(&dir.path().join("cache"), "msgpack", &clock)
            .store(store)
            .lifetime(LIFETIME)
            .stale_while_revalidate(Duration::from_secs(600))
            .open()
            .unwrap(),
    );
    runtime().block_on(async {
        assert_eq!(
            cache
                .get_or_insert_with("k", || async { 1u64 })
                .await
                .unwrap(),
            1
        );
        clock.advance(LIFETIME + Duration::from_secs(1));
        let (runs, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
        let (handles, answered) = race(&cache, &runs, &gate, true, 2);
        eventually("every task answered", || {
            answered.load(Ordering::SeqCst) == TASKS
        })
        .await;
        for h in handles {
            assert_eq!(h.await.unwrap(), 1);
        }
        gate.add_permits(1);
        eventually("the refresh was stored", || {
            cache.bucket().get::<u64>("k").unwrap() == Some(2)
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats().refreshes_started, 1);
    });
}

#[test]
fn on_redis_an_async_stale_entry_is_refreshed_once_while_every_task_gets_the_stale_value() {
    let Some(server) = bucketcache_redis::testing::RedisServer::shared(
        "on_redis_an_async_stale_entry_is_refreshed_once_while_every_task_gets_the_stale_value",
    ) else {
        return;
    };
    one_refresh_on(&server.url());
}

#[cfg(feature = "lmdb")]
#[test]
fn on_lmdb_an_async_stale_entry_is_refreshed_once_while_every_task_gets_the_stale_value() {
    one_refresh_on("lmdb");
}

#[test]
fn an_async_background_refresh_runs_on_the_runtime_while_every_caller_gets_the_stale_value() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let cache = swr(dir.path(), &clock);
    runtime().block_on(async {
        let first: u64 = cache
            .get_or_insert_with_background("k", || async { 1 })
            .await
            .unwrap();
        assert_eq!(first, 1, "a miss computes in the caller");
        clock.advance(LIFETIME + Duration::from_secs(1));
        let (runs, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
        let (handles, answered) = race(&cache, &runs, &gate, true, 2);
        eventually("every task answered", || {
            answered.load(Ordering::SeqCst) == TASKS
        })
        .await;
        for h in handles {
            assert_eq!(h.await.unwrap(), 1, "the stale value, at once");
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "one refresh, held at the gate"
        );
        assert_eq!(cache.stats().stale_served, TASKS as u64);
        gate.add_permits(1);
        eventually("the background refresh was stored", || {
            cache.bucket().get::<u64>("k").unwrap() == Some(2)
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats().refreshes_started, 1);
    });
}

#[test]
fn an_async_background_refresh_that_hangs_is_cancelled_after_the_single_flight_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let cache = AsyncBucket::new(
        builder(dir.path(), "json", &clock)
            .lifetime(LIFETIME)
            .stale_while_revalidate(Duration::from_secs(600))
            .single_flight_timeout(Duration::from_millis(200))
            .open()
            .unwrap(),
    );
    runtime().block_on(async {
        cache.set("k", &1u64).await.unwrap();
        clock.advance(LIFETIME + Duration::from_secs(1));
        let v: u64 = cache
            .get_or_insert_with_background("k", std::future::pending::<u64>)
            .await
            .unwrap();
        assert_eq!(v, 1);
        eventually("the hung refresh was abandoned", || {
            cache.stats().refreshes_failed == 1
        })
        .await;
        // The key is free again: the next caller refreshes.
        let v: u64 = cache.get_or_insert_with("k", || async { 3 }).await.unwrap();
        assert_eq!(v, 3);
        assert_eq!(cache.stats().refreshes_started, 2);
    });
}

#[test]
fn an_async_failing_computation_is_answered_with_the_stale_value_within_stale_if_error() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let cache = AsyncBucket::new(
        builder(dir.path(), "json", &clock)
            .lifetime(LIFETIME)
            .stale_if_error(Duration::from_secs(600))
            .open()
            .unwrap(),
    );
    let down = || async { Err::<u64, anyhow::Error>(anyhow::anyhow!("upstream down")) };
    runtime().block_on(async {
        let v = cache
            .get_or_try_insert_with("k", || async { Ok::<u64, anyhow::Error>(1) })
            .await
            .unwrap();
        assert_eq!(v, 1);
        clock.advance(LIFETIME + Duration::from_secs(1));
        assert_eq!(
            cache.get::<u64>("k").await.unwrap(),
            None,
            "expired for get"
        );
        assert_eq!(cache.get_or_try_insert_with("k", down).await.unwrap(), 1);
        assert_eq!(cache.stats().stale_if_error_answers, 1);
        // A working computation replaces it.
        let v = cache
            .get_or_try_insert_with("k", || async { Ok::<u64, anyhow::Error>(2) })
            .await
            .unwrap();
        assert_eq!(v, 2);
        // Past the window, the error.
        clock.advance(LIFETIME + Duration::from_secs(601));
        assert!(cache.get_or_try_insert_with("k", down).await.is_err());
        assert_eq!(cache.stats().stale_if_error_answers, 1);
    });
}

#[test]
fn an_async_refresh_that_fails_serves_the_stale_value_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let cache = AsyncBucket::new(
        builder(dir.path(), "json", &clock)
            .lifetime(LIFETIME)
            .stale_while_revalidate(Duration::from_secs(600))
            .stale_if_error(Duration::from_secs(600))
            .open()
            .unwrap(),
    );
    runtime().block_on(async {
        cache.set("k", &1u64).await.unwrap();
        clock.advance(LIFETIME + Duration::from_secs(1));
        let v = cache
            .get_or_try_insert_with("k", || async {
                Err::<u64, anyhow::Error>(anyhow::anyhow!("down"))
            })
            .await
            .unwrap();
        assert_eq!(v, 1);
        let v = cache
            .get_or_try_insert_with_background("k", || async {
                Err::<u64, anyhow::Error>(anyhow::anyhow!("down"))
            })
            .await
            .unwrap();
        assert_eq!(v, 1);
        eventually("the background failure was counted", || {
            cache.stats().refreshes_failed == 2
        })
        .await;
        let s = cache.stats();
        assert_eq!((s.refreshes_started, s.stale_if_error_answers), (2, 1));
        assert_eq!(
            cache.bucket().get_with_expiration::<u64>("k").unwrap(),
            None
        );
    });
}

#[test]
fn async_refresh_ahead_refreshes_a_live_entry_once_and_nobody_sees_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let cache = AsyncBucket::new(
        builder(dir.path(), "json", &clock)
            .lifetime(LIFETIME)
            .refresh_ahead(true)
            .open()
            .unwrap(),
    );
    runtime().block_on(async {
        // The first computation takes 50 ms: refresh ahead weighs by it.
        let v: u64 = cache
            .get_or_insert_with("k", || async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                1
            })
            .await
            .unwrap();
        assert_eq!(v, 1);
        let misses = cache.stats().misses;
        let (_, first_expiry) = cache
            .get_with_expiration::<u64>("k")
            .await
            .unwrap()
            .unwrap();
        // Halfway: never refreshed early.
        clock.advance(LIFETIME / 2);
        let v: u64 = cache.get_or_insert_with("k", never).await.unwrap();
        assert_eq!(v, 1);
        // Within the last computation time before expiry: due for every caller that looks.
        clock.advance(LIFETIME / 2 - Duration::from_millis(10));
        let (runs, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
        let (handles, answered) = race(&cache, &runs, &gate, false, 2);
        eventually("the other tasks answered", || {
            answered.load(Ordering::SeqCst) == TASKS - 1
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one early refresh");
        gate.add_permits(1);
        let mut values = Vec::new();
        for h in handles {
            values.push(h.await.unwrap());
        }
        values.sort_unstable();
        assert_eq!(
            values[..TASKS - 1],
            vec![1; TASKS - 1],
            "the live value, at once"
        );
        assert_eq!(values[TASKS - 1], 2);
        let (v, expiry) = cache
            .get_with_expiration::<u64>("k")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v, 2);
        assert!(expiry > first_expiry, "a fresh lifetime");
        let s = cache.stats();
        assert_eq!((s.refreshes_started, s.stale_served), (1, 0));
        assert_eq!(s.misses, misses, "only the first call missed");
    });
}

/// A computation that must not run.
async fn never() -> u64 {
    unreachable!("the entry is fresh")
}

// ---- `#[cached] async fn` ----

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
static CLOCK: LazyLock<Arc<ManualClock>> = LazyLock::new(clock);
static STALE: LazyLock<Bucket> = LazyLock::new(|| {
    builder(&DIR.path().join("stale"), "json", &CLOCK)
        .lifetime(LIFETIME)
        .stale_while_revalidate(Duration::from_secs(600))
        .open()
        .unwrap()
});
static RUNS: AtomicU64 = AtomicU64::new(0);
static BG_CLOCK: LazyLock<Arc<ManualClock>> = LazyLock::new(clock);
static BG: LazyLock<Bucket> = LazyLock::new(|| {
    builder(&DIR.path().join("background"), "json", &BG_CLOCK)
        .lifetime(LIFETIME)
        .stale_while_revalidate(Duration::from_secs(600))
        .open()
        .unwrap()
});
static BG_RUNS: AtomicU64 = AtomicU64::new(0);

#[bucketcache::cached(bucket = STALE)]
async fn generation(name: String) -> u64 {
    tokio::task::yield_now().await;
    RUNS.fetch_add(1, Ordering::SeqCst) + 1
}

#[bucketcache::cached(bucket = BG, background)]
async fn bg_generation(name: String) -> u64 {
    tokio::task::yield_now().await;
    BG_RUNS.fetch_add(1, Ordering::SeqCst) + 1
}

/// The key `#[cached]` gives `function(name)`.
fn key(function: &str, name: &str) -> serde_json::Value {
    serde_json::json!([format!("{}::{function}", module_path!()), { "name": name }])
}

#[test]
fn a_cached_async_fn_serves_its_stale_value_while_another_caller_refreshes() {
    runtime().block_on(async {
        assert_eq!(generation("a".into()).await, 1);
        assert_eq!(generation("a".into()).await, 1);
        CLOCK.advance(LIFETIME + Duration::from_secs(1));
        // Another process holds the entry's lock: it refreshes; this caller gets the stale
        // value and runs nothing.
        let digest = STALE.hash_for_key(&key("generation", "a")).unwrap();
        let held = STALE.store().try_lock(&digest).unwrap();
        assert!(matches!(held, Locked::Acquired(_)));
        assert_eq!(generation("a".into()).await, 1);
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        drop(held);
        // Free: this caller refreshes in the call and gets the new value.
        eventually("the lock is free", || {
            matches!(STALE.store().try_lock(&digest), Ok(Locked::Acquired(_)))
        })
        .await;
        assert_eq!(generation("a".into()).await, 2);
        assert_eq!(generation("a".into()).await, 2);
        assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_cached_background_async_fn_refreshes_as_a_task_on_the_runtime() {
    runtime().block_on(async {
        assert_eq!(bg_generation("b".into()).await, 1);
        BG_CLOCK.advance(LIFETIME + Duration::from_secs(1));
        assert_eq!(
            bg_generation("b".into()).await,
            1,
            "the stale value at once"
        );
        eventually("the background refresh was stored", || {
            BG.get::<u64>(&key("bg_generation", "b")).ok().flatten() == Some(2)
        })
        .await;
        assert_eq!(bg_generation("b".into()).await, 2);
        assert_eq!(BG_RUNS.load(Ordering::SeqCst), 2);
    });
}

static ERR_CLOCK: LazyLock<Arc<ManualClock>> = LazyLock::new(clock);
static ON_ERROR: LazyLock<Bucket> = LazyLock::new(|| {
    builder(&DIR.path().join("error"), "json", &ERR_CLOCK)
        .lifetime(LIFETIME)
        .stale_if_error(Duration::from_secs(600))
        .open()
        .unwrap()
});
static UP: AtomicU64 = AtomicU64::new(1);

#[bucketcache::cached(bucket = ON_ERROR)]
async fn quote(symbol: String) -> Result<u64, String> {
    tokio::task::yield_now().await;
    match UP.load(Ordering::SeqCst) {
        0 => Err(format!("{symbol}: upstream down")),
        v => Ok(v),
    }
}

#[test]
fn a_cached_async_result_fn_answers_with_its_stale_value_when_the_body_fails() {
    runtime().block_on(async {
        assert_eq!(quote("X".into()).await, Ok(1));
        UP.store(0, Ordering::SeqCst);
        ERR_CLOCK.advance(LIFETIME + Duration::from_secs(1));
        assert_eq!(
            quote("X".into()).await,
            Ok(1),
            "stale within stale_if_error"
        );
        assert_eq!(ON_ERROR.stats().stale_if_error_answers, 1);
        ERR_CLOCK.advance(Duration::from_secs(600));
        assert!(
            quote("X".into()).await.is_err(),
            "past the window, the error"
        );
    });
}

/// On Redis an async memoized call writes through the native client; the entry's cross-process
/// lock must be free by the time the call answers, or the next caller (here, a stale read that
/// should take the refresh) finds it held and nobody refreshes.
#[test]
fn on_redis_an_async_memoized_call_has_released_its_lock_when_it_answers() {
    let Some(server) = bucketcache_redis::testing::RedisServer::shared(
        "on_redis_an_async_memoized_call_has_released_its_lock_when_it_answers",
    ) else {
        return;
    };
    bucketcache_redis::register().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let cache = AsyncBucket::new(
        builder(&dir.path().join("cache"), "msgpack", &clock)
            .store(server.url())
            .lifetime(LIFETIME)
            .stale_while_revalidate(Duration::from_secs(600))
            .open()
            .unwrap(),
    );
    runtime().block_on(async {
        for i in 0..50u64 {
            let key = format!("k{i}");
            let digest = cache.bucket().hash_for_key(&key).unwrap();
            // A miss, computed in the caller.
            let v: u64 = cache
                .get_or_insert_with(&key, || async move { i })
                .await
                .unwrap();
            assert_eq!(v, i);
            assert!(
                matches!(
                    cache.bucket().store().try_lock(&digest),
                    Ok(Locked::Acquired(_))
                ),
                "the lock of a computed miss is free when the call answers ({key})"
            );
            // A stale entry, refreshed in the caller.
            clock.advance(LIFETIME + Duration::from_secs(1));
            let v: u64 = cache
                .get_or_insert_with(&key, || async move { i + 1000 })
                .await
                .unwrap();
            assert_eq!(
                v,
                i + 1000,
                "the caller took the refresh and got its own value"
            );
            assert!(
                matches!(
                    cache.bucket().store().try_lock(&digest),
                    Ok(Locked::Acquired(_))
                ),
                "the lock of a refresh is free when the call answers ({key})"
            );
        }
    });
}
