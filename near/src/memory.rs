//! The bounded in-memory layer: digest → entry, weighed in bytes, evicting the least useful
//! entries when over its limit.
//!
//! The structure is `quick_cache`'s concurrent cache: a CLOCK-Pro / S3-FIFO-like policy (a hot
//! and a cold queue with reference bits, and "ghost" keys that remember recent evictions), not
//! a strict LRU: an entry read again soon after it was loaded survives a scan of one-off reads.
//! A hit takes a shard's read lock and clones one `Arc`. The cache is split in 8 (`SHARDS`)
//! shards, each with its share of the limit, and refuses an entry heavier than about a shard;
//! this layer keeps no entry weighing more than a tenth (`MAX_ENTRY_FRACTION`) of the limit
//! (such an entry is still written to and read from the store, just not kept in memory).
//!
//! ```
//! # fn main() -> bucketcache_core::Result<()> {
//! # bucketcache::install_default_backends()?;
//! use bucketcache_core::Bucket;
//! let dir = tempfile::tempdir().unwrap();
//! let b = Bucket::builder(dir.path()).backend("msgpack").open()?;
//! assert_eq!(b.memory_limit(), 64 << 20); // the default: 64 MiB
//! b.set("small", &"x".repeat(100))?;
//! b.set("large", &"x".repeat(8 << 20))?; // over a tenth of the limit
//! assert!(b.is_loaded("small") && !b.is_loaded("large"));
//! # Ok(()) }
//! ```

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, OptionsBuilder, Weighter};

use crate::digest_hasher::DigestHasher;
use crate::entry::Entry;
use bucketcache_traits::backend::ValueLocation;
use bucketcache_traits::Expiration;

/// The in-memory layer's default limit: 64 MiB of entries.
#[doc(hidden)]
pub const DEFAULT_MEMORY_LIMIT: u64 = 64 << 20;

/// The number of shards of the in-memory layer (one for limits under 1 MiB).
pub(crate) const SHARDS: usize = 8;

/// An entry weighing more than `limit / MAX_ENTRY_FRACTION` is never kept in memory.
pub(crate) const MAX_ENTRY_FRACTION: u64 = 10;

/// What an entry costs in memory besides its bytes: its key, the shared record, the cache's
/// slot and table (an estimate, on 64-bit targets).
const ENTRY_OVERHEAD: u64 = 256;

/// An entry as the memory layer holds it: the shared entry, when it was loaded or written (by
/// the bucket's clock, only when the layer has a maximum age) and its weight, fixed when it
/// was inserted.
#[derive(Clone)]
pub struct Held {
    /// The entry.
    pub entry: Entry,
    /// When it was loaded or written, by the bucket's clock (only with a maximum age).
    pub since: Option<Expiration>,
    weight: u64,
}

#[derive(Clone, Copy, Default)]
struct ByWeight;

impl Weighter<String, Held> for ByWeight {
    fn weight(&self, _key: &String, held: &Held) -> u64 {
        held.weight
    }
}

/// Counts evictions (the only lifecycle event this layer cares about).
#[derive(Clone, Default)]
struct Counting(Arc<AtomicU64>);

impl Lifecycle<String, Held> for Counting {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, _state: &mut Self::RequestState, key: String, _held: Held) {
        self.0.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(digest = %key, "evicted from memory");
    }
}

type Map = Cache<String, Held, ByWeight, BuildHasherDefault<DigestHasher>, Counting>;

