//! Disk budgets: a location that stays within a number of bytes and of entries, evicting the
//! least recently used entries first.
//!
//! # The rule
//!
//! A budget counts the *entries* of a location: regular files named as entries of any
//! registered backend (all backends in it, not only the bucket's). Foreign files, helper names
//! (starting with `.`, such as the record [`.bucketcache-budget`](bucketcache_fs::FsStore)) and
//! temporary files of writers are neither counted nor ever removed. Sizes are the entries'
//! lengths, not the disk blocks they occupy.
//!
//! Eviction goes by [`Listed::used`]: for the file store, the file's modification time, which a
//! `set` sets and a read *by a bucket with a budget* refreshes ([`Store::touch`]) — so a read in
//! any process counts as a use, and a bucket without a budget writes nothing on reads. The least
//! recently used entry goes first (ties by name); an entry written or read in the last moments
//! therefore goes only after every older one, and a `set` never evicts the entry it has just
//! written.
//!
//! # When
//!
//! Every bucket with a budget keeps, with the location, a small record of the location's
//! totals (for the file store, `.bucketcache-budget`, updated under an exclusive lock, so all
//! processes count together). A bucket adds its writes to the record as soon as its view (the
//! record as it last saw it, plus its own writes since) passes the budget, and at the latest
//! when its own unrecorded writes pass 1% (`UNRECORDED_PERCENT`) of the budget (computed exactly,
//! and for a budget of entries at least one entry: a budget of 10 entries records every other
//! new entry, not on every `set`); when the totals pass the budget, that `set` evicts down to the low-water
//! mark (90% of the budget, `LOW_WATER_PERCENT`), so eviction runs once per tenth of the budget,
//! not on every `set`. The victims come from a listing sorted by recency, kept by the bucket
//! and used until it runs out (each victim is looked at again just before it goes: if it was
//! used or rewritten since the listing, it stays and counts again).
//!
//! The location is listed for new eviction candidates *outside* the lock (before an update
//! that will evict with too few left, and when a bucket's writes since its last count make a
//! whole budget: that listing may raise the record, never lower it). Under the lock, the record
//! is read and written and the victims (about a tenth of the budget) are removed — so that a
//! `set` returns with its eviction done, which is what holds every process to the slack below;
//! once 20 ms (or a quarter of the lock timeout, if shorter) have passed, the eviction stops as
//! soon as the location is within its limits, the rest left to the next one. A count that may
//! lower the record (one that cannot be right, or is 5 minutes (`RECOUNT_AFTER`) old, after a prune, or
//! when the candidates ran out anyway) lists under the lock, since a count outside it would lose
//! the updates others make meanwhile.
//!
//! # Stores that count themselves
//!
//! A store that keeps its own usage and recency index ([`Store::usage`] and
//! [`Store::eviction_candidates`]: LMDB in each write transaction, Redis in the scripts that
//! change entries) needs none of the above: a budgeted `set` reads the store's totals (one
//! lookup, exact) and, when they are over the budget, evicts the least recently used entries
//! from the front of the store's index down to the low-water mark — no record, no listing, so
//! it costs the same at any number of entries. The record, its lock and the rules below are
//! the file store's (and any store without these capabilities).
//!
//! # Locks have deadlines
//!
//! The record's lock is waited for at most
//! `BucketBuilder::lock_timeout` ([`DEFAULT_LOCK_TIMEOUT`],
//! 2 s), and no in-process lock is held meanwhile (threads of one process never wait for each
//! other: a thread that finds another updating leaves its changes to it). When the deadline
//! passes — another process holds the lock and is stopped, or stuck — the `set` goes on: the
//! entry is written, its accounting and any eviction are put off (logged, and counted in
//! `Stats::budget_deferred`), and every following `set` tries
//! the lock once, without waiting. The first that gets it adds everything put off and evicts:
//! the location is back within the budget's slack (below) plus one entry.
//!
//! # The record is a hint, the store is the truth
//!
//! The record is counted afresh from a listing (whatever it says):
//! - at the next update, when it cannot be right: a `counted_at` more than
//!   60 s (`FUTURE_TOLERANCE`) ahead of this process's clock, bytes without entries, a size or
//!   format a record cannot have (an unreadable record is one);
//! - when it was counted `RECOUNT_AFTER` (5 minutes) ago or more, by the first bucket that
//!   updates it;
//! - after a `prune` or a `shrink_to`, and
//!   when the candidates of the last listing run out while evicting.
//!
//! And each bucket, once the writes it added to the record since its own last listing make up
//! a whole budget (`max_bytes` bytes, or `max_entries` entries), lists the location and raises
//! the record to at least what it listed (a record that undercounts cannot hide more than that).
//!
//! So from any starting record — forged, stale, or left by a process killed mid-update — the
//! location is back within the budget's slack after at most one budget's worth of writes of a
//! bucket, or five minutes.
//!
//! # Entries that cannot fit
//!
//! An entry larger than `max_bytes` (or any entry, with `max_entries(0)`) can never fit:
//! `set` refuses it with `Error::OverBudget` and writes nothing.
//!
//! ```
//! # fn main() -> bucketcache_core::Result<()> {
//! # bucketcache::install_default_backends()?;
//! use bucketcache_core::{budget::Usage, Bucket};
//! let dir = tempfile::tempdir().unwrap();
//! let b = Bucket::builder(dir.path()).backend("json").max_entries(50).open()?;
//! for i in 0..200 {
//!     b.set(&i, &i)?;
//!     assert!(b.inspector().usage()?.entries <= 50);
//! }
//! let usage: Usage = b.inspector().usage()?;
//! assert!(!usage.is_over(None, Some(50)));
//! assert!(dir.path().join(".bucketcache-budget").exists()); // the shared record
//! assert!(b.stats().store_evictions >= 150);
//! # Ok(()) }
//! ```
//!
//! # Slack
//!
//! A single thread is held to its budget exactly: after a `set` returns, the location is within
//! it. Otherwise the location is within its budget plus what the other writers have written but
//! not yet recorded: at most the larger of 1% of the budget and one entry per process
//! (threads of one process share its record), and one entry per thread writing at that moment.
//! The documented slack is 10% of the budget plus one entry; the tests hold four processes to
//! it after every `set` (measured: 5.3%). Writers *without* this budget (other buckets,
//! Python) are seen at the next count; while a lock deadline has passed, the deferred writes
//! come on top until the lock is free (see above).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketcache_fs::BUDGET_RECORD;
use bucketcache_traits::store::{Listed, Store};
use bucketcache_traits::{Degradation, Guarantee};

