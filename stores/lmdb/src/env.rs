//! One LMDB environment per directory and per process, the growth of its map, and the three
//! `unsafe` calls LMDB needs.
//!
//! LMDB's rule is one environment (`MDB_env`) per data file per process: a second `mdb_env_open`
//! of the same file in one process breaks its locks. Every [`LmdbStore`](crate::LmdbStore) of a
//! directory therefore shares one [`Shared`], found in a process-wide map under its canonical
//! path; it is closed when the last store of that directory is dropped.
//!
//! The map may have to grow (`MDB_MAP_FULL`) or to follow another process that grew it
//! (`MDB_MAP_RESIZED`). `mdb_env_set_mapsize` may only be called while no transaction of this
//! process is alive: every transaction is made with the [`Shared`]'s gate held for reading, and
//! a resize holds it for writing.
//!
//! On Linux the map is writable (`MDB_WRITEMAP`): a commit is a few stores into shared memory
//! instead of a `pwrite` per page, four times faster. LMDB then keeps `data.mdb` as large as the
//! map, and a write into a page the file system cannot back (a full disk) would kill the process
//! with `SIGBUS`. So the file's blocks are reserved (`fallocate`) and the file extended by this
//! crate *before* LMDB maps a larger size: a full disk is an error of the resize, hence of the
//! `set`, never a signal. Those steps take a file lock (`.bucketcache-lmdb.lock`) so that no
//! process maps, and so truncates, `data.mdb` smaller than another process extended it. Where
//! blocks cannot be reserved (a file system without `fallocate`), and off Linux, the map is
//! read-only and commits write with `pwrite`.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{
    Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
};
use std::time::Duration;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, MdbError, WithoutTls};

use bucketcache_fs::open_helper_file;

use crate::meta::{Meta, NAMES};
use crate::{LmdbError, DATA_FILE, LOCK_FILE, RESIZE_LOCK_FILE};

/// The database of an environment: entry name → the backend's encoded bytes. LMDB's main
/// (unnamed) database: a named one would cost one more page written per commit.
pub(crate) type Db = Database<'static, Bytes, Bytes>;

/// The environment's type: read transactions are not tied to a thread (`MDB_NOTLS`), so a
/// thread that reads many caches holds no reader slot between reads.
pub(crate) type LmdbEnv = Env<WithoutTls>;

/// Map sizes are kept multiples of this: a multiple of every usual page size (4, 16, 64 KiB).
pub(crate) const MAP_GRANULE: u64 = 64 << 10;

/// How many times opening retries after the map was resized under it.
const ATTEMPTS: usize = 16;

/// The environment of one directory, shared by every store of that directory in this process.
pub(crate) struct Shared {
    pub(crate) env: LmdbEnv,
    pub(crate) db: Db,
    /// The store's own accounting (usage, recency): `None` in a read-only environment
    /// written before it existed.
    pub(crate) meta: Option<Meta<'static>>,
    /// How long the resize lock is waited for.
    lock_timeout: Duration,
    /// Held for reading by every transaction of this process, for writing by a resize.
    gate: RwLock<()>,
    /// Set when a resize failed half way (LMDB may have unmapped the map): nothing touches the
    /// environment again.
    broken: AtomicBool,
    /// Whether the map is writable (`MDB_WRITEMAP`), with its file's blocks reserved.
    writemap: bool,
    /// The map never grows past this.
    pub(crate) max_map_size: u64,
    pub(crate) path: PathBuf,
    /// Opened read-only (`MDB_RDONLY`): nothing in the directory is created or written.
    pub(crate) read_only: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("path", &self.path)
            .field("writemap", &self.writemap)
            .field("max_map_size", &self.max_map_size)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// How an environment is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub(crate) map_size: u64,
    pub(crate) max_map_size: u64,
    /// How long the resize lock is waited for.
    pub(crate) lock_timeout: Duration,
}

fn open_envs() -> &'static Mutex<HashMap<PathBuf, Weak<Shared>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

/// How an environment is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read and write: the directory, `data.mdb`, `lock.mdb` and the resize lock are created
    /// as needed.
    ReadWrite(Sizes),
    /// Only read (`MDB_RDONLY`): nothing is created, no byte of `data.mdb` is written.
    ReadOnly,
}

