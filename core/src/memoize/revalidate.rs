//! Memoized lookups that apply the bucket's [`Freshness`]: serve stale values while one caller
//! refreshes, fall back to them on errors, refresh ahead of expiry. The decision is
//! [`crate::freshness::judge`]; the right to refresh is a [`RefreshSlot`]; this module ties them
//! to memoization ([`MemoCache::lookup_fresh`]) and runs refreshes in the caller or in the
//! background.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bucket::{Bucket, Entry};
use crate::freshness::{draw, judge, Freshness, State};
use crate::memoize::{Lookup, MemoCache, Memoized, Ticket};
use crate::refresh::RefreshSlot;
use crate::rules::Verdict;
use crate::stats::bump;
use crate::time::Expiration;
use crate::{Error, Result};

/// The outcome of [`MemoCache::lookup_fresh`]: answer now, or compute.
#[derive(Debug)]
#[must_use]
pub enum Fresh<V> {
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
    Compute(Computation<V>),
}

/// A computation a memoized call owes: a miss (with, within the stale-if-error window, an
/// expired value to fall back on) or a refresh (with the value that may be served meanwhile).
///
/// Run the computation, then [`finish`](Self::finish) with its value or [`fail`](Self::fail)
/// when it failed; or hand it to the bucket's background pool with
/// [`in_background`](Self::in_background) when it is a refresh. Dropping it unfinished (a panic)
/// lets the next caller compute.
#[derive(Debug)]
#[must_use]
pub struct Computation<V> {
    digest: String,
    kind: Kind<V>,
    started: Instant,
}

/// A [`Computation`]'s parts (see [`Computation::into_parts`]).
pub enum Parts<V> {
    /// A miss: the ticket that stores the value, and what to answer if computing fails.
    Miss {
        /// The single flight's ticket.
        ticket: Ticket,
        /// An expired value within `stale_if_error`, and its expiration.
        fallback: Option<(V, Option<Expiration>)>,
    },
    /// A refresh of a value that can be served meanwhile.
    Refresh(RefreshParts<V>),
}

/// The parts of a refresh: its slot, the value to serve, its expiration, whether it expired.
pub struct RefreshParts<V> {
    /// The refresh's slot (held until it is stored or given up).
    pub slot: RefreshSlot,
    /// The value to serve meanwhile.
    pub current: Option<V>,
    /// Its expiration.
    pub expiration: Option<Expiration>,
    /// Whether it has expired (served stale) rather than refreshed ahead.
    pub stale: bool,
}

#[derive(Debug)]
enum Kind<V> {
    Miss {
        ticket: Ticket,
        fallback: Option<(V, Option<Expiration>)>,
    },
    Refresh {
        slot: RefreshSlot,
        /// `None` once [`Computation::take_current`] took it.
        current: Option<V>,
        expiration: Option<Expiration>,
        stale: bool,
    },
}

impl<V> Computation<V> {
    fn miss(ticket: Ticket, fallback: Option<(V, Option<Expiration>)>) -> Self {
        Computation {
            digest: ticket.digest().to_owned(),
            kind: Kind::Miss { ticket, fallback },
            started: Instant::now(),
        }
    }

