//! bucketcache, one system per backend.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bucketcache::{Bucket, ManualClock};

use crate::timing::{median_each_us, median_us};
use crate::{large, value, Results, System, Value};

pub struct Ours {
    backend: &'static str,
    clock: Arc<ManualClock>,
}

impl Ours {
    pub fn new(backend: &'static str) -> Self {
        Ours {
            backend,
            clock: Arc::new(ManualClock::starting_now()),
        }
    }

    fn open(&self, dir: &Path) -> Bucket {
        Bucket::builder(dir)
            .backend(self.backend)
            .clock(self.clock.clone())
            .lifetime(Duration::from_secs(3600))
            .open()
            .expect("open")
    }
}

impl System for Ours {
    fn name(&self) -> String {
        format!("bucketcache {}", self.backend)
    }

    fn run(&mut self, n: usize, dir: &Path) -> Result<Results> {
        let mut r = Results::new();
        let b = self.open(dir);
        let values: Vec<Value> = (0..n as u64).map(value).collect();
        r.insert(
            "set",
            median_us(n, |i| b.set(&("user", i), &values[i]).expect("set")),
        );
        let cold = self.open(dir);
        let get = |i: usize| {
            black_box(
                cold.get::<_, Value>(&("user", i))
                    .expect("get")
                    .expect("hit"),
            );
        };
        r.insert("get cold", median_us(n, get));
        r.insert("get warm", median_us(n, get));
        let memo = self.open(dir);
        let hit = |i: usize| {
            let v: Value = memo
                .get_or_insert_with(&("user", i), || unreachable!("a hit"))
                .expect("memo");
            black_box(v);
        };
        r.insert("memo hit cold", median_us(n, hit));
        r.insert("memo hit warm", median_us(n, hit));
        let big = large();
        r.insert(
            "1MiB set",
            median_each_us(20, |i| b.set(&("big", i % 4), &big).expect("set")),
        );
        r.insert(
            "1MiB get",
            median_each_us(20, |i| {
                let fresh = self.open(dir);
                black_box(
                    fresh
                        .get::<_, String>(&("big", i % 4))
                        .expect("get")
                        .expect("hit"),
                );
            }),
        );
        r.insert(
            "open",
            median_each_us(5, |_| drop(black_box(self.open(dir)))),
        );
        Ok(r)
    }

    fn prune(&mut self, n: usize, dir: &Path) -> Result<Option<f64>> {
        self.clock.advance(Duration::from_secs(7200));
        let b = self.open(dir);
        let started = std::time::Instant::now();
        let pruned = b.prune()?;
        let us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        anyhow::ensure!(pruned.files >= n, "pruned {} of {n}", pruned.files);
        Ok(Some(us))
    }
}
