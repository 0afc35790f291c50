//! The read path of a [`Bucket`]: memory, then the store (or an answer the caller read
//! itself), the one expiry rule, the copy kept only if no change of the key overlapped the read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{unix_seconds, Bucket, Entry, Stored};
use crate::budget::Change;
use crate::stats::bump;
use crate::store::{Fetched, ReadLimits, Store};
use crate::validate::shielded;
use crate::Result;
use bucketcache_near::generation::Stamp;

impl Bucket {
    #[doc(hidden)]
    pub fn decode<V: DeserializeOwned>(&self, digest: &str, entry: &Stored) -> Option<V> {
        let decoded = shielded(|| {
            let value = match entry.value.get() {
                Some(v) => v,
                None => {
                    let d = self.inner.backend.decode(&entry.bytes)?;
                    entry.value.get_or_init(|| d.value)
                }
            };
            value.deserialize::<V>(&entry.bytes)
        });
        match decoded {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(digest, error = %e, "the stored value does not decode into the requested type: a miss");
                None
            }
        }
    }

    /// The read algorithm of the original (`_get_obj_from_hash`), with its bugs fixed: memory,
    /// else the store; an expired entry is a miss, and its file is deleted only if the file
    /// itself, read at the moment of deleting, says it has expired. Counted in the statistics.
    #[doc(hidden)]
    pub fn load(&self, digest: &str) -> Result<Option<Entry>> {
        self.lookup(digest, true)
    }

    /// The stamp a caller reading `digest`'s entry from the store itself takes before the read
    /// (see [`lookup_from`](Self::lookup_from)).
    #[doc(hidden)]
    pub fn read_stamp(&self, digest: &str) -> Option<Stamp> {
        self.inner.generations.before_read(digest)
    }

    /// A mutation of `digest`'s entry begins (before a caller changes the store itself; see
    /// [`wrote`](Self::wrote)).
    #[doc(hidden)]
    pub fn begin_change(&self, digest: &str) -> bucketcache_near::generation::Mutation<'_> {
        self.inner.generations.begin(digest)
    }

    /// [`load`](Self::load), counted in the statistics or not.
    pub(super) fn lookup(&self, digest: &str, count: bool) -> Result<Option<Entry>> {
        Ok(self.lookup_from(digest, count, None, false)?.0)
    }

    /// Like [`load`](Self::load), but an entry expired within the freshness grace (see
    /// [`Freshness::grace`](crate::freshness::Freshness::grace)) is returned too (counted as
    /// `expired`, not as a miss), for a memoized call to judge. Past the grace, the old rules.
    pub(crate) fn load_kept(&self, digest: &str) -> Result<Option<Entry>> {
        Ok(self.lookup_from(digest, true, None, true)?.0)
    }

    /// [`lookup`](Self::lookup) (with `keep`: [`load_kept`](Self::load_kept)); with
    /// `prefetched`, the store's answer that the caller read itself (the async API's native
    /// reads) stands for the store read — with the [`read_stamp`](Self::read_stamp) the caller
    /// took before reading — and the deletion of an expired entry (a store operation) is left
    /// to the caller: `true` says it is due ([`remove_if_expired`](Self::remove_if_expired)).
    #[doc(hidden)]
    pub fn lookup_from(
        &self,
        digest: &str,
        count: bool,
        prefetched: Option<Prefetched>,
        keep: bool,
    ) -> Result<(Option<Entry>, bool)> {
        let defer_removal = prefetched.is_some();
        let counters = &self.inner.counters;
        let (entry, read_at) = match self.memory_hit(digest) {
            Some(entry) => (entry, None),
            None => {
                // Taken before the read (by the caller, for a prefetched answer): a mutation that
                // begins after it makes the copy stale.
                let (prefetched, stamp) = match prefetched {
                    Some((fetched, stamp)) => (Some(fetched), stamp),
                    None => (None, self.inner.generations.before_read(digest)),
                };
                match self.read_entry(digest, prefetched)? {
                    Some(entry) => (entry, Some(stamp)),
                    None => {
                        if count {
                            bump(&counters.misses);
                        }
                        return Ok((None, false));
                    }
                }
            }
        };
        // Entries that never expire in a bucket without lifetime need no clock (the warm path).
        if (entry.expiration.is_some() || self.inner.lifetime.is_some())
            && self.verdict(entry.expiration).is_expired()
        {
            let within_grace = self.within_grace(entry.expiration);
            // Within the freshness grace a memoized call may still serve it: it stays.
            if keep && within_grace {
                if let Some(Some(stamp)) = read_at {
                    self.keep_read(digest, stamp, &entry);
                }
                if count {
                    bump(&counters.expired);
                }
                return Ok((Some(entry), false));
            }
            if within_grace {
                // Kept in the store for memoized calls; a plain read misses it.
                self.inner.memory.remove(digest);
            } else if !defer_removal {
                // With a prefetched answer the caller deletes (and drops the copy) itself.
                self.remove_if_expired(digest);
            }
            if count {
                bump(&counters.misses);
                bump(&counters.expired);
            }
            return Ok((None, defer_removal && !within_grace));
        }
        if let Some(stamp) = read_at {
            if self.records_uses() {
                self.touch(digest, &entry);
            }
            if let Some(stamp) = stamp {
                self.keep_read(digest, stamp, &entry);
            }
            if count {
                bump(&counters.store_hits);
            }
        } else {
            if self.records_uses() {
                let now = unix_seconds();
                if entry.touched.load(Ordering::Relaxed) < now {
                    self.touch(digest, &entry);
                }
            }
            if count {
                bump(&counters.memory_hits);
            }
        }
        Ok((Some(entry), false))
    }

    /// Keeps in memory a copy of `digest`'s entry read from the store after `stamp` — only if
    /// no mutation of the key was in flight when the read began, nor has begun since.
    pub(super) fn keep_read(&self, digest: &str, stamp: Stamp, entry: &Entry) {
        let _locked = self.inner.generations.lock(stamp.stripe());
        if self.inner.generations.is_current(stamp) {
            self.inner
                .memory
                .insert(digest, entry.clone(), self.memory_since_aged(entry.age));
        }
    }

    /// A hit of the in-memory layer that needs nothing of the store (the entry is live and no
    /// use is due to be recorded), counted; `None` when the store must be asked — a miss, an
    /// expired copy (whose file may have to go), a use to record. The async API answers such a
    /// hit inline and takes everything else to its blocking pool ([`load`](Self::load)).
    #[doc(hidden)]
    pub fn memory_only(&self, digest: &str) -> Option<Entry> {
        let entry = self.memory_hit(digest)?;
        if (entry.expiration.is_some() || self.inner.lifetime.is_some())
            && self.verdict(entry.expiration).is_expired()
        {
            return None;
        }
        if self.records_uses() && entry.touched.load(Ordering::Relaxed) < unix_seconds() {
            return None;
        }
        bump(&self.inner.counters.memory_hits);
        Some(entry)
    }

    /// The in-memory entry of `digest`, unless it is older than the layer's maximum age.
    #[inline]
    pub(super) fn memory_hit(&self, digest: &str) -> Option<Entry> {
        let held = self.inner.memory.get(digest)?;
        if let Some(ttl) = self.inner.memory_ttl {
            let now = self.inner.clock.now();
            let young = held
                .since
                .is_some_and(|since| (now - since).to_std().map_or(true, |age| age <= ttl));
            if !young {
                self.inner.memory.remove(digest);
                return None;
            }
        }
        Some(held.entry)
    }

    /// Whether reads record their use in the store: only with a disk budget (a bucket without
    /// one writes nothing on reads), and only in stores that keep recency.
    #[inline]
    pub(super) fn records_uses(&self) -> bool {
        self.inner.budget.is_some() && self.inner.store.supports_recency()
    }

    /// Records a use of `digest`'s file for the disk budget's recency.
    pub(super) fn touch(&self, digest: &str, entry: &Stored) {
        entry.touched.store(unix_seconds(), Ordering::Relaxed);
        let name = self.file_name(digest);
        if let Err(e) = self.inner.store.touch(&name) {
            tracing::debug!(file = %name, error = %e, "cannot record a use of an entry");
        }
    }

    /// Deletes `digest`'s file if what the store holds now has expired (not what memory held).
    #[doc(hidden)]
    pub fn remove_if_expired(&self, digest: &str) {
        let mutation = self.inner.generations.begin(digest);
        {
            let _locked = mutation.lock();
            self.inner.memory.remove(digest);
        }
        let name = self.file_name(digest);
        let backend = &self.inner.backend;
        let expired = |bytes: &[u8]| {
            shielded(|| backend.decode(bytes)).is_ok_and(|d| {
                self.verdict(d.expiration).is_expired() && !self.within_grace(d.expiration)
            })
        };
        let removed = self.inner.store.remove_if(&name, &expired);
        drop(mutation);
        match removed {
            Ok(Some(size)) => {
                tracing::debug!(file = %name, "deleted an expired entry");
                if let Some(budget) = &self.inner.budget {
                    budget.update(self, Change::Removed(size), None);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(file = %name, error = %e, "cannot delete an expired entry"),
        }
    }

    /// Reads and decodes the entry of `digest`: `None` when it is missing, not a regular file,
    /// too large, or cannot be decoded (all logged).
    /// With `prefetched`, what the caller read (without the head check, made here).
    pub(super) fn read_entry(
        &self,
        digest: &str,
        prefetched: Option<std::io::Result<(Fetched, Duration)>>,
    ) -> Result<Option<Entry>> {
        self.read_entry_from(&*self.inner.store, digest, prefetched)
    }

    /// [`read_entry`](Self::read_entry) from `store` (the bucket's, or the far store behind a
    /// near cache).
    pub(crate) fn read_entry_from(
        &self,
        store: &dyn Store,
        digest: &str,
        prefetched: Option<std::io::Result<(Fetched, Duration)>>,
    ) -> Result<Option<Entry>> {
        let name = self.file_name(digest);
        let backend = &self.inner.backend;
        let head = |h: &[u8]| shielded(|| Ok(backend.may_begin_entry(h))).unwrap_or(false);
        let limits = ReadLimits {
            max_bytes: self.inner.max_entry_bytes,
            may_begin: &head,
        };
        let fetched = match prefetched {
            Some(Ok((Fetched::Bytes(bytes), _)))
                if !head(&bytes[..bytes.len().min(crate::backend::HEAD_LEN)]) =>
            {
                Ok((Fetched::Rejected, Duration::ZERO))
            }
            Some(fetched) => fetched,
            None => store.read_with_age(&name, &limits),
        };
        let (bytes, age) = match fetched {
            Ok((Fetched::Bytes(bytes), age)) => (bytes, age),
            Ok((Fetched::Missing, _)) => return Ok(None),
            Ok((other, _)) => {
                tracing::debug!(file = %name, found = ?other, "not an entry of this backend: a miss, left in place");
                return Ok(None);
            }
            Err(e) if self.inner.fail_open => {
                tracing::warn!(file = %name, error = %e, "cannot read an entry: a miss (fail_open)");
                return Ok(None);
            }
            Err(e) => {
                tracing::debug!(file = %name, error = %e, "cannot read an entry");
                return Err(self.store_error(&name, e));
            }
        };
        match shielded(|| backend.decode(&bytes)) {
            Ok(decoded) => {
                let value = OnceLock::new();
                let _ = value.set(decoded.value);
                Ok(Some(Arc::new(Stored {
                    bytes,
                    expiration: decoded.expiration,
                    value,
                    touched: AtomicU64::new(0),
                    age,
                })))
            }
            Err(e) => {
                tracing::debug!(file = %name, backend = backend.name(), error = %e,
                    "cannot decode an entry: a miss, the file is kept");
                Ok(None)
            }
        }
    }
}

/// A store's answer read by the caller itself (with its age), and the stamp taken before the
/// read (see [`Bucket::lookup_from`]).
pub(crate) type Prefetched = (std::io::Result<(Fetched, Duration)>, Option<Stamp>);
