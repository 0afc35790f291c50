//! bucketcache-redis: a [`Store`] that keeps a bucket in Redis, so that many machines share one
//! cache with the same API and the same rules as a cache directory.
//!
//! ```no_run
//! # fn main() -> bucketcache_core::Result<()> {
//! use bucketcache_core::Bucket;
//! // The path is the namespace inside Redis.
//! let b = Bucket::builder("myapp").store("redis://127.0.0.1:6379/0").open()?;
//! b.set("answer", &42)?;
//! # Ok(()) }
//! ```
//!
//! **Layout.** An entry `<digest>.<extension>` of the namespace `myapp` is the Redis string
//! `myapp:<digest>.<extension>`, holding exactly the bytes a file would hold (every backend and
//! plugin works). Keys of the namespace that are not entries are shown as foreign by the CLI and
//! never deleted; the store's own helper keys (single-flight locks) live under `<namespace>:.`
//! and are never entries. Two namespaces never see each other's keys, even when
//! one name is a prefix of the other (`a` does not list `a:b:…`).
//!
//! **Expiry.** An entry with an expiration is written with a Redis expiry at the same instant
//! (`SET … PXAT`, the expiration rounded up to the millisecond — Redis 6.2 or later), so Redis
//! drops it by itself, never before the bucket would call it expired. The bucket's rules (the
//! lifetime-changed rule, delete-on-read on the evidence of what the server holds, `prune` over
//! `SCAN`) are the same as on a directory. The expiry is an absolute time: the clocks of the
//! machines sharing a cache should agree (NTP).
//!
//! **Faults are errors, never wrong values.** Every call is bounded in time: connecting waits at
//! most `connect_timeout_ms` (default 2000), a command waits at most `command_timeout_ms`
//! (default 2000) without progress, so a call fails within about their sum. After a failed
//! connection attempt, calls fail at once for `reconnect_backoff_ms` (default 1000); then the
//! next call tries again, so the same bucket works again within that time once the server is
//! back. Set them in the builder (`.connect_timeout(..)`, `.command_timeout(..)`) or the store
//! options (`[store_options] connect_timeout_ms = 500` in a config). The errors are
//! [`RedisStoreError`]s inside the bucket's I/O error; a value larger than the server accepts
//! (its `proto-max-bulk-len`, read from the server, 512 MB by default) is
//! [`bucketcache_traits::Error::EntryTooLarge`] at `set`, before anything is sent.
//!
//! **Single flight across machines.** A memoized computation runs once per namespace, not once
//! per machine: its lock is the helper key `<namespace>:.lock:<digest>` (`SET NX PX`), renewed
//! while the holder computes and released when it is done; a holder that dies frees it within
//! `lock_ttl_ms` (default 30000).
//!
//! **URLs.** `redis://[user:password@]host[:port][/db]`, `rediss://…` for TLS (rustls, the
//! Mozilla roots). Connections are reused (a small pool per store) and replaced when they break.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod accounting;
mod error;
mod lock;
#[cfg(feature = "async")]
mod native;
mod pool;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketcache_traits::backend::HEAD_LEN;
use bucketcache_traits::store::{
    without_credentials, Fetched, Kind, Listed, Locked, ReadLimits, Store, StoreOptions,
    StoreRegistration,
};
use serde::{Deserialize, Serialize};

pub use error::RedisStoreError;
use pool::{Call, Pool, Timeouts};
/// The `redis` crate this store is built on (for raw commands next to a bucket).
pub use redis;

/// The store's registry name.
pub const NAME: &str = "redis";
/// The URL schemes that select it.
pub const SCHEMES: &[&str] = &["redis", "rediss"];
/// How long connecting may take unless told otherwise: 2 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command may wait without progress unless told otherwise: 2 s.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long calls fail at once after a failed connection attempt unless told otherwise: 1 s.
pub const DEFAULT_RECONNECT_BACKOFF: Duration = Duration::from_secs(1);
/// How long a single-flight lock outlives its holder unless told otherwise: 30 s (the holder
/// renews it while it computes).
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(30);
/// The largest value a Redis server accepts by default (`proto-max-bulk-len`, 512 MB); the
/// store reads the server's own setting when it may.
pub const DEFAULT_MAX_VALUE_BYTES: u64 = 512 * 1024 * 1024;

