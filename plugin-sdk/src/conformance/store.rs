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
//! use bucketcache_core::store::{FsStore, Store};
//! bucketcache_plugin_sdk::conformance::check_store(|dir| {
//!     Arc::new(FsStore::new(dir, false)) as Arc<dyn Store>
//! })
//! .unwrap();
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bucketcache_core::backend::HEAD_LEN;
use bucketcache_core::registry::{self, Origin};
use bucketcache_core::store::{Fetched, Kind, ReadLimits, Store};
use bucketcache_core::{inspect::State, Bucket, ManualClock};

use super::Failures;

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
/// use bucketcache_core::store::{FsStore, Store};
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
    head: &|_| true,
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

// ---- the store itself ----------------------------------------------------------------------

fn missing_names(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(1, "json");
    ensure!(
        matches!(store.read(&n, &ANY).or_say("read")?, Fetched::Missing),
        "reading a missing name is not Fetched::Missing"
    );
    ensure!(
        !store.remove(&n).or_say("remove")?,
        "removing a missing name says it removed something"
    );
    let called = AtomicBool::new(false);
    let removed = store
        .remove_if(&n, &|_| {
            called.store(true, Ordering::SeqCst);
            true
        })
        .or_say("remove_if")?;
    ensure!(
        removed.is_none(),
        "remove_if of a missing name removed {removed:?}"
    );
    ensure!(
        !called.load(Ordering::SeqCst),
        "remove_if called the condition for a missing name"
    );
    store.touch(&n).or_say("touching a missing name")?;
    ensure!(
        read(&*store, &n)?.is_none(),
        "touching a missing name created it"
    );
    let listed = names(&*store)?;
    ensure!(
        listed.is_empty(),
        "a new store lists {:?}",
        listed.keys().collect::<Vec<_>>()
    );
    Ok(())
}

fn exact_bytes_and_sizes(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..1usize << 20).map(|i| (i * 7 % 251) as u8).collect();
    let cases: [(&str, &[u8]); 5] = [
        ("empty", b""),
        ("one byte", b"\0"),
        ("every byte value", &all_bytes),
        ("a head's length", &all_bytes[..HEAD_LEN]),
        ("1 MiB", &big),
    ];
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let n = name(i, "bin");
        store.write(&n, bytes).or_say(&format!("write {what}"))?;
        let back = read(&*store, &n)?;
        ensure!(
            back.as_deref() == Some(*bytes),
            "{what}: read back {:?} bytes, wrote {}",
            back.map(|b| b.len()),
            bytes.len()
        );
    }
    let listed = names(&*store)?;
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let size = listed.get(&name(i, "bin")).map(|(size, _)| *size);
        ensure!(
            size == Some(bytes.len() as u64),
            "{what}: listed with size {size:?}, not {}",
            bytes.len()
        );
    }
    Ok(())
}

fn replace(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(7, "json");
    for bytes in [&b"a long first value"[..], b"short", b"", b"again longer"] {
        store.write(&n, bytes).or_say("write")?;
        let back = read(&*store, &n)?;
        ensure!(
            back.as_deref() == Some(bytes),
            "after replacing with {:?} read {:?}",
            String::from_utf8_lossy(bytes),
            back.map(|b| String::from_utf8_lossy(&b).into_owned())
        );
    }
    ensure!(
        names(&*store)?.len() == 1,
        "replacing made more than one name"
    );
    Ok(())
}

fn remove(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let (a, b) = (name(1, "json"), name(2, "json"));
    store.write(&a, b"a").or_say("write")?;
    store.write(&b, b"b").or_say("write")?;
    ensure!(
        store.remove(&a).or_say("remove")?,
        "remove of an entry said false"
    );
    ensure!(read(&*store, &a)?.is_none(), "a removed entry still reads");
    ensure!(
        !store.remove(&a).or_say("remove again")?,
        "a second remove said true"
    );
    ensure!(
        read(&*store, &b)?.as_deref() == Some(&b"b"[..]),
        "removing one entry touched another"
    );
    let listed = names(&*store)?;
    ensure!(
        listed.keys().eq([&b]),
        "after a remove, list gives {:?}",
        listed.keys().collect::<Vec<_>>()
    );
    Ok(())
}

