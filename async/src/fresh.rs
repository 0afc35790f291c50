//! Async memoization with the bucket's freshness options (stale-while-revalidate,
//! stale-if-error, refresh ahead): the async twin of
//! [`MemoCache::lookup_fresh`](bucketcache_core::MemoCache::lookup_fresh).
//!
//! The decision — read the entry (an expired one within the grace too), judge it, take its
//! refresh without waiting — is the sync one, run whole in **one** hop to the blocking pool;
//! a live entry of the memory layer that is not due for an early refresh answers inline, with
//! no hop. A miss then joins the async single flight of [`lookup`]. A refresh runs in the
//! caller that took it ([`AsyncComputation::run`]) or as a task on the caller's tokio runtime
//! ([`AsyncComputation::in_background`]); every other caller gets the current value at once.
//! See docs/freshness.md.

use std::future::Future;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::memo::{lookup, lookup_missed, AsyncLookup, AsyncTicket};
use super::{hop, rt, write_digest, AsyncMemoCache, Quick, INLINE_DECODE_MAX};
use bucketcache_core::freshness::State;
use bucketcache_core::internal::bump;
use bucketcache_core::internal::{
    decide_in, fallback_answer, judge_entry, take_refresh, Decided, Parts,
};
use bucketcache_core::time::Expiration;
use bucketcache_core::Fresh;
use bucketcache_core::RefreshSlot;
use bucketcache_core::Result;
use bucketcache_core::{MemoCache, Memoized};

/// The outcome of [`lookup_fresh`]: answer now, or compute.
#[derive(Debug)]
#[must_use]
pub enum AsyncFresh<V> {
    /// Answer with this value: live, or expired within the stale-while-revalidate window while
    /// another caller refreshes it (`stale`).
    Hit {
        /// The cached value.
        value: V,
        /// The entry's expiration.
        expiration: Option<Expiration>,
        /// Whether the entry has expired (served within the revalidate window).
        stale: bool,
    },
    /// The caller computes: a miss, or the refresh of an entry this caller took.
    Compute(AsyncComputation<V>),
}

/// A computation an async memoized call owes: a miss (other callers of the entry await it;
/// within the stale-if-error window, with an expired value to fall back on) or a refresh (only
/// this caller, across processes, runs it; the value that may be served meanwhile is kept).
///
/// [`run`](Self::run) it in the caller, or hand a refresh to the runtime with
/// [`in_background`](Self::in_background). Dropping it unfinished (a failed or cancelled
/// future) lets the next caller compute; its locks are released on the blocking pool.
#[derive(Debug)]
#[must_use]
pub struct AsyncComputation<V> {
    digest: String,
    kind: Kind<V>,
    started: Instant,
}

#[derive(Debug)]
enum Kind<V> {
    Miss {
        ticket: AsyncTicket,
        fallback: Option<(V, Option<Expiration>)>,
    },
    Refresh {
        slot: Slot,
        /// `None` once served.
        current: Option<V>,
        expiration: Option<Expiration>,
        stale: bool,
    },
}

/// A [`RefreshSlot`] held by a task: released on the blocking pool (releasing its lock is a
/// `close` for `fs`/LMDB, a round trip for Redis).
#[derive(Debug)]
struct Slot(Option<RefreshSlot>);

impl Slot {
    fn is_current(&self) -> bool {
        self.0.as_ref().is_some_and(RefreshSlot::is_current)
    }

    /// Releases the slot and waits for the release: the next stale read can take the refresh.
    async fn release(mut self) {
        rt::release_now(self.0.take()).await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            rt::drop_off_thread(slot);
        }
    }
}

impl<V> AsyncComputation<V> {
    fn miss(ticket: AsyncTicket, fallback: Option<(V, Option<Expiration>)>) -> Self {
        AsyncComputation {
            digest: ticket.digest().to_owned(),
            kind: Kind::Miss { ticket, fallback },
            started: Instant::now(),
        }
    }

    /// The digest of the entry to compute.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether this is the refresh of an entry that still has a value to serve (expired within
    /// the revalidate window, or due for an early refresh), rather than a miss.
    pub fn is_refresh(&self) -> bool {
        matches!(self.kind, Kind::Refresh { .. })
    }

