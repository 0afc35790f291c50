//! Limits: the bounded in-memory layer, disk budgets (one process and four), `shrink_to`, and
//! the counters of `Bucket::stats`.
//!
//! Child processes are this test binary run again with `BUCKETCACHE_BUDGETS_CHILD` set: the
//! test `budgets::child_entry_point` then plays the child's role (and does nothing in a normal
//! run).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bucketcache::store::{Fetched, Listed, ReadLimits, Store};
use bucketcache::{Bucket, BucketConfig};
use serde::{Deserialize, Serialize};

use crate::common;

const CHILD_ENV: &str = "BUCKETCACHE_BUDGETS_CHILD";
const DIR_ENV: &str = "BUCKETCACHE_BUDGETS_DIR";

/// Runs this test binary as a child playing `role` on `dir`.
fn child(role: &str, dir: &Path, extra_env: &[(&str, String)]) -> Command {
    crate::common::child_command(
        "budgets::child_entry_point",
        (CHILD_ENV, role),
        (DIR_ENV, dir),
        extra_env,
    )
}

/// The entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry_point() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("dir"));
    match role.as_str() {
        "memory-hog" => memory_hog(&dir),
        "budget-worker" => budget_worker(&dir),
        other => panic!("unknown child role {other}"),
    }
}

fn wait_ok(c: std::process::Child, what: &str) -> String {
    let out = c.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A tiny deterministic PRNG (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Entries of the location, as a budget counts them.
fn usage(b: &Bucket) -> bucketcache::budget::Usage {
    b.inspector().usage().unwrap()
}

/// Sets the modification time of `key`'s file.
fn set_mtime(b: &Bucket, key: &str, t: SystemTime) {
    File::options()
        .write(true)
        .open(b.path_for_key(key).unwrap())
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn mtime(b: &Bucket, key: &str) -> SystemTime {
    fs::metadata(b.path_for_key(key).unwrap())
        .unwrap()
        .modified()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The in-memory layer.

/// A store that keeps nothing: the memory layer alone holds what is set.
#[derive(Debug)]
struct Discard(PathBuf);

impl Store for Discard {
    fn name(&self) -> &str {
        "discard"
    }
    fn location(&self) -> &Path {
        &self.0
    }
    fn read(&self, _: &str, _: &ReadLimits<'_>) -> std::io::Result<Fetched> {
        Ok(Fetched::Missing)
    }
    fn write(&self, _: &str, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn remove(&self, _: &str) -> std::io::Result<bool> {
        Ok(false)
    }
    fn remove_if(&self, _: &str, _: &dyn Fn(&[u8]) -> bool) -> std::io::Result<Option<u64>> {
        Ok(None)
    }
    fn list(&self) -> std::io::Result<Vec<Listed>> {
        Ok(Vec::new())
    }
}

fn resident_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// Sets 300,000 entries of 1 KB in a bucket whose memory layer holds 32 MiB (over a store that
/// keeps nothing, so that only the memory layer holds them) and prints the resident growth.
fn memory_hog(dir: &Path) {
    let b = Bucket::builder(dir)
        .backend("msgpack")
        .store_instance(Arc::new(Discard(dir.to_owned())))
        .memory_limit(32 << 20)
        .open()
        .unwrap();
    let value = "x".repeat(1000);
    b.set("warm-up", &value).unwrap();
    let before = resident_bytes();
    for i in 0..300_000u32 {
        b.set(&i, &value).unwrap();
    }
    let after = resident_bytes();
    let stats = b.stats();
    assert!(stats.memory_bytes <= 32 << 20, "{stats:?}");
    assert!(
        stats.memory_bytes > 16 << 20,
        "the layer is used: {stats:?}"
    );
    assert!(stats.memory_evictions > 250_000, "{stats:?}");
    // A recent entry is served from memory.
    assert_eq!(b.get::<String>(&299_999u32).unwrap(), Some(value));
    println!("RESIDENT_GROWTH {}", after.saturating_sub(before));
}

#[cfg(target_os = "linux")]
#[test]
fn memory_stays_under_its_limit_setting_300000_entries_of_1kb_with_a_32mib_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = wait_ok(
        child("memory-hog", dir.path(), &[]).spawn().unwrap(),
        "memory hog",
    );
    let growth: u64 = out
        .lines()
        .find_map(|l| l.split_once("RESIDENT_GROWTH ").map(|(_, n)| n))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no figure in the child's output: {out}"));
    assert!(growth < 128 << 20, "resident growth {} MiB", growth >> 20);
}

#[test]
fn a_zero_memory_limit_turns_the_layer_off() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .backend("json")
        .memory_limit(0)
        .open()
        .unwrap();
    b.set("k", &1).unwrap();
    assert!(!b.is_loaded("k"));
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1));
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1));
    assert!(!b.is_loaded("k"));
    let s = b.stats();
    assert_eq!((s.memory_hits, s.store_hits, s.memory_bytes), (0, 2, 0));
    assert_eq!(b.memory_limit(), 0);
}

