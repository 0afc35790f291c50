//! The rules of disk budgets beyond their steady state: a lock held by a stopped process never
//! holds a `set` past its deadline, a guarantee never switches off silently, the record is a
//! hint and the store the truth, an entry that cannot fit is refused, and small budgets do not
//! take the lock on every `set`.
//!
//! The lock holder is this test binary run again with `BUCKETCACHE_BUDGET_RULES_CHILD` set: the
//! test `budget_rules::child_entry_point` then plays the child's role (and does nothing in a
//! normal run).

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketcache::store::{BUDGET_RECORD, LOCK_FILE};
use bucketcache::{Bucket, BucketConfig, Error, Guarantee};

const CHILD_ENV: &str = "BUCKETCACHE_BUDGET_RULES_CHILD";
const DIR_ENV: &str = "BUCKETCACHE_BUDGET_RULES_DIR";

/// The entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry_point() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("dir"));
    match role.as_str() {
        // Holds the budget record's lock (as a process stopped mid-update would) until killed.
        "lock-holder" => {
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(BUDGET_RECORD))
                .unwrap();
            file.lock().unwrap();
            println!("LOCKED");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Starts the lock holder on `dir` and returns once it holds the lock.
fn lock_holder(dir: &Path) -> Child {
    let mut child = crate::common::child_command(
        "budget_rules::child_entry_point",
        (CHILD_ENV, "lock-holder"),
        (DIR_ENV, dir),
        &[],
    )
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains("LOCKED"))),
        "the lock holder did not take the lock"
    );
    child
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig}");
}

fn usage(b: &Bucket) -> bucketcache::budget::Usage {
    b.inspector().usage().unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A budget record as the budget writes it: totals and when they were counted.
fn forge_record(dir: &Path, entries: u64, bytes: u64, counted_at: u64) {
    let mut out = b"BCBUDGT1".to_vec();
    out.extend_from_slice(&bytes.to_le_bytes());
    out.extend_from_slice(&entries.to_le_bytes());
    out.extend_from_slice(&counted_at.to_le_bytes());
    fs::write(dir.join(BUDGET_RECORD), out).unwrap();
}

/// Fills `dir` (with no budget) to `bytes` bytes of entries of about 500 bytes.
fn fill(dir: &Path, bytes: u64) {
    let b = Bucket::builder(dir).backend("json").open().unwrap();
    let mut i = 0u64;
    while usage(&b).bytes < bytes {
        b.set(&("fill", i), &"f".repeat(480)).unwrap();
        i += 1;
    }
}

/// Runs `f` in a thread and fails (instead of hanging the suite) if it takes over a minute.
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("hung: a wait without a deadline")
}

// ---------------------------------------------------------------------------------------------
// Rule 3: every wait has a deadline.

