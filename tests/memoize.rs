//! Memoization and deferred writes: a port of the original's `test_decorator.py` (rows marked
//! Y/A) and of its deferred-write tests, plus what the port adds: function identity in keys,
//! `Result` caching, `async fn`, single flight, deferred writes that fail cleanly, and hits
//! across two process runs.

use std::collections::HashMap;
use std::io;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use bucketcache::store::{Fetched, FsStore, Listed, ReadLimits, Store};
use bucketcache::{deferred_write, Bucket, CachedCallInfo, DeferredWriteBucket, Error};
use serde::Serialize;

use crate::common::{block_on, builder, clock, files_in};

/// The backend of these tests (memoization does not depend on the format).
const BACKEND: &str = "json";

fn bucket_in(dir: &Path) -> Bucket {
    Bucket::builder(dir).backend(BACKEND).open().unwrap()
}

/// Entry files (temporary files start with a dot).
fn entries(dir: &Path) -> usize {
    files_in(dir).iter().filter(|n| !n.starts_with('.')).count()
}

// ---- the decorator on free functions ----

#[test]
fn a_second_call_with_the_same_arguments_is_a_hit() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b))]
    fn add(b: &Bucket, x: i64, y: i64) -> i64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        x + y
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert_eq!(add(&b, 1, 2), 3);
    assert_eq!(add(&b, 1, 2), 3);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(
        add(&b, 2, 1),
        3,
        "different arguments are a different entry"
    );
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(entries(dir.path()), 2);
    // A new bucket on the same directory reads the files.
    let fresh = bucket_in(dir.path());
    assert_eq!(add(&fresh, 1, 2), 3);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}

mod first {
    use bucketcache::Bucket;
    #[bucketcache::cached(bucket = b, ignore(b))]
    pub fn describe(b: &Bucket, x: u32) -> String {
        format!("first {x}")
    }
}

mod second {
    use bucketcache::Bucket;
    #[bucketcache::cached(bucket = b, ignore(b))]
    pub fn describe(b: &Bucket, x: u32) -> String {
        format!("second {x}")
    }
}

#[test]
fn functions_with_the_same_name_and_arguments_do_not_share_entries() {
    // The original keyed by the bare function name: these two collided (probe: ['one', 'one']).
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert_eq!(first::describe(&b, 1), "first 1");
    assert_eq!(second::describe(&b, 1), "second 1");
    assert_eq!(first::describe(&b, 1), "first 1");
    assert_eq!(second::describe(&b, 1), "second 1");
    assert_eq!(entries(dir.path()), 2);
}

#[test]
fn ignored_arguments_are_not_part_of_the_key() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b, verbose))]
    fn square(b: &Bucket, x: i64, verbose: bool) -> i64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if verbose {
            println!("squaring {x}");
        }
        x * x
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert_eq!(square(&b, 4, true), 16);
    assert_eq!(square(&b, 4, false), 16);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
}

#[test]
fn nocache_recomputes_and_overwrites_without_reading() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    /// Returns how many times its body ran, so a stale entry shows.
    #[bucketcache::cached(bucket = b, ignore(b), nocache = refresh)]
    fn counter(b: &Bucket, name: &str, refresh: bool) -> usize {
        let _ = name;
        CALLS.fetch_add(1, Ordering::SeqCst) + 1
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert_eq!(counter(&b, "a", false), 1);
    assert_eq!(counter(&b, "a", false), 1, "a hit");
    assert_eq!(counter(&b, "a", true), 2, "nocache runs the body");
    assert_eq!(counter(&b, "a", false), 2, "and overwrote the entry");
    assert_eq!(
        bucket_in(dir.path()).get::<usize>("unrelated").unwrap(),
        None
    );
    assert_eq!(
        counter(&bucket_in(dir.path()), "a", false),
        2,
        "on disk too"
    );
    assert_eq!(
        entries(dir.path()),
        1,
        "the nocache argument is not part of the key"
    );
}

/// What the callback saw: the arguments, the value, whether it had an expiration.
type Seen = (serde_json::Map<String, serde_json::Value>, i64, bool);

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

