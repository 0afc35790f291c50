//! Issue #11: what a hostile directory, a bad plugin and a second process can do. Each rule is
//! tested through the public API: special and foreign files, the size limit, extension
//! ownership, the evidence rule for deleting, depth limits of writers and readers, far-future
//! lifetimes, option bounds, lifetime strings, plugin tables, and `#[cached]` under
//! `#![deny(warnings)]`.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{ErrorKind, Write};
#[cfg(unix)]
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketcache::backends::json::{JsonBackend, JsonConfig};
use bucketcache::inspect::State;
use bucketcache::lifetime::parse_lifetime;
use bucketcache::registry::{self, Origin};
use bucketcache::store::{Fetched, FsStore, Listed, ReadLimits, Store};
use bucketcache::time::latest_expiration;
use bucketcache::{
    plugins, Backend, BackendError, Bucket, BucketConfig, Clock, Decoded, Error, Expiration,
    ManualClock, Pruned, StoredValue,
};
use proptest::prelude::*;

use crate::common::{builder, clock, files_in};
use crate::plugins::fixture;

/// Every built-in backend.
const BACKENDS: [&str; 3] = ["json", "msgpack", "pickle"];

#[deny(warnings)]
mod one_expression_bodies {
    use std::sync::LazyLock;

    use bucketcache::Bucket;

    static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
    static BUCKET: LazyLock<Bucket> =
        LazyLock::new(|| Bucket::builder(DIR.path()).backend("json").open().unwrap());

    // One-line bodies, as in the README: rustc lints braces only around a one-line block, so
    // rustfmt must not spread them.
    #[rustfmt::skip]
    #[bucketcache::cached(bucket = BUCKET)]
    fn mul(a: i64, b: i64) -> i64 { a * b }

    #[rustfmt::skip]
    #[bucketcache::cached(bucket = BUCKET, ignore(_verbose), nocache = refresh)]
    fn mul_ignoring(a: i64, b: i64, _verbose: bool, refresh: bool) -> i64 { a * b }

    #[rustfmt::skip]
    #[bucketcache::cached(bucket = BUCKET)]
    async fn add(a: i64, b: i64) -> i64 { a + b }

    #[rustfmt::skip]
    #[bucketcache::cached(bucket = BUCKET)]
    fn checked(a: i64) -> Result<i64, String> { a.checked_mul(2).ok_or_else(|| "overflow".to_owned()) }

    #[test]
    fn cached_one_expression_bodies_compile_under_deny_warnings() {
        assert_eq!(mul(6, 7), 42);
        assert_eq!(mul(6, 7), 42);
        assert_eq!(mul_ignoring(6, 7, true, false), 42);
        assert_eq!(checked(21), Ok(42));
        assert_eq!(crate::common::block_on(add(40, 2)), 42);
    }
}

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

// ---------------------------------------------------------------------------------------------
// Special files: only regular files are read; links are not followed; nothing blocks.

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
            matches!(&listed[&name_of(&path)], State::Corrupt(why) if why.contains("over the limit")),
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

// ---------------------------------------------------------------------------------------------
// Foreign files and extension ownership.

#[test]
fn foreign_files_are_listed_as_foreign_and_never_pruned() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let b = hour_bucket(dir.path(), backend, &clock);
        b.set("k", &1).unwrap();
        // Each foreign name holds an expired entry's bytes: judged as an entry, it would go.
        let expired = fs::read(b.path_for_key("k").unwrap()).unwrap();
        let digest = b.hash_for_key("k").unwrap();
        let ext = b.backend().file_extension().to_owned();
        let foreign = [
            "package.json".to_owned(),
            "data.msgpack".to_owned(),
            "data.pickle".to_owned(),
            format!("{}.{ext}", &digest[..63]),
            format!("{digest}0.{ext}"),
            format!("{}.{ext}", digest.to_uppercase()),
            format!("{digest}.txt"),
            format!("{digest}.{ext}.bak"),
            "README".to_owned(),
        ];
        for name in &foreign {
            fs::write(dir.path().join(name), &expired).unwrap();
        }
        clock.advance(Duration::from_secs(2 * 3600));
        let listed = states(&b);
        for name in &foreign {
            assert!(
                matches!(listed.get(name), Some(State::Foreign(_))),
                "{backend}: {name}: {listed:?}"
            );
        }
        let pruned = b.prune().unwrap();
        assert_eq!(pruned.files, 1, "{backend}: only the expired entry");
        for name in &foreign {
            assert_eq!(fs::read(dir.path().join(name)).unwrap(), expired, "{name}");
        }
    }
}

