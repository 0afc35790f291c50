//! The store conformance kit: one store-agnostic suite that every [`Store`] must pass.
//!
//! [`check_store`] is given a function that opens the store under test at a directory (every
//! check gets a fresh temporary one) and runs two kinds of checks, each isolated (a panic in one
//! is reported as its failure, the others still run):
//!
//! - **the store itself**: reads, writes, `remove`, `remove_if`, `list` and `touch` semantics;
//!   missing names; exact sizes (empty to 1 MiB); [`ReadLimits`] (`max_bytes` gives
//!   [`Fetched::TooLarge`], a refused head [`Fetched::Rejected`], the head is the first
//!   [`HEAD_LEN`] bytes); names with every registered extension and both digest lengths; many
//!   keys; concurrent writers on threads; replacement that readers on other threads never see
//!   half done; a second instance on the same location seeing the first one's writes;
//! - **through a [`Bucket`]** opened with `.store_instance(..)`: every linked backend round-trips
//!   (and a new bucket reads what another wrote), lifetimes and expiry (an expired entry is a
//!   miss and is deleted on read), `prune` (expired entries go, live ones and foreign names
//!   stay), deferred writes, memoization, the inspector.
//!
//! The bucket checks use the backends of linked crates (`registry::backends()` of origin
//! built-in or crate) and the default keymaker: link the facade `bucketcache` (or register
//! them) in the test that runs the kit.
//!
//! ```
//! # bucketcache::install_default_backends().unwrap();
//! use std::sync::Arc;
//! use bucketcache::store::{FsStore, Store};
//! bucketcache_plugin_sdk::conformance::check_store(|dir| {
//!     Arc::new(FsStore::new(dir, false)) as Arc<dyn Store>
//! })
//! .unwrap();
//! ```
//!
//! [`HEAD_LEN`]: bucketcache_core::backend::HEAD_LEN
//! [`Bucket`]: bucketcache_core::Bucket

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use bucketcache_core::store::{Fetched, Kind, ReadLimits, Store};

use super::Failures;
use buckets::{deferred_writes, every_backend_round_trips, expiry, inspector, memoization, prune};
use semantics::{
    atomic_replacement, concurrent_writers, exact_bytes_and_sizes, list, many_keys, missing_names,
    names_with_every_extension, read_limits, remove, remove_if, replace, second_instance, touch,
};

/// Opens the store under test at a directory.
type Make<'a> = &'a (dyn Fn(&Path) -> Arc<dyn Store> + Sync);

type Check = fn(Make<'_>, &Path) -> Result<(), String>;

/// Every check, by name.
const CHECKS: &[(&str, Check)] = &[
    ("missing names", missing_names),
    ("exact bytes and sizes", exact_bytes_and_sizes),
    ("replace", replace),
    ("remove", remove),
    ("remove_if judges the current bytes", remove_if),
    ("list", list),
    ("read limits", read_limits),
    ("names with every extension", names_with_every_extension),
    ("many keys", many_keys),
    ("touch", touch),
    ("concurrent writers", concurrent_writers),
    ("replacement is atomic for readers", atomic_replacement),
    ("a second instance sees the writes", second_instance),
    (
        "every backend round-trips in a bucket",
        every_backend_round_trips,
    ),
    ("lifetimes, expiry and delete on read", expiry),
    ("prune", prune),
    ("deferred writes", deferred_writes),
    ("memoization", memoization),
    ("the inspector", inspector),
];

/// The names of the checks [`check_store`] runs, in order.
///
/// ```
/// assert!(bucketcache_plugin_sdk::conformance::store_checks().contains(&"prune"));
/// ```
pub fn store_checks() -> Vec<&'static str> {
    CHECKS.iter().map(|(name, _)| *name).collect()
}

/// Runs the store suite against the store `make` opens at a directory (a fresh temporary one
/// per check; some checks open a second instance at the same directory). Returns every failure,
/// each prefixed with its check's name.
pub fn check_store<F>(make: F) -> Result<(), Failures>
where
    F: Fn(&Path) -> Arc<dyn Store> + Sync,
{
    run(&make, &store_checks())
}

