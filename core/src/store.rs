//! The storage seam: every file-system call of a bucket goes through [`Storage`].
//!
//! [`FsStorage`] is the directory of files the original used, made safe: writes go to a temporary
//! file in the same directory and are renamed over the final name, so a reader sees the old file
//! or the new one, never half of one, and a crashed writer leaves no visible entry. Other stores
//! (an embedded key-value store, a network cache) or fault-injecting test doubles implement the
//! same trait.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A file of the store, as listed by [`Storage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// File name, e.g. `0a1b….json`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where a bucket's files live. File names are plain names (no directories).
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// The directory (for messages and `Bucket::path`).
    fn root(&self) -> &Path;
    /// Reads a whole file; `Ok(None)` when it does not exist.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Replaces a file atomically with `bytes`.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Removes a file; `Ok(false)` when it did not exist.
    fn remove(&self, name: &str) -> io::Result<bool>;
    /// Lists the files whose name ends with `.{extension}`.
    fn list(&self, extension: &str) -> io::Result<Vec<StoredFile>>;
    /// Lists the names of the files whose name ends with `.{extension}` (no sizes: cheaper).
    fn list_names(&self, extension: &str) -> io::Result<Vec<String>> {
        Ok(self.list(extension)?.into_iter().map(|f| f.name).collect())
    }
    /// Removes temporary files of `extension` left behind by writers that died; returns what was
    /// removed.
    fn remove_stale_temp_files(&self, extension: &str) -> io::Result<Vec<StoredFile>>;
}

/// A directory of files. Temporary files are named `.<final name>.<pid>.<n>.tmp`.
#[derive(Debug)]
pub struct FsStorage {
    dir: PathBuf,
    durable: bool,
}

/// A temporary file older than this is stale even when its writer's process still seems alive
/// (pids are reused).
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

impl FsStorage {
    /// A store in `dir` (which must exist). With `durable`, each write is fsynced, file and
    /// directory, before it is reported done: it then survives a power loss, at about ten times
    /// the cost of a write.
    pub fn new(dir: impl Into<PathBuf>, durable: bool) -> Self {
        FsStorage {
            dir: dir.into(),
            durable,
        }
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
}

impl Storage for FsStorage {
    fn root(&self) -> &Path {
        &self.dir
    }

    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
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
        match fs::remove_file(self.dir.join(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn list(&self, extension: &str) -> io::Result<Vec<StoredFile>> {
        let suffix = format!(".{extension}");
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.len() <= suffix.len() || !name.ends_with(&suffix) || name.starts_with('.') {
                continue;
            }
            let Ok(meta) = entry.metadata() else {
                continue; // removed while listing
            };
            if meta.is_file() {
                out.push(StoredFile {
                    name,
                    size: meta.len(),
                });
            }
        }
        Ok(out)
    }

    fn list_names(&self, extension: &str) -> io::Result<Vec<String>> {
        let suffix = format!(".{extension}");
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.len() <= suffix.len() || !name.ends_with(&suffix) || name.starts_with('.') {
                continue;
            }
            // The directory entry's type, not a stat of the file: one syscall less per file.
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                out.push(name);
            }
        }
        Ok(out)
    }

    fn remove_stale_temp_files(&self, extension: &str) -> io::Result<Vec<StoredFile>> {
        Ok(stale_temp_files(&self.dir, extension)?
            .into_iter()
            .filter(|f| fs::remove_file(self.dir.join(&f.name)).is_ok())
            .collect())
    }
}

/// The temporary files of `extension` in `dir` that writers left behind when they died (their
/// process is gone, or the file is older than an hour): what `prune` removes. Lists them without
/// removing anything (the CLI's `prune --dry-run`), sorted by name.
pub fn stale_temp_files(dir: &Path, extension: &str) -> io::Result<Vec<StoredFile>> {
    let mut stale = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(pid) = temp_file_writer(&name, extension) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old || !process_is_alive(pid) {
            stale.push(StoredFile {
                name,
                size: meta.len(),
            });
        }
    }
    stale.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(stale)
}

/// The writer's pid when `name` is one of our temporary files for `extension`.
fn temp_file_writer(name: &str, extension: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let _counter: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    let final_name = parts.next()?;
    final_name
        .strip_suffix(extension)
        .filter(|stem| stem.ends_with('.'))?;
    Some(pid)
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

    #[test]
    fn temp_names_are_recognised_per_extension() {
        let t = FsStorage::temp_name("abc.json");
        assert_eq!(temp_file_writer(&t, "json"), Some(std::process::id()));
        assert_eq!(temp_file_writer(&t, "msgpack"), None);
        assert_eq!(temp_file_writer("abc.json", "json"), None);
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStorage::new(dir.path(), false);
        fs::create_dir(dir.path().join("x.json")).unwrap(); // rename over a directory fails
        assert!(store.write_atomic("x.json", b"{}").is_err());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn temp_files_of_dead_writers_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStorage::new(dir.path(), false);
        // pid 4194304 is above Linux's pid_max limit, so it is never alive.
        fs::write(dir.path().join(".a.json.4194304.0.tmp"), b"{").unwrap();
        fs::write(dir.path().join(FsStorage::temp_name("b.json")), b"{").unwrap();
        let removed = store.remove_stale_temp_files("json").unwrap();
        assert_eq!(removed.len(), usize::from(cfg!(target_os = "linux")));
    }
}