    /// The value that may be served while this refresh runs (`None` for a miss).
    pub fn current(&self) -> Option<&V> {
        match &self.kind {
            Kind::Refresh { current, .. } => current.as_ref(),
            Kind::Miss { .. } => None,
        }
    }

    /// Stores the computed `value` through `store` (the store of the lookup): encoded now,
    /// written in one hop (or natively on Redis), the entry's locks released after the write.
    /// A refresh abandoned past the single-flight timeout stores nothing (counted as failed).
    /// Resolves to the new entry's expiration.
    pub fn finish<S>(
        self,
        store: &S,
        value: &V,
    ) -> impl Future<Output = Option<Expiration>> + Send + 'static
    where
        S: AsyncMemoCache + ?Sized,
        V: Serialize,
    {
        let bucket = store.bucket();
        bucket
            .refresher()
            .record(&self.digest, self.started.elapsed());
        let expiration = bucket
            .lifetime()
            .map(|l| bucketcache_core::time::add_lifetime(bucket.clock().now(), l));
        let digest = self.digest;
        let (miss, refresh) = match self.kind {
            Kind::Miss { ticket, .. } => (Some(ticket.finish(store, value)), None),
            Kind::Refresh { slot, .. } if slot.is_current() => (
                None,
                Some((write_digest(store, &digest, value, None), slot)),
            ),
            Kind::Refresh { .. } => {
                bump(&bucket.counters().refreshes_failed);
                tracing::warn!(digest = %digest, "a refresh finished after the single-flight timeout: its value is not stored");
                (None, None)
            }
        };
        async move {
            if let Some(write) = miss {
                write.await;
            }
            if let Some((write, slot)) = refresh {
                if let Err(e) = write.await {
                    tracing::warn!(digest = %digest, error = %e, "the refreshed value could not be cached");
                }
                slot.release().await;
            }
            expiration
        }
    }

    /// The computation failed: the value to answer with instead of the error, if any — the
    /// current value of a refresh ahead (still live), or an expired value within the
    /// stale-if-error window. Logged at warn level and counted.
    pub fn fail<S>(self, store: &S) -> Option<Memoized<V>>
    where
        S: MemoCache + ?Sized,
    {
        let (value, expiration) = match self.kind {
            Kind::Refresh {
                slot,
                current,
                expiration,
                ..
            } => {
                bump(&store.bucket().counters().refreshes_failed);
                drop(slot);
                // Served already: nothing more to answer with.
                (current?, expiration)
            }
            Kind::Miss { ticket, fallback } => {
                drop(ticket);
                fallback?
            }
        };
        fallback_answer(store, &self.digest, value, expiration)
    }

    /// Awaits `compute` in the caller: stores an `Ok` value and returns it; on `Err`, answers
    /// as [`fail`](Self::fail) says, or returns the error.
    pub async fn run<S, E, Fut>(
        self,
        store: &S,
        compute: Fut,
    ) -> std::result::Result<Memoized<V>, E>
    where
        S: AsyncMemoCache + ?Sized,
        V: Serialize,
        Fut: Future<Output = std::result::Result<V, E>>,
    {
        if self.is_refresh() {
            tracing::debug!(digest = %self.digest, "memoized call: refreshing in the caller");
        } else {
            tracing::debug!(digest = %self.digest, "memoized call: a miss, computing");
        }
        match compute.await {
            Ok(value) => {
                let expiration = self.finish(store, &value).await;
                Ok(Memoized::new(value, false, expiration, false))
            }
            Err(e) => self.fail_async(store).await.ok_or(e),
        }
    }

    /// [`fail`](Self::fail), after the refresh's slot is released and the release awaited: a
    /// caller that comes right after can take the next refresh (dropped, the slot would be
    /// released a moment later on the blocking pool, and that caller would find it held).
    pub async fn fail_async<S>(mut self, store: &S) -> Option<Memoized<V>>
    where
        S: MemoCache + ?Sized,
    {
        if let Kind::Refresh { slot, .. } = &mut self.kind {
            rt::release_now(slot.0.take()).await;
        }
        self.fail(store)
    }

