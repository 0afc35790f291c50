//! Memoization: compute on a miss, store, return — once per key within a process.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bucket::Bucket;
use crate::deferred::DeferredWriteBucket;
use crate::store::{Lease, Locked};
use crate::time::Expiration;
use crate::{Error, Result};

/// Memoization with freshness: stale-while-revalidate, stale-if-error, refresh ahead.
pub(crate) mod revalidate;

/// What a memoized call's `callback` receives when the cache answered (the original's
/// `CachedCallInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct CachedCallInfo<'a, T> {
    /// Every argument by name, as JSON, including ignored and `nocache` ones.
    pub callargs: serde_json::Map<String, serde_json::Value>,
    /// The value the cache returned.
    pub return_value: &'a T,
    /// The entry's expiration.
    pub expiration: Option<Expiration>,
}

/// The outcome of a memoized lookup.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Memoized<T> {
    /// The value (from the cache or just computed).
    pub value: T,
    /// Whether the cache answered.
    pub hit: bool,
    /// The entry's expiration (of the stored entry after a miss).
    pub expiration: Option<Expiration>,
    /// Whether the value is an expired one, served within the stale-while-revalidate or
    /// stale-if-error window (see [`crate::freshness`]).
    pub stale: bool,
}

impl<T> Memoized<T> {
    #[doc(hidden)]
    pub fn new(value: T, hit: bool, expiration: Option<Expiration>, stale: bool) -> Self {
        Memoized {
            value,
            hit,
            expiration,
            stale,
        }
    }
}

/// What a memoized call reads and writes through (not a [`Store`](crate::Store): the cache in
/// front of one): a [`Bucket`] or a [`DeferredWriteBucket`]. Formerly `MemoStore`, a name still
/// accepted.
pub trait MemoCache {
    /// The bucket underneath.
    fn bucket(&self) -> &Bucket;
    /// Reads the entry named `digest`.
    fn get_digest<V: DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<Option<(V, Option<Expiration>)>>;
    /// Writes the entry named `digest`.
    fn set_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()>;
    /// Whether a miss takes the store's cross-process lock (see
    /// [`BucketBuilder::single_flight_across_processes`](crate::BucketBuilder::single_flight_across_processes)).
    /// A [`DeferredWriteBucket`] never does: its writes reach the store only at `sync`, so
    /// another process could not read the result it waited for.
    fn across_processes(&self) -> bool {
        self.bucket().inner.single_flight_across
    }

    /// How memoized calls on this store treat expired and nearly expired entries: the bucket's
    /// [`Freshness`](crate::freshness::Freshness). A [`DeferredWriteBucket`] has none (its
    /// writes reach the store only at `sync`).
    fn freshness(&self) -> crate::freshness::Freshness {
        self.bucket().inner.freshness
    }

    /// The lookup half of a memoized call with the store's [`freshness`](Self::freshness)
    /// applied (see `docs/freshness.md`): a value to answer with ([`Fresh::Hit`], possibly
    /// stale while another caller refreshes it), or a [`Computation`] this caller owes — a miss
    /// (callers of the same entry wait, as with [`lookup`](Self::lookup)) or the refresh of an
    /// entry, which only this caller runs, across processes. Without freshness options this is
    /// [`lookup`](Self::lookup).
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use bucketcache_core::{Bucket, Fresh, MemoCache};
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = Bucket::builder(dir.path()).backend("json").open()?;
    /// let digest = b.hash_for_key("k")?;
    /// let v = match b.lookup_fresh::<u32>(&digest, false)? {
    ///     Fresh::Hit { value, .. } => value,
    ///     Fresh::Compute(c) => c.run(&b, || Ok::<_, bucketcache_core::Error>(7))?.value,
    /// };
    /// assert_eq!(v, 7);
    /// # Ok(()) }
    /// ```
    ///
    /// [`Fresh::Hit`]: crate::Fresh::Hit
    /// [`Computation`]: crate::Computation
    fn lookup_fresh<V: DeserializeOwned>(
        &self,
        digest: &str,
        refresh: bool,
    ) -> Result<crate::memoize::revalidate::Fresh<V>> {
        crate::memoize::revalidate::lookup_fresh(self, digest, refresh)
    }

