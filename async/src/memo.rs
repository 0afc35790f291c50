//! Async memoization: compute a missing entry once per cache, with every wait parking the task.
//!
//! The same single flight as [`MemoCache::lookup`](bucketcache_core::MemoCache::lookup) — one flight per
//! entry in the process (shared with threads calling the blocking API), then the store's
//! cross-process lock — but a caller that waits awaits: another task's computation by a waker,
//! another process's by polling the lock from the blocking pool with an async pause between
//! tries. Every wait ends at the bucket's `single_flight_timeout`; then the caller computes
//! itself. A future dropped at any await point drops its [`AsyncTicket`], which ends its flight
//! (the next caller computes at once) and releases its lock (other processes compute at once).

use std::future::Future;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::rt::{self, HeldLease};
use super::{get_digest, write_digest, AsyncMemoCache};
use bucketcache_core::internal::{deadline_of, join, try_lease, Attempt, FlightWait};
use bucketcache_core::store::Lease;
use bucketcache_core::time::Expiration;
use bucketcache_core::Bucket;
use bucketcache_core::Result;
use bucketcache_core::Ticket;

/// The outcome of [`lookup`]: a hit, or the duty to compute.
#[derive(Debug)]
pub enum AsyncLookup<V> {
    /// The cache answered.
    Hit {
        /// The cached value.
        value: V,
        /// The entry's expiration.
        expiration: Option<Expiration>,
    },
    /// The caller must compute the value and hand it to [`AsyncTicket::finish`]; until the
    /// ticket is finished or dropped, other callers of the same entry wait.
    Miss(AsyncTicket),
}

/// The right (and duty) to compute a missing entry, from an [`AsyncLookup::Miss`].
///
/// Dropping it unfinished — the computation failed, or its future was dropped by a `timeout`
/// or a `select!` — lets the next caller compute at once, in this process (its flight ends)
/// and in others (its cross-process lock is released, on the blocking pool).
#[derive(Debug)]
pub struct AsyncTicket {
    // Dropped in this order: the lock first (other processes), then the flight (this one).
    lease: HeldLease,
    ticket: Ticket,
}

impl AsyncTicket {
    pub(crate) fn new(ticket: Ticket) -> Self {
        AsyncTicket {
            lease: HeldLease::default(),
            ticket,
        }
    }

    /// The digest of the entry to compute.
    pub fn digest(&self) -> &str {
        self.ticket.digest()
    }

    /// Stores `value` through `store` (the store of the lookup) — encoded now, written in one
    /// hop to the blocking pool, the cross-process lock released right after the write — and
    /// lets the waiting callers read it. A value that cannot be stored is logged at warn level
    /// and `false` is returned; the caller still has its value.
    pub fn finish<S, V>(self, store: &S, value: &V) -> impl Future<Output = bool> + Send + 'static
    where
        S: AsyncMemoCache + ?Sized,
        V: Serialize + ?Sized,
    {
        let AsyncTicket { mut lease, ticket } = self;
        let write = write_digest(store, ticket.digest(), value, lease.take());
        async move {
            let stored = write.await;
            let digest = ticket.digest().to_owned();
            drop(ticket); // the waiting callers read the value now
            match stored {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(digest = %digest, error = %e, "the computed value could not be cached");
                    false
                }
            }
        }
    }
}

/// [`AsyncTicket::finish`] as a free function (for the code `#[cached]` generates).
#[doc(hidden)]
pub fn finish<S, V>(
    ticket: AsyncTicket,
    store: &S,
    value: &V,
) -> impl Future<Output = bool> + Send + 'static
where
    S: AsyncMemoCache + ?Sized,
    V: Serialize + ?Sized,
{
    ticket.finish(store, value)
}

fn hit<V>(found: Option<(V, Option<Expiration>)>) -> Option<AsyncLookup<V>> {
    found.map(|(value, expiration)| {
        tracing::debug!("memoized call: answered from the cache");
        AsyncLookup::Hit { value, expiration }
    })
}