fn remove_if(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(3, "msgpack");
    store.write(&n, b"old").or_say("write")?;
    store.write(&n, b"current").or_say("write")?;
    let seen = std::sync::Mutex::new(Vec::new());
    let kept = store
        .remove_if(&n, &|bytes| {
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(bytes.to_vec());
            false
        })
        .or_say("remove_if")?;
    ensure!(kept.is_none(), "a false condition removed {kept:?}");
    let seen = seen.into_inner().unwrap_or_else(|p| p.into_inner());
    ensure!(
        seen == [b"current".to_vec()],
        "the condition was shown {:?}, not the current bytes once",
        seen.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
    );
    ensure!(read(&*store, &n)?.is_some(), "a false condition removed it");
    let removed = store
        .remove_if(&n, &|bytes| bytes == b"current")
        .or_say("remove_if")?;
    ensure!(
        removed == Some(7),
        "a true condition answered {removed:?}, not Some(7)"
    );
    ensure!(read(&*store, &n)?.is_none(), "remove_if left the entry");
    Ok(())
}

fn list(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let mut expected = BTreeMap::new();
    for i in 0..20 {
        let n = name(i, if i % 2 == 0 { "json" } else { "pickle" });
        let bytes = vec![b'x'; i * 3];
        store.write(&n, &bytes).or_say("write")?;
        expected.insert(n, (bytes.len() as u64, Kind::File));
    }
    store.remove(&name(4, "json")).or_say("remove")?;
    expected.remove(&name(4, "json"));
    let listed = names(&*store)?;
    ensure!(
        listed == expected,
        "list gives {listed:?}, expected {expected:?} (a store's own files and temporaries are not listed)"
    );
    let stale = store.stale_temporaries().or_say("stale_temporaries")?;
    ensure!(
        stale.is_empty(),
        "after successful writes, stale temporaries: {stale:?}"
    );
    Ok(())
}

fn read_limits(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(5, "json");
    let bytes: Vec<u8> = (0..100u8).collect();
    store.write(&n, &bytes).or_say("write")?;
    let small = ReadLimits {
        max_bytes: 99,
        head: &|_| true,
    };
    let got = store.read(&n, &small).or_say("read")?;
    ensure!(
        matches!(got, Fetched::TooLarge(100)),
        "100 bytes with max_bytes 99 gave {got:?}, not TooLarge(100)"
    );
    let exact = ReadLimits {
        max_bytes: 100,
        head: &|_| true,
    };
    let got = store.read(&n, &exact).or_say("read")?;
    ensure!(
        matches!(&got, Fetched::Bytes(b) if *b == bytes),
        "100 bytes with max_bytes 100 gave {got:?}"
    );
    let heads = std::sync::Mutex::new(Vec::new());
    let refuse = |h: &[u8]| {
        heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(h.to_vec());
        false
    };
    let picky = ReadLimits {
        max_bytes: 1000,
        head: &refuse,
    };
    let got = store.read(&n, &picky).or_say("read")?;
    ensure!(
        matches!(got, Fetched::Rejected),
        "a refused head gave {got:?}, not Rejected"
    );
    let shown = heads.into_inner().unwrap_or_else(|p| p.into_inner());
    ensure!(
        shown.len() == 1 && shown[0] == bytes[..HEAD_LEN],
        "the head shown was {shown:?}, not the first {HEAD_LEN} bytes"
    );
    let short = name(6, "json");
    store.write(&short, b"{}").or_say("write")?;
    let got = store
        .read(
            &short,
            &ReadLimits {
                max_bytes: 10,
                head: &|h| h == b"{}",
            },
        )
        .or_say("read")?;
    ensure!(
        matches!(&got, Fetched::Bytes(b) if b == b"{}"),
        "a 2-byte entry's head is the whole entry: got {got:?}"
    );
    Ok(())
}