    /// The digest of the entry to compute.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Its parts, for the async API, which finishes it without blocking.
    #[doc(hidden)]
    pub fn into_parts(self) -> Parts<V> {
        match self.kind {
            Kind::Refresh {
                slot,
                current,
                expiration,
                stale,
            } => Parts::Refresh(RefreshParts {
                slot,
                current,
                expiration,
                stale,
            }),
            Kind::Miss { ticket, fallback } => Parts::Miss { ticket, fallback },
        }
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

    /// Takes the value to serve while this refresh runs (`None` for a miss, or when taken
    /// already), leaving the refresh to whoever holds the `Computation` — e.g. an async caller
    /// that answers at once and moves the computation into a task on its runtime, which then
    /// calls [`finish`](Self::finish) or [`fail`](Self::fail). Counted as a stale value served
    /// when the entry has expired.
    pub fn take_current<S>(&mut self, store: &S) -> Option<Memoized<V>>
    where
        S: MemoCache + ?Sized,
    {
        let Kind::Refresh {
            current,
            expiration,
            stale,
            ..
        } = &mut self.kind
        else {
            return None;
        };
        let value = current.take()?;
        if *stale {
            bump(&store.bucket().inner.counters.stale_served);
        }
        Some(Memoized::new(value, true, *expiration, *stale))
    }

    /// Stores the computed `value` through `store` (the store of the lookup), unless this
    /// refresh was abandoned past the single-flight timeout (then another caller may have
    /// refreshed since, and the value is only returned). Returns the new entry's expiration.
    pub fn finish<S>(self, store: &S, value: &V) -> Option<Expiration>
    where
        S: MemoCache + ?Sized,
        V: Serialize,
    {
        let bucket = store.bucket();
        bucket
            .inner
            .refresher
            .record(&self.digest, self.started.elapsed());
        match self.kind {
            Kind::Miss { ticket, .. } => {
                ticket.finish(store, value);
            }
            Kind::Refresh { slot, .. } => {
                if slot.is_current() {
                    if let Err(e) = store.set_digest(&self.digest, value) {
                        tracing::warn!(digest = %self.digest, error = %e, "the refreshed value could not be cached");
                    }
                } else {
                    bump(&bucket.inner.counters.refreshes_failed);
                    tracing::warn!(digest = %self.digest, "a refresh finished after the single-flight timeout: its value is not stored");
                }
            }
        }
        bucket
            .inner
            .lifetime
            .map(|l| crate::time::add_lifetime(bucket.inner.clock.now(), l))
    }

    /// The computation failed: the value to answer with instead of the error, if any — the
    /// current value of a refresh ahead (still live), or an expired value within the
    /// stale-if-error window. Logged at warn level and counted.
    pub fn fail<S>(self, store: &S) -> Option<Memoized<V>>
    where
        S: MemoCache + ?Sized,
    {
        let bucket = store.bucket();
        let (value, expiration) = match self.kind {
            Kind::Refresh {
                slot,
                current,
                expiration,
                ..
            } => {
                bump(&bucket.inner.counters.refreshes_failed);
                drop(slot);
                // Taken (served) already: nothing more to answer with.
                (current?, expiration)
            }
            Kind::Miss { ticket, fallback } => {
                drop(ticket);
                fallback?
            }
        };
        fallback_answer(store, &self.digest, value, expiration)
    }

    /// Runs `compute` in the caller: stores an `Ok` value and returns it; on `Err`, answers as
    /// [`fail`](Self::fail) says, or returns the error.
    pub fn run<S, E, F>(self, store: &S, compute: F) -> std::result::Result<Memoized<V>, E>
    where
        S: MemoCache + ?Sized,
        V: Serialize,
        F: FnOnce() -> std::result::Result<V, E>,
    {
        if matches!(self.kind, Kind::Miss { .. }) {
            tracing::debug!(digest = %self.digest, "memoized call: a miss, computing");
        } else {
            tracing::debug!(digest = %self.digest, "memoized call: refreshing in the caller");
        }
        match compute() {
            Ok(value) => {
                let expiration = self.finish(store, &value);
                Ok(Memoized::new(value, false, expiration, false))
            }
            Err(e) => self.fail(store).ok_or(e),
        }
    }

    /// Hands a refresh to `bucket`'s pool of background threads and returns the value to serve
    /// now; a miss gives `compute` back (the caller must compute). The background computation
    /// stores its `Ok` value; an `Err` or a panic is logged and counted
    /// ([`Stats::refreshes_failed`](crate::Stats::refreshes_failed)). If the pool's queue is
    /// full, the refresh is skipped (the next caller may start one).
    pub fn in_background<E, F>(
        self,
        bucket: &Bucket,
        compute: F,
    ) -> std::result::Result<Memoized<V>, Box<(Self, F)>>
    where
        V: Serialize + Send + 'static,
        E: 'static,
        F: FnOnce() -> std::result::Result<V, E> + Send + 'static,
    {
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
        let timeout = bucket.inner.single_flight_timeout;
        let mut slot = slot;
        // While queued, twice the timeout: a worker stuck past the timeout is replaced, so a
        // queued job starts within about one timeout.
        slot.renew(timeout.saturating_mul(2));
        let job = {
            let bucket = bucket.clone();
            let digest = digest.clone();
            move || {
                // The timeout counts from now, not from when the job was queued.
                if !slot.renew(timeout) {
                    bump(&bucket.inner.counters.refreshes_failed);
                    tracing::warn!(digest = %digest, "a background refresh waited in the queue past the single-flight timeout: skipped");
                    return;
                }
                let started = Instant::now();
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(compute));
                let counters = &bucket.inner.counters;
                match outcome {
                    Ok(Ok(value)) => {
                        bucket.inner.refresher.record(&digest, started.elapsed());
                        if !slot.is_current() {
                            bump(&counters.refreshes_failed);
                            tracing::warn!(digest = %digest, "a background refresh finished after the single-flight timeout: its value is not stored");
                        } else if let Err(e) = bucket.set_by_digest(&digest, &value) {
                            tracing::warn!(digest = %digest, error = %e, "the refreshed value could not be cached");
                        }
                    }
                    Ok(Err(_)) => {
                        bump(&counters.refreshes_failed);
                        tracing::warn!(digest = %digest, error_type = std::any::type_name::<E>(), "a background refresh failed: the entry keeps its value");
                    }
                    Err(_) => {
                        bump(&counters.refreshes_failed);
                        tracing::warn!(digest = %digest, "a background refresh panicked: the entry keeps its value");
                    }
                }
                drop(slot);
            }
        };
        if bucket.inner.refresher.spawn(timeout, job) {
            tracing::debug!(digest = %digest, "memoized call: refreshing in the background");
        } else {
            tracing::debug!(digest = %digest, "the background refresh queue is full: refresh skipped");
        }
        if stale {
            bump(&bucket.inner.counters.stale_served);
        }
        Ok(Memoized::new(current, true, expiration, stale))
    }
}

