//! The comparison harness: the same workload on every system in one run, interleaved batch by
//! batch, with a table of median µs/op and the ratio to the file-system floor.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--n 1000,10000,100000] [--rounds 3] [--no-python] [--only lmdb,redb]
//! ```

mod floor;
mod ours;
mod peers;
mod python;
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

/// The workloads, in the order they run (and table order, then `prune`).
pub const WORKLOADS: [&str; 8] = [
    "set",
    "get cold",
    "get warm",
    "memo hit cold",
    "memo hit warm",
    "1MiB set",
    "1MiB get",
    "open",
];

/// How many operations a workload runs at size `n`.
fn count(workload: &str, n: usize) -> usize {
    match workload {
        "1MiB set" | "1MiB get" => 20,
        "open" => 5,
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
}

fn args() -> Result<Args> {
    let mut a = Args {
        ns: vec![1_000, 10_000, 100_000],
        rounds: 3,
        python: true,
        only: Vec::new(),
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
    Ok(a)
}

fn systems(only: &[String]) -> Vec<Box<dyn System>> {
    let mut systems: Vec<Box<dyn System>> = vec![Box::new(floor::Floor::default())];
    for backend in ["msgpack", "json", "pickle"] {
        systems.push(Box::new(ours::Ours::new(backend)));
    }
    systems.push(Box::new(ours::Ours::with_store("msgpack", "lmdb")));
    systems.push(Box::new(peers::CachedRedb::default()));
    systems.push(Box::new(peers::Cacache::default()));
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
    for &n in &args.ns {
        let rounds = if n >= 100_000 { 1 } else { args.rounds };
        let mut systems = systems(&args.only);
        let mut samples: Vec<BTreeMap<&'static str, Vec<f64>>> =
            vec![BTreeMap::new(); systems.len()];
        // Nothing is deleted until every round has written its files: file creation is slow
        // for a while after a mass delete on this disk.
        for round in 0..rounds {
            let dirs: Vec<_> = (0..systems.len())
                .map(|s| scratch.path().join(format!("n{n}-r{round}-s{s}")))
                .collect();
            for dir in &dirs {
                std::fs::create_dir_all(dir)?;
            }
            for workload in WORKLOADS {
                eprintln!("n={n} round {round}: {workload}");
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
                        samples[s].entry(workload).or_default().push(us);
                    }
                    i = end;
                }
            }
        }
        let mut merged: BTreeMap<String, Results> = BTreeMap::new();
        for (s, system) in systems.iter().enumerate() {
            let results = samples[s]
                .iter_mut()
                .map(|(w, v)| (*w, timing::median(v)))
                .collect();
            merged.insert(system.name(), results);
        }
        // Prune last, once per system, on round 0's entries (they are all expired by now).
        for (s, system) in systems.iter_mut().enumerate() {
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
        drop(systems);
        std::fs::remove_dir_all(scratch.path()).ok();
        std::fs::create_dir_all(scratch.path())?;
    }
    Ok(())
}
