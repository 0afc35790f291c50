//! The write path of a [`Bucket`]: encode, write, keep the copy, account for the budget — each
//! write bracketed by a change of the key's generation (per-key linearizability).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{unix_seconds, Bucket, Entry, Stored};
use crate::backend::Sized_;
use crate::budget::Change;
use crate::stats::bump;
use crate::store::{Kind, Listed};
use crate::time::{add_lifetime, Expiration};
use crate::validate::shielded;
use crate::{Error, Result};
use bucketcache_near::generation::Mutation;

impl Bucket {
    #[doc(hidden)]
    pub fn encode<V: Serialize + ?Sized>(&self, value: &V) -> Result<Entry> {
        let expiration = self
            .inner
            .lifetime
            .map(|l| add_lifetime(self.inner.clock.now(), l));
        let backend = &self.inner.backend;
        let mut bytes = Vec::with_capacity(128);
        let located = shielded(|| backend.dump(&Sized_(value), expiration, &mut bytes)).map_err(
            |source| Error::Encode {
                backend: backend.name().to_owned(),
                source,
            },
        )?;
        let limit = match self.inner.store.max_value_bytes() {
            Some(store_limit) => store_limit.min(self.inner.max_entry_bytes),
            None => self.inner.max_entry_bytes,
        };
        if bytes.len() as u64 > limit {
            return Err(Error::EntryTooLarge {
                size: bytes.len() as u64,
                limit,
            });
        }
        let value = OnceLock::new();
        if let Some(v) = located {
            let _ = value.set(v);
        }
        // The in-memory layer weighs the buffer: no slack kept from its growth.
        if bytes.capacity() - bytes.len() > 64 {
            bytes.shrink_to_fit();
        }
        Ok(Arc::new(Stored {
            bytes,
            expiration,
            value,
            touched: AtomicU64::new(0),
            age: Duration::ZERO,
        }))
    }

    #[doc(hidden)]
    pub fn write_entry(&self, digest: &str, entry: Entry) -> Result<()> {
        if let Some(budget) = &self.inner.budget {
            budget.admit(entry.bytes.len() as u64)?;
        }
        let name = self.file_name(digest);
        let old = self.budgeted_size(&name);
        // A store that drops data by itself (Redis) drops the entry when it expires, or when
        // the freshness grace after that ends (a memoized call may serve it until then).
        let grace = self.inner.freshness.grace();
        let expires = entry
            .expiration
            .map(|e| SystemTime::from(e.and_utc()) + grace);
        let mutation = self.inner.generations.begin(digest);
        if let Err(e) = self
            .inner
            .store
            .write_expiring(&name, &entry.bytes, expires)
        {
            return Err(self.write_failed(digest, &mutation, &name, e));
        }
        self.wrote(digest, &name, entry, old, mutation);
        Ok(())
    }

    /// A store write of `digest`'s entry `name` failed within `mutation`: when the write may
    /// have happened all the same, memory must not keep vouching for the old value, so the next
    /// read asks the store.
    #[doc(hidden)]
    pub fn write_failed(
        &self,
        digest: &str,
        mutation: &Mutation<'_>,
        name: &str,
        e: std::io::Error,
    ) -> Error {
        if outcome_unknown(&e) {
            let _locked = mutation.lock();
            self.inner.memory.remove(digest);
        }
        self.store_error(name, e)
    }

    /// What follows the store's write of `entry` as `name` within `mutation` (begun before the
    /// write; `old`: the size it replaced, for a disk budget): counters, memory, budget. The
    /// async API's native writes call it after their own write.
    #[doc(hidden)]
    pub fn wrote(
        &self,
        digest: &str,
        name: &str,
        entry: Entry,
        old: Option<u64>,
        mutation: Mutation<'_>,
    ) {
        bump(&self.inner.counters.sets);
        let size = entry.bytes.len() as u64;
        if self.inner.budget.is_some() {
            entry.touched.store(unix_seconds(), Ordering::Relaxed);
        }
        {
            let _locked = mutation.lock();
            if mutation.may_keep() {
                self.inner.memory.insert(digest, entry, self.memory_since());
            } else {
                // Another mutation of the key overlapped: the store may hold either.
                self.inner.memory.remove(digest);
            }
        }
        drop(mutation);
        if let Some(budget) = &self.inner.budget {
            budget.update(self, Change::Wrote { old, new: size }, Some(name));
        }
    }

