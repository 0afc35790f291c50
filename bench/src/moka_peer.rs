//! `moka`'s sync `Cache`: what a user picks for an in-memory cache. Measured where it competes:
//! bucketcache's warm get (its memory layer answers) against moka's `get`.

use std::hint::black_box;
use std::path::Path;

use anyhow::Result;
use moka::sync::Cache;

use crate::{value, System, Value};

pub struct Moka {
    cache: Cache<(&'static str, usize), Value>,
    values: Vec<Value>,
    workload: String,
}

impl Default for Moka {
    fn default() -> Self {
        Moka {
            cache: Cache::new(0),
            values: Vec::new(),
            workload: String::new(),
        }
    }
}

impl System for Moka {
    fn name(&self) -> String {
        "moka 0.12 sync Cache (memory only)".into()
    }

    fn supports(&self, workload: &str) -> bool {
        matches!(workload, "set" | "get warm" | "memo hit warm")
    }

    fn begin(&mut self, workload: &str, _: &Path, n: usize) -> Result<()> {
        self.workload = workload.to_owned();
        if workload == "set" {
            // Room for every entry (bucketcache's memory layer holds 64 MiB, ~all of them).
            self.cache = Cache::new(10 * n as u64);
            self.values = (0..n as u64).map(value).collect();
        }
        Ok(())
    }

    fn op(&mut self, i: usize) {
        match self.workload.as_str() {
            "set" => self.cache.insert(("user", i), self.values[i].clone()),
            "get warm" => {
                black_box(self.cache.get(&("user", i)).expect("hit"));
            }
            "memo hit warm" => {
                black_box(self.cache.get_with(("user", i), || unreachable!("a hit")));
            }
            other => unreachable!("{other}"),
        }
    }

    fn prune(&mut self, _: usize, _: &Path) -> Result<Option<f64>> {
        Ok(None)
    }
}
