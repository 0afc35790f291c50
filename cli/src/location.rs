//! Where a command works: the cache directory or a store's namespace (`Location`), and the
//! store found there — opened without creating anything for a command that only reads: a
//! directory is never created, an LMDB store is opened read-only, a `data.mdb` that is not an
//! LMDB environment is a foreign file beside the file entries.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use bucketcache::inspect::DEFAULT_MAX_ENTRY_BYTES;
use bucketcache::registry;
use bucketcache::store::{open_store, FsStore, Store, StoreOptions};

use super::scan::Recorder;
use super::settings::Settings;

/// Checks that `dir` is an existing directory, without creating anything.
pub fn existing_dir(dir: &Path) -> Result<PathBuf> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(dir.to_owned()),
        Ok(_) => bail!(
            "{} is not a directory (give the cache directory, not a file in it)",
            dir.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("cache directory {} does not exist", dir.display())
        }
        Err(e) => bail!("cannot use cache directory {}: {e}", dir.display()),
    }
}

/// Where a cache is: a directory, or a namespace in a store given by URL.
#[derive(Debug, Clone, clap::Args)]
pub struct Location {
    /// The cache directory (with --store URL, the namespace inside the store).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The store holding the cache: fs (a file per entry), lmdb, or a URL such as
    /// redis://127.0.0.1:6379/0 (user and password in the URL; rediss:// for TLS), DIR being
    /// then the namespace. Default: the configuration's `store`, else lmdb when DIR holds an
    /// LMDB store (data.mdb), else fs. When DIR holds both, the command says which it works on.
    #[arg(long, value_name = "NAME|URL")]
    pub store: Option<String>,
    /// The store's options (the configuration's `store_options`).
    #[arg(skip)]
    pub store_options: serde_json::Value,
    /// The largest entry read (`--max-entry-bytes`, the configuration's `max_entry_bytes`).
    #[arg(skip = DEFAULT_MAX_ENTRY_BYTES)]
    pub max_entry_bytes: u64,
    /// Whether the command only reads: then nothing is created or changed in the directory.
    #[arg(skip)]
    pub read_only: bool,
}

impl Location {
    /// The directory `dir`, its store found by itself, read-only.
    #[cfg(test)]
    pub fn new(dir: &Path) -> Self {
        Location {
            dir: dir.to_owned(),
            store: None,
            store_options: serde_json::Value::Null,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            read_only: true,
        }
    }

    /// Takes the global settings: the configuration's store (when `--store` is not given) and
    /// store options, the entry size limit; `read_only` for a command that only reads.
    pub fn apply(&mut self, settings: &Settings, read_only: bool) {
        if self.store.as_deref().is_none_or(str::is_empty) {
            self.store = settings.store().map(str::to_owned);
        }
        self.store_options = settings.store_options();
        self.max_entry_bytes = settings.max_entry_bytes();
        self.read_only = read_only;
        settings.check_dir(&self.dir, self.store_url().is_some());
    }

    /// The store URL, when the store is given by one (a network store).
    pub fn store_url(&self) -> Option<&str> {
        self.store.as_deref().filter(|s| s.contains("://"))
    }

    /// The store named (by `--store` or the configuration), if any.
    fn named(&self) -> Option<&str> {
        self.store.as_deref().filter(|s| !s.is_empty())
    }

    /// The store of the cache in `dir` for a command that may create it (`set`): the one named,
    /// else `lmdb` for a directory holding an LMDB store, else `fs`.
    pub fn name_for(&self, dir: &Path) -> String {
        match self.named() {
            Some(name) => name.to_owned(),
            None if bucketcache::lmdb::is_lmdb_dir(dir) => bucketcache::lmdb::NAME.into(),
            None => FsStore::NAME.into(),
        }
    }

    /// The options of a store of `dir`.
    fn options(&self, dir: &Path) -> StoreOptions {
        StoreOptions::new(dir)
            .options(self.store_options.clone())
            .max_entry_bytes(self.max_entry_bytes)
    }
}

/// The data file of an LMDB store in `dir`, for messages.
pub fn lmdb_file(dir: &Path) -> PathBuf {
    dir.join(bucketcache::lmdb::DATA_FILE)
}

