//! Freshness of memoized calls (stale-while-revalidate, stale-if-error, refresh ahead), through
//! the public API: rules on a manual clock here, processes sharing a cache in `procs`.

#[cfg(feature = "async")]
mod asynchronous;
mod cached;
mod procs;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bucketcache::store::Locked;
use bucketcache::{Bucket, ManualClock, MemoCache};

use crate::common::{builder, clock};

const LIFETIME: Duration = Duration::from_secs(60);

fn swr_bucket(dir: &std::path::Path, clock: &Arc<ManualClock>) -> Bucket {
    builder(dir, "json", clock)
        .lifetime(LIFETIME)
        .stale_while_revalidate(Duration::from_secs(600))
        .open()
        .unwrap()
}

/// Waits (a bounded while) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_stale_value_is_served_at_once_while_another_process_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = swr_bucket(dir.path(), &clock);
    assert_eq!(b.get_or_insert_with("k", || 1).unwrap(), 1);
    clock.advance(LIFETIME + Duration::from_secs(1));
    // Another process holds the entry's lock: it refreshes; this caller must not.
    let digest = b.hash_for_key("k").unwrap();
    let held = b.store().try_lock(&digest).unwrap();
    assert!(matches!(held, Locked::Acquired(_)));
    let m = b
        .memoize("k", false, || -> bucketcache::Result<i32> {
            unreachable!("another process refreshes")
        })
        .unwrap();
    assert_eq!((m.value, m.hit, m.stale), (1, true, true));
    assert_eq!(b.stats().stale_served, 1);
    assert_eq!(b.stats().refreshes_started, 0);
    drop(held);
    // The lock is free: this caller takes the refresh, computes and stores a fresh value.
    let m = b
        .memoize("k", false, || Ok::<_, bucketcache::Error>(2))
        .unwrap();
    assert_eq!((m.value, m.hit, m.stale), (2, false, false));
    assert_eq!(b.stats().refreshes_started, 1);
    assert_eq!(b.get::<i32>("k").unwrap(), Some(2));
}

#[test]
fn plain_get_calls_a_stale_entry_a_miss_but_keeps_it_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = swr_bucket(dir.path(), &clock);
    b.set("k", &1).unwrap();
    let file = b.path_for_key("k").unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    assert_eq!(b.get::<i32>("k").unwrap(), None);
    assert!(!b.contains("k").unwrap());
    assert!(file.exists(), "kept: a memoized call may still serve it");
    let digest = b.hash_for_key("k").unwrap();
    let _held = b.store().try_lock(&digest).unwrap();
    assert_eq!(
        b.get_or_insert_with("k", || -> i32 { unreachable!() })
            .unwrap(),
        1
    );
    // Past the window, the old rule: a miss, and the file goes.
    clock.advance(Duration::from_secs(600));
    assert_eq!(b.get::<i32>("k").unwrap(), None);
    assert!(!file.exists());
}

#[test]
fn without_options_an_expired_memoized_entry_is_recomputed_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .lifetime(LIFETIME)
        .open()
        .unwrap();
    assert_eq!(b.get_or_insert_with("k", || 1).unwrap(), 1);
    let file = b.path_for_key("k").unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    assert_eq!(b.get::<i32>("k").unwrap(), None);
    assert!(!file.exists(), "deleted on read, as before");
    assert_eq!(b.get_or_insert_with("k", || 2).unwrap(), 2);
    let s = b.stats();
    assert_eq!((s.stale_served, s.refreshes_started), (0, 0));
}

#[test]
fn an_entry_written_under_another_lifetime_is_never_served_stale() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    // Written without a lifetime (never expires) ...
    let old = builder(dir.path(), "json", &clock).open().unwrap();
    old.set("k", &1).unwrap();
    // ... read by a bucket with one: the lifetime changed, a miss whatever the windows.
    let b = swr_bucket(dir.path(), &clock);
    assert_eq!(b.get_or_insert_with("k", || 2).unwrap(), 2);
    assert_eq!(b.stats().stale_served, 0);
}