    /// Looks `key` up; on a miss (or with `refresh`) runs `compute`, stores an `Ok` value and
    /// returns it. An `Err` is returned and not stored. Within one process, concurrent calls with
    /// the same key run `compute` once; the others wait and read its result.
    ///
    /// A value that cannot be stored (disk full, value not encodable) is still returned; the
    /// failure is logged at warn level, and the next call computes again.
    fn memoize<K, V, E, F>(
        &self,
        key: &K,
        refresh: bool,
        compute: F,
    ) -> std::result::Result<Memoized<V>, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> std::result::Result<V, E>,
    {
        let digest = self.bucket().digest_for_key(key)?.text();
        match self.lookup_fresh::<V>(&digest, refresh)? {
            crate::memoize::revalidate::Fresh::Hit {
                value,
                expiration,
                stale,
            } => Ok(Memoized::new(value, true, expiration, stale)),
            // On `Err` (or a panic) the ticket is dropped unfinished: the next waiter computes.
            crate::memoize::revalidate::Fresh::Compute(c) => c.run(self, compute),
        }
    }

    /// The lookup half of [`memoize`](Self::memoize), for callers that compute the value
    /// themselves: a hit, or a [`Ticket`] to compute the entry named `digest` and
    /// [`finish`](Ticket::finish) it. Within one process, concurrent lookups of the same entry
    /// (on the same directory) get one ticket; the others block until it is finished or dropped,
    /// then read the stored value (or, if the computation failed, one of them gets the next
    /// ticket). With `refresh` there is no read and no waiting: the caller always computes.
    ///
    /// No wait outlasts the bucket's
    /// [`single_flight_timeout`](crate::BucketBuilder::single_flight_timeout): a computation
    /// older than it holds no one back (the waiter gets a ticket of its own and computes too).
    /// A lookup made by the thread that holds the entry's ticket (a computation that needs its
    /// own key again) never waits for itself: it gets a ticket of its own at once.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use bucketcache_core::{Bucket, Lookup, MemoCache};
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = Bucket::builder(dir.path()).backend("json").open()?;
    /// let digest = b.hash_for_key(&("square", 12))?;
    /// for round in 0..2 {
    ///     let value = match b.lookup::<u64>(&digest, false)? {
    ///         Lookup::Hit { value, .. } => { assert_eq!(round, 1); value }
    ///         Lookup::Miss(ticket) => { let v = 144; ticket.finish(&b, &v); v }
    ///     };
    ///     assert_eq!(value, 144);
    /// }
    /// # Ok(()) }
    /// ```
    fn lookup<V: DeserializeOwned>(&self, digest: &str, refresh: bool) -> Result<Lookup<V>> {
        if refresh {
            return Ok(Lookup::Miss(Ticket::solo(digest)));
        }
        if let Some(found) = hit(self.get_digest(digest)?) {
            return Ok(found);
        }
        let deadline = deadline_of(self.bucket());
        let me = std::thread::current().id();
        loop {
            match join(
                (self.bucket().path().to_path_buf(), digest.to_owned()),
                Some(me),
                deadline,
            ) {
                Ok(ticket) => {
                    // The process's turn; then the cache's, when it has cross-process locks.
                    let ticket = if self.across_processes() {
                        ticket.with_lease(wait_for_lease(self.bucket(), digest, deadline))
                    } else {
                        ticket
                    };
                    // Someone may have finished since our read: a thread of this process before
                    // we joined, or another process while we waited for its lock.
                    return Ok(hit(self.get_digest(digest)?).unwrap_or(Lookup::Miss(ticket)));
                }
                Err(flight) if flight.leader == Some(me) => {
                    tracing::debug!(digest, "memoized call: a computation needs its own key: computing it again, without waiting for itself");
                    return Ok(Lookup::Miss(Ticket::solo(digest)));
                }
                Err(flight) => {
                    if !flight.wait() {
                        return timed_out(self, digest);
                    }
                }
            }
            if let Some(found) = hit(self.get_digest(digest)?) {
                return Ok(found);
            }
            // The computation failed: take our turn.
        }
    }
}

