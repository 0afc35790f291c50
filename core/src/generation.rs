//! Per-key generations: what keeps a bucket linearizable per key within a process.
//!
//! **The rule:** once `set(k, v2)` or `remove(k)` has returned, no `get` (nor memoized call)
//! that starts later returns an older value — whatever the store, the in-memory layer or the
//! near cache. Stores themselves are linearizable per entry (a rename, an LMDB transaction, one
//! Redis command); the layers in front of them are not by themselves: a reader that read the
//! store just before a removal and put what it read into memory just after would bring the
//! removed value back for every later reader.
//!
//! So every mutation of an entry — `set`, `remove`, prune, a disk budget's eviction, the deletion
//! of an expired entry — is bracketed by [`Generations::begin`] and the drop of its
//! [`Mutation`], and every copy kept in a layer carries a [`Stamp`]: the generation of its key
//! when the copy's bytes were current. A copy is used only while its stamp is still the key's
//! generation ([`Generations::is_current`], one atomic load). A reader takes its stamp *before*
//! it reads the store, and gets none while a mutation of the key is in flight (what it reads may
//! be overtaken before the mutation ends); a writer's stamp is the generation it began, and only
//! if no other mutation was in flight when it began (two overlapping writes may reach the store
//! in either order: neither copy is kept).
//!
//! Generations are counted per stripe (a key's stripe is its hash modulo the number of stripes),
//! shared by every bucket of one location in the process: a write through one `Bucket` value
//! makes every other value's copy of that key (and of the few keys sharing its stripe) stale;
//! the cost of a shared stripe is only a read from the store instead of memory.
//!
//! ```
//! # fn main() -> bucketcache_core::Result<()> {
//! # bucketcache::install_default_backends()?;
//! let dir = tempfile::tempdir().unwrap();
//! let a = bucketcache_core::Bucket::open(dir.path())?;
//! let b = bucketcache_core::Bucket::open(dir.path())?; // its own memory layer
//! a.set("k", &1)?;
//! assert_eq!(b.get::<i32>("k")?, Some(1)); // now in b's memory too
//! a.remove("k")?;
//! assert_eq!(b.get::<i32>("k")?, None); // b's copy is stale: not used
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use crate::memory::DigestHasher;

/// How many stripes a location's generations have (8 bytes each).
pub(crate) const STRIPES: usize = 1 << 14;

/// A stripe's word: the mutations begun (high bits) and those in flight (low bits).
const IN_FLIGHT_BITS: u32 = 24;
const ONE_BEGUN: u64 = 1 << IN_FLIGHT_BITS;
const IN_FLIGHT: u64 = ONE_BEGUN - 1;

/// The generations of the keys of one location (see the [module](self)).
pub(crate) struct Generations {
    words: Box<[AtomicU64]>,
}

impl std::fmt::Debug for Generations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generations")
            .field("stripes", &self.words.len())
            .finish()
    }
}

/// When a copy's bytes were current: the generation of its key's stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    stripe: u32,
    begun: u64,
}

impl Stamp {
    /// The stripe of the stamped key.
    pub(crate) fn stripe(self) -> usize {
        self.stripe as usize
    }
}

/// A mutation of a key in flight; dropping it ends it.
#[must_use = "a mutation ends when dropped: keep it until the store has changed"]
pub(crate) struct Mutation<'a> {
    generations: &'a Generations,
    stamp: Stamp,
    /// No other mutation of the stripe was in flight when this one began.
    alone: bool,
}

impl Mutation<'_> {
    /// The stamp of what this mutation writes, if a copy of it may be kept: `None` when another
    /// mutation of the stripe was in flight when it began (the store may end with either).
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        self.alone.then_some(self.stamp)
    }

    /// The stripe of the key.
    pub(crate) fn stripe(&self) -> usize {
        self.stamp.stripe()
    }
}

impl Drop for Mutation<'_> {
    fn drop(&mut self) {
        self.generations.words[self.stamp.stripe()].fetch_sub(1, Ordering::SeqCst);
    }
}

