//! **Rule: every wait of single flight has a deadline.** `single_flight_timeout` bounds a
//! memoized call's wait for another caller's computation of the same entry — in this process as
//! across processes; after it, the waiter computes the value itself. **A re-entrant call** (a
//! computation that needs its own key again, on its own thread) never waits for itself.
//!
//! Each call under test runs on its own thread and reports on a channel; the test gives it a
//! generous minute (a liveness bound, not a measure of speed): a call that never returns fails
//! the test instead of hanging it.

use std::sync::mpsc;
use std::time::Duration;

use bucketcache::{lookup_async, Bucket, Lookup, MemoCache};

/// How long a test waits for a call that must return.
const LIVENESS: Duration = Duration::from_secs(60);

fn open(dir: &std::path::Path, across: bool) -> Bucket {
    bucketcache::install_default_backends().unwrap();
    Bucket::builder(dir)
        .backend("json")
        .single_flight_across_processes(across)
        .single_flight_timeout(Duration::from_millis(200))
        .open()
        .unwrap()
}

/// Starts a memoized computation of `key` on `b` that hangs until the returned sender is
/// dropped (or sent to), once it is computing.
fn hang(b: &Bucket, key: &'static str) -> (mpsc::Sender<()>, std::thread::JoinHandle<u32>) {
    let (release, hung) = mpsc::channel::<()>();
    let (started, computing) = mpsc::channel();
    let b = b.clone();
    let handle = std::thread::spawn(move || {
        b.get_or_insert_with(key, || {
            started.send(()).unwrap();
            let _ = hung.recv();
            1u32
        })
        .unwrap()
    });
    computing
        .recv_timeout(LIVENESS)
        .expect("the computation starts");
    (release, handle)
}

#[test]
fn a_caller_waiting_for_a_hung_computation_computes_itself_after_the_single_flight_timeout() {
    for across in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path(), across);
        let (release, hung) = hang(&b, "k");
        let (tx, rx) = mpsc::channel();
        let waiter = b.clone();
        std::thread::spawn(move || {
            let _ = tx.send(waiter.get_or_insert_with("k", || 2u32).unwrap());
        });
        let got = rx.recv_timeout(LIVENESS);
        assert_eq!(
            got,
            Ok(2),
            "across processes: {across}: the waiter computed after the timeout"
        );
        assert_eq!(b.get::<u32>("k").unwrap(), Some(2), "and stored its value");
        drop(release);
        assert_eq!(hung.join().unwrap(), 1);
    }
}

#[test]
fn a_task_waiting_for_a_hung_computation_computes_itself_after_the_single_flight_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), true);
    let (release, hung) = hang(&b, "k");
    let digest = b.hash_for_key("k").unwrap();
    let (tx, rx) = mpsc::channel();
    let waiter = b.clone();
    std::thread::spawn(move || {
        let found = crate::common::block_on(lookup_async::<_, u32>(&waiter, &digest, false));
        let computed = match found.unwrap() {
            Lookup::Hit { .. } => false,
            Lookup::Miss(ticket) => ticket.finish(&waiter, &3u32),
        };
        let _ = tx.send(computed);
    });
    assert_eq!(rx.recv_timeout(LIVENESS), Ok(true), "the task got a ticket");
    assert_eq!(b.get::<u32>("k").unwrap(), Some(3));
    drop(release);
    hung.join().unwrap();
}

#[test]
fn a_computation_that_calls_its_own_key_again_does_not_wait_for_itself() {
    for across in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        // A timeout no test waits for: only re-entrancy lets the inner call through.
        let b = bucketcache::Bucket::builder(dir.path())
            .backend("json")
            .single_flight_across_processes(across)
            .single_flight_timeout(Duration::from_secs(3600))
            .open()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let outer = b.clone();
        std::thread::spawn(move || {
            let v: u32 = outer
                .get_or_insert_with("k", || {
                    let inner: u32 = outer.get_or_insert_with("k", || 1).unwrap();
                    inner + 1
                })
                .unwrap();
            let _ = tx.send(v);
        });
        assert_eq!(
            rx.recv_timeout(LIVENESS),
            Ok(2),
            "across processes: {across}"
        );
        assert_eq!(
            b.get::<u32>("k").unwrap(),
            Some(2),
            "the outer value is stored last"
        );
        // Through the lookup half too (what `#[cached]` uses): the thread holding the ticket
        // looks the key up again.
        let (tx, rx) = mpsc::channel();
        let same = b.clone();
        std::thread::spawn(move || {
            let digest = same.hash_for_key("again").unwrap();
            let Ok(Lookup::Miss(outer)) = same.lookup::<u32>(&digest, false) else {
                panic!("an empty bucket");
            };
            let inner = matches!(same.lookup::<u32>(&digest, false), Ok(Lookup::Miss(_)));
            let _ = tx.send(inner && outer.finish(&same, &5u32));
        });
        assert_eq!(
            rx.recv_timeout(LIVENESS),
            Ok(true),
            "across processes: {across}"
        );
    }
}