fn names_with_every_extension(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let mut extensions: BTreeSet<String> = registry::backends()
        .into_iter()
        .map(|b| b.extension)
        .collect();
    extensions.extend(["json", "msgpack", "pickle", "bin", "cbor", "x"].map(String::from));
    let mut written = BTreeSet::new();
    for (i, ext) in extensions.iter().enumerate() {
        for n in [name(i, ext), format!("{i:032x}.{ext}")] {
            store
                .write(&n, n.as_bytes())
                .or_say(&format!("write {n}"))?;
            ensure!(
                read(&*store, &n)?.as_deref() == Some(n.as_bytes()),
                "{n} does not read back"
            );
            written.insert(n);
        }
    }
    let listed: BTreeSet<String> = names(&*store)?.into_keys().collect();
    ensure!(
        listed == written,
        "list differs from what was written: missing {:?}, extra {:?}",
        written.difference(&listed).collect::<Vec<_>>(),
        listed.difference(&written).collect::<Vec<_>>()
    );
    Ok(())
}

fn many_keys(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    const N: usize = 2000;
    for i in 0..N {
        let n = name(i, "msgpack");
        store
            .write(&n, &tagged(&n, i, 40 + i % 300))
            .or_say("write")?;
    }
    let listed = names(&*store)?;
    ensure!(
        listed.len() == N,
        "{N} keys written, {} listed",
        listed.len()
    );
    for i in (0..N).step_by(97) {
        let n = name(i, "msgpack");
        let back = read(&*store, &n)?.unwrap_or_default();
        ensure!(is_tagged(&n, &back), "key {i} reads a wrong value");
        ensure!(
            listed.get(&n).map(|l| l.0) == Some(back.len() as u64),
            "key {i} is listed with a wrong size"
        );
    }
    Ok(())
}

fn touch(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(9, "json");
    store.write(&n, b"value").or_say("write")?;
    store.touch(&n).or_say("touch")?;
    ensure!(
        read(&*store, &n)?.as_deref() == Some(&b"value"[..]),
        "touch changed the entry"
    );
    Ok(())
}

fn concurrent_writers(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    const THREADS: usize = 4;
    const WRITES: usize = 250;
    const KEYS: usize = 20;
    let errors = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = &store;
            let errors = &errors;
            s.spawn(move || {
                for seq in 0..WRITES {
                    let k = (seq * 7 + t) % KEYS;
                    let n = name(k, "json");
                    let tag = t * WRITES + seq;
                    let result = if seq % 5 == 4 {
                        store.remove(&n).map(drop)
                    } else {
                        store.write(&n, &tagged(&n, tag, 50 + (tag * 13) % 3000))
                    };
                    if let Err(e) = result {
                        errors
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(e.to_string());
                        return;
                    }
                    if let Ok(Fetched::Bytes(b)) = store.read(&n, &ANY) {
                        if !is_tagged(&n, &b) {
                            errors
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("{n} read a mixed or foreign value"));
                            return;
                        }
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    ensure!(errors.is_empty(), "{errors:?}");
    for (n, _) in names(&*store)? {
        let back = read(&*store, &n)?.unwrap_or_default();
        ensure!(is_tagged(&n, &back), "{n} holds a mixed or foreign value");
    }
    let stale = store.stale_temporaries().or_say("stale_temporaries")?;
    ensure!(stale.is_empty(), "writers left temporaries: {stale:?}");
    Ok(())
}

fn atomic_replacement(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(11, "msgpack");
    let a = tagged(&n, 1, 200_000);
    let b = tagged(&n, 2, 70_000);
    store.write(&n, &a).or_say("write")?;
    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let outcome = std::thread::scope(|s| {
        let reader = s.spawn(|| -> Result<(), String> {
            while !done.load(Ordering::SeqCst) {
                let got = read(&*store, &n)?;
                reads.fetch_add(1, Ordering::Relaxed);
                match got {
                    Some(bytes) if bytes == a || bytes == b => {}
                    Some(bytes) => {
                        return Err(format!("a reader saw {} bytes, neither value", bytes.len()))
                    }
                    None => return Err("a reader saw the entry missing during a replace".into()),
                }
            }
            Ok(())
        });
        let mut written = Ok(());
        // Writes go on until the reader has read many times (and at least 200 writes).
        let mut i = 0;
        while i < 200 || (reads.load(Ordering::Relaxed) < 200 && i < 20_000) {
            let value = if i % 2 == 0 { &b } else { &a };
            if let Err(e) = store.write(&n, value) {
                written = Err(format!("write: {e}"));
                break;
            }
            i += 1;
        }
        done.store(true, Ordering::SeqCst);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err("the reader panicked".into()));
        written.and(read)
    });
    outcome
}

fn second_instance(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let n = name(12, "json");
    {
        let first = make(dir);
        first.write(&n, b"persisted").or_say("write")?;
        let second = make(dir);
        ensure!(
            read(&*second, &n)?.as_deref() == Some(&b"persisted"[..]),
            "a second instance open at the same time does not see the write"
        );
        second.write(&n, b"from the second").or_say("write")?;
        ensure!(
            read(&*first, &n)?.as_deref() == Some(&b"from the second"[..]),
            "the first instance does not see the second's write"
        );
    }
    let later = make(dir);
    ensure!(
        read(&*later, &n)?.as_deref() == Some(&b"from the second"[..]),
        "an instance opened after the others were dropped does not see their writes"
    );
    Ok(())
}

// ---- through a bucket ----------------------------------------------------------------------

/// The backends of linked crates.
fn linked_backends() -> Result<Vec<String>, String> {
    let names: Vec<String> = registry::backends()
        .into_iter()
        .filter(|b| matches!(b.origin, Origin::BuiltIn(_) | Origin::Crate(_)))
        .map(|b| b.name)
        .collect();
    ensure!(
        !names.is_empty(),
        "no backend is registered: link `bucketcache` (or register backends) before the kit runs"
    );
    Ok(names)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        "2030-01-01T12:00:00.250000".parse().unwrap_or_default(),
    ))
}

