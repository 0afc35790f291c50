//! Single flight across processes: a memoized call that several processes miss at once is
//! computed by one of them; the others wait for it and read its result.
//!
//! Children are this test binary run again with `BUCKETCACHE_FLIGHT_CHILD` set; they count their
//! computations by appending a line to a shared file (`O_APPEND` writes of a few bytes are
//! atomic), and start together when the parent creates a `go` file.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bucketcache::Bucket;

const CHILD_ENV: &str = "BUCKETCACHE_FLIGHT_CHILD";
const DIR_ENV: &str = "BUCKETCACHE_FLIGHT_DIR";
const ACROSS_ENV: &str = "BUCKETCACHE_FLIGHT_ACROSS";
const SLOW_MS_ENV: &str = "BUCKETCACHE_FLIGHT_SLOW_MS";

fn child(dir: &Path, across: bool, slow_ms: u64) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "single_flight::child_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "memo")
        .env(DIR_ENV, dir)
        .env(ACROSS_ENV, if across { "1" } else { "0" })
        .env(SLOW_MS_ENV, slow_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

fn cache_dir(dir: &Path) -> PathBuf {
    dir.join("cache")
}

fn open(dir: &Path, across: bool) -> Bucket {
    Bucket::builder(cache_dir(dir))
        .backend("msgpack")
        .single_flight_across_processes(across)
        .open()
        .expect("open")
}

/// Computes `("slow", 7)` once per call of the closure: a line in `runs`, then a pause.
fn slow_answer(dir: &Path, slow: Duration) -> u64 {
    let mut runs = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runs"))
        .expect("runs file");
    runs.write_all(format!("{}\n", std::process::id()).as_bytes())
        .expect("count a run");
    std::thread::sleep(slow);
    42
}

fn runs(dir: &Path) -> usize {
    fs::read_to_string(dir.join("runs"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry_point() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("dir"));
    let across = std::env::var(ACROSS_ENV).expect("across") == "1";
    let slow = Duration::from_millis(std::env::var(SLOW_MS_ENV).expect("ms").parse().unwrap());
    let b = open(&dir, across);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("go").exists() {
        assert!(Instant::now() < deadline, "never told to go");
        std::thread::sleep(Duration::from_millis(2));
    }
    let v: u64 = b
        .get_or_insert_with(&("slow", 7), || slow_answer(&dir, slow))
        .expect("memoized call");
    println!("value={v}");
}

fn wait_all(children: Vec<Child>) -> Vec<String> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("child");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
        })
        .collect()
}

#[test]
fn four_processes_missing_one_memoized_call_compute_it_once() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), true); // the cache directory exists before the race
    let children: Vec<Child> = (0..4).map(|_| child(dir.path(), true, 600)).collect();
    fs::write(dir.path().join("go"), b"").unwrap();
    for out in wait_all(children) {
        assert!(out.contains("value=42"), "{out}");
    }
    assert_eq!(runs(dir.path()), 1, "one computation for four processes");
}

#[test]
fn without_single_flight_across_processes_each_process_computes() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), false);
    let children: Vec<Child> = (0..4).map(|_| child(dir.path(), false, 600)).collect();
    fs::write(dir.path().join("go"), b"").unwrap();
    for out in wait_all(children) {
        assert!(out.contains("value=42"), "{out}");
    }
    assert_eq!(
        runs(dir.path()),
        4,
        "the opt-out keeps single flight per process"
    );
}