#[test]
fn sets_go_on_past_a_stopped_lock_holder_and_the_next_set_after_it_catches_the_budget_up() {
    let dir = tempfile::tempdir().unwrap();
    let max = 20_000u64;
    let holder = lock_holder(dir.path());
    signal(&holder, "-STOP");
    let path = dir.path().to_owned();
    let (b, written) = within_a_minute(move || {
        let start = std::time::Instant::now();
        let b = Bucket::builder(&path)
            .backend("json")
            .max_bytes(max)
            .lock_timeout(Duration::from_millis(100))
            .open()
            .unwrap();
        // Three budgets' worth, from four threads: none waits on another thread's wait.
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for i in 0..30 {
                        b.set(&(t, i), &"v".repeat(480)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let written = usage(&b).bytes;
        println!(
            "120 sets from 4 threads, lock holder stopped, lock_timeout 100 ms: {:?}",
            start.elapsed()
        );
        (b, written)
    });
    assert!(written > max, "the entries were written: {written} bytes");
    let deferred = b.stats().budget_deferred;
    assert!(deferred > 0, "{:?}", b.stats());
    for t in 0..4 {
        assert!(b.get::<String>(&(t, 29)).unwrap().is_some());
    }

    // The holder goes (killed while stopped): the next set catches up.
    signal(&holder, "-KILL");
    let mut holder = holder;
    holder.wait().unwrap();
    b.set("after", &"v".repeat(480)).unwrap();
    let u = usage(&b);
    assert!(u.bytes <= max + max / 10 + 600, "{u:?}");
    for i in 0..100 {
        b.set(&("later", i), &"v".repeat(480)).unwrap();
        let u = usage(&b);
        assert!(
            u.bytes <= max,
            "a single writer is held to its budget: {u:?}"
        );
    }
    assert_eq!(b.stats().budget_deferred, deferred, "no more deferrals");
    assert!(b.stats().store_evictions > 0);
}

#[test]
fn a_stopped_lock_holder_defers_a_set_for_at_most_the_lock_timeout_then_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = lock_holder(dir.path());
    signal(&holder, "-STOP");
    let path = dir.path().to_owned();
    let stats = within_a_minute(move || {
        let b = Bucket::builder(&path)
            .backend("json")
            .max_entries(10)
            .lock_timeout(Duration::ZERO)
            .open()
            .unwrap();
        for i in 0..50 {
            b.set(&i, &i).unwrap();
        }
        b.stats()
    });
    assert_eq!(stats.sets, 50);
    assert!(stats.budget_deferred >= 1, "{stats:?}");
    assert_eq!(stats.budget_locks, 0, "the lock was never free");
    signal(&holder, "-KILL");
    holder.wait().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Rule 7: a guarantee never switches off silently.

/// Puts something that is not a usable regular file at `dir/name`: `kind` is "directory",
/// "symlink" (to a regular file elsewhere) or "fifo".
fn plant(dir: &Path, name: &str, kind: &str, elsewhere: &Path) {
    let path = dir.join(name);
    match kind {
        "directory" => fs::create_dir(&path).unwrap(),
        "symlink" => {
            let target = elsewhere.join("target");
            fs::write(&target, b"not yours").unwrap();
            std::os::unix::fs::symlink(&target, &path).unwrap();
        }
        "fifo" => {
            let ok = Command::new("mkfifo").arg(&path).status().unwrap();
            assert!(ok.success());
        }
        other => panic!("{other}"),
    }
}

#[test]
fn open_fails_naming_the_budget_record_when_it_is_a_directory_a_symlink_or_a_fifo() {
    for kind in ["directory", "symlink", "fifo"] {
        let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        plant(dir.path(), BUDGET_RECORD, kind, elsewhere.path());
        let err = Bucket::builder(dir.path())
            .backend("json")
            .max_entries(20)
            .open()
            .unwrap_err();
        match &err {
            Error::Degraded {
                guarantee, path, ..
            } => {
                assert_eq!(*guarantee, Guarantee::DiskBudget, "{kind}");
                assert!(path.ends_with(BUDGET_RECORD), "{kind}: {err}");
            }
            other => panic!("{kind}: {other}"),
        }
        assert!(err.to_string().contains(BUDGET_RECORD), "{err}");
        // A bucket without a budget does not need the record.
        Bucket::builder(dir.path()).backend("json").open().unwrap();
        if kind == "symlink" {
            let target = fs::read(elsewhere.path().join("target")).unwrap();
            assert_eq!(target, b"not yours", "the link's target is untouched");
        }
    }
}

#[test]
fn allow_degraded_opens_without_the_shared_budget_reports_it_and_still_holds_the_process_to_it() {
    for kind in ["directory", "symlink", "fifo"] {
        let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        plant(dir.path(), BUDGET_RECORD, kind, elsewhere.path());
        let b = Bucket::builder(dir.path())
            .backend("json")
            .max_entries(20)
            .allow_degraded(true)
            .open()
            .unwrap();
        let off = b.stats().degraded;
        assert_eq!(off.len(), 1, "{kind}: {off:?}");
        assert_eq!(off[0].guarantee, Guarantee::DiskBudget);
        assert!(off[0].path.ends_with(BUDGET_RECORD));
        assert!(!off[0].reason.is_empty());
        for i in 0..200 {
            b.set(&i, &i).unwrap();
            assert!(usage(&b).entries <= 20, "{kind}: after set {i}");
        }
        if kind == "symlink" {
            let target = fs::read(elsewhere.path().join("target")).unwrap();
            assert_eq!(target, b"not yours", "the link's target is untouched");
        }
    }
}

#[test]
fn open_fails_naming_the_single_flight_lock_file_when_it_cannot_be_used_unless_degrading() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(LOCK_FILE)).unwrap();
    let err = Bucket::builder(dir.path())
        .backend("json")
        .open()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Degraded { guarantee: Guarantee::SingleFlightAcrossProcesses, path, .. }
            if path.ends_with(LOCK_FILE)),
        "{err}"
    );
    // Not configured, not needed.
    let b = Bucket::builder(dir.path())
        .backend("json")
        .single_flight_across_processes(false)
        .open()
        .unwrap();
    assert!(b.stats().degraded.is_empty());
    let b = Bucket::builder(dir.path())
        .backend("json")
        .allow_degraded(true)
        .open()
        .unwrap();
    let off = b.stats().degraded;
    assert_eq!(off.len(), 1, "{off:?}");
    assert_eq!(off[0].guarantee, Guarantee::SingleFlightAcrossProcesses);
    // Memoization still works, once per process.
    let mut calls = 0;
    for _ in 0..2 {
        let v: u32 = b
            .get_or_insert_with("f", || {
                calls += 1;
                4
            })
            .unwrap();
        assert_eq!(v, 4);
    }
    assert_eq!(calls, 1);
}

