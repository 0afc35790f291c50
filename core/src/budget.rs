//! Disk budgets: a location that stays within a number of bytes and of entries, evicting the
//! least recently used entries first.
//!
//! # The rule
//!
//! A budget counts the *entries* of a location: regular files named as entries of any
//! registered backend (all backends in it, not only the bucket's). Foreign files, helper names
//! (starting with `.`, such as the record [`.bucketcache-budget`](crate::store::FsStore)) and
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
//! when its own unrecorded writes reach [`UNRECORDED_PERCENT`] of the budget; when the totals
//! pass the budget, that `set` evicts down to the low-water mark ([`LOW_WATER_PERCENT`] of the
//! budget), so eviction runs once per tenth of the budget, not on every `set`. The victims come
//! from a listing sorted by recency, kept by the bucket and used until it runs out (each victim
//! is looked at again just before it goes: if it was used or rewritten since the listing, it
//! stays); the record is counted afresh from a listing then, and at least every
//! [`RECOUNT_AFTER`].
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
//! A single process is held to its budget exactly: after a `set` returns, the location is within
//! it. With several processes, the location is within its budget plus what the others have
//! written but not yet recorded: at most [`UNRECORDED_PERCENT`] of the budget per process, and
//! one entry per process writing at that moment. Writers *without* this budget (other buckets,
//! Python) are seen at the next count. The tests hold four processes to the budget plus 10%
//! (measured: 5.3%).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bucket::Bucket;
use crate::store::{Listed, Store};

/// A budget evicts down to this share of its limits (in percent), so that it evicts once per
/// tenth of the budget rather than on every `set`.
pub const LOW_WATER_PERCENT: u64 = 90;

/// The record of a location's totals is counted afresh from a listing at least this often
/// (it drifts when writers without the budget share the location).
pub const RECOUNT_AFTER: Duration = Duration::from_secs(300);

/// The most eviction candidates a bucket keeps from one listing (about 130 bytes each): the
/// location is listed again when they run out.
const MAX_CANDIDATES: usize = 32_768;

/// What a budget counts: entries and their bytes.
///
/// ```
/// use bucketcache_core::budget::Usage;
/// let u = Usage::new(10, 4096);
/// assert!(u.is_over(Some(4000), None));
/// assert!(!u.is_over(Some(4096), Some(10)));
/// assert!(u.is_over(None, Some(9)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Number of entries.
    pub entries: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

impl Usage {
    /// Usage of `entries` entries totalling `bytes` bytes.
    pub fn new(entries: u64, bytes: u64) -> Self {
        Usage { entries, bytes }
    }

    /// Whether this is over `max_bytes` or `max_entries` (`None`: no limit).
    pub fn is_over(&self, max_bytes: Option<u64>, max_entries: Option<u64>) -> bool {
        max_bytes.is_some_and(|m| self.bytes > m) || max_entries.is_some_and(|m| self.entries > m)
    }

    fn remove(&mut self, size: u64) {
        self.entries = self.entries.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(size);
    }
}

/// Orders `entries` for eviction: least recently used first (unknown use first), then by name.
pub(crate) fn eviction_order(entries: &mut [Listed]) {
    entries.sort_by(|a, b| {
        let used = |l: &Listed| l.used.unwrap_or(UNIX_EPOCH);
        used(a).cmp(&used(b)).then_with(|| a.name.cmp(&b.name))
    });
}

/// How many of `entries` (in eviction order, totalling `usage`) go, first to last, to bring
/// the location within `max_bytes` and `max_entries`.
pub(crate) fn victims(
    entries: &[Listed],
    mut usage: Usage,
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
) -> usize {
    let mut n = 0;
    for e in entries {
        if !usage.is_over(max_bytes, max_entries) {
            break;
        }
        usage.remove(e.size);
        n += 1;
    }
    n
}

/// The record kept with the location: its totals and when they were last counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    usage: Usage,
    /// Seconds since the epoch of the last count from a listing.
    counted_at: u64,
}

const MAGIC: &[u8; 8] = b"BCBUDGT1";

