//! A near cache: a local directory of copies in front of a shared store (Redis), so that repeated
//! reads on one machine do not cross the network.
//!
//! The rule a reader can rely on: **a value answered from the near directory was what the far
//! store held at most `ttl` ago** (the copy's file time is set to the moment just before the far
//! read that fetched it). Reads go near, then far, and a far hit is copied near; writes go far
//! first, then near (a failed far write removes the near copy); removals remove both. The far
//! store stays the truth for listing, `prune` and the CLI. Expiry needs no help here: the bucket
//! judges every answer, near or far, by the entry's own expiration.
//!
//! Within a process the near cache never brings back what a write or removal replaced (the rule
//! of [`crate::generation`]): a copy fetched from the far store is kept only if no write or
//! removal of its name began since just before the fetch, a check made under the name's stripe
//! lock, which writers and removals also hold while they change the near copy.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::generation::{Generations, Mutation, Stamp};
use bucketcache_fs::FsStore;
use bucketcache_traits::store::{AsyncStoreOps, BoxFuture, Fetched, Listed, ReadLimits, Store};
use bucketcache_traits::{Error, Result};

/// How long a near copy is used when no `near_ttl` is given: 60 s.
#[doc(hidden)]
pub const DEFAULT_NEAR_TTL: Duration = Duration::from_secs(60);

/// The helper file naming the far store a near directory serves (never an entry).
const MARKER: &str = ".near-cache-of";

/// A local [`FsStore`] in front of a far [`Store`], its copies used for at most `ttl`. Made by
/// `Bucket::builder(..).near_cache(dir)`.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use bucketcache::store::{Fetched, FsStore, NearStore, ReadLimits, Store};
/// let (far_dir, near_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
/// let far: Arc<dyn Store> = Arc::new(FsStore::new(far_dir.path(), false));
/// let near = NearStore::open(near_dir.path(), far.clone(), Duration::from_secs(60), "test").unwrap();
/// near.write("a.json", b"{}").unwrap();
/// far.remove("a.json").unwrap(); // another machine removes it
/// let limits = ReadLimits { max_bytes: 1 << 20, may_begin: &|_| true };
/// // Still answered near, for at most 60 s:
/// assert!(matches!(near.read("a.json", &limits).unwrap(), Fetched::Bytes(_)));
/// ```
#[derive(Debug)]
pub struct NearStore {
    near: FsStore,
    far: Arc<dyn Store>,
    ttl: Duration,
    /// The writes and removals of names, begun and in flight; their stripe locks are held
    /// while a fetched copy is checked and kept, or a write changes the copy.
    generations: Generations,
}