impl MemoCache for Bucket {
    fn bucket(&self) -> &Bucket {
        self
    }
    fn get_digest<V: DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<Option<(V, Option<Expiration>)>> {
        self.get_by_digest(digest)
    }
    fn set_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()> {
        self.set_by_digest(digest, value)
    }
}

impl MemoCache for DeferredWriteBucket {
    fn bucket(&self) -> &Bucket {
        DeferredWriteBucket::bucket(self)
    }
    fn get_digest<V: DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<Option<(V, Option<Expiration>)>> {
        self.get_by_digest(digest)
    }
    fn set_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()> {
        self.set_by_digest(digest, value)
    }
    fn across_processes(&self) -> bool {
        false
    }
    fn freshness(&self) -> crate::freshness::Freshness {
        crate::freshness::Freshness::default()
    }
}

impl Bucket {
    /// Returns the value under `key`, or computes, stores and returns it.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
    /// let mut calls = 0;
    /// let a: u64 = b.get_or_insert_with(&("square", 12), || { calls += 1; 144 })?;
    /// let c: u64 = b.get_or_insert_with(&("square", 12), || { calls += 1; 144 })?;
    /// assert_eq!((a, c, calls), (144, 144, 1));
    /// # Ok(()) }
    /// ```
    pub fn get_or_insert_with<K, V, F>(&self, key: &K, compute: F) -> Result<V>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned,
        F: FnOnce() -> V,
    {
        self.memoize(key, false, || Ok::<V, Error>(compute()))
            .map(|m| m.value)
    }

    /// Returns the value under `key`, or runs the fallible `compute`: `Ok` is stored and
    /// returned, `Err` is returned and not stored.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir()?;
    /// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
    /// let failed: anyhow::Result<u32> = b.get_or_try_insert_with("k", || anyhow::bail!("offline"));
    /// assert!(failed.is_err());
    /// let v: u32 = b.get_or_try_insert_with("k", || Ok::<_, anyhow::Error>(7))?;
    /// assert_eq!(v, 7);
    /// # Ok(()) }
    /// ```
    pub fn get_or_try_insert_with<K, V, E, F>(
        &self,
        key: &K,
        compute: F,
    ) -> std::result::Result<V, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> std::result::Result<V, E>,
    {
        self.memoize(key, false, compute).map(|m| m.value)
    }
}

// ---- lookup-then-compute: the two halves of `memoize`, for callers that cannot hand over a
// closure (the `#[cached]` macro, whose arguments are needed again on a hit for the callback)
// and for `async` callers, which must not hold a std `Mutex` guard across an `.await` ----

/// The outcome of [`MemoCache::lookup`] and [`lookup_async`].
#[derive(Debug)]
pub enum Lookup<V> {
    /// The cache answered.
    Hit {
        /// The cached value.
        value: V,
        /// The entry's expiration.
        expiration: Option<Expiration>,
    },
    /// The caller must compute the value and hand it to [`Ticket::finish`]. Until the ticket
    /// is finished or dropped, other callers of the same entry in this process wait.
    Miss(Ticket),
}

#[derive(Debug, Default)]
struct FlightState {
    done: bool,
    wakers: Vec<Waker>,
    /// Whether a thread wakes the tasks waiting at the deadline.
    timer: bool,
}