#[test]
fn a_background_refresh_serves_the_stale_value_at_once_then_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = swr_bucket(dir.path(), &clock);
    assert_eq!(b.get_or_insert_with("k", || 1).unwrap(), 1);
    clock.advance(LIFETIME + Duration::from_secs(1));
    let (go, wait) = mpsc::channel::<()>();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let v = b
        .get_or_insert_with_background("k", move || {
            wait.recv().unwrap();
            r.fetch_add(1, Ordering::SeqCst);
            2
        })
        .unwrap();
    assert_eq!(v, 1, "the stale value, before the refresh ends");
    // While it runs, other callers get the stale value and start no other refresh.
    for _ in 0..3 {
        let v = b
            .get_or_insert_with_background("k", || -> i32 { unreachable!("one refresh") })
            .unwrap();
        assert_eq!(v, 1);
    }
    go.send(()).unwrap();
    eventually("the refreshed value is stored", || {
        b.get::<i32>("k").unwrap() == Some(2)
    });
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let s = b.stats();
    assert_eq!((s.refreshes_started, s.stale_served), (1, 4));
    // A fresh lifetime: live for a plain get until a lifetime from now.
    clock.advance(LIFETIME - Duration::from_secs(1));
    assert_eq!(b.get::<i32>("k").unwrap(), Some(2));
}

#[test]
fn a_panicking_background_refresh_is_counted_and_the_stale_value_stays() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = swr_bucket(dir.path(), &clock);
    b.get_or_insert_with("k", || 1).unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    let v = b
        .get_or_insert_with_background("k", || -> i32 { panic!("upstream exploded") })
        .unwrap();
    assert_eq!(v, 1);
    eventually("the failure is counted", || b.stats().refreshes_failed == 1);
    // The slot is free again: the next caller refreshes.
    eventually("the next refresh starts and stores", || {
        b.get_or_insert_with("k", || 3).unwrap() == 3
    });
}

#[test]
fn stale_if_error_answers_with_the_expired_value_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .lifetime(LIFETIME)
        .stale_if_error(Duration::from_secs(600))
        .open()
        .unwrap();
    b.get_or_insert_with("k", || 1).unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    let v: anyhow::Result<i32> = b.get_or_try_insert_with("k", || anyhow::bail!("offline"));
    assert_eq!(v.unwrap(), 1);
    assert_eq!(b.stats().stale_if_error_answers, 1);
    // A success replaces it.
    let v: anyhow::Result<i32> = b.get_or_try_insert_with("k", || Ok(2));
    assert_eq!(v.unwrap(), 2);
    // Past the window the error is returned.
    clock.advance(LIFETIME + Duration::from_secs(601));
    let v: anyhow::Result<i32> = b.get_or_try_insert_with("k", || anyhow::bail!("offline"));
    assert!(v.is_err());
}

#[test]
fn a_failed_refresh_without_stale_if_error_returns_the_error_to_the_refresher_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = swr_bucket(dir.path(), &clock);
    b.get_or_insert_with("k", || 1).unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    let v: anyhow::Result<i32> = b.get_or_try_insert_with("k", || anyhow::bail!("offline"));
    assert!(v.is_err());
    assert_eq!(b.stats().refreshes_failed, 1);
    // The next caller takes the (released) refresh.
    assert_eq!(b.get_or_insert_with("k", || 2).unwrap(), 2);
}

#[test]
fn refresh_ahead_refreshes_a_live_entry_near_its_expiry_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .lifetime(LIFETIME)
        .refresh_ahead(true)
        .open()
        .unwrap();
    // The first computation takes ~50 ms: refresh ahead weighs by it.
    let v = b
        .get_or_insert_with("k", || {
            std::thread::sleep(Duration::from_millis(50));
            1
        })
        .unwrap();
    assert_eq!(v, 1);
    let cold_misses = b.stats().misses;
    // Early in its life: never refreshed.
    clock.advance(Duration::from_secs(1));
    for _ in 0..1000 {
        assert_eq!(
            b.get_or_insert_with("k", || -> i32 { unreachable!() })
                .unwrap(),
            1
        );
    }
    // Within the last computation time before expiry: always.
    clock.advance(LIFETIME - Duration::from_secs(1) - Duration::from_millis(10));
    let m = b
        .memoize("k", false, || Ok::<_, bucketcache::Error>(2))
        .unwrap();
    assert_eq!((m.value, m.hit), (2, false));
    assert_eq!(b.stats().refreshes_started, 1);
    assert_eq!(b.stats().misses, cold_misses, "only the cold start missed");
}

#[test]
fn refresh_ahead_in_the_background_answers_with_the_current_value() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .lifetime(LIFETIME)
        .refresh_ahead(true)
        .open()
        .unwrap();
    b.get_or_insert_with("k", || {
        std::thread::sleep(Duration::from_millis(50));
        1
    })
    .unwrap();
    clock.advance(LIFETIME - Duration::from_millis(10));
    let m = b
        .memoize_background("k", || Ok::<_, bucketcache::Error>(2))
        .unwrap();
    assert_eq!((m.value, m.hit, m.stale), (1, true, false));
    eventually("the early refresh is stored", || {
        b.get::<i32>("k").unwrap() == Some(2)
    });
}