fn within_error_window(bucket: &Bucket, policy: Freshness, expiration: Option<Expiration>) -> bool {
    let (Some(window), Some(e)) = (policy.stale_if_error, expiration) else {
        return false;
    };
    (bucket.inner.clock.now() - e)
        .to_std()
        .map_or(true, |late| late <= window)
}

/// What a failed computation answers with instead of its error, if anything: the current value
/// of a refresh ahead (still live), or an expired value within the stale-if-error window.
/// Logged at warn level and counted.
pub fn fallback_answer<S, V>(
    store: &S,
    digest: &str,
    value: V,
    expiration: Option<Expiration>,
) -> Option<Memoized<V>>
where
    S: MemoCache + ?Sized,
{
    let bucket = store.bucket();
    match bucket.verdict(expiration) {
        Verdict::Live => {
            tracing::warn!(digest, "an early refresh failed: the current value stays");
            Some(Memoized::new(value, true, expiration, false))
        }
        _ if within_error_window(bucket, store.freshness(), expiration) => {
            bump(&bucket.inner.counters.stale_if_error_answers);
            tracing::warn!(
                digest,
                "the computation failed: answering with the expired value (stale_if_error)"
            );
            Some(Memoized::new(value, true, expiration, true))
        }
        _ => {
            tracing::warn!(digest, "the computation failed");
            None
        }
    }
}

/// [`MemoCache::lookup_fresh`]: see there.
pub(crate) fn lookup_fresh<S, V>(store: &S, digest: &str, refresh: bool) -> Result<Fresh<V>>
where
    S: MemoCache + ?Sized,
    V: DeserializeOwned,
{
    match decide(store, digest, refresh)? {
        Decided::Ready(fresh) => Ok(fresh),
        Decided::Miss { refresh, fallback } => {
            Ok(from_lookup(store.lookup::<V>(digest, refresh)?, fallback))
        }
    }
}

