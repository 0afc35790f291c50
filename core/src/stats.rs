//! Counters of what a [`Bucket`](crate::Bucket) did since it was opened: [`Stats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a bucket's counters since it was opened (shared by its clones and its
/// deferred-write views), from [`Bucket::stats`](crate::Bucket::stats).
///
/// A lookup (`get`, `get_with_expiration`, `contains`, a memoized call's lookup) is counted
/// once: a memory hit when the in-memory layer answered, a store hit when the store did, else a
/// miss; an entry found expired is a miss and is also counted in `expired`.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// let dir = tempfile::tempdir().unwrap();
/// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
/// b.set("k", &1)?;
/// b.get::<i32>("k")?;                  // from memory
/// b.unload("k");
/// b.get::<i32>("k")?;                  // from the file
/// b.get::<i32>("nothing")?;            // a miss
/// let s = b.stats();
/// assert_eq!((s.sets, s.memory_hits, s.store_hits, s.misses), (1, 1, 1, 1));
/// assert_eq!(s.store_bytes, None);     // no disk budget
/// assert!(s.degraded.is_empty());      // every configured guarantee holds
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lookups the in-memory layer answered.
    pub memory_hits: u64,
    /// Lookups the store answered.
    pub store_hits: u64,
    /// Lookups that found no live entry (missing, expired, undecodable).
    pub misses: u64,
    /// Of the misses, those that found an expired entry.
    pub expired: u64,
    /// Entries written to the store (`set`, synced deferred writes, memoized results).
    pub sets: u64,
    /// `remove` calls that found something to remove.
    pub removes: u64,
    /// Entries the in-memory layer dropped to stay within its limit.
    pub memory_evictions: u64,
    /// Entries this bucket removed from the store to keep its disk budget (including
    /// [`Bucket::shrink_to`](crate::Bucket::shrink_to)).
    pub store_evictions: u64,
    /// Bytes the in-memory layer holds now (its estimate of entries and their overhead).
    pub memory_bytes: u64,
    /// Bytes of entries in the location, as the disk budget last counted them (`None`
    /// without a disk budget, or before the budget's first count).
    pub store_bytes: Option<u64>,
    /// Entries in the location, as the disk budget last counted them (`None` likewise).
    pub store_entries: Option<u64>,
    /// Times the disk budget's accounting (and eviction) was put off because its lock was not
    /// free within [`BucketBuilder::lock_timeout`](crate::BucketBuilder::lock_timeout): the
    /// entry was written; a later `set` catches the budget up (see [`crate::budget`]).
    pub budget_deferred: u64,
    /// Times this bucket took the disk budget's lock to update the record shared by processes
    /// (once per 1% of the budget
    /// written, and when its view is over the budget).
    pub budget_locks: u64,
    /// The guarantees this bucket was configured with and does not keep, and why: only ever
    /// non-empty when it was opened with
    /// [`BucketBuilder::allow_degraded(true)`](crate::BucketBuilder::allow_degraded) (without
    /// it, [`open`](crate::BucketBuilder::open) fails with [`Error::Degraded`](crate::Error::Degraded)),
    /// or when a helper file became unusable after the bucket was opened.
    pub degraded: Vec<Degradation>,
    /// Memoized calls answered with an expired value within the stale-while-revalidate window
    /// while another caller refreshed it (see [`crate::freshness`]).
    pub stale_served: u64,
    /// Refreshes of an expired or nearly expired entry this process started (in the caller or
    /// in the background).
    pub refreshes_started: u64,
    /// Of those, the ones whose computation failed (an `Err`, a panic in the background) or
    /// was abandoned past the single-flight timeout.
    pub refreshes_failed: u64,
    /// Memoized calls whose computation failed and that answered with an expired value within
    /// the stale-if-error window instead of the error.
    pub stale_if_error_answers: u64,
}

pub use bucketcache_traits::{Degradation, Guarantee};

impl Stats {
    /// Memory hits and store hits.
    pub fn hits(&self) -> u64 {
        self.memory_hits + self.store_hits
    }

    /// Memory and store evictions.
    pub fn evictions(&self) -> u64 {
        self.memory_evictions + self.store_evictions
    }
}

/// The live counters behind [`Stats`]: one relaxed atomic increment each.
#[derive(Debug, Default)]
#[doc(hidden)]
pub struct Counters {
    pub memory_hits: AtomicU64,
    pub store_hits: AtomicU64,
    pub misses: AtomicU64,
    pub expired: AtomicU64,
    pub sets: AtomicU64,
    pub removes: AtomicU64,
    pub store_evictions: AtomicU64,
    pub stale_served: AtomicU64,
    pub refreshes_started: AtomicU64,
    pub refreshes_failed: AtomicU64,
    pub stale_if_error_answers: AtomicU64,
}

/// Adds one.
#[inline]
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// The counters' values (the memory and store figures are filled in by the bucket).
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            memory_hits: get(&self.memory_hits),
            store_hits: get(&self.store_hits),
            misses: get(&self.misses),
            expired: get(&self.expired),
            sets: get(&self.sets),
            removes: get(&self.removes),
            store_evictions: get(&self.store_evictions),
            stale_served: get(&self.stale_served),
            refreshes_started: get(&self.refreshes_started),
            refreshes_failed: get(&self.refreshes_failed),
            stale_if_error_answers: get(&self.stale_if_error_answers),
            ..Stats::default()
        }
    }
}