mod by_store;
mod record;

pub use record::Change;
use record::{Pending, Record};

/// A budget evicts down to this share of its limits (in percent), so that it evicts once per
/// tenth of the budget rather than on every `set`.
pub(crate) const LOW_WATER_PERCENT: u64 = 90;

/// The record of a location's totals is counted afresh from a listing at least this often,
/// whatever it says (it drifts when writers without the budget share the location, and a
/// record may be wrong): by the first bucket that updates it after this time.
pub(crate) const RECOUNT_AFTER: Duration = Duration::from_secs(300);

/// The share of a budget (in percent) a bucket may write, beyond the entry it has just written,
/// before it adds its writes to the location's record, unless its own view says the location is
/// over budget: per process, the slack of the budget.
pub(crate) const UNRECORDED_PERCENT: u64 = 1;

pub use bucketcache_traits::store::DEFAULT_LOCK_TIMEOUT;

/// The most eviction candidates a bucket keeps from one listing (about 130 bytes each): the
/// location is listed again when they run out.
const MAX_CANDIDATES: usize = 32_768;

pub use bucketcache_traits::Usage;

/// What a budget needs of the bucket it bounds: its store, the entries it counts, and an
/// eviction that keeps the bucket's own layers (memory, generations, statistics) coherent.
pub trait Evictor {
    /// The store the budget bounds.
    fn store(&self) -> &dyn Store;
    /// The entries the budget counts (regular files named as entries of any registered
    /// backend), with their sizes and last use.
    fn budget_entries(&self) -> bucketcache_traits::Result<Vec<Listed>>;
    /// Removes `victim` if it is unchanged since it was listed: its size if it was removed.
    fn evict(&self, victim: &Listed) -> Option<u64>;
    /// Removes each of `victims` unchanged since listed, in one batch where the store can.
    fn evict_all(&self, victims: &[Listed]) -> Vec<Option<u64>>;
}