/// How many keys one `SCAN` step asks for.
const SCAN_COUNT: usize = 1000;

/// The store's options: `StoreOptions::options` (`[store_options]` in a config), all optional.
///
/// ```
/// use bucketcache_redis::RedisOptions;
/// let o = RedisOptions::from_json(&serde_json::json!({"connect_timeout_ms": 500})).unwrap();
/// assert_eq!(o.connect_timeout_ms, 500);
/// assert_eq!(o.command_timeout_ms, 2000);
/// assert!(RedisOptions::from_json(&serde_json::json!({"conect_timeout_ms": 1})).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisOptions {
    /// How long connecting may take, in milliseconds (default 2000).
    pub connect_timeout_ms: u64,
    /// How long a command may wait without progress, in milliseconds (default 2000).
    pub command_timeout_ms: u64,
    /// How long calls fail at once after a failed connection attempt, in milliseconds (default
    /// 1000; 0 tries to connect on every call).
    pub reconnect_backoff_ms: u64,
    /// How long the single-flight lock of a memoized computation outlives a holder that died, in
    /// milliseconds (default 30000; a live holder renews it every third of that).
    pub lock_ttl_ms: u64,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT.as_millis() as u64,
            command_timeout_ms: DEFAULT_COMMAND_TIMEOUT.as_millis() as u64,
            reconnect_backoff_ms: DEFAULT_RECONNECT_BACKOFF.as_millis() as u64,
            lock_ttl_ms: DEFAULT_LOCK_TTL.as_millis() as u64,
        }
    }
}

impl RedisOptions {
    /// Reads options from JSON (`null` is the defaults); unknown names are refused.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, RedisStoreError> {
        if value.is_null() {
            return Ok(RedisOptions::default());
        }
        let options: RedisOptions = serde_json::from_value(value.clone())
            .map_err(|e| RedisStoreError::Config(format!("store options: {e}")))?;
        if options.connect_timeout_ms == 0 || options.command_timeout_ms == 0 {
            return Err(RedisStoreError::Config(
                "connect_timeout_ms and command_timeout_ms must be at least 1".into(),
            ));
        }
        if options.lock_ttl_ms < 30 {
            return Err(RedisStoreError::Config(
                "lock_ttl_ms must be at least 30".into(),
            ));
        }
        Ok(options)
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(self.connect_timeout_ms.max(1)),
            command: Duration::from_millis(self.command_timeout_ms.max(1)),
            reconnect_backoff: Duration::from_millis(self.reconnect_backoff_ms),
        }
    }
}

/// A bucket's entries in one namespace of one Redis server. Opened by
/// `Bucket::builder(namespace).store("redis://…")`, or directly with [`RedisStore::open`].
pub struct RedisStore {
    namespace: PathBuf,
    /// `<namespace>:`
    prefix: String,
    /// `SCAN MATCH` pattern for the namespace (glob characters escaped).
    pattern: String,
    pool: Arc<Pool>,
    #[cfg(feature = "async")]
    native: native::Native,
    lock_ttl: Duration,
    max_value_bytes: AtomicU64,
    limit_known: AtomicBool,
    remove_script: redis::Script,
    remove_if_script: redis::Script,
    sizes_script: redis::Script,
    write_script: redis::Script,
    init_script: redis::Script,
    candidates_script: redis::Script,
    evict_all_script: redis::Script,
    /// The usage the last write answered (saves a budget's read after each write).
    recent_usage: accounting::RecentUsage,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.pool.url())
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// The size of each key: its length for a string, -2 when gone, the type's name for another
/// type.
const SIZES: &str = r"
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  if t == 'string' then
    out[i] = redis.call('STRLEN', k)
  elseif t == 'none' then
    out[i] = -2
  else
    out[i] = t
  end
end
return out
";