#[test]
fn an_entry_over_a_tenth_of_the_memory_limit_is_written_but_not_kept_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .memory_limit(1 << 20)
        .open()
        .unwrap();
    b.set("small", &"x".repeat(1000)).unwrap();
    b.set("large", &"x".repeat(200 << 10)).unwrap();
    assert!(b.is_loaded("small"));
    assert!(!b.is_loaded("large"));
    assert_eq!(
        b.get::<String>("large").unwrap().map(|s| s.len()),
        Some(200 << 10)
    );
    assert!(!b.is_loaded("large"), "a read does not keep it either");
}

#[test]
fn the_default_memory_layer_is_bounded_and_unload_and_deferred_writes_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).backend("json").open().unwrap();
    assert_eq!(b.memory_limit(), 64 << 20);
    b.set("k", &1).unwrap();
    assert!(b.is_loaded("k"));
    b.unload("k");
    assert!(!b.is_loaded("k"));
    let d = b.deferred();
    d.set("d", &2).unwrap();
    assert_eq!(d.get::<i32>("d").unwrap(), Some(2));
    assert!(!b.is_loaded("d"));
    d.sync().unwrap();
    assert!(b.is_loaded("d"));
    assert_eq!(b.get::<i32>("d").unwrap(), Some(2));
}

#[test]
fn an_in_memory_copy_older_than_memory_ttl_is_read_again_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let clock = common::clock();
    let b = common::builder(dir.path(), "json", &clock)
        .memory_ttl(Some(Duration::from_secs(30)))
        .open()
        .unwrap();
    let other = common::builder(dir.path(), "json", &clock).open().unwrap();
    b.set("k", &1).unwrap();
    other.set("k", &2).unwrap(); // another writer of the store
    clock.advance(Duration::from_secs(30));
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1), "30 s old: still fresh");
    clock.advance(Duration::from_secs(1));
    assert_eq!(b.get::<i32>("k").unwrap(), Some(2), "31 s old: read again");
    assert_eq!(b.get::<i32>("k").unwrap(), Some(2));
    let s = b.stats();
    assert_eq!((s.memory_hits, s.store_hits), (2, 1));
}

// ---------------------------------------------------------------------------------------------
// Disk budgets, one process.

#[test]
fn a_directory_stays_within_max_bytes_after_every_set() {
    let dir = tempfile::tempdir().unwrap();
    let max = 20_000;
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .max_bytes(max)
        .open()
        .unwrap();
    let mut rng = Rng(7);
    for i in 0..1500u64 {
        let key = rng.below(600);
        let value = "v".repeat(50 + rng.below(450) as usize);
        b.set(&key, &value).unwrap();
        let u = usage(&b);
        assert!(u.bytes <= max, "after set {i}: {u:?}");
        assert_eq!(
            b.get::<String>(&key).unwrap(),
            Some(value),
            "the value just set stays"
        );
    }
    let s = b.stats();
    assert!(s.store_evictions > 0, "{s:?}");
    assert_eq!(
        s.store_bytes,
        Some(usage(&b).bytes),
        "the record agrees with a listing"
    );
    assert_eq!(b.disk_budget(), (Some(max), None));
}

