//! The comparison harness: the same workload on every system in one run, interleaved, with a
//! table of median µs/op and the ratio to the file-system floor.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--n 1000,10000,100000] [--rounds 3] [--no-python]
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

/// The workloads, in table order.
pub const WORKLOADS: [&str; 10] = [
    "set",
    "get cold",
    "get warm",
    "memo hit cold",
    "memo hit warm",
    "1MiB set",
    "1MiB get",
    "open",
    "prune",
    "-",
];

/// Median µs/op per workload for one system at one N.
pub type Results = BTreeMap<&'static str, f64>;

/// A system under measurement.
pub trait System {
    fn name(&self) -> String;
    /// Runs every workload but prune in a fresh directory; keeps what prune needs.
    fn run(&mut self, n: usize, dir: &Path) -> Result<Results>;
    /// Prunes the N expired entries written by `run` (µs per entry), if the system can.
    fn prune(&mut self, n: usize, dir: &Path) -> Result<Option<f64>>;
}

struct Args {
    ns: Vec<usize>,
    rounds: usize,
    python: bool,
}

fn args() -> Result<Args> {
    let mut a = Args {
        ns: vec![1_000, 10_000, 100_000],
        rounds: 3,
        python: true,
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
            other => anyhow::bail!("unknown argument {other}; see bench/README.md"),
        }
    }
    Ok(a)
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
        let mut systems: Vec<Box<dyn System>> = vec![Box::new(floor::Floor::default())];
        for backend in ["msgpack", "json", "pickle"] {
            systems.push(Box::new(ours::Ours::new(backend)));
        }
        systems.push(Box::new(peers::CachedDisk));
        systems.push(Box::new(peers::Cacache));
        let mut all: BTreeMap<String, Vec<Results>> = BTreeMap::new();
        let mut dirs = Vec::new();
        // Phase 1, interleaved: round after round, every system in turn. Nothing is deleted
        // until phase 2: file creation is slow for a while after a mass delete on this disk.
        for round in 0..rounds {
            for (s, system) in systems.iter_mut().enumerate() {
                let dir = scratch.path().join(format!("n{n}-r{round}-s{s}"));
                std::fs::create_dir_all(&dir)?;
                eprintln!("n={n} round {round}: {}", system.name());
                let results = system.run(n, &dir)?;
                all.entry(system.name()).or_default().push(results);
                dirs.push((s, dir));
            }
        }
        // Phase 2: prune, once per system, after every creation is done.
        for (s, dir) in dirs
            .iter()
            .filter(|(_, d)| d.to_string_lossy().contains("-r0-"))
        {
            let system = &mut systems[*s];
            if let Some(us) = system.prune(n, dir)? {
                all.get_mut(&system.name()).expect("ran")[0].insert("prune", us);
            }
        }
        let mut merged: BTreeMap<String, Results> = all
            .into_iter()
            .map(|(name, runs)| (name, timing::median_of_runs(&runs)))
            .collect();
        if args.python {
            match python::run(n, &scratch.path().join(format!("n{n}-python"))) {
                Ok(py) => merged.extend(py),
                Err(e) => println!("\nnote: the Python systems were skipped: {e:#}\n"),
            }
        }
        table::print(n, &merged);
        // Let the file system settle before the next N writes its files.
        std::fs::remove_dir_all(scratch.path()).ok();
        std::fs::create_dir_all(scratch.path())?;
    }
    Ok(())
}
