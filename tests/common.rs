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

/// A minimal executor: polls `f` on this thread, parking until woken.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// This test binary run again as a child process: only the test `entry` runs (a test that does
/// nothing unless `role_var` is set), with `role_var = role`, `dir_var = dir` and `extra_env`;
/// stdout and stderr are piped.
pub fn child_command(
    entry: &str,
    (role_var, role): (&str, &str),
    (dir_var, dir): (&str, &Path),
    extra_env: &[(&str, String)],
) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env(role_var, role)
        .env(dir_var, dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}
