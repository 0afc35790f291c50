//! The acceptance test of freshness across processes: 4 processes × 4 threads call one memoized
//! function on one key for 6 s, with a 1 s lifetime and a 300 ms computation.
//!
//! Children are this test binary run again with `BUCKETCACHE_FRESH_CHILD` set to the mode. They
//! count computations by appending `<pid> <ms since the epoch>` to a shared file (`O_APPEND`
//! writes of a few bytes are atomic) and print what their callers saw.

use std::cell::Cell;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bucketcache::{Bucket, MemoCache};

use crate::common::child_command;

const CHILD_ENV: &str = "BUCKETCACHE_FRESH_CHILD";
const DIR_ENV: &str = "BUCKETCACHE_FRESH_DIR";
const STORE_ENV: &str = "BUCKETCACHE_FRESH_STORE";

const RUN: Duration = Duration::from_secs(6);
const LIFETIME: Duration = Duration::from_secs(1);
const COMPUTATION: Duration = Duration::from_millis(300);
/// The longest a caller that did not compute may wait, after the first value: a third of the
/// computation (measured: a few milliseconds; the margin is for a loaded machine).
const MAX_WAIT: Duration = Duration::from_millis(100);

thread_local! {
    static COMPUTED_HERE: Cell<bool> = const { Cell::new(false) };
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn open(dir: &Path, store: &str, mode: &str) -> Bucket {
    if store.starts_with("redis") {
        bucketcache_redis::register().unwrap();
    }
    let mut b = Bucket::builder(dir.join("cache"))
        .store(store)
        .backend("msgpack")
        .lifetime(LIFETIME)
        .single_flight_timeout(Duration::from_secs(5));
    b = match mode {
        "swr-bg" | "swr-fg" | "async-bg" | "async-fg" => {
            b.stale_while_revalidate(Duration::from_secs(10))
        }
        "swr-near" => b
            .stale_while_revalidate(Duration::from_secs(10))
            .near_cache(dir.join(format!("near-{}", std::process::id()))),
        "swr-nomem" => b
            .stale_while_revalidate(Duration::from_secs(10))
            .memory_limit(0),
        "fail" | "async-fail" => b
            .stale_while_revalidate(Duration::from_secs(10))
            .stale_if_error(Duration::from_secs(10)),
        "ahead" | "async-ahead" => b.refresh_ahead(true),
        other => panic!("unknown mode {other}"),
    };
    b.open().expect("open")
}

/// One computation: counted, 300 ms long; in mode `fail` every computation after the first
/// fails.
fn compute(dir: &Path, fail_after_first: bool) -> anyhow::Result<u64> {
    COMPUTED_HERE.with(|c| c.set(true));
    let runs = dir.join("runs");
    let before = fs::read_to_string(&runs).map_or(0, |t| t.lines().count());
    let mut f = OpenOptions::new().create(true).append(true).open(&runs)?;
    let at = now_ms();
    f.write_all(format!("{} {at}\n", std::process::id()).as_bytes())?;
    std::thread::sleep(COMPUTATION);
    if fail_after_first && before > 0 {
        anyhow::bail!("the upstream is down");
    }
    Ok(at as u64)
}

#[derive(Default, Debug)]
struct Seen {
    calls: u64,
    errors: u64,
    /// Calls after the first value that computed in the caller as a miss (not a refresh).
    misses: u64,
    /// The longest call, after the first value, of a caller that did not compute in it (µs).
    max_wait_us: u128,
}

/// The entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry_point() {
    let Some(mode) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mode = mode.into_string().unwrap();
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("dir"));
    let store = std::env::var(STORE_ENV).expect("store");
    let b = open(&dir, &store, &mode);
    let deadline = Instant::now() + Duration::from_secs(30);
    let start_ms: u128 = loop {
        if let Ok(t) = fs::read_to_string(dir.join("go")) {
            if let Ok(ms) = t.trim().parse() {
                break ms;
            }
        }
        assert!(Instant::now() < deadline, "never told to go");
        std::thread::sleep(Duration::from_millis(2));
    };
    while now_ms() < start_ms {
        std::thread::sleep(Duration::from_millis(1));
    }
    let end_ms = start_ms + RUN.as_millis();
    if mode.starts_with("async") {
        let all = asynchronous::child(&b, &dir, &mode, end_ms);
        report(&all, &b);
        return;
    }
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let b = b.clone();
            let dir = dir.clone();
            let mode = mode.clone();
            std::thread::spawn(move || {
                let mut seen = Seen::default();
                let mut have_value = false;
                while now_ms() < end_ms {
                    COMPUTED_HERE.with(|c| c.set(false));
                    let started = Instant::now();
                    let outcome = match mode.as_str() {
                        "swr-bg" | "swr-nomem" | "swr-near" | "ahead" => {
                            let d = dir.clone();
                            b.memoize_background(&("hot", 1), move || compute(&d, false))
                        }
                        "swr-fg" => b.memoize(&("hot", 1), false, || compute(&dir, false)),
                        _ => b.memoize(&("hot", 1), false, || compute(&dir, true)),
                    };
                    let took = started.elapsed();
                    seen.calls += 1;
                    let computed = COMPUTED_HERE.with(|c| c.get());
                    match outcome {
                        Ok(m) => {
                            if have_value {
                                if !computed {
                                    seen.max_wait_us = seen.max_wait_us.max(took.as_micros());
                                }
                                if !m.hit && mode == "ahead" {
                                    seen.misses += 1;
                                }
                            }
                            have_value = true;
                        }
                        Err(e) => {
                            eprintln!("error: {e:#}");
                            seen.errors += 1;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                seen
            })
        })
        .collect();
    let mut all = Seen::default();
    for t in threads {
        let s = t.join().unwrap();
        all.calls += s.calls;
        all.errors += s.errors;
        all.misses += s.misses;
        all.max_wait_us = all.max_wait_us.max(s.max_wait_us);
    }
    report(&all, &b);
}