    /// Hands a refresh to the caller's tokio runtime and returns the value to serve now: the
    /// computation runs as a task, its `Ok` value is stored; an `Err`, a panic or a computation
    /// still running after `single_flight_timeout` (then cancelled) is logged and counted
    /// ([`Stats::refreshes_failed`](bucketcache_core::Stats::refreshes_failed)). A miss, or a call outside
    /// a tokio runtime, gives the computation back: the caller runs it.
    pub fn in_background<S, E, Fut>(
        self,
        store: &S,
        compute: Fut,
    ) -> std::result::Result<Memoized<V>, Box<(Self, Fut)>>
    where
        S: AsyncMemoCache + ?Sized,
        V: Serialize + Send + 'static,
        E: Send + 'static,
        Fut: Future<Output = std::result::Result<V, E>> + Send + 'static,
    {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Err(Box::new((self, compute)));
        };
        let Kind::Refresh {
            slot,
            current: Some(current),
            expiration,
            stale,
        } = self.kind
        else {
            return Err(Box::new((self, compute)));
        };
        let digest = self.digest;
        let bucket = store.bucket().clone();
        let timeout = bucket.single_flight_timeout();
        let task = handle.spawn(compute);
        let abort = task.abort_handle();
        handle.spawn({
            let digest = digest.clone();
            async move {
                let started = Instant::now();
                let counters = &bucket.counters();
                match rt::within(timeout, task).await {
                    Some(Ok(Ok(value))) => {
                        bucket.refresher().record(&digest, started.elapsed());
                        if !slot.is_current() {
                            bump(&counters.refreshes_failed);
                            tracing::warn!(digest = %digest, "a background refresh finished after the single-flight timeout: its value is not stored");
                        } else if let Err(e) = write_digest(&bucket, &digest, &value, None).await {
                            tracing::warn!(digest = %digest, error = %e, "the refreshed value could not be cached");
                        }
                    }
                    Some(Ok(Err(_))) => {
                        bump(&counters.refreshes_failed);
                        tracing::warn!(digest = %digest, error_type = std::any::type_name::<E>(), "a background refresh failed: the entry keeps its value");
                    }
                    Some(Err(_)) => {
                        bump(&counters.refreshes_failed);
                        tracing::warn!(digest = %digest, "a background refresh panicked or was cancelled: the entry keeps its value");
                    }
                    None => {
                        abort.abort();
                        bump(&counters.refreshes_failed);
                        tracing::warn!(digest = %digest, timeout = ?timeout, "a background refresh ran past the single-flight timeout: cancelled");
                    }
                }
                slot.release().await;
            }
        });
        tracing::debug!(digest = %digest, "memoized call: refreshing in the background");
        let bucket = store.bucket();
        if stale {
            bump(&bucket.counters().stale_served);
        }
        Ok(Memoized::new(current, true, expiration, stale))
    }
}

fn from_lookup<V>(
    found: AsyncLookup<V>,
    fallback: Option<(V, Option<Expiration>)>,
) -> AsyncFresh<V> {
    match found {
        AsyncLookup::Hit { value, expiration } => AsyncFresh::Hit {
            value,
            expiration,
            stale: false,
        },
        AsyncLookup::Miss(ticket) => AsyncFresh::Compute(AsyncComputation::miss(ticket, fallback)),
    }
}

/// The sync decision's answer, for a task (a refresh's slot is then released off its thread).
fn from_fresh<V>(fresh: Fresh<V>) -> AsyncFresh<V> {
    match fresh {
        Fresh::Hit {
            value,
            expiration,
            stale,
        } => AsyncFresh::Hit {
            value,
            expiration,
            stale,
        },
        Fresh::Compute(c) => {
            let digest = c.digest().to_owned();
            let kind = match c.into_parts() {
                Parts::Refresh(r) => Kind::Refresh {
                    slot: Slot(Some(r.slot)),
                    current: r.current,
                    expiration: r.expiration,
                    stale: r.stale,
                },
                Parts::Miss { ticket, fallback } => Kind::Miss {
                    ticket: AsyncTicket::new(ticket),
                    fallback,
                },
            };
            AsyncFresh::Compute(AsyncComputation {
                digest,
                kind,
                started: Instant::now(),
            })
        }
    }
}