/// Whether `grown` (a bucket's unrecorded growth) is over `percent`% of `limit`, computed
/// exactly (no truncation: a limit under 100 has a share under one).
fn over_share(grown: u64, limit: u64, percent: u64) -> bool {
    u128::from(grown) * 100 > u128::from(limit) * u128::from(percent)
}

/// `percent`% of `limit`, rounded down, computed without overflow.
fn share(limit: u64, percent: u64) -> u64 {
    (u128::from(limit) * u128::from(percent) / 100) as u64
}

/// Whether a bucket whose unrecorded changes grew the location by `grown` must add them to the
/// record: when they are over `UNRECORDED_PERCENT` of a limit (exactly: no truncation) and,
/// for a limit of entries, more than one entry.
fn past_allowance(grown: Usage, max_bytes: Option<u64>, max_entries: Option<u64>) -> bool {
    max_entries
        .is_some_and(|m| grown.entries > 1 && over_share(grown.entries, m, UNRECORDED_PERCENT))
        || max_bytes.is_some_and(|m| over_share(grown.bytes, m, UNRECORDED_PERCENT))
}

/// A bucket's disk budget: its limits, its eviction candidates, and what it last saw.
#[derive(Debug)]
pub struct Budget {
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
    /// How long the record's lock is waited for (see [`DEFAULT_LOCK_TIMEOUT`]).
    lock_timeout: Duration,
    /// Whether the store's record shared by processes is used (else this process keeps its own).
    shared: AtomicBool,
    /// This bucket's unrecorded changes and the totals it last saw: held for a few
    /// instructions, never across I/O.
    view: Mutex<View>,
    /// Held by the thread updating the record; never waited for (another thread that finds it
    /// busy leaves its changes to it and to the next update).
    recorder: Mutex<Recorder>,
    /// Count afresh at the next update (after a prune or a shrink).
    stale: AtomicBool,
    /// The last update found the record's lock busy past its deadline: updates try once,
    /// without waiting, until one gets it and catches up.
    deferred: AtomicBool,
    /// Updates put off for the lock (for `Stats::budget_deferred`).
    deferrals: AtomicU64,
    /// Times this bucket updated the record under its lock (for
    /// `Stats::budget_locks`).
    locks: AtomicU64,
    /// The totals last seen (`u64::MAX`: not yet), for statistics.
    seen_bytes: AtomicU64,
    seen_entries: AtomicU64,
    /// The shared record became unusable after the bucket was opened.
    degraded: Mutex<Option<Degradation>>,
    /// The store answered its own usage at the last update (see [`Budget::counts_itself`]).
    store_counts: AtomicBool,
}

#[derive(Debug, Default)]
struct View {
    /// This bucket's changes not yet in the record.
    pending: Pending,
    /// The record's totals when this bucket last updated it.
    seen: Option<Usage>,
}

#[derive(Debug, Default)]
struct Recorder {
    /// Eviction candidates from the last listing, the least recently used last.
    queue: Vec<Listed>,
    /// The record, when this process keeps its own.
    local: Option<Vec<u8>>,
    /// The growth this bucket added to the record since it last counted the location: at a
    /// whole budget, it counts again whatever the record says.
    since_count: Usage,
}