/// Runs only the named checks of the store suite (see [`store_checks`]), e.g. while debugging
/// one of them. An unknown name is a failure.
///
/// ```
/// # bucketcache::install_default_backends().unwrap();
/// use std::sync::Arc;
/// use bucketcache::store::{FsStore, Store};
/// use bucketcache_plugin_sdk::conformance::check_store_only;
/// let fs = |dir: &std::path::Path| Arc::new(FsStore::new(dir, false)) as Arc<dyn Store>;
/// check_store_only(&["remove", "prune"], fs).unwrap();
/// assert!(check_store_only(&["no such check"], fs).is_err());
/// ```
pub fn check_store_only<F>(checks: &[&str], make: F) -> Result<(), Failures>
where
    F: Fn(&Path) -> Arc<dyn Store> + Sync,
{
    run(&make, checks)
}

fn run(make: Make<'_>, selected: &[&str]) -> Result<(), Failures> {
    let mut failures: Vec<String> = selected
        .iter()
        .filter(|name| !CHECKS.iter().any(|(n, _)| n == *name))
        .map(|name| format!("{name}: no such check"))
        .collect();
    for (name, check) in CHECKS.iter().filter(|(n, _)| selected.contains(n)) {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(e) => {
                failures.push(format!("{name}: cannot make a temporary directory: {e}"));
                continue;
            }
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| check(make, dir.path())));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{name}: {e}")),
            Err(panic) => {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: panicked: {text}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failures(failures))
    }
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// `?` for anything displayable.
trait Context<T> {
    fn or_say(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn or_say(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

const ANY: ReadLimits<'static> = ReadLimits {
    max_bytes: u64::MAX,
    may_begin: &|_| true,
};

/// A 64-digit name with extension `ext`, distinct per `i`.
fn name(i: usize, ext: &str) -> String {
    format!("{i:064x}.{ext}")
}

fn read(store: &dyn Store, name: &str) -> Result<Option<Vec<u8>>, String> {
    match store.read(name, &ANY).or_say(&format!("read {name}"))? {
        Fetched::Bytes(bytes) => Ok(Some(bytes)),
        Fetched::Missing => Ok(None),
        other => Err(format!("read {name}: unexpected {other:?}")),
    }
}

fn names(store: &dyn Store) -> Result<BTreeMap<String, (u64, Kind)>, String> {
    let mut out = BTreeMap::new();
    for l in store.list().or_say("list")? {
        if out.insert(l.name.clone(), (l.size, l.kind)).is_some() {
            return Err(format!("list returns {} twice", l.name));
        }
    }
    Ok(out)
}

/// Bytes that tell their own name and length: `<name>|<tag>|` then filler up to `len`.
fn tagged(name: &str, tag: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{name}|{tag}|{len}|").into_bytes();
    let filler = (tag % 26) as u8 + b'a';
    v.resize(len.max(v.len()), filler);
    v
}

fn is_tagged(name: &str, bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let mut parts = text.splitn(4, '|');
    let (Some(n), Some(tag), Some(len), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(tag), Ok(len)) = (tag.parse::<usize>(), len.parse::<usize>()) else {
        return false;
    };
    n == name && bytes == tagged(name, tag, len).as_slice()
}

// ---- the checks ----------------------------------------------------------------------------

// Declared after `ensure!`, which they use.
mod buckets;
mod semantics;

#[cfg(test)]
mod tests {
    use std::io;

    use bucketcache::store::{FsStore, Listed};

    use super::*;

    fn fs(dir: &Path) -> Arc<dyn Store> {
        Arc::new(FsStore::new(dir, false))
    }

    #[test]
    fn the_file_store_passes() {
        bucketcache::install_default_backends().unwrap();
        check_store(fs).unwrap_or_else(|f| panic!("{f}"));
    }

    /// A file store with one fault.
    #[derive(Debug)]
    struct Broken {
        inner: FsStore,
        fault: Fault,
    }

    #[derive(Debug, Clone, Copy)]
    enum Fault {
        /// `remove_if` removes without asking.
        RemoveIfIgnoresTheCondition,
        /// `list` shows a helper file.
        ListsAHelperFile,
        /// `read` ignores `max_bytes`.
        IgnoresTheSizeLimit,
        /// `write` truncates values over 1000 bytes.
        TruncatesLargeValues,
    }

    impl Store for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn location(&self) -> &Path {
            self.inner.location()
        }
        fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
            match self.fault {
                Fault::IgnoresTheSizeLimit => self.inner.read(name, &ANY),
                _ => self.inner.read(name, limits),
            }
        }
        fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            match self.fault {
                Fault::TruncatesLargeValues => {
                    self.inner.write(name, &bytes[..bytes.len().min(1000)])
                }
                _ => self.inner.write(name, bytes),
            }
        }
        fn remove(&self, name: &str) -> io::Result<bool> {
            self.inner.remove(name)
        }
        fn remove_if(
            &self,
            name: &str,
            condition: &dyn Fn(&[u8]) -> bool,
        ) -> io::Result<Option<u64>> {
            match self.fault {
                Fault::RemoveIfIgnoresTheCondition => self.inner.remove_if(name, &|_| true),
                _ => self.inner.remove_if(name, condition),
            }
        }
        fn list(&self) -> io::Result<Vec<Listed>> {
            let mut listed = self.inner.list()?;
            if let Fault::ListsAHelperFile = self.fault {
                listed.push(Listed::new("store.lock".into(), 0, Kind::File, None));
            }
            Ok(listed)
        }
    }

    #[test]
    fn each_broken_rule_is_reported_by_its_check() {
        bucketcache::install_default_backends().unwrap();
        for (fault, check) in [
            (
                Fault::RemoveIfIgnoresTheCondition,
                "remove_if judges the current bytes",
            ),
            (Fault::ListsAHelperFile, "list"),
            (Fault::IgnoresTheSizeLimit, "read limits"),
            (Fault::TruncatesLargeValues, "exact bytes and sizes"),
        ] {
            let failures = check_store_only(&[check], |dir| {
                Arc::new(Broken {
                    inner: FsStore::new(dir, false),
                    fault,
                }) as Arc<dyn Store>
            })
            .unwrap_err();
            assert!(
                failures
                    .0
                    .iter()
                    .any(|f| f.starts_with(&format!("{check}: "))),
                "{fault:?} not reported by {check:?}: {failures}"
            );
        }
    }

    #[test]
    fn a_panicking_store_is_a_failure_not_a_crash() {
        #[derive(Debug)]
        struct Panics(FsStore);
        impl Store for Panics {
            fn name(&self) -> &str {
                "panics"
            }
            fn location(&self) -> &Path {
                self.0.location()
            }
            fn read(&self, _: &str, _: &ReadLimits<'_>) -> io::Result<Fetched> {
                panic!("read is not implemented")
            }
            fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
                self.0.write(name, bytes)
            }
            fn remove(&self, name: &str) -> io::Result<bool> {
                self.0.remove(name)
            }
            fn remove_if(
                &self,
                name: &str,
                condition: &dyn Fn(&[u8]) -> bool,
            ) -> io::Result<Option<u64>> {
                self.0.remove_if(name, condition)
            }
            fn list(&self) -> io::Result<Vec<Listed>> {
                self.0.list()
            }
        }
        bucketcache::install_default_backends().unwrap();
        let only = [
            "missing names",
            "exact bytes and sizes",
            "replace",
            "remove",
            "read limits",
        ];
        let failures = check_store_only(&only, |dir| {
            Arc::new(Panics(FsStore::new(dir, false))) as Arc<dyn Store>
        })
        .unwrap_err();
        assert!(
            failures.to_string().contains("read is not implemented"),
            "{failures}"
        );
        assert_eq!(failures.0.len(), 5, "every check reads: {failures}");
    }
}