/// [`MemoCache::lookup_fresh`] for `async` code: a caller that must wait for another caller's
/// computation of a missing entry awaits it (as [`lookup_async`](crate::lookup_async)) instead
/// of blocking its thread; everything else is as in the sync lookup (a stale value or a
/// refresh is decided without waiting). The reads themselves are ordinary (blocking) reads.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use bucketcache_core::{lookup_fresh_async, Bucket, Fresh};
/// let dir = tempfile::tempdir().unwrap();
/// let b = Bucket::builder(dir.path()).backend("json").open()?;
/// let digest = b.hash_for_key("k")?;
/// # struct Noop;
/// # impl std::task::Wake for Noop { fn wake(self: std::sync::Arc<Self>) {} }
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     match std::pin::pin!(f).poll(&mut cx) { std::task::Poll::Ready(r) => r, _ => unreachable!() }
/// # }
/// match block_on(lookup_fresh_async::<_, u32>(&b, &digest, false))? {
///     Fresh::Hit { .. } => unreachable!("empty bucket"),
///     Fresh::Compute(c) => { c.finish(&b, &7u32); }
/// }
/// assert_eq!(b.get::<u32>("k")?, Some(7));
/// # Ok(()) }
/// ```
pub async fn lookup_fresh_async<S, V>(store: &S, digest: &str, refresh: bool) -> Result<Fresh<V>>
where
    S: MemoCache + ?Sized,
    V: DeserializeOwned,
{
    match decide(store, digest, refresh)? {
        Decided::Ready(fresh) => Ok(fresh),
        Decided::Miss { refresh, fallback } => Ok(from_lookup(
            crate::memoize::lookup_async::<S, V>(store, digest, refresh).await?,
            fallback,
        )),
    }
}

/// What `decide` found: an answer, or a miss to look up with single flight.
pub enum Decided<V> {
    /// An answer (a value, or a computation this caller owes).
    Ready(Fresh<V>),
    /// A miss, to look up with single flight.
    Miss {
        /// Whether the miss is the refresh of an entry (counted as one).
        refresh: bool,
        /// An expired value within `stale_if_error`, and its expiration.
        fallback: Option<(V, Option<Expiration>)>,
    },
}

/// The part of a fresh lookup that never waits: read the entry (expired ones within the
/// grace too), judge it, take its refresh if due.
fn decide<S, V>(store: &S, digest: &str, refresh: bool) -> Result<Decided<V>>
where
    S: MemoCache + ?Sized,
    V: DeserializeOwned,
{
    let policy = store.freshness();
    if refresh || policy.is_off() {
        return Ok(Decided::Miss {
            refresh,
            fallback: None,
        });
    }
    decide_in(store.bucket(), policy, store.across_processes(), digest)
}

/// `decide` on `bucket` with the freshness `policy` (not off), the refresh taken across
/// processes or not: blocking store work, which the async API runs in one hop.
pub fn decide_in<V: DeserializeOwned>(
    bucket: &Bucket,
    policy: Freshness,
    across: bool,
    digest: &str,
) -> Result<Decided<V>> {
    let mut fallback = None;
    if let Some(entry) = bucket.load_kept(digest)? {
        if let Some(value) = bucket.decode::<V>(digest, &entry) {
            let expiration = entry.expiration;
            match judge_entry(bucket, &policy, digest, expiration) {
                State::Fresh => {
                    return Ok(Decided::Ready(Fresh::Hit {
                        value,
                        expiration,
                        stale: false,
                    }))
                }
                state @ (State::RefreshAhead | State::Stale) => {
                    return take_refresh(bucket, across, digest, &entry, value, state)
                        .map(Decided::Ready);
                }
                State::ErrorFallback => fallback = Some((value, expiration)),
                _ => {}
            }
        }
    }
    Ok(Decided::Miss {
        refresh: false,
        fallback,
    })
}