/// The shared environment of the canonical directory `dir`, opened if no store of this process
/// has it open. A read-only request shares an environment this process has open for writing;
/// a read-write request finding a read-only one is refused (LMDB allows one environment per
/// file per process).
pub(crate) fn shared(dir: &Path, access: Access) -> Result<Arc<Shared>, LmdbError> {
    let mut open = open_envs().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(shared) = open.get(dir).and_then(Weak::upgrade) {
        if shared.read_only && access != Access::ReadOnly {
            return Err(LmdbError::OpenReadOnly {
                path: dir.to_owned(),
            });
        }
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
    let shared = Arc::new(match access {
        Access::ReadWrite(sizes) => Shared::open(dir, sizes)?,
        Access::ReadOnly => Shared::open_read_only(dir)?,
    });
    open.insert(dir.to_owned(), Arc::downgrade(&shared));
    Ok(shared)
}

impl Shared {
    /// Opens `dir`'s environment read-only: `MDB_RDONLY`, and `MDB_NOLOCK` when there is no
    /// `lock.mdb` (so none is created). No resize lock, no block reservation, no database
    /// creation: the directory is left exactly as it was, but for the reader slot LMDB takes in
    /// an existing `lock.mdb` (how a reader keeps writers from reusing the pages it reads).
    fn open_read_only(dir: &Path) -> Result<Shared, LmdbError> {
        let lmdb = |source| LmdbError::Lmdb {
            path: dir.to_owned(),
            source,
        };
        let data = dir.join(DATA_FILE);
        let meta = std::fs::symlink_metadata(&data).map_err(|e| lmdb(heed::Error::Io(e)))?;
        if !meta.is_file() || meta.len() == 0 {
            return Err(LmdbError::NotLmdb {
                file: data,
                reason: if meta.is_file() {
                    "the file is empty".into()
                } else {
                    "not a regular file".into()
                },
            });
        }
        let locked =
            std::fs::symlink_metadata(dir.join(crate::LOCK_FILE)).is_ok_and(|m| m.is_file());
        let map_size = round_up(meta.len());
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options
            .map_size(map_size.min(usize::MAX as u64) as usize)
            .max_readers(1024)
            .max_dbs(4);
        set_flags(&mut options, Mode::Read { locked });
        let env = match open_env(&options, dir) {
            Ok(env) => env,
            Err(heed::Error::EnvAlreadyOpened) => {
                return Err(LmdbError::AlreadyOpened {
                    path: dir.to_owned(),
                })
            }
            Err(heed::Error::Mdb(e @ (MdbError::Invalid | MdbError::VersionMismatch))) => {
                return Err(LmdbError::NotLmdb {
                    file: data,
                    reason: e.to_string(),
                })
            }
            Err(e) => return Err(lmdb(e)),
        };
        let (db, meta) = existing_db(&env).map_err(lmdb)?;
        let db = db.ok_or_else(|| LmdbError::NotLmdb {
            file: data.clone(),
            reason: "no main database".into(),
        })?;
        let map_size = env.info().map_size as u64;
        tracing::debug!(path = %dir.display(), map_size, locked, "opened an LMDB environment read-only");
        Ok(Shared {
            env,
            db,
            meta,
            lock_timeout: Duration::ZERO,
            gate: RwLock::new(()),
            broken: AtomicBool::new(false),
            writemap: false,
            max_map_size: map_size,
            path: dir.to_owned(),
            read_only: true,
        })
    }

    fn open(dir: &Path, sizes: Sizes) -> Result<Shared, LmdbError> {
        let lmdb = |source| LmdbError::Lmdb {
            path: dir.to_owned(),
            source,
        };
        let io = |e: io::Error| lmdb(heed::Error::Io(e));
        // LMDB opens (creating) its files through whatever is at their names: never let a link
        // planted there make it create or lock a file elsewhere.
        for name in [RESIZE_LOCK_FILE, LOCK_FILE, DATA_FILE] {
            if name != RESIZE_LOCK_FILE || cfg!(target_os = "linux") {
                open_helper_file(&dir.join(name), true)?;
            }
        }
        let (env, map_size, writemap) = {
            // LMDB truncates a writable map's file to the map's size when it opens it: no
            // other process may extend the file meanwhile.
            let _resizing = space::lock(dir, sizes.lock_timeout)?;
            // Another process may have grown the map: never open it smaller than its file.
            let floor = round_up(space::file_size(dir).map_err(io)?);
            let mut map_size = sizes.map_size.max(floor);
            let writemap = loop {
                match space::reserve(dir, map_size) {
                    Ok(writemap) => break writemap,
                    // A nearly full disk: open with a smaller map (a `set` that needs more
                    // fails with the disk's error).
                    Err(e) if e.raw_os_error() == Some(28) && map_size / 2 >= floor => {
                        map_size = round_up(map_size / 2);
                    }
                    Err(e) => return Err(io(e)),
                }
            };
            let mut options = EnvOpenOptions::new().read_txn_without_tls();
            options
                .map_size(map_size.min(usize::MAX as u64) as usize)
                .max_readers(1024)
                .max_dbs(4);
            set_flags(&mut options, Mode::Write { writemap });
            match open_env(&options, dir) {
                Ok(env) => (env, map_size, writemap),
                Err(heed::Error::EnvAlreadyOpened) => {
                    return Err(LmdbError::AlreadyOpened {
                        path: dir.to_owned(),
                    })
                }
                Err(e) => return Err(lmdb(e)),
            }
        };
        // Reader slots of processes that died (SIGKILL) are freed here rather than on the first
        // `MDB_READERS_FULL`.
        let stale = env.clear_stale_readers().map_err(lmdb)?;
        if stale > 0 {
            tracing::debug!(path = %dir.display(), stale, "cleared reader slots of dead processes");
        }
        let max_map_size = sizes.max_map_size.max(map_size);
        let map = Map {
            env: &env,
            path: dir,
            writemap,
            max_map_size,
            lock_timeout: sizes.lock_timeout,
        };
        let (gate, broken) = (RwLock::new(()), AtomicBool::new(false));
        let mut attempt = 0;
        let (db, meta) = loop {
            attempt += 1;
            // The environment is not shared yet: no other transaction of it is alive.
            match entries_db(&env) {
                Ok(dbs) => break dbs,
                // Another process grew the map since the data file's size was read.
                Err(heed::Error::Mdb(MdbError::MapResized)) if attempt < ATTEMPTS => map.resize(
                    &gate.write().unwrap_or_else(PoisonError::into_inner),
                    &broken,
                    None,
                )?,
                // A new environment whose first map cannot even hold the database's creation.
                Err(heed::Error::Mdb(MdbError::MapFull)) if attempt < ATTEMPTS => {
                    let exclusive = gate.write().unwrap_or_else(PoisonError::into_inner);
                    let current = env.info().map_size as u64;
                    map.resize(&exclusive, &broken, Some(current.saturating_mul(2)))?
                }
                Err(e) => return Err(lmdb(e)),
            }
        };
        tracing::debug!(path = %dir.display(), map_size, writemap, "opened an LMDB environment");
        Ok(Shared {
            env,
            db,
            meta,
            lock_timeout: sizes.lock_timeout,
            gate,
            broken,
            writemap,
            max_map_size,
            path: dir.to_owned(),
            read_only: false,
        })
    }

    fn map(&self) -> Map<'_> {
        Map {
            env: &self.env,
            path: &self.path,
            writemap: self.writemap,
            max_map_size: self.max_map_size,
            lock_timeout: self.lock_timeout,
        }
    }

    /// Held while a transaction of this process is alive. Refused once a resize failed.
    pub(crate) fn enter(&self) -> Result<RwLockReadGuard<'_, ()>, LmdbError> {
        let entered = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        if self.broken.load(Ordering::Acquire) {
            return Err(LmdbError::Broken {
                path: self.path.clone(),
            });
        }
        Ok(entered)
    }

    fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The size of this process's map.
    pub(crate) fn map_size(&self) -> u64 {
        match self.enter() {
            Ok(_entered) => self.map_size_entered(),
            Err(_) => 0,
        }
    }

    /// [`map_size`](Self::map_size) with the gate held: `mdb_env_info` reads the meta pages in
    /// the map, which a resize unmaps.
    pub(crate) fn map_size_entered(&self) -> u64 {
        self.env.info().map_size as u64
    }

    /// Flushes the data file (`mdb_env_sync`).
    pub(crate) fn sync(&self) -> Result<(), LmdbError> {
        let _entered = self.enter()?;
        self.env.force_sync().map_err(|source| self.error(source))
    }

    fn error(&self, source: heed::Error) -> LmdbError {
        LmdbError::Lmdb {
            path: self.path.clone(),
            source,
        }
    }

    /// Adopts the map size another process committed (after `MDB_MAP_RESIZED`).
    pub(crate) fn follow_resize(&self) -> Result<(), LmdbError> {
        let exclusive = self.exclusive();
        self.map().resize(&exclusive, &self.broken, None)?;
        tracing::debug!(path = %self.path.display(), "followed a map resize of another process");
        Ok(())
    }

    /// Grows the map after `MDB_MAP_FULL` on a map of `observed` bytes, for a write of `len`
    /// bytes: to twice its size or by twice the write plus 1 MiB, whichever is more, within
    /// `max_map_size`. Nothing is done if another thread grew it since.
    pub(crate) fn grow(&self, observed: u64, len: usize) -> Result<(), LmdbError> {
        let exclusive = self.exclusive();
        let current = self.map_size_entered();
        if current > observed {
            return Ok(());
        }
        let wanted = current
            .saturating_mul(2)
            .max(current.saturating_add(2 * len as u64 + (1 << 20)));
        self.map().resize(&exclusive, &self.broken, Some(wanted))?;
        tracing::info!(path = %self.path.display(), from = current, to = self.map_size_entered(), "grew the LMDB map");
        Ok(())
    }
}