fn record_hit(info: &CachedCallInfo<i64>) {
    SEEN.lock().unwrap().push((
        info.callargs.clone(),
        *info.return_value,
        info.expiration.is_some(),
    ));
}

/// Not `Serialize`: ignored, so it is `null` in `callargs`.
struct Logger;

#[bucketcache::cached(bucket = b, ignore(b, log, verbose), nocache = refresh, callback = record_hit)]
fn mul(b: &Bucket, log: &Logger, x: i64, y: i64, verbose: bool, refresh: bool) -> i64 {
    let _ = (log, verbose);
    x * y
}

#[test]
fn the_callback_runs_on_hits_only_with_every_argument() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), BACKEND, &clock)
        .lifetime(Duration::from_secs(60))
        .open()
        .unwrap();
    assert_eq!(mul(&b, &Logger, 6, 7, false, false), 42);
    assert!(SEEN.lock().unwrap().is_empty(), "a miss does not call back");
    assert_eq!(mul(&b, &Logger, 6, 7, false, true), 42);
    assert!(
        SEEN.lock().unwrap().is_empty(),
        "nocache does not call back"
    );
    assert_eq!(mul(&b, &Logger, 6, 7, true, false), 42);
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (args, value, expires) = &seen[0];
    assert_eq!((*value, *expires), (42, true));
    let expected = serde_json::json!({
        "b": null, "log": null, "x": 6, "y": 7, "verbose": true, "refresh": false
    });
    assert_eq!(serde_json::Value::Object(args.clone()), expected);
}

// ---- methods ----

#[derive(Serialize)]
struct Point {
    x: i64,
    y: i64,
    #[serde(skip)]
    bucket: Bucket,
    #[serde(skip)]
    calls: Arc<AtomicUsize>,
    #[serde(skip)]
    hits: Arc<Mutex<Vec<(i64, serde_json::Value)>>>,
}

impl Point {
    fn new(bucket: &Bucket, x: i64, y: i64) -> Point {
        Point {
            x,
            y,
            bucket: bucket.clone(),
            calls: Arc::default(),
            hits: Arc::default(),
        }
    }

    #[bucketcache::cached(bucket = self.bucket, method)]
    fn scaled(&self, k: i64) -> (i64, i64) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.x * k, self.y * k)
    }

    #[bucketcache::cached(bucket = self.bucket, method, nocache = refresh)]
    fn sum(&self, refresh: bool) -> usize {
        self.calls.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A getter (the original's cached `property`): only the state is the key.
    #[bucketcache::cached(bucket = self.bucket, method, callback = Point::on_hit)]
    fn norm(&self) -> i64 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.x.abs() + self.y.abs()
    }

    fn on_hit(&self, info: &CachedCallInfo<i64>) {
        self.hits.lock().unwrap().push((
            *info.return_value,
            serde_json::Value::Object(info.callargs.clone()),
        ));
    }
}

#[test]
fn instances_with_equal_state_share_entries() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let p = Point::new(&b, 1, 2);
    let q = Point::new(&b, 1, 2);
    assert_eq!(p.scaled(3), (3, 6));
    assert_eq!(q.scaled(3), (3, 6));
    assert_eq!(
        (
            p.calls.load(Ordering::SeqCst),
            q.calls.load(Ordering::SeqCst)
        ),
        (1, 0)
    );
    assert_eq!(q.scaled(4), (4, 8), "different arguments are a miss");
    assert_eq!(q.calls.load(Ordering::SeqCst), 1);
    let r = Point::new(&b, 2, 2);
    assert_eq!(r.scaled(3), (6, 6), "a different state is a miss");
    assert_eq!(r.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn nocache_works_on_methods() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let p = Point::new(&b, 0, 0);
    assert_eq!(p.sum(false), 1);
    assert_eq!(p.sum(false), 1);
    assert_eq!(p.sum(true), 2);
    assert_eq!(p.sum(false), 2);
}

