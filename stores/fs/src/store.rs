//! The `fs` store: a directory of files, one per entry — the original's layout, made safe.
//!
//! Writes go to a temporary file in the same directory (`.<final name>.<pid>.<n>.tmp`) and are
//! renamed over the final name, so a reader sees the old file or the new one, never half of one,
//! and a crashed writer leaves no visible entry. Reads open with `O_NOFOLLOW | O_NONBLOCK`: a
//! symbolic link is never followed and a FIFO never blocks. On unix a small entry is read whole
//! by its first `read`, with no `fstat`; a larger one is then checked to be a regular file and
//! read head first, the rest only if the backend accepts the head (see `read_unstatted`).
//!
//! For disk budgets, an entry's recency is its file's modification time (refreshed by
//! [`Store::touch`] when a bucket with a budget reads it), and the budget's record shared by
//! processes is the file `.bucketcache-budget`, updated under an exclusive `flock(2)` waited for
//! at most the bucket's `lock_timeout`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bucketcache_traits::backend::HEAD_LEN;
use bucketcache_traits::store::{
    Capabilities, Degradation, Fetched, Kind, Listed, Locked, ReadLimits, Store, StoreOptions,
    DEFAULT_MAX_ENTRY_BYTES,
};
use bucketcache_traits::{Error, Result};

/// A directory of files. Made by `Bucket::builder(dir)` (the default store, named `fs`).
///
/// ```
/// use bucketcache_fs::FsStore;
/// use bucketcache_traits::store::{Fetched, ReadLimits, Store};
/// let dir = tempfile::tempdir().unwrap();
/// let store = FsStore::new(dir.path(), false);
/// store.write("a.json", b"{}").unwrap();
/// let limits = ReadLimits { max_bytes: 1 << 20, may_begin: &|_| true };
/// assert!(matches!(store.read("a.json", &limits).unwrap(), Fetched::Bytes(b) if b == b"{}"));
/// let listed = store.stat("a.json").unwrap().unwrap();
/// assert_eq!(listed.size, 2);
/// store.write("a.json", b"[1, 2]").unwrap(); // rewritten since it was listed: it stays
/// assert_eq!(store.remove_if_unchanged(&listed).unwrap(), None);
/// let listed = store.stat("a.json").unwrap().unwrap();
/// assert_eq!(store.remove_if_unchanged(&listed).unwrap(), Some(6));
/// store.write("a.json", b"{}").unwrap();
/// assert!(store.remove("a.json").unwrap());
/// ```
#[derive(Debug)]
pub struct FsStore {
    dir: PathBuf,
    durable: bool,
    /// See [`FsStore::max_entry_bytes`].
    max_read: u64,
}

