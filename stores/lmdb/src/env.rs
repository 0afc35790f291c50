//! One LMDB environment per directory and per process, and the three `unsafe` calls LMDB needs.
//!
//! LMDB's rule is one environment (`MDB_env`) per data file per process: a second `mdb_env_open`
//! of the same file in one process breaks its locks. Every [`LmdbStore`](crate::LmdbStore) of a
//! directory therefore shares one [`Shared`], found in a process-wide map under its canonical
//! path; it is closed when the last store of that directory is dropped.
//!
//! The map may have to grow (`MDB_MAP_FULL`) or to follow another process that grew it
//! (`MDB_MAP_RESIZED`). `mdb_env_set_mapsize` may only be called while no transaction of this
//! process is alive: every transaction is made with the [`Shared::gate`] held for reading, and a
//! resize holds it for writing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{
    Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
};

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, MdbError, WithoutTls};

use crate::LmdbError;

/// The one database of an environment: entry name → the backend's encoded bytes.
pub(crate) type Db = Database<'static, Bytes, Bytes>;

/// The environment's type: read transactions are not tied to a thread (`MDB_NOTLS`), so a
/// thread that reads many caches holds no reader slot between reads.
pub(crate) type LmdbEnv = Env<WithoutTls>;

/// The name of the database holding the entries.
const ENTRIES: &str = "entries";

/// Map sizes are kept multiples of this: a multiple of every usual page size (4, 16, 64 KiB).
pub(crate) const MAP_GRANULE: u64 = 64 << 10;

/// The environment of one directory, shared by every store of that directory in this process.
pub(crate) struct Shared {
    pub(crate) env: LmdbEnv,
    pub(crate) db: Db,
    /// Held for reading by every transaction of this process, for writing by a resize.
    gate: RwLock<()>,
    /// The map never grows past this.
    pub(crate) max_map_size: u64,
    pub(crate) path: PathBuf,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("path", &self.path)
            .field("max_map_size", &self.max_map_size)
            .finish_non_exhaustive()
    }
}

/// How an environment is opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) map_size: u64,
    pub(crate) max_map_size: u64,
}

fn open_envs() -> &'static Mutex<HashMap<PathBuf, Weak<Shared>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

/// The shared environment of the canonical directory `dir`, opened if no store of this process
/// has it open.
pub(crate) fn shared(dir: &Path, sizes: Sizes) -> Result<Arc<Shared>, LmdbError> {
    let mut open = open_envs().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(shared) = open.get(dir).and_then(Weak::upgrade) {
        return Ok(shared);
    }
    if open.remove(dir).is_some() {
        // The last store of this directory was dropped and its environment may be closing on
        // another thread right now: LMDB refuses a second open until it is closed.
        if let Some(closing) = heed::env_closing_event(dir) {
            closing.wait();
        }
    }
    open.retain(|_, weak| weak.strong_count() > 0);
    let shared = Arc::new(Shared::open(dir, sizes)?);
    open.insert(dir.to_owned(), Arc::downgrade(&shared));
    Ok(shared)
}

impl Shared {
    fn open(dir: &Path, sizes: Sizes) -> Result<Shared, LmdbError> {
        let lmdb = |source| LmdbError::Lmdb {
            path: dir.to_owned(),
            source,
        };
        // Another process may have grown the map: never open it smaller than its data file.
        let file_size = std::fs::metadata(dir.join("data.mdb")).map_or(0, |m| m.len());
        let map_size = sizes
            .map_size
            .max(round_up(file_size))
            .min(usize::MAX as u64);
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options
            .map_size(map_size as usize)
            .max_readers(1024)
            .max_dbs(4);
        without_sync(&mut options);
        let env = match open_env(&options, dir) {
            Ok(env) => env,
            Err(heed::Error::EnvAlreadyOpened) => {
                return Err(LmdbError::AlreadyOpened {
                    path: dir.to_owned(),
                })
            }
            Err(e) => return Err(lmdb(e)),
        };
        // Reader slots of processes that died (SIGKILL) are freed here rather than on the first
        // `MDB_READERS_FULL`.
        let stale = env.clear_stale_readers().map_err(lmdb)?;
        if stale > 0 {
            tracing::debug!(path = %dir.display(), stale, "cleared reader slots of dead processes");
        }
        let gate = RwLock::new(());
        let max_map_size = sizes.max_map_size.max(map_size);
        let mut attempt = 0;
        let db = loop {
            attempt += 1;
            // No transaction of this environment is alive outside this loop's body yet: the
            // environment is not shared until it returns.
            match entries_db(&env) {
                Ok(db) => break db,
                // Another process grew the map since the data file's size was read.
                Err(heed::Error::Mdb(MdbError::MapResized)) if attempt < 16 => {
                    let exclusive = gate.write().unwrap_or_else(PoisonError::into_inner);
                    resize(&env, &exclusive, 0).map_err(lmdb)?;
                }
                // A new environment whose first map cannot even hold the database's creation.
                Err(heed::Error::Mdb(MdbError::MapFull)) if attempt < 16 => {
                    let current = env.info().map_size as u64;
                    if current >= max_map_size {
                        return Err(LmdbError::MapFull {
                            path: dir.to_owned(),
                            map_size: current,
                            max_map_size,
                        });
                    }
                    let exclusive = gate.write().unwrap_or_else(PoisonError::into_inner);
                    let new = round_up(current.saturating_mul(2)).min(max_map_size);
                    resize(&env, &exclusive, new).map_err(lmdb)?;
                }
                Err(e) => return Err(lmdb(e)),
            }
        };
        tracing::debug!(path = %dir.display(), map_size, "opened an LMDB environment");
        Ok(Shared {
            env,
            db,
            gate,
            max_map_size,
            path: dir.to_owned(),
        })
    }

