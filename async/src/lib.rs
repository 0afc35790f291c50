//! The async API (feature `async`): [`AsyncBucket`], a [`Bucket`] an async service can call
//! without ever blocking its executor, and the async half of memoization ([`lookup`]), which
//! `#[cached]` uses on an `async fn`.
//!
//! - A hit of the in-memory layer answers inline: no thread hop, no allocation but the value.
//! - Anything that touches the store makes **one** hop to tokio's blocking pool for the whole
//!   operation: read and decode (into the caller's type) together, or write (the value is
//!   encoded before the hop, on the caller's thread, like any serialization it does); never a
//!   hop per syscall. A large entry found in memory (over 64 KiB) is decoded on
//!   the pool too.
//! - Waits park the task: for another task's or thread's computation, a waker; for another
//!   process's (the OS lock of `fs`/`lmdb`, the Redis lease), tries from the blocking pool with
//!   an async pause between them. Every wait ends at `single_flight_timeout`.
//! - A future dropped at any await point leaves no lock held and no waiter stuck.
//!
//! The same rules, errors and bytes as [`Bucket`]: every operation runs the bucket's own code.
//! Runtime: tokio, any flavour (the timer must be enabled — `enable_all()`, `#[tokio::main]`).
//! Outside a tokio runtime every operation runs inline on the caller's thread, as `Bucket`'s do.
//! The details, and how other runtimes are served, are in docs/async.md.

mod fresh;
mod memo;
mod native;
mod rt;

use std::future::Future;
use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use fresh::{finish_fresh, lookup_fresh, refresh_in_background, AsyncComputation, AsyncFresh};
pub use memo::{finish, lookup, AsyncLookup, AsyncTicket};

use bucketcache_core::internal::bump;
use bucketcache_core::store::Lease;
use bucketcache_core::time::Expiration;
use bucketcache_core::Bucket;
use bucketcache_core::DeferredWriteBucket;
use bucketcache_core::MemoCache;
use bucketcache_core::Pruned;
use bucketcache_core::Stats;
use bucketcache_core::{Error, Result};
use bucketcache_near::Entry;

/// Entries found in memory up to this size are decoded inline; larger ones on the blocking
/// pool (a decode of that size costs about as much as the hop).
pub(crate) const INLINE_DECODE_MAX: usize = 64 * 1024;

/// A [`Bucket`] for async code: the same entries, rules and errors, with every store operation
/// off the executor's threads (see the [module documentation](self)).
///
/// Cheap to clone (clones share the bucket), `Send` and `Sync`; its futures are `Send` when the
/// key, the value and the computation are, so they can be `tokio::spawn`ed.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use bucketcache_async::AsyncBucket;
/// use bucketcache_core::Bucket;
/// let dir = tempfile::tempdir().unwrap();
/// let cache = AsyncBucket::new(Bucket::open(dir.path())?);
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     cache.set("answer", &42).await?;
///     assert_eq!(cache.get::<i32>("answer").await?, Some(42));
///     let v: u64 = cache.get_or_insert_with(&("square", 12), || async { 144 }).await?;
///     assert_eq!(v, 144);
///     assert!(cache.remove("answer").await?);
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncBucket {
    bucket: Bucket,
}

impl From<Bucket> for AsyncBucket {
    fn from(bucket: Bucket) -> Self {
        AsyncBucket::new(bucket)
    }
}

impl AsyncBucket {
    /// Wraps an opened bucket (clones of either share its memory and store).
    pub fn new(bucket: Bucket) -> Self {
        AsyncBucket { bucket }
    }

    /// The bucket underneath (for its blocking API, its settings, its inspector).
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// [`Bucket::get`]: the value under `key`, `None` for a missing, expired, corrupt or foreign
    /// entry or a value that does not decode into `V`.
    pub async fn get<V>(&self, key: &(impl Serialize + ?Sized)) -> Result<Option<V>>
    where
        V: DeserializeOwned + Send + 'static,
    {
        let digest = self.bucket.digest_for_key(key)?.text();
        Ok(get_digest::<_, V>(&self.bucket, &digest)
            .await?
            .map(|(v, _)| v))
    }

