//! The async API never blocks its executor: on a **current-thread** tokio runtime, a heartbeat
//! task ticking every 10 ms keeps ticking while tasks miss, wait for other tasks and wait for
//! other processes; a computation cancelled by `timeout` lets the next caller compute at once,
//! in this process and in another one. On the file, LMDB and Redis stores.
//!
//! Children are this test binary run again with `BUCKETCACHE_ASYNC_CHILD` set (the test
//! `async_flight::child_entry_point` plays the role; it does nothing in a normal run). They use
//! the blocking API: another process is another process, whichever API it uses.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bucketcache::{AsyncBucket, Bucket};
use bucketcache_redis::testing::RedisServer;

use crate::common::child_command;

const ROLE_ENV: &str = "BUCKETCACHE_ASYNC_CHILD";
const DIR_ENV: &str = "BUCKETCACHE_ASYNC_DIR";
const STORE_ENV: &str = "BUCKETCACHE_ASYNC_STORE";
const LOCATION_ENV: &str = "BUCKETCACHE_ASYNC_LOCATION";

/// A computation that a blocked executor would show: the heartbeat's longest gap must stay
/// well under it.
const SLOW: Duration = Duration::from_millis(3000);
/// The longest heartbeat gap tolerated: many ticks on a loaded machine, far less than `SLOW`.
const MAX_GAP: Duration = Duration::from_millis(1500);

/// Where a test's cache lives: a store (`fs`, `lmdb` or a Redis URL) and a location (a
/// directory or a namespace), plus a scratch directory for markers.
#[derive(Clone, Debug)]
struct Place {
    store: String,
    location: PathBuf,
    scratch: PathBuf,
}

impl Place {
    fn dir(store: &str, scratch: &Path) -> Place {
        Place {
            store: store.to_owned(),
            location: scratch.join("cache"),
            scratch: scratch.to_owned(),
        }
    }

    fn redis(server: &RedisServer, test: &str, scratch: &Path) -> Place {
        Place {
            store: server.url(),
            location: PathBuf::from(format!("async-{test}-{}", std::process::id())),
            scratch: scratch.to_owned(),
        }
    }

    fn open(&self, timeout: Duration) -> Bucket {
        bucketcache::install_default_backends().unwrap();
        bucketcache_redis::register().unwrap();
        Bucket::builder(&self.location)
            .store(&self.store)
            .backend("msgpack")
            .single_flight_timeout(timeout)
            .open()
            .expect("open the bucket")
    }

    fn child(&self, role: &str) -> Child {
        child_command(
            "async_flight::child_entry_point",
            (ROLE_ENV, role),
            (DIR_ENV, &self.scratch),
            &[
                (STORE_ENV, self.store.clone()),
                (LOCATION_ENV, self.location.display().to_string()),
            ],
        )
        .spawn()
        .expect("spawn a child")
    }
}

const KEY: (&str, u32) = ("slow", 7);

/// The entry point of child processes; a no-op in a normal test run.
///
/// Roles: `hold` computes `KEY` with the blocking API for `SLOW` (its lock held meanwhile),
/// writing `computing` in the scratch directory when it starts, and stores 42; `compute`
/// computes `KEY` at once as 5 (with a single-flight timeout of a minute, so it computes only
/// when it gets the lock).
#[test]
fn child_entry_point() {
    let Some(role) = std::env::var_os(ROLE_ENV) else {
        return;
    };
    let place = Place {
        store: std::env::var(STORE_ENV).unwrap(),
        location: PathBuf::from(std::env::var(LOCATION_ENV).unwrap()),
        scratch: PathBuf::from(std::env::var(DIR_ENV).unwrap()),
    };
    let b = place.open(Duration::from_secs(60));
    let v: u64 = match role.to_str().unwrap() {
        "hold" => b
            .get_or_insert_with(&KEY, || {
                std::fs::write(place.scratch.join("computing"), b"").unwrap();
                std::thread::sleep(SLOW);
                42
            })
            .unwrap(),
        "compute" => b.get_or_insert_with(&KEY, || 5).unwrap(),
        other => panic!("unknown role {other}"),
    };
    println!("value={v}");
}

