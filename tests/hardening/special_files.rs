//! Special files: only regular files are read; links are not followed; nothing blocks. Then the
//! size limit and the head check.

use std::fs;
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::FileTypeExt;
use std::time::{Duration, Instant};

use bucketcache::inspect::State;
use bucketcache::{Error, Pruned};

use super::{hour_bucket, name_of, states, BACKENDS};
#[cfg(unix)]
use super::{mkfifo, within};
use crate::common::{builder, clock};

#[cfg(unix)]
#[test]
fn a_fifo_at_an_entry_path_is_a_miss_that_never_blocks_and_is_never_deleted() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let b = hour_bucket(dir.path(), backend, &clock);
        let fifo = b.path_for_key("k").unwrap();
        mkfifo(&fifo);
        let reader = b.clone();
        let (value, contains) = within("get on a FIFO", move || {
            (
                reader.get::<String>("k").unwrap(),
                reader.contains("k").unwrap(),
            )
        });
        assert_eq!(value, None, "{backend}");
        assert!(!contains, "{backend}");
        let remover = b.clone();
        assert!(!within("remove on a FIFO", move || remover
            .remove("k")
            .unwrap()));
        let pruner = b.clone();
        let pruned = within("prune next to a FIFO", move || pruner.prune().unwrap());
        assert_eq!(pruned.files, 0, "{backend}");
        let listed = states(&b);
        assert!(
            matches!(&listed[&name_of(&fifo)], State::Foreign(why) if why.contains("special file")),
            "{backend}: {listed:?}"
        );
        let meta = fs::symlink_metadata(&fifo).unwrap();
        assert!(
            meta.file_type().is_fifo(),
            "{backend}: the FIFO is still there"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_at_an_entry_path_is_not_followed_and_its_target_is_untouched() {
    for backend in BACKENDS {
        let clock = clock();
        // The target is a valid entry for the same key, written by a bucket elsewhere: following
        // the link would return its value, and (once expired) delete through it.
        let outside = tempfile::tempdir().unwrap();
        let source = hour_bucket(outside.path(), backend, &clock);
        source.set("k", &"from outside").unwrap();
        let target = source.path_for_key("k").unwrap();
        let target_bytes = fs::read(&target).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let b = hour_bucket(dir.path(), backend, &clock);
        let link = b.path_for_key("k").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();

        assert_eq!(b.get::<String>("k").unwrap(), None, "{backend}");
        assert!(!b.contains("k").unwrap(), "{backend}");
        assert!(!b.remove("k").unwrap(), "{backend}");
        clock.advance(Duration::from_secs(2 * 3600)); // the target has expired now
        assert_eq!(b.get::<String>("k").unwrap(), None, "{backend}");
        assert_eq!(b.prune().unwrap().files, 0, "{backend}");
        let listed = states(&b);
        assert!(
            matches!(&listed[&name_of(&link)], State::Foreign(why) if why.contains("symbolic link")),
            "{backend}: {listed:?}"
        );
        assert!(
            fs::symlink_metadata(&link).unwrap().is_symlink(),
            "{backend}"
        );
        assert_eq!(fs::read(&target).unwrap(), target_bytes, "{backend}");
    }
}

#[test]
fn a_directory_at_an_entry_path_is_a_miss_and_is_left_alone() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let b = hour_bucket(dir.path(), backend, &clock);
        let sub = b.path_for_key("k").unwrap();
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("inside"), b"kept").unwrap();
        assert_eq!(b.get::<String>("k").unwrap(), None, "{backend}");
        assert!(!b.remove("k").unwrap(), "{backend}");
        assert_eq!(b.prune().unwrap().files, 0, "{backend}");
        assert!(matches!(&states(&b)[&name_of(&sub)], State::Foreign(_)));
        assert_eq!(fs::read(sub.join("inside")).unwrap(), b"kept");
    }
}

// ---------------------------------------------------------------------------------------------
// The size limit and the head check.

#[test]
fn a_sparse_gigabyte_file_named_like_an_entry_is_a_miss_without_being_read() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let b = hour_bucket(dir.path(), backend, &clock);
        let path = b.path_for_key("k").unwrap();
        fs::File::create(&path).unwrap().set_len(1 << 30).unwrap();
        let started = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.get::<String>("k").unwrap(), None, "{backend}");
            assert!(!b.contains("k").unwrap(), "{backend}");
        }
        assert_eq!(b.prune().unwrap(), Pruned::default(), "{backend}");
        let listed = states(&b);
        assert!(
            matches!(&listed[&name_of(&path)], State::TooLarge(why) if why.contains("over the limit")),
            "{backend}: {listed:?}"
        );
        // Six reads, a prune and a listing of a 1 GiB file: only its size was looked at.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{backend}: {:?}",
            started.elapsed()
        );
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            1 << 30,
            "kept as it was"
        );
    }
}

#[test]
fn max_entry_bytes_refuses_larger_sets_and_makes_larger_files_a_miss() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let small = builder(dir.path(), backend, &clock)
            .max_entry_bytes(100)
            .open()
            .unwrap();
        assert_eq!(small.max_entry_bytes(), 100);
        let big = "x".repeat(200);
        let err = small.set("k", &big).unwrap_err();
        assert!(
            matches!(err, Error::EntryTooLarge { limit: 100, size } if size > 200),
            "{backend}: {err}"
        );
        assert!(
            !small.path_for_key("k").unwrap().exists(),
            "nothing written"
        );
        // A bucket with the default limit (256 MiB) writes it; the small one does not read it.
        let default = builder(dir.path(), backend, &clock).open().unwrap();
        assert_eq!(default.max_entry_bytes(), 256 << 20);
        default.set("k", &big).unwrap();
        assert_eq!(small.get::<String>("k").unwrap(), None, "{backend}");
        assert!(small.path_for_key("k").unwrap().exists(), "a miss, kept");
        let fresh = builder(dir.path(), backend, &clock).open().unwrap();
        assert_eq!(fresh.get::<String>("k").unwrap(), Some(big), "{backend}");
    }
}

#[test]
fn a_file_whose_first_bytes_cannot_begin_an_entry_is_rejected_unread_and_kept() {
    let heads: [(&str, &[u8]); 3] = [
        ("json", b"[1, 2, 3] and then a megabyte"),
        ("msgpack", b"PK\x03\x04 a zip archive"),
        ("pickle", b"GIF89a an image"),
    ];
    for (backend, head) in heads {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let b = hour_bucket(dir.path(), backend, &clock);
        let path = b.path_for_key("k").unwrap();
        let mut file = fs::File::create(&path).unwrap();
        file.write_all(head).unwrap();
        file.set_len(8 << 20).unwrap();
        drop(file);
        assert_eq!(b.get::<String>("k").unwrap(), None, "{backend}");
        assert_eq!(b.prune().unwrap().files, 0, "{backend}");
        let listed = states(&b);
        assert!(
            matches!(&listed[&name_of(&path)], State::Corrupt(why)
                if why == &format!("does not begin like a {backend} entry")),
            "{backend}: {listed:?}"
        );
        assert_eq!(fs::metadata(&path).unwrap().len(), 8 << 20);
    }
}