impl Record {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.usage.bytes.to_le_bytes());
        out.extend_from_slice(&self.usage.entries.to_le_bytes());
        out.extend_from_slice(&self.counted_at.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(
                rest.get(i * 8..i * 8 + 8)?.try_into().ok()?,
            ))
        };
        Some(Record {
            usage: Usage::new(word(1)?, word(0)?),
            counted_at: word(2)?,
        })
    }
}

/// What a write or a removal changed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    /// A write of `new` bytes over an entry of `old` bytes (`None`: a new entry).
    Wrote { old: Option<u64>, new: u64 },
    /// An entry of this many bytes was removed.
    Removed(u64),
}

/// Changes made by this bucket and not yet added to the record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Pending {
    added: Usage,
    removed: Usage,
}

impl Pending {
    fn add(&mut self, change: Change) {
        match change {
            Change::Wrote { old, new } => {
                self.added.entries += 1;
                self.added.bytes = self.added.bytes.saturating_add(new);
                if let Some(old) = old {
                    self.removed.entries += 1;
                    self.removed.bytes = self.removed.bytes.saturating_add(old);
                }
            }
            Change::Removed(size) => {
                self.removed.entries += 1;
                self.removed.bytes = self.removed.bytes.saturating_add(size);
            }
        }
    }

    /// `usage` with these changes.
    fn applied_to(&self, usage: Usage) -> Usage {
        Usage::new(
            (usage.entries.saturating_add(self.added.entries)).saturating_sub(self.removed.entries),
            (usage.bytes.saturating_add(self.added.bytes)).saturating_sub(self.removed.bytes),
        )
    }

    /// How much these changes grow the location: `(entries, bytes)`.
    fn growth(&self) -> (u64, u64) {
        (
            self.added.entries.saturating_sub(self.removed.entries),
            self.added.bytes.saturating_sub(self.removed.bytes),
        )
    }
}

/// The share of a budget (in percent) a bucket may write before it adds its writes to the
/// location's record, unless its own view says the location is over budget: per process, the
/// slack of the budget.
pub const UNRECORDED_PERCENT: u64 = 1;

/// A bucket's disk budget: its limits, its eviction candidates, and what it last saw.
#[derive(Debug)]
pub(crate) struct Budget {
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
    state: Mutex<State>,
    /// The totals last seen (`u64::MAX`: not yet), for statistics.
    seen_bytes: AtomicU64,
    seen_entries: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// Eviction candidates from the last listing, the least recently used last.
    queue: Vec<Listed>,
    /// The record, when the store keeps none shared by processes.
    local: Option<Record>,
    /// Count afresh at the next update (after a prune or a shrink).
    stale: bool,
    /// This bucket's changes not yet in the record.
    pending: Pending,
    /// The record's totals when this bucket last updated it.
    seen: Option<Usage>,
}

impl Budget {
    /// A budget of `max_bytes` and `max_entries` (`None` when neither is given).
    pub(crate) fn new(max_bytes: Option<u64>, max_entries: Option<u64>) -> Option<Budget> {
        if max_bytes.is_none() && max_entries.is_none() {
            return None;
        }
        Some(Budget {
            max_bytes,
            max_entries,
            state: Mutex::new(State::default()),
            seen_bytes: AtomicU64::new(u64::MAX),
            seen_entries: AtomicU64::new(u64::MAX),
        })
    }

    pub(crate) fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    pub(crate) fn max_entries(&self) -> Option<u64> {
        self.max_entries
    }

