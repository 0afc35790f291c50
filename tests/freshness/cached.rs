//! `#[cached]` with a bucket's freshness options, and its `background` option.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bucketcache::{Bucket, ManualClock};

use super::eventually;

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
static CLOCK: LazyLock<Arc<ManualClock>> = LazyLock::new(crate::common::clock);
static STALE: LazyLock<Bucket> = LazyLock::new(|| {
    crate::common::builder(&DIR.path().join("stale"), "json", &CLOCK)
        .lifetime(Duration::from_secs(60))
        .stale_while_revalidate(Duration::from_secs(600))
        .open()
        .unwrap()
});
static RUNS: AtomicU64 = AtomicU64::new(0);

#[bucketcache::cached(bucket = STALE, background)]
fn generation(name: String) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst) + 1
}

#[test]
fn a_cached_function_serves_its_stale_value_and_refreshes_in_the_background() {
    assert_eq!(generation("a".into()), 1);
    assert_eq!(generation("a".into()), 1);
    CLOCK.advance(Duration::from_secs(61));
    // Expired within the window: the stale value at once, the body runs on the pool.
    assert_eq!(generation("a".into()), 1);
    eventually("the background refresh ran and was stored", || {
        STALE.get::<u64>(&generation_key("a")).ok().flatten() == Some(2)
    });
    assert_eq!(generation("a".into()), 2);
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    assert!(STALE.stats().stale_served >= 1);
}

/// The key `#[cached]` gives `generation(name)`.
fn generation_key(name: &str) -> serde_json::Value {
    serde_json::json!([
        concat!(module_path!(), "::generation"),
        { "name": name }
    ])
}

static ERR_CLOCK: LazyLock<Arc<ManualClock>> = LazyLock::new(crate::common::clock);
static ON_ERROR: LazyLock<Bucket> = LazyLock::new(|| {
    crate::common::builder(&DIR.path().join("error"), "json", &ERR_CLOCK)
        .lifetime(Duration::from_secs(60))
        .stale_if_error(Duration::from_secs(600))
        .open()
        .unwrap()
});
static UP: AtomicU64 = AtomicU64::new(1);

#[bucketcache::cached(bucket = ON_ERROR)]
fn quote(symbol: &str) -> Result<u64, String> {
    match UP.load(Ordering::SeqCst) {
        0 => Err(format!("{symbol}: upstream down")),
        v => Ok(v),
    }
}

#[test]
fn a_cached_result_function_answers_with_its_stale_value_when_the_body_fails() {
    assert_eq!(quote("X"), Ok(1));
    UP.store(0, Ordering::SeqCst);
    ERR_CLOCK.advance(Duration::from_secs(61));
    assert_eq!(quote("X"), Ok(1), "stale within stale_if_error");
    assert_eq!(ON_ERROR.stats().stale_if_error_answers, 1);
    ERR_CLOCK.advance(Duration::from_secs(600));
    assert!(quote("X").is_err(), "past the window, the error");
}