/// One computation in progress: waiters block on `cv` (threads) or register a waker (tasks),
/// until it lands or its deadline passes.
#[derive(Debug, Default)]
pub struct Flight {
    state: Mutex<FlightState>,
    cv: Condvar,
    /// The thread that computes (`None` for a task, which may move between threads).
    leader: Option<ThreadId>,
    /// When the computation stops holding others back (`None`: never).
    deadline: Option<Instant>,
}

impl Flight {
    fn state(&self) -> MutexGuard<'_, FlightState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the flight lands (`true`) or its deadline passes (`false`).
    fn wait(&self) -> bool {
        let mut state = self.state();
        while !state.done {
            state = match self.deadline {
                None => self.cv.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        return false;
                    };
                    self.cv
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        true
    }

    /// Wakes the waiting tasks at the deadline (or when the flight lands, whichever is first):
    /// one thread per flight that tasks wait for, started by the first of them.
    fn start_timer(self: &Arc<Self>, state: &mut FlightState) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if state.timer {
            return;
        }
        state.timer = true;
        let flight = self.clone();
        std::thread::spawn(move || {
            let mut state = flight.state();
            while !state.done {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break;
                };
                state = flight
                    .cv
                    .wait_timeout(state, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let wakers = std::mem::take(&mut state.wakers);
            drop(state);
            wakers.into_iter().for_each(Waker::wake);
        });
    }
}

/// Waits, without blocking a thread, until a [`Flight`] lands (`true`) or its deadline passes
/// (`false`).
pub struct FlightWait(pub Arc<Flight>);

impl Future for FlightWait {
    type Output = bool;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.0.state();
        if state.done {
            return Poll::Ready(true);
        }
        if self.0.deadline.is_some_and(|d| Instant::now() >= d) {
            return Poll::Ready(false);
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        self.0.start_timer(&mut state);
        Poll::Pending
    }
}

/// When a wait for `bucket`'s single flight that begins now gives up (`None`: never).
pub fn deadline_of(bucket: &Bucket) -> Option<Instant> {
    Instant::now().checked_add(bucket.inner.single_flight_timeout)
}

/// A wait for another caller's computation passed its deadline: the value, if it has landed
/// meanwhile, else a ticket of our own (outside the flight and the cross-process lock, which
/// the slow computation still holds).
fn timed_out<S, V>(store: &S, digest: &str) -> Result<Lookup<V>>
where
    S: MemoCache + ?Sized,
    V: DeserializeOwned,
{
    tracing::warn!(digest, timeout = ?store.bucket().inner.single_flight_timeout,
        "another caller has computed this entry for longer than the single-flight timeout: computing it too");
    Ok(hit(store.get_digest(digest)?).unwrap_or_else(|| Lookup::Miss(Ticket::solo(digest))))
}

/// Flights are keyed by directory and digest, so that two `Bucket` values opened on the same
/// directory also compute an entry once.
pub(crate) type FlightKey = (PathBuf, String);

fn flights() -> MutexGuard<'static, HashMap<FlightKey, Arc<Flight>>> {
    static FLIGHTS: OnceLock<Mutex<HashMap<FlightKey, Arc<Flight>>>> = OnceLock::new();
    FLIGHTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Either we lead the flight for `key` (and hold its ticket: `leader` computes, others wait at
/// most until `deadline`) or someone else does.
pub fn join(
    key: FlightKey,
    leader: Option<ThreadId>,
    deadline: Option<Instant>,
) -> std::result::Result<Ticket, Arc<Flight>> {
    let mut map = flights();
    match map.entry(key) {
        Entry::Occupied(e) => Err(e.get().clone()),
        Entry::Vacant(v) => {
            let flight = Arc::new(Flight {
                leader,
                deadline,
                ..Flight::default()
            });
            let key = v.key().clone();
            v.insert(flight.clone());
            Ok(Ticket {
                digest: key.1.clone(),
                flight: Some((key, flight)),
                lease: None,
            })
        }
    }
}

/// The right (and duty) to compute a missing entry, returned by a [`Lookup::Miss`].
///
/// [`finish`](Self::finish) stores the value. Dropping the ticket without finishing (the
/// computation failed or panicked) lets the next waiting caller compute instead.
#[derive(Debug)]
pub struct Ticket {
    digest: String,
    flight: Option<(FlightKey, Arc<Flight>)>,
    /// The cache-wide lock of the entry, released with the ticket (after the value is stored).
    lease: Option<Box<dyn Lease>>,
}

impl Ticket {
    /// The digest of the entry to compute.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Stores `value` through `store` (the store the lookup was made on) and lets the waiting
    /// callers read it. A value that cannot be stored is logged at warn level and `false` is
    /// returned; the caller still has its value.
    pub fn finish<S, V>(self, store: &S, value: &V) -> bool
    where
        S: MemoCache + ?Sized,
        V: Serialize + ?Sized,
    {
        match store.set_digest(&self.digest, value) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(digest = %self.digest, error = %e, "the computed value could not be cached");
                false
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Other processes first: the value (if any) is stored by now.
        drop(self.lease.take());
        let Some((key, flight)) = self.flight.take() else {
            return;
        };
        {
            let mut map = flights();
            if map.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                map.remove(&key);
            }
        }
        let wakers = {
            let mut state = flight.state();
            state.done = true;
            std::mem::take(&mut state.wakers)
        };
        flight.cv.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }
}

fn hit<V>(found: Option<(V, Option<Expiration>)>) -> Option<Lookup<V>> {
    found.map(|(value, expiration)| {
        tracing::debug!("memoized call: answered from the cache");
        Lookup::Hit { value, expiration }
    })
}

/// The lookup half of [`MemoCache::memoize`] for `async` code: like [`MemoCache::lookup`], but a
/// caller that finds the entry being computed by another caller awaits it instead of blocking
/// its thread.
///
/// The reads themselves are ordinary (blocking) file reads, as short as a `get`.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use bucketcache_core::{lookup_async, Bucket, Lookup};
/// let dir = tempfile::tempdir().unwrap();
/// let b = Bucket::builder(dir.path()).backend("json").open()?;
/// let digest = b.hash_for_key("k")?;
/// # struct Noop;
/// # impl std::task::Wake for Noop { fn wake(self: std::sync::Arc<Self>) {} }
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     // Enough here: without a competing caller the first poll completes.
/// #     let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     match std::pin::pin!(f).poll(&mut cx) { std::task::Poll::Ready(r) => r, _ => unreachable!() }
/// # }
/// match block_on(lookup_async::<_, u32>(&b, &digest, false))? {
///     Lookup::Hit { .. } => unreachable!("empty bucket"),
///     Lookup::Miss(ticket) => assert!(ticket.finish(&b, &7u32)),
/// }
/// assert_eq!(b.get::<u32>("k")?, Some(7));
/// # Ok(()) }
/// ```
pub async fn lookup_async<S, V>(store: &S, digest: &str, refresh: bool) -> Result<Lookup<V>>
where
    S: MemoCache + ?Sized,
    V: DeserializeOwned,
{
    if refresh {
        return Ok(Lookup::Miss(Ticket::solo(digest)));
    }
    if let Some(found) = hit(store.get_digest(digest)?) {
        return Ok(found);
    }
    let deadline = deadline_of(store.bucket());
    loop {
        let key = (store.bucket().path().to_path_buf(), digest.to_owned());
        let waiting = match join(key, None, deadline) {
            Ok(ticket) => {
                let ticket = if store.across_processes() {
                    let lease = match try_lease(store.bucket(), digest) {
                        Attempt::Done(lease) => lease,
                        // Busy: wait on another thread, so that this task's executor thread is
                        // free.
                        Attempt::Busy => {
                            let bucket = store.bucket().clone();
                            let digest = digest.to_owned();
                            OffThread::spawn(move || wait_for_lease(&bucket, &digest, deadline))
                                .await
                        }
                    };
                    ticket.with_lease(lease)
                } else {
                    ticket
                };
                // Someone may have finished since our read (see `MemoCache::lookup`).
                return Ok(hit(store.get_digest(digest)?).unwrap_or(Lookup::Miss(ticket)));
            }
            Err(flight) => flight,
        };
        if !FlightWait(waiting).await {
            return timed_out(store, digest);
        }
        if let Some(found) = hit(store.get_digest(digest)?) {
            return Ok(found);
        }
        // The computation failed: take our turn.
    }
}

impl Ticket {
    /// A ticket outside any flight (a `refresh` computes whatever others do).
    #[doc(hidden)]
    pub fn solo(digest: &str) -> Ticket {
        Ticket {
            digest: digest.to_owned(),
            flight: None,
            lease: None,
        }
    }

