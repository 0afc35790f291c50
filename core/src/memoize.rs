//! Memoization: compute on a miss, store, return — once per key within a process.

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bucket::Bucket;
use crate::deferred::DeferredWriteBucket;
use crate::error::{Error, Result};
use crate::time::Expiration;

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
pub struct Memoized<T> {
    /// The value (from the cache or just computed).
    pub value: T,
    /// Whether the cache answered.
    pub hit: bool,
    /// The entry's expiration (of the stored entry after a miss).
    pub expiration: Option<Expiration>,
}

/// A store a memoized call can use: a [`Bucket`] or a [`DeferredWriteBucket`].
pub trait MemoStore {
    /// The bucket underneath.
    fn bucket(&self) -> &Bucket;
    /// Reads the entry named `digest`.
    fn get_digest<V: DeserializeOwned>(&self, digest: &str) -> Result<Option<(V, Option<Expiration>)>>;
    /// Writes the entry named `digest`.
    fn set_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()>;

    /// Looks `key` up; on a miss (or with `refresh`) runs `compute`, stores an `Ok` value and
    /// returns it. An `Err` is returned and not stored. Within one process, concurrent calls with
    /// the same key run `compute` once; the others wait and read its result.
    ///
    /// A value that cannot be stored (disk full, value not encodable) is still returned; the
    /// failure is logged at warn level, and the next call computes again.
    fn memoize<K, V, E, F>(&self, key: &K, refresh: bool, compute: F) -> std::result::Result<Memoized<V>, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> std::result::Result<V, E>,
    {
        let bucket = self.bucket();
        let digest = bucket.hash_for_key(key)?;
        if !refresh {
            if let Some((value, expiration)) = self.get_digest(&digest)? {
                tracing::info!(digest = %digest, "Function call loaded from cache");
                return Ok(Memoized { value, hit: true, expiration });
            }
        }
        let flight = bucket.flight(&digest);
        let _turn = flight.lock().unwrap_or_else(|p| p.into_inner());
        if !refresh {
            // Someone else may have computed it while we waited for our turn.
            if let Some((value, expiration)) = self.get_digest(&digest)? {
                bucket.land(&digest, &flight);
                return Ok(Memoized { value, hit: true, expiration });
            }
        }
        tracing::info!(digest = %digest, "Calling function");
        let computed = compute();
        let result = computed.map(|value| {
            if let Err(e) = self.set_digest(&digest, &value) {
                tracing::warn!(digest = %digest, error = %e, "the computed value could not be cached");
            }
            let expiration = bucket.inner.lifetime.map(|l| crate::time::add_lifetime(bucket.inner.clock.now(), l));
            Memoized { value, hit: false, expiration }
        });
        bucket.land(&digest, &flight);
        result
    }
}

impl MemoStore for Bucket {
    fn bucket(&self) -> &Bucket {
        self
    }
    fn get_digest<V: DeserializeOwned>(&self, digest: &str) -> Result<Option<(V, Option<Expiration>)>> {
        self.get_by_digest(digest)
    }
    fn set_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()> {
        self.set_by_digest(digest, value)
    }
}

impl MemoStore for DeferredWriteBucket {
    fn bucket(&self) -> &Bucket {
        DeferredWriteBucket::bucket(self)
    }
    fn get_digest<V: DeserializeOwned>(&self, digest: &str) -> Result<Option<(V, Option<Expiration>)>> {
        self.get_by_digest(digest)
    }
    fn set_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()> {
        self.set_by_digest(digest, value)
    }
}

impl Bucket {
    /// Returns the value under `key`, or computes, stores and returns it.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache_json::register()?; bucketcache_keymakers::register()?;
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
    /// # bucketcache_json::register()?; bucketcache_keymakers::register()?;
    /// let dir = tempfile::tempdir()?;
    /// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
    /// let failed: anyhow::Result<u32> = b.get_or_try_insert_with("k", || anyhow::bail!("offline"));
    /// assert!(failed.is_err());
    /// let v: u32 = b.get_or_try_insert_with("k", || Ok::<_, anyhow::Error>(7))?;
    /// assert_eq!(v, 7);
    /// # Ok(()) }
    /// ```
    pub fn get_or_try_insert_with<K, V, E, F>(&self, key: &K, compute: F) -> std::result::Result<V, E>
    where
        K: Serialize + ?Sized,
        V: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> std::result::Result<V, E>,
    {
        self.memoize(key, false, compute).map(|m| m.value)
    }

    /// The single-flight lock for `digest`.
    pub(crate) fn flight(&self, digest: &str) -> Arc<Mutex<()>> {
        let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights.entry(digest.to_owned()).or_default().clone()
    }

    /// Forgets the flight lock for `digest` once nobody else holds it.
    pub(crate) fn land(&self, digest: &str, flight: &Arc<Mutex<()>>) {
        let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
        // Two references: the map's and ours. More means someone is waiting for their turn.
        if Arc::strong_count(flight) <= 2 {
            flights.remove(digest);
        }
    }
}