#[test]
fn a_getter_method_is_cached_and_its_callback_gets_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let p = Point::new(&b, 3, -4);
    assert_eq!(p.norm(), 7);
    assert!(p.hits.lock().unwrap().is_empty());
    let q = Point::new(&b, 3, -4);
    assert_eq!(q.norm(), 7);
    assert_eq!(q.calls.load(Ordering::SeqCst), 0);
    assert!(
        p.hits.lock().unwrap().is_empty(),
        "the callback got the calling instance"
    );
    assert_eq!(*q.hits.lock().unwrap(), vec![(7, serde_json::json!({}))]);
}

// ---- deferred writes through the decorator ----

#[test]
fn memoizing_through_a_deferred_bucket_writes_on_sync() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = d, ignore(d))]
    fn cube(d: &DeferredWriteBucket, x: i64) -> i64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        x * x * x
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let d = b.deferred();
    assert_eq!(cube(&d, 3), 27);
    assert_eq!(cube(&d, 3), 27);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(entries(dir.path()), 0, "nothing on disk before sync");
    d.sync().unwrap();
    assert_eq!(entries(dir.path()), 1);
    let fresh = bucket_in(dir.path()).deferred();
    assert_eq!(cube(&fresh, 3), 27);
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        1,
        "a new bucket hits after sync"
    );
}

// ---- Result, errors, async ----

#[derive(Debug, PartialEq)]
struct Offline;

#[test]
fn only_ok_results_are_cached() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b, online))]
    fn fetch(b: &Bucket, url: &str, online: bool) -> Result<String, Offline> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if !online {
            return Err(Offline);
        }
        Ok(format!("<{url}>"))
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert_eq!(fetch(&b, "a", false), Err(Offline));
    assert_eq!(entries(dir.path()), 0, "an Err is not stored");
    assert_eq!(fetch(&b, "a", true), Ok("<a>".into()));
    assert_eq!(fetch(&b, "a", false), Ok("<a>".into()), "the Ok was stored");
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}

#[test]
fn result_aliases_and_the_question_mark_work() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b))]
    fn parse(b: &Bucket, text: String) -> io::Result<u32> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let n = text
            .parse::<u32>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(n * 2)
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert!(parse(&b, "x".into()).is_err());
    assert_eq!(parse(&b, "21".into()).unwrap(), 42);
    assert_eq!(parse(&b, "21".into()).unwrap(), 42);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}

#[test]
fn no_result_caches_errors_too() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b), no_result)]
    fn check(b: &Bucket, n: i32) -> Result<i32, String> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if n < 0 {
            Err(format!("{n} is negative"))
        } else {
            Ok(n)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert!(check(&b, -1).is_err());
    assert!(check(&b, -1).is_err());
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
}

/// Serializing it fails, so no key can be made.
struct Unhashable;

impl Serialize for Unhashable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("this value cannot be a key"))
    }
}

#[test]
fn a_cache_failure_falls_back_to_an_uncached_call() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b))]
    fn f(b: &Bucket, u: Unhashable) -> u8 {
        let _ = u;
        CALLS.fetch_add(1, Ordering::SeqCst);
        7
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert_eq!(f(&b, Unhashable), 7);
    assert_eq!(f(&b, Unhashable), 7);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(entries(dir.path()), 0);
}

static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

#[bucketcache::cached(bucket = b, ignore(b))]
async fn download(b: &Bucket, url: String) -> Result<Vec<u8>, Offline> {
    ASYNC_CALLS.fetch_add(1, Ordering::SeqCst);
    if url.is_empty() {
        return Err(Offline);
    }
    // Long enough that the other tasks find the computation in flight and wait for it.
    std::thread::sleep(Duration::from_millis(30));
    Ok(url.into_bytes())
}

#[test]
fn async_functions_are_memoized_once_across_concurrent_tasks() {
    fn assert_send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert_send(&download(&b, String::new()));
    assert_eq!(block_on(download(&b, String::new())), Err(Offline));
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                assert_eq!(block_on(download(&b, "u".into())), Ok(b"u".to_vec()));
            });
        }
    });
    assert_eq!(
        ASYNC_CALLS.load(Ordering::SeqCst),
        2,
        "the Err once, then one computation"
    );
}

