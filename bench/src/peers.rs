//! Rust peers: the `cached` crate's disk store (sled) and `cacache`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use anyhow::Result;
use cached::stores::DiskCache;
use cached::IOCached;

use crate::{large, value, System, Value};

fn disk<V: serde::Serialize + serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
) -> DiskCache<String, V> {
    // sled releases its lock from a background thread after a drop: retry briefly.
    let mut attempts = 0;
    loop {
        match DiskCache::new(name).set_disk_directory(dir).build() {
            Ok(cache) => return cache,
            Err(_) if attempts < 50 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("cached disk store: {e}"),
        }
    }
}

/// The `cached` crate's `DiskCache` (sled underneath).
#[derive(Default)]
pub struct CachedDisk {
    dir: PathBuf,
    workload: String,
    values: Vec<Value>,
    small: Option<DiskCache<String, Value>>,
    big: Option<DiskCache<String, String>>,
    text: String,
}

impl System for CachedDisk {
    fn name(&self) -> String {
        "cached DiskCache (sled)".into()
    }

    fn supports(&self, workload: &str) -> bool {
        !workload.starts_with("memo")
    }

    fn begin(&mut self, workload: &str, dir: &Path, n: usize) -> Result<()> {
        self.dir = dir.to_owned();
        self.workload = workload.to_owned();
        match workload {
            "set" => {
                self.values = (0..n as u64).map(value).collect();
                self.small = Some(disk(dir, "values"));
            }
            "get cold" => {
                self.small = None; // a new instance reads from disk
                self.small = Some(disk(dir, "values"));
            }
            "1MiB set" => {
                self.text = large();
                self.big = Some(disk(dir, "big"));
            }
            "1MiB get" => {
                self.big = None;
                self.big = Some(disk(dir, "big"));
            }
            "open" => {
                self.small = None;
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
            "open" => drop(black_box(disk::<Value>(&self.dir, "values"))),
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
        !workload.starts_with("memo") && workload != "open"
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
