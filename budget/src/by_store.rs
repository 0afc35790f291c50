//! The budget of a store that counts its own usage and keeps a recency index (LMDB, Redis):
//! no shared record, no listing per `set`.

use std::sync::atomic::Ordering;
use std::sync::TryLockError;

use super::{Budget, Evictor};
use bucketcache_traits::store::Listed;

impl Budget {
    /// The budget of a store that counts its own usage and keeps a recency index
    /// ([`Store::usage`], [`Store::eviction_candidates`]): no record, no listing. Reads the
    /// store's totals (exact: updated in the write that changed them) and, when over budget,
    /// evicts the least recently used down to the low-water mark. Returns `false` when the
    /// store keeps no such count (the record's path applies).
    pub(super) fn by_store(&self, bucket: &dyn Evictor, protect: Option<&str>) -> bool {
        let store = bucket.store();
        let mut usage = match store.usage() {
            Ok(Some(usage)) => usage,
            Ok(None) => {
                self.store_counts.store(false, Ordering::Relaxed);
                return false;
            }
            Err(e) => {
                self.store_counts.store(false, Ordering::Relaxed);
                tracing::debug!(location = %bucket.store().location().display(), error = %e,
                    "cannot read the store's usage: counting from the record");
                return false;
            }
        };
        self.store_counts.store(true, Ordering::Relaxed);
        self.publish(usage);
        if !usage.is_over(self.max_bytes, self.max_entries) {
            return true;
        }
        // One thread of this process evicts at a time; the others leave it to it.
        let _evicting = match self.recorder.try_lock() {
            Ok(r) => r,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return true,
        };
        let (low_bytes, low_entries) = self.low_water();
        let mut evicted = 0u64;
        while usage.is_over(low_bytes, low_entries) {
            let wanted = low_entries.map_or(0, |low| usage.entries.saturating_sub(low));
            let batch = (wanted as usize).clamp(16, 1024);
            let candidates = match store.eviction_candidates(batch) {
                Ok(Some(c)) => c,
                Ok(None) => return false,
                Err(e) => {
                    tracing::debug!(location = %bucket.store().location().display(), error = %e,
                        "cannot read the store's eviction candidates");
                    break;
                }
            };
            let before = evicted;
            // As many of the least recent as bring the usage down to the low-water mark if they
            // all go, removed in one call (one transaction on LMDB).
            let mut projected = usage;
            let victims: Vec<Listed> = candidates
                .into_iter()
                .filter(|victim| protect != Some(victim.name.as_str()))
                .take_while(|victim| {
                    let over = projected.is_over(low_bytes, low_entries);
                    projected.remove(victim.size);
                    over
                })
                .collect();
            for size in bucket.evict_all(&victims).into_iter().flatten() {
                usage.remove(size);
                evicted += 1;
            }
            if evicted == before {
                break; // nothing left to evict but the entry just written, or others evict
            }
            if let Ok(Some(now)) = store.usage() {
                usage = now; // others' writes and evictions meanwhile
            }
        }
        if evicted > 0 {
            tracing::debug!(location = %bucket.store().location().display(), evicted,
                entries = usage.entries, bytes = usage.bytes,
                "evicted the least recently used entries (the store's own count)");
        }
        self.publish(usage);
        true
    }
}