impl NearStore {
    /// A near cache in `dir` (created if needed) in front of `far`, its copies used for at most
    /// `ttl`. `identity` names the far store (its URL without credentials and the namespace): a
    /// directory serves one far store only, and records which in a helper file, so that two
    /// buckets given the same near directory fail to open rather than read each other's copies.
    pub fn open(
        dir: impl Into<PathBuf>,
        far: Arc<dyn Store>,
        ttl: Duration,
        identity: &str,
    ) -> Result<NearStore> {
        let dir = dir.into();
        let fail = |source| Error::Directory {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let near = FsStore::new(std::fs::canonicalize(&dir).map_err(fail)?, false);
        let limits = ReadLimits {
            max_bytes: 64 << 10,
            may_begin: &|_| true,
        };
        let marker = near.location().join(MARKER);
        match near
            .read(MARKER, &limits)
            .map_err(|e| Error::io(&marker, e))?
        {
            Fetched::Bytes(found) if found == identity.as_bytes() => {}
            Fetched::Missing => near
                .write(MARKER, identity.as_bytes())
                .map_err(|e| Error::io(&marker, e))?,
            Fetched::Bytes(found) => {
                return Err(Error::Config(format!(
                    "the near cache directory {} serves {:?}, not {identity:?}: give each bucket \
                     its own near directory",
                    dir.display(),
                    String::from_utf8_lossy(&found)
                )))
            }
            Fetched::NotAFile(kind) => {
                return Err(Error::HelperFile(
                    bucketcache_fs::HelperFileError::NotRegular {
                        path: marker,
                        found: match kind {
                            bucketcache_traits::store::Kind::Symlink => "a symbolic link",
                            bucketcache_traits::store::Kind::Directory => "a directory",
                            _ => "a FIFO, socket or device",
                        },
                    },
                ))
            }
            other => {
                return Err(Error::Config(format!(
                    "{} is not usable as a near cache marker ({other:?})",
                    marker.display()
                )))
            }
        }
        Ok(NearStore {
            near,
            far,
            ttl,
            generations: Generations::default(),
        })
    }

    /// The far store, the truth.
    pub fn far(&self) -> &Arc<dyn Store> {
        &self.far
    }

    /// The near directory.
    pub fn near_dir(&self) -> &Path {
        self.near.location()
    }

    /// How long a near copy is used.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The near copy of `name` and its age, if there is one younger than the ttl. A stale copy
    /// is removed; anything unreadable is no copy (the far store answers).
    fn near_copy(&self, name: &str, limits: &ReadLimits<'_>) -> Option<(Vec<u8>, Duration)> {
        let modified = std::fs::symlink_metadata(self.near.location().join(name))
            .and_then(|m| m.modified())
            .ok()?;
        // A time in the future (a clock stepped back) is not trusted: stale.
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::MAX);
        if age > self.ttl {
            self.drop_near(name);
            return None;
        }
        match self.near.read(name, limits) {
            Ok(Fetched::Bytes(bytes)) => Some((bytes, age)),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(file = %name, error = %e, "cannot read a near copy: asking the far store");
                None
            }
        }
    }

    /// Keeps `bytes` as the near copy of `name`, dated `fetched` (when the far store held them).
    fn keep_near(&self, name: &str, bytes: &[u8], fetched: Option<SystemTime>) {
        let kept = self.near.write(name, bytes).and_then(|()| match fetched {
            Some(t) => self.near.set_modified(name, t),
            None => Ok(()),
        });
        if let Err(e) = kept {
            tracing::warn!(file = %name, error = %e, "cannot keep a near copy");
            self.drop_near(name);
        }
    }

    /// Keeps what a far read `fetched` near, if no write or removal of `name` began since just
    /// before the read (`stamp`, taken then; `None`: one was in flight).
    fn fetched(&self, name: &str, fetched: &Fetched, stamp: Option<Stamp>, asked: SystemTime) {
        match (fetched, stamp) {
            (Fetched::Bytes(bytes), Some(stamp)) => {
                let _locked = self.generations.lock(stamp.stripe());
                // A write or removal that began since the fetch changes (or changed) the copy
                // itself: what was fetched may be older than what it wrote.
                if self.generations.is_current(stamp) {
                    self.keep_near(name, bytes, Some(asked));
                }
            }
            (Fetched::Bytes(_), None) => {} // a write or removal was in flight: no copy kept
            _ => self.drop_near(name),
        }
    }

    /// After the far write of `bytes` under `mutation` ended with `written`: the near copy.
    fn wrote(
        &self,
        name: &str,
        bytes: &[u8],
        written: io::Result<()>,
        mutation: &Mutation<'_>,
    ) -> io::Result<()> {
        let _locked = mutation.lock();
        match (written, mutation.may_keep()) {
            (Ok(()), true) => {
                self.keep_near(name, bytes, None);
                Ok(())
            }
            // Another write of the name overlapped: the far store may end with either.
            (Ok(()), false) => {
                self.drop_near(name);
                Ok(())
            }
            (Err(e), _) => {
                // The far store may or may not hold the new bytes: let the next read ask it.
                self.drop_near(name);
                Err(e)
            }
        }
    }

    fn far_async(&self) -> io::Result<&dyn AsyncStoreOps> {
        self.far.async_ops().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "the far store has no native async client",
            )
        })
    }

    fn drop_near(&self, name: &str) {
        if let Err(e) = self.near.remove(name) {
            tracing::warn!(file = %name, error = %e, "cannot remove a near copy");
        }
    }
}

/// Built on the forwarding base ([`StoreLayer`](bucketcache_traits::store::StoreLayer)): the near cache changes reads, writes and
/// removals of entries and the temporaries; everything else — `stat`, the far store's own usage
/// count and recency index, its budget record, its locks, its limits — is the far store's.
impl bucketcache_traits::store::StoreLayer for NearStore {
    fn inner(&self) -> &dyn Store {
        &*self.far
    }

