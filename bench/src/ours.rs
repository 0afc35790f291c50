//! bucketcache, one system per backend (and store).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bucketcache::{Bucket, ManualClock};

use crate::{large, value, System, Value};

pub struct Ours {
    backend: &'static str,
    /// `fs`, `lmdb` or a `redis://` URL.
    store: String,
    /// The CLI binary, for `cli ls` (`fs` and `lmdb`, msgpack only).
    cli: Option<PathBuf>,
    clock: Arc<ManualClock>,
    dir: PathBuf,
    workload: String,
    values: Vec<Value>,
    big: String,
    writer: Option<Bucket>,
    reader: Option<Bucket>,
}

impl Ours {
    pub fn new(backend: &'static str) -> Self {
        Self::with_store(backend, "fs")
    }

    /// On another store than the default `fs`.
    pub fn with_store(backend: &'static str, store: &str) -> Self {
        Ours {
            backend,
            store: store.to_owned(),
            cli: None,
            clock: Arc::new(ManualClock::starting_now()),
            dir: PathBuf::new(),
            workload: String::new(),
            values: Vec::new(),
            big: large(),
            writer: None,
            reader: None,
        }
    }

    /// With the CLI binary, which `cli ls` runs.
    pub fn with_cli(mut self, cli: Option<PathBuf>) -> Self {
        self.cli = cli;
        self
    }

    fn builder(&self) -> bucketcache::BucketBuilder {
        Bucket::builder(&self.dir)
            .store(self.store.as_str())
            .backend(self.backend)
            .clock(self.clock.clone())
            .lifetime(Duration::from_secs(3600))
    }

    fn open(&self) -> Bucket {
        self.builder().open().expect("open")
    }

    fn local(&self) -> bool {
        self.store == "fs" || self.store == "lmdb"
    }
}

impl System for Ours {
    fn name(&self) -> String {
        match self.store.as_str() {
            "fs" => format!("bucketcache {}", self.backend),
            s if s.starts_with("redis") => format!("bucketcache {} redis", self.backend),
            store => format!("bucketcache {} {store}", self.backend),
        }
    }

    fn supports(&self, workload: &str) -> bool {
        match workload {
            // Scaling workloads: the local stores, msgpack.
            "budget set" => self.local() && self.backend == "msgpack",
            "cli ls" => self.local() && self.backend == "msgpack" && self.cli.is_some(),
            _ => true,
        }
    }

    fn begin(&mut self, workload: &str, dir: &Path, n: usize) -> Result<()> {
        self.dir = dir.to_owned();
        self.workload = workload.to_owned();
        match workload {
            "set" => {
                self.values = (0..n as u64).map(value).collect();
                self.writer = Some(self.open());
            }
            // A new instance: every first read of a key comes from its file.
            "get cold" | "memo hit cold" => self.reader = Some(self.open()),
            // One instance, as every peer reads through one: each read first drops the key's
            // in-memory copy (`unload`, timed with the read), so the store answers every time.
            "1MiB get" => self.reader = Some(self.open()),
            // A budget of N entries over the N (+4 large) entries `set` wrote: every set of a
            // new key evicts one.
            "budget set" => {
                self.writer = Some(self.builder().max_entries(n as u64).open()?);
            }
            _ => {}
        }
        Ok(())
    }

    fn op(&mut self, i: usize) {
        let reader = || self.reader.as_ref().expect("begun");
        match self.workload.as_str() {
            "set" => {
                let b = self.writer.as_ref().expect("begun");
                b.set(&("user", i), &self.values[i]).expect("set");
            }
            "budget set" => {
                let b = self.writer.as_ref().expect("begun");
                b.set(&("budget", i), &self.values[i]).expect("set");
            }
            "get cold" | "get warm" => {
                black_box(
                    reader()
                        .get::<Value>(&("user", i))
                        .expect("get")
                        .expect("hit"),
                );
            }
            "memo hit cold" | "memo hit warm" => {
                let v: Value = reader()
                    .get_or_insert_with(&("user", i), || unreachable!("a hit"))
                    .expect("memo");
                black_box(v);
            }
            "1MiB set" => {
                let b = self.writer.as_ref().expect("begun");
                b.set(&("big", i % 4), &self.big).expect("set");
            }
            "1MiB get" => {
                let key = ("big", i % 4);
                reader().unload(&key);
                black_box(reader().get::<String>(&key).expect("get").expect("hit"));
            }
            "open" => drop(black_box(self.open())),
            "cli ls" => {
                let ok = Command::new(self.cli.as_ref().expect("supported"))
                    .arg("ls")
                    .arg(&self.dir)
                    .args(["--store", &self.store])
                    .stdout(Stdio::null())
                    .status()
                    .expect("run the CLI")
                    .success();
                assert!(ok, "bucketcache ls {} failed", self.dir.display());
            }
            other => unreachable!("{other}"),
        }
    }

    fn prune(&mut self, _: usize, dir: &Path) -> Result<Option<f64>> {
        self.writer = None;
        self.reader = None;
        self.clock.advance(Duration::from_secs(7200));
        self.dir = dir.to_owned();
        let b = self.open();
        let started = std::time::Instant::now();
        let pruned = b.prune()?;
        let us = started.elapsed().as_secs_f64() * 1e6 / pruned.files.max(1) as f64;
        anyhow::ensure!(pruned.files > 0, "pruned nothing");
        Ok(Some(us))
    }
}
