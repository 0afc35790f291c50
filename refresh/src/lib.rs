//! Refreshes of memoized entries: one per key across processes, abandoned after a deadline, run
//! in the caller or on a bounded pool of background threads.
//!
//! - [`RefreshSlot`]: the right to refresh one entry. Taken without waiting: first in this
//!   process (a map keyed by location and digest, shared by every bucket on that location),
//!   then across processes with the store's lock of the entry ([`Store::try_lock`], the lock
//!   single flight uses: an OS lock for `fs` and `lmdb`, a lease for Redis). A caller that
//!   cannot take it does not refresh. Past the bucket's `single_flight_timeout` a slot is
//!   abandoned: a watchdog thread drops its lock, the slot counts as free, and the late
//!   result, if one ever comes, is discarded.
//! - `Pool`: a bounded pool of worker threads with a bounded queue, created on the first
//!   background refresh; nothing ever joins it, so a process exits without waiting for it.
//! - `Durations`: how long each key's last computation took, kept in memory per process
//!   (refresh ahead weighs by it; the entry's bytes stay as they are).
//!
//!
//! [`freshness`] decides when an entry is served stale, refreshed ahead or recomputed.
//!
//! [`Store::try_lock`]: bucketcache_traits::store::Store::try_lock
#![warn(missing_docs)]

pub mod freshness;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use bucketcache_traits::store::{Lease, Locked, Store};

/// The default number of background refresh threads per bucket.
#[doc(hidden)]
pub const DEFAULT_REFRESH_THREADS: usize = 2;

/// How many keys' computation times a bucket remembers.
const MAX_DURATIONS: usize = 65_536;

type SlotKey = (PathBuf, String);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Refreshes in progress in this process: the slot's token and its deadline.
fn slots() -> MutexGuard<'static, HashMap<SlotKey, (u64, Instant)>> {
    static SLOTS: OnceLock<Mutex<HashMap<SlotKey, (u64, Instant)>>> = OnceLock::new();
    lock(SLOTS.get_or_init(Default::default))
}

static TOKENS: AtomicU64 = AtomicU64::new(1);

/// The right to refresh one entry (see the module's documentation). Dropping it releases the
/// entry's lock and lets the next caller refresh.
#[derive(Debug)]
pub struct RefreshSlot {
    key: SlotKey,
    token: u64,
    /// The cross-process lock and its deadline, at which the watchdog drops it.
    held: Arc<Mutex<Held>>,
    started: Instant,
}

/// A lock the watchdog drops at its deadline (which a refresh may move: see
/// [`RefreshSlot::renew`]).
#[derive(Debug)]
pub struct Held {
    lease: Option<Box<dyn Lease>>,
    deadline: Instant,
}

fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or(now + Duration::from_secs(86_400 * 365))
}

impl RefreshSlot {
    /// Tries, without waiting, to take the refresh of `digest` in `store`: `None` when another
    /// caller (this process or another: with `across`, the store's lock of the entry) refreshes
    /// it. Past `timeout` the slot is abandoned (its lock dropped by the watchdog).
    pub fn try_take(
        store: &dyn Store,
        timeout: Duration,
        digest: &str,
        across: bool,
    ) -> Option<RefreshSlot> {
        let key = (store.location().to_path_buf(), digest.to_owned());
        let now = Instant::now();
        let token = TOKENS.fetch_add(1, Ordering::Relaxed);
        let deadline = deadline_after(timeout);
        {
            let mut map = slots();
            if map.get(&key).is_some_and(|(_, d)| now < *d) {
                return None;
            }
            map.insert(key.clone(), (token, deadline));
        }
        let lease = if across {
            match store.try_lock(digest) {
                Ok(Locked::Acquired(lease)) => Some(lease),
                Ok(Locked::Busy) => {
                    release_slot(&key, token);
                    tracing::trace!(digest, "another process refreshes this entry");
                    return None;
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::debug!(digest, error = %e, "cannot take the entry's cross-process lock: refreshing without it");
                    None
                }
            }
        } else {
            None
        };
        let has_lease = lease.is_some();
        let held = Arc::new(Mutex::new(Held { lease, deadline }));
        if has_lease {
            watchdog().watch(deadline, Arc::downgrade(&held), digest);
        }
        Some(RefreshSlot {
            key,
            token,
            held,
            started: now,
        })
    }

    /// The digest of the entry to refresh.
    pub fn digest(&self) -> &str {
        &self.key.1
    }

    /// Whether the slot is still this caller's: not abandoned past its deadline.
    pub fn is_current(&self) -> bool {
        let now = Instant::now();
        slots()
            .get(&self.key)
            .is_some_and(|(token, deadline)| *token == self.token && now < *deadline)
    }