/// The JSON backend under another name: a second claimant of the `.json` extension.
#[derive(Debug)]
struct JsonTwin;

impl Backend for JsonTwin {
    fn name(&self) -> &str {
        "json-twin"
    }
    fn file_extension(&self) -> &str {
        "json"
    }
    fn is_binary(&self) -> bool {
        false
    }
    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<Option<StoredValue>, BackendError> {
        JsonBackend::default().dump(value, expiration, out)
    }
    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
        JsonBackend::default().decode(bytes)
    }
}

fn json_twin_factory(_: &serde_json::Value) -> bucketcache::Result<Arc<dyn Backend>> {
    Ok(Arc::new(JsonTwin))
}

#[test]
fn a_second_backend_claiming_an_extension_is_refused_naming_both() {
    bucketcache::install_default_backends().unwrap();
    let check = |err: Error| {
        assert!(matches!(err, Error::BackendRefused { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("\"json-twin\""), "{message}");
        assert!(
            message.contains("its extension .json already belongs to backend \"json\""),
            "{message}"
        );
    };
    check(registry::register_backend_instance(Arc::new(JsonTwin), Origin::Program).unwrap_err());
    check(
        registry::register_backend_factory("json-twin", "a-third-party-crate", json_twin_factory)
            .unwrap_err(),
    );
    assert!(registry::backends().iter().all(|b| b.name != "json-twin"));
    let dir = tempfile::tempdir().unwrap();
    check(
        Bucket::builder(dir.path())
            .backend_instance(Arc::new(JsonTwin))
            .open()
            .unwrap_err(),
    );
}

// ---------------------------------------------------------------------------------------------
// A file is deleted as expired only on the evidence of that file.

#[test]
fn a_stale_memory_never_deletes_another_processs_fresh_entry() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let start: Expiration = "2030-01-01T12:00:00".parse().unwrap();
        let (clock_a, clock_b) = (Arc::new(ManualClock::new(start)), clock());
        let two_seconds = |clock: &Arc<ManualClock>| {
            builder(dir.path(), backend, clock)
                .lifetime(Duration::from_secs(2))
                .open()
                .unwrap()
        };
        let (a, b) = (two_seconds(&clock_a), two_seconds(&clock_b));
        let keys = ["read by get", "read by contains", "pruned"];
        for k in keys {
            a.set(k, &"from A").unwrap(); // expires at start + 2 s, in A's memory
        }
        clock_b.set(start + Duration::from_millis(1500));
        for k in keys {
            b.set(k, &"from B").unwrap(); // expires at start + 3.5 s, on disk
        }
        clock_a.set(start + Duration::from_millis(2500));
        let files = keys.map(|k| a.path_for_key(k).unwrap());

        // A's copies have expired: a miss, and B's files stay.
        assert_eq!(a.get::<String>(keys[0]).unwrap(), None, "{backend}");
        assert!(
            files[0].exists(),
            "{backend}: A's get deleted B's fresh file"
        );
        assert!(!a.contains(keys[1]).unwrap(), "{backend}");
        assert!(
            files[1].exists(),
            "{backend}: A's contains deleted B's fresh file"
        );
        assert_eq!(a.prune().unwrap().files, 0, "{backend}");
        assert!(
            files.iter().all(|f| f.exists()),
            "{backend}: A's prune deleted B's fresh files"
        );
        // The third stale copy is still in A's memory: one more miss, which deletes nothing.
        assert_eq!(a.get::<String>(keys[2]).unwrap(), None, "{backend}");
        assert!(files[2].exists(), "{backend}");
        // Having dropped its stale copies, A reads what is on disk: B's entries.
        for k in keys {
            assert_eq!(a.get::<String>(k).unwrap().as_deref(), Some("from B"));
        }
        clock_b.set(start + Duration::from_millis(2500));
        assert_eq!(
            two_seconds(&clock_b)
                .get::<String>(keys[2])
                .unwrap()
                .as_deref(),
            Some("from B"),
            "{backend}"
        );
        // Once the file itself has expired, A deletes it.
        clock_a.set(start + Duration::from_secs(4));
        assert_eq!(a.prune().unwrap().files, 3, "{backend}");
        assert!(files.iter().all(|f| !f.exists()), "{backend}");
    }
}