/// A child's output, failing if it fails or runs longer than `limit` (a hang detector).
fn finish_child(mut child: Child, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the child did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A task ticking every 10 ms on the runtime it is spawned on, recording its longest gap.
struct Heartbeat {
    longest: Arc<Mutex<Duration>>,
    ticks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Heartbeat {
    fn start() -> Heartbeat {
        let hb = Heartbeat {
            longest: Arc::default(),
            ticks: Arc::default(),
            stop: Arc::default(),
        };
        let (longest, ticks, stop) = (hb.longest.clone(), hb.ticks.clone(), hb.stop.clone());
        tokio::spawn(async move {
            let mut last = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let now = Instant::now();
                let mut l = longest.lock().unwrap();
                *l = (*l).max(now - last);
                last = now;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        });
        hb
    }

    /// Stops it and checks that it ticked all along.
    fn check(self) {
        self.stop.store(true, Ordering::SeqCst);
        let longest = *self.longest.lock().unwrap();
        let ticks = self.ticks.load(Ordering::SeqCst);
        assert!(
            longest < MAX_GAP,
            "the executor thread was blocked for {longest:?}"
        );
        assert!(ticks >= 5, "the heartbeat ticked only {ticks} times");
    }
}

// ---- 64 tasks, one computation ----

fn sixty_four_tasks_compute_once(place: &Place) {
    let cache = AsyncBucket::new(place.open(Duration::from_secs(60)));
    let runs = Arc::new(AtomicUsize::new(0));
    current_thread().block_on(async {
        let heartbeat = Heartbeat::start();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_insert_with(&KEY, || async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(SLOW).await;
                            42u64
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 42);
        }
        heartbeat.check();
    });
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one computation for 64 tasks"
    );
    assert_eq!(
        place.open(Duration::from_secs(1)).get::<u64>(&KEY).unwrap(),
        Some(42)
    );
}

#[test]
fn sixty_four_async_tasks_missing_one_key_compute_it_once_on_fs() {
    let dir = tempfile::tempdir().unwrap();
    sixty_four_tasks_compute_once(&Place::dir("fs", dir.path()));
}

#[cfg(feature = "lmdb")]
#[test]
fn sixty_four_async_tasks_missing_one_key_compute_it_once_on_lmdb() {
    let dir = tempfile::tempdir().unwrap();
    sixty_four_tasks_compute_once(&Place::dir("lmdb", dir.path()));
}

