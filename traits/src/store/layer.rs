//! See [`StoreLayer`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{
    AsyncStoreOps, Capabilities, Degradation, Fetched, Listed, Locked, ReadLimits, Store, Usage,
};

/// The forwarding base of store layers: a store that wraps another (the near cache of
/// bucketcache-core, a read-only view, a metering or logging wrapper) overrides only what it
/// changes and forwards everything else, as OpenDAL's `LayeredAccess` does. Implementing this
/// trait implements [`Store`]; each provided method has the meaning of the [`Store`] method of
/// the same name.
///
/// A layer implements [`StoreLayer`]: one required method, [`inner`](StoreLayer::inner), the
/// store it wraps. Every other method of [`Store`] has a provided counterpart here that forwards
/// to the inner store, and the blanket `impl<T: StoreLayer> Store for T` routes each `Store`
/// method to it. So a layer can never drop a capability of the store it wraps (its `stat`, its
/// own usage count and recency index, its budget record, its locks, its native async client):
/// what it does not override, the inner store answers.
///
/// Two groups of methods belong together; a layer that changes one member overrides the group:
/// - reads: override [`read_with_age`](StoreLayer::read_with_age) (the provided
///   [`read`](StoreLayer::read) goes through it), and [`async_ops`](StoreLayer::async_ops) if the
///   inner store's native async reads must see the change too;
/// - writes: override [`write_expiring`](StoreLayer::write_expiring) (the provided
///   [`write`](StoreLayer::write) goes through it) and `async_ops` likewise;
/// - removals: [`remove`](StoreLayer::remove), [`remove_if`](StoreLayer::remove_if),
///   [`remove_if_unchanged`](StoreLayer::remove_if_unchanged) and
///   [`remove_all_if_unchanged`](StoreLayer::remove_all_if_unchanged) each forward on their own.
///
/// ```
/// use std::io;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use bucketcache_fs::FsStore;
/// use bucketcache_traits::store::{Store, StoreLayer};
///
/// /// Counts the bytes written; everything else is the inner store's.
/// #[derive(Debug)]
/// struct Metered { inner: FsStore, written: AtomicU64 }
///
/// impl StoreLayer for Metered {
///     fn inner(&self) -> &dyn Store { &self.inner }
///     fn write_expiring(&self, name: &str, bytes: &[u8],
///                       expires: Option<std::time::SystemTime>) -> io::Result<()> {
///         self.written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
///         self.inner.write_expiring(name, bytes, expires)
///     }
/// }
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = Metered { inner: FsStore::new(dir.path(), false), written: AtomicU64::new(0) };
/// let store: &dyn Store = &store;
/// store.write("a.json", b"{}").unwrap();
/// assert_eq!(store.stat("a.json").unwrap().unwrap().size, 2); // forwarded
/// ```
pub trait StoreLayer: Send + Sync + fmt::Debug {
    /// The store this layer wraps.
    fn inner(&self) -> &dyn Store;

    /// [`Store::name`].
    fn name(&self) -> &str {
        self.inner().name()
    }
    /// [`Store::location`].
    fn location(&self) -> &Path {
        self.inner().location()
    }
    /// [`Store::entry_path`].
    fn entry_path(&self, name: &str) -> PathBuf {
        self.inner().entry_path(name)
    }
    /// [`Store::is_plain_directory`].
    fn is_plain_directory(&self) -> bool {
        self.inner().is_plain_directory()
    }
    /// [`Store::read`]: by default, [`read_with_age`](Self::read_with_age) without the age.
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        Ok(StoreLayer::read_with_age(self, name, limits)?.0)
    }
    /// [`Store::write`]: by default, [`write_expiring`](Self::write_expiring) never expiring.
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        StoreLayer::write_expiring(self, name, bytes, None)
    }
    /// [`Store::write_expiring`].
    fn write_expiring(
        &self,
        name: &str,
        bytes: &[u8],
        expires: Option<SystemTime>,
    ) -> io::Result<()> {
        self.inner().write_expiring(name, bytes, expires)
    }
    /// [`Store::read_with_age`].
    fn read_with_age(
        &self,
        name: &str,
        limits: &ReadLimits<'_>,
    ) -> io::Result<(Fetched, Duration)> {
        self.inner().read_with_age(name, limits)
    }
    /// [`Store::max_value_bytes`].
    fn max_value_bytes(&self) -> Option<u64> {
        self.inner().max_value_bytes()
    }
    /// [`Store::remove`].
    fn remove(&self, name: &str) -> io::Result<bool> {
        self.inner().remove(name)
    }
    /// [`Store::remove_if`].
    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        self.inner().remove_if(name, condition)
    }
    /// [`Store::list`].
    fn list(&self) -> io::Result<Vec<Listed>> {
        self.inner().list()
    }
    /// [`Store::stale_temporaries`].
    fn stale_temporaries(&self) -> io::Result<Vec<Listed>> {
        self.inner().stale_temporaries()
    }
    /// [`Store::remove_temporary`].
    fn remove_temporary(&self, name: &str) -> io::Result<bool> {
        self.inner().remove_temporary(name)
    }
    /// [`Store::try_lock`].
    fn try_lock(&self, digest: &str) -> io::Result<Locked> {
        self.inner().try_lock(digest)
    }
    /// [`Store::touch`].
    fn touch(&self, name: &str) -> io::Result<()> {
        self.inner().touch(name)
    }
    /// [`Store::supports_recency`].
    fn supports_recency(&self) -> bool {
        self.inner().supports_recency()
    }
    /// [`Store::stat`].
    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        self.inner().stat(name)
    }
    /// [`Store::remove_if_unchanged`].
    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        self.inner().remove_if_unchanged(listed)
    }
    /// [`Store::usage`].
    fn usage(&self) -> io::Result<Option<Usage>> {
        self.inner().usage()
    }
    /// [`Store::eviction_candidates`].
    fn eviction_candidates(&self, n: usize) -> io::Result<Option<Vec<Listed>>> {
        self.inner().eviction_candidates(n)
    }
    /// [`Store::update_budget_record`].
    fn update_budget_record(
        &self,
        wait: Duration,
        update: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> io::Result<bool> {
        self.inner().update_budget_record(wait, update)
    }
    /// [`Store::check_guarantees`].
    fn check_guarantees(&self, budget: bool, single_flight: bool) -> Vec<Degradation> {
        self.inner().check_guarantees(budget, single_flight)
    }
    /// [`Store::async_ops`]. A layer that changes reads or writes must override this too (or
    /// return `None`): the inner store's native client would bypass it.
    fn async_ops(&self) -> Option<&dyn AsyncStoreOps> {
        self.inner().async_ops()
    }
    /// [`Store::remove_all_if_unchanged`].
    fn remove_all_if_unchanged(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        self.inner().remove_all_if_unchanged(victims)
    }
    /// What the wrapped store supports: a layer that adds or removes a capability overrides
    /// this.
    fn capabilities(&self) -> Capabilities {
        self.inner().capabilities()
    }
}