impl Generations {
    /// Generations of `stripes` stripes (a power of two).
    pub(crate) fn new(stripes: usize) -> Generations {
        debug_assert!(stripes.is_power_of_two() && stripes <= u32::MAX as usize);
        Generations {
            words: (0..stripes).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The generations of the location `location` of the store `store`, shared by every bucket
    /// of this process that uses it.
    pub(crate) fn of_location(store: &str, location: &Path) -> Arc<Generations> {
        type Open = Mutex<HashMap<(String, PathBuf), Weak<Generations>>>;
        static OPEN: OnceLock<Open> = OnceLock::new();
        let mut open = OPEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (store.to_owned(), location.to_owned());
        if let Some(shared) = open.get(&key).and_then(Weak::upgrade) {
            return shared;
        }
        open.retain(|_, weak| weak.strong_count() > 0);
        let shared = Arc::new(Generations::new(STRIPES));
        open.insert(key, Arc::downgrade(&shared));
        shared
    }

    /// The stripe of `key`.
    #[inline]
    pub(crate) fn stripe(&self, key: &str) -> usize {
        let mut h = DigestHasher::default();
        h.write(key.as_bytes());
        (h.finish() as usize) & (self.words.len() - 1)
    }

    /// A mutation of `key` begins (before the store changes); it ends when the returned
    /// [`Mutation`] is dropped (after the store changed, or failed to).
    pub(crate) fn begin(&self, key: &str) -> Mutation<'_> {
        let stripe = self.stripe(key);
        let before = self.words[stripe].fetch_add(ONE_BEGUN + 1, Ordering::SeqCst);
        Mutation {
            generations: self,
            stamp: Stamp {
                stripe: stripe as u32,
                begun: (before >> IN_FLIGHT_BITS).wrapping_add(1) & (u64::MAX >> IN_FLIGHT_BITS),
            },
            alone: before & IN_FLIGHT == 0,
        }
    }

    /// The stamp of what a reader is about to read from the store for `key`: `None` while a
    /// mutation of its stripe is in flight (the read may return what that mutation replaces).
    #[inline]
    pub(crate) fn before_read(&self, key: &str) -> Option<Stamp> {
        let stripe = self.stripe(key);
        let word = self.words[stripe].load(Ordering::SeqCst);
        (word & IN_FLIGHT == 0).then_some(Stamp {
            stripe: stripe as u32,
            begun: word >> IN_FLIGHT_BITS,
        })
    }

    /// Whether a copy stamped `stamp` is still what the store holds: no mutation of its stripe
    /// has begun since.
    #[inline]
    pub(crate) fn is_current(&self, stamp: Stamp) -> bool {
        self.words[stamp.stripe()].load(Ordering::SeqCst) >> IN_FLIGHT_BITS == stamp.begun
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_read_before_a_mutation_began_is_stale_once_it_began() {
        let g = Generations::new(16);
        let read = g.before_read("k").unwrap();
        assert!(g.is_current(read));
        let m = g.begin("k");
        assert!(!g.is_current(read));
        assert!(g.before_read("k").is_none(), "in flight: no stamp");
        let written = m.stamp().unwrap();
        assert!(g.is_current(written));
        drop(m);
        assert!(g.is_current(written));
        assert_eq!(g.before_read("k"), Some(written));
    }

    #[test]
    fn overlapping_mutations_keep_no_copy() {
        let g = Generations::new(16);
        let first = g.begin("k");
        let second = g.begin("k");
        assert!(first.stamp().is_some_and(|s| !g.is_current(s)));
        assert!(second.stamp().is_none());
        drop((first, second));
        assert!(g.before_read("k").is_some());
    }

    #[test]
    fn a_location_shares_its_generations() {
        let a = Generations::of_location("fs", Path::new("/x"));
        let b = Generations::of_location("fs", Path::new("/x"));
        let c = Generations::of_location("fs", Path::new("/y"));
        assert!(Arc::ptr_eq(&a, &b) && !Arc::ptr_eq(&a, &c));
    }
}
