//! The comparison harness: the same workload on every system in one run, interleaved batch by
//! batch, with a table of median µs/op and the ratio to the file-system floor.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--n 1000,10000,100000] [--rounds 3] [--no-python] [--only lmdb,redb] [--cli PATH] [--no-redis]
//! ```

mod floor;
mod foyer_peer;
mod moka_peer;
mod ours;
mod peers;
mod python;
mod redis_raw;
mod table;
mod timing;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The ~100-byte struct every system stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub score: f64,
    pub active: bool,
    pub tags: Vec<String>,
}

pub fn value(id: u64) -> Value {
    Value {
        id,
        name: format!("user {id:08}"),
        email: format!("user{id:08}@example.com"),
        score: 0.9375,
        active: true,
        tags: vec!["admin".into(), "ops".into()],
    }
}

/// One MiB of text: the large value.
pub fn large() -> String {
    "x".repeat(1 << 20)
}

/// The workloads, in the order they run (and table order, then `prune`). `cli ls` (the CLI's
/// `ls` of the whole cache, per run) and `budget set` (a set over a full `max_entries(N)` budget)
/// run last: the budgeted sets evict `set`'s entries.
pub const WORKLOADS: [&str; 10] = [
    "set",
    "get cold",
    "get warm",
    "memo hit cold",
    "memo hit warm",
    "1MiB set",
    "1MiB get",
    "open",
    "cli ls",
    "budget set",
];

/// How many operations a workload runs at size `n`.
fn count(workload: &str, n: usize) -> usize {
    match workload {
        "1MiB set" | "1MiB get" => 20,
        "open" => 5,
        "cli ls" => 3,
        "budget set" => n.min(20_000),
        _ => n,
    }
}

/// Median µs/op per workload for one system at one N.
pub type Results = BTreeMap<&'static str, f64>;

/// A system under measurement, driven one operation at a time so that all systems can run the
/// same workload interleaved, batch by batch.
pub trait System {
    fn name(&self) -> String;
    /// Whether the system has this operation.
    fn supports(&self, workload: &str) -> bool;
    /// Prepares a workload in `dir` (e.g. opens a new instance for the cold reads).
    fn begin(&mut self, workload: &str, dir: &Path, n: usize) -> Result<()>;
    /// Runs operation `i` of the current workload.
    fn op(&mut self, i: usize);
    /// Prunes the N expired entries written by round 0 in `dir` (µs per entry), if it can.
    fn prune(&mut self, n: usize, dir: &Path) -> Result<Option<f64>>;
}

struct Args {
    ns: Vec<usize>,
    rounds: usize,
    python: bool,
    /// Only the systems whose name contains one of these (the floor always runs).
    only: Vec<String>,
    /// The CLI binary for `cli ls` (default: `target/release/bucketcache` of the workspace or
    /// of `$CARGO_TARGET_DIR`, if built).
    cli: Option<std::path::PathBuf>,
    /// Whether to start a redis-server for the Redis rows.
    redis: bool,
}

fn args() -> Result<Args> {
    let mut a = Args {
        ns: vec![1_000, 10_000, 100_000],
        rounds: 3,
        python: true,
        only: Vec::new(),
        cli: None,
        redis: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--n" => {
                a.ns = it
                    .next()
                    .context("--n needs a list")?
                    .split(',')
                    .map(|s| s.replace('_', "").parse())
                    .collect::<Result<_, _>>()?
            }
            "--rounds" => a.rounds = it.next().context("--rounds needs a number")?.parse()?,
            "--no-python" => a.python = false,
            "--no-redis" => a.redis = false,
            "--cli" => a.cli = Some(it.next().context("--cli needs a path")?.into()),
            "--only" => {
                a.only = it
                    .next()
                    .context("--only needs a list of names")?
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            }
            other => anyhow::bail!("unknown argument {other}; see bench/README.md"),
        }
    }
    if a.cli.is_none() {
        let mut candidates = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")];
        if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
            candidates.insert(0, t.into());
        }
        a.cli = candidates
            .into_iter()
            .map(|t| t.join("release/bucketcache"))
            .find(|p| p.exists());
    }
    Ok(a)
}

fn systems(args: &Args) -> Vec<Box<dyn System>> {
    let only = &args.only;
    let mut systems: Vec<Box<dyn System>> = vec![Box::new(floor::Floor::default())];
    for backend in ["msgpack", "json", "pickle"] {
        systems.push(Box::new(
            ours::Ours::new(backend).with_cli(args.cli.clone()),
        ));
    }
    systems.push(Box::new(
        ours::Ours::with_store("msgpack", "lmdb").with_cli(args.cli.clone()),
    ));
    systems.push(Box::new(peers::CachedRedb::default()));
    systems.push(Box::new(peers::Cacache::default()));
    systems.push(Box::new(moka_peer::Moka::default()));
    systems.push(Box::new(foyer_peer::Foyer::default()));
    let wants_redis = only.is_empty()
        || only.iter().any(|o| {
            ["bucketcache msgpack redis", redis_raw::NAME]
                .iter()
                .any(|name| name.to_lowercase().contains(&o.to_lowercase()))
        });
    if args.redis && wants_redis {
        match redis_raw::server() {
            Some(server) => {
                systems.push(Box::new(ours::Ours::with_store("msgpack", &server.url())));
                systems.push(Box::new(redis_raw::RawRedis::new(server)));
            }
            None => println!("\nnote: no redis-server: the Redis rows are skipped\n"),
        }
    }
    systems.retain(|s| {
        let name = s.name().to_lowercase();
        name.starts_with("floor")
            || only.is_empty()
            || only.iter().any(|o| name.contains(&o.to_lowercase()))
    });
    systems
}

