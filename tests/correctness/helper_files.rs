//! **Rule: helper files are never opened through a link.** Every helper file the cache creates
//! or opens — the single-flight lock file `.bucketcache-locks`, LMDB's `lock.mdb`, `data.mdb`
//! and `.bucketcache-lmdb.lock`, the near cache's marker — is opened without following links
//! (`O_NOFOLLOW`) and must be a regular file; anything else is refused with an error naming the
//! path, and the file a planted link points to is left untouched (not created, not written, not
//! locked).

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use bucketcache::store::{FileLocks, HelperFileError, LOCK_FILE};
use bucketcache::{Bucket, Error};

/// A directory `cache` and, outside it, a file `outside` holding `precious` (and the name of a
/// file that does not exist, `absent`).
struct Scene {
    _tmp: tempfile::TempDir,
    cache: PathBuf,
    outside: PathBuf,
    absent: PathBuf,
}

fn scene() -> Scene {
    bucketcache::install_default_backends().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let outside = tmp.path().join("outside");
    std::fs::write(&outside, b"precious").unwrap();
    let absent = tmp.path().join("absent");
    Scene {
        cache,
        outside,
        absent,
        _tmp: tmp,
    }
}

impl Scene {
    fn untouched(&self, what: &str) {
        assert_eq!(std::fs::read(&self.outside).unwrap(), b"precious", "{what}");
        assert!(
            !self.absent.exists(),
            "{what}: a file was created through the link"
        );
    }
}

fn refused_path(e: &HelperFileError) -> &Path {
    assert!(
        matches!(
            e,
            HelperFileError::NotRegular {
                found: "a symbolic link",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains(&e.path().display().to_string()),
        "{e}"
    );
    e.path()
}

#[test]
fn a_link_at_the_lock_file_is_refused_naming_it_and_its_target_is_untouched() {
    let s = scene();
    let lock = s.cache.join(LOCK_FILE);
    for target in [&s.outside, &s.absent] {
        std::fs::remove_file(&lock).ok();
        symlink(target, &lock).unwrap();
        let err = FileLocks::new(&s.cache).try_lock("0123abcd").unwrap_err();
        let refusal = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<HelperFileError>())
            .unwrap_or_else(|| panic!("not a helper file refusal: {err:?}"));
        assert_eq!(refused_path(refusal), lock);
        // Opening refuses the guarantee it cannot keep, naming the file (no silent downgrade)...
        let refused = Bucket::builder(&s.cache)
            .backend("json")
            .open()
            .unwrap_err();
        assert!(
            matches!(&refused, bucketcache::Error::Degraded { path, .. } if *path == lock),
            "{refused:?}"
        );
        // ...and, degraded by choice, a memoized call still answers (single flight off for
        // it), through no link.
        let b = Bucket::builder(&s.cache)
            .backend("json")
            .allow_degraded(true)
            .open()
            .unwrap();
        assert_eq!(b.get_or_insert_with("k", || 7u32).unwrap(), 7);
        b.remove("k").unwrap();
        s.untouched("the lock file");
        assert!(std::fs::symlink_metadata(&lock).unwrap().is_symlink());
    }
}

#[cfg(feature = "lmdb")]
#[test]
fn a_link_at_an_lmdb_file_is_refused_naming_it_and_its_target_is_untouched() {
    use bucketcache::lmdb::{DATA_FILE, LOCK_FILE as LMDB_LOCK, RESIZE_LOCK_FILE};
    let s = scene();
    for name in [LMDB_LOCK, DATA_FILE, RESIZE_LOCK_FILE] {
        if name == RESIZE_LOCK_FILE && !cfg!(target_os = "linux") {
            continue;
        }
        for target in [&s.outside, &s.absent] {
            let dir = s.cache.join(format!(
                "{}-{}",
                name.trim_start_matches('.'),
                target == &s.absent
            ));
            std::fs::create_dir(&dir).unwrap();
            symlink(target, dir.join(name)).unwrap();
            let err = Bucket::builder(&dir).store("lmdb").open().unwrap_err();
            match &err {
                Error::HelperFile(e) => assert_eq!(refused_path(e), dir.join(name)),
                other => panic!("{name}: {other:?}"),
            }
            s.untouched(name);
        }
    }
}

#[test]
fn a_link_at_the_near_cache_marker_is_refused_naming_it() {
    use bucketcache::store::{FsStore, NearStore};
    let s = scene();
    let near = s.cache.join("near");
    std::fs::create_dir(&near).unwrap();
    let marker = near.join(".near-cache-of");
    symlink(&s.outside, &marker).unwrap();
    let far = std::sync::Arc::new(FsStore::new(&s.cache, false));
    let err = NearStore::open(&near, far, std::time::Duration::from_secs(60), "far").unwrap_err();
    match &err {
        Error::HelperFile(e) => assert_eq!(refused_path(e), marker),
        other => panic!("{other:?}"),
    }
    s.untouched("the near cache marker");
}