/// The [`Kind`] of a key of the Redis type `type_name` that is not a string.
fn kind_of_type(type_name: &str) -> Kind {
    Kind::Record(match type_name {
        "list" => "Redis list",
        "set" => "Redis set",
        "zset" => "Redis sorted set",
        "hash" => "Redis hash",
        "stream" => "Redis stream",
        "vectorset" => "Redis vector set",
        _ => "Redis value of a module's type",
    })
}

impl RedisStore {
    /// A store for `namespace` on the server at `url`. Nothing is sent yet: the first call
    /// connects (so a bucket opens while the server is down, and works once it is up).
    pub fn open(
        url: &str,
        namespace: &str,
        options: RedisOptions,
    ) -> Result<RedisStore, RedisStoreError> {
        if namespace.is_empty() {
            return Err(RedisStoreError::Config(
                "the namespace (the bucket's path) is empty".into(),
            ));
        }
        let shown = without_credentials(url);
        if url.starts_with("rediss:") {
            // The `redis` crate's rustls needs a process-wide crypto provider; another one
            // installed first is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = redis::Client::open(url)
            .map_err(|e| RedisStoreError::Config(format!("{shown}: {e}")))?;
        Ok(RedisStore {
            namespace: PathBuf::from(namespace),
            prefix: format!("{namespace}:"),
            pattern: format!("{}:*", glob_escape(namespace)),
            #[cfg(feature = "async")]
            native: native::Native::new(client.clone(), shown.clone(), options.timeouts()),
            pool: Arc::new(Pool::new(client, shown, options.timeouts())),
            lock_ttl: Duration::from_millis(options.lock_ttl_ms.max(30)),
            max_value_bytes: AtomicU64::new(DEFAULT_MAX_VALUE_BYTES),
            limit_known: AtomicBool::new(false),
            remove_script: accounting::remove_script(),
            remove_if_script: accounting::remove_if_script(),
            sizes_script: redis::Script::new(SIZES),
            write_script: redis::Script::new(accounting::WRITE),
            init_script: redis::Script::new(accounting::INIT),
            candidates_script: accounting::candidates_script(),
            evict_all_script: accounting::evict_all_script(),
            recent_usage: accounting::RecentUsage::default(),
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.prefix[..self.prefix.len() - 1]
    }

    /// The server's URL, without credentials.
    pub fn url(&self) -> &str {
        self.pool.url()
    }

    /// The Redis key of the entry name `name` (`<namespace>:<name>`).
    pub fn key_of(&self, name: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + name.len());
        key.push_str(&self.prefix);
        key.push_str(name);
        key
    }

    /// Connects (if no connection is open) and checks that the server answers.
    pub fn ping(&self) -> Result<(), RedisStoreError> {
        self.pool
            .run(Call::read("PING", None), |c| {
                redis::cmd("PING").query::<String>(c)
            })
            .map(drop)
    }

    /// Reads the server's `proto-max-bulk-len` once, or again when `again` (a server that
    /// refuses `CONFIG GET` keeps the default limit).
    fn learn_limit(&self, again: bool) {
        if self.limit_known.load(Ordering::Relaxed) && !again {
            return;
        }
        let got = self.pool.run(Call::read("CONFIG GET", None), |c| {
            redis::cmd("CONFIG")
                .arg("GET")
                .arg("proto-max-bulk-len")
                .query::<HashMap<String, String>>(c)
        });
        match got {
            Ok(config) => {
                if let Some(limit) = config
                    .get("proto-max-bulk-len")
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    self.max_value_bytes.store(limit, Ordering::Relaxed);
                }
                self.limit_known.store(true, Ordering::Relaxed);
            }
            Err(RedisStoreError::Refused { .. }) => self.limit_known.store(true, Ordering::Relaxed),
            Err(_) => {} // unreachable: the write that follows says so
        }
    }

    /// The raw value of `name`, `Err(kind)` for a key of another type.
    fn get(&self, name: &str) -> io::Result<Result<Option<Vec<u8>>, Kind>> {
        let key = self.key_of(name);
        Ok(self.pool.run(Call::read("GET", Some(&key)), |c| {
            match redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(c) {
                Err(e) if e.code() == Some("WRONGTYPE") => {
                    let type_name: String = redis::cmd("TYPE").arg(&key).query(c)?;
                    Ok(Err(kind_of_type(&type_name)))
                }
                other => other.map(Ok),
            }
        })?)
    }

    /// The error of a value of `size` bytes over the server's `limit` for `key`.
    fn too_large(&self, size: u64, limit: u64, key: String) -> io::Error {
        RedisStoreError::TooLarge {
            size,
            limit,
            url: self.pool.url().to_owned(),
            key,
        }
        .into()
    }
}

impl Store for RedisStore {
    fn name(&self) -> &str {
        NAME
    }