    fn read_with_age(
        &self,
        name: &str,
        limits: &ReadLimits<'_>,
    ) -> io::Result<(Fetched, Duration)> {
        if let Some((bytes, age)) = self.near_copy(name, limits) {
            return Ok((Fetched::Bytes(bytes), age));
        }
        let stamp = self.generations.before_read(name);
        let asked = SystemTime::now();
        let fetched = self.far.read(name, limits)?;
        self.fetched(name, &fetched, stamp, asked);
        let age = SystemTime::now().duration_since(asked).unwrap_or_default();
        Ok((fetched, age))
    }

    fn write_expiring(
        &self,
        name: &str,
        bytes: &[u8],
        expires: Option<SystemTime>,
    ) -> io::Result<()> {
        let mutation = self.generations.begin(name);
        let written = self.far.write_expiring(name, bytes, expires);
        self.wrote(name, bytes, written, &mutation)
    }

    fn remove(&self, name: &str) -> io::Result<bool> {
        let mutation = self.generations.begin(name);
        let removed = self.far.remove(name);
        let _locked = mutation.lock();
        self.drop_near(name);
        removed
    }

    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        let mutation = self.generations.begin(name);
        let removed = self.far.remove_if(name, condition);
        let _locked = mutation.lock();
        if let Err(e) = self.near.remove_if(name, condition) {
            tracing::warn!(file = %name, error = %e, "cannot remove a near copy");
        }
        removed
    }

    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        let mutation = self.generations.begin(&listed.name);
        let removed = self.far.remove_if_unchanged(listed);
        let _locked = mutation.lock();
        // Whatever the far store answered: a refusal means its entry changed or went since it
        // was listed, so the near copy may be older than what the far store holds now (or
        // stand for an entry that is gone). The next read asks the far store.
        self.drop_near(&listed.name);
        removed
    }

    fn remove_all_if_unchanged(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        let mutations: Vec<_> = victims
            .iter()
            .map(|v| self.generations.begin(&v.name))
            .collect();
        let removed = self.far.remove_all_if_unchanged(victims);
        // Each near copy goes, removed far or not (see `remove_if_unchanged`).
        for (victim, mutation) in victims.iter().zip(&mutations) {
            let _locked = mutation.lock();
            self.drop_near(&victim.name);
        }
        removed
    }

    fn stale_temporaries(&self) -> io::Result<Vec<Listed>> {
        let mut all = self.far.stale_temporaries()?;
        all.extend(self.near.stale_temporaries()?);
        Ok(all)
    }

    fn remove_temporary(&self, name: &str) -> io::Result<bool> {
        Ok(self.far.remove_temporary(name)? || self.near.remove_temporary(name)?)
    }

    fn async_ops(&self) -> Option<&dyn AsyncStoreOps> {
        // The far store's native client, with the near copies kept as the blocking path keeps them.
        self.far.async_ops().map(|_| self as &dyn AsyncStoreOps)
    }
}

/// The far store's native async client behind the near cache. A native read always asks the far
/// store (its answer has no age to carry, so a near copy is never answered through it) and
/// keeps what it fetched near; a native write changes the near copy as a blocking write does.
impl AsyncStoreOps for NearStore {
    fn read_async<'a>(
        &'a self,
        name: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, io::Result<Fetched>> {
        Box::pin(async move {
            let far = self.far_async()?;
            let stamp = self.generations.before_read(name);
            let asked = SystemTime::now();
            let fetched = far.read_async(name, max_bytes).await?;
            self.fetched(name, &fetched, stamp, asked);
            Ok(fetched)
        })
    }

    fn write_expiring_async<'a>(
        &'a self,
        name: &'a str,
        bytes: &'a [u8],
        expires: Option<SystemTime>,
    ) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let far = self.far_async()?;
            let mutation = self.generations.begin(name);
            let written = far.write_expiring_async(name, bytes, expires).await;
            self.wrote(name, bytes, written, &mutation)
        })
    }

    fn usable_here(&self) -> bool {
        self.far.async_ops().is_some_and(|ops| ops.usable_here())
    }
}