/// Whether `name` is named like an entry: `<hex digest>.<registered extension>`.
fn entry_like(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    registry::digest_lengths().contains(&stem.len())
        && stem.bytes().all(|b| b.is_ascii_hexdigit())
        && registry::backends().iter().any(|b| b.extension == ext)
}

/// How many regular files of `dir` are named like entries (a file cache beside an LMDB store).
fn file_entries_in(dir: &Path) -> usize {
    let Ok(read) = fs::read_dir(dir) else {
        return 0;
    };
    read.filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_str().is_some_and(entry_like))
        .count()
}

/// Opens the LMDB store of `dir`: read-only (nothing created, nothing changed) for a command
/// that only reads. For a command that writes, the environment is first opened read-only too:
/// a data file that is not an LMDB environment is then found without creating LMDB's lock files
/// beside it.
fn open_lmdb(dir: &Path, location: &Location) -> bucketcache::Result<Arc<dyn Store>> {
    use bucketcache::lmdb::LmdbStore;
    let options = location.options(dir);
    let store = LmdbStore::open_read_only(&options).map_err(|e| bucketcache::Error::Store {
        store: bucketcache::lmdb::NAME.into(),
        location: lmdb_file(dir).display().to_string(),
        reason: e.to_string(),
    })?;
    if location.read_only {
        return Ok(Arc::new(store));
    }
    drop(store);
    Ok(Arc::new(LmdbStore::open(&options)?))
}

/// The store of the existing cache directory `dir` (never created: read commands must not make
/// a directory or a store's files appear), recording what it reads (see [`Recorder`]).
///
/// Without a store named: an LMDB store when `dir` holds one (a `data.mdb` that is not an LMDB
/// environment is a foreign file, and the command works on the files beside it); the files
/// otherwise. When `dir` holds both an LMDB store and cache files, a note says which one the
/// command works on.
pub fn open_dir(dir: &Path, location: &Location) -> Result<Arc<Recorder>> {
    let dir = existing_dir(dir)?;
    let lmdb = bucketcache::lmdb::is_lmdb_dir(&dir);
    let fs_store = || -> Arc<dyn Store> {
        Arc::new(FsStore::new(dir.clone(), false).max_entry_bytes(location.max_entry_bytes))
    };
    let inner: Arc<dyn Store> = match location.named() {
        Some(FsStore::NAME) => {
            if lmdb {
                tracing::warn!(
                    "{} holds an LMDB cache ({}): --store fs works on the files beside it",
                    dir.display(),
                    bucketcache::lmdb::DATA_FILE
                );
            }
            fs_store()
        }
        Some(name) if name == bucketcache::lmdb::NAME => {
            if !lmdb {
                bail!(
                    "{} holds no LMDB cache (no {})",
                    dir.display(),
                    bucketcache::lmdb::DATA_FILE
                );
            }
            open_lmdb(&dir, location)?
        }
        Some(other) => open_store(other, location.options(&dir))?,
        None if lmdb => match open_lmdb(&dir, location) {
            Ok(store) => {
                let files = file_entries_in(&dir);
                if files > 0 {
                    tracing::warn!(
                        "{} holds both an LMDB store and {files} cache file(s): working on the LMDB store (--store fs for the files)",
                        dir.display()
                    );
                }
                store
            }
            Err(e) => {
                tracing::warn!(
                    "{} is not an LMDB store bucketcache can read ({}): listed as a foreign file; working on the files beside it",
                    lmdb_file(&dir).display(),
                    store_reason(&e)
                );
                fs_store()
            }
        },
        None => fs_store(),
    };
    Ok(Arc::new(Recorder::new(inner, location.max_entry_bytes)))
}

/// The reason of a store error, without the location it repeats.
fn store_reason(e: &bucketcache::Error) -> String {
    match e {
        bucketcache::Error::Store { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// The store of `location`: the existing directory, or the namespace of the store `--store`
/// names (nothing is created in it by opening), recording what it reads.
pub fn open_location(location: &Location) -> Result<Arc<Recorder>> {
    match location.store_url() {
        None => open_dir(&location.dir, location),
        Some(url) => {
            let store = open_store(url, location.options(&location.dir))?;
            Ok(Arc::new(Recorder::new(store, location.max_entry_bytes)))
        }
    }
}