#[test]
fn prune_counts_an_entry_it_cannot_read_as_skipped_and_goes_on() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let writer = hour_bucket(dir.path(), backend, &clock);
        for k in ["a", "b", "c"] {
            writer.set(k, &k).unwrap();
        }
        let locked = name_of(&writer.path_for_key("b").unwrap());
        let store = Arc::new(Unreadable {
            inner: FsStore::new(dir.path(), false),
            unreadable: HashSet::from([locked.clone()]),
        });
        let b = builder(dir.path(), backend, &clock)
            .lifetime(Duration::from_secs(3600))
            .store_instance(store)
            .open()
            .unwrap();
        clock.advance(Duration::from_secs(2 * 3600));
        let listed = states(&b);
        assert!(
            matches!(&listed[&locked], State::Unreadable(why) if why.contains("Permission denied")),
            "{backend}: {listed:?}"
        );
        let pruned = b.prune().unwrap();
        assert_eq!((pruned.files, pruned.skipped), (2, 1), "{backend}");
        assert_eq!(files_in(dir.path()), [locked], "{backend}");
    }
}

// ---------------------------------------------------------------------------------------------
// What `set` accepts, `get` returns: the depth limits of writers and readers agree.

/// `depth` arrays around a number.
fn nested_arrays(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!(1), |v, _| serde_json::json!([v]))
}

/// `depth` objects around a number.
fn nested_objects(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!(1), |v, _| serde_json::json!({ "a": v }))
}