    fn location(&self) -> &Path {
        &self.namespace
    }

    /// `<url> key <namespace>:<name>`: the server and the Redis key, not a file.
    fn entry_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{} key {}", self.pool.url(), self.key_of(name)))
    }

    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        let bytes = match self.get(name)? {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(Fetched::Missing),
            Err(kind) => return Ok(Fetched::NotAFile(kind)),
        };
        if bytes.len() as u64 > limits.max_bytes {
            return Ok(Fetched::TooLarge(bytes.len() as u64));
        }
        if !(limits.may_begin)(&bytes[..bytes.len().min(HEAD_LEN)]) {
            return Ok(Fetched::Rejected);
        }
        Ok(Fetched::Bytes(bytes))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.write_expiring(name, bytes, None)
    }

    fn write_expiring(
        &self,
        name: &str,
        bytes: &[u8],
        expires: Option<SystemTime>,
    ) -> io::Result<()> {
        self.learn_limit(false);
        let size = bytes.len() as u64;
        let key = self.key_of(name);
        let limit = self.max_value_bytes.load(Ordering::Relaxed);
        if size > limit {
            return Err(self.too_large(size, limit, key));
        }
        // The entry and the namespace's accounting change in one script.
        let (usage, recency, sizes) = (self.usage_key(), self.recency_key(), self.sizes_key());
        let mut invocation = self.write_script.prepare_invoke();
        invocation.key(&key).key(&usage).key(&recency).key(&sizes);
        invocation.arg(bytes);
        match expires {
            Some(at) => invocation.arg(unix_millis_rounded_up(at)),
            None => invocation.arg(""),
        };
        invocation.arg(name).arg(accounting::now_ms());
        let sent = self.recent_usage.before_write();
        match self.pool.run(Call::write("SET", &key), |c| {
            invocation.invoke::<Vec<Option<i64>>>(c)
        }) {
            Ok(answer) => {
                if let [Some(entries), Some(bytes)] = answer[..] {
                    let usage =
                        bucketcache_traits::Usage::new(entries.max(0) as u64, bytes.max(0) as u64);
                    self.recent_usage.wrote(usage, sent);
                }
                Ok(())
            }
            // A server answers a value over its `proto-max-bulk-len` (which may have been
            // lowered since it was read) with a protocol error and closes the connection: read
            // the limit again before calling it a fault (not after a timeout: a server that
            // does not answer would only make the call wait twice).
            Err(e)
                if e.kind() != io::ErrorKind::TimedOut
                    && !matches!(e, RedisStoreError::Backoff { .. }) =>
            {
                self.learn_limit(true);
                let limit = self.max_value_bytes.load(Ordering::Relaxed);
                if size > limit {
                    return Err(self.too_large(size, limit, key));
                }
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn remove(&self, name: &str) -> io::Result<bool> {
        let key = self.key_of(name);
        let (usage, recency, sizes) = (self.usage_key(), self.recency_key(), self.sizes_key());
        let removed: Result<i64, _> = self.pool.run(Call::write("DEL", &key), |c| {
            self.remove_script
                .key(&key)
                .key(&usage)
                .key(&recency)
                .key(&sizes)
                .arg(name)
                .invoke(c)
        });
        self.recent_usage.removed();
        Ok(removed? > 0)
    }

    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        let Ok(Some(seen)) = self.get(name)? else {
            return Ok(None);
        };
        if !condition(&seen) {
            return Ok(None);
        }
        // Deleted only if the server still holds what was judged (a fresh value written by
        // another machine since is kept).
        let key = self.key_of(name);
        let (usage, recency, sizes) = (self.usage_key(), self.recency_key(), self.sizes_key());
        let removed: Result<i64, _> = self.pool.run(Call::write("DEL", &key), |c| {
            self.remove_if_script
                .key(&key)
                .key(&usage)
                .key(&recency)
                .key(&sizes)
                .arg(name)
                .arg(&seen[..])
                .invoke(c)
        });
        self.recent_usage.removed();
        Ok((removed? > 0).then_some(seen.len() as u64))
    }

    fn list(&self) -> io::Result<Vec<Listed>> {
        let listed = self
            .pool
            .run(Call::read("SCAN", Some(&self.pattern)), |c| {
                // Restarted from the beginning if the connection is replaced midway.
                let mut names: BTreeMap<String, (u64, Kind)> = BTreeMap::new();
                let mut cursor: u64 = 0;
                loop {
                    let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&self.pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT)
                        .query(c)?;
                    let mut batch: Vec<(String, Vec<u8>)> = Vec::with_capacity(keys.len());
                    for key in keys {
                        let Some(name) = key
                            .strip_prefix(self.prefix.as_bytes())
                            .and_then(|n| std::str::from_utf8(n).ok())
                        else {
                            continue; // not UTF-8: not a name this store can give
                        };
                        // Helper keys, and keys of a namespace nested in this one (`ns:sub:…`).
                        if name.is_empty() || name.starts_with('.') || name.contains(':') {
                            continue;
                        }
                        batch.push((name.to_owned(), key.clone()));
                    }
                    if !batch.is_empty() {
                        let mut invocation = self.sizes_script.prepare_invoke();
                        for (_, key) in &batch {
                            invocation.key(&key[..]);
                        }
                        let sizes: Vec<redis::Value> = invocation.invoke(c)?;
                        for ((name, _), size) in batch.into_iter().zip(sizes) {
                            match size {
                                redis::Value::Int(-2) => {} // gone since the scan
                                redis::Value::Int(n) => {
                                    names.insert(name, (n.max(0) as u64, Kind::File));
                                }
                                other => {
                                    let type_name: String =
                                        redis::from_redis_value(other).unwrap_or_default();
                                    names.insert(name, (0, kind_of_type(&type_name)));
                                }
                            }
                        }
                    }
                    if next == 0 {
                        return Ok(names);
                    }
                    cursor = next;
                }
            })?;
        Ok(listed
            .into_iter()
            .map(|(name, (size, kind))| Listed::new(name, size, kind, None))
            .collect())
    }

    /// One script on the one key (no scan).
    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        self.stat_one(name)
    }

    /// One script: removed only if its size (and recency, when listed with one) is unchanged.
    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        if listed.kind != Kind::File {
            return Ok(None);
        }
        Ok(self.evict_chunk(&[listed])?[0])
    }

    /// One script per batch of up to 128 victims (see `accounting::EVICT_ALL`).
    fn remove_all_if_unchanged(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        self.evict_all(victims)
    }

    /// The `<ns>:.usage` hash, kept by the scripts that change entries (see the module
    /// `accounting`); counted once, by one script, when a namespace has none.
    /// Right after a write through this store, the usage that write's script answered (no
    /// round trip; see `accounting::RecentUsage`).
    fn usage(&self) -> io::Result<Option<bucketcache_traits::Usage>> {
        if let Some(usage) = self.recent_usage.take() {
            return Ok(Some(usage));
        }
        self.counted_usage().map(Some)
    }

    /// The first names of the `<ns>:.recency` sorted set.
    fn eviction_candidates(&self, n: usize) -> io::Result<Option<Vec<Listed>>> {
        self.least_recent(n).map(Some)
    }

    /// Moves the name to the end of `<ns>:.recency`.
    fn touch(&self, name: &str) -> io::Result<()> {
        self.touch_recency(name)
    }

    fn supports_recency(&self) -> bool {
        true
    }

    fn try_lock(&self, digest: &str) -> io::Result<Locked> {
        let key = format!("{}.lock:{digest}", self.prefix);
        Ok(lock::try_lock(&self.pool, key, self.lock_ttl)?)
    }

    fn capabilities(&self) -> bucketcache_traits::Capabilities {
        let mut c = bucketcache_traits::Capabilities::default();
        c.recency = true;
        c.stat = true;
        c.conditional_remove = true;
        c.usage = true;
        c.eviction_candidates = true;
        c.expiry = true;
        c.locks = true;
        c.async_ops = self.async_ops().is_some();
        c.max_value_bytes = self.max_value_bytes();
        c
    }
    fn max_value_bytes(&self) -> Option<u64> {
        Some(self.max_value_bytes.load(Ordering::Relaxed))
    }

    #[cfg(feature = "async")]
    fn async_ops(&self) -> Option<&dyn bucketcache_traits::store::AsyncStoreOps> {
        Some(self)
    }
}