fn bucket(
    store: &Arc<dyn Store>,
    backend: &str,
    clock: &Arc<ManualClock>,
    lifetime: Option<Duration>,
) -> Result<Bucket, String> {
    let mut b = Bucket::builder(store.location())
        .store_instance(store.clone())
        .backend(backend)
        .clock(clock.clone());
    if let Some(l) = lifetime {
        b = b.lifetime(l);
    }
    b.open().or_say(&format!("open a {backend} bucket"))
}

type Sample = (
    String,
    i64,
    Vec<f64>,
    bool,
    Option<String>,
    BTreeMap<String, u32>,
);

fn sample(i: i64) -> Sample {
    (
        format!("h\u{e9}llo {i}"),
        -i * 1_000_003,
        vec![0.5, -2.25, i as f64],
        i % 2 == 0,
        (i % 3 == 0).then(|| "some".to_owned()),
        BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), i as u32)]),
    )
}

fn every_backend_round_trips(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backends = linked_backends()?;
    for backend in &backends {
        let b = bucket(&store, backend, &clock, None)?;
        for i in 0..10 {
            b.set(&("key", i), &sample(i)).or_say("set")?;
        }
        for i in 0..10 {
            let got: Option<Sample> = b.get(&("key", i)).or_say("get")?;
            ensure!(got == Some(sample(i)), "{backend}: key {i} reads {got:?}");
        }
        ensure!(
            b.contains(&("key", 3)).or_say("contains")?,
            "{backend}: contains is false"
        );
        ensure!(
            b.remove(&("key", 3)).or_say("remove")?,
            "{backend}: remove is false"
        );
        ensure!(
            b.get::<Sample>(&("key", 3)).or_say("get")?.is_none(),
            "{backend}: a removed key reads"
        );
    }
    // Cold: new buckets on a new instance of the store read what the others wrote.
    let again = make(dir);
    for backend in &backends {
        let b = bucket(&again, backend, &clock, None)?;
        for i in [0, 5, 9] {
            let got: Option<Sample> = b.get(&("key", i)).or_say("get")?;
            ensure!(
                got == Some(sample(i)),
                "{backend}: a new bucket reads key {i} as {got:?}"
            );
        }
        ensure!(
            b.get::<Sample>(&("key", 3)).or_say("get")?.is_none(),
            "{backend}: a new bucket reads a removed key"
        );
    }
    let entries = names(&*again)?.len();
    ensure!(
        entries == backends.len() * 9,
        "{entries} names listed for {} backends × 9 entries",
        backends.len()
    );
    Ok(())
}