    /// [`Bucket::get_with_expiration`]: the value and the entry's expiration.
    pub async fn get_with_expiration<V>(
        &self,
        key: &(impl Serialize + ?Sized),
    ) -> Result<Option<(V, Option<Expiration>)>>
    where
        V: DeserializeOwned + Send + 'static,
    {
        let digest = self.bucket.digest_for_key(key)?.text();
        get_digest(&self.bucket, &digest).await
    }

    /// [`Bucket::set`]: stores `value` under `key` (encoded here, written in one hop).
    pub async fn set<K, V>(&self, key: &K, value: &V) -> Result<()>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let digest = self.bucket.digest_for_key(key)?.text();
        write_digest(&self.bucket, &digest, value, None).await
    }

    /// [`Bucket::remove`]: removes `key`'s entry; whether a live one was there.
    pub async fn remove<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.bucket.digest_for_key(key)?.text();
        let bucket = self.bucket.clone();
        hop(&self.bucket, move || bucket.remove_by_digest(&digest)).await
    }

    /// [`Bucket::contains`]: whether a live entry exists for `key` (deleting an expired one).
    pub async fn contains<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.bucket.digest_for_key(key)?.text();
        if self.bucket.memory_only(&digest).is_some() {
            return Ok(true);
        }
        if let Some(loaded) = native::load(&self.bucket, &digest).await {
            return loaded.map(|entry| entry.is_some());
        }
        let bucket = self.bucket.clone();
        hop(&self.bucket, move || {
            bucket.load(&digest).map(|entry| entry.is_some())
        })
        .await
    }

    /// [`Bucket::prune`]: deletes expired entries and dead writers' temporary files.
    pub async fn prune(&self) -> Result<Pruned> {
        let bucket = self.bucket.clone();
        hop(&self.bucket, move || bucket.prune()).await
    }

    /// [`Bucket::stats`] (atomic loads, no I/O).
    pub fn stats(&self) -> Stats {
        self.bucket.stats()
    }

    /// Returns the value under `key`, or awaits `compute`, stores and returns its value. Once
    /// per cache: concurrent callers of the same key (tasks, threads, processes with
    /// cross-process single flight) await the first one's value.
    ///
    /// With the bucket's freshness options (see docs/freshness.md): an entry expired within
    /// `stale_while_revalidate` (or due for `refresh_ahead`) is returned at once while one
    /// caller — across processes — refreshes it; the one that takes the refresh awaits its own
    /// `compute` here (for a refresh on the runtime, see
    /// [`get_or_insert_with_background`](Self::get_or_insert_with_background)).
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use bucketcache_async::AsyncBucket;
    /// use bucketcache_core::Bucket;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = AsyncBucket::new(Bucket::open(dir.path())?);
    /// let calls = AtomicUsize::new(0);
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async {
    ///     for _ in 0..3 {
    ///         let v: String = cache
    ///             .get_or_insert_with("page", || async {
    ///                 calls.fetch_add(1, Ordering::Relaxed);
    ///                 "<html>".to_owned()
    ///             })
    ///             .await?;
    ///         assert_eq!(v, "<html>");
    ///     }
    ///     assert_eq!(calls.load(Ordering::Relaxed), 1);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn get_or_insert_with<K, V, F, Fut>(&self, key: &K, compute: F) -> Result<V>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        self.get_or_try_insert_with(key, || async { Ok::<V, Error>(compute().await) })
            .await
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) with a fallible computation: `Ok`
    /// is stored and returned, `Err` is returned and not stored (the next caller computes) —
    /// or, within the bucket's `stale_if_error` window, answered with the expired value.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use bucketcache_async::AsyncBucket;
    /// use bucketcache_core::Bucket;
    /// let dir = tempfile::tempdir()?;
    /// let cache = AsyncBucket::new(Bucket::open(dir.path())?);
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let failed: anyhow::Result<u32> =
    ///         cache.get_or_try_insert_with("k", || async { anyhow::bail!("offline") }).await;
    ///     assert!(failed.is_err());
    ///     let v = cache.get_or_try_insert_with("k", || async { Ok::<u32, anyhow::Error>(7) }).await?;
    ///     assert_eq!(v, 7);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn get_or_try_insert_with<K, V, E, F, Fut>(
        &self,
        key: &K,
        compute: F,
    ) -> std::result::Result<V, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned + Send + 'static,
        E: From<Error>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<V, E>>,
    {
        let digest = self.bucket.digest_for_key(key)?.text();
        match lookup_fresh::<_, V>(self, &digest, false).await? {
            AsyncFresh::Hit { value, .. } => Ok(value),
            // On `Err` (answered within `stale_if_error` with the expired value), or if this
            // future is dropped, the computation goes unfinished: the next caller computes.
            AsyncFresh::Compute(c) => c.run(self, compute()).await.map(|m| m.value),
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with), but a refresh (of an entry
    /// expired within [`stale_while_revalidate`](bucketcache_core::BucketBuilder::stale_while_revalidate),
    /// or due for [`refresh_ahead`](bucketcache_core::BucketBuilder::refresh_ahead)) runs as a task on the
    /// caller's tokio runtime while this call returns the current value at once. A miss (no
    /// value to serve) still computes in the caller.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use bucketcache_async::AsyncBucket;
    /// use bucketcache_core::Bucket;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = AsyncBucket::new(Bucket::open(dir.path())?);
    /// let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    /// rt.block_on(async {
    ///     let v: u64 = cache.get_or_insert_with_background(&("square", 12), || async { 144 }).await?;
    ///     assert_eq!(v, 144);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn get_or_insert_with_background<K, V, F, Fut>(
        &self,
        key: &K,
        compute: F,
    ) -> Result<V>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        // `compute` is called only when there is something to compute.
        self.get_or_try_insert_with_background(key, move || {
            let fut = compute();
            async move { Ok::<V, Error>(fut.await) }
        })
        .await
    }

    /// The fallible form of
    /// [`get_or_insert_with_background`](Self::get_or_insert_with_background): an `Err` of a
    /// computation in the caller is returned (or, within
    /// [`stale_if_error`](bucketcache_core::BucketBuilder::stale_if_error), the expired value); an `Err`,
    /// a panic or a hang past `single_flight_timeout` of a background refresh is logged and
    /// counted ([`Stats::refreshes_failed`]).
    pub async fn get_or_try_insert_with_background<K, V, E, F, Fut>(
        &self,
        key: &K,
        compute: F,
    ) -> std::result::Result<V, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned + Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<V, E>> + Send + 'static,
    {
        let digest = self.bucket.digest_for_key(key)?.text();
        match lookup_fresh::<_, V>(self, &digest, false).await? {
            AsyncFresh::Hit { value, .. } => Ok(value),
            AsyncFresh::Compute(c) => match c.in_background(self, compute()) {
                Ok(served) => Ok(served.value),
                Err(back) => {
                    let (c, fut) = *back;
                    c.run(self, fut).await.map(|m| m.value)
                }
            },
        }
    }
}