#[test]
fn concurrent_calls_with_the_same_arguments_compute_once() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b))]
    fn slow(b: &Bucket, x: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // Long enough that the other threads find the computation in flight: without single
        // flight they would all compute.
        std::thread::sleep(Duration::from_millis(50));
        x + 1
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                assert_eq!(slow(&b, 1), 2);
            });
        }
    });
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_computation_lets_the_next_caller_compute() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[bucketcache::cached(bucket = b, ignore(b))]
    fn flaky(b: &Bucket, x: u8) -> u8 {
        if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("first call fails");
        }
        x
    }
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    assert!(std::panic::catch_unwind(AssertUnwindSafe(|| flaky(&b, 5))).is_err());
    assert_eq!(flaky(&b, 5), 5, "no flight is left hanging");
    assert_eq!(flaky(&b, 5), 5);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}

// ---- the closure API ----

#[test]
fn get_or_insert_with_computes_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let mut calls = 0;
    let v: Vec<u32> = b
        .get_or_insert_with(&("primes", 3), || {
            calls += 1;
            vec![2, 3, 5]
        })
        .unwrap();
    let w: Vec<u32> = b
        .get_or_insert_with(&("primes", 3), || {
            calls += 1;
            vec![]
        })
        .unwrap();
    assert_eq!((v, w, calls), (vec![2, 3, 5], vec![2, 3, 5], 1));
}

#[test]
fn get_or_try_insert_with_caches_ok_only() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let failed: Result<u32, Error> =
        b.get_or_try_insert_with("k", || Err(Error::Config("no".into())));
    assert!(failed.is_err());
    assert!(!b.contains("k").unwrap());
    let v: u32 = b.get_or_try_insert_with("k", || Ok::<_, Error>(1)).unwrap();
    let w: u32 = b.get_or_try_insert_with("k", || Ok::<_, Error>(2)).unwrap();
    assert_eq!((v, w), (1, 1));
}

// ---- deferred writes ----

#[test]
fn deferred_write_on_error_writes_nothing_and_leaves_memory_alone() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    b.set("kept", &1).unwrap();
    let failed: Result<(), Error> = deferred_write(&b, |d| {
        d.set("kept", &2)?;
        d.set("new", &3)?;
        assert_eq!(d.get::<i32>("kept")?, Some(2), "the view sees its writes");
        Err(Error::Config("abort".into()))
    });
    assert!(failed.is_err());
    assert_eq!(b.get::<i32>("kept").unwrap(), Some(1));
    assert_eq!(b.get::<i32>("new").unwrap(), None);
    assert_eq!(bucket_in(dir.path()).get::<i32>("kept").unwrap(), Some(1));
    assert_eq!(entries(dir.path()), 1);
}

#[test]
fn deferred_write_on_panic_writes_nothing_and_leaves_memory_alone() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    b.set("kept", &1).unwrap();
    let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _: Result<(), Error> = deferred_write(&b, |d| {
            d.set("kept", &2)?;
            d.set("new", &3)?;
            panic!("in the middle of a batch");
        });
    }));
    assert!(panicked.is_err());
    assert_eq!(b.get::<i32>("kept").unwrap(), Some(1));
    assert_eq!(b.get::<i32>("new").unwrap(), None);
    assert_eq!(entries(dir.path()), 1);
}

#[test]
fn deferred_write_syncs_when_the_closure_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    deferred_write(&b, |d| {
        for i in 0..50 {
            d.set(&(i % 5), &i)?;
        }
        assert_eq!(entries(dir.path()), 0, "not during the block");
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(entries(dir.path()), 5);
    let fresh = bucket_in(dir.path());
    assert_eq!(fresh.get::<i32>(&4).unwrap(), Some(49));
}

#[test]
fn dropping_a_deferred_bucket_syncs_it() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    {
        let d = b.deferred();
        d.set("a", &1).unwrap();
        assert_eq!(entries(dir.path()), 0);
    }
    assert_eq!(entries(dir.path()), 1);
    assert_eq!(bucket_in(dir.path()).get::<i32>("a").unwrap(), Some(1));
}