/// Milliseconds since the Unix epoch, rounded up (Redis never drops an entry before the bucket
/// would call it expired); at least 1 (Redis refuses 0 and negative times).
fn unix_millis_rounded_up(at: SystemTime) -> u64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => {
            let ms = d.as_millis() as u64 + u64::from(d.subsec_nanos() % 1_000_000 != 0);
            ms.max(1)
        }
        Err(_) => 1,
    }
}

/// Escapes the glob characters of `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Opens the store a bucket asked for by URL.
fn open_store(options: &StoreOptions) -> bucketcache_traits::Result<Arc<dyn Store>> {
    let fail = |reason: String| bucketcache_traits::Error::Store {
        store: NAME.to_owned(),
        location: options.location.display().to_string(),
        reason,
    };
    let Some(url) = &options.url else {
        return Err(fail(
            "the redis store is chosen by its URL: .store(\"redis://host:6379/0\")".into(),
        ));
    };
    let Some(namespace) = options.location.to_str() else {
        return Err(fail(
            "the namespace (the bucket's path) is not UTF-8".into(),
        ));
    };
    let parsed = RedisOptions::from_json(&options.options).map_err(|e| fail(e.to_string()))?;
    let store = RedisStore::open(url, namespace, parsed).map_err(|e| fail(e.to_string()))?;
    Ok(Arc::new(store))
}

