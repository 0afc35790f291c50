//! Issue #11: what a hostile directory, a bad plugin and a second process can do. Each rule is
//! tested through the public API: special and foreign files, the size limit, extension
//! ownership, the evidence rule for deleting, depth limits of writers and readers, far-future
//! lifetimes, option bounds, lifetime strings, plugin tables, and `#[cached]` under
//! `#![deny(warnings)]`.

use std::collections::{BTreeMap, HashSet};
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use bucketcache::inspect::State;
use bucketcache::store::{Fetched, FsStore, Listed, ReadLimits, Store};
use bucketcache::{Bucket, ManualClock};

use crate::common::builder;

mod evidence;
mod limits;
mod naming;
#[deny(warnings)]
mod one_expression_bodies;
mod plugins;
#[cfg(unix)]
mod scan;
mod special_files;

/// Every built-in backend.
const BACKENDS: [&str; 3] = ["json", "msgpack", "pickle"];

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// Runs `f` on a thread of its own and fails if it has not finished within 20 s: a read that
/// blocks (on a FIFO, say) fails the test instead of hanging it.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what} blocked"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_owned()
}

/// The state of each listed name, by name.
fn states(b: &Bucket) -> BTreeMap<String, State> {
    b.inspector()
        .items()
        .unwrap()
        .into_iter()
        .map(|i| (i.name, i.state))
        .collect()
}

/// A bucket of `backend` in `dir` with a one-hour lifetime, on `clock`.
fn hour_bucket(dir: &Path, backend: &str, clock: &Arc<ManualClock>) -> Bucket {
    builder(dir, backend, clock)
        .lifetime(Duration::from_secs(3600))
        .open()
        .unwrap()
}

/// A store double: the file store, except that reading (or re-reading to delete) the names in
/// `unreadable` fails as a file of another user does.
#[derive(Debug)]
struct Unreadable {
    inner: FsStore,
    unreadable: HashSet<String>,
}

impl Unreadable {
    fn refuse(&self, name: &str) -> std::io::Result<()> {
        if self.unreadable.contains(name) {
            return Err(std::io::Error::new(
                ErrorKind::PermissionDenied,
                "Permission denied (a store double)",
            ));
        }
        Ok(())
    }
}

impl Store for Unreadable {
    fn name(&self) -> &str {
        "unreadable"
    }
    fn location(&self) -> &Path {
        self.inner.location()
    }
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> std::io::Result<Fetched> {
        self.refuse(name)?;
        self.inner.read(name, limits)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write(name, bytes)
    }
    fn remove(&self, name: &str) -> std::io::Result<bool> {
        self.inner.remove(name)
    }
    fn remove_if(
        &self,
        name: &str,
        condition: &dyn Fn(&[u8]) -> bool,
    ) -> std::io::Result<Option<u64>> {
        self.refuse(name)?;
        self.inner.remove_if(name, condition)
    }
    fn list(&self) -> std::io::Result<Vec<Listed>> {
        self.inner.list()
    }
    fn stale_temporaries(&self) -> std::io::Result<Vec<Listed>> {
        self.inner.stale_temporaries()
    }
    fn remove_temporary(&self, name: &str) -> std::io::Result<bool> {
        self.inner.remove_temporary(name)
    }
}
