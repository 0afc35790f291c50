//! bucketcache-config: a bucket described in TOML or JSON ([`BucketConfig`]), with human
//! lifetimes ([`lifetime`]: `"1h30m"`, seconds) and sizes ([`size`]: `"64MiB"`, bytes).
//!
//! A configuration is a front end to the builder: [`BucketConfig::builder`] loads its plugins and
//! sets a `BucketBuilder` up; `Bucket::from_config` opens one.
#![warn(missing_docs)]

pub mod lifetime;
pub mod size;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use bucketcache_core::{Bucket, BucketBuilder, Error, Result};

/// A bucket's configuration, from TOML or JSON text or a file.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// use bucketcache_config::BucketConfig;
/// let cfg = BucketConfig::from_toml_str(r#"
///     path = "cache"
///     backend = "json"
///     lifetime = "1h30m"
///     [backend_options.json]
///     indent = 2
/// "#)?;
/// assert_eq!(cfg.lifetime, Some(std::time::Duration::from_secs(5400)));
/// assert_eq!(cfg.backend.as_deref(), Some("json"));
/// let cfg = BucketConfig::from_toml_str("path = \"cache\"\nstore = \"lmdb\"")?;
/// assert_eq!(cfg.store.as_deref(), Some("lmdb"));
/// let cfg = BucketConfig::from_json_str(r#"{"path": "cache", "lifetime": 90}"#)?;
/// assert_eq!(cfg.lifetime, Some(std::time::Duration::from_secs(90)));
/// assert!(BucketConfig::from_json_str(r#"{"path": "c", "lifetmie": 90}"#).is_err());
/// let cfg = BucketConfig::from_toml_str(r#"
///     path = "cache"
///     memory_limit = "64MiB"
///     max_bytes = "1.5GB"
///     max_entries = 100000
/// "#)?;
/// assert_eq!(cfg.memory_limit, Some(64 << 20));
/// assert_eq!(cfg.max_bytes, Some(1_500_000_000));
/// assert_eq!(cfg.max_entries, Some(100_000));
/// let cfg = BucketConfig::from_toml_str("path = \"c\"\nmax_entry_bytes = \"1GiB\"")?;
/// assert_eq!(cfg.max_entry_bytes, Some(1 << 30));
/// let cfg = BucketConfig::from_toml_str(r#"
///     path = "cache"
///     lifetime = "1m"
///     stale_while_revalidate = "10s"
///     stale_if_error = "1h"
///     refresh_ahead = true
///     refresh_threads = 4
/// "#)?;
/// assert_eq!(cfg.stale_while_revalidate, Some(std::time::Duration::from_secs(10)));
/// assert_eq!(cfg.stale_if_error, Some(std::time::Duration::from_secs(3600)));
/// assert_eq!((cfg.refresh_ahead, cfg.refresh_threads), (Some(true), Some(4)));
/// let e = BucketConfig::from_toml_str("path = \"c\"\nmax_bytes = \"lots\"").unwrap_err();
/// assert!(e.to_string().contains("\"lots\" is not a size"), "{e}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BucketConfig {
    /// The cache directory, or a network store's namespace (`path = "myapp"` with
    /// `store = "redis://…"`).
    pub path: PathBuf,
    /// The backend's registered name (default: the distribution's, `msgpack` in `bucketcache`).
    #[serde(default)]
    pub backend: Option<String>,
    /// The keymaker's registered name (default: the distribution's, `default` in `bucketcache`;
    /// `python` names files as the original).
    #[serde(default)]
    pub keymaker: Option<String>,
    /// The lifetime: seconds, or a human string such as `"1h30m"`.
    #[serde(
        default,
        deserialize_with = "crate::lifetime::deserialize_lifetime",
        serialize_with = "serialize_lifetime"
    )]
    pub lifetime: Option<Duration>,
    /// Plugin libraries to load before the backend is looked up.
    #[serde(default)]
    pub plugins: Vec<PathBuf>,
    /// Options per backend name, e.g. `[backend_options.json] indent = 2`.
    #[serde(default)]
    pub backend_options: BTreeMap<String, serde_json::Value>,
    /// fsync every write (see [`BucketBuilder::durable`]).
    #[serde(default)]
    pub durable: bool,
    /// Log whole keys instead of their first 80 characters.
    #[serde(default)]
    pub log_full_keys: bool,
    /// The store: `fs` (the default, one file per entry), `lmdb` (with the facade's feature
    /// `lmdb`), or a URL whose scheme a store registered (`redis://127.0.0.1:6379/0`, with the
    /// facade's feature `redis`; `path` is then the namespace, not a directory). See
    /// [`BucketBuilder::store`].
    #[serde(default)]
    pub store: Option<String>,
    /// The store's own options, e.g. `[store_options] map_size = 1073741824` for `lmdb`,
    /// `connect_timeout_ms = 500` for Redis.
    #[serde(default)]
    pub store_options: Option<serde_json::Value>,
    /// A store that cannot be read gives a miss instead of an error (see
    /// [`BucketBuilder::fail_open`]).
    #[serde(default)]
    pub fail_open: bool,
    /// A near cache directory in front of the store (see [`BucketBuilder::near_cache`]).
    #[serde(default)]
    pub near_cache: Option<PathBuf>,
    /// How long a near copy is used: seconds or a human string (`"60s"`).
    #[serde(
        default,
        deserialize_with = "crate::lifetime::deserialize_lifetime",
        serialize_with = "serialize_lifetime"
    )]
    pub near_ttl: Option<Duration>,
    /// Whether memoized calls compute once per cache, across processes (default true; see
    /// [`BucketBuilder::single_flight_across_processes`]).
    #[serde(default)]
    pub single_flight_across_processes: Option<bool>,
    /// How long a memoized call waits for another process's computation before computing
    /// itself: seconds or `"10m"` (default 5 minutes).
    #[serde(
        default,
        deserialize_with = "crate::lifetime::deserialize_lifetime",
        serialize_with = "serialize_lifetime"
    )]
    pub single_flight_timeout: Option<Duration>,
    /// The in-memory layer's limit: bytes, or a human size such as `"64MiB"` (default 64 MiB;
    /// `0` turns the layer off). See [`BucketBuilder::memory_limit`].
    #[serde(
        default,
        deserialize_with = "crate::size::deserialize_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory_limit: Option<u64>,
    /// A disk budget in bytes for the location: bytes, or a human size such as `"1GiB"`. See
    /// [`BucketBuilder::max_bytes`].
    #[serde(
        default,
        deserialize_with = "crate::size::deserialize_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_bytes: Option<u64>,
    /// A disk budget in entries for the location. See [`BucketBuilder::max_entries`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
    /// The largest entry written or read: bytes, or a human size such as `"1GiB"` (default
    /// 256 MiB). See [`BucketBuilder::max_entry_bytes`].
    #[serde(
        default,
        deserialize_with = "crate::size::deserialize_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_entry_bytes: Option<u64>,
    /// The longest wait for a lock of the cache shared by processes: seconds or `"500ms"`
    /// (default 2 s). See [`BucketBuilder::lock_timeout`].
    #[serde(
        default,
        deserialize_with = "crate::lifetime::deserialize_lifetime",
        serialize_with = "serialize_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub lock_timeout: Option<Duration>,
    /// Open without a configured guarantee the location cannot keep, and report it in
    /// `stats().degraded` (default false: such an open fails). See
    /// [`BucketBuilder::allow_degraded`].
    #[serde(default)]
    pub allow_degraded: bool,
    /// Serve expired values of memoized calls within this window while one caller refreshes
    /// them: seconds or `"10s"`. See [`BucketBuilder::stale_while_revalidate`].
    #[serde(
        default,
        deserialize_with = "crate::lifetime::deserialize_lifetime",
        serialize_with = "serialize_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub stale_while_revalidate: Option<Duration>,
    /// Answer failed memoized computations with expired values within this window: seconds or
    /// `"1h"`. See [`BucketBuilder::stale_if_error`].
    #[serde(
        default,
        deserialize_with = "crate::lifetime::deserialize_lifetime",
        serialize_with = "serialize_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub stale_if_error: Option<Duration>,
    /// Refresh memoized entries before they expire. See [`BucketBuilder::refresh_ahead`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_ahead: Option<bool>,
    /// Background refresh threads. See [`BucketBuilder::refresh_threads`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_threads: Option<usize>,
}