/// The lookup half of async memoization: a hit, or an [`AsyncTicket`] to compute the entry
/// named `digest` and finish it. Concurrent lookups of one entry get one ticket (per cache,
/// with cross-process locks); the others await it, then read the stored value. With `refresh`
/// there is no read and no waiting: the caller computes.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use bucketcache_async::{lookup, AsyncLookup};
/// use bucketcache_async::AsyncBucket;
/// use bucketcache_core::Bucket;
/// let dir = tempfile::tempdir().unwrap();
/// let b = AsyncBucket::new(Bucket::builder(dir.path()).open()?);
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let digest = b.bucket().hash_for_key("k")?;
///     match lookup::<_, u32>(&b, &digest, false).await? {
///         AsyncLookup::Hit { .. } => unreachable!("empty bucket"),
///         AsyncLookup::Miss(ticket) => assert!(ticket.finish(&b, &7u32).await),
///     }
///     assert_eq!(b.get::<u32>("k").await?, Some(7));
///     Ok(())
/// })
/// # }
/// ```
pub async fn lookup<S, V>(store: &S, digest: &str, refresh: bool) -> Result<AsyncLookup<V>>
where
    S: AsyncMemoCache + ?Sized,
    V: DeserializeOwned + Send + 'static,
{
    if refresh {
        return Ok(AsyncLookup::Miss(AsyncTicket::new(Ticket::solo(digest))));
    }
    if let Some(found) = hit(get_digest(store, digest).await?) {
        return Ok(found);
    }
    lookup_missed(store, digest).await
}

/// [`lookup`] after a read that found no value: joins the flight (and takes the lock) or
/// awaits it.
pub(crate) async fn lookup_missed<S, V>(store: &S, digest: &str) -> Result<AsyncLookup<V>>
where
    S: AsyncMemoCache + ?Sized,
    V: DeserializeOwned + Send + 'static,
{
    let bucket = store.bucket();
    let timeout = bucket.single_flight_timeout();
    let deadline = Instant::now() + timeout;
    loop {
        match join(
            (bucket.path().to_path_buf(), digest.to_owned()),
            None,
            deadline_of(bucket),
        ) {
            Ok(ticket) => {
                let mut ticket = AsyncTicket::new(ticket);
                if store.across_processes() {
                    ticket.lease = HeldLease::new(wait_for_lease(bucket, digest).await);
                }
                // Someone may have finished since our read: a task or thread of this process
                // before we joined, or another process while we waited for its lock.
                let found = get_digest(store, digest).await?;
                return Ok(hit(found).unwrap_or(AsyncLookup::Miss(ticket)));
            }
            Err(flight) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // `Some(false)`: the flight's own deadline passed (a task may not lead it forever).
                if rt::within(left, FlightWait(flight)).await != Some(true) {
                    tracing::warn!(digest, timeout = ?timeout,
                        "another caller has computed this entry for longer than the single-flight timeout: computing it too");
                    return Ok(AsyncLookup::Miss(AsyncTicket::new(Ticket::solo(digest))));
                }
            }
        }
        if let Some(found) = hit(get_digest(store, digest).await?) {
            return Ok(found);
        }
        // The computation failed or was dropped: take our turn.
    }
}

/// Takes the entry's cross-process lock, polling it from the blocking pool with an async pause
/// (1 ms doubling to 50 ms) while another process holds it, at most `single_flight_timeout`;
/// then gives up (`None`) and the caller computes anyway.
async fn wait_for_lease(bucket: &Bucket, digest: &str) -> Option<Box<dyn Lease>> {
    let timeout = bucket.single_flight_timeout();
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let (b, d) = (bucket.clone(), digest.to_owned());
        // A lease taken after this future was dropped is released by its `HeldLease`.
        let attempt = rt::unblock(move || match try_lease(&b, &d) {
            Attempt::Done(lease) => Some(HeldLease::new(lease)),
            Attempt::Busy => None,
        })
        .await;
        match attempt {
            Ok(Some(mut held)) => return held.take(),
            Err(e) => {
                tracing::debug!(digest, error = %e, "cannot take the entry's cross-process lock: computing without it");
                return None;
            }
            Ok(None) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::warn!(digest, timeout = ?timeout,
                "another process has computed this entry for longer than the single-flight timeout: computing it too");
            return None;
        }
        tracing::trace!(digest, "another process computes this entry: waiting");
        rt::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