#[test]
fn deferred_unload_syncs_first() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let d = b.deferred();
    d.set("a", &1).unwrap();
    d.unload("a").unwrap();
    assert_eq!(d.unsynced(), 0);
    assert_eq!(d.get::<i32>("a").unwrap(), Some(1));
    assert_eq!(entries(dir.path()), 1);
}

/// Counts the writes per file name.
#[derive(Debug)]
struct CountingStorage {
    inner: FsStore,
    writes: Mutex<HashMap<String, usize>>,
}

impl Store for CountingStorage {
    fn name(&self) -> &str {
        "counting"
    }
    fn location(&self) -> &Path {
        self.inner.location()
    }
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        self.inner.read(name, limits)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        *self
            .writes
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default() += 1;
        self.inner.write(name, bytes)
    }
    fn remove(&self, name: &str) -> io::Result<bool> {
        self.inner.remove(name)
    }
    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        self.inner.remove_if(name, condition)
    }
    fn list(&self) -> io::Result<Vec<Listed>> {
        self.inner.list()
    }
}

#[test]
fn sync_rewrites_only_the_entries_written_through_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(CountingStorage {
        inner: FsStore::new(dir.path(), false),
        writes: Mutex::default(),
    });
    let b = Bucket::builder(dir.path())
        .backend(BACKEND)
        .store_instance(storage.clone())
        .open()
        .unwrap();
    b.set("loaded", &1).unwrap();
    b.set("other", &2).unwrap();
    let d = b.deferred();
    // Reading loads entries into memory; the original's sync rewrote every loaded entry.
    assert_eq!(d.get::<i32>("loaded").unwrap(), Some(1));
    assert_eq!(d.get::<i32>("other").unwrap(), Some(2));
    for i in 0..10 {
        d.set("changed", &i).unwrap();
    }
    d.sync().unwrap();
    d.sync().unwrap();
    let writes = storage.writes.lock().unwrap().clone();
    let changed = b.path_for_key("changed").unwrap();
    let changed = changed.file_name().unwrap().to_str().unwrap();
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert_eq!(writes[changed], 1, "ten overwrites, one write");
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
}

// ---- across processes ----

const CHILD_DIR: &str = "BUCKETCACHE_MEMOIZE_CHILD_DIR";

static EXPENSIVE_CALLS: AtomicUsize = AtomicUsize::new(0);

/// The expensive call of the demo: a deliberately slow Fibonacci.
#[bucketcache::cached(bucket = b, ignore(b))]
fn fibonacci(b: &Bucket, n: u64) -> u64 {
    fn fib(n: u64) -> u64 {
        if n < 2 {
            n
        } else {
            fib(n - 1) + fib(n - 2)
        }
    }
    EXPENSIVE_CALLS.fetch_add(1, Ordering::SeqCst);
    fib(n)
}

#[test]
#[ignore = "the child process of hits_survive_a_process_restart"]
fn memoize_child_process() {
    let dir = std::env::var(CHILD_DIR).expect("run by hits_survive_a_process_restart");
    let b = bucket_in(Path::new(&dir));
    assert_eq!(fibonacci(&b, 25), 75025);
    println!("computed={}", EXPENSIVE_CALLS.load(Ordering::SeqCst));
}

fn run_child(dir: &Path) -> usize {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "memoize::memoize_child_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The test harness may print its own text on the same line.
    let count = stdout
        .split("computed=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no result in {stdout}"));
    count.parse().unwrap()
}

#[test]
fn hits_survive_a_process_restart() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_child(dir.path()), 1, "the first run computes");
    assert_eq!(
        run_child(dir.path()),
        0,
        "the second run reads the first run's file"
    );
}

#[test]
fn an_expensive_call_runs_once_for_many_calls() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_in(dir.path());
    let before = EXPENSIVE_CALLS.load(Ordering::SeqCst);
    for _ in 0..100 {
        assert_eq!(fibonacci(&b, 24), 46368);
    }
    assert_eq!(EXPENSIVE_CALLS.load(Ordering::SeqCst) - before, 1);
}