#[test]
fn writes_not_yet_in_the_shared_totals_are_added_when_the_bucket_closes() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Bucket::builder(dir.path())
            .backend("json")
            .max_entries(10_000) // a bucket may write 1% (100 entries) before recording
            .open()
            .unwrap()
    };
    let first = open();
    for i in 0..50 {
        first.set(&i, &i).unwrap();
    }
    assert_eq!(
        first.stats().store_entries,
        Some(50),
        "its own view counts them"
    );
    drop(first);
    let second = open();
    second.set("one more", &0).unwrap();
    assert_eq!(
        second.stats().store_entries,
        Some(51),
        "the shared totals have them"
    );
    assert_eq!(usage(&second).entries, 51);
}

#[test]
fn a_recently_read_old_entry_survives_eviction_while_an_unread_one_goes() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Bucket::builder(dir.path())
            .backend("json")
            .max_entries(10)
            .open()
            .unwrap()
    };
    let writer = open();
    for i in 0..10 {
        writer.set(&format!("k{i}"), &i).unwrap();
    }
    // k0 is the oldest, k9 the newest, a day ago.
    let day_ago = SystemTime::now() - Duration::from_secs(86_400);
    for i in 0..10 {
        set_mtime(&writer, &format!("k{i}"), day_ago + Duration::from_secs(i));
    }
    // Another bucket (another process, as far as the files know) reads k0.
    let reader = open();
    assert_eq!(reader.get::<u64>("k0").unwrap(), Some(0));
    assert!(mtime(&reader, "k0") > day_ago + Duration::from_secs(3600));
    // Over budget: down to 90% of 10 entries, least recently used first.
    writer.set("k10", &10).unwrap();
    let fresh = open(); // nothing in memory
    for (key, kept) in [
        ("k0", true),
        ("k1", false),
        ("k2", false),
        ("k3", true),
        ("k10", true),
    ] {
        assert_eq!(fresh.contains(key).unwrap(), kept, "{key}");
    }
    assert_eq!(usage(&writer).entries, 9);
    assert_eq!(writer.stats().store_evictions, 2);
    assert_eq!(
        writer.get::<u64>("k1").unwrap(),
        None,
        "an evicted entry is a miss, in memory too"
    );
}

#[test]
fn a_bucket_without_a_budget_writes_nothing_on_reads() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).backend("json").open().unwrap();
    b.set("k", &1).unwrap();
    let old = SystemTime::now() - Duration::from_secs(86_400);
    set_mtime(&b, "k", old);
    let reader = Bucket::builder(dir.path()).backend("json").open().unwrap();
    assert_eq!(reader.get::<i32>("k").unwrap(), Some(1));
    assert_eq!(mtime(&b, "k"), old);
    assert!(!dir.path().join(".bucketcache-budget").exists());
    let budgeted = Bucket::builder(dir.path())
        .backend("json")
        .max_entries(100)
        .open()
        .unwrap();
    assert_eq!(budgeted.get::<i32>("k").unwrap(), Some(1));
    assert!(mtime(&b, "k") > old, "a read with a budget is a use");
}