/// What a resize needs of an environment.
struct Map<'a> {
    env: &'a LmdbEnv,
    path: &'a Path,
    writemap: bool,
    max_map_size: u64,
    lock_timeout: Duration,
}

impl Map<'_> {
    /// Resizes the map to `wanted` (`None`: to what other processes made it), the gate held
    /// for writing (`exclusive`). A failure of LMDB's own resize sets `broken`.
    fn resize(
        &self,
        exclusive: &RwLockWriteGuard<'_, ()>,
        broken: &AtomicBool,
        wanted: Option<u64>,
    ) -> Result<(), LmdbError> {
        let error = |source| LmdbError::Lmdb {
            path: self.path.to_owned(),
            source,
        };
        let io = |e: io::Error| error(heed::Error::Io(e));
        if broken.load(Ordering::Acquire) {
            return Err(LmdbError::Broken {
                path: self.path.to_owned(),
            });
        }
        let current = self.env.info().map_size as u64;
        let target = match wanted {
            Some(wanted) => {
                if current >= self.max_map_size {
                    return Err(LmdbError::MapFull {
                        path: self.path.to_owned(),
                        map_size: current,
                        max_map_size: self.max_map_size,
                    });
                }
                round_up(wanted).min(self.max_map_size)
            }
            None => 0,
        };
        let _resizing;
        let target = if self.writemap {
            _resizing = space::lock(self.path, self.lock_timeout)?;
            // Never map (LMDB truncates the file to the map) smaller than the file another
            // process extended; reserve and extend before LMDB unmaps, so that a full disk fails
            // here and not in LMDB.
            let target = target
                .max(round_up(space::file_size(self.path).map_err(io)?))
                .max(current);
            space::extend(self.path, target).map_err(io)?;
            target
        } else {
            // LMDB neither truncates nor extends the file itself: `0` adopts the size last
            // committed.
            target
        };
        if let Err(e) = resize(self.env, exclusive, target) {
            // LMDB may have unmapped the old map before failing to map the new one: the
            // environment must not be used again by this process.
            broken.store(true, Ordering::Release);
            tracing::error!(path = %self.path.display(), error = %e, "cannot resize the LMDB map; the environment is closed for this process");
            return Err(error(e));
        }
        Ok(())
    }
}

