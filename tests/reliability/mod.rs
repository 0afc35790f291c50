//! Nothing lost under load, crashes, I/O faults and hostile input.
//!
//! Child processes are this test binary run again with `BUCKETCACHE_RELIABILITY_CHILD` set: the
//! test `reliability::child_entry_point` then plays the child's role (and does nothing in a normal
//! run). Set `BUCKETCACHE_LONG_TESTS=1` for longer runs.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bucketcache::store::{Fetched, FsStore, Listed, ReadLimits, Store};
use bucketcache::{Bucket, Error};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

const CHILD_ENV: &str = "BUCKETCACHE_RELIABILITY_CHILD";
const DIR_ENV: &str = "BUCKETCACHE_RELIABILITY_DIR";

fn long_runs() -> bool {
    std::env::var_os("BUCKETCACHE_LONG_TESTS").is_some()
}

/// Runs this test binary as a child playing `role` on `dir`.
fn child(role: &str, dir: &Path, extra_env: &[(&str, String)]) -> Command {
    crate::common::child_command(
        "reliability::child_entry_point",
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
        "worker" => worker(&dir),
        "crasher" => crasher(&dir),
        "file-size-limited" => file_size_limited(&dir),
        #[cfg(feature = "lmdb")]
        "lmdb-crasher" => lmdb::crasher(&dir),
        #[cfg(feature = "lmdb")]
        "lmdb-file-size-limited" => lmdb::file_size_limited(&dir),
        other => panic!("unknown child role {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Many processes, one directory.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tagged {
    key: u32,
    writer: u32,
    seq: u32,
    padding: String,
}

/// A tiny deterministic PRNG (xorshift), so children need no extra dependency.
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

fn worker(dir: &Path) {
    let writer: u32 = std::env::var("WRITER").unwrap().parse().unwrap();
    let ops: u32 = std::env::var("OPS").unwrap().parse().unwrap();
    let b = store_from_env(Bucket::builder(dir))
        .backend(std::env::var("BACKEND").unwrap())
        .lifetime(Duration::from_millis(20))
        .open()
        .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(writer + 1));
    let mut reads = 0;
    for seq in 0..ops {
        let key = rng.below(100) as u32;
        // 40% set, 40% get (from the file), 18% remove, 2% prune (a prune reads every file).
        match rng.below(100) {
            0..=39 => b
                .set(
                    &("shared", key),
                    &Tagged {
                        key,
                        writer,
                        seq,
                        padding: "x".repeat(rng.below(200) as usize),
                    },
                )
                .unwrap(),
            40..=79 => {
                b.unload(&("shared", key)); // read the file, not our own memory
                if let Some(v) = b.get::<Tagged>(&("shared", key)).unwrap() {
                    assert_eq!(v.key, key, "read a value written for another key: {v:?}");
                    reads += 1;
                }
            }
            80..=97 => {
                b.remove(&("shared", key)).unwrap();
            }
            _ => {
                b.prune().unwrap();
            }
        }
    }
    println!("worker {writer} done, {reads} values read");
}

/// The store a child uses: `STORE` (default `fs`) with the JSON options `STORE_OPTIONS`.
fn store_from_env(builder: bucketcache::BucketBuilder) -> bucketcache::BucketBuilder {
    let store = std::env::var("STORE").unwrap_or_else(|_| "fs".into());
    let options = std::env::var("STORE_OPTIONS")
        .map(|o| serde_json::from_str(&o).unwrap())
        .unwrap_or(serde_json::Value::Null);
    builder.store(store).store_options(options)
}

/// Four processes × `ops` random operations on one cache of `store`; then every entry left
/// decodes.
fn four_processes(dir: &Path, store: &str, options: &str, backend: &str) {
    let ops = if long_runs() { 100_000 } else { 10_000 };
    let children: Vec<_> = (0..4)
        .map(|w| {
            child(
                "worker",
                dir,
                &[
                    ("WRITER", w.to_string()),
                    ("OPS", ops.to_string()),
                    ("BACKEND", backend.to_string()),
                    ("STORE", store.to_string()),
                    ("STORE_OPTIONS", options.to_string()),
                ],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{store} {backend} worker failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let b = Bucket::builder(dir)
        .store(store)
        .store_options(serde_json::from_str(options).unwrap())
        .backend(backend)
        .open()
        .unwrap();
    for item in b.inspector().items().unwrap() {
        assert!(
            item.backend.is_some() && item.state.reason().is_none(),
            "{store} {backend}: {item:?}"
        );
    }
}

#[test]
fn four_processes_share_one_directory_without_wrong_values_or_leftovers() {
    for backend in ["msgpack", "json"] {
        let dir = tempfile::tempdir().unwrap();
        four_processes(dir.path(), "fs", "null", backend);
        let temps: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(temps.is_empty(), "temp files left behind: {temps:?}");
    }
}

/// The same on one LMDB cache whose map starts at 64 KiB: the four processes grow it and follow
/// each other's growth while they work.
#[cfg(feature = "lmdb")]
#[test]
fn four_processes_share_one_lmdb_cache_without_wrong_values() {
    let dir = tempfile::tempdir().unwrap();
    four_processes(dir.path(), "lmdb", r#"{"map_size": 65536}"#, "msgpack");
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| ["data.mdb", "lock.mdb", ".bucketcache-lmdb.lock"].contains(&n.as_str())),
        "{names:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Crashes.

#[derive(Debug, Serialize, Deserialize)]
struct Large {
    key: u32,
    seed: u64,
    #[serde(with = "serde_bytes_as_seq")]
    bytes: Vec<u8>,
}

/// Large values as a plain sequence of numbers: works for every backend.
mod serde_bytes_as_seq {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(b.iter())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        <Vec<u8> as serde::Deserialize>::deserialize(d)
    }
}

fn large(key: u32, seed: u64) -> Large {
    let mut rng = Rng(seed | 1);
    let len = 16 * 1024 + rng.below(48 * 1024) as usize;
    Large {
        key,
        seed,
        bytes: (0..len).map(|_| rng.next() as u8).collect(),
    }
}

fn crasher(dir: &Path) {
    let b = Bucket::builder(dir).backend("msgpack").open().unwrap();
    let mut rng = Rng(u64::from(std::process::id()) * 7919);
    println!("ready");
    loop {
        let key = rng.below(10) as u32;
        b.set(&("large", key), &large(key, rng.next())).unwrap();
    }
}

#[test]
fn a_writer_killed_at_random_moments_leaves_entries_absent_or_intact() {
    let dir = tempfile::tempdir().unwrap();
    let rounds = if long_runs() { 500 } else { 50 };
    let mut rng = Rng(42);
    for _ in 0..rounds {
        let mut c = child("crasher", dir.path(), &[]).spawn().unwrap();
        // Wait until the child has opened its bucket, then kill it at a random moment.
        let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
                panic!("the crasher exited early: {:?}", c.wait());
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(60)));
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
    }
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .open()
        .unwrap();
    let mut present = 0;
    for key in 0..10u32 {
        if let Some(v) = b.get::<Large>(&("large", key)).unwrap() {
            let expected = large(v.key, v.seed);
            assert_eq!(v.key, key);
            assert!(v.bytes == expected.bytes, "entry {key} is not intact");
            present += 1;
        }
    }
    assert!(
        present > 0,
        "no entry survived {rounds} rounds: the test did not exercise anything"
    );
    let pruned = b.prune().unwrap();
    let temps: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(
        temps.is_empty(),
        "prune left temp files: {temps:?} ({pruned:?})"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. I/O faults.

/// Runs under `ulimit -f` with SIGXFSZ ignored: writing past the limit fails with EFBIG, a real
/// short write at the file layer.
fn file_size_limited(dir: &Path) {
    let b = Bucket::builder(dir).backend("msgpack").open().unwrap();
    b.set("k", &"small and fine").unwrap();
    let huge = "y".repeat(1 << 20);
    let err = b.set("k", &huge).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(
        b.get::<String>("k").unwrap().as_deref(),
        Some("small and fine")
    );
    let fresh = Bucket::builder(dir).backend("msgpack").open().unwrap();
    assert_eq!(
        fresh.get::<String>("k").unwrap().as_deref(),
        Some("small and fine")
    );
    let names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "only the entry remains: {names:?}");
    println!("file-size-limited child passed");
}

#[test]
fn a_short_write_at_the_file_layer_fails_the_set_and_keeps_the_old_value() {
    if !Path::new("/bin/sh").exists() {
        eprintln!("SKIPPED: no /bin/sh to set a file size limit");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_file_size_limited("file-size-limited", 64, dir.path());
}

/// Runs the child `role` on `dir` under `ulimit -f blocks` (512-byte blocks) with SIGXFSZ
/// ignored, and checks that it printed `<role> child passed`.
fn run_file_size_limited(role: &str, blocks: u32, dir: &Path) {
    let me = std::env::current_exe().unwrap();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" --exact reliability::child_entry_point --nocapture --test-threads=1"))
        .arg(&me)
        .env(CHILD_ENV, role)
        .env(DIR_ENV, dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("{role} child passed")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A storage double injecting one fault kind into every write while armed.
#[derive(Debug)]
struct Faulty {
    inner: FsStore,
    fault: std::sync::Mutex<Option<Fault>>,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    NoSpace,
    Eio,
    RenameFails,
    ShortWrite,
}

impl Store for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }
    fn location(&self) -> &Path {
        self.inner.location()
    }
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> std::io::Result<Fetched> {
        self.inner.read(name, limits)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::{Error as IoError, ErrorKind};
        let Some(fault) = *self.fault.lock().unwrap() else {
            return self.inner.write(name, bytes);
        };
        // Each fault leaves what the real failure would: a partial temp file at most, which the
        // writer removes, and never a touched final file.
        let temp = self
            .location()
            .join(format!(".{name}.{}.0.tmp", std::process::id()));
        fs::write(&temp, &bytes[..bytes.len() / 2]).unwrap();
        fs::remove_file(&temp).unwrap();
        Err(match fault {
            Fault::NoSpace => IoError::from_raw_os_error(28), // ENOSPC
            Fault::Eio => IoError::from_raw_os_error(5),      // EIO
            Fault::RenameFails => IoError::new(ErrorKind::PermissionDenied, "rename refused"),
            Fault::ShortWrite => IoError::new(ErrorKind::WriteZero, "failed to write whole buffer"),
        })
    }
    fn remove(&self, name: &str) -> std::io::Result<bool> {
        self.inner.remove(name)
    }
    fn remove_if(
        &self,
        name: &str,
        condition: &dyn Fn(&[u8]) -> bool,
    ) -> std::io::Result<Option<u64>> {
        self.inner.remove_if(name, condition)
    }
    fn list(&self) -> std::io::Result<Vec<Listed>> {
        self.inner.list()
    }
}

#[test]
fn injected_io_faults_fail_the_set_and_keep_the_previous_value() {
    for fault in [
        Fault::NoSpace,
        Fault::Eio,
        Fault::RenameFails,
        Fault::ShortWrite,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Faulty {
            inner: FsStore::new(dir.path(), false),
            fault: std::sync::Mutex::new(None),
        });
        let b = Bucket::builder(dir.path())
            .backend("json")
            .store_instance(storage.clone())
            .open()
            .unwrap();
        b.set("k", &"previous").unwrap();
        *storage.fault.lock().unwrap() = Some(fault);
        let err = b.set("k", &"next").unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{fault:?}: {err}");
        assert_eq!(
            b.get::<String>("k").unwrap().as_deref(),
            Some("previous"),
            "{fault:?}"
        );
        let d = b.deferred();
        d.set("k", &"deferred").unwrap();
        assert!(d.sync().is_err());
        assert_eq!(
            d.unsynced(),
            1,
            "{fault:?}: a failed sync keeps the entry pending"
        );
        *storage.fault.lock().unwrap() = None;
        d.sync().unwrap();
        let fresh = Bucket::builder(dir.path()).backend("json").open().unwrap();
        assert_eq!(
            fresh.get::<String>("k").unwrap().as_deref(),
            Some("deferred")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Hostile bytes.

fn backends_under_test() -> Vec<String> {
    bucketcache::install_default_backends().unwrap();
    bucketcache::registry::backends()
        .into_iter()
        .filter(|b| matches!(b.origin, bucketcache::registry::Origin::BuiltIn(_)))
        .map(|b| b.name)
        .collect()
}

fn read_hostile(backend: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).backend(backend).open().unwrap();
    fs::write(b.path_for_key("k").unwrap(), bytes).unwrap();
    let started = Instant::now();
    let _: Option<serde_json::Value> = b.get("k").unwrap();
    let _: Option<Vec<String>> = b.get("k").unwrap();
    let _ = b.prune().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{backend}: a hostile file took {:?}",
        started.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_a_miss_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for backend in backends_under_test() {
            read_hostile(&backend, &bytes);
        }
    }

    #[test]
    fn mutated_files_are_a_miss_or_a_value_never_a_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        for backend in backends_under_test() {
            let dir = tempfile::tempdir().unwrap();
            let b = Bucket::builder(dir.path()).backend(&backend).open().unwrap();
            b.set("k", &serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": "värde"}})).unwrap();
            let mut bytes = fs::read(b.path_for_key("k").unwrap()).unwrap();
            for (at, byte) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *byte;
            }
            let keep = cut.index(bytes.len() + 1);
            bytes.truncate(keep.max(bytes.len() / 2));
            read_hostile(&backend, &bytes);
        }
    }
}

#[test]
fn deep_nesting_and_huge_declared_lengths_are_misses() {
    let mut hostile: Vec<(&str, Vec<u8>)> = vec![
        (
            "json deep nesting",
            [b"{\"value\": ".as_slice(), &b"[".repeat(100_000)].concat(),
        ),
        (
            "msgpack deep nesting",
            [&[0x82, 0xa5][..], b"value", &[0x91].repeat(100_000)].concat(),
        ),
        (
            "msgpack huge array",
            [&[0x82, 0xa5][..], b"value", &[0xdd, 0xff, 0xff, 0xff, 0xff]].concat(),
        ),
        (
            "msgpack huge str",
            [
                &[0x82, 0xa5][..],
                b"value",
                &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'],
            ]
            .concat(),
        ),
    ];
    hostile.push((
        "pickle deep nesting",
        [
            &[0x80, 0x02][..],
            &b"(".repeat(100_000),
            &b"]".repeat(100_000),
        ]
        .concat(),
    ));
    hostile.push((
        "pickle huge unicode",
        vec![0x80, 0x02, b'X', 0xff, 0xff, 0xff, 0xff, b'a'],
    ));
    hostile.push((
        "pickle code execution",
        b"cos\nsystem\n(S'echo pwned'\ntR.".to_vec(),
    ));
    for backend in backends_under_test() {
        for (what, bytes) in &hostile {
            let started = Instant::now();
            read_hostile(&backend, bytes);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{backend} {what}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Threads.

#[test]
fn eight_threads_memoizing_one_call_compute_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .open()
        .unwrap();
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                let v: Vec<u32> = b
                    .get_or_insert_with(&("expensive", 7), || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        vec![7; 7]
                    })
                    .unwrap();
                assert_eq!(v, vec![7; 7]);
            });
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn eight_threads_with_their_own_buckets_on_one_directory_never_read_a_wrong_value() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let dir = dir.path();
            s.spawn(move || {
                let b = Bucket::builder(dir).backend("json").open().unwrap();
                let mut rng = Rng(u64::from(t) + 99);
                for seq in 0..500 {
                    let key = rng.below(20) as u32;
                    if rng.below(2) == 0 {
                        b.set(
                            &key,
                            &Tagged {
                                key,
                                writer: t,
                                seq,
                                padding: String::new(),
                            },
                        )
                        .unwrap();
                    } else {
                        b.unload(&key);
                        if let Some(v) = b.get::<Tagged>(&key).unwrap() {
                            assert_eq!(v.key, key);
                        }
                    }
                }
            });
        }
    });
    let names: HashSet<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. Hash collisions.