/// The in-memory layer of a bucket (absent when its limit is 0).
pub struct Memory {
    map: Option<Map>,
    evictions: Arc<AtomicU64>,
    limit: u64,
    max_weight: u64,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("bytes", &self.bytes())
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Memory {
    /// A layer holding at most `limit` bytes of entries; none at all for 0.
    pub fn new(limit: u64) -> Memory {
        let evictions = Arc::new(AtomicU64::new(0));
        if limit == 0 {
            return Memory {
                map: None,
                evictions,
                limit: 0,
                max_weight: 0,
            };
        }
        // Small limits get one shard, so that the largest entry kept stays a tenth of the
        // limit whatever the limit (a shard refuses an entry heavier than ~97% of its share).
        let shards = if limit >= 1 << 20 { SHARDS } else { 1 };
        // quick_cache keeps "ghost" keys for about half this many items, a few bytes each.
        let estimated_items = usize::try_from(limit / 1024).unwrap_or(usize::MAX).max(64);
        let options = OptionsBuilder::new()
            .shards(shards)
            .estimated_items_capacity(estimated_items)
            .weight_capacity(limit)
            .build();
        let map = match options {
            Ok(options) => Cache::with_options(
                options,
                ByWeight,
                BuildHasherDefault::default(),
                Counting(evictions.clone()),
            ),
            // Unreachable with the options above; a bucket then simply has no memory layer.
            Err(e) => {
                tracing::warn!(error = %e, "cannot build the in-memory layer: running without it");
                return Memory {
                    map: None,
                    evictions,
                    limit: 0,
                    max_weight: 0,
                };
            }
        };
        Memory {
            map: Some(map),
            evictions,
            limit,
            max_weight: limit / MAX_ENTRY_FRACTION,
        }
    }

    /// The most bytes held (0: no layer).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The entry of `digest`, counted as a use.
    #[inline]
    pub fn get(&self, digest: &str) -> Option<Held> {
        self.map.as_ref()?.get(digest)
    }

    /// Whether `digest` is held (not counted as a use).
    pub fn contains(&self, digest: &str) -> bool {
        self.map.as_ref().is_some_and(|m| m.contains_key(digest))
    }

    /// Keeps `entry`, replacing what was held (the bucket decides, under its key's stripe lock,
    /// whether a copy may be kept: see [`crate::generation`]).
    pub fn insert(&self, digest: &str, entry: Entry, since: Option<Expiration>) {
        let Some(map) = &self.map else { return };
        let weight = weight(&entry);
        if weight > self.max_weight {
            map.remove(digest);
            return;
        }
        map.insert(
            digest.to_owned(),
            Held {
                entry,
                since,
                weight,
            },
        );
    }

    /// Drops `digest`'s entry.
    pub fn remove(&self, digest: &str) {
        if let Some(map) = &self.map {
            map.remove(digest);
        }
    }

    /// The weight held, in bytes.
    pub fn bytes(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.weight())
    }

    /// Entries evicted so far to stay within the limit.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}

/// What an entry costs in memory: its bytes (capacity), twice when its value is (or may become)
/// a structure of its own beside them, and a fixed overhead.
fn weight(entry: &Entry) -> u64 {
    let bytes = entry.bytes.capacity() as u64;
    let own_value = !matches!(
        entry.value.get(),
        Some(ValueLocation::MessagePack(_) | ValueLocation::Json(_))
    );
    bytes + if own_value { bytes } else { 0 } + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::entry::Stored;

    fn entry(len: usize) -> Entry {
        let value = OnceLock::new();
        let _ = value.set(ValueLocation::Json(0..len));
        Arc::new(Stored {
            bytes: vec![b'0'; len],
            expiration: None,
            value,
            touched: Default::default(),
            age: std::time::Duration::ZERO,
        })
    }

    #[test]
    fn a_layer_stays_within_its_limit_and_counts_evictions() {
        let memory = Memory::new(1 << 20);
        for i in 0..10_000 {
            memory.insert(&format!("{i:064x}"), entry(1000), None);
        }
        assert!(memory.bytes() <= 1 << 20, "{}", memory.bytes());
        assert!(memory.evictions() > 9_000);
    }

    #[test]
    fn an_entry_over_a_tenth_of_the_limit_is_not_kept() {
        let memory = Memory::new(1 << 20);
        memory.insert("a", entry(10), None);
        assert!(memory.contains("a"));
        memory.insert("a", entry(200 << 10), None);
        assert!(
            !memory.contains("a"),
            "a replaced entry too large to keep is dropped"
        );
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let memory = Memory::new(0);
        memory.insert("a", entry(10), None);
        assert!(!memory.contains("a"));
        assert_eq!(memory.bytes(), 0);
    }
}
