//! Helper files of directory stores that guarantees depend on: the disk budget's record
//! (`.bucketcache-budget`, locked with `flock(2)` for at most a deadline) and the checks, at
//! open, of the record and of the single-flight lock file.
//!
//! Both are opened without following a link (`O_NOFOLLOW`), never inherited by child processes
//! (`O_CLOEXEC`), never blocking on a FIFO (`O_NONBLOCK`), and used only when what was opened is
//! a regular file (`fstat`).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use bucketcache_traits::store::{Degradation, Guarantee};

/// The name of the disk budget's record in a directory (a helper name: never an entry).
pub const BUDGET_RECORD: &str = ".bucketcache-budget";

/// The longest pause between two tries of a busy lock.
const MAX_PAUSE: Duration = Duration::from_millis(2);

/// Opens (creating it) the helper file `path`: never through a link, never blocking, and only
/// a regular file.
pub(crate) fn open_helper(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .mode(0o644);
    }
    #[cfg(not(unix))]
    {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.is_file() {
                return Err(not_regular());
            }
        }
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link (never followed)",
            );
        }
        e
    })?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file")
}

/// A description of what is at `path` when it is not a regular file (`None` for a regular file
/// or nothing).
fn special(path: &Path) -> Option<&'static str> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    Some(if t.is_symlink() {
        "it is a symbolic link (never followed)"
    } else if t.is_dir() {
        "it is a directory"
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return Some("it is a FIFO");
            }
        }
        "it is not a regular file"
    })
}

/// Takes the exclusive `flock` of `file`, trying until `wait` has passed (zero: once):
/// [`io::ErrorKind::TimedOut`] when it stayed busy.
#[cfg(unix)]
fn lock_within(file: &File, wait: Duration) -> io::Result<()> {
    use rustix::fs::{flock, FlockOperation};
    let start = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {}
            Err(e) => return Err(e.into()),
        }
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the lock of {BUDGET_RECORD} stayed busy for {wait:?}"),
            ));
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Runs `update` on the record in `dir` under its exclusive lock, waited for at most `wait`.
/// The file is opened afresh each time (so that every process locks the file at the name, even
/// after someone replaced it), and no in-process lock is held while waiting.
#[cfg(unix)]
pub(crate) fn update(
    dir: &Path,
    wait: Duration,
    update: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let path = dir.join(BUDGET_RECORD);
    let file = open_helper(&path).map_err(|e| named(&path, e))?;
    lock_within(&file, wait)?;
    // The record is a few dozen bytes, written whole: one read sees all of it. The lock goes
    // with the descriptor when `file` is dropped.
    let mut buf = [0u8; 256];
    let len = file.read_at(&mut buf, 0)?;
    let new = update((len > 0).then_some(&buf[..len]));
    file.write_all_at(&new, 0)?;
    if new.len() < len {
        file.set_len(new.len() as u64)?;
    }
    Ok(())
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Whether the budget's record in `dir` can be used: nothing yet (it is created at the first
/// update), or a regular file that this process can open for reading and writing and lock.
pub(crate) fn check_record(dir: &Path) -> Option<Degradation> {
    let path = dir.join(BUDGET_RECORD);
    let off = |reason: String| {
        Some(Degradation::new(
            Guarantee::DiskBudget,
            &path,
            format!("{reason}; the budget is kept by each process alone, from its own listings"),
        ))
    };
    if let Some(what) = special(&path) {
        return off(what.into());
    }
    if !path.exists() {
        return None;
    }
    match open_helper(&path) {
        #[cfg(unix)]
        Ok(file) => {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
                Ok(()) | Err(rustix::io::Errno::WOULDBLOCK) => None,
                Err(e) => off(format!("cannot be locked: {e}")),
            }
        }
        #[cfg(not(unix))]
        Ok(_) => None,
        Err(e) => off(e.to_string()),
    }
}

/// Whether the single-flight lock file of the directory `dir` can be used: nothing yet (it is
/// created at the first memoized call), or a regular file that this process can open and lock.
pub fn check_file_locks(dir: &Path) -> Option<Degradation> {
    let path = dir.join(crate::LOCK_FILE);
    let off = |reason: String| {
        Some(Degradation::new(
            Guarantee::SingleFlightAcrossProcesses,
            &path,
            format!("{reason}; memoized calls compute once per process, not once per cache"),
        ))
    };
    if let Some(what) = special(&path) {
        return off(what.into());
    }
    if !path.exists() {
        return None;
    }
    match crate::FileLocks::new(dir).try_lock(".probe") {
        Ok(_) => None,
        Err(e) => off(e.to_string()),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_busy_record_lock_times_out_after_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let holder = open_helper(&dir.path().join(BUDGET_RECORD)).unwrap();
        rustix::fs::flock(&holder, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let err = update(dir.path(), Duration::from_millis(30), &mut |_| Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(holder);
        update(dir.path(), Duration::ZERO, &mut |_| b"x".to_vec()).unwrap();
        assert_eq!(std::fs::read(dir.path().join(BUDGET_RECORD)).unwrap(), b"x");
    }

    #[test]
    fn a_record_that_is_not_a_regular_file_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(BUDGET_RECORD)).unwrap();
        let d = check_record(dir.path()).unwrap();
        assert_eq!(d.guarantee, Guarantee::DiskBudget);
        assert!(d.reason.contains("directory"), "{d}");
        let err = update(dir.path(), Duration::ZERO, &mut |_| Vec::new()).unwrap_err();
        assert!(err.to_string().contains(BUDGET_RECORD), "{err}");
    }
}