/// Re-exported from bucketcache-traits, where every store finds it.
#[doc(hidden)]
pub use bucketcache_traits::store::without_credentials;

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ReadLimits<'static> {
        ReadLimits {
            max_bytes: 1 << 20,
            may_begin: &|_| true,
        }
    }

    fn pair(ttl: Duration) -> (tempfile::TempDir, Arc<dyn Store>, NearStore) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("far")).unwrap();
        let far: Arc<dyn Store> = Arc::new(FsStore::new(tmp.path().join("far"), false));
        let near = NearStore::open(tmp.path().join("near"), far.clone(), ttl, "far").unwrap();
        (tmp, far, near)
    }

    fn bytes(f: Fetched) -> Option<Vec<u8>> {
        match f {
            Fetched::Bytes(b) => Some(b),
            _ => None,
        }
    }

    #[test]
    fn a_far_hit_is_copied_near_and_served_from_there_within_the_ttl() {
        let (_tmp, far, near) = pair(Duration::from_secs(60));
        far.write("a.json", b"1").unwrap();
        assert_eq!(
            bytes(near.read("a.json", &limits()).unwrap()).unwrap(),
            b"1"
        );
        far.write("a.json", b"2").unwrap();
        let (f, age) = near.read_with_age("a.json", &limits()).unwrap();
        assert_eq!(bytes(f).unwrap(), b"1", "the near copy answers");
        assert!(age < Duration::from_secs(60));
    }

    #[test]
    fn a_copy_older_than_the_ttl_is_not_used() {
        let (_tmp, far, near) = pair(Duration::from_secs(60));
        far.write("a.json", b"1").unwrap();
        near.read("a.json", &limits()).unwrap();
        far.write("a.json", b"2").unwrap();
        let old = SystemTime::now() - Duration::from_secs(61);
        near.near.set_modified("a.json", old).unwrap();
        assert_eq!(
            bytes(near.read("a.json", &limits()).unwrap()).unwrap(),
            b"2"
        );
        far.remove("a.json").unwrap();
        near.near.set_modified("a.json", old).unwrap();
        assert!(matches!(
            near.read("a.json", &limits()).unwrap(),
            Fetched::Missing
        ));
        assert!(
            !near.near_dir().join("a.json").exists(),
            "the stale copy is gone"
        );
    }

    #[test]
    fn writes_go_far_then_near_and_removals_remove_both() {
        let (_tmp, far, near) = pair(Duration::from_secs(60));
        near.write("a.json", b"1").unwrap();
        assert_eq!(bytes(far.read("a.json", &limits()).unwrap()).unwrap(), b"1");
        assert!(near.near_dir().join("a.json").exists());
        assert!(near.remove("a.json").unwrap());
        assert!(!near.near_dir().join("a.json").exists());
        assert!(matches!(
            far.read("a.json", &limits()).unwrap(),
            Fetched::Missing
        ));
        assert!(
            near.list().unwrap().is_empty(),
            "the marker is a helper file"
        );
    }

    #[test]
    fn a_refused_conditional_removal_still_drops_the_near_copy() {
        let (_tmp, far, near) = pair(Duration::from_secs(60));
        for batch in [false, true] {
            near.write("a.json", b"1").unwrap();
            let listed = near
                .list()
                .unwrap()
                .into_iter()
                .find(|l| l.name == "a.json")
                .unwrap();
            // Changed far since it was listed (by another process, say): the far store refuses.
            far.write("a.json", b"22").unwrap();
            let removed = if batch {
                near.remove_all_if_unchanged(std::slice::from_ref(&listed))[0]
            } else {
                near.remove_if_unchanged(&listed).unwrap()
            };
            assert_eq!(removed, None, "the far entry changed: it stays");
            assert_eq!(
                bytes(near.read("a.json", &limits()).unwrap()).unwrap(),
                b"22",
                "the next read asks the far store, not the old near copy"
            );
            // Gone far since it was listed: nothing to remove, and no copy to serve.
            near.write("a.json", b"1").unwrap();
            far.remove("a.json").unwrap();
            let removed = if batch {
                near.remove_all_if_unchanged(std::slice::from_ref(&listed))[0]
            } else {
                near.remove_if_unchanged(&listed).unwrap()
            };
            assert_eq!(removed, None);
            assert!(matches!(
                near.read("a.json", &limits()).unwrap(),
                Fetched::Missing
            ));
        }
    }

    #[test]
    fn a_near_directory_serves_one_far_store() {
        let (tmp, far, _near) = pair(Duration::from_secs(60));
        let again = NearStore::open(tmp.path().join("near"), far.clone(), Duration::ZERO, "far");
        assert!(again.is_ok());
        let err = NearStore::open(tmp.path().join("near"), far, Duration::ZERO, "other")
            .unwrap_err()
            .to_string();
        assert!(err.contains("its own near directory"), "{err}");
    }
}
