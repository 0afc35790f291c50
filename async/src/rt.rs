//! The runtime seam of the async API: one hop to a blocking pool, a timer, a bounded wait.
//!
//! Inside a tokio runtime (any flavour) a hop is `tokio::task::spawn_blocking` and a pause is
//! `tokio::time::sleep`: the task is parked, never the thread. Outside one (another executor,
//! a hand-rolled `block_on`) the work runs inline on the calling thread, as `Bucket`'s does —
//! nothing panics for want of a runtime. See docs/async.md.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bucketcache_core::store::Lease;

/// Runs `f` on tokio's blocking pool and awaits it without blocking this thread; outside a
/// tokio runtime, runs it here. A panic in `f` resumes in the caller, as it would inline.
pub(crate) async fn unblock<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(f).await {
            Ok(out) => Ok(out),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(io::Error::other(
                "the tokio runtime shut down before the cache operation could run",
            )),
        },
        Err(_) => Ok(f()),
    }
}

/// Parks the task for `pause`. Outside a tokio runtime there is no timer to ask: a short-lived
/// thread sleeps and wakes the task (these pauses are the ≤ 50 ms steps of a wait for another
/// process), so the caller's thread stays free there too.
pub(crate) async fn sleep(pause: Duration) {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::sleep(pause).await;
    } else {
        ThreadTimer::new(pause).await;
    }
}

/// Whether a [`ThreadTimer`] has rung, and the task to wake when it does.
type TimerState = Arc<Mutex<(bool, Option<Waker>)>>;

/// A timer without a runtime: a thread that sleeps, then wakes the task.
struct ThreadTimer {
    pause: Duration,
    state: Option<TimerState>,
}

impl ThreadTimer {
    fn new(pause: Duration) -> Self {
        ThreadTimer { pause, state: None }
    }
}

impl Future for ThreadTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let pause = self.pause;
        let state = self.state.get_or_insert_with(|| {
            let state: TimerState = Arc::default();
            let theirs = state.clone();
            let spawned = std::thread::Builder::new()
                .name("bucketcache-timer".into())
                .spawn(move || {
                    std::thread::sleep(pause);
                    let waker = {
                        let mut s = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                        s.0 = true;
                        s.1.take()
                    };
                    if let Some(w) = waker {
                        w.wake();
                    }
                });
            if spawned.is_err() {
                // No thread to be had: the pause is over at once (the caller tries again).
                state.lock().unwrap_or_else(PoisonError::into_inner).0 = true;
            }
            state
        });
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Awaits `f` at most `limit`: `None` when the time ran out (outside a tokio runtime there is
/// no timer: `f` is awaited to its end).
pub(crate) async fn within<F: Future>(limit: Duration, f: F) -> Option<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::timeout(limit, f).await.ok()
    } else {
        Some(f.await)
    }
}

/// A cross-process lock held by a task: dropped (released) on the blocking pool, since
/// releasing a Redis lease is a round trip and an `fs` one a `close`.
#[derive(Debug, Default)]
pub(crate) struct HeldLease(Option<Box<dyn Lease>>);

impl HeldLease {
    pub(crate) fn new(lease: Option<Box<dyn Lease>>) -> Self {
        HeldLease(lease)
    }

    /// The lease, to be released by whoever takes it.
    pub(crate) fn take(&mut self) -> Option<Box<dyn Lease>> {
        self.0.take()
    }

    /// Releases the lease on the pool and waits for the release: once this returns, another
    /// caller (of any process) can take the lock. Dropping the lease instead releases it a
    /// moment later, and a caller that comes right after would find it still held.
    pub(crate) async fn release_now(mut self) {
        release_now(self.0.take()).await;
    }
}

/// Releases `lease` on the pool (here, outside a tokio runtime) and waits for the release.
pub(crate) async fn release_now<T: Send + 'static>(held: Option<T>) {
    if let Some(held) = held {
        // A panic while releasing resumes here; a runtime shutting down has nothing to release to.
        let _ = unblock(move || drop(held)).await;
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        release(self.0.take());
    }
}

/// Releases `lease` off this thread when a tokio runtime is at hand, here otherwise.
pub(crate) fn release(lease: Option<Box<dyn Lease>>) {
    let Some(lease) = lease else { return };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            // The join handle is not needed: the release runs to its end by itself.
            drop(handle.spawn_blocking(move || drop(lease)));
        }
        Err(_) => drop(lease),
    }
}

/// Drops `held` (something whose drop is blocking store work: a refresh's lock) off this
/// thread when a tokio runtime is at hand, here otherwise.
pub(crate) fn drop_off_thread<T: Send + 'static>(held: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn_blocking(move || drop(held))),
        Err(_) => drop(held),
    }
}