    fn with_lease(mut self, lease: Option<Box<dyn Lease>>) -> Ticket {
        self.lease = lease;
        self
    }
}

/// Logs that a memoized function runs uncached because the cache itself failed (used by the
/// code `#[cached]` generates, whose callers may not depend on `tracing`).
#[doc(hidden)]
pub fn log_uncached(function: &str, error: &Error) {
    tracing::warn!(function, error = %error, "the cache failed: calling the function uncached");
}

// ---- single flight across processes: the store's lock of an entry ----

/// What [`try_lease`] got of the store's lock of an entry.
pub enum Attempt {
    /// Acquired, or no lock to be had (the store has none, or failed to lock: logged).
    Done(Option<Box<dyn Lease>>),
    /// Another process computes the entry.
    Busy,
}

/// Tries the store's lock of `digest`'s entry once, without waiting.
pub fn try_lease(bucket: &Bucket, digest: &str) -> Attempt {
    match bucket.store().try_lock(digest) {
        Ok(Locked::Acquired(lease)) => Attempt::Done(Some(lease)),
        Ok(Locked::Busy) => Attempt::Busy,
        Ok(_) => Attempt::Done(None), // unsupported
        Err(e) => {
            tracing::debug!(digest, error = %e, "cannot take the entry's cross-process lock: computing without it");
            Attempt::Done(None)
        }
    }
}

/// Takes the entry's cross-process lock, waiting while another process holds it (it computes
/// the entry), until `deadline` (the bucket's `single_flight_timeout` after the lookup began);
/// then gives up and computes anyway.
fn wait_for_lease(
    bucket: &Bucket,
    digest: &str,
    deadline: Option<Instant>,
) -> Option<Box<dyn Lease>> {
    let mut pause = Duration::from_millis(1);
    loop {
        match try_lease(bucket, digest) {
            Attempt::Done(lease) => return lease,
            Attempt::Busy if deadline.is_some_and(|d| Instant::now() >= d) => {
                tracing::warn!(digest, timeout = ?bucket.inner.single_flight_timeout,
                    "another process has computed this entry for longer than the single-flight timeout: computing it too");
                return None;
            }
            Attempt::Busy => {
                tracing::trace!(digest, "another process computes this entry: waiting");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// A blocking call run on its own thread, awaited without blocking the caller's thread.
struct OffThread<T> {
    slot: Arc<Mutex<(Option<T>, Option<Waker>)>>,
}

impl<T: Send + 'static> OffThread<T> {
    fn spawn(f: impl FnOnce() -> T + Send + 'static) -> Self {
        let slot: Arc<Mutex<(Option<T>, Option<Waker>)>> = Arc::default();
        let theirs = slot.clone();
        std::thread::spawn(move || {
            let out = f();
            let waker = {
                let mut s = theirs.lock().unwrap_or_else(|p| p.into_inner());
                s.0 = Some(out);
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        OffThread { slot }
    }
}

impl<T> Future for OffThread<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match s.0.take() {
            Some(out) => Poll::Ready(out),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