#[test]
fn a_killed_holder_lets_a_waiter_compute_and_the_others_read_its_value() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), true);
    fs::write(dir.path().join("go"), b"").unwrap();
    // The holder computes for a minute: it will be killed long before.
    let mut holder = child(dir.path(), true, 60_000);
    let deadline = Instant::now() + Duration::from_secs(30);
    while runs(dir.path()) == 0 {
        assert!(
            Instant::now() < deadline,
            "the holder never started computing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let waiters: Vec<Child> = (0..3).map(|_| child(dir.path(), true, 300)).collect();
    // Let the waiters reach the lock, then kill the holder.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(runs(dir.path()), 1, "waiters wait while the holder lives");
    holder.kill().unwrap();
    holder.wait().unwrap();
    for out in wait_all(waiters) {
        assert!(out.contains("value=42"), "{out}");
    }
    assert_eq!(runs(dir.path()), 2, "the holder's run, then one waiter's");
    assert_eq!(
        open(dir.path(), true).get::<u64>(&("slow", 7)).unwrap(),
        Some(42)
    );
}

#[test]
fn a_failed_computation_lets_the_next_caller_compute() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), true);
    let failed: anyhow::Result<u64> = b.get_or_try_insert_with("k", || anyhow::bail!("offline"));
    assert!(failed.is_err());
    // The lock was released with the failure: the next call does not wait for anyone.
    let started = Instant::now();
    let v: u64 = b.get_or_insert_with("k", || 5).unwrap();
    assert_eq!(v, 5);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_hit_never_takes_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), true);
    b.set(&("slow", 7), &42u64).unwrap();
    // Hold the entry's lock as another process would: a hit must not wait for it.
    let digest = b.hash_for_key(&("slow", 7)).unwrap();
    let held = b.store().try_lock(&digest).unwrap();
    assert!(matches!(held, bucketcache::store::Locked::Acquired(_)));
    let v: u64 = b
        .get_or_insert_with(&("slow", 7), || unreachable!("a hit"))
        .unwrap();
    assert_eq!(v, 42);
    drop(held);
}

#[test]
fn a_waiter_gives_up_after_the_single_flight_timeout_and_computes() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(cache_dir(dir.path()))
        .backend("msgpack")
        .single_flight_timeout(Duration::from_millis(200))
        .open()
        .unwrap();
    let digest = b.hash_for_key("k").unwrap();
    let _held = b.store().try_lock(&digest).unwrap(); // a live holder that never finishes
    let v: u64 = b.get_or_insert_with("k", || 9).unwrap();
    assert_eq!(v, 9);
}

// ---- async: a waiter does not block its executor thread ----

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[bucketcache::cached(bucket = b, ignore(b))]
async fn slow_async(b: &Bucket, n: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 2
}

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// A current-thread executor for two futures: polls both in turn until the first is done.
fn run_both<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> A::Output {
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let mut b_done = false;
    loop {
        if !b_done {
            b_done = b.as_mut().poll(&mut cx).is_ready();
        }
        if let Poll::Ready(out) = a.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn an_async_waiter_leaves_its_executor_thread_free() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), true);
    // Another process computes the entry: here, a held lock released after 500 ms.
    let key_digest = {
        // The digest `#[cached]` gives `slow_async(_, 21)` does not depend on the directory:
        // find it as the file name of the same call in a scratch bucket.
        let probe = tempfile::tempdir().unwrap();
        let p = open(probe.path(), false);
        let _ = futures_lite_block_on(slow_async(&p, 21));
        let name = fs::read_dir(cache_dir(probe.path()))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|n| n.ends_with(".msgpack"))
            .unwrap();
        name.trim_end_matches(".msgpack").to_owned()
    };
    ASYNC_RUNS.store(0, Ordering::SeqCst);
    let held = b.store().try_lock(&key_digest).unwrap();
    assert!(matches!(held, bucketcache::store::Locked::Acquired(_)));
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        drop(held);
    });
    let waiting_done = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let ticks = ticks.clone();
        let waiting_done = waiting_done.clone();
        std::future::poll_fn(move |_| {
            // Counts only while the memoized call is still waiting.
            if !waiting_done.load(Ordering::SeqCst) {
                ticks.fetch_add(1, Ordering::SeqCst);
            }
            if ticks.load(Ordering::SeqCst) >= 50 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    };
    let call = async {
        let v = slow_async(&b, 21).await;
        waiting_done.store(true, Ordering::SeqCst);
        v
    };
    assert_eq!(run_both(call, ticker), 42);
    releaser.join().unwrap();
    assert!(
        ticks.load(Ordering::SeqCst) >= 50,
        "the executor thread ran other work while the call waited"
    );
    assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    run_both(f, std::future::ready(()))
}
