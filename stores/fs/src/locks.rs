//! Cross-process locks for single flight: one per entry, released by the OS when its holder dies.
//!
//! A directory store keeps **one** lock file, `.bucketcache-locks`, and locks one byte of it per
//! entry: the byte at the digest's hash modulo `SLOTS`. Nothing is created per key, so nothing
//! leaks; two entries that share a byte only make one wait for the other's computation. The locks
//! are Linux open-file-description locks (`F_OFD_SETLK`): each lease opens the file itself, so
//! two leases never share a lock by accident, and the kernel drops them when the descriptor
//! closes — on release, on a panic, or when the process is killed.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

pub use bucketcache_traits::store::{Lease, Locked};

/// The name of the lock file a directory store keeps (a helper file: never an entry).
pub const LOCK_FILE: &str = ".bucketcache-locks";

/// How many one-byte slots the lock file has.
pub(crate) const SLOTS: u64 = 1 << 20;

/// Byte-range locks in a directory's lock file, for directory stores (`fs`, `lmdb`).
#[derive(Debug, Clone)]
pub struct FileLocks {
    path: PathBuf,
}

impl FileLocks {
    /// The locks of the directory `dir`.
    pub fn new(dir: &Path) -> Self {
        FileLocks {
            path: dir.join(LOCK_FILE),
        }
    }

    /// Tries to lock `digest`'s slot without waiting.
    ///
    /// ```
    /// use bucketcache_fs::{FileLocks, Locked};
    /// let dir = tempfile::tempdir().unwrap();
    /// let locks = FileLocks::new(dir.path());
    /// let held = locks.try_lock("0123abcd").unwrap();
    /// assert!(matches!(held, Locked::Acquired(_)) || cfg!(not(target_os = "linux")));
    /// if cfg!(target_os = "linux") {
    ///     assert!(matches!(locks.try_lock("0123abcd").unwrap(), Locked::Busy));
    ///     drop(held);
    ///     assert!(matches!(locks.try_lock("0123abcd").unwrap(), Locked::Acquired(_)));
    /// }
    /// ```
    pub fn try_lock(&self, digest: &str) -> io::Result<Locked> {
        imp::try_lock(&self.path, slot(digest))
    }
}

/// The slot of a digest: FNV-1a over its text (digests are already uniform; this only folds).
fn slot(digest: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in digest.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % SLOTS
}

/// A held slot: the open file description that owns the lock.
struct SlotLease {
    _file: File,
    slot: u64,
}

impl fmt::Debug for SlotLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotLease")
            .field("slot", &self.slot)
            .finish()
    }
}

impl Lease for SlotLease {}

/// Opens (creating it) the lock file, never through a link and only if it is a regular file:
/// anything else is an error naming the path (a [`HelperFileError`](crate::HelperFileError) inside).
fn open(path: &Path) -> io::Result<File> {
    Ok(crate::open_helper_file(path, true)?)
}

#[cfg(target_os = "linux")]
mod imp {
    use nix::errno::Errno;
    use nix::fcntl::{fcntl, FcntlArg};

    use super::*;

    pub(super) fn try_lock(path: &Path, slot: u64) -> io::Result<Locked> {
        let file = open(path)?;
        let range = nix::libc::flock {
            l_type: nix::libc::F_WRLCK as _,
            l_whence: nix::libc::SEEK_SET as _,
            l_start: slot as _,
            l_len: 1,
            // Must be 0 for open-file-description locks.
            l_pid: 0,
        };
        match fcntl(&file, FcntlArg::F_OFD_SETLK(&range)) {
            Ok(_) => Ok(Locked::Acquired(Box::new(SlotLease { _file: file, slot }))),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(Locked::Busy),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    pub(super) fn try_lock(_: &Path, _: u64) -> io::Result<Locked> {
        Ok(Locked::Unsupported)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_held_until_its_lease_is_dropped_and_others_are_free() {
        let dir = tempfile::tempdir().unwrap();
        let locks = FileLocks::new(dir.path());
        let a = locks.try_lock("aaaa").unwrap();
        assert!(matches!(a, Locked::Acquired(_)));
        assert!(matches!(locks.try_lock("aaaa").unwrap(), Locked::Busy));
        let other = (0..100)
            .map(|i| format!("{i:04x}"))
            .find(|d| slot(d) != slot("aaaa"))
            .unwrap();
        assert!(matches!(
            locks.try_lock(&other).unwrap(),
            Locked::Acquired(_)
        ));
        drop(a);
        assert!(matches!(
            locks.try_lock("aaaa").unwrap(),
            Locked::Acquired(_)
        ));
    }
}
