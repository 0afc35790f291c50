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
//! [`Mutation`]. A reader takes a [`Stamp`] *before* it reads the store (none while a mutation
//! of the key is in flight: what it reads may be overtaken before the mutation ends), and keeps
//! its copy in a layer only if the stamp is still current — no mutation of the key began since
//! ([`Generations::is_current`]). A writer keeps its copy only if no other mutation of the key
//! was in flight when it began nor began since (two overlapping writes may reach the store in
//! either order: neither copy is kept).
//!
//! The check and the keeping happen under the key's stripe lock ([`Generations::lock`]), and a
//! mutation changes or drops the copy under the same lock, after it began: a copy checked
//! before a mutation began is dropped by that mutation; one checked after is not kept. A hit
//! takes no lock and checks nothing: what a layer holds is never older than the last completed
//! mutation.
//!
//! Generations are counted per stripe (a key's stripe is its hash modulo the stripe count, 1,024): a
//! mutation of a key sharing the stripe only makes a reader keep no copy (it reads the store
//! next time), never keep a wrong one.
//!
//! ```
//! # fn main() -> bucketcache_core::Result<()> {
//! # bucketcache::install_default_backends()?;
//! let dir = tempfile::tempdir().unwrap();
//! let b = bucketcache_core::Bucket::open(dir.path())?;
//! b.set("k", &1)?;
//! std::thread::scope(|s| {
//!     s.spawn(|| b.get::<i32>("k")); // 1 or nothing: it overlaps the removal
//!     b.remove("k").unwrap();
//! });
//! assert_eq!(b.get::<i32>("k")?, None); // after `remove` returned: never 1
//! # Ok(()) }
//! ```

use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::digest_hasher::DigestHasher;

/// How many stripes a bucket's generations have (16 bytes each).
pub(crate) const STRIPES: usize = 1 << 10;

/// A stripe's word: the mutations begun (high bits) and those in flight (low bits).
const IN_FLIGHT_BITS: u32 = 24;
const ONE_BEGUN: u64 = 1 << IN_FLIGHT_BITS;
const IN_FLIGHT: u64 = ONE_BEGUN - 1;

/// The generations of the keys of one bucket or near cache (see the [module](self)).
pub struct Generations {
    words: Box<[AtomicU64]>,
    locks: Box<[Mutex<()>]>,
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
pub struct Stamp {
    stripe: u32,
    begun: u64,
}

impl Stamp {
    /// The stripe of the stamped key.
    pub fn stripe(self) -> usize {
        self.stripe as usize
    }
}

/// A mutation of a key in flight; dropping it ends it.
#[must_use = "a mutation ends when dropped: keep it until the store has changed"]
pub struct Mutation<'a> {
    generations: &'a Generations,
    stamp: Stamp,
    /// No other mutation of the stripe was in flight when this one began.
    alone: bool,
}

impl Mutation<'_> {
    /// Whether the copy this mutation writes may be kept (checked under [`Self::lock`]): no
    /// other mutation of the stripe was in flight when it began, nor has begun since.
    pub fn may_keep(&self) -> bool {
        self.alone && self.generations.is_current(self.stamp)
    }

    /// The lock of the key's stripe, under which the mutation changes or drops a kept copy.
    pub fn lock(&self) -> MutexGuard<'_, ()> {
        self.generations.lock(self.stamp.stripe())
    }
}

impl Drop for Mutation<'_> {
    fn drop(&mut self) {
        self.generations.words[self.stamp.stripe()].fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for Generations {
    fn default() -> Self {
        Generations::new(STRIPES)
    }
}

impl Generations {
    /// Generations of `stripes` stripes (a power of two).
    pub fn new(stripes: usize) -> Generations {
        debug_assert!(stripes.is_power_of_two() && stripes <= u32::MAX as usize);
        Generations {
            words: (0..stripes).map(|_| AtomicU64::new(0)).collect(),
            locks: (0..stripes).map(|_| Mutex::new(())).collect(),
        }
    }

    /// The stripe of `key`.
    #[inline]
    fn stripe(&self, key: &str) -> usize {
        let mut h = DigestHasher::default();
        h.write(key.as_bytes());
        (h.finish() as usize) & (self.words.len() - 1)
    }

    /// The lock of a stripe: held to check a stamp and keep a copy, or to change or drop a
    /// copy in a mutation.
    pub fn lock(&self, stripe: usize) -> MutexGuard<'_, ()> {
        self.locks[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A mutation of `key` begins (before the store changes); it ends when the returned
    /// [`Mutation`] is dropped (after the store changed, or failed to, and the kept copy was
    /// changed or dropped).
    pub fn begin(&self, key: &str) -> Mutation<'_> {
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
    pub fn before_read(&self, key: &str) -> Option<Stamp> {
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
    pub fn is_current(&self, stamp: Stamp) -> bool {
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
        assert!(m.may_keep());
        drop(m);
        let after = g.before_read("k").unwrap();
        assert!(g.is_current(after) && after != read);
    }

    #[test]
    fn overlapping_mutations_keep_no_copy() {
        let g = Generations::new(16);
        let first = g.begin("k");
        let second = g.begin("k");
        assert!(!first.may_keep(), "another began since");
        assert!(!second.may_keep(), "another was in flight");
        drop((first, second));
        assert!(g.before_read("k").is_some());
    }
}