// ---- the stores async memoization works on ----

mod sealed {
    pub trait Sealed {}
    impl Sealed for bucketcache_core::Bucket {}
    impl Sealed for bucketcache_core::DeferredWriteBucket {}
    impl Sealed for super::AsyncBucket {}
}

/// An entry found without the store (opaque).
#[doc(hidden)]
#[derive(Debug)]
pub struct Quick(Entry);

/// An encoded value on its way to the store (opaque).
#[doc(hidden)]
#[derive(Debug)]
pub struct Prepared(Entry);

/// The former name of [`AsyncMemoCache`].
#[doc(hidden)]
pub use AsyncMemoCache as AsyncMemoStore;

/// A [`MemoCache`] that async memoization can use without blocking: [`Bucket`],
/// [`DeferredWriteBucket`] and [`AsyncBucket`] (sealed). `#[cached]` on an `async fn` needs
/// its `bucket = ` to be one of them.
pub trait AsyncMemoCache: MemoCache + Sync + sealed::Sealed {
    /// The entry `digest` when it is at hand without the store (memory, an unsynced write).
    #[doc(hidden)]
    fn quick(&self, digest: &str) -> Option<Quick>;
    /// Encodes `value` for the entry `digest`: `Some` to be written to the store, `None` when
    /// it is already kept (a deferred write).
    #[doc(hidden)]
    fn prepare<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<Option<Prepared>>;
}

impl AsyncMemoCache for Bucket {
    fn quick(&self, digest: &str) -> Option<Quick> {
        self.memory_only(digest).map(Quick)
    }
    fn prepare<V: Serialize + ?Sized>(&self, _: &str, value: &V) -> Result<Option<Prepared>> {
        self.encode(value).map(|e| Some(Prepared(e)))
    }
}