    /// Starts the slot's deadline again, `timeout` from now (a background refresh that waited in
    /// the pool's queue, when it starts). `false` when the slot was abandoned meanwhile.
    pub fn renew(&mut self, timeout: Duration) -> bool {
        let now = Instant::now();
        let deadline = deadline_after(timeout);
        let mut map = slots();
        match map.get_mut(&self.key) {
            Some((token, d)) if *token == self.token && now < *d => {
                *d = deadline;
                lock(&self.held).deadline = deadline;
                self.started = now;
                true
            }
            _ => false,
        }
    }

    /// How long since the slot was taken.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for RefreshSlot {
    fn drop(&mut self) {
        // The value (if any) is stored by now: other processes first, then this one.
        drop(lock(&self.held).lease.take());
        release_slot(&self.key, self.token);
    }
}

fn release_slot(key: &SlotKey, token: u64) {
    let mut map = slots();
    if map.get(key).is_some_and(|(t, _)| *t == token) {
        map.remove(key);
    }
}

// ---- the watchdog: drops the locks of refreshes past their deadline ----

type Watched = (Weak<Mutex<Held>>, String);

#[derive(Default)]
struct Watch {
    items: Vec<Watched>,
    /// The deadline the watchdog sleeps until (`None`: it sleeps until told).
    earliest: Option<Instant>,
}

struct Watchdog {
    queue: Mutex<Watch>,
    cv: Condvar,
}

fn watchdog() -> &'static Watchdog {
    static DOG: OnceLock<&'static Watchdog> = OnceLock::new();
    DOG.get_or_init(|| {
        let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            queue: Mutex::new(Watch::default()),
            cv: Condvar::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("bucketcache-refresh-watchdog".into())
            .spawn(move || dog.run());
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the refresh watchdog: hung refreshes keep their locks");
        }
        dog
    })
}

impl Watchdog {
    fn watch(&self, deadline: Instant, held: Weak<Mutex<Held>>, digest: &str) {
        let mut queue = lock(&self.queue);
        queue.items.push((held, digest.to_owned()));
        // Deadlines mostly come in order: wake the watchdog only for an earlier one.
        if !matches!(queue.earliest, Some(e) if e <= deadline) {
            queue.earliest = Some(deadline);
            drop(queue);
            self.cv.notify_one();
        }
    }