/// [`judge`] of `digest`'s entry expiring at `expiration`, now, with the key's computation time
/// and a fresh draw when refreshing ahead.
pub fn judge_entry(
    bucket: &Bucket,
    policy: &Freshness,
    digest: &str,
    expiration: Option<Expiration>,
) -> State {
    // Refresh ahead only: the computation time is behind a lock, the draw is not free.
    let (took, u) = if policy.refresh_ahead {
        (bucket.inner.refresher.took(digest), draw())
    } else {
        (None, 1.0)
    };
    judge(
        policy,
        expiration,
        bucket.inner.lifetime,
        bucket.inner.clock.now(),
        took,
        u,
    )
}

/// An entry due for a refresh (`state`: [`State::Stale`] or [`State::RefreshAhead`]) whose
/// value is `value`: tries, without waiting, to take its refresh. Taken: the refresh this caller
/// owes (or, if the store holds a newer value, that value). Not taken: the current value.
pub fn take_refresh<V: DeserializeOwned>(
    bucket: &Bucket,
    across: bool,
    digest: &str,
    entry: &Entry,
    value: V,
    state: State,
) -> Result<Fresh<V>> {
    let stale = state == State::Stale;
    let expiration = entry.expiration;
    let counters = &bucket.inner.counters;
    let Some(slot) = RefreshSlot::try_take(
        &**bucket.store(),
        bucket.single_flight_timeout(),
        digest,
        across,
    ) else {
        if stale {
            bump(&counters.stale_served);
        }
        return Ok(Fresh::Hit {
            value,
            expiration,
            stale,
        });
    };
    // Our copy may be older than the store's (memory, or a refresh that ended between our read
    // and our lock): then there is nothing to refresh.
    if let Some((value, expiration)) = newer(bucket, digest, entry)? {
        return Ok(Fresh::Hit {
            value,
            expiration,
            stale: false,
        });
    }
    bump(&counters.refreshes_started);
    Ok(Fresh::Compute(Computation {
        digest: digest.to_owned(),
        kind: Kind::Refresh {
            slot,
            current: Some(value),
            expiration,
            stale,
        },
        started: Instant::now(),
    }))
}

/// The store's entry for `digest` if it is live and expires later than `ours`.
fn newer<V: DeserializeOwned>(
    bucket: &Bucket,
    digest: &str,
    ours: &Entry,
) -> Result<Option<(V, Option<Expiration>)>> {
    let Some(theirs) = bucket.reload(digest)? else {
        return Ok(None);
    };
    let later = match (theirs.expiration, ours.expiration) {
        (Some(t), Some(o)) => t > o,
        _ => false,
    };
    if !later || bucket.verdict(theirs.expiration) != Verdict::Live {
        return Ok(None);
    }
    Ok(bucket
        .decode::<V>(digest, &theirs)
        .map(|v| (v, theirs.expiration)))
}

fn from_lookup<V>(found: Lookup<V>, fallback: Option<(V, Option<Expiration>)>) -> Fresh<V> {
    match found {
        Lookup::Hit { value, expiration } => Fresh::Hit {
            value,
            expiration,
            stale: false,
        },
        Lookup::Miss(ticket) => Fresh::Compute(Computation::miss(ticket, fallback)),
    }
}