#[test]
fn lock_timeout_and_allow_degraded_reach_the_bucket_from_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(BUDGET_RECORD)).unwrap();
    let toml = |allow: bool| {
        format!(
            "path = {:?}\nbackend = \"json\"\nmax_entries = 10\nlock_timeout = \"250ms\"\nallow_degraded = {allow}\n",
            dir.path()
        )
    };
    let strict = BucketConfig::from_toml_str(&toml(false)).unwrap();
    assert_eq!(strict.lock_timeout, Some(Duration::from_millis(250)));
    assert!(matches!(
        strict.builder().unwrap().open(),
        Err(Error::Degraded { .. })
    ));
    let lenient = BucketConfig::from_toml_str(&toml(true)).unwrap();
    let b = lenient.builder().unwrap().open().unwrap();
    assert_eq!(b.stats().degraded[0].guarantee, Guarantee::DiskBudget);
}

// ---------------------------------------------------------------------------------------------
// Rule 8: the record is a hint, the store is the truth.

#[test]
fn a_record_counted_in_the_future_is_recounted_at_the_next_update() {
    let dir = tempfile::tempdir().unwrap();
    let max = 20_000u64;
    fill(dir.path(), 3 * max);
    // Says the location is nearly empty, counted ten years from now.
    forge_record(dir.path(), 1, 500, unix_now() + 10 * 365 * 86_400);
    let b = Bucket::builder(dir.path())
        .backend("json")
        .max_bytes(max)
        .open()
        .unwrap();
    b.set("one", &"v".repeat(480)).unwrap();
    let u = usage(&b);
    assert!(u.bytes <= max, "{u:?}");
    assert_eq!(b.stats().store_bytes, Some(u.bytes));
}

#[test]
fn a_record_that_cannot_be_right_is_recounted_at_the_next_update() {
    let max = 20_000u64;
    for forged in [
        b"BCBUDGT1 too short".to_vec(),
        [b"BCBUDGT1".as_slice(), &[0u8; 32]].concat(), // a size a record cannot have
        {
            // bytes without entries
            let mut r = b"BCBUDGT1".to_vec();
            r.extend_from_slice(&100u64.to_le_bytes());
            r.extend_from_slice(&0u64.to_le_bytes());
            r.extend_from_slice(&unix_now().to_le_bytes());
            r
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), 3 * max);
        fs::write(dir.path().join(BUDGET_RECORD), &forged).unwrap();
        let b = Bucket::builder(dir.path())
            .backend("json")
            .max_bytes(max)
            .open()
            .unwrap();
        b.set("one", &"v".repeat(480)).unwrap();
        let u = usage(&b);
        assert!(u.bytes <= max, "{forged:?}: {u:?}");
    }
}

