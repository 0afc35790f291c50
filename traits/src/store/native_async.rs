//! See [`AsyncStoreOps`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::SystemTime;

use super::Fetched;

/// A boxed, `Send` future (the object-safe shape of an async method).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Native async reads and writes of entries: an optional capability of a store.
///
/// A network store with an async client of its own (Redis) offers it through
/// [`Store::async_ops`](super::Store::async_ops), and the async API (`AsyncBucket`, feature
/// `async`) then reads and writes entries through it, on the caller's task, instead of making a
/// hop to a blocking pool. Every other operation (locks, removals, listings) goes through the
/// blocking methods, on the pool. The trait uses only `std` futures: a store can implement it
/// with whatever runtime its client needs (it must say which).
pub trait AsyncStoreOps: Send + Sync {
    /// Like [`Store::read`](super::Store::read): `name`'s bytes, [`Fetched::TooLarge`] over
    /// `max_bytes`, [`Fetched::NotAFile`] for something that is not an entry. The caller checks
    /// the head of what it gets.
    fn read_async<'a>(
        &'a self,
        name: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, io::Result<Fetched>>;
    /// Like [`Store::write_expiring`](super::Store::write_expiring): replaces `name` atomically.
    fn write_expiring_async<'a>(
        &'a self,
        name: &'a str,
        bytes: &'a [u8],
        expires: Option<SystemTime>,
    ) -> BoxFuture<'a, io::Result<()>>;
    /// Whether native calls can be made from the current thread now (e.g. a tokio runtime is
    /// running here); when not, the async API uses the blocking methods instead.
    fn usable_here(&self) -> bool;
}