    /// The totals last seen: `(bytes, entries)`.
    pub(crate) fn seen(&self) -> (Option<u64>, Option<u64>) {
        let get = |a: &AtomicU64| Some(a.load(Ordering::Relaxed)).filter(|&v| v != u64::MAX);
        (get(&self.seen_bytes), get(&self.seen_entries))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts afresh at the next update (the location changed under a prune or a shrink).
    pub(crate) fn invalidate(&self) {
        let mut state = self.state();
        state.stale = true;
        state.queue.clear();
    }

    /// Accounts for `change` and, if the location is now over budget, evicts down to the
    /// low-water mark, never `protect` (the entry just written). Failures are logged: the
    /// write itself has succeeded.
    ///
    /// The record is updated (under the store's lock) when this bucket's view — the record as
    /// it last saw it, plus its own changes since — is over budget, or when its own unrecorded
    /// growth passes [`UNRECORDED_PERCENT`] of the budget: a single process is held to its budget
    /// exactly, and each process adds at most that share to what the others cannot see.
    pub(crate) fn update(&self, bucket: &Bucket, change: Change, protect: Option<&str>) {
        let mut state = self.state();
        state.pending.add(change);
        let must = match state.seen {
            _ if state.stale => true,
            None => true,
            Some(seen) => {
                let view = state.pending.applied_to(seen);
                self.publish(view);
                let (entries, bytes) = state.pending.growth();
                let allowance = |limit: Option<u64>, grown: u64| {
                    limit.is_some_and(|m| grown > m / 100 * UNRECORDED_PERCENT)
                };
                view.is_over(self.max_bytes, self.max_entries)
                    || allowance(self.max_entries, entries)
                    || allowance(self.max_bytes, bytes)
            }
        };
        if must {
            self.record(bucket, &mut state, protect);
        }
    }

    /// Adds this bucket's pending changes to the record (evicting if over budget).
    fn record(&self, bucket: &Bucket, state: &mut State, protect: Option<&str>) {
        let store = &**bucket.store();
        let pending = std::mem::take(&mut state.pending);
        let shared = store.update_budget_record(&mut |bytes| {
            let record = self.settle(
                bucket,
                state,
                bytes.and_then(Record::decode),
                pending,
                protect,
            );
            state.seen = Some(record.usage);
            record.encode()
        });
        match shared {
            Ok(true) => {}
            Ok(false) => {
                let local = state.local.take();
                let record = self.settle(bucket, state, local, pending, protect);
                state.seen = Some(record.usage);
                state.local = Some(record);
            }
            Err(e) => {
                // Keep the changes for the next try.
                state.pending = pending;
                tracing::warn!(location = %store.location().display(), error = %e,
                    "cannot update the disk budget's record: the budget is not enforced by this write");
            }
        }
        if let Some(seen) = state.seen {
            self.publish(state.pending.applied_to(seen));
        }
    }

    /// Adds this bucket's pending changes to the record, evicting nothing (the bucket is being
    /// dropped: its changes must not be lost from the totals).
    pub(crate) fn flush(&self, store: &dyn Store) {
        let mut state = self.state();
        let pending = std::mem::take(&mut state.pending);
        if pending == Pending::default() {
            return;
        }
        let shared =
            store.update_budget_record(&mut |bytes| match bytes.and_then(Record::decode) {
                Some(mut r) => {
                    r.usage = pending.applied_to(r.usage);
                    r.encode()
                }
                // No record to add to: the next update counts the location.
                None => bytes.map(<[u8]>::to_vec).unwrap_or_default(),
            });
        match shared {
            Ok(true) => {}
            Ok(false) => {
                if let Some(r) = &mut state.local {
                    r.usage = pending.applied_to(r.usage);
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot add a closing bucket's writes to the disk budget's record")
            }
        }
    }

    /// Publishes the totals this bucket sees, for its statistics.
    fn publish(&self, usage: Usage) {
        self.seen_bytes.store(usage.bytes, Ordering::Relaxed);
        self.seen_entries.store(usage.entries, Ordering::Relaxed);
    }

    /// The record after `pending`, evicting when over budget.
    fn settle(
        &self,
        bucket: &Bucket,
        state: &mut State,
        record: Option<Record>,
        pending: Pending,
        protect: Option<&str>,
    ) -> Record {
        let now = unix_seconds(SystemTime::now());
        let fresh = |r: &Record| now.saturating_sub(r.counted_at) < RECOUNT_AFTER.as_secs();
        let applied = record.map(|mut r| {
            r.usage = pending.applied_to(r.usage);
            r
        });
        let mut record = match applied {
            Some(r) if !state.stale && fresh(&r) => r,
            // A count from a listing already includes these changes.
            _ => self
                .count(bucket, state, now)
                .or(applied)
                .unwrap_or(Record {
                    usage: Usage::default(),
                    counted_at: 0,
                }),
        };
        if record.usage.is_over(self.max_bytes, self.max_entries) {
            self.evict(bucket, state, &mut record, protect, now);
        }
        self.publish(record.usage);
        record
    }

    /// Counts the location from a listing and refills the eviction candidates.
    fn count(&self, bucket: &Bucket, state: &mut State, now: u64) -> Option<Record> {
        let entries = match bucket.inspector().budget_entries() {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(location = %bucket.path().display(), error = %e,
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
        state.queue = queue;
        state.stale = false;
        tracing::debug!(location = %bucket.path().display(), entries = usage.entries,
            bytes = usage.bytes, "counted the location for its disk budget");
        Some(Record {
            usage,
            counted_at: now,
        })
    }

    /// Evicts the least recently used entries until `record` is at the low-water mark.
    fn evict(
        &self,
        bucket: &Bucket,
        state: &mut State,
        record: &mut Record,
        protect: Option<&str>,
        now: u64,
    ) {
        let low = |limit: Option<u64>| {
            limit.map(|m| m / 100 * LOW_WATER_PERCENT + m % 100 * LOW_WATER_PERCENT / 100)
        };
        let (low_bytes, low_entries) = (low(self.max_bytes), low(self.max_entries));
        let store = bucket.store();
        let mut recounted = false;
        let mut evicted = 0u64;
        while record.usage.is_over(low_bytes, low_entries) {
            let Some(victim) = state.queue.pop() else {
                if recounted {
                    break; // nothing left that may go
                }
                recounted = true;
                match self.count(bucket, state, now) {
                    Some(r) => *record = r,
                    None => break,
                }
                continue;
            };
            if protect == Some(victim.name.as_str()) {
                continue;
            }
            match store.remove_if_unchanged(&victim) {
                Ok(Some(size)) => {
                    record.usage.remove(size);
                    evicted += 1;
                    bucket.evicted_from_store(&victim.name);
                    tracing::debug!(file = %victim.name, size, "evicted (disk budget)");
                }
                Ok(None) => {} // used, rewritten or removed since the listing
                Err(e) => {
                    tracing::debug!(file = %victim.name, error = %e, "cannot evict");
                }
            }
        }
        if record.usage.is_over(self.max_bytes, self.max_entries) {
            tracing::debug!(location = %bucket.path().display(), entries = record.usage.entries,
                bytes = record.usage.bytes, "still over the disk budget: nothing more may be evicted");
        } else if evicted > 0 {
            tracing::debug!(location = %bucket.path().display(), evicted,
                entries = record.usage.entries, bytes = record.usage.bytes,
                "evicted down to the disk budget's low-water mark");
        }
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Kind;

    fn listed(name: &str, size: u64, secs: u64) -> Listed {
        Listed::new(
            name.into(),
            size,
            Kind::File,
            Some(UNIX_EPOCH + Duration::from_secs(secs)),
        )
    }

    #[test]
    fn the_least_recently_used_go_first_then_by_name() {
        let mut entries = vec![
            listed("c", 1, 30),
            listed("b", 1, 10),
            listed("a", 1, 10),
            Listed::new("u".into(), 1, Kind::File, None),
        ];
        eviction_order(&mut entries);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["u", "a", "b", "c"]);
    }

    #[test]
    fn victims_bring_both_limits_within() {
        let entries: Vec<_> = (0..10).map(|i| listed(&i.to_string(), 100, i)).collect();
        let usage = Usage::new(10, 1000);
        assert_eq!(victims(&entries, usage, Some(1000), None), 0);
        assert_eq!(victims(&entries, usage, Some(750), None), 3);
        assert_eq!(victims(&entries, usage, None, Some(4)), 6);
        assert_eq!(victims(&entries, usage, Some(750), Some(4)), 6);
        assert_eq!(victims(&entries, usage, Some(0), None), 10);
    }

    #[test]
    fn records_round_trip_and_garbage_is_no_record() {
        let r = Record {
            usage: Usage::new(3, 4096),
            counted_at: 1_700_000_000,
        };
        assert_eq!(Record::decode(&r.encode()), Some(r));
        assert_eq!(Record::decode(b"BCBUDGT1short"), None);
        assert_eq!(Record::decode(b"something else entirely, 32 bytes"), None);
    }
}