/// The lookup half of an async memoized call with the store's
/// [`freshness`](bucketcache_core::MemoCache::freshness) applied: a value to answer with (possibly stale
/// while another caller refreshes it), or an [`AsyncComputation`] this caller owes — a miss
/// (callers of the entry await it, as with [`lookup`]) or the refresh of an entry, which only
/// this caller runs, across processes. Never blocks the executor: a live memory hit answers
/// inline, the decision is one hop to the blocking pool, every wait parks the task. Without
/// freshness options this is [`lookup`].
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use std::time::Duration;
/// use bucketcache_async::{lookup_fresh, AsyncFresh};
/// use bucketcache_async::AsyncBucket;
/// use bucketcache_core::Bucket;
/// let dir = tempfile::tempdir().unwrap();
/// let b = AsyncBucket::new(
///     Bucket::builder(dir.path()).stale_while_revalidate(Duration::from_secs(60)).open()?,
/// );
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let digest = b.bucket().hash_for_key("k")?;
///     let v = match lookup_fresh::<_, u32>(&b, &digest, false).await? {
///         AsyncFresh::Hit { value, .. } => value,
///         AsyncFresh::Compute(c) => c.run(&b, async { Ok::<_, bucketcache_core::Error>(7) }).await?.value,
///     };
///     assert_eq!(v, 7);
///     assert_eq!(b.get::<u32>("k").await?, Some(7));
///     Ok(())
/// })
/// # }
/// ```
pub async fn lookup_fresh<S, V>(store: &S, digest: &str, refresh: bool) -> Result<AsyncFresh<V>>
where
    S: AsyncMemoCache + ?Sized,
    V: DeserializeOwned + Send + 'static,
{
    let policy = store.freshness();
    if refresh || policy.is_off() {
        return Ok(from_lookup(lookup(store, digest, refresh).await?, None));
    }
    let bucket = store.bucket();
    let across = store.across_processes();
    // Inline: a live entry of the memory layer (not due for an early refresh: taking the
    // refresh tries the store's lock, in a hop).
    if let Some(Quick(entry)) = store.quick(digest) {
        if entry.bytes.len() <= INLINE_DECODE_MAX {
            if let Some(value) = bucket.decode::<V>(digest, &entry) {
                let expiration = entry.expiration;
                match judge_entry(bucket, &policy, digest, expiration) {
                    State::Fresh => {
                        return Ok(AsyncFresh::Hit {
                            value,
                            expiration,
                            stale: false,
                        })
                    }
                    state @ State::RefreshAhead => {
                        let (b, d) = (bucket.clone(), digest.to_owned());
                        let fresh = hop(bucket, move || {
                            take_refresh(&b, across, &d, &entry, value, state)
                        })
                        .await?;
                        return Ok(from_fresh(fresh));
                    }
                    _ => {}
                }
            }
        }
    }
    let (b, d) = (bucket.clone(), digest.to_owned());
    match hop(bucket, move || decide_in::<V>(&b, policy, across, &d)).await? {
        Decided::Ready(fresh) => Ok(from_fresh(fresh)),
        Decided::Miss { fallback, .. } => {
            Ok(from_lookup(lookup_missed(store, digest).await?, fallback))
        }
    }
}

/// [`AsyncComputation::finish`] as a free function (for the code `#[cached]` generates).
#[doc(hidden)]
pub fn finish_fresh<S, V>(
    computation: AsyncComputation<V>,
    store: &S,
    value: &V,
) -> impl Future<Output = Option<Expiration>> + Send + 'static
where
    S: AsyncMemoCache + ?Sized,
    V: Serialize,
{
    computation.finish(store, value)
}

/// [`AsyncComputation::in_background`] as a free function (for the code `#[cached]`
/// generates).
#[doc(hidden)]
#[allow(clippy::type_complexity)]
pub fn refresh_in_background<S, V, E, Fut>(
    computation: AsyncComputation<V>,
    store: &S,
    compute: Fut,
) -> std::result::Result<Memoized<V>, Box<(AsyncComputation<V>, Fut)>>
where
    S: AsyncMemoCache + ?Sized,
    V: Serialize + Send + 'static,
    E: Send + 'static,
    Fut: Future<Output = std::result::Result<V, E>> + Send + 'static,
{
    computation.in_background(store, compute)
}