/// Prints what a child's callers saw, and its bucket's counters.
fn report(all: &Seen, b: &Bucket) {
    let st = b.stats();
    println!(
        "calls={} errors={} misses={} max_wait_us={} stale_served={} refreshes_started={} \
         refreshes_failed={} stale_if_error_answers={}",
        all.calls,
        all.errors,
        all.misses,
        all.max_wait_us,
        st.stale_served,
        st.refreshes_started,
        st.refreshes_failed,
        st.stale_if_error_answers
    );
}

/// What a child printed, by name.
fn field(out: &str, name: &str) -> u128 {
    let line = out
        .lines()
        .find_map(|l| l.find("calls=").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no report in {out}"));
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

struct Outcome {
    outs: Vec<String>,
    /// Computation start times, ms since the epoch, sorted.
    runs: Vec<u128>,
}

impl Outcome {
    fn sum(&self, name: &str) -> u128 {
        self.outs.iter().map(|o| field(o, name)).sum()
    }
    fn max(&self, name: &str) -> u128 {
        self.outs.iter().map(|o| field(o, name)).max().unwrap()
    }
    fn gaps(&self) -> Vec<u128> {
        self.runs.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

fn race(store: &str, mode: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), store, mode); // the cache exists before the race
    let children: Vec<Child> = (0..4)
        .map(|_| {
            child_command(
                "freshness::procs::child_entry_point",
                (CHILD_ENV, mode),
                (DIR_ENV, dir.path()),
                &[(STORE_ENV, store.to_owned())],
            )
            .spawn()
            .expect("spawn a child")
        })
        .collect();
    // All start together, once they are running.
    fs::write(dir.path().join("go"), (now_ms() + 1500).to_string()).unwrap();
    let outs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("child");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stdout}\n{stderr}");
            stdout
        })
        .collect();
    let mut runs: Vec<u128> = fs::read_to_string(dir.path().join("runs"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    runs.sort_unstable();
    eprintln!(
        "{store} {mode}: {} computations, gaps {:?} ms, max wait {} µs, {} calls",
        runs.len(),
        runs.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>(),
        outs.iter().map(|o| field(o, "max_wait_us")).max().unwrap(),
        outs.iter().map(|o| field(o, "calls")).sum::<u128>(),
    );
    Outcome { outs, runs }
}

/// At most one computation per lifetime overall, every caller answered, none waiting on
/// another's computation once a value exists.
fn check_revalidate(o: &Outcome) {
    assert_eq!(o.sum("errors"), 0);
    assert!(o.runs.len() >= 3, "refreshes happened: {:?}", o.runs);
    assert!(
        o.runs.len() as u128 <= RUN.as_millis() / LIFETIME.as_millis() + 1,
        "at most one computation per second: {:?}",
        o.runs
    );
    // A refresh starts once the entry has expired: at least a lifetime after the last start.
    for gap in o.gaps() {
        assert!(gap >= LIFETIME.as_millis() - 5, "gaps {:?}", o.gaps());
    }
    assert!(o.sum("stale_served") > 0);
    assert!(
        o.max("max_wait_us") < MAX_WAIT.as_micros(),
        "a caller waited {} µs",
        o.max("max_wait_us")
    );
}

#[test]
fn revalidating_in_the_background_four_processes_compute_once_per_lifetime_and_never_wait() {
    check_revalidate(&race("fs", "swr-bg"));
}

#[test]
fn without_the_memory_layer_four_processes_revalidate_once_per_lifetime_and_never_wait() {
    check_revalidate(&race("fs", "swr-nomem"));
}

#[test]
fn revalidating_in_the_caller_only_the_refresher_waits_for_its_computation() {
    check_revalidate(&race("fs", "swr-fg"));
}

#[test]
fn a_failing_upstream_is_answered_with_the_stale_value_and_counted() {
    let o = race("fs", "fail");
    assert_eq!(o.sum("errors"), 0, "every call got the stale value");
    assert!(o.runs.len() >= 2, "refreshes were attempted: {:?}", o.runs);
    assert!(o.sum("refreshes_failed") >= 1);
    assert!(o.sum("stale_if_error_answers") >= 1);
    assert!(o.max("max_wait_us") < MAX_WAIT.as_micros());
}

#[test]
fn with_refresh_ahead_no_caller_sees_a_miss_after_the_first_value() {
    let o = race("fs", "ahead");
    assert_eq!(o.sum("errors"), 0);
    assert_eq!(o.sum("misses"), 0, "a steadily read key never expires");
    assert!(o.runs.len() >= 3, "early refreshes happened: {:?}", o.runs);
    // Never before half the lifetime: at most two computations per lifetime.
    for gap in o.gaps() {
        assert!(gap >= LIFETIME.as_millis() / 2, "gaps {:?}", o.gaps());
    }
    assert!(o.max("max_wait_us") < MAX_WAIT.as_micros());
}

#[cfg(feature = "lmdb")]
#[test]
fn on_lmdb_four_processes_revalidate_once_per_lifetime_and_never_wait() {
    check_revalidate(&race("lmdb", "swr-bg"));
}

#[cfg(feature = "lmdb")]
#[test]
fn on_lmdb_a_failing_upstream_is_answered_with_the_stale_value() {
    let o = race("lmdb", "fail");
    assert_eq!(o.sum("errors"), 0);
    assert!(o.sum("refreshes_failed") >= 1);
}

#[cfg(feature = "lmdb")]
#[test]
fn on_lmdb_with_refresh_ahead_no_caller_sees_a_miss() {
    let o = race("lmdb", "ahead");
    assert_eq!(o.sum("misses"), 0);
}

#[test]
fn on_redis_four_processes_revalidate_once_per_lifetime_and_never_wait() {
    let Some(server) = bucketcache_redis::testing::RedisServer::shared(
        "on_redis_four_processes_revalidate_once_per_lifetime_and_never_wait",
    ) else {
        return;
    };
    check_revalidate(&race(&server.url(), "swr-bg"));
}

#[test]
fn on_redis_a_failing_upstream_is_answered_with_the_stale_value() {
    let Some(server) = bucketcache_redis::testing::RedisServer::shared(
        "on_redis_a_failing_upstream_is_answered_with_the_stale_value",
    ) else {
        return;
    };
    let o = race(&server.url(), "fail");
    assert_eq!(o.sum("errors"), 0);
    assert!(o.sum("refreshes_failed") >= 1);
}

#[test]
fn on_redis_behind_near_caches_four_processes_revalidate_once_per_lifetime() {
    let Some(server) = bucketcache_redis::testing::RedisServer::shared(
        "on_redis_behind_near_caches_four_processes_revalidate_once_per_lifetime",
    ) else {
        return;
    };
    // Each process has its own near directory, as machines would.
    check_revalidate(&race(&server.url(), "swr-near"));
}

/// The async variant: each child runs its callers as 4 tasks on a multi-thread tokio runtime,
/// through `AsyncBucket` (in the caller, or refreshing as a task on the runtime).
#[cfg(feature = "async")]
mod asynchronous {
    use std::cell::Cell;
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use bucketcache::{AsyncBucket, Bucket};

    use super::{now_ms, Seen, COMPUTATION};

    tokio::task_local! {
        /// Set when the computation ran in the caller's own task (not in a background task).
        static COMPUTED_HERE: Cell<bool>;
    }

    async fn compute(dir: PathBuf, fail_after_first: bool) -> anyhow::Result<u64> {
        let _ = COMPUTED_HERE.try_with(|c| c.set(true));
        let runs = dir.join("runs");
        let before = fs::read_to_string(&runs).map_or(0, |t| t.lines().count());
        let at = now_ms();
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&runs)?
            .write_all(format!("{} {at}\n", std::process::id()).as_bytes())?;
        tokio::time::sleep(COMPUTATION).await;
        if fail_after_first && before > 0 {
            anyhow::bail!("the upstream is down");
        }
        Ok(at as u64)
    }

    async fn caller(cache: AsyncBucket, dir: PathBuf, mode: String, end_ms: u128) -> Seen {
        let mut seen = Seen::default();
        let mut have_value = false;
        while now_ms() < end_ms {
            let started = Instant::now();
            let d = dir.clone();
            let call = async {
                let key = ("hot", 1);
                match mode.as_str() {
                    "async-bg" | "async-ahead" => {
                        cache
                            .get_or_try_insert_with_background(&key, move || compute(d, false))
                            .await
                    }
                    "async-fg" => {
                        cache
                            .get_or_try_insert_with(&key, move || compute(d, false))
                            .await
                    }
                    _ => {
                        cache
                            .get_or_try_insert_with(&key, move || compute(d, true))
                            .await
                    }
                }
            };
            let (outcome, computed) = COMPUTED_HERE
                .scope(Cell::new(false), async {
                    let outcome = call.await;
                    (outcome, COMPUTED_HERE.with(Cell::get))
                })
                .await;
            let took = started.elapsed();
            seen.calls += 1;
            match outcome {
                Ok(_) => {
                    if have_value {
                        if computed {
                            // Refreshes run in the background in these modes: a miss.
                            if mode == "async-ahead" {
                                seen.misses += 1;
                            }
                        } else {
                            seen.max_wait_us = seen.max_wait_us.max(took.as_micros());
                        }
                    }
                    have_value = true;
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    seen.errors += 1;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        seen
    }

    pub(super) fn child(b: &Bucket, dir: &Path, mode: &str, end_ms: u128) -> Seen {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        let cache = AsyncBucket::new(b.clone());
        rt.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    tokio::spawn(caller(
                        cache.clone(),
                        dir.to_owned(),
                        mode.to_owned(),
                        end_ms,
                    ))
                })
                .collect();
            let mut all = Seen::default();
            for t in tasks {
                let s = t.await.unwrap();
                all.calls += s.calls;
                all.errors += s.errors;
                all.misses += s.misses;
                all.max_wait_us = all.max_wait_us.max(s.max_wait_us);
            }
            all
        })
    }
}