#[test]
fn a_hung_refresh_is_abandoned_after_the_single_flight_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .lifetime(LIFETIME)
        .stale_while_revalidate(Duration::from_secs(600))
        .single_flight_timeout(Duration::from_millis(300))
        .open()
        .unwrap();
    b.get_or_insert_with("k", || 1).unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    let (release, hung) = mpsc::channel::<()>();
    let v = b
        .get_or_insert_with_background("k", move || {
            hung.recv().ok();
            99
        })
        .unwrap();
    assert_eq!(v, 1);
    assert_eq!(
        b.get_or_insert_with("k", || -> i32 { unreachable!("refresh in progress") })
            .unwrap(),
        1
    );
    let digest = b.hash_for_key("k").unwrap();
    // Past the timeout its lock is released and the next caller refreshes.
    eventually("the hung refresh's lock is released", || {
        matches!(b.store().try_lock(&digest).unwrap(), Locked::Acquired(_))
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(b.get_or_insert_with("k", || 2).unwrap(), 2);
    assert_eq!(b.stats().refreshes_started, 2);
    // The hung computation ends at last: its value is not stored.
    release.send(()).unwrap();
    eventually("the late result is counted as failed", || {
        b.stats().refreshes_failed == 1
    });
    assert_eq!(b.get::<i32>("k").unwrap(), Some(2));
}

#[test]
fn freshness_options_come_from_a_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.toml");
    std::fs::write(
        &file,
        "path = \"cache\"\nlifetime = \"1m\"\nstale_while_revalidate = \"10s\"\n\
         stale_if_error = \"1h\"\nrefresh_ahead = true\nrefresh_threads = 3\n",
    )
    .unwrap();
    bucketcache::install_default_backends().unwrap();
    let b = Bucket::from_config(&bucketcache::BucketConfig::from_file(&file).unwrap()).unwrap();
    let f = b.freshness();
    assert_eq!(f.stale_while_revalidate, Some(Duration::from_secs(10)));
    assert_eq!(f.stale_if_error, Some(Duration::from_secs(3600)));
    assert!(f.refresh_ahead);
    assert_eq!(b.refresh_threads(), 3);
}

#[test]
fn a_worker_stuck_in_a_hung_refresh_is_replaced_so_other_keys_still_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .lifetime(LIFETIME)
        .stale_while_revalidate(Duration::from_secs(600))
        .single_flight_timeout(Duration::from_millis(200))
        .refresh_threads(1)
        .open()
        .unwrap();
    b.get_or_insert_with("hung", || 1).unwrap();
    b.get_or_insert_with("other", || 1).unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    let (release, hung) = mpsc::channel::<()>();
    // The only worker hangs in this refresh ...
    b.get_or_insert_with_background("hung", move || {
        hung.recv().ok();
        2
    })
    .unwrap();
    // ... and another key's refresh still runs, on the worker that replaces it.
    assert_eq!(b.get_or_insert_with_background("other", || 2).unwrap(), 1);
    eventually("the other key is refreshed", || {
        b.get::<i32>("other").unwrap() == Some(2)
    });
    release.send(()).unwrap();
}

/// A child that starts a background refresh of a minute, then returns: its process must exit
/// without waiting for it.
#[test]
fn exiting_child_entry_point() {
    if std::env::var_os("BUCKETCACHE_FRESH_EXIT_CHILD").is_none() {
        return;
    }
    let dir = std::path::PathBuf::from(std::env::var("BUCKETCACHE_FRESH_EXIT_DIR").unwrap());
    let clock = clock();
    let b = swr_bucket(&dir, &clock);
    b.get_or_insert_with("k", || 1).unwrap();
    clock.advance(LIFETIME + Duration::from_secs(1));
    let v = b
        .get_or_insert_with_background("k", || {
            std::thread::sleep(Duration::from_secs(60));
            2
        })
        .unwrap();
    println!("served={v}");
}

#[test]
fn a_process_exits_without_waiting_for_its_background_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = crate::common::child_command(
        "freshness::exiting_child_entry_point",
        ("BUCKETCACHE_FRESH_EXIT_CHILD", "1"),
        ("BUCKETCACHE_FRESH_EXIT_DIR", dir.path()),
        &[],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("served=1"), "{stdout}");
    // The refresh would take a minute: the child did not wait for it.
    assert!(started.elapsed() < Duration::from_secs(50));
}