impl Budget {
    /// A budget of `max_bytes` and `max_entries` (`None` when neither is given), waiting at
    /// most `lock_timeout` for the record's lock; `shared`: use the store's record shared by
    /// processes (else each process keeps its own).
    pub fn new(
        max_bytes: Option<u64>,
        max_entries: Option<u64>,
        lock_timeout: Duration,
        shared: bool,
    ) -> Option<Budget> {
        if max_bytes.is_none() && max_entries.is_none() {
            return None;
        }
        Some(Budget {
            max_bytes,
            max_entries,
            lock_timeout,
            shared: AtomicBool::new(shared),
            view: Mutex::new(View::default()),
            recorder: Mutex::new(Recorder::default()),
            stale: AtomicBool::new(false),
            deferred: AtomicBool::new(false),
            deferrals: AtomicU64::new(0),
            locks: AtomicU64::new(0),
            seen_bytes: AtomicU64::new(u64::MAX),
            seen_entries: AtomicU64::new(u64::MAX),
            degraded: Mutex::new(None),
            store_counts: AtomicBool::new(false),
        })
    }

    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    pub fn max_entries(&self) -> Option<u64> {
        self.max_entries
    }

    /// The totals last seen: `(bytes, entries)`.
    pub fn seen(&self) -> (Option<u64>, Option<u64>) {
        let get = |a: &AtomicU64| Some(a.load(Ordering::Relaxed)).filter(|&v| v != u64::MAX);
        (get(&self.seen_bytes), get(&self.seen_entries))
    }

    /// Updates put off because the record's lock was busy past its deadline.
    pub fn deferrals(&self) -> u64 {
        self.deferrals.load(Ordering::Relaxed)
    }

    /// Times this bucket updated the record under its lock.
    pub fn locks(&self) -> u64 {
        self.locks.load(Ordering::Relaxed)
    }