/// The entries database and the accounting's: opened in a read transaction when they exist
/// (no write, so no wait for the writers of other processes), created otherwise (the usage
/// then counted once, in the same transaction).
fn entries_db(env: &LmdbEnv) -> heed::Result<(Db, Option<Meta<'static>>)> {
    let (db, meta) = existing_db(env)?;
    if let (Some(db), Some(meta)) = (db, meta) {
        return Ok((db, Some(meta)));
    }
    match create_dbs(env) {
        Ok((db, meta)) => Ok((db, Some(meta))),
        Err(e @ heed::Error::Mdb(MdbError::MapFull | MdbError::MapResized)) => Err(e),
        // A damaged main database that still opens: the entries are used without the
        // accounting (a budget then lists them), as before it existed.
        Err(e) => match db {
            Some(db) => {
                tracing::warn!(error = %e, "cannot create the LMDB store's accounting: budgets list the store");
                Ok((db, None))
            }
            None => Err(e),
        },
    }
}

/// Creates the entries database and the accounting's, counting the usage once.
fn create_dbs(env: &LmdbEnv) -> heed::Result<(Db, Meta<'static>)> {
    let wtxn = env.write_txn()?;
    let (db, dbs) = env
        .create_databases_and_commit(wtxn, |opener, wtxn| {
            let db = opener.create_database::<Bytes, Bytes>(wtxn, None)?;
            let dbs = [
                opener.create_database::<Bytes, Bytes>(wtxn, Some(NAMES[0]))?,
                opener.create_database::<Bytes, Bytes>(wtxn, Some(NAMES[1]))?,
                opener.create_database::<Bytes, Bytes>(wtxn, Some(NAMES[2]))?,
            ];
            Meta::from_dbs(dbs).count_once(wtxn, &db)?;
            Ok::<_, heed::Error>(CommitOrAbort::<_, ()>::Commit((db, dbs)))
        })?
        .unwrap_commit();
    Ok((db, Meta::from_dbs(dbs)))
}