#[test]
fn sixty_four_async_tasks_missing_one_key_compute_it_once_on_redis() {
    let test = "sixty_four_async_tasks_missing_one_key_compute_it_once_on_redis";
    let Some(server) = RedisServer::shared(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    sixty_four_tasks_compute_once(&Place::redis(server, "sixty-four", dir.path()));
}

// ---- waiting for another process ----

fn a_waiter_gets_the_other_process_value(place: &Place) {
    let cache = AsyncBucket::new(place.open(Duration::from_secs(60)));
    let holder = place.child("hold");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !place.scratch.join("computing").exists() {
        assert!(Instant::now() < deadline, "the holder never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let computed = Arc::new(AtomicUsize::new(0));
    let v = current_thread().block_on(async {
        let heartbeat = Heartbeat::start();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (cache, computed) = (cache.clone(), computed.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_insert_with(&KEY, || async {
                            computed.fetch_add(1, Ordering::SeqCst);
                            0u64
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut values = Vec::new();
        for w in waiters {
            values.push(w.await.unwrap());
        }
        heartbeat.check();
        values
    });
    assert_eq!(v, vec![42; 4], "the other process's value");
    assert_eq!(computed.load(Ordering::SeqCst), 0, "nothing computed here");
    assert!(finish_child(holder, Duration::from_secs(60)).contains("value=42"));
}

#[test]
fn an_async_task_waits_for_another_process_without_blocking_its_thread_on_fs() {
    let dir = tempfile::tempdir().unwrap();
    a_waiter_gets_the_other_process_value(&Place::dir("fs", dir.path()));
}

#[cfg(feature = "lmdb")]
#[test]
fn an_async_task_waits_for_another_process_without_blocking_its_thread_on_lmdb() {
    let dir = tempfile::tempdir().unwrap();
    a_waiter_gets_the_other_process_value(&Place::dir("lmdb", dir.path()));
}

#[test]
fn an_async_task_waits_for_another_process_without_blocking_its_thread_on_redis() {
    let test = "an_async_task_waits_for_another_process_without_blocking_its_thread_on_redis";
    let Some(server) = RedisServer::shared(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    a_waiter_gets_the_other_process_value(&Place::redis(server, "waiter", dir.path()));
}

// ---- cancellation ----

/// A computation cancelled by `timeout` (its future dropped mid-computation, holding the
/// flight and the cross-process lock) lets a waiting task compute at once, then a later caller
/// in this process, then another process (each with a single-flight timeout of a minute: they
/// compute only if nothing is left held).
fn a_cancelled_computation_lets_the_next_caller_compute(place: &Place) {
    let cache = AsyncBucket::new(place.open(Duration::from_secs(60)));
    current_thread().block_on(async {
        let heartbeat = Heartbeat::start();
        let leader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_millis(300),
                    cache.get_or_insert_with(&KEY, std::future::pending::<u64>),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Waits for the leader's flight, then computes when the leader is cancelled.
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_insert_with(&KEY, || async { 8u64 })
                    .await
                    .unwrap()
            })
        };
        assert!(leader.await.unwrap().is_err(), "the leader timed out");
        let v = tokio::time::timeout(Duration::from_secs(20), waiter)
            .await
            .expect("the waiter computed long before the single-flight timeout")
            .unwrap();
        assert_eq!(v, 8);
        // Cancelled again, then a later caller of this process.
        cache.remove(&KEY).await.unwrap();
        let cancelled = tokio::time::timeout(
            Duration::from_millis(200),
            cache.get_or_insert_with(&KEY, std::future::pending::<u64>),
        )
        .await;
        assert!(cancelled.is_err());
        let v = tokio::time::timeout(
            Duration::from_secs(20),
            cache.get_or_insert_with(&KEY, || async { 9u64 }),
        )
        .await
        .expect("computed long before the single-flight timeout")
        .unwrap();
        assert_eq!(v, 9);
        // Cancelled once more; then another process.
        cache.remove(&KEY).await.unwrap();
        let cancelled = tokio::time::timeout(
            Duration::from_millis(200),
            cache.get_or_insert_with(&KEY, std::future::pending::<u64>),
        )
        .await;
        assert!(cancelled.is_err());
        heartbeat.check();
    });
    let out = finish_child(place.child("compute"), Duration::from_secs(30));
    assert!(out.contains("value=5"), "the other process computed: {out}");
}

#[test]
fn a_cancelled_async_computation_lets_the_next_caller_compute_on_fs() {
    let dir = tempfile::tempdir().unwrap();
    a_cancelled_computation_lets_the_next_caller_compute(&Place::dir("fs", dir.path()));
}

#[cfg(feature = "lmdb")]
#[test]
fn a_cancelled_async_computation_lets_the_next_caller_compute_on_lmdb() {
    let dir = tempfile::tempdir().unwrap();
    a_cancelled_computation_lets_the_next_caller_compute(&Place::dir("lmdb", dir.path()));
}

#[test]
fn a_cancelled_async_computation_lets_the_next_caller_compute_on_redis() {
    let test = "a_cancelled_async_computation_lets_the_next_caller_compute_on_redis";
    let Some(server) = RedisServer::shared(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    a_cancelled_computation_lets_the_next_caller_compute(&Place::redis(
        server,
        "cancelled",
        dir.path(),
    ));
}