    /// The shared record's failure since the bucket was opened, if any.
    pub fn degradation(&self) -> Option<Degradation> {
        self.degraded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Refuses an entry of `size` bytes that can never fit this budget.
    /// Whether the store kept its own count at the last update: then a change's sizes are not
    /// needed (the store's count already has them), and a `set` need not look up the size of
    /// what it replaces.
    pub fn counts_itself(&self) -> bool {
        self.store_counts.load(Ordering::Relaxed)
    }

    pub fn admit(&self, size: u64) -> bucketcache_traits::Result<()> {
        if self.max_bytes.is_some_and(|m| size > m) || self.max_entries == Some(0) {
            return Err(bucketcache_traits::Error::over_budget(
                size,
                self.max_bytes,
                self.max_entries,
            ));
        }
        Ok(())
    }

    fn view(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take_pending(&self) -> Pending {
        std::mem::take(&mut self.view().pending)
    }

    fn restore_pending(&self, pending: Pending) {
        self.view().pending.merge(pending);
    }

    /// Counts afresh at the next update (the location changed under a prune or a shrink).
    pub fn invalidate(&self) {
        self.stale.store(true, Ordering::Relaxed);
        if let Ok(mut recorder) = self.recorder.try_lock() {
            recorder.queue.clear();
        }
    }

    /// Accounts for `change` and, if the location is now over budget, evicts down to the
    /// low-water mark, never `protect` (the entry just written). Failures are logged: the
    /// write itself has succeeded.
    ///
    /// The record is updated (under the store's lock) when this bucket's view — the record as
    /// it last saw it, plus its own changes since — is over budget, or when its own unrecorded
    /// growth passes `UNRECORDED_PERCENT` of the budget (of entries: at least one entry): a
    /// single thread is held to its budget exactly, and each process adds at most that share
    /// (or one entry) to what the others cannot see.
    pub fn update(&self, bucket: &dyn Evictor, change: Change, protect: Option<&str>) {
        if self.by_store(bucket, protect) {
            return;
        }
        let must = {
            let mut view = self.view();
            view.pending.add(change);
            match view.seen {
                _ if self.stale.load(Ordering::Relaxed) => true,
                _ if self.deferred.load(Ordering::Relaxed) => true,
                None => true,
                Some(seen) => {
                    let now = view.pending.applied_to(seen);
                    self.publish(now);
                    now.is_over(self.max_bytes, self.max_entries)
                        || past_allowance(view.pending.growth(), self.max_bytes, self.max_entries)
                }
            }
        };
        if must {
            self.record(bucket, protect);
        }
    }

    /// Adds this bucket's pending changes to the record and, when it is over budget, evicts,
    /// under the record's lock (waited for at most the lock timeout). The candidates for
    /// eviction are listed before, outside the lock; a count that may lower the record (a
    /// record that cannot be right or is `RECOUNT_AFTER` old, after a prune) is listed under
    /// it, so that no process's update is lost from it.
    fn record(&self, bucket: &dyn Evictor, protect: Option<&str>) {
        let mut recorder = match self.recorder.try_lock() {
            Ok(r) => r,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            // Another thread is updating: it, or the next update, takes these changes.
            Err(TryLockError::WouldBlock) => return,
        };
        let Recorder {
            queue,
            local,
            since_count,
        } = &mut *recorder;
        let store = bucket.store();
        let must_count = self.stale.swap(false, Ordering::Relaxed);
        // Listed outside the lock (then counted as a floor for the record, which may not be
        // lowered from a listing others' updates may have passed): when this bucket has added
        // a whole budget since its last count, and when it will evict and has too few
        // candidates left.
        let volume_due = since_count.is_over(self.max_bytes, self.max_entries)
            && *since_count != Usage::default();
        let view = {
            let v = self.view();
            v.seen.map(|seen| v.pending.applied_to(seen))
        };
        let short = view
            .is_some_and(|v| v.is_over(self.max_bytes, self.max_entries) && self.too_few(queue, v));
        // While a lock deadline has passed, each set tries the lock once and lists nothing.
        let deferred = self.deferred.load(Ordering::Relaxed);
        let floor = match !must_count && !deferred && (volume_due || short) {
            true => self
                .count(bucket, queue, since_count, unix_seconds(SystemTime::now()))
                .map(|r| r.usage),
            false => None,
        };
        let pending = self.take_pending();
        let mut seen = None;
        let mut apply = |bytes: Option<&[u8]>| -> Vec<u8> {
            let now = unix_seconds(SystemTime::now());
            let trusted = bytes
                .and_then(Record::decode)
                .filter(|r| !must_count && r.is_possible(now) && r.is_fresh(now, RECOUNT_AFTER));
            let mut recounted = false;
            let mut record = match trusted {
                Some(mut r) => {
                    r.usage = pending.applied_to(r.usage);
                    if let Some(floor) = floor {
                        if floor.is_over(Some(r.usage.bytes), Some(r.usage.entries)) {
                            tracing::debug!(location = %bucket.store().location().display(),
                                record = ?r.usage, listed = ?floor,
                                "the disk budget's record undercounted the location");
                        }
                        r.usage = Usage::new(
                            r.usage.entries.max(floor.entries),
                            r.usage.bytes.max(floor.bytes),
                        );
                    }
                    let growth = pending.growth();
                    since_count.entries += growth.entries;
                    since_count.bytes = since_count.bytes.saturating_add(growth.bytes);
                    r
                }
                // Cannot be right, or due: count (the listing has this bucket's changes).
                None => {
                    recounted = true;
                    let applied = bytes.and_then(Record::decode).map(|mut r| {
                        r.usage = pending.applied_to(r.usage);
                        r
                    });
                    self.count(bucket, queue, since_count, now)
                        .or(applied)
                        .unwrap_or(Record {
                            usage: Usage::default(),
                            counted_at: 0,
                        })
                }
            };
            if record.usage.is_over(self.max_bytes, self.max_entries) {
                loop {
                    let exhausted = self.evict(bucket, queue, &mut record.usage, protect);
                    if !exhausted || recounted {
                        break;
                    }
                    recounted = true;
                    match self.count(bucket, queue, since_count, now) {
                        Some(r) => record = r,
                        None => break,
                    }
                }
            }
            seen = Some(record.usage);
            record.encode()
        };
        match self.with_record(store, local, &mut apply) {
            Ok(()) => {}
            Err(e) => {
                self.restore_pending(pending);
                if must_count {
                    self.stale.store(true, Ordering::Relaxed);
                }
                match e.kind() {
                    std::io::ErrorKind::TimedOut => self.defer(bucket, &e),
                    // The shared record became unusable: this process keeps its own.
                    _ => self.lose_shared(bucket, e),
                }
                return;
            }
        }
        if deferred {
            self.deferred.store(false, Ordering::Relaxed);
            tracing::info!(location = %bucket.store().location().display(),
                "the disk budget's lock is free again: caught up");
        }
        if let Some(seen) = seen {
            let now_usage = {
                let mut view = self.view();
                view.seen = Some(seen);
                view.pending.applied_to(seen)
            };
            self.publish(now_usage);
        }
    }

    /// Runs `apply` on the shared record (under its lock, waited for at most the lock
    /// timeout, or once without waiting after a deadline passed), or on this process's own.
    fn with_record(
        &self,
        store: &dyn Store,
        local: &mut Option<Vec<u8>>,
        apply: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> std::io::Result<()> {
        if self.shared.load(Ordering::Relaxed) {
            let wait = match self.deferred.load(Ordering::Relaxed) {
                true => Duration::ZERO,
                false => self.lock_timeout,
            };
            if store.update_budget_record(wait, apply)? {
                self.locks.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        }
        let new = apply(local.as_deref());
        *local = Some(new);
        Ok(())
    }

    /// The record's lock stayed busy past its deadline: the write stands, its accounting waits.
    fn defer(&self, bucket: &dyn Evictor, e: &std::io::Error) {
        self.deferrals.fetch_add(1, Ordering::Relaxed);
        if !self.deferred.swap(true, Ordering::Relaxed) {
            tracing::warn!(location = %bucket.store().location().display(), error = %e,
                timeout = ?self.lock_timeout,
                "the disk budget's lock is busy: its accounting and eviction are put off until it is free");
        } else {
            tracing::debug!(location = %bucket.store().location().display(),
                "the disk budget's lock is still busy: accounting put off");
        }
    }

    /// The shared record cannot be used any more: report it and keep a record in this process.
    fn lose_shared(&self, bucket: &dyn Evictor, e: std::io::Error) {
        self.shared.store(false, Ordering::Relaxed);
        self.stale.store(true, Ordering::Relaxed);
        let path = bucket.store().location().join(BUDGET_RECORD);
        tracing::warn!(record = %path.display(), error = %e,
            "cannot use the disk budget's shared record: this process keeps the budget alone");
        *self.degraded.lock().unwrap_or_else(|p| p.into_inner()) = Some(Degradation::new(
            Guarantee::DiskBudget,
            path,
            format!("{e}; the budget is kept by each process alone, from its own listings"),
        ));
    }

    /// Adds this bucket's pending changes to the record, evicting nothing (the bucket is being
    /// dropped: its changes must not be lost from the totals).
    pub fn flush(&self, store: &dyn Store) {
        let pending = self.take_pending();
        if pending == Pending::default() {
            return;
        }
        if !self.shared.load(Ordering::Relaxed) {
            return; // this process's own record goes with it
        }
        let now = unix_seconds(SystemTime::now());
        let mut local = None;
        let mut apply = |bytes: Option<&[u8]>| match bytes.and_then(Record::decode) {
            Some(mut r) if r.is_possible(now) => {
                r.usage = pending.applied_to(r.usage);
                r.encode()
            }
            // No record to add to: the next update counts the location.
            _ => bytes.map(<[u8]>::to_vec).unwrap_or_default(),
        };
        if let Err(e) = self.with_record(store, &mut local, &mut apply) {
            tracing::debug!(error = %e, "cannot add a closing bucket's writes to the disk budget's record");
        }
    }

    /// Publishes the totals this bucket sees, for its statistics.
    pub(crate) fn publish(&self, usage: Usage) {
        self.seen_bytes.store(usage.bytes, Ordering::Relaxed);
        self.seen_entries.store(usage.entries, Ordering::Relaxed);
    }

    /// Counts the location from a listing and refills the eviction candidates.
    fn count(
        &self,
        bucket: &dyn Evictor,
        queue_out: &mut Vec<Listed>,
        since_count: &mut Usage,
        now: u64,
    ) -> Option<Record> {
        let entries = match bucket.budget_entries() {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(location = %bucket.store().location().display(), error = %e,
                    "cannot list the location to count its disk budget");
                return None;
            }
        };
        let usage = entries.iter().fold(Usage::default(), |mut u, e| {
            u.entries += 1;
            u.bytes = u.bytes.saturating_add(e.size);
            u
        });
        // Keep the least recently used (all of them, up to a bound), the oldest last: every
        // entry written after this listing goes only after all of them anyway, and one used
        // since is passed over when its turn comes.
        let mut queue = entries;
        queue.truncate(MAX_CANDIDATES);
        queue.reverse();
        *queue_out = queue;
        *since_count = Usage::default();
        tracing::debug!(location = %bucket.store().location().display(), entries = usage.entries,
            bytes = usage.bytes, "counted the location for its disk budget");
        Some(Record {
            usage,
            counted_at: now,
        })
    }

    /// The low-water mark: `(bytes, entries)`.
    pub(crate) fn low_water(&self) -> (Option<u64>, Option<u64>) {
        let low = |limit: Option<u64>| limit.map(|m| share(m, LOW_WATER_PERCENT));
        (low(self.max_bytes), low(self.max_entries))
    }

    /// Whether `queue` holds fewer candidates than it takes to bring `usage` to the
    /// low-water mark.
    fn too_few(&self, queue: &[Listed], usage: Usage) -> bool {
        let (low_bytes, low_entries) = self.low_water();
        let bytes: u64 = queue.iter().map(|l| l.size).sum();
        low_bytes.is_some_and(|low| bytes < usage.bytes.saturating_sub(low))
            || low_entries
                .is_some_and(|low| (queue.len() as u64) < usage.entries.saturating_sub(low))
    }

    /// Evicts from `queue` (each victim only if unchanged since its listing: one used or
    /// rewritten since stays) until `usage` is at the low-water mark — or only within the
    /// limits, once its time slice has passed — never `protect`. Returns whether
    /// the queue ran out first.
    fn evict(
        &self,
        bucket: &dyn Evictor,
        queue: &mut Vec<Listed>,
        usage: &mut Usage,
        protect: Option<&str>,
    ) -> bool {
        let (low_bytes, low_entries) = self.low_water();
        let mut evicted = 0u64;
        let mut exhausted = false;
        // The lock is held and a caller's `set` waits: past a short slice (at most a share of
        // the others' deadline), stop once within the limits (the next eviction goes on down).
        // On a slow disk an unlink costs milliseconds; a tenth of a large budget at once would
        // make one `set` take a tenth of a second.
        let slice = std::time::Instant::now() + (self.lock_timeout / 4).min(EVICTION_SLICE);
        while usage.is_over(low_bytes, low_entries) {
            if !usage.is_over(self.max_bytes, self.max_entries) && std::time::Instant::now() > slice
            {
                break;
            }
            let Some(victim) = queue.pop() else {
                exhausted = true;
                break;
            };
            if protect == Some(victim.name.as_str()) {
                continue;
            }
            if let Some(size) = bucket.evict(&victim) {
                usage.remove(size);
                evicted += 1;
            }
        }
        if evicted > 0 {
            tracing::debug!(location = %bucket.store().location().display(), evicted,
                entries = usage.entries, bytes = usage.bytes,
                "evicted towards the disk budget's low-water mark");
        }
        exhausted
    }
}

/// How long one `set` evicts beyond what brings the location within its limits.
const EVICTION_SLICE: Duration = Duration::from_millis(20);

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