#[test]
fn an_undercounting_record_is_recounted_within_one_budget_of_writes() {
    let dir = tempfile::tempdir().unwrap();
    let max = 20_000u64;
    fill(dir.path(), 3 * max);
    // Plausible, fresh, and wrong: the location holds three times the budget.
    forge_record(dir.path(), 1, 500, unix_now());
    let b = Bucket::builder(dir.path())
        .backend("json")
        .max_bytes(max)
        .open()
        .unwrap();
    let mut written = 0u64;
    let mut back_within = None;
    for i in 0..200u64 {
        let value = "v".repeat(480);
        b.set(&("new", i), &value).unwrap();
        written += 500;
        let u = usage(&b);
        match back_within {
            None if u.bytes <= max + max / 10 + 600 => back_within = Some(written),
            Some(_) => assert!(u.bytes <= max + max / 10 + 600, "after set {i}: {u:?}"),
            None => {}
        }
    }
    let at = back_within.expect("never back within the budget");
    assert!(
        at <= max + 1000,
        "back within the budget after {at} bytes written"
    );
    assert!(usage(&b).bytes <= max);
}

// ---------------------------------------------------------------------------------------------
// Rule 9: an entry that cannot fit is refused.

#[test]
fn an_entry_larger_than_max_bytes_is_refused_with_a_typed_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .backend("json")
        .max_bytes(100)
        .open()
        .unwrap();
    b.set("small", &"s").unwrap();
    let before = crate::common::files_in(dir.path());
    let err = b.set("big", &"b".repeat(500)).unwrap_err();
    assert!(
        matches!(err, Error::OverBudget { size, max_bytes: Some(100), .. } if size > 500),
        "{err}"
    );
    assert_eq!(
        crate::common::files_in(dir.path()),
        before,
        "nothing written"
    );
    assert_eq!(b.get::<String>("big").unwrap(), None);
    assert_eq!(b.get::<String>("small").unwrap().as_deref(), Some("s"));

    let none = Bucket::builder(dir.path().join("none"))
        .backend("json")
        .max_entries(0)
        .open()
        .unwrap();
    assert!(matches!(
        none.set("k", &1),
        Err(Error::OverBudget {
            max_entries: Some(0),
            ..
        })
    ));
    assert_eq!(usage(&none).entries, 0);
}

#[test]
fn no_set_leaves_the_store_above_its_budget_even_with_entries_near_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let max = 1_000u64;
    let b = Bucket::builder(dir.path())
        .backend("json")
        .max_bytes(max)
        .open()
        .unwrap();
    for i in 0..50 {
        let value = "v".repeat(300 + (i * 37) % 650);
        b.set(&i, &value).unwrap();
        let u = usage(&b);
        assert!(u.bytes <= max, "after set {i}: {u:?}");
        assert_eq!(b.get::<String>(&i).unwrap(), Some(value));
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 10: no integer cliff in the slack.

#[test]
fn a_budget_of_ten_entries_takes_the_lock_at_most_every_other_new_entry() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .backend("json")
        .max_entries(10)
        .open()
        .unwrap();
    for i in 0..1000 {
        b.set(&i, &i).unwrap();
        assert!(usage(&b).entries <= 10);
    }
    let s = b.stats();
    println!(
        "budget of 10 entries, 1000 new entries: {} lock acquisitions",
        s.budget_locks
    );
    // Was 1000 (a share of 10 / 100 * 1 = 0 entries): now every other new entry at most.
    assert!(s.budget_locks <= 510, "{s:?}");
    assert!(s.budget_locks >= 400, "{s:?}");
}

#[cfg(feature = "lmdb")]
#[test]
fn an_lmdb_bucket_refuses_an_unusable_single_flight_lock_file_unless_degrading() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(LOCK_FILE)).unwrap();
    let open = |allow: bool| {
        Bucket::builder(dir.path())
            .backend("json")
            .store("lmdb")
            .allow_degraded(allow)
            .open()
    };
    let err = open(false).unwrap_err();
    assert!(
        matches!(err, Error::Degraded { guarantee: Guarantee::SingleFlightAcrossProcesses, ref path, .. }
            if path.ends_with(LOCK_FILE)),
        "{err}"
    );
    let b = open(true).unwrap();
    assert_eq!(
        b.stats().degraded[0].guarantee,
        Guarantee::SingleFlightAcrossProcesses
    );
    b.set("k", &1).unwrap();
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1));
}