/// The entries database and the accounting's, those that exist, opened in a read transaction.
fn existing_db(env: &LmdbEnv) -> heed::Result<(Option<Db>, Option<Meta<'static>>)> {
    let rtxn = env.read_txn()?;
    let (db, dbs) = env
        .open_databases_and_commit(rtxn, |opener, rtxn| {
            let db = opener.open_database::<Bytes, Bytes>(rtxn, None)?;
            // The accounting's databases are looked up in the main database's pages: a damaged
            // page there leaves them unopened (the store then walks as it always did, and a
            // writer recreates them or fails), never fails the open of the entries.
            let named = |name| {
                opener
                    .open_database::<Bytes, Bytes>(rtxn, Some(name))
                    .ok()
                    .flatten()
            };
            let dbs = [named(NAMES[0]), named(NAMES[1]), named(NAMES[2])];
            Ok::<_, heed::Error>(CommitOrAbort::<_, ()>::Commit((db, dbs)))
        })?
        .unwrap_commit();
    let meta = match dbs {
        [Some(a), Some(b), Some(c)] => Some(Meta::from_dbs([a, b, c])),
        _ => None,
    };
    Ok((db, meta))
}

/// `n` rounded up to a multiple of [`MAP_GRANULE`] (at least one granule).
pub(crate) fn round_up(n: u64) -> u64 {
    n.max(1).div_ceil(MAP_GRANULE).saturating_mul(MAP_GRANULE)
}

/// Reserving and extending `data.mdb` for a writable map, under a file lock (Linux).
#[cfg(target_os = "linux")]
mod space {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    use std::time::{Duration, Instant};

    use bucketcache_fs::open_helper_file;
    use rustix::fs::{fallocate, flock, FallocateFlags, FlockOperation};

    use super::{LmdbError, DATA_FILE, RESIZE_LOCK_FILE};

