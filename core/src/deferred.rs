//! Deferred writes: entries stay in memory until `sync`.

use std::collections::HashMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bucket::{Bucket, Entry};
use crate::time::Expiration;
use crate::{Error, Result};

/// A view of a [`Bucket`] whose writes reach disk only on [`sync`](Self::sync) (or drop).
///
/// Reads see unsynced writes first, then the bucket (its memory and files). Synced entries join
/// the bucket's in-memory layer. Only entries written through this view are rewritten by `sync`
/// (the original rewrote every loaded entry). Dropping it with unsynced entries syncs them, like
/// `BufWriter`, logging any error; call `sync` to see errors.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// let dir = tempfile::tempdir().unwrap();
/// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
/// let d = b.deferred();
/// for i in 0..100 {
///     d.set("counter", &i)?; // memory only
/// }
/// assert_eq!(b.get::<i32>("counter")?, None);
/// d.sync()?; // one write
/// assert_eq!(b.get::<i32>("counter")?, Some(99));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DeferredWriteBucket {
    bucket: Bucket,
    pending: Mutex<HashMap<String, Entry>>,
    discard_on_panic: bool,
}

impl Bucket {
    /// A deferred-write view sharing this bucket's memory and directory.
    pub fn deferred(&self) -> DeferredWriteBucket {
        DeferredWriteBucket {
            bucket: self.clone(),
            pending: Mutex::new(HashMap::new()),
            discard_on_panic: false,
        }
    }
}

impl DeferredWriteBucket {
    /// The underlying bucket.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `value` under `key` in memory. Encoding errors are reported now.
    pub fn set<K, V>(&self, key: &K, value: &V) -> Result<()>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let digest = self.bucket.digest_for_key(key)?.text();
        self.set_by_digest(&digest, value)
    }

    /// Reads `key`: an unsynced write first, then the bucket.
    pub fn get<V: DeserializeOwned>(&self, key: &(impl Serialize + ?Sized)) -> Result<Option<V>> {
        let digest = self.bucket.digest_for_key(key)?.text();
        Ok(self.get_by_digest(&digest)?.map(|(v, _)| v))
    }

    /// Whether `key` has a live entry, synced or not.
    pub fn contains<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.bucket.digest_for_key(key)?.text();
        if self.pending_entry(&digest).is_some() {
            crate::stats::bump(&self.bucket.inner.counters.memory_hits);
            return Ok(true);
        }
        Ok(self.bucket.load(&digest)?.is_some())
    }

    /// Removes `key`, unsynced or not. Returns whether a live entry was there.
    pub fn remove<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.bucket.digest_for_key(key)?.text();
        let pending = self.pending_entry(&digest).is_some();
        self.pending().remove(digest.as_str());
        Ok(self.bucket.remove(key)? || pending)
    }

    /// Syncs, then drops `key`'s in-memory copy (as the original's `unload_key`).
    pub fn unload<K: Serialize + ?Sized>(&self, key: &K) -> Result<()> {
        self.sync()?;
        self.bucket.unload(key);
        Ok(())
    }

    /// Number of entries waiting for `sync`.
    pub fn unsynced(&self) -> usize {
        self.pending().len()
    }

    /// Writes every unsynced entry. On an error, the entries not yet written stay pending.
    pub fn sync(&self) -> Result<()> {
        let entries: Vec<(String, Entry)> = self.pending().drain().collect();
        let mut entries = entries.into_iter();
        while let Some((digest, entry)) = entries.next() {
            if let Err(e) = self.bucket.write_entry(&digest, entry.clone()) {
                let mut pending = self.pending();
                for (d, en) in std::iter::once((digest, entry)).chain(entries) {
                    pending.entry(d).or_insert(en);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Forgets every unsynced write.
    pub fn discard(&self) {
        self.pending().clear();
    }

    #[doc(hidden)]
    pub fn set_by_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()> {
        let entry = self.bucket.encode(value)?;
        self.pending().insert(digest.to_owned(), entry);
        Ok(())
    }

    #[doc(hidden)]
    pub fn get_by_digest<V: DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<Option<(V, Option<Expiration>)>> {
        if let Some(entry) = self.pending_entry(digest) {
            crate::stats::bump(&self.bucket.inner.counters.memory_hits);
            return Ok(self
                .bucket
                .decode(digest, &entry)
                .map(|v| (v, entry.expiration)));
        }
        self.bucket.get_by_digest(digest)
    }

    #[doc(hidden)]
    pub fn pending_entry(&self, digest: &str) -> Option<Entry> {
        let now = self.bucket.inner.clock.now();
        let mut pending = self.pending();
        let entry = pending.get(digest)?.clone();
        if entry.expiration.is_some_and(|e| now > e) {
            // Never written, so there is no file to delete (the original crashed here).
            pending.remove(digest);
            return None;
        }
        Some(entry)
    }
}

impl Drop for DeferredWriteBucket {
    fn drop(&mut self) {
        if self.discard_on_panic && std::thread::panicking() {
            return;
        }
        if self.unsynced() > 0 {
            if let Err(e) = self.sync() {
                tracing::error!(error = %e, "dropping a DeferredWriteBucket: sync failed, unsynced entries are lost");
            }
        }
    }
}

/// Runs `f` with a deferred-write view of `bucket` and syncs when `f` returns `Ok`. When `f`
/// returns `Err` or panics, nothing is written and the bucket's memory is untouched (the
/// original leaked the unsynced values into memory).
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use bucketcache_core::{deferred_write, Bucket, Error};
/// let dir = tempfile::tempdir().unwrap();
/// let b = Bucket::builder(dir.path()).backend("json").open()?;
/// deferred_write(&b, |d| d.set("k", &1))?;
/// assert_eq!(b.get::<i32>("k")?, Some(1));
/// let failed: Result<(), Error> = deferred_write(&b, |d| {
///     d.set("k", &2)?;
///     Err(Error::Config("changed my mind".into()))
/// });
/// assert!(failed.is_err());
/// assert_eq!(b.get::<i32>("k")?, Some(1));
/// # Ok(()) }
/// ```
pub fn deferred_write<T, E>(
    bucket: &Bucket,
    f: impl FnOnce(&DeferredWriteBucket) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    E: From<Error>,
{
    let mut d = bucket.deferred();
    d.discard_on_panic = true;
    match catch_unwind(AssertUnwindSafe(|| f(&d))) {
        Ok(Ok(value)) => {
            d.sync()?;
            Ok(value)
        }
        Ok(Err(e)) => {
            d.discard();
            Err(e)
        }
        Err(panic) => {
            d.discard();
            resume_unwind(panic)
        }
    }
}
