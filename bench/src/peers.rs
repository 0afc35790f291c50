//! Rust peers: the `cached` crate's disk store (redb, cached 4.1) and `cacache`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use anyhow::Result;
use cached::stores::RedbCache;
use cached::ConcurrentCached;

use crate::{large, value, System, Value};

/// A `RedbCache` named `name` in `dir`, without fsync (`durable(false)`, as bucketcache and
/// LMDB run by default).
fn redb<V: serde::Serialize + serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
) -> RedbCache<String, V> {
    RedbCache::builder(name)
        .disk_dir(dir)
        .durable(false)
        .build()
        .expect("cached redb store")
}

/// The `cached` crate's `RedbCache`. redb locks its file: one instance at a time, so a new
/// instance (cold reads) is opened after the previous one made its writes durable (`flush`,
/// untimed) and was dropped.
#[derive(Default)]
pub struct CachedRedb {
    dir: PathBuf,
    workload: String,
    values: Vec<Value>,
    small: Option<RedbCache<String, Value>>,
    big: Option<RedbCache<String, String>>,
    text: String,
}

impl CachedRedb {
    fn reopen_small(&mut self) {
        if let Some(old) = self.small.take() {
            old.flush().expect("flush");
        }
        self.small = Some(redb(&self.dir, "values"));
    }

    fn reopen_big(&mut self) {
        if let Some(old) = self.big.take() {
            old.flush().expect("flush");
        }
        self.big = Some(redb(&self.dir, "big"));
    }
}

impl System for CachedRedb {
    fn name(&self) -> String {
        "cached 4.1 RedbCache".into()
    }

    fn supports(&self, workload: &str) -> bool {
        !workload.starts_with("memo") && workload != "cli ls" && workload != "budget set"
    }

    fn begin(&mut self, workload: &str, dir: &Path, n: usize) -> Result<()> {
        self.dir = dir.to_owned();
        self.workload = workload.to_owned();
        match workload {
            "set" => {
                self.values = (0..n as u64).map(value).collect();
                self.reopen_small();
            }
            "get cold" => self.reopen_small(), // a new instance reads from disk
            "1MiB set" => {
                self.text = large();
                self.reopen_big();
            }
            "1MiB get" => self.reopen_big(),
            "open" => {
                self.reopen_small();
                self.small = None;
                self.reopen_big();
                self.big = None;
            }
            _ => {}
        }
        Ok(())
    }

    fn op(&mut self, i: usize) {
        match self.workload.as_str() {
            "set" => {
                let c = self.small.as_ref().expect("begun");
                c.cache_set(format!("user{i}"), self.values[i].clone())
                    .expect("set");
            }
            "get cold" | "get warm" => {
                let c = self.small.as_ref().expect("begun");
                black_box(c.cache_get(&format!("user{i}")).expect("get").expect("hit"));
            }
            "1MiB set" => {
                let c = self.big.as_ref().expect("begun");
                c.cache_set(format!("big{}", i % 4), self.text.clone())
                    .expect("set");
            }
            "1MiB get" => {
                let c = self.big.as_ref().expect("begun");
                black_box(
                    c.cache_get(&format!("big{}", i % 4))
                        .expect("get")
                        .expect("hit"),
                );
            }
            "open" => drop(black_box(redb::<Value>(&self.dir, "values"))),
            other => unreachable!("{other}"),
        }
    }

    fn prune(&mut self, _: usize, _: &Path) -> Result<Option<f64>> {
        Ok(None)
    }
}

/// `cacache`: content-addressed files plus an index.
#[derive(Default)]
pub struct Cacache {
    dir: PathBuf,
    workload: String,
    values: Vec<Vec<u8>>,
    text: String,
}

impl System for Cacache {
    fn name(&self) -> String {
        "cacache".into()
    }

    fn supports(&self, workload: &str) -> bool {
        matches!(
            workload,
            "set" | "get cold" | "get warm" | "1MiB set" | "1MiB get"
        )
    }

    fn begin(&mut self, workload: &str, dir: &Path, n: usize) -> Result<()> {
        self.dir = dir.to_owned();
        self.workload = workload.to_owned();
        match workload {
            "set" => {
                self.values = (0..n as u64)
                    .map(|i| serde_json::to_vec(&value(i)).expect("json"))
                    .collect()
            }
            "1MiB set" => self.text = large(),
            _ => {}
        }
        Ok(())
    }

    fn op(&mut self, i: usize) {
        let dir = &self.dir;
        match self.workload.as_str() {
            "set" => {
                cacache::write_sync(dir, format!("user{i}"), &self.values[i]).expect("write");
            }
            "get cold" | "get warm" => {
                let bytes = cacache::read_sync(dir, format!("user{i}")).expect("read");
                black_box(serde_json::from_slice::<Value>(&bytes).expect("decode"));
            }
            "1MiB set" => {
                cacache::write_sync(dir, format!("big{}", i % 4), self.text.as_bytes())
                    .expect("write");
            }
            "1MiB get" => {
                black_box(cacache::read_sync(dir, format!("big{}", i % 4)).expect("read"));
            }
            other => unreachable!("{other}"),
        }
    }

    fn prune(&mut self, _: usize, _: &Path) -> Result<Option<f64>> {
        Ok(None)
    }
}