/// A deliberately weak keymaker: a 16-bit hash of the key's JSON text, padded to look like a
/// 256-bit digest. Two keys in a few hundred collide.
#[derive(Debug)]
struct Weak;
impl bucketcache::KeyMaker for Weak {
    fn name(&self) -> &str {
        "weak"
    }
    fn digest_len(&self) -> usize {
        64
    }
    fn make_key(
        &self,
        key: &dyn erased_serde::Serialize,
        _: &dyn bucketcache::Backend,
    ) -> Result<String, bucketcache::KeyError> {
        let text =
            serde_json::to_vec(key).map_err(|e| bucketcache::KeyError::Serialize(e.to_string()))?;
        let h = text
            .iter()
            .fold(0u16, |h, b| h.rotate_left(5) ^ u16::from(*b));
        Ok(format!("{h:064x}"))
    }
}

#[test]
fn a_colliding_keymaker_is_refused_before_it_can_return_a_wrong_value() {
    let dir = tempfile::tempdir().unwrap();
    let err = Bucket::builder(dir.path())
        .backend("json")
        .keymaker_instance(Arc::new(Weak))
        .open()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"weak\"") && msg.contains("collide"), "{msg}");
}

#[test]
fn the_built_in_keymakers_name_many_keys_without_collisions() {
    for keymaker in ["default", "streaming"] {
        let dir = tempfile::tempdir().unwrap();
        let b = Bucket::builder(dir.path())
            .backend("json")
            .keymaker(keymaker)
            .open()
            .unwrap();
        let digests: HashSet<String> = (0..20_000u32)
            .map(|i| b.hash_for_key(&("user", i)).unwrap())
            .collect();
        assert_eq!(digests.len(), 20_000, "{keymaker}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. The LMDB store under crashes and a full disk.

#[cfg(feature = "lmdb")]
mod lmdb;
