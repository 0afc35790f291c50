//! Opening the cache's helper files — lock files, records, a store's own files — never through a
//! link, and only when they are regular files.
//!
//! **Rule:** every helper file the cache creates or opens is opened with `O_NOFOLLOW` (and
//! `O_CLOEXEC`, and `O_NONBLOCK` so that a FIFO put in its place cannot block the open) and must
//! be a regular file once open (`fstat` on the descriptor, not a second look at the name);
//! anything else — a symbolic link, a directory, a FIFO, a socket, a device — is refused with a
//! [`HelperFileError`] naming the path. So a link planted at `.bucketcache-locks` cannot make
//! the cache create, truncate or lock a file elsewhere.
//!
//! ```
//! use bucketcache_fs::{open_helper_file, HelperFileError};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join(".helper");
//! assert!(open_helper_file(&path, true).is_ok()); // created, a regular file
//! # #[cfg(unix)] {
//! let outside = dir.path().join("outside");
//! std::fs::write(&outside, b"keep").unwrap();
//! let link = dir.path().join(".link");
//! std::os::unix::fs::symlink(&outside, &link).unwrap();
//! let refused = open_helper_file(&link, true).unwrap_err();
//! assert!(matches!(refused, HelperFileError::NotRegular { .. }));
//! assert!(refused.to_string().contains(".link"));
//! assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
//! # }
//! ```

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

pub use bucketcache_traits::store::HelperFileError;

/// Opens the helper file `path` for reading and writing (creating it, empty, with `create`),
/// never through a symbolic link, and only if it is a regular file. Its descriptor is closed
/// on `exec`.
pub fn open_helper_file(path: &Path, create: bool) -> Result<File, HelperFileError> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(create)
        .truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // std adds O_CLOEXEC itself; O_NONBLOCK only matters for what is refused below.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|source| {
        match std::fs::symlink_metadata(path) {
            // ELOOP from O_NOFOLLOW, EISDIR, ENXIO (a socket)…: say what is there.
            Ok(meta) if !meta.is_file() => HelperFileError::NotRegular {
                path: path.to_owned(),
                found: describe(&meta),
            },
            _ => HelperFileError::Io {
                path: path.to_owned(),
                source,
            },
        }
    })?;
    let meta = file.metadata().map_err(|source| HelperFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        return Err(HelperFileError::NotRegular {
            path: path.to_owned(),
            found: describe(&meta),
        });
    }
    #[cfg(unix)]
    clear_nonblocking(&file).map_err(|source| HelperFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(file)
}

/// Regular files ignore `O_NONBLOCK`, but a descriptor handed on should not carry it.
#[cfg(unix)]
fn clear_nonblocking(file: &File) -> io::Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(file)?;
    fcntl_setfl(file, flags - OFlags::NONBLOCK)?;
    Ok(())
}

/// What a name holds, in words.
fn describe(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_link_a_directory_and_a_fifo_are_refused_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        for (path, found) in [
            (&link, "a symbolic link"),
            (&dangling, "a symbolic link"),
            (&dir.path().to_path_buf(), "a directory"),
            (&fifo, "a FIFO"),
        ] {
            match open_helper_file(path, true) {
                Err(HelperFileError::NotRegular { path: p, found: f }) => {
                    assert_eq!((&p, f), (path, found));
                }
                other => panic!("{}: {other:?}", path.display()),
            }
        }
        assert!(
            !dir.path().join("nowhere").exists(),
            "nothing created through the link"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
        let file = open_helper_file(&dir.path().join("new"), true).unwrap();
        assert!(file.metadata().unwrap().is_file());
        assert!(matches!(
            open_helper_file(&dir.path().join("absent"), false),
            Err(HelperFileError::Io { .. })
        ));
    }
}