fn main() -> Result<()> {
    let args = args()?;
    bucketcache::install_default_backends()?;
    let scratch = tempfile::Builder::new()
        .prefix("bucketcache-bench")
        .tempdir()?;
    println!(
        "bucketcache comparison harness; scratch dir {}",
        scratch.path().display()
    );
    match &args.cli {
        Some(cli) => println!("CLI for `cli ls`: {}", cli.display()),
        None => println!("note: no CLI binary (--cli PATH): `cli ls` is skipped"),
    }
    // Phase 1, every N: the workloads that only create and read. Phase 2, every N: `budget set`
    // (it deletes as it creates). Phase 3: prune, then the tables. Nothing is deleted until all
    // creation is done: file creation is slow for a while after a mass delete on this disk.
    let mut runs: Vec<Run> = Vec::new();
    for &n in &args.ns {
        let rounds = if n >= 100_000 { 1 } else { args.rounds };
        let systems = systems(&args);
        let samples = vec![BTreeMap::new(); systems.len()];
        let mut run = Run {
            n,
            rounds,
            systems,
            samples,
        };
        for round in 0..rounds {
            for dir in run.dirs(scratch.path(), round) {
                std::fs::create_dir_all(dir)?;
            }
            for workload in WORKLOADS.into_iter().filter(|w| *w != "budget set") {
                run.workload(scratch.path(), round, workload)?;
            }
        }
        runs.push(run);
    }
    for run in &mut runs {
        for round in 0..run.rounds {
            run.workload(scratch.path(), round, "budget set")?;
        }
    }
    let mut all_ns: Vec<(usize, BTreeMap<String, Results>)> = Vec::new();
    for mut run in runs {
        let n = run.n;
        let mut merged: BTreeMap<String, Results> = BTreeMap::new();
        for (s, system) in run.systems.iter().enumerate() {
            let results = run.samples[s]
                .iter_mut()
                .map(|(w, v)| match *w {
                    "budget set" => (*w, timing::mean(v)),
                    _ => (*w, timing::median(v)),
                })
                .collect();
            merged.insert(system.name(), results);
        }
        // Prune last, once per system, on round 0's entries (they are all expired by now).
        for (s, system) in run.systems.iter_mut().enumerate() {
            let dir = scratch.path().join(format!("n{n}-r0-s{s}"));
            eprintln!("n={n}: prune {}", system.name());
            if let Some(us) = system.prune(n, &dir)? {
                merged
                    .get_mut(&system.name())
                    .expect("ran")
                    .insert("prune", us);
            }
        }
        if args.python {
            match python::run(n, &scratch.path().join(format!("n{n}-python"))) {
                Ok(py) => merged.extend(py),
                Err(e) => println!("\nnote: the Python systems were skipped: {e:#}\n"),
            }
        }
        table::print(n, &merged);
        table::targets(n, &merged);
        all_ns.push((n, merged));
    }
    table::scaling(&all_ns);
    Ok(())
}

/// One N: its systems and their samples (one per batch) per workload.
struct Run {
    n: usize,
    rounds: usize,
    systems: Vec<Box<dyn System>>,
    samples: Vec<BTreeMap<&'static str, Vec<f64>>>,
}

impl Run {
    fn dirs(&self, scratch: &Path, round: usize) -> Vec<std::path::PathBuf> {
        (0..self.systems.len())
            .map(|s| scratch.join(format!("n{}-r{round}-s{s}", self.n)))
            .collect()
    }

    /// Runs `workload` on every system that has it, interleaved batch by batch.
    fn workload(&mut self, scratch: &Path, round: usize, workload: &'static str) -> Result<()> {
        let n = self.n;
        eprintln!("n={n} round {round}: {workload}");
        let dirs = self.dirs(scratch, round);
        let systems = &mut self.systems;
        let active: Vec<usize> = (0..systems.len())
            .filter(|&s| systems[s].supports(workload))
            .collect();
        for &s in &active {
            systems[s].begin(workload, &dirs[s], n)?;
        }
        let ops = count(workload, n);
        let batch = if ops >= 1000 { 16 } else { 1 };
        let mut i = 0;
        while i < ops {
            let end = (i + batch).min(ops);
            for &s in &active {
                let started = std::time::Instant::now();
                for j in i..end {
                    systems[s].op(j);
                }
                let us = started.elapsed().as_secs_f64() * 1e6 / (end - i) as f64;
                self.samples[s].entry(workload).or_default().push(us);
            }
            i = end;
        }
        Ok(())
    }
}