#[cfg(feature = "async")]
#[test]
fn async_tasks_in_four_processes_revalidate_in_the_background_once_per_lifetime_and_never_wait() {
    check_revalidate(&race("fs", "async-bg"));
}

#[cfg(feature = "async")]
#[test]
fn async_tasks_in_four_processes_revalidate_in_the_caller_once_per_lifetime() {
    check_revalidate(&race("fs", "async-fg"));
}

#[cfg(feature = "async")]
#[test]
fn async_tasks_of_a_failing_upstream_get_the_stale_value_and_failures_are_counted() {
    let o = race("fs", "async-fail");
    assert_eq!(o.sum("errors"), 0, "every call got the stale value");
    assert!(o.runs.len() >= 2, "refreshes were attempted: {:?}", o.runs);
    assert!(o.sum("refreshes_failed") >= 1);
    assert!(o.sum("stale_if_error_answers") >= 1);
    assert!(o.max("max_wait_us") < MAX_WAIT.as_micros());
}

#[cfg(feature = "async")]
#[test]
fn async_tasks_with_refresh_ahead_never_see_a_miss_after_the_first_value() {
    let o = race("fs", "async-ahead");
    assert_eq!(o.sum("errors"), 0);
    assert_eq!(o.sum("misses"), 0, "a steadily read key never expires");
    assert!(o.runs.len() >= 3, "early refreshes happened: {:?}", o.runs);
    for gap in o.gaps() {
        assert!(gap >= LIFETIME.as_millis() / 2, "gaps {:?}", o.gaps());
    }
    assert!(o.max("max_wait_us") < MAX_WAIT.as_micros());
}