#[test]
fn eviction_never_touches_helper_temporary_or_foreign_files_and_spans_backends() {
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().join(format!(
        ".{}.json.{}.0.tmp",
        "a".repeat(64),
        std::process::id()
    ));
    fs::write(&temp, b"{").unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let open = |backend: &str| {
        Bucket::builder(dir.path())
            .backend(backend)
            .max_entries(20)
            .open()
            .unwrap()
    };
    let (json, msgpack) = (open("json"), open("msgpack"));
    for i in 0..100 {
        json.set(&("j", i), &i).unwrap();
        msgpack.set(&("m", i), &i).unwrap();
        assert!(usage(&json).entries <= 20);
    }
    assert!(temp.exists(), "a live writer's temporary file stays");
    assert!(dir.path().join("notes.txt").exists());
    assert!(dir.path().join(".bucketcache-budget").exists());
    let exts: Vec<String> = common::files_in(dir.path())
        .into_iter()
        .filter(|n| !n.starts_with('.') && n.len() > 64)
        .map(|n| n.rsplit('.').next().unwrap().to_owned())
        .collect();
    assert!(exts.contains(&"json".to_owned()) && exts.contains(&"msgpack".to_owned()));
    assert_eq!(json.get::<i32>(&("j", 99)).unwrap(), Some(99));
    assert_eq!(msgpack.get::<i32>(&("m", 99)).unwrap(), Some(99));
}

#[test]
fn shrink_to_removes_the_least_recently_used_down_to_the_limits_given() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).backend("json").open().unwrap();
    let base = SystemTime::now() - Duration::from_secs(3600);
    for i in 0..10 {
        let key = format!("k{i}");
        b.set(&key, &"x".repeat(100)).unwrap();
        set_mtime(&b, &key, base + Duration::from_secs(10 - i)); // k9 is the oldest
    }
    let size = fs::metadata(b.path_for_key("k0").unwrap()).unwrap().len();
    let plan = b.inspector().shrink_plan(Some(size * 6), None).unwrap();
    assert_eq!(plan.removals.len(), 4);
    let removed = b.shrink_to(Some(size * 6), Some(8)).unwrap();
    assert_eq!((removed.files, removed.bytes), (4, 4 * size));
    for i in 0..10 {
        assert_eq!(b.contains(&format!("k{i}")).unwrap(), i < 6, "k{i}");
    }
    assert_eq!(b.stats().store_evictions, 4);
    assert_eq!(b.shrink_to(None, Some(0)).unwrap().files, 6);
    assert_eq!(usage(&b).entries, 0);
}