    /// The resize lock of `dir`, held until dropped (closing the file releases it). Never
    /// opened through a link, and only a regular file. Waited for at most `timeout` (tried
    /// without blocking, again and again): then [`LmdbError::LockTimedOut`] naming the file.
    pub(super) fn lock(dir: &Path, timeout: Duration) -> Result<File, LmdbError> {
        let path = dir.join(RESIZE_LOCK_FILE);
        let file = open_helper_file(&path, true)?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_micros(100);
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(file),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {}
                Err(e) => {
                    return Err(LmdbError::Lmdb {
                        path: dir.to_owned(),
                        source: heed::Error::Io(e.into()),
                    })
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LmdbError::LockTimedOut { path, timeout });
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    pub(super) fn file_size(dir: &Path) -> io::Result<u64> {
        match std::fs::metadata(dir.join(DATA_FILE)) {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn data_file(dir: &Path) -> io::Result<File> {
        Ok(open_helper_file(&dir.join(DATA_FILE), true)?)
    }

    /// Reserves the blocks of the first `size` bytes of `data.mdb` (creating it empty, which
    /// LMDB initialises, without changing its size). `Ok(false)` when the file system cannot
    /// reserve blocks: the map must then stay read-only.
    pub(super) fn reserve(dir: &Path, size: u64) -> io::Result<bool> {
        let file = data_file(dir)?;
        match fallocate(&file, FallocateFlags::KEEP_SIZE, 0, size) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
                tracing::debug!(dir = %dir.display(), "the file system cannot reserve blocks: LMDB writes with pwrite");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Makes `data.mdb` at least `size` bytes, every block reserved (it never shrinks it).
    pub(super) fn extend(dir: &Path, size: u64) -> io::Result<()> {
        let file = data_file(dir)?;
        fallocate(&file, FallocateFlags::KEEP_SIZE, 0, size)?;
        if file.metadata()?.len() < size {
            file.set_len(size)?;
        }
        Ok(())
    }
}

/// Elsewhere the map stays read-only: LMDB writes with `pwrite` and never truncates the file.
#[cfg(not(target_os = "linux"))]
mod space {
    use std::io;
    use std::path::Path;

    pub(super) fn lock(_dir: &Path, _timeout: std::time::Duration) -> Result<(), super::LmdbError> {
        Ok(())
    }

    pub(super) fn file_size(dir: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(dir.join(super::DATA_FILE)).map_or(0, |m| m.len()))
    }

    pub(super) fn reserve(_dir: &Path, _size: u64) -> io::Result<bool> {
        Ok(false)
    }

    pub(super) fn extend(_dir: &Path, _size: u64) -> io::Result<()> {
        Ok(())
    }
}

/// What [`set_flags`] sets up.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Read and write; `writemap` when the file's blocks are reserved.
    Write { writemap: bool },
    /// Only read; `locked` when `lock.mdb` exists (then LMDB's reader table is used).
    Read { locked: bool },
}

/// Writing: `MDB_NOSYNC | MDB_NOMETASYNC`, and `MDB_WRITEMAP` when the file's blocks are
/// reserved. Reading: `MDB_RDONLY`, and `MDB_NOLOCK` when there is no `lock.mdb`.
fn set_flags(options: &mut EnvOpenOptions<WithoutTls>, mode: Mode) {
    let flags = match mode {
        Mode::Write { writemap: true } => {
            EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC | EnvFlags::WRITE_MAP
        }
        Mode::Write { writemap: false } => EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC,
        Mode::Read { locked: true } => EnvFlags::READ_ONLY,
        Mode::Read { locked: false } => EnvFlags::READ_ONLY | EnvFlags::NO_LOCK,
    };
    // SAFETY: `flags` is unsafe because these flags trade safety nets, not memory safety of
    // this process: (1) NO_SYNC / NO_META_SYNC do not flush a commit: a process crash loses
    // nothing (the pages are in the OS's cache), a system crash may lose the last commits or,
    // LMDB warns, damage the file — a trade a cache accepts and documents (`durable` flushes
    // after each commit). (2) WRITE_MAP makes the map writable: a stray write through it could
    // corrupt the database, and nothing here writes through it (values are only read, as shared
    // slices, inside a transaction); a write into a page the disk cannot back would raise
    // SIGBUS, which `space::reserve` / `space::extend` rule out by reserving every block of the
    // map before LMDB maps it, and WRITE_MAP is only set when that reservation works. Every
    // process of a directory sets the same flags (the file system decides WRITE_MAP).
    // (3) READ_ONLY maps the file read-only and opens it O_RDONLY: nothing can be written.
    // NO_LOCK is set only with READ_ONLY and only when no `lock.mdb` exists, i.e. no process
    // has the environment open (LMDB creates the lock file at open and never removes it): its
    // risk is a writer starting during the read, which, not seeing this reader, may reuse pages
    // it walks. A reader then sees garbage pages: decoded entries are checked whole (a garbage
    // value is a corrupt entry, never written back: the environment is read-only), and a walk
    // that LMDB cannot survive is why the CLI walks in a child process. This process's own
    // memory outside the read-only map is never written by LMDB on a read.
    unsafe {
        options.flags(flags);
    }
}

/// Opens the environment of `dir`.
fn open_env(options: &EnvOpenOptions<WithoutTls>, dir: &Path) -> heed::Result<LmdbEnv> {
    // SAFETY: LMDB's memory map is sound as long as the files are changed only by LMDB under
    // its lock file and the environment is opened once per process. This function is called only
    // by `Shared::open`, from `shared`, with the process-wide map of open environments locked
    // and after any previous environment of `dir` has closed, so this process opens `dir` once
    // (heed also refuses a second open with `EnvAlreadyOpened`); other processes use the same
    // lock file. Nothing else writes the files (documented: do not copy or edit data.mdb while
    // the cache is in use); this crate only reserves blocks and extends `data.mdb`, under the
    // resize lock, which never changes a byte of it.
    unsafe { options.open(dir) }
}

/// Sets the map size (`0`: the size last committed by any process).
fn resize(env: &LmdbEnv, _exclusive: &RwLockWriteGuard<'_, ()>, size: u64) -> heed::Result<()> {
    // SAFETY: `mdb_env_set_mapsize` requires that no transaction of this process is alive.
    // Every transaction on `env` is made with the gate of its `Shared` held for reading
    // (`Shared::enter`), and every caller holds that gate for writing (`_exclusive`: in
    // `follow_resize` and `grow`, or in `Shared::open` before the environment is shared, its
    // own transactions ended), so none is.
    unsafe { env.resize(size.min(usize::MAX as u64) as usize) }
}