impl AsyncMemoCache for AsyncBucket {
    fn quick(&self, digest: &str) -> Option<Quick> {
        self.bucket.quick(digest)
    }
    fn prepare<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<Option<Prepared>> {
        self.bucket.prepare(digest, value)
    }
}

impl AsyncMemoCache for DeferredWriteBucket {
    fn quick(&self, digest: &str) -> Option<Quick> {
        if let Some(entry) = self.pending_entry(digest) {
            bump(&self.bucket().counters().memory_hits);
            return Some(Quick(entry));
        }
        self.bucket().quick(digest)
    }
    fn prepare<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<Option<Prepared>> {
        // Kept in memory until `sync`: nothing to write now.
        self.set_by_digest(digest, value).map(|()| None)
    }
}

impl MemoCache for AsyncBucket {
    fn bucket(&self) -> &Bucket {
        &self.bucket
    }
    fn get_digest<V: DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<Option<(V, Option<Expiration>)>> {
        self.bucket.get_by_digest(digest)
    }
    fn set_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()> {
        self.bucket.set_by_digest(digest, value)
    }
}

// ---- the operations, each at most one hop ----

/// Runs `f` (a whole store operation of `bucket`) in one hop to the blocking pool.
async fn hop<T, F>(bucket: &Bucket, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    rt::unblock(f).await.map_err(|e| io_error(bucket, e))?
}

fn io_error(bucket: &Bucket, e: io::Error) -> Error {
    Error::io(bucket.path().to_path_buf(), e)
}

/// Reads the entry `digest` through `store`: inline from memory, else read and decoded in one
/// hop.
pub(crate) async fn get_digest<S, V>(
    store: &S,
    digest: &str,
) -> Result<Option<(V, Option<Expiration>)>>
where
    S: AsyncMemoCache + ?Sized,
    V: DeserializeOwned + Send + 'static,
{
    let bucket = store.bucket();
    if let Some(Quick(entry)) = store.quick(digest) {
        if entry.bytes.len() <= INLINE_DECODE_MAX {
            return Ok(bucket.decode(digest, &entry).map(|v| (v, entry.expiration)));
        }
        let (b, d) = (bucket.clone(), digest.to_owned());
        return hop(bucket, move || {
            Ok(b.decode(&d, &entry).map(|v| (v, entry.expiration)))
        })
        .await;
    }
    if let Some(loaded) = native::load(bucket, digest).await {
        let Some(entry) = loaded? else {
            return Ok(None);
        };
        if entry.bytes.len() <= INLINE_DECODE_MAX {
            return Ok(bucket.decode(digest, &entry).map(|v| (v, entry.expiration)));
        }
        let (b, d) = (bucket.clone(), digest.to_owned());
        return hop(bucket, move || {
            Ok(b.decode(&d, &entry).map(|v| (v, entry.expiration)))
        })
        .await;
    }
    let (b, d) = (bucket.clone(), digest.to_owned());
    hop(bucket, move || b.get_by_digest::<V>(&d)).await
}

/// Writes `value` as the entry `digest` through `store`: encoded now, written in one hop, after
/// which `lease` (the cross-process lock of a memoized computation) is released on the pool.
pub(crate) fn write_digest<S, V>(
    store: &S,
    digest: &str,
    value: &V,
    lease: Option<Box<dyn Lease>>,
) -> impl Future<Output = Result<()>> + Send + 'static
where
    S: AsyncMemoCache + ?Sized,
    V: Serialize + ?Sized,
{
    let prepared = store.prepare(digest, value);
    let bucket = store.bucket().clone();
    let digest = digest.to_owned();
    // Released on the pool even if this future is dropped before it runs.
    let mut lease = rt::HeldLease::new(lease);
    async move {
        match prepared {
            Ok(Some(Prepared(entry))) => {
                if native::usable(&bucket) {
                    let written = native::write(&bucket, &digest, entry).await;
                    // Awaited: when the caller has its answer, the next caller can take the lock.
                    lease.release_now().await;
                    return written;
                }
                let b = bucket.clone();
                hop(&bucket, move || {
                    let written = b.write_entry(&digest, entry);
                    drop(lease.take()); // here, on the pool: the value is stored
                    written
                })
                .await
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