#[test]
fn sizes_in_a_configuration_reach_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = BucketConfig::from_json_str(
        &serde_json::json!({
            "path": dir.path(),
            "backend": "json",
            "memory_limit": "2MiB",
            "max_bytes": "1.5MB",
            "max_entries": 1000,
        })
        .to_string(),
    )
    .unwrap();
    let b = Bucket::from_config(&cfg).unwrap();
    assert_eq!(b.memory_limit(), 2 << 20);
    assert_eq!(b.disk_budget(), (Some(1_500_000), Some(1000)));
    let cfg = BucketConfig::from_toml_str("path = \"c\"\nmemory_limit = 4096").unwrap();
    assert_eq!(cfg.memory_limit, Some(4096));
    for bad in ["\"64 MiBs\"", "\"\"", "-1", "\"1.5\""] {
        let e = BucketConfig::from_toml_str(&format!("path = \"c\"\nmax_bytes = {bad}"))
            .expect_err(bad);
        assert!(
            e.to_string().contains("max_bytes") || e.to_string().contains("size"),
            "{bad}: {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Many processes, one budget.

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Tagged {
    key: u64,
    writer: u32,
    padding: String,
}

const SHARED_MAX_BYTES: u64 = 64 << 10;

fn budget_worker(dir: &Path) {
    let writer: u32 = std::env::var("WRITER").unwrap().parse().unwrap();
    let ops: u32 = std::env::var("OPS").unwrap().parse().unwrap();
    let b = Bucket::builder(dir)
        .backend(std::env::var("BACKEND").unwrap())
        .max_bytes(SHARED_MAX_BYTES)
        .open()
        .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(writer + 1));
    let (mut worst, mut reads) = (0, 0);
    for _ in 0..ops {
        let key = rng.below(1000);
        if rng.below(4) == 0 {
            b.unload(&key); // read what the store holds, not our memory
            if let Some(v) = b.get::<Tagged>(&key).unwrap() {
                assert_eq!(v.key, key, "read a value written for another key: {v:?}");
                reads += 1;
            }
            continue;
        }
        let padding = "p".repeat(100 + rng.below(900) as usize);
        b.set(
            &key,
            &Tagged {
                key,
                writer,
                padding,
            },
        )
        .unwrap();
        let bytes = usage(&b).bytes;
        worst = worst.max(bytes);
        assert!(
            bytes <= SHARED_MAX_BYTES + SHARED_MAX_BYTES / 10,
            "writer {writer}: {bytes} bytes after a set, over the budget + 10%"
        );
    }
    let s = b.stats();
    assert!(s.store_evictions > 0, "{s:?}");
    println!("WORST {worst} READS {reads}");
}

#[test]
fn four_processes_keep_one_budget_within_ten_percent_after_every_set() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|w| {
            let backend = if w % 2 == 0 { "msgpack" } else { "json" };
            child(
                "budget-worker",
                dir.path(),
                &[
                    ("WRITER", w.to_string()),
                    ("OPS", "1500".to_string()),
                    ("BACKEND", backend.to_string()),
                ],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for (w, c) in children.into_iter().enumerate() {
        let out = wait_ok(c, &format!("budget worker {w}"));
        let figures = out
            .lines()
            .find(|l| l.contains("WORST"))
            .unwrap_or_default();
        println!("worker {w} (budget {SHARED_MAX_BYTES} bytes): {figures}");
    }
    let b = Bucket::builder(dir.path()).backend("json").open().unwrap();
    let u = usage(&b);
    assert!(u.bytes <= SHARED_MAX_BYTES + SHARED_MAX_BYTES / 10, "{u:?}");
    let temps: Vec<_> = common::files_in(dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temp files left behind: {temps:?}");
}

// ---------------------------------------------------------------------------------------------
// Counters.

#[test]
fn the_counters_add_up_after_a_scripted_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let clock = common::clock();
    let b = common::builder(dir.path(), "json", &clock)
        .lifetime(Duration::from_secs(60))
        .open()
        .unwrap();
    for key in ["a", "b", "c", "d"] {
        b.set(key, &key).unwrap(); // 4 sets
    }
    b.get::<String>("a").unwrap(); // memory hit
    b.contains("b").unwrap(); // memory hit
    b.unload("c");
    b.get::<String>("c").unwrap(); // store hit
    b.get::<String>("c").unwrap(); // memory hit
    b.get::<String>("nothing").unwrap(); // miss
    assert!(b.remove("d").unwrap()); // a remove, not a lookup
    assert!(!b.remove("d").unwrap()); // nothing to remove
    clock.advance(Duration::from_secs(61));
    b.get::<String>("a").unwrap(); // expired: a miss
    b.deferred().set("e", &"e").unwrap(); // a set when synced (on drop)
    let s = b.stats();
    assert_eq!(s.sets, 5);
    assert_eq!((s.memory_hits, s.store_hits), (3, 1));
    assert_eq!((s.misses, s.expired), (2, 1));
    assert_eq!(s.removes, 1);
    assert_eq!((s.memory_evictions, s.store_evictions), (0, 0));
    assert!(s.memory_bytes > 0);
    assert_eq!((s.store_bytes, s.store_entries), (None, None));
    assert_eq!(s.hits(), 4);

    let budgeted = Bucket::builder(dir.path().join("budgeted"))
        .backend("json")
        .max_entries(10)
        .memory_limit(1 << 20)
        .open()
        .unwrap();
    for i in 0..11 {
        budgeted.set(&i, &i).unwrap();
    }
    let s = budgeted.stats();
    assert_eq!(s.sets, 11);
    assert_eq!(s.store_evictions, 2, "11 entries, down to 90% of 10");
    assert_eq!(s.store_entries, Some(9));
    assert_eq!(s.store_bytes, Some(usage(&budgeted).bytes));
    assert_eq!(s.evictions(), 2);
    assert_eq!(budgeted.get::<i32>(&0).unwrap(), None, "evicted: a miss");
    assert_eq!(budgeted.stats().misses, 1);
}