/// Opens the directory `options.location` as a file store, creating it (recursively) if needed.
pub(crate) fn open(options: &StoreOptions) -> Result<std::sync::Arc<dyn Store>> {
    let dir = &options.location;
    if dir.as_os_str().is_empty() {
        return Err(Error::Config("the cache path is empty".into()));
    }
    let fail = |source| Error::Directory {
        path: dir.clone(),
        source,
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let dir = fs::canonicalize(dir).map_err(fail)?;
    let mut store = FsStore::new(dir, options.durable);
    if let Some(max) = options.max_entry_bytes {
        store = store.max_entry_bytes(max);
    }
    Ok(std::sync::Arc::new(store))
}

/// Files up to this size are read in one call; larger ones after their head was checked.
#[cfg(not(unix))]
const ONE_READ: u64 = 64 << 10;

/// The first `read` of an entry on unix: files shorter than this are read whole by it, with no
/// `fstat` (most entries are a few hundred bytes); larger ones are then sized and read on.
#[cfg(unix)]
const FIRST_READ: usize = 16 << 10;

/// A temporary file older than this is stale even when its writer's process still seems alive
/// (pids are reused).
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

impl FsStore {
    /// The registry name of the file store.
    pub const NAME: &'static str = "fs";

    /// A store in `dir` (which must exist). With `durable`, each write is fsynced, file and
    /// directory, before it is reported done: it then survives a power loss, at about ten times
    /// the cost of a write.
    pub fn new(dir: impl Into<PathBuf>, durable: bool) -> Self {
        FsStore {
            dir: dir.into(),
            durable,
            max_read: DEFAULT_MAX_ENTRY_BYTES,
        }
    }

    /// Never loads a file larger than `max` to judge it in [`Store::remove_if`] (such a file is
    /// no entry a bucket reads, so it is never judged expired and never deleted that way).
    /// Default: the default `max_entry_bytes`, 256 MiB.
    pub fn max_entry_bytes(mut self, max: u64) -> Self {
        self.max_read = max;
        self
    }

    fn temp_name(name: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!(".{name}.{}.{n}.tmp", std::process::id())
    }

    fn write_temp(&self, temp: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
        file.write_all(bytes)?;
        if self.durable {
            file.sync_all()?;
        }
        Ok(())
    }

    /// Opens `name` for reading without following a link or blocking on a FIFO; `Err(kind)` for
    /// anything that is not a regular file.
    fn open_regular(&self, name: &str) -> io::Result<Result<(File, u64), Kind>> {
        let path = self.dir.join(name);
        let mut options = OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        #[cfg(not(unix))]
        {
            let meta = fs::symlink_metadata(&path)?;
            if !meta.is_file() {
                return Ok(Err(kind_of(&meta.file_type())));
            }
        }
        let file = match options.open(&path) {
            Ok(file) => file,
            #[cfg(unix)]
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(Err(Kind::Symlink)),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Ok(Err(kind_of(&meta.file_type())));
        }
        Ok(Ok((file, meta.len())))
    }

    /// A read that learns the size first (`fstat`), then reads exactly that many bytes.
    #[cfg(not(unix))]
    fn read_statted(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        let (mut file, size) = match self.open_regular(name) {
            Ok(Ok(opened)) => opened,
            Ok(Err(kind)) => return Ok(Fetched::NotAFile(kind)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Fetched::Missing),
            Err(e) => return Err(e),
        };
        if size > limits.max_bytes {
            return Ok(Fetched::TooLarge(size));
        }
        // One buffer of the stat's size, filled in at most two reads: a small file in one (the
        // head is checked on what was read), a large one head first, so that a foreign file is
        // refused before the rest is read. Exactly `size` bytes are read: writers replace files
        // by rename, so an entry's size never changes under an open descriptor; a file that a
        // foreign writer changes meanwhile reads short or cut, which its decode refuses.
        let mut bytes = Vec::with_capacity(size as usize);
        if size <= ONE_READ {
            // `Take` at the exact size: one `read`, no end-of-file probe.
            (&mut file).take(size).read_to_end(&mut bytes)?;
            if !(limits.may_begin)(&bytes[..bytes.len().min(HEAD_LEN)]) {
                return Ok(Fetched::Rejected);
            }
            return Ok(Fetched::Bytes(bytes));
        }
        let mut head = [0u8; HEAD_LEN];
        let mut got = 0;
        while got < HEAD_LEN {
            match file.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if !(limits.may_begin)(&head[..got]) {
            return Ok(Fetched::Rejected);
        }
        bytes.extend_from_slice(&head[..got]);
        // `File::read_to_end` sizes its reads by the file: the rest in one call, into the
        // buffer reserved above (no regrowth, which would cost a copy and fresh pages).
        file.read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limits.max_bytes {
            return Ok(Fetched::TooLarge(bytes.len() as u64));
        }
        Ok(Fetched::Bytes(bytes))
    }

    /// A read without an `fstat` for the common case, a small entry: open, one `read` into a
    /// stack buffer, close — three system calls where learning the size first takes four (a
    /// `statx` is a fifth of a small cold get on tmpfs). A read shorter than the buffer has
    /// reached the end of a regular file: on a regular file `read` returns less than asked only
    /// at its end. The size and the type are asked for only when the read filled the buffer (a
    /// larger file), read nothing (an empty file, or a FIFO without a writer) or failed (a
    /// directory, a FIFO with no data): then anything that is not a regular file is
    /// `NotAFile`, as before. What this gives up: a FIFO that a process is writing into, in
    /// the cache's directory, has up to `FIRST_READ` bytes of its data read (and judged like a
    /// file's bytes: decoded, or refused as corrupt) instead of being recognised by its type.
    #[cfg(unix)]
    fn read_unstatted(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        use rustix::fs::{Mode, OFlags};
        use std::mem::MaybeUninit;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match self.open_entry(name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => return Ok(Fetched::NotAFile(Kind::Symlink)),
            Err(rustix::io::Errno::NOENT) => return Ok(Fetched::Missing),
            Err(e) => return Err(e.into()),
        };
        // Uninitialised: zeroing 16 KiB would cost more than the `statx` saved.
        let mut buffer = [MaybeUninit::<u8>::uninit(); FIRST_READ];
        let got = loop {
            match rustix::io::read(&fd, &mut buffer[..]) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other,
            }
        };
        let file = File::from(fd);
        // A short read is the whole of a regular file; anything else is typed and sized first.
        let (first, size, whole) = match got {
            Ok((first, _)) if !first.is_empty() && first.len() < FIRST_READ => {
                (&*first, first.len() as u64, true)
            }
            got => {
                let meta = file.metadata()?;
                if !meta.is_file() {
                    return Ok(Fetched::NotAFile(kind_of(&meta.file_type())));
                }
                let (first, _) = got?;
                (&*first, meta.len().max(first.len() as u64), false)
            }
        };
        if size > limits.max_bytes {
            return Ok(Fetched::TooLarge(size));
        }
        if !(limits.may_begin)(&first[..first.len().min(HEAD_LEN)]) {
            return Ok(Fetched::Rejected);
        }
        let mut bytes = Vec::with_capacity(size as usize);
        bytes.extend_from_slice(first);
        if !whole {
            // The rest in one call, into the buffer reserved above.
            (&file).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > limits.max_bytes {
                return Ok(Fetched::TooLarge(bytes.len() as u64));
            }
        }
        Ok(Fetched::Bytes(bytes))
    }

    /// Opens `name` in the directory with its path built in a buffer the thread keeps, so a
    /// read allocates nothing for it (rustix makes the C string on its stack). `dir.join`
    /// plus an owned path's conversion to a C string cost three allocations per read.
    #[cfg(unix)]
    fn open_entry(
        &self,
        name: &str,
        flags: rustix::fs::OFlags,
        mode: rustix::fs::Mode,
    ) -> rustix::io::Result<rustix::fd::OwnedFd> {
        use std::cell::RefCell;
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        thread_local! {
            static PATH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        PATH.with(|cell| match cell.try_borrow_mut() {
            // An absolute name replaces the directory in `join`: keep its meaning.
            Ok(mut path) if !name.starts_with('/') => {
                path.clear();
                path.extend_from_slice(self.dir.as_os_str().as_bytes());
                path.push(b'/');
                path.extend_from_slice(name.as_bytes());
                rustix::fs::open(Path::new(OsStr::from_bytes(&path)), flags, mode)
            }
            _ => rustix::fs::open(self.dir.join(name), flags, mode),
        })
    }

    /// Sets the modification time of the regular file `name` (a near cache dates its copies).
    pub fn set_modified(&self, name: &str, time: SystemTime) -> io::Result<()> {
        match self.open_regular(name)? {
            Ok((file, _)) => file.set_modified(time),
            Err(kind) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name} is a {kind}"),
            )),
        }
    }

    /// The kind of what is at `name`, without following a link; `None` when nothing is.
    fn kind_at(&self, name: &str) -> io::Result<Option<Kind>> {
        match fs::symlink_metadata(self.dir.join(name)) {
            Ok(meta) => Ok(Some(kind_of(&meta.file_type()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn kind_of(t: &fs::FileType) -> Kind {
    if t.is_symlink() {
        Kind::Symlink
    } else if t.is_dir() {
        Kind::Directory
    } else if t.is_file() {
        Kind::File
    } else {
        Kind::Special
    }
}

impl Store for FsStore {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn location(&self) -> &Path {
        &self.dir
    }

    fn is_plain_directory(&self) -> bool {
        true
    }

    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        #[cfg(unix)]
        return self.read_unstatted(name, limits);
        #[cfg(not(unix))]
        self.read_statted(name, limits)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let temp = self.dir.join(Self::temp_name(name));
        let written = self
            .write_temp(&temp, bytes)
            .and_then(|()| fs::rename(&temp, self.dir.join(name)));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        if self.durable {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<bool> {
        match self.kind_at(name)? {
            Some(Kind::File) => {}
            _ => return Ok(false),
        }
        match fs::remove_file(self.dir.join(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        let (file, size) = match self.open_regular(name) {
            Ok(Ok(opened)) => opened,
            Ok(Err(_)) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if size > self.max_read {
            return Ok(None); // not an entry a bucket reads: never judged, never loaded
        }
        // Exactly the stat's size, in one `read` for a small file (no end-of-file probe): an
        // entry is replaced by rename, never changed in place, and a cut read does not decode.
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(size).read_to_end(&mut bytes)?;
        if !condition(&bytes) {
            return Ok(None);
        }
        match fs::remove_file(self.dir.join(name)) {
            Ok(()) => Ok(Some(bytes.len() as u64)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list(&self) -> io::Result<Vec<Listed>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue; // temporary and helper files
            }
            let Ok(meta) = entry.metadata() else {
                continue; // removed while listing
            };
            out.push(Listed::new(
                name,
                meta.len(),
                kind_of(&meta.file_type()),
                meta.modified().ok(),
            ));
        }
        Ok(out)
    }

    fn stale_temporaries(&self) -> io::Result<Vec<Listed>> {
        let mut stale = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(pid) = temp_file_writer(&name) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let old = meta
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|age| age > STALE_TEMP_AGE);
            if old || !process_is_alive(pid) {
                stale.push(Listed::new(
                    name,
                    meta.len(),
                    Kind::File,
                    meta.modified().ok(),
                ));
            }
        }
        stale.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(stale)
    }

    fn remove_temporary(&self, name: &str) -> io::Result<bool> {
        if temp_file_writer(name).is_none() {
            return Ok(false);
        }
        self.remove(name)
    }

    fn try_lock(&self, digest: &str) -> io::Result<Locked> {
        crate::FileLocks::new(&self.dir).try_lock(digest)
    }

    #[cfg(unix)]
    fn touch(&self, name: &str) -> io::Result<()> {
        use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD, UTIME_NOW, UTIME_OMIT};
        // One call, on the name itself (a link's own time at worst, never its target's).
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            },
            last_modification: Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_NOW,
            },
        };
        match utimensat(CWD, self.dir.join(name), &times, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::NOENT => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    #[cfg(not(unix))]
    fn touch(&self, name: &str) -> io::Result<()> {
        match self.open_regular(name) {
            Ok(Ok((file, _))) => file.set_modified(SystemTime::now()),
            Ok(Err(_)) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn supports_recency(&self) -> bool {
        true
    }

    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        if name.starts_with('.') || name.contains(['/', '\\']) {
            return Ok(None);
        }
        match fs::symlink_metadata(self.dir.join(name)) {
            Ok(meta) => Ok(Some(Listed::new(
                name.to_owned(),
                meta.len(),
                kind_of(&meta.file_type()),
                meta.modified().ok(),
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        // One look, then the unlink (`remove` would look again).
        match self.stat(&listed.name)? {
            Some(now)
                if now.kind == Kind::File && now.size == listed.size && now.used == listed.used =>
            {
                match fs::remove_file(self.dir.join(&listed.name)) {
                    Ok(()) => Ok(Some(listed.size)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(None),
        }
    }

    #[cfg(unix)]
    fn update_budget_record(
        &self,
        wait: Duration,
        update: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> io::Result<bool> {
        crate::record::update(&self.dir, wait, update)?;
        Ok(true)
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.recency = self.supports_recency();
        c.stat = true;
        c.conditional_remove = true;
        c.budget_record = true;
        c.locks = cfg!(target_os = "linux");
        c.plain_directory = true;
        c
    }
    fn check_guarantees(&self, budget: bool, single_flight: bool) -> Vec<Degradation> {
        let mut off = Vec::new();
        if budget {
            off.extend(crate::record::check_record(&self.dir));
        }
        if single_flight {
            off.extend(crate::record::check_file_locks(&self.dir));
        }
        off
    }
}

/// The writer's pid when `name` is one of our temporary files (`.<final>.<pid>.<n>.tmp`).
fn temp_file_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let _counter: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    let final_name = parts.next()?;
    final_name.contains('.').then_some(pid)
}

fn process_is_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true // unknown: rely on the age rule
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ReadLimits<'static> {
        ReadLimits {
            max_bytes: 1 << 20,
            may_begin: &|_| true,
        }
    }

    #[test]
    fn temp_names_are_recognised() {
        let t = FsStore::temp_name("abc.json");
        assert_eq!(temp_file_writer(&t), Some(std::process::id()));
        assert_eq!(temp_file_writer("abc.json"), None);
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path(), false);
        fs::create_dir(dir.path().join("x.json")).unwrap(); // rename over a directory fails
        assert!(store.write("x.json", b"{}").is_err());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn temp_files_of_dead_writers_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path(), false);
        // pid 4194304 is above Linux's pid_max limit, so it is never alive.
        fs::write(dir.path().join(".a.json.4194304.0.tmp"), b"{").unwrap();
        fs::write(dir.path().join(FsStore::temp_name("b.json")), b"{").unwrap();
        let stale = store.stale_temporaries().unwrap();
        assert_eq!(stale.len(), usize::from(cfg!(target_os = "linux")));
        for t in stale {
            assert!(store.remove_temporary(&t.name).unwrap());
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_and_fifos_are_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        fs::write(outside.path(), b"secret").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("l.json")).unwrap();
        let fifo = dir.path().join("f.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let store = FsStore::new(dir.path(), false);
        assert!(matches!(
            store.read("l.json", &limits()).unwrap(),
            Fetched::NotAFile(Kind::Symlink)
        ));
        assert!(matches!(
            store.read("f.json", &limits()).unwrap(),
            Fetched::NotAFile(Kind::Special)
        ));
        assert!(!store.remove("l.json").unwrap());
        assert!(!store.remove("f.json").unwrap());
        assert!(outside.path().exists());
    }

    #[test]
    fn remove_if_never_loads_a_file_over_the_entry_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path(), false).max_entry_bytes(10);
        store.write("big.json", &[b'x'; 100]).unwrap();
        store.write("small.json", b"{}").unwrap();
        let judged = std::cell::Cell::new(0);
        let yes = |_: &[u8]| {
            judged.set(judged.get() + 1);
            true
        };
        assert_eq!(store.remove_if("big.json", &yes).unwrap(), None);
        assert_eq!(judged.get(), 0, "a file over the limit is not even judged");
        assert!(dir.path().join("big.json").exists());
        assert_eq!(store.remove_if("small.json", &yes).unwrap(), Some(2));
    }

    #[test]
    fn a_file_over_the_limit_or_with_a_foreign_head_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path(), false);
        store.write("a.json", &[b'x'; 100]).unwrap();
        let small = ReadLimits {
            max_bytes: 10,
            may_begin: &|_| true,
        };
        assert!(matches!(
            store.read("a.json", &small).unwrap(),
            Fetched::TooLarge(100)
        ));
        let picky = ReadLimits {
            max_bytes: 1000,
            may_begin: &|h| h.starts_with(b"{"),
        };
        assert!(matches!(
            store.read("a.json", &picky).unwrap(),
            Fetched::Rejected
        ));
    }

    /// Sizes on both sides of the unix first read (and of the one-read size elsewhere).
    fn sizes_around_the_first_read() -> Vec<usize> {
        let edge = 16 << 10;
        vec![
            0,
            1,
            2,
            HEAD_LEN,
            edge - 1,
            edge,
            edge + 1,
            2 * edge,
            64 << 10,
            (64 << 10) + 1,
            200_000,
        ]
    }

    #[test]
    fn files_of_every_size_around_the_first_read_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path(), false);
        for size in sizes_around_the_first_read() {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            store.write("e.bin", &bytes).unwrap();
            match store.read("e.bin", &limits()).unwrap() {
                Fetched::Bytes(read) => assert!(read == bytes, "size {size}: other bytes"),
                other => panic!("size {size}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_read_refuses_what_the_limits_refuse_at_every_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path(), false);
        for size in sizes_around_the_first_read().into_iter().filter(|&s| s > 0) {
            store.write("e.bin", &vec![b'x'; size]).unwrap();
            let smaller = ReadLimits {
                max_bytes: size as u64 - 1,
                may_begin: &|_| true,
            };
            assert!(
                matches!(store.read("e.bin", &smaller).unwrap(), Fetched::TooLarge(n) if n == size as u64),
                "size {size}"
            );
            let foreign = ReadLimits {
                max_bytes: 1 << 20,
                may_begin: &|head| !head.starts_with(b"x"),
            };
            assert!(
                matches!(store.read("e.bin", &foreign).unwrap(), Fetched::Rejected),
                "size {size}"
            );
        }
    }

    #[test]
    fn a_directory_under_an_entrys_name_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d.json")).unwrap();
        let store = FsStore::new(dir.path(), false);
        assert!(matches!(
            store.read("d.json", &limits()).unwrap(),
            Fetched::NotAFile(Kind::Directory)
        ));
        assert!(matches!(
            store.read("none.json", &limits()).unwrap(),
            Fetched::Missing
        ));
    }
}