    /// Held while a transaction of this process is alive.
    pub(crate) fn enter(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The size of this process's map.
    pub(crate) fn map_size(&self) -> u64 {
        let _entered = self.enter();
        self.map_size_entered()
    }

    /// [`map_size`](Self::map_size) with the gate held: `mdb_env_info` reads the meta pages in
    /// the map, which a resize unmaps.
    pub(crate) fn map_size_entered(&self) -> u64 {
        self.env.info().map_size as u64
    }

    /// Flushes the data file (`mdb_env_sync`), with the gate held.
    pub(crate) fn sync(&self) -> heed::Result<()> {
        let _entered = self.enter();
        self.env.force_sync()
    }

    /// Adopts the map size another process committed (after `MDB_MAP_RESIZED`).
    pub(crate) fn follow_resize(&self) -> Result<(), LmdbError> {
        let gate = self.exclusive();
        resize(&self.env, &gate, 0).map_err(|source| LmdbError::Lmdb {
            path: self.path.clone(),
            source,
        })?;
        tracing::debug!(path = %self.path.display(), map_size = self.map_size_entered(), "followed a map resize of another process");
        Ok(())
    }

    /// Grows the map after `MDB_MAP_FULL` on a map of `observed` bytes, for a write of `len`
    /// bytes: to twice its size or by twice the write plus 1 MiB, whichever is more, within
    /// `max_map_size`. Nothing is done if another thread grew it since.
    pub(crate) fn grow(&self, observed: u64, len: usize) -> Result<(), LmdbError> {
        let gate = self.exclusive();
        let current = self.map_size_entered();
        if current > observed {
            return Ok(());
        }
        if current >= self.max_map_size {
            return Err(LmdbError::MapFull {
                path: self.path.clone(),
                map_size: current,
                max_map_size: self.max_map_size,
            });
        }
        let wanted = current
            .saturating_mul(2)
            .max(current.saturating_add(2 * len as u64 + (1 << 20)));
        let new = round_up(wanted).min(self.max_map_size);
        resize(&self.env, &gate, new).map_err(|source| LmdbError::Lmdb {
            path: self.path.clone(),
            source,
        })?;
        tracing::info!(path = %self.path.display(), from = current, to = new, "grew the LMDB map");
        Ok(())
    }
}

/// The entries database: opened in a read transaction when it exists (no write, so no wait for
/// the writers of other processes), created otherwise.
fn entries_db(env: &LmdbEnv) -> heed::Result<Db> {
    let rtxn = env.read_txn()?;
    let existing: Option<Db> = env
        .open_databases_and_commit(rtxn, |opener, rtxn| {
            opener
                .open_database::<Bytes, Bytes>(rtxn, Some(ENTRIES))
                .map(CommitOrAbort::<_, ()>::Commit)
        })?
        .unwrap_commit();
    if let Some(db) = existing {
        return Ok(db);
    }
    let wtxn = env.write_txn()?;
    Ok(env
        .create_databases_and_commit(wtxn, |opener, wtxn| {
            opener
                .create_database::<Bytes, Bytes>(wtxn, Some(ENTRIES))
                .map(CommitOrAbort::<_, ()>::Commit)
        })?
        .unwrap_commit())
}

/// `n` rounded up to a multiple of [`MAP_GRANULE`] (at least one granule).
pub(crate) fn round_up(n: u64) -> u64 {
    n.max(1).div_ceil(MAP_GRANULE).saturating_mul(MAP_GRANULE)
}

/// Writes without fsync: `MDB_NOSYNC | MDB_NOMETASYNC`.
fn without_sync(options: &mut EnvOpenOptions<WithoutTls>) {
    // SAFETY: `flags` is unsafe because these flags give up durability, not memory safety: a
    // commit is not flushed to disk. A process crash loses nothing (the pages are in the OS's
    // cache); a system crash may lose the last commits or, LMDB warns, damage the file — a
    // trade a cache accepts and documents. Stores opened with `durable` call `mdb_env_sync`
    // after each commit.
    unsafe {
        options.flags(EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC);
    }
}

/// Opens the environment of `dir`.
fn open_env(options: &EnvOpenOptions<WithoutTls>, dir: &Path) -> heed::Result<LmdbEnv> {
    // SAFETY: LMDB's memory map is sound as long as the files are changed only by LMDB under
    // its lock file and the environment is opened once per process. This function is called only
    // by `shared`, with the process-wide map of open environments locked and after any previous
    // environment of `dir` has closed, so this process opens `dir` once (heed also refuses a
    // second open with `EnvAlreadyOpened`); other processes use the same lock file. The files
    // live in a cache directory that nothing else writes (documented: do not copy or edit
    // data.mdb while the cache is in use).
    unsafe { options.open(dir) }
}

/// Sets the map size (`0`: the size last committed by any process).
fn resize(env: &LmdbEnv, _exclusive: &RwLockWriteGuard<'_, ()>, size: u64) -> heed::Result<()> {
    // SAFETY: `mdb_env_set_mapsize` requires that no transaction of this process is alive. Every
    // transaction on `env` is made with the gate of its `Shared` held for reading (`enter`), and
    // the caller proves it holds that gate for writing (`_exclusive`), so none is.
    unsafe { env.resize(size.min(usize::MAX as u64) as usize) }
}