    fn run(&self) {
        let mut queue = lock(&self.queue);
        loop {
            let now = Instant::now();
            // Finished refreshes (their lease is gone) leave; hung ones lose their lock.
            let mut earliest: Option<Instant> = None;
            queue.items.retain(|(held, digest)| {
                let Some(held) = held.upgrade() else {
                    return false;
                };
                let mut held = lock(&held);
                if now < held.deadline {
                    earliest = Some(earliest.map_or(held.deadline, |e| e.min(held.deadline)));
                    return true;
                }
                if held.lease.take().is_some() {
                    tracing::warn!(digest = %digest, "past the single-flight timeout: a refresh is abandoned and its lock released");
                }
                false
            });
            queue.earliest = earliest;
            queue = match queue.earliest {
                Some(d) => {
                    let wait = d.saturating_duration_since(Instant::now());
                    self.cv
                        .wait_timeout(queue, wait.max(Duration::from_millis(1)))
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self.cv.wait(queue).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

// ---- the bounded pool of background refreshes ----

type Job = Box<dyn FnOnce() + Send + 'static>;

struct PoolState {
    jobs: VecDeque<Job>,
    /// Worker threads alive and not stuck in an abandoned job.
    workers: usize,
    closed: bool,
}

struct PoolShared {
    state: Mutex<PoolState>,
    cv: Condvar,
    size: usize,
    queue_limit: usize,
}

/// A bounded pool of background threads (see the module's documentation).
pub(crate) struct Pool {
    shared: Arc<PoolShared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.shared.size)
            .finish()
    }
}

impl Pool {
    fn new(size: usize) -> Pool {
        let size = size.max(1);
        Pool {
            shared: Arc::new(PoolShared {
                state: Mutex::new(PoolState {
                    jobs: VecDeque::new(),
                    workers: 0,
                    closed: false,
                }),
                cv: Condvar::new(),
                size,
                queue_limit: size * 64,
            }),
        }
    }

    /// Queues `job`; `false` when the queue is full (the job is dropped).
    fn submit(&self, job: Job) -> bool {
        let mut state = lock(&self.shared.state);
        if state.jobs.len() >= self.shared.queue_limit {
            return false;
        }
        state.jobs.push_back(job);
        if state.workers < self.shared.size {
            state.workers += 1;
            drop(state);
            spawn_worker(self.shared.clone());
        } else {
            drop(state);
            self.shared.cv.notify_one();
        }
        true
    }

    /// A worker is stuck in an abandoned job: another takes its place.
    fn replace_stuck(shared: &Arc<PoolShared>) {
        let mut state = lock(&shared.state);
        if state.closed {
            return;
        }
        state.workers += 1;
        drop(state);
        spawn_worker(shared.clone());
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.cv.notify_all();
    }
}

fn spawn_worker(shared: Arc<PoolShared>) {
    let theirs = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("bucketcache-refresh".into())
        .spawn(move || worker(theirs));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start a background refresh thread");
        lock(&shared.state).workers -= 1;
    }
}

fn worker(shared: Arc<PoolShared>) {
    loop {
        let job = {
            let mut state = lock(&shared.state);
            loop {
                if let Some(job) = state.jobs.pop_front() {
                    break job;
                }
                if state.closed {
                    state.workers -= 1;
                    return;
                }
                state = shared.cv.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        };
        job();
        // Too many workers (a replacement was started while this one was stuck): leave.
        let mut state = lock(&shared.state);
        if state.workers > shared.size {
            state.workers -= 1;
            return;
        }
    }
}

/// A bucket's refresh machinery: its pool (created on first use) and the computation times of
/// its keys.
pub struct Refresher {
    threads: usize,
    pool: OnceLock<Pool>,
    durations: Mutex<HashMap<String, Duration>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl Refresher {
    /// A pool of at most `threads` (at least one) background threads, started on first use.
    pub fn new(threads: usize) -> Refresher {
        Refresher {
            threads: threads.max(1),
            pool: OnceLock::new(),
            durations: Mutex::new(HashMap::new()),
        }
    }

    /// How many background refresh threads the bucket has at most.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How long the last computation of `digest` took in this process, if one was seen.
    pub fn took(&self, digest: &str) -> Option<Duration> {
        lock(&self.durations).get(digest).copied()
    }

    /// Records how long a computation of `digest` took.
    pub fn record(&self, digest: &str, took: Duration) {
        let mut map = lock(&self.durations);
        if map.len() >= MAX_DURATIONS && !map.contains_key(digest) {
            // Forget an arbitrary key: its next early refresh waits for one more computation.
            if let Some(k) = map.keys().next().cloned() {
                map.remove(&k);
            }
        }
        map.insert(digest.to_owned(), took);
    }

    /// Runs `job` on the pool, with a watchdog that replaces its worker if it runs longer than
    /// `timeout` (from when it starts). `false` when the queue is full (the job is dropped).
    pub fn spawn(&self, timeout: Duration, job: impl FnOnce() + Send + 'static) -> bool {
        let pool = self.pool.get_or_init(|| Pool::new(self.threads));
        let shared = Arc::downgrade(&pool.shared);
        let done = Arc::new(AtomicUsize::new(0));
        let job_done = done.clone();
        pool.submit(Box::new(move || {
            // A worker stuck past the deadline is replaced, so that the pool keeps its size.
            let guard = StuckGuard {
                shared,
                done: job_done,
            };
            let waiter = guard.arm(deadline_after(timeout));
            job();
            guard.done.store(1, Ordering::SeqCst);
            drop(waiter);
        }))
    }
}

/// Marks a job as stuck when it runs past its deadline.
struct StuckGuard {
    shared: Weak<PoolShared>,
    done: Arc<AtomicUsize>,
}

impl StuckGuard {
    /// A timer thread would be one thread per job; instead, the watchdog's queue is reused
    /// through a lease whose drop (at the deadline, if the job still runs) replaces the worker.
    fn arm(&self, deadline: Instant) -> Arc<Mutex<Held>> {
        let cell = Arc::new(Mutex::new(Held {
            lease: Some(Box::new(Replacer {
                shared: self.shared.clone(),
                done: self.done.clone(),
            })),
            deadline,
        }));
        watchdog().watch(
            deadline,
            Arc::downgrade(&cell),
            "(background refresh worker)",
        );
        cell
    }
}

/// Dropped by the watchdog at a job's deadline: if the job still runs, another worker starts.
struct Replacer {
    shared: Weak<PoolShared>,
    done: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Replacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Replacer")
    }
}

impl Lease for Replacer {}

impl Drop for Replacer {
    fn drop(&mut self) {
        if self.done.load(Ordering::SeqCst) != 0 {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            tracing::warn!("a background refresh is stuck past the single-flight timeout: starting another worker");
            Pool::replace_stuck(&shared);
        }
    }
}
