//! The prune a bucket runs: one pass, each entry read once, at the moment of deciding.
//!
//! [`Inspector::prune_plan`] followed by [`Inspector::execute`] reads every entry twice: once to
//! plan (what `prune --dry-run` shows) and once more to delete on the file's own evidence. A
//! bucket needs no plan to show: it asks the store to remove each entry *if* the bytes it reads
//! at that moment hold an expired (or lifetime-changed) entry — the same evidence rule, with
//! the planning read left out.

use std::cell::{Cell, RefCell};

use super::{Inspector, Pruned};
use bucketcache_traits::rules::verdict;
use bucketcache_traits::store::Kind;
use bucketcache_traits::validate::shielded;
use bucketcache_traits::{Error, Result};

impl Inspector {
    /// Removes the expired and lifetime-changed entries of the inspected backends and the
    /// temporary files of dead writers, reading each entry once, at the moment of deciding
    /// (the prune a bucket runs: [`prune_plan`](Inspector::prune_plan) and
    /// [`execute`](Inspector::execute) read every entry twice, to show a plan first).
    /// `change` begins the change of an entry about to be removed (the bucket's generations,
    /// its in-memory copy); what it returns is held until the removal is done.
    pub fn prune_in_one_pass<G>(&self, change: &dyn Fn(&str) -> G) -> Result<Pruned> {
        let listed = self
            .store
            .list()
            .map_err(|e| Error::io(self.store.location(), e))?;
        let now = self.clock.now();
        let mut pruned = Pruned::default();
        for l in listed {
            if l.kind != Kind::File {
                continue;
            }
            let Ok(Some(backend)) = self.owner(&l.name) else {
                continue; // foreign names and other backends' entries stay
            };
            let held = RefCell::new(None);
            let corrupt = Cell::new(false);
            let expired = |bytes: &[u8]| {
                if bytes.len() as u64 > self.max_entry_bytes {
                    return false; // never read by a bucket, never judged
                }
                match shielded(|| backend.decode(bytes)) {
                    Ok(d) if verdict(d.expiration, self.lifetime, now).is_expired() => {
                        *held.borrow_mut() = Some(change(&l.name));
                        true
                    }
                    Ok(_) => false,
                    Err(_) => {
                        corrupt.set(true);
                        false
                    }
                }
            };
            match self.store.remove_if(&l.name, &expired) {
                Ok(Some(size)) => {
                    tracing::debug!(file = %l.name, "pruned");
                    pruned.files += 1;
                    pruned.bytes += size;
                }
                Ok(None) if corrupt.get() => {
                    tracing::debug!(file = %l.name, "prune leaves an entry that does not decode");
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(file = %l.name, error = %e, "prune skips an entry it cannot read");
                    pruned.skipped += 1;
                }
            }
            drop(held);
        }
        let temporaries = self.temporaries_plan()?;
        let more = self.execute(&temporaries);
        pruned.files += more.files;
        pruned.bytes += more.bytes;
        pruned.skipped += more.skipped;
        Ok(pruned)
    }
}