/// Every layer is a store: each method is the layer's (forwarding unless overridden). A method
/// added to [`Store`] must be added here and to [`StoreLayer`] (a test checks both lists).
impl<T: StoreLayer> Store for T {
    fn name(&self) -> &str {
        StoreLayer::name(self)
    }
    fn location(&self) -> &Path {
        StoreLayer::location(self)
    }
    fn entry_path(&self, name: &str) -> PathBuf {
        StoreLayer::entry_path(self, name)
    }
    fn is_plain_directory(&self) -> bool {
        StoreLayer::is_plain_directory(self)
    }
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        StoreLayer::read(self, name, limits)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        StoreLayer::write(self, name, bytes)
    }
    fn write_expiring(
        &self,
        name: &str,
        bytes: &[u8],
        expires: Option<SystemTime>,
    ) -> io::Result<()> {
        StoreLayer::write_expiring(self, name, bytes, expires)
    }
    fn read_with_age(
        &self,
        name: &str,
        limits: &ReadLimits<'_>,
    ) -> io::Result<(Fetched, Duration)> {
        StoreLayer::read_with_age(self, name, limits)
    }
    fn max_value_bytes(&self) -> Option<u64> {
        StoreLayer::max_value_bytes(self)
    }
    fn remove(&self, name: &str) -> io::Result<bool> {
        StoreLayer::remove(self, name)
    }
    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        StoreLayer::remove_if(self, name, condition)
    }
    fn list(&self) -> io::Result<Vec<Listed>> {
        StoreLayer::list(self)
    }
    fn stale_temporaries(&self) -> io::Result<Vec<Listed>> {
        StoreLayer::stale_temporaries(self)
    }
    fn remove_temporary(&self, name: &str) -> io::Result<bool> {
        StoreLayer::remove_temporary(self, name)
    }
    fn try_lock(&self, digest: &str) -> io::Result<Locked> {
        StoreLayer::try_lock(self, digest)
    }
    fn touch(&self, name: &str) -> io::Result<()> {
        StoreLayer::touch(self, name)
    }
    fn supports_recency(&self) -> bool {
        StoreLayer::supports_recency(self)
    }
    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        StoreLayer::stat(self, name)
    }
    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        StoreLayer::remove_if_unchanged(self, listed)
    }
    fn usage(&self) -> io::Result<Option<Usage>> {
        StoreLayer::usage(self)
    }
    fn eviction_candidates(&self, n: usize) -> io::Result<Option<Vec<Listed>>> {
        StoreLayer::eviction_candidates(self, n)
    }
    fn update_budget_record(
        &self,
        wait: Duration,
        update: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> io::Result<bool> {
        StoreLayer::update_budget_record(self, wait, update)
    }
    fn check_guarantees(&self, budget: bool, single_flight: bool) -> Vec<Degradation> {
        StoreLayer::check_guarantees(self, budget, single_flight)
    }
    fn async_ops(&self) -> Option<&dyn AsyncStoreOps> {
        StoreLayer::async_ops(self)
    }
    fn remove_all_if_unchanged(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        StoreLayer::remove_all_if_unchanged(self, victims)
    }
    fn capabilities(&self) -> Capabilities {
        StoreLayer::capabilities(self)
    }
}