    /// The size of the entry file `name` when the bucket has a disk budget (which accounts for
    /// what a write replaces or a removal frees); `None` without a budget or without a file.
    pub(super) fn budgeted_size(&self, name: &str) -> Option<u64> {
        if self.inner.budget.as_ref()?.counts_itself() {
            return None; // the store's own count has it
        }
        match self.inner.store.stat(name) {
            Ok(Some(l)) if l.kind == Kind::File => Some(l.size),
            _ => None,
        }
    }

    /// When an entry entering memory now was loaded or written, if the layer has a maximum age.
    pub(super) fn memory_since(&self) -> Option<Expiration> {
        self.memory_since_aged(Duration::ZERO)
    }

    /// Like [`memory_since`](Self::memory_since) for bytes that were already `age` old when
    /// read (a near cache's copy): their age counts from when the store last had them.
    pub(crate) fn memory_since_aged(&self, age: Duration) -> Option<Expiration> {
        self.inner.memory_ttl.map(|_| {
            let now = self.inner.clock.now();
            chrono::Duration::from_std(age)
                .ok()
                .and_then(|a| now.checked_sub_signed(a))
                .unwrap_or(now)
        })
    }

    /// The entry file `name` is about to go: its removal begins (it ends when the returned
    /// mutation is dropped, after the file went), and its copy leaves memory (if it is this
    /// backend's).
    pub(crate) fn forget_file(&self, name: &str) -> Mutation<'_> {
        // Digests have no dot: a name's key is what comes before its first one.
        let key = name.split_once('.').map_or(name, |(key, _)| key);
        let mutation = self.inner.generations.begin(key);
        let digest = name
            .strip_suffix(self.inner.backend.file_extension())
            .and_then(|rest| rest.strip_suffix('.'));
        if let Some(digest) = digest {
            let _locked = mutation.lock();
            self.inner.memory.remove(digest);
        }
        mutation
    }

    /// Evicts `victim` for a disk budget if the store still holds it as listed (not used,
    /// rewritten or removed since): the key's change begins before the file goes, so no reader
    /// that read it before keeps it in memory after. Returns the bytes freed.
    pub(crate) fn evict(&self, victim: &Listed) -> Option<u64> {
        let change = self.forget_file(&victim.name);
        let removed = self.inner.store.remove_if_unchanged(victim);
        drop(change);
        match removed {
            Ok(Some(size)) => {
                bump(&self.inner.counters.store_evictions);
                tracing::debug!(file = %victim.name, size, "evicted (disk budget)");
                Some(size)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(file = %victim.name, error = %e, "cannot evict");
                None
            }
        }
    }

    /// [`evict`](Self::evict) for a batch, removed by the store in one go
    /// ([`Store::remove_all_if_unchanged`]): the size removed of each victim.
    pub(crate) fn evict_all(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        let changes: Vec<_> = victims.iter().map(|v| self.forget_file(&v.name)).collect();
        let removed = self.inner.store.remove_all_if_unchanged(victims);
        drop(changes);
        for (victim, size) in victims.iter().zip(&removed) {
            if let Some(size) = size {
                bump(&self.inner.counters.store_evictions);
                tracing::debug!(file = %victim.name, size, "evicted (disk budget)");
            }
        }
        removed
    }
}

/// Whether a failed store write may have happened all the same (a request sent but not
/// answered: Redis's `OutcomeUnknown` travels as `NotConnected`, a command timeout as
/// `TimedOut`). Other failures (a full disk, a refused connection) changed nothing.
fn outcome_unknown(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotConnected | std::io::ErrorKind::TimedOut
    )
}

/// A disk budget bounds a bucket through this: eviction goes through the bucket's generations,
/// memory and statistics.
impl crate::budget::Evictor for Bucket {
    fn store(&self) -> &dyn crate::store::Store {
        &*self.inner.store
    }

    fn budget_entries(&self) -> Result<Vec<Listed>> {
        self.inspector().budget_entries()
    }

    fn evict(&self, victim: &Listed) -> Option<u64> {
        Bucket::evict(self, victim)
    }

    fn evict_all(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        Bucket::evict_all(self, victims)
    }
}