fn serialize_lifetime<S: serde::Serializer>(
    lifetime: &Option<Duration>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match lifetime {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl BucketConfig {
    /// Parses TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Config(format!("TOML: {e}")))
    }

    /// Parses JSON text.
    pub fn from_json_str(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::Config(format!("JSON: {e}")))
    }

    /// Reads a `.toml` or `.json` file. A relative `path` in the file is taken relative to the
    /// file's directory, and so are relative plugin paths; an empty `path` is an
    /// [`Error::Config`] (write `"."` for the file's directory).
    pub fn from_file(file: impl AsRef<Path>) -> Result<Self> {
        let file = file.as_ref();
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        let mut cfg = match file.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::from_json_str(&text),
            Some("toml") => Self::from_toml_str(&text),
            _ => Err(Error::Config(format!(
                "{}: a configuration file must end in .toml or .json",
                file.display()
            ))),
        }
        .map_err(|e| Error::Config(format!("{}: {e}", file.display())))?;
        // Checked before the path is joined to the file's folder, which would hide it.
        cfg.check_path()
            .map_err(|e| Error::Config(format!("{}: {e}", file.display())))?;
        if let Some(base) = file.parent() {
            // A network store's path is a namespace, not a file name.
            let is_url = cfg.store.as_deref().is_some_and(|s| s.contains("://"));
            if cfg.path.is_relative() && !is_url {
                cfg.path = base.join(&cfg.path);
            }
            if let Some(near) = &mut cfg.near_cache {
                if near.is_relative() {
                    *near = base.join(&*near);
                }
            }
            for p in &mut cfg.plugins {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(cfg)
    }

    /// An empty `path` is an error, never "the current folder" or "the file's folder".
    fn check_path(&self) -> Result<()> {
        if self.path.as_os_str().is_empty() {
            return Err(Error::Config(
                "path is empty: give the cache directory (\".\" for the configuration file's \
                 folder)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Loads the configured plugins and returns a builder set up from this configuration.
    ///
    /// An empty `path` is an [`Error::Config`].
    pub fn builder(&self) -> Result<BucketBuilder> {
        self.check_path()?;
        for plugin in &self.plugins {
            bucketcache_core::registry::load_plugin(plugin.as_ref())?;
        }
        let mut b = Bucket::builder(&self.path)
            .durable(self.durable)
            .log_full_keys(self.log_full_keys)
            .fail_open(self.fail_open);
        if let Some(store) = &self.store {
            b = b.store(store.clone());
        }
        if let Some(options) = &self.store_options {
            b = b.store_options(options.clone());
        }
        if let Some(dir) = &self.near_cache {
            b = b.near_cache(dir.clone());
        }
        if let Some(ttl) = self.near_ttl {
            if self.near_cache.is_none() {
                return Err(Error::Config("near_ttl is given without near_cache".into()));
            }
            b = b.near_ttl(ttl);
        }
        if let Some(name) = &self.backend {
            b = b.backend(name.clone());
        }
        let backend = match &self.backend {
            Some(name) => name.as_str(),
            // Without a default, options cannot name the backend: any of them is an error.
            None => bucketcache_core::registry::default_backend().unwrap_or_default(),
        };
        if let Some(unknown) = self.backend_options.keys().find(|k| *k != backend) {
            return Err(Error::Config(format!(
                "backend_options.{unknown} is given but the backend is {backend:?}"
            )));
        }
        if let Some(options) = self.backend_options.get(backend) {
            b = b.backend_options(options.clone());
        }
        if let Some(name) = &self.keymaker {
            b = b.keymaker(name.clone());
            if name == bucketcache_core::PYTHON_KEYMAKER {
                b = b.python_compatible();
            }
        }
        if let Some(l) = self.lifetime {
            b = b.lifetime(l);
        }
        if let Some(across) = self.single_flight_across_processes {
            b = b.single_flight_across_processes(across);
        }
        if let Some(t) = self.single_flight_timeout {
            b = b.single_flight_timeout(t);
        }
        if let Some(limit) = self.memory_limit {
            b = b.memory_limit(limit);
        }
        if let Some(max) = self.max_bytes {
            b = b.max_bytes(max);
        }
        if let Some(max) = self.max_entries {
            b = b.max_entries(max);
        }
        if let Some(max) = self.max_entry_bytes {
            b = b.max_entry_bytes(max);
        }
        if let Some(t) = self.lock_timeout {
            b = b.lock_timeout(t);
        }
        if let Some(w) = self.stale_while_revalidate {
            b = b.stale_while_revalidate(w);
        }
        if let Some(w) = self.stale_if_error {
            b = b.stale_if_error(w);
        }
        if let Some(yes) = self.refresh_ahead {
            b = b.refresh_ahead(yes);
        }
        if let Some(n) = self.refresh_threads {
            b = b.refresh_threads(n);
        }
        Ok(b.allow_degraded(self.allow_degraded))
    }
}

impl bucketcache_core::ConfigSource for BucketConfig {
    fn builder(&self) -> Result<BucketBuilder> {
        BucketConfig::builder(self)
    }
}
