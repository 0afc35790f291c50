//! What the CLI test modules share: the binary, isolated from the caller's environment, and
//! cache directories to point it at.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;
use bucketcache::{Bucket, ManualClock};
use serde_json::Value;

/// The fixtures Python BucketCache 0.12.1 wrote, shared with the library's tests.
pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/python-bucketcache-0.12.1"
);

/// The binary, isolated from the caller's environment.
pub fn bc() -> Command {
    let mut cmd = Command::cargo_bin("bucketcache").unwrap();
    cmd.env_remove("BUCKETCACHE_PLUGIN_PATH")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

/// A copy of a fixture directory (reading may delete expired files: never touch the original).
pub fn fixture(sub: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(Path::new(FIXTURES).join(sub)).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

pub fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

/// A json bucket with two live entries and one that expired in 2000, written by the library.
pub fn library_dir() -> (tempfile::TempDir, PathBuf) {
    bucketcache::install_default_backends().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let live = Bucket::builder(&dir).backend("json").open().unwrap();
    live.set("alpha", &1).unwrap();
    live.set(
        &("user", 7),
        &"a longer value, so that this file is the largest",
    )
    .unwrap();
    let past = ManualClock::new("2000-01-01T00:00:00".parse().unwrap());
    let old = Bucket::builder(&dir)
        .backend("json")
        .lifetime(Duration::from_secs(3600))
        .clock(Arc::new(past))
        .open()
        .unwrap();
    old.set("stale", &true).unwrap();
    (tmp, dir)
}