inventory::submit! {
    StoreRegistration { name: NAME, schemes: SCHEMES, origin: env!("CARGO_PKG_NAME"), factory: open_store }
}

/// Registers the store explicitly (it registers itself through `inventory` on the usual
/// platforms); harmless to call more than once.
///
/// ```
/// bucketcache_redis::register().unwrap();
/// assert!(bucketcache_core::store::stores().contains(&"redis".to_string()));
/// ```
pub fn register() -> bucketcache_traits::Result<()> {
    bucketcache_traits::registration::register_store(
        NAME,
        SCHEMES,
        env!("CARGO_PKG_NAME"),
        open_store,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_are_rounded_up_to_the_millisecond() {
        let at = UNIX_EPOCH + Duration::from_micros(1_500);
        assert_eq!(unix_millis_rounded_up(at), 2);
        assert_eq!(
            unix_millis_rounded_up(UNIX_EPOCH + Duration::from_millis(7)),
            7
        );
        assert_eq!(unix_millis_rounded_up(UNIX_EPOCH), 1);
        assert_eq!(
            unix_millis_rounded_up(UNIX_EPOCH - Duration::from_secs(1)),
            1
        );
    }

    #[test]
    fn glob_characters_of_a_namespace_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(glob_escape("myapp/v2"), "myapp/v2");
    }

    #[test]
    fn credentials_never_appear_in_messages() {
        assert_eq!(
            without_credentials("redis://user:secret@h:6379/0"),
            "redis://h:6379/0"
        );
        let store = RedisStore::open(
            "redis://:secret@127.0.0.1:1/0",
            "ns",
            RedisOptions::default(),
        )
        .unwrap();
        assert!(!format!("{store:?}").contains("secret"));
        let err = RedisStore::open("redis://:secret@[bad/0", "ns", RedisOptions::default())
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn an_empty_namespace_or_zero_timeout_is_refused() {
        assert!(RedisStore::open("redis://127.0.0.1/0", "", RedisOptions::default()).is_err());
        let zero = serde_json::json!({"command_timeout_ms": 0});
        assert!(RedisOptions::from_json(&zero).is_err());
    }
}
