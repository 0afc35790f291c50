//! Helpers shared by the integration test modules.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bucketcache::{Bucket, BucketBuilder, ManualClock};

/// A manual clock standing at a fixed, recent date (2030-01-01T12:00:00.250000).
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        "2030-01-01T12:00:00.250000".parse().expect("valid date"),
    ))
}

/// A builder for `backend` in `dir`, on `clock`.
pub fn builder(dir: &Path, backend: &str, clock: &Arc<ManualClock>) -> BucketBuilder {
    Bucket::builder(dir).backend(backend).clock(clock.clone())
}

/// The built-in backends every container test runs against.
pub const BACKENDS: [&str; 2] = ["json", "msgpack"];

/// Every file in `dir`, sorted by name.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    names
}

/// Copies a fixture directory (under `tests/fixtures/`) into a fresh temp dir: reading expired
/// entries deletes files, so tests never read the committed copies in place.
pub fn fixture_copy(relative: &str) -> (tempfile::TempDir, PathBuf) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dst = tmp.path().join("cache");
    copy_dir(&src, &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for entry in std::fs::read_dir(src).expect("fixture dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy");
        }
    }
}