fn expiry(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, Some(Duration::from_secs(60)))?;
    b.set("soon", &1).or_say("set")?;
    let file = b.path_for_key("soon").or_say("path_for_key")?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    clock.advance(Duration::from_secs(59));
    ensure!(
        b.get::<i32>("soon").or_say("get")? == Some(1),
        "an entry expired before its lifetime"
    );
    clock.advance(Duration::from_secs(2));
    let fresh = bucket(&store, backend, &clock, Some(Duration::from_secs(60)))?;
    ensure!(
        fresh.get::<i32>("soon").or_say("get")?.is_none(),
        "an expired entry reads as a value"
    );
    ensure!(
        read(&*store, &name)?.is_none(),
        "an expired entry was not deleted on read"
    );
    b.set("later", &2).or_say("set")?;
    ensure!(
        b.get::<i32>("later").or_say("get")? == Some(2),
        "a new entry after expiry does not read"
    );
    Ok(())
}

fn prune(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, Some(Duration::from_secs(60)))?;
    for i in 0..3 {
        b.set(&("old", i), &i).or_say("set")?;
    }
    clock.advance(Duration::from_secs(120));
    b.set("fresh", &"kept").or_say("set")?;
    store
        .write("package.json", b"{}")
        .or_say("write a foreign name")?;
    let plan = b.inspector().prune_plan().or_say("prune_plan")?;
    ensure!(
        plan.removals.len() == 3,
        "the prune plan removes {} names, not 3",
        plan.removals.len()
    );
    let pruned = b.prune().or_say("prune")?;
    ensure!(
        pruned.files == 3,
        "prune removed {} entries, not 3",
        pruned.files
    );
    ensure!(
        b.get::<String>("fresh").or_say("get")?.as_deref() == Some("kept"),
        "prune removed a live entry"
    );
    ensure!(
        read(&*store, "package.json")?.is_some(),
        "prune removed a foreign name"
    );
    ensure!(
        names(&*store)?.len() == 2,
        "after prune: {:?}",
        names(&*store)?.keys().collect::<Vec<_>>()
    );
    Ok(())
}

fn deferred_writes(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, None)?;
    let d = b.deferred();
    for i in 0..50 {
        d.set("counter", &i).or_say("deferred set")?;
    }
    ensure!(
        names(&*store)?.is_empty(),
        "a deferred write reached the store before sync"
    );
    d.sync().or_say("sync")?;
    ensure!(d.unsynced() == 0, "entries still pending after sync");
    let fresh = bucket(&make(dir), backend, &clock, None)?;
    ensure!(
        fresh.get::<i32>("counter").or_say("get")? == Some(49),
        "a new bucket does not read the synced value"
    );
    Ok(())
}

fn memoization(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, None)?;
    let calls = AtomicUsize::new(0);
    let compute = || {
        calls.fetch_add(1, Ordering::SeqCst);
        vec![7u32; 7]
    };
    let first: Vec<u32> = b
        .get_or_insert_with(&("square", 7), compute)
        .or_say("memoize")?;
    let second: Vec<u32> = b
        .get_or_insert_with(&("square", 7), compute)
        .or_say("memoize")?;
    let fresh = bucket(&make(dir), backend, &clock, None)?;
    let third: Vec<u32> = fresh
        .get_or_insert_with(&("square", 7), compute)
        .or_say("memoize")?;
    ensure!(
        first == vec![7; 7] && second == first && third == first,
        "memoized values differ"
    );
    let calls = calls.load(Ordering::SeqCst);
    ensure!(calls == 1, "computed {calls} times, not once");
    Ok(())
}

fn inspector(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, None)?;
    for i in 0..5 {
        b.set(&i, &i).or_say("set")?;
    }
    store.write("notes.txt", b"hello").or_say("write")?;
    let items = b.inspector().items().or_say("items")?;
    let ok = items.iter().filter(|i| i.state == State::Ok).count();
    let foreign = items
        .iter()
        .filter(|i| matches!(i.state, State::Foreign(_)))
        .count();
    ensure!(
        ok == 5 && foreign == 1 && items.len() == 6,
        "the inspector sees {ok} entries and {foreign} foreign names in {} items",
        items.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io;

    use bucketcache_core::store::{FsStore, Listed};

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
