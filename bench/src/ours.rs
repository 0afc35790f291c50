//! bucketcache, one system per backend (and store).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bucketcache::{Bucket, ManualClock};

use crate::{large, value, System, Value};

pub struct Ours {
    backend: &'static str,
    store: &'static str,
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
    pub fn with_store(backend: &'static str, store: &'static str) -> Self {
        Ours {
            backend,
            store,
            clock: Arc::new(ManualClock::starting_now()),
            dir: PathBuf::new(),
            workload: String::new(),
            values: Vec::new(),
            big: large(),
            writer: None,
            reader: None,
        }
    }

    fn open(&self) -> Bucket {
        Bucket::builder(&self.dir)
            .store(self.store)
            .backend(self.backend)
            .clock(self.clock.clone())
            .lifetime(Duration::from_secs(3600))
            .open()
            .expect("open")
    }
}

impl System for Ours {
    fn name(&self) -> String {
        match self.store {
            "fs" => format!("bucketcache {}", self.backend),
            store => format!("bucketcache {} {store}", self.backend),
        }
    }

    fn supports(&self, _: &str) -> bool {
        true
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
                let fresh = self.open();
                black_box(
                    fresh
                        .get::<String>(&("big", i % 4))
                        .expect("get")
                        .expect("hit"),
                );
            }
            "open" => drop(black_box(self.open())),
            other => unreachable!("{other}"),
        }
    }

    fn prune(&mut self, n: usize, dir: &Path) -> Result<Option<f64>> {
        self.writer = None;
        self.reader = None;
        self.clock.advance(Duration::from_secs(7200));
        self.dir = dir.to_owned();
        let b = self.open();
        let started = std::time::Instant::now();
        let pruned = b.prune()?;
        let us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        anyhow::ensure!(pruned.files >= n, "pruned {} of {n}", pruned.files);
        Ok(Some(us))
    }
}
