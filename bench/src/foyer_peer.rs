//! `foyer`'s `HybridCache` (memory + disk, block engine on a file device): the peer of
//! bucketcache's `lmdb` store with its memory layer. foyer's API is async: it runs on a tokio
//! runtime, and a get that its memory answers is taken without awaiting (`need_await` /
//! `try_unwrap`, foyer's own fast path for sync callers).
//!
//! Settings: 64 MiB of memory (bucketcache's memory layer's default), a 1 GiB file device,
//! `WriteOnInsertion` (every insert goes to disk, as a bucketcache set does; foyer's default
//! writes on eviction only). An insert returns before its disk write (foyer's flushers write in
//! the background): foyer's `set` is a memory insert plus a queued write, not a durable one.
//! A cold get is from a new instance opened on the same directory after the previous one was
//! closed (`close`, untimed), which recovers the disk index.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use anyhow::Result;
use foyer::{
    BlockEngineConfig, DeviceBuilder, FsDeviceBuilder, HybridCache, HybridCacheBuilder,
    HybridCachePolicy,
};
use tokio::runtime::Runtime;

use crate::{value, System, Value};

const MIB: usize = 1 << 20;

pub struct Foyer {
    rt: Runtime,
    dir: PathBuf,
    cache: Option<HybridCache<String, Value>>,
    values: Vec<Value>,
    workload: String,
}

impl Default for Foyer {
    fn default() -> Self {
        Foyer {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime"),
            dir: PathBuf::new(),
            cache: None,
            values: Vec::new(),
            workload: String::new(),
        }
    }
}

impl Foyer {
    fn open(&self) -> HybridCache<String, Value> {
        let dir = self.dir.join("foyer");
        self.rt.block_on(async {
            let device = FsDeviceBuilder::new(&dir)
                .with_capacity(1024 * MIB)
                .build()
                .expect("foyer device");
            HybridCacheBuilder::new()
                .with_policy(HybridCachePolicy::WriteOnInsertion)
                .memory(64 * MIB)
                .with_weighter(|k: &String, v: &Value| k.len() + v.name.len() + v.email.len() + 64)
                .storage()
                .with_engine_config(BlockEngineConfig::new(device))
                .build()
                .await
                .expect("foyer hybrid cache")
        })
    }

    fn close(&mut self) {
        if let Some(old) = self.cache.take() {
            self.rt.block_on(old.close()).expect("close");
        }
    }

    fn reopen(&mut self) {
        self.close();
        self.cache = Some(self.open());
    }
}

impl System for Foyer {
    fn name(&self) -> String {
        "foyer 0.22 HybridCache (memory + disk)".into()
    }

    fn supports(&self, workload: &str) -> bool {
        matches!(workload, "set" | "get cold" | "get warm" | "open")
    }

    fn begin(&mut self, workload: &str, dir: &Path, n: usize) -> Result<()> {
        self.workload = workload.to_owned();
        match workload {
            "set" => {
                self.close();
                self.dir = dir.to_owned();
                self.values = (0..n as u64).map(value).collect();
                self.cache = Some(self.open());
            }
            "get cold" => self.reopen(),
            "open" => self.close(),
            _ => {}
        }
        Ok(())
    }

    fn op(&mut self, i: usize) {
        match self.workload.as_str() {
            "set" => {
                let c = self.cache.as_ref().expect("begun");
                c.insert(format!("user{i}"), self.values[i].clone());
            }
            "get cold" | "get warm" => {
                let c = self.cache.as_ref().expect("begun");
                let get = c.get(&format!("user{i}"));
                let entry = if get.need_await() {
                    self.rt.block_on(get).expect("get").expect("hit")
                } else {
                    match get.try_unwrap() {
                        Ok(entry) => entry,
                        Err(_) => unreachable!("a get that needs no await is ready"),
                    }
                };
                black_box(entry.value().clone());
            }
            "open" => {
                let c = self.open();
                self.rt.block_on(c.close()).expect("close");
            }
            other => unreachable!("{other}"),
        }
    }

    fn prune(&mut self, _: usize, _: &Path) -> Result<Option<f64>> {
        self.close();
        Ok(None)
    }
}
