//! The contention benchmark: many writers and readers on one cache at once.
//!
//! ```sh
//! cargo run --release --manifest-path bench/Cargo.toml --bin contention              # defaults
//! cargo run --release --manifest-path bench/Cargo.toml --bin contention -- --seconds 5 --workers 8
//! ```
//!
//! Each system gets one cache holding `--keys` entries (~100-byte values); then `--workers`
//! processes (and, in a second run, as many threads of one process) each do a random mix of 90%
//! gets and 10% sets over those keys for `--seconds`, recording every operation's latency. The
//! table gives the throughput of all workers together and p50/p99/p99.9/max per operation kind.
//! Systems: bucketcache msgpack on the `fs` and `lmdb` stores (memory layer on, as a user runs
//! it), and Python `diskcache` in its own benchmark's shape (`bench/contention.py`: 8 processes,
//! one `Cache` each on one directory). `cached`'s disk store (redb) cannot be shared: redb locks
//! its file for one process, so it is measured with threads only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bucketcache::Bucket;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone)]
struct Value {
    name: String,
    id: u64,
    tags: Vec<String>,
    score: f64,
}

fn value(i: u64) -> Value {
    Value {
        name: format!("user number {i}"),
        id: i,
        tags: vec!["alpha".into(), "beta".into(), format!("t{}", i % 7)],
        score: i as f64 * 0.25,
    }
}

/// Latencies of one worker, in nanoseconds, per operation kind.
#[derive(Serialize, Deserialize, Default)]
struct Samples {
    get: Vec<u64>,
    set: Vec<u64>,
}

struct Args {
    keys: u64,
    workers: usize,
    seconds: f64,
    only: Option<Vec<String>>,
}

fn args() -> Result<(Args, Option<Vec<String>>)> {
    let mut a = Args {
        keys: 10_000,
        workers: 8,
        seconds: 5.0,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    let mut worker = None;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--keys" => a.keys = it.next().context("--keys N")?.parse()?,
            "--workers" => a.workers = it.next().context("--workers N")?.parse()?,
            "--seconds" => a.seconds = it.next().context("--seconds S")?.parse()?,
            "--only" => {
                a.only = Some(
                    it.next()
                        .context("--only a,b")?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "--worker" => worker = Some(it.by_ref().collect()),
            other => bail!("unknown argument {other}; see the top of bench/src/bin/contention.rs"),
        }
    }
    Ok((a, worker))
}

/// A tiny deterministic generator (xorshift), so workers need no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn open(store: &str, dir: &Path) -> Result<Bucket> {
    Ok(Bucket::builder(dir)
        .store(store)
        .backend("msgpack")
        .open()?)
}

/// One worker's loop on an opened bucket: 90% gets, 10% sets, until `deadline`.
fn work(bucket: &Bucket, keys: u64, seed: u64, deadline: Instant) -> Result<Samples> {
    let mut rng = Rng(seed | 1);
    let mut s = Samples::default();
    while Instant::now() < deadline {
        let k = rng.next() % keys;
        let key = ("user", k);
        if rng.next().is_multiple_of(10) {
            let v = value(k);
            let t = Instant::now();
            bucket.set(&key, &v)?;
            s.set.push(t.elapsed().as_nanos() as u64);
        } else {
            let t = Instant::now();
            let got: Option<Value> = bucket.get(&key)?;
            s.get.push(t.elapsed().as_nanos() as u64);
            if got.map(|g| g.id) != Some(k) {
                bail!("wrong or missing value for key {k}");
            }
        }
    }
    Ok(s)
}

fn fill(store: &str, dir: &Path, keys: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let b = open(store, dir)?;
    for k in 0..keys {
        b.set(&("user", k), &value(k))?;
    }
    Ok(())
}