impl Bucket {
    /// How memoized calls treat expired and nearly expired entries (see
    /// [`BucketBuilder::stale_while_revalidate`](crate::BucketBuilder::stale_while_revalidate)).
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).refresh_ahead(true).open()?;
    /// assert!(b.freshness().refresh_ahead);
    /// # Ok(()) }
    /// ```
    pub fn freshness(&self) -> crate::freshness::Freshness {
        self.inner.freshness
    }

    /// How many background refresh threads this bucket runs at most (see
    /// [`BucketBuilder::refresh_threads`](crate::BucketBuilder::refresh_threads)).
    pub fn refresh_threads(&self) -> usize {
        self.inner.refresher.threads()
    }

    /// Whether an entry expiring at `expiration` has expired, but by no more than the
    /// freshness grace: it may still serve a memoized call, so reads do not delete it.
    pub(crate) fn within_grace(&self, expiration: Option<Expiration>) -> bool {
        let grace = self.inner.freshness.grace();
        if grace.is_zero() {
            return false;
        }
        let now = self.inner.clock.now();
        match (self.verdict(expiration), expiration) {
            (Verdict::Expired, Some(e)) => (now - e).to_std().is_ok_and(|late| late <= grace),
            _ => false,
        }
    }

    /// Reads `digest`'s entry from the store (not memory, not a near copy) and puts it in memory in place of
    /// what was there (not counted): a memoized refresh checks whether another process has
    /// refreshed the entry meanwhile.
    pub(crate) fn reload(&self, digest: &str) -> Result<Option<Entry>> {
        // Behind a near cache, the far store: the near copy may predate another machine's refresh.
        let store = self.inner.far.as_ref().unwrap_or(&self.inner.store);
        let Some(entry) = self.read_entry_from(&**store, digest, None)? else {
            return Ok(None);
        };
        self.inner
            .memory
            .insert(digest, entry.clone(), self.memory_since_aged(entry.age));
        Ok(Some(entry))
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with), but a refresh (of an entry expired
    /// within [`stale_while_revalidate`](crate::BucketBuilder::stale_while_revalidate), or due
    /// for [`refresh_ahead`](crate::BucketBuilder::refresh_ahead)) runs on the bucket's pool of
    /// background threads while this call returns the current value at once. A miss (no value
    /// to serve) still computes in the caller.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
    /// let v: u64 = b.get_or_insert_with_background(&("square", 12), || 144)?;
    /// assert_eq!(v, 144);
    /// # Ok(()) }
    /// ```
    pub fn get_or_insert_with_background<K, V, F>(&self, key: &K, compute: F) -> Result<V>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> V + Send + 'static,
    {
        self.memoize_background(key, move || Ok::<V, Error>(compute()))
            .map(|m| m.value)
    }

    /// The fallible form of
    /// [`get_or_insert_with_background`](Self::get_or_insert_with_background): an `Err` of a
    /// computation in the caller is returned (or, within
    /// [`stale_if_error`](crate::BucketBuilder::stale_if_error), the expired value); an `Err` of
    /// a background refresh is logged and counted.
    pub fn get_or_try_insert_with_background<K, V, E, F>(
        &self,
        key: &K,
        compute: F,
    ) -> std::result::Result<V, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned + Send + 'static,
        E: From<Error> + 'static,
        F: FnOnce() -> std::result::Result<V, E> + Send + 'static,
    {
        self.memoize_background(key, compute).map(|m| m.value)
    }

    /// The [`Memoized`] form of
    /// [`get_or_try_insert_with_background`](Self::get_or_try_insert_with_background).
    pub fn memoize_background<K, V, E, F>(
        &self,
        key: &K,
        compute: F,
    ) -> std::result::Result<Memoized<V>, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned + Send + 'static,
        E: From<Error> + 'static,
        F: FnOnce() -> std::result::Result<V, E> + Send + 'static,
    {
        let digest = self.digest_for_key(key)?.text();
        match self.lookup_fresh::<V>(&digest, false)? {
            Fresh::Hit {
                value,
                expiration,
                stale,
            } => Ok(Memoized::new(value, true, expiration, stale)),
            Fresh::Compute(c) => match c.in_background(self, compute) {
                Ok(served) => Ok(served),
                Err(back) => {
                    let (c, compute) = *back;
                    c.run(self, compute)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_computation_can_move_to_another_thread_or_task() {
        fn send_static<T: Send + 'static>() {}
        send_static::<Computation<u64>>();
        send_static::<Fresh<String>>();
    }
}