#[test]
fn each_backend_round_trips_values_at_its_depth_limit_and_refuses_deeper_ones_at_set() {
    assert_eq!(bucketcache::backends::json::MAX_DEPTH, 127);
    assert_eq!(bucketcache::backends::msgpack::MAX_DEPTH, 512);
    assert_eq!(bucketcache::backends::pickle::MAX_DEPTH, 199);
    let limits = [
        ("json", serde_json::Value::Null, 127),
        (
            "json",
            serde_json::json!({"sort_keys": true, "indent": 1}),
            127,
        ),
        ("msgpack", serde_json::Value::Null, 512),
        ("pickle", serde_json::Value::Null, 199),
    ];
    for (backend, options, max) in limits {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let open = || {
            builder(dir.path(), backend, &clock)
                .backend_options(options.clone())
                .open()
                .unwrap()
        };
        let b = open();
        for (shape, make) in [
            ("arrays", nested_arrays as fn(usize) -> serde_json::Value),
            ("objects", nested_objects),
        ] {
            let at_limit = make(max);
            b.set(&(shape, max), &at_limit).unwrap();
            // Read back by a bucket that has only the file.
            assert_eq!(
                open().get::<serde_json::Value>(&(shape, max)).unwrap(),
                Some(at_limit),
                "{backend} {options}: {shape} nested {max} deep"
            );
            let err = b.set(&(shape, max + 1), &make(max + 1)).unwrap_err();
            assert!(
                matches!(&err, Error::Encode { source: BackendError::Encode(why), .. }
                    if why.contains(&max.to_string())),
                "{backend} {options}: {shape}: {err}"
            );
            assert!(
                !b.path_for_key(&(shape, max + 1)).unwrap().exists(),
                "{backend}: nothing written"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lifetimes: expirations stay within year 9999; a unit appears once.

#[test]
fn lifetimes_past_year_9999_are_refused_when_the_bucket_opens() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock(); // 2030
    let refused = |b: bucketcache::BucketBuilder| {
        let err = b.open().unwrap_err();
        assert!(matches!(err, Error::InvalidLifetime(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("9999-12-31T23:59:59.999999"), "{message}");
        assert!(message.contains("Python"), "{message}");
    };
    refused(builder(dir.path(), "json", &clock).lifetime(Duration::MAX));
    refused(builder(dir.path(), "json", &clock).days(u64::MAX));
    refused(builder(dir.path(), "json", &clock).weeks(1_000_000));
    let config = BucketConfig::from_toml_str(&format!(
        "path = {:?}\nbackend = \"pickle\"\nlifetime = \"99999999999d\"",
        dir.path().display().to_string()
    ))
    .unwrap();
    refused(config.builder().unwrap().clock(clock.clone()));
    refused(config.builder().unwrap()); // the system clock

    // The limit is now + lifetime, by the bucket's clock.
    let now = clock.now();
    let room = (latest_expiration() - now).to_std().unwrap();
    for backend in ["json", "msgpack", "pickle"] {
        let b = builder(dir.path(), backend, &clock)
            .lifetime(room)
            .open()
            .unwrap();
        b.set("far", &1).unwrap();
        let (_, expiration) = b.get_with_expiration::<u8>("far").unwrap().unwrap();
        assert_eq!(expiration, Some(latest_expiration()), "{backend}");
        refused(builder(dir.path(), backend, &clock).lifetime(room + Duration::from_micros(1)));
    }
    let late = Arc::new(ManualClock::new("9999-06-01T00:00:00".parse().unwrap()));
    refused(builder(dir.path(), "json", &late).days(365));
    builder(dir.path(), "json", &late).days(200).open().unwrap();
}

#[test]
fn a_unit_given_twice_in_a_lifetime_is_refused() {
    for text in [
        "1h 1h",
        "1h1h",
        "1h 30m 2h",
        "1h 30hours",
        "2d 1day",
        "1s 500ms 1s",
    ] {
        let err = parse_lifetime(text).unwrap_err();
        assert!(matches!(err, Error::InvalidLifetime(_)), "{text}: {err:?}");
        assert!(err.to_string().contains("given twice"), "{text}: {err}");
        assert!(
            BucketConfig::from_toml_str(&format!("path = \"c\"\nlifetime = {text:?}")).is_err(),
            "{text}"
        );
    }
    assert!(parse_lifetime("1 h").is_err());
    assert_eq!(
        parse_lifetime("1w 2d 3h 4m 5s").unwrap(),
        Duration::from_secs((((9 * 24 + 3) * 60 + 4) * 60) + 5)
    );
    // Components that overflow a Duration between them are an error, not a panic.
    assert!(parse_lifetime("29000000000000w 200000000000000d").is_err());
}

// ---------------------------------------------------------------------------------------------
// Options and paths.

#[test]
fn numeric_backend_options_out_of_range_are_refused_naming_the_option_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let open = |backend: &str, options: serde_json::Value| {
        Bucket::builder(dir.path())
            .backend(backend)
            .backend_options(options)
            .open()
    };
    for indent in [65, 100_000_000] {
        let err = open("json", serde_json::json!({ "indent": indent })).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(
            err.to_string().contains(&format!(
                "indent = {indent} is out of range: it must be 0 to 64"
            )),
            "{err}"
        );
    }
    let b = open("json", serde_json::json!({ "indent": 64 })).unwrap();
    b.set("k", &serde_json::json!([[1, 2], [3]])).unwrap();
    assert!(fs::metadata(b.path_for_key("k").unwrap()).unwrap().len() < 4096);
    for bad in [
        serde_json::json!({ "indent": -1 }),
        serde_json::json!({ "indent": 1.5 }),
    ] {
        assert!(matches!(open("json", bad), Err(Error::Config(_))));
    }
    // From a configuration file, as the issue reported it.
    let config = BucketConfig::from_toml_str(&format!(
        "path = {:?}\nbackend = \"json\"\n[backend_options.json]\nindent = 100000000",
        dir.path().display().to_string()
    ))
    .unwrap();
    let err = Bucket::from_config(&config).unwrap_err();
    assert!(err.to_string().contains("indent = 100000000"), "{err}");
    // Nor can a backend instance be built with such options.
    let err = JsonBackend::new(JsonConfig::default().indent(Some(100_000_000))).unwrap_err();
    assert!(err.to_string().contains("indent"), "{err}");
    // pickle's one numeric option is its protocol; msgpack has none (its options are flags).
    for protocol in [0, 4, 200] {
        let err = open("pickle", serde_json::json!({ "protocol": protocol })).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("pickle protocol {protocol} is not supported")),
            "{err}"
        );
    }
    assert!(matches!(
        open("pickle", serde_json::json!({ "protocol": 100_000 })),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        open("msgpack", serde_json::json!({ "use_single_float": 100 })),
        Err(Error::Config(_))
    ));
}

#[test]
fn an_empty_path_is_a_config_error_not_the_config_files_folder() {
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in [
        ("cache.toml", "path = \"\"\nbackend = \"json\"\n"),
        ("cache.json", r#"{"path": "", "backend": "json"}"#),
    ] {
        let file = dir.path().join(file);
        fs::write(&file, text).unwrap();
        let err = BucketConfig::from_file(&file).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("path is empty"), "{err}");
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
    }
    let config = BucketConfig::from_toml_str("path = \"\"").unwrap();
    assert!(matches!(
        Bucket::from_config(&config),
        Err(Error::Config(_))
    ));
    let err = Bucket::builder("").backend("json").open().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("empty"), "{err}");
    // "." is how a configuration names its own folder.
    let file = dir.path().join("here.toml");
    fs::write(&file, "path = \".\"\nbackend = \"json\"\n").unwrap();
    let b = Bucket::from_config(&BucketConfig::from_file(&file).unwrap()).unwrap();
    assert_eq!(b.path(), dir.path().canonicalize().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Plugins: every pointer and length that crosses the ABI is checked.

#[test]
fn a_plugin_table_with_a_null_function_or_name_is_refused_while_loading() {
    for (defect, reason) in [
        ("null-encode", "the table's encode function pointer is null"),
        ("null-decode", "the table's decode function pointer is null"),
        ("null-free", "the table's free function pointer is null"),
        ("null-name", "name is a null pointer"),
    ] {
        let path = fixture(defect);
        let err = plugins::load(path).unwrap_err();
        assert!(matches!(err, Error::Plugin { .. }), "{defect}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!("plugin {}: {reason}", path.display()),
            "{defect}"
        );
    }
}

#[test]
fn plugin_answers_claiming_huge_lengths_or_null_bytes_are_failures_not_aborts() {
    let info = plugins::load(fixture("lying-lengths")).unwrap();
    assert_eq!(info.name, "liar");
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).backend("liar").open().unwrap();
    b.set("k", &"an honest value").unwrap();
    assert_eq!(
        b.get::<String>("k").unwrap().as_deref(),
        Some("an honest value")
    );
    let lies = [
        (
            "huge-answer",
            "a buffer of 1099511627776 bytes, over the limit of 1073741824",
        ),
        ("null-answer", "a null buffer of 7 bytes"),
    ];
    for (word, why) in lies {
        // encode answers the lie: `set` fails and writes nothing.
        let err = b.set(word, &word).unwrap_err();
        assert!(
            matches!(&err, Error::Encode { source: BackendError::Failure(m), .. } if m.contains(why)),
            "{word}: {err}"
        );
        assert!(!b.path_for_key(word).unwrap().exists(), "{word}");
        // decode answers the lie for a file holding the word: a miss, and a failure to decode.
        let file = b.path_for_key(&("file", word)).unwrap();
        let bytes = [b"FX".as_slice(), word.as_bytes()].concat();
        fs::write(&file, &bytes).unwrap();
        let fresh = Bucket::builder(dir.path()).backend("liar").open().unwrap();
        assert_eq!(
            fresh.get::<String>(&("file", word)).unwrap(),
            None,
            "{word}"
        );
        let err = fresh.backend().decode(&bytes).unwrap_err();
        assert!(
            matches!(&err, BackendError::Failure(m) if m.contains(why)),
            "{word}: {err}"
        );
        assert!(
            file.exists(),
            "{word}: a file the plugin cannot read is kept"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The directory scan over random mixes: nothing but expired entries is ever deleted.

/// Random directories (Unix only: FIFOs and links).
#[cfg(unix)]
mod scan {
    use super::*;

    /// One thing put in a cache directory.
    #[derive(Debug, Clone, Copy)]
    enum Thing {
        /// An entry written just now.
        Live,
        /// An entry whose expiration has passed.
        Expired,
        /// An entry's name holding bytes that do not decode (a truncated expired entry, garbage,
        /// nothing): never deleted, whatever it once was.
        Corrupt(u8),
        /// An expired or live entry that the store cannot read (another user's file).
        Unreadable { expired: bool },
        /// A name that is not an entry's (`package.json`, a digest one digit short, ...), holding an
        /// expired entry's bytes.
        Foreign(u8),
        /// An expired entry of another backend: not this bucket's to judge.
        OtherBackend,
        /// A symbolic link named like an entry, to an expired entry outside the directory.
        Link,
        /// A FIFO named like an entry.
        Fifo,
        /// A directory named like an entry.
        Directory,
    }

    fn thing() -> impl Strategy<Value = Thing> {
        prop_oneof![
            Just(Thing::Live),
            Just(Thing::Expired),
            (0u8..3).prop_map(Thing::Corrupt),
            any::<bool>().prop_map(|expired| Thing::Unreadable { expired }),
            (0u8..6).prop_map(Thing::Foreign),
            Just(Thing::OtherBackend),
            Just(Thing::Link),
            Just(Thing::Fifo),
            Just(Thing::Directory),
        ]
    }

    /// What a name should look like after `prune`: gone, or exactly as it was.
    #[derive(Debug, PartialEq)]
    enum After {
        Gone,
        Bytes(Vec<u8>),
        Link(PathBuf),
        Fifo,
        Directory,
    }

    fn after(path: &Path) -> After {
        let Ok(meta) = fs::symlink_metadata(path) else {
            return After::Gone;
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            After::Link(fs::read_link(path).unwrap())
        } else if kind.is_dir() {
            After::Directory
        } else if kind.is_file() {
            After::Bytes(fs::read(path).unwrap())
        } else {
            After::Fifo
        }
    }

    fn scan_and_prune(backend: &str, things: &[Thing]) -> Result<(), TestCaseError> {
        let other = if backend == "msgpack" {
            "json"
        } else {
            "msgpack"
        };
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let clock = clock();
        let past = Arc::new(ManualClock::new(clock.now() - chrono::TimeDelta::hours(2)));
        let old = hour_bucket(dir.path(), backend, &past);
        let old_other = hour_bucket(dir.path(), other, &past);
        let old_outside = hour_bucket(outside.path(), backend, &past);
        let now = hour_bucket(dir.path(), backend, &clock);

        let mut unreadable = HashSet::new();
        let mut expected: BTreeMap<String, (After, &'static str)> = BTreeMap::new();
        let (mut expired_files, mut unreadable_entries) = (0, 0);
        for (i, thing) in things.iter().enumerate() {
            let key = format!("key {i}");
            let path = now.path_for_key(&key).unwrap();
            let name = name_of(&path);
            let state = match *thing {
                Thing::Live => {
                    now.set(&key, &i).unwrap();
                    "ok"
                }
                Thing::Expired => {
                    old.set(&key, &i).unwrap();
                    expired_files += 1;
                    expected.insert(name, (After::Gone, "expired"));
                    continue;
                }
                Thing::Corrupt(flavour) => {
                    old.set(&key, &"an expired value, cut short").unwrap();
                    let whole = fs::read(&path).unwrap();
                    let bytes = match flavour {
                        0 => whole[..whole.len() / 2].to_vec(),
                        1 => b"\x00 garbage \xff".to_vec(),
                        _ => Vec::new(),
                    };
                    fs::write(&path, bytes).unwrap();
                    "corrupt"
                }
                Thing::Unreadable { expired } => {
                    let by = if expired { &old } else { &now };
                    by.set(&key, &i).unwrap();
                    unreadable.insert(name.clone());
                    unreadable_entries += 1;
                    "unreadable"
                }
                Thing::Foreign(which) => {
                    old.set(&key, &i).unwrap();
                    let digest = now.hash_for_key(&key).unwrap();
                    let ext = now.backend().file_extension().to_owned();
                    let foreign = match which {
                        0 => format!("package-{i}.json"),
                        1 => format!("data-{i}.msgpack"),
                        2 => format!("{}.{ext}", &digest[..digest.len() - 1]),
                        3 => format!("{digest}{i:x}.{ext}"),
                        4 => format!("{}.{ext}", digest.to_uppercase()),
                        _ => format!("{digest}.{ext}.{i}"),
                    };
                    fs::rename(&path, dir.path().join(&foreign)).unwrap();
                    let bytes = fs::read(dir.path().join(&foreign)).unwrap();
                    expected.insert(foreign, (After::Bytes(bytes), "foreign"));
                    continue;
                }
                Thing::OtherBackend => {
                    old_other.set(&key, &i).unwrap();
                    let path = old_other.path_for_key(&key).unwrap();
                    let bytes = fs::read(&path).unwrap();
                    expected.insert(name_of(&path), (After::Bytes(bytes), "unlisted"));
                    continue;
                }
                Thing::Link => {
                    old_outside.set(&key, &i).unwrap();
                    let target = old_outside.path_for_key(&key).unwrap();
                    std::os::unix::fs::symlink(&target, &path).unwrap();
                    "foreign"
                }
                Thing::Fifo => {
                    mkfifo(&path);
                    "foreign"
                }
                Thing::Directory => {
                    fs::create_dir(&path).unwrap();
                    "foreign"
                }
            };
            expected.insert(name, (after(&path), state));
        }
        let outside_before: Vec<_> = files_in(outside.path())
            .into_iter()
            .map(|n| (after(&outside.path().join(&n)), n))
            .collect();

        let store = Arc::new(Unreadable {
            inner: FsStore::new(dir.path(), false),
            unreadable,
        });
        let b = builder(dir.path(), backend, &clock)
            .lifetime(Duration::from_secs(3600))
            .store_instance(store)
            .open()
            .unwrap();
        let scan = within("a scan", {
            let b = b.clone();
            move || (states(&b), b.prune().unwrap(), states(&b))
        });
        let (before, pruned, after_prune) = scan;

        for (name, (_, state)) in &expected {
            let listed = before.get(name).map(State::word).unwrap_or("unlisted");
            prop_assert_eq!(listed, *state, "{} before the prune", name);
        }
        prop_assert_eq!(pruned.files, expired_files);
        prop_assert_eq!(pruned.skipped, unreadable_entries);
        for (name, (what, _)) in &expected {
            prop_assert_eq!(
                &after(&dir.path().join(name)),
                what,
                "{} after the prune",
                name
            );
            if *what == After::Gone {
                prop_assert!(!after_prune.contains_key(name));
            }
        }
        prop_assert_eq!(
            files_in(dir.path()).len(),
            expected.values().filter(|(a, _)| *a != After::Gone).count()
        );
        for (was, name) in outside_before {
            prop_assert_eq!(after(&outside.path().join(&name)), was, "{} outside", name);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn prune_and_the_scan_delete_nothing_but_expired_entries(
            backend in prop::sample::select(vec!["json", "msgpack", "pickle"]),
            things in prop::collection::vec(thing(), 1..14),
        ) {
            scan_and_prune(backend, &things)?;
        }
    }
}