fn run_processes(store: &str, dir: &Path, a: &Args) -> Result<(Samples, f64)> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let children: Vec<_> = (0..a.workers)
        .map(|w| {
            Command::new(&exe)
                .arg("--worker")
                .args([
                    store,
                    &dir.display().to_string(),
                    &a.keys.to_string(),
                    &(w as u64 * 7919 + 17).to_string(),
                    &a.seconds.to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut all = Samples::default();
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("a {store} worker failed");
        }
        let s: Samples = serde_json::from_slice(&out.stdout)?;
        all.get.extend(s.get);
        all.set.extend(s.set);
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

fn run_threads(store: &str, dir: &Path, a: &Args) -> Result<(Samples, f64)> {
    let bucket = Arc::new(open(store, dir)?);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let handles: Vec<_> = (0..a.workers)
        .map(|w| {
            let b = bucket.clone();
            let keys = a.keys;
            std::thread::spawn(move || work(&b, keys, w as u64 * 7919 + 17, deadline))
        })
        .collect();
    let mut all = Samples::default();
    for h in handles {
        let s = h
            .join()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
        all.get.extend(s.get);
        all.set.extend(s.set);
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

/// `cached` 4.1's redb store, shared by threads (redb locks its file for one process).
fn run_redb_threads(dir: &Path, a: &Args) -> Result<(Samples, f64)> {
    use cached::stores::RedbCache;
    use cached::ConcurrentCached;
    let cache: RedbCache<String, Value> = RedbCache::builder("contention")
        .disk_dir(dir)
        .durable(false)
        .build()?;
    for k in 0..a.keys {
        cache.cache_set(format!("user{k}"), value(k))?;
    }
    let cache = Arc::new(cache);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let handles: Vec<_> = (0..a.workers)
        .map(|w| {
            let c = cache.clone();
            let keys = a.keys;
            std::thread::spawn(move || -> Result<Samples> {
                let mut rng = Rng(w as u64 * 7919 + 17);
                let mut s = Samples::default();
                while Instant::now() < deadline {
                    let k = rng.next() % keys;
                    if rng.next().is_multiple_of(10) {
                        let t = Instant::now();
                        c.cache_set(format!("user{k}"), value(k))?;
                        s.set.push(t.elapsed().as_nanos() as u64);
                    } else {
                        let t = Instant::now();
                        let got = c.cache_get(&format!("user{k}"))?;
                        s.get.push(t.elapsed().as_nanos() as u64);
                        if got.map(|g| g.id) != Some(k) {
                            bail!("redb: wrong or missing value for key {k}");
                        }
                    }
                }
                Ok(s)
            })
        })
        .collect();
    let mut all = Samples::default();
    for h in handles {
        let s = h
            .join()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
        all.get.extend(s.get);
        all.set.extend(s.set);
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

fn run_diskcache(dir: &Path, a: &Args) -> Result<Option<(Samples, f64)>> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join("target/bench-venv/bin/python");
    if !python.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(repo.join("target/bench-venv"))
            .status()?
            .success();
        if !ok {
            eprintln!("note: no Python virtualenv: diskcache skipped");
            return Ok(None);
        }
    }
    let ready = Command::new(&python)
        .args(["-c", "import diskcache"])
        .status()?
        .success()
        || Command::new(&python)
            .args(["-m", "pip", "install", "-q", "diskcache"])
            .status()?
            .success();
    if !ready {
        eprintln!("note: pip install diskcache failed: diskcache skipped");
        return Ok(None);
    }
    let out = Command::new(&python)
        .arg(repo.join("bench/contention.py"))
        .args(["--dir", &dir.display().to_string()])
        .args(["--keys", &a.keys.to_string()])
        .args(["--workers", &a.workers.to_string()])
        .args(["--seconds", &a.seconds.to_string()])
        .output()?;
    if !out.status.success() {
        bail!(
            "bench/contention.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (s, secs): (Samples, f64) = serde_json::from_slice(&out.stdout)?;
    Ok(Some((s, secs)))
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn row(system: &str, mode: &str, mut s: Samples, secs: f64) -> String {
    s.get.sort_unstable();
    s.set.sort_unstable();
    let ops = (s.get.len() + s.set.len()) as f64 / secs;
    let f = |v: &[u64]| {
        format!(
            "{:.1} | {:.1} | {:.1} | {:.1}",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 0.999),
            v.last().copied().unwrap_or(0) as f64 / 1000.0
        )
    };
    format!(
        "| {system} | {mode} | {:.0} | {} | {} |",
        ops,
        f(&s.get),
        f(&s.set)
    )
}

fn main() -> Result<()> {
    bucketcache::install_default_backends()?;
    let (a, worker) = args()?;
    if let Some(w) = worker {
        // A worker process: STORE DIR KEYS SEED SECONDS; prints its samples as JSON.
        let [store, dir, keys, seed, secs] = w.as_slice() else {
            bail!("--worker STORE DIR KEYS SEED SECONDS");
        };
        let bucket = open(store, Path::new(dir))?;
        let deadline = Instant::now() + Duration::from_secs_f64(secs.parse()?);
        let s = work(&bucket, keys.parse()?, seed.parse()?, deadline)?;
        serde_json::to_writer(std::io::stdout(), &s)?;
        return Ok(());
    }
    let scratch = tempfile::Builder::new()
        .prefix("bucketcache-contention")
        .tempdir()?;
    let wanted = |s: &str| a.only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let dir = |name: &str| -> PathBuf { scratch.path().join(name) };
    let mut rows = Vec::new();
    // Every cache is filled before any run: nothing is deleted until the end.
    for store in ["fs", "lmdb"] {
        if wanted(store) {
            eprintln!("filling {store}");
            fill(store, &dir(&format!("{store}-p")), a.keys)?;
            fill(store, &dir(&format!("{store}-t")), a.keys)?;
        }
    }
    for store in ["fs", "lmdb"] {
        if !wanted(store) {
            continue;
        }
        eprintln!("{store}: {} processes", a.workers);
        let (s, secs) = run_processes(store, &dir(&format!("{store}-p")), &a)?;
        rows.push(row(&format!("bucketcache {store}"), "processes", s, secs));
        eprintln!("{store}: {} threads", a.workers);
        let (s, secs) = run_threads(store, &dir(&format!("{store}-t")), &a)?;
        rows.push(row(&format!("bucketcache {store}"), "threads", s, secs));
    }
    if wanted("diskcache") {
        eprintln!("diskcache: {} processes", a.workers);
        if let Some((s, secs)) = run_diskcache(&dir("diskcache"), &a)? {
            rows.push(row("diskcache 5.6", "processes", s, secs));
        }
    }
    if wanted("redb") {
        eprintln!("redb: {} threads", a.workers);
        let (s, secs) = run_redb_threads(&dir("redb"), &a)?;
        rows.push(row("cached 4.1 RedbCache", "threads", s, secs));
    }
    println!(
        "\n{} workers, {} keys, 90% get / 10% set, {} s; latencies in µs\n",
        a.workers, a.keys, a.seconds
    );
    println!("| system | workers | ops/s | get p50 | get p99 | get p99.9 | get max | set p50 | set p99 | set p99.9 | set max |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
