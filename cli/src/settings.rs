//! What every command takes besides its own options: the bucket's limits (`--max-entry-bytes`)
//! and the keys of a bucket configuration file (`--config FILE`, TOML or JSON, the library's
//! `BucketConfig`).
//!
//! Precedence: an option on the command line, then the file's key, then the library's default.
//! The file's `path` is not where a command works (DIR is): a different one is reported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use bucketcache::inspect::DEFAULT_MAX_ENTRY_BYTES;
use bucketcache::BucketConfig;

/// The global settings of one run.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The configuration file and what it says (its plugins already loaded).
    pub config: Option<(PathBuf, BucketConfig)>,
    /// `--max-entry-bytes`, when given.
    pub max_entry_bytes_arg: Option<u64>,
}

impl Settings {
    /// Reads `file` (when given); its plugins are loaded here, once.
    pub fn load(file: Option<&Path>, max_entry_bytes: Option<u64>) -> Result<Settings> {
        let config = match file {
            None => None,
            Some(file) => {
                let mut cfg = BucketConfig::from_file(file)
                    .with_context(|| format!("cannot use the configuration {}", file.display()))?;
                for plugin in std::mem::take(&mut cfg.plugins) {
                    let info = bucketcache::plugins::load(&plugin)?;
                    tracing::info!(backend = %info.name, file = %plugin.display(), "loaded plugin named in the configuration");
                }
                Some((file.to_owned(), cfg))
            }
        };
        Ok(Settings {
            config,
            max_entry_bytes_arg: max_entry_bytes,
        })
    }

    /// The configuration, when a file was given.
    pub fn file(&self) -> Option<&BucketConfig> {
        self.config.as_ref().map(|(_, c)| c)
    }

    /// The largest entry read (or written): `--max-entry-bytes`, else the file's
    /// `max_entry_bytes`, else 256 MiB.
    pub fn max_entry_bytes(&self) -> u64 {
        self.max_entry_bytes_arg
            .or_else(|| self.file().and_then(|c| c.max_entry_bytes))
            .unwrap_or(DEFAULT_MAX_ENTRY_BYTES)
    }

    /// The file's store (`fs`, `lmdb`, a URL).
    pub fn store(&self) -> Option<&str> {
        self.file().and_then(|c| c.store.as_deref())
    }

    /// The file's store options (`null` when none).
    pub fn store_options(&self) -> serde_json::Value {
        self.file()
            .and_then(|c| c.store_options.clone())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The file's backend.
    pub fn backend(&self) -> Option<&str> {
        self.file().and_then(|c| c.backend.as_deref())
    }

    /// The file's lifetime.
    pub fn lifetime(&self) -> Option<Duration> {
        self.file().and_then(|c| c.lifetime)
    }

    /// The file's disk budget: `max_bytes`, `max_entries`.
    pub fn budget(&self) -> (Option<u64>, Option<u64>) {
        self.file()
            .map_or((None, None), |c| (c.max_bytes, c.max_entries))
    }

    /// Reports a file whose `path` is not the DIR the command works on.
    pub fn check_dir(&self, dir: &Path, is_url: bool) {
        let Some((file, cfg)) = &self.config else {
            return;
        };
        let same = if is_url {
            cfg.path == dir
        } else {
            match (dir.canonicalize(), cfg.path.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => cfg.path == dir,
            }
        };
        if !same {
            tracing::warn!(
                "{} names the path {}; working on {} as given on the command line",
                file.display(),
                cfg.path.display(),
                dir.display()
            );
        }
    }
}
