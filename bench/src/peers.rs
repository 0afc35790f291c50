//! Rust peers: the `cached` crate's disk store (sled) and `cacache`.

use std::hint::black_box;
use std::path::Path;

use anyhow::Result;
use cached::stores::DiskCache;
use cached::IOCached;

use crate::timing::{median_each_us, median_us};
use crate::{large, value, Results, System, Value};

pub struct CachedDisk;

fn disk<V: serde::Serialize + serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
) -> DiskCache<String, V> {
    // sled releases its lock from a background thread after a drop: retry briefly.
    let mut attempts = 0;
    loop {
        match DiskCache::new(name).set_disk_directory(dir).build() {
            Ok(cache) => return cache,
            Err(e) if attempts < 50 => {
                attempts += 1;
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("cached disk store: {e}"),
        }
    }
}

impl System for CachedDisk {
    fn name(&self) -> String {
        "cached DiskCache (sled)".into()
    }

    fn run(&mut self, n: usize, dir: &Path) -> Result<Results> {
        let mut r = Results::new();
        {
            let c = disk::<Value>(dir, "values");
            let values: Vec<Value> = (0..n as u64).map(value).collect();
            r.insert(
                "set",
                median_us(n, |i| {
                    c.cache_set(format!("user{i}"), values[i].clone())
                        .expect("set");
                }),
            );
        }
        let c = disk::<Value>(dir, "values");
        let get = |i: usize| {
            black_box(c.cache_get(&format!("user{i}")).expect("get").expect("hit"));
        };
        r.insert("get cold", median_us(n, get));
        r.insert("get warm", median_us(n, get));
        drop(c);
        {
            let big = disk::<String>(dir, "big");
            let text = large();
            r.insert(
                "1MiB set",
                median_each_us(20, |i| {
                    big.cache_set(format!("big{}", i % 4), text.clone())
                        .expect("set");
                }),
            );
        }
        let big = disk::<String>(dir, "big");
        r.insert(
            "1MiB get",
            median_each_us(20, |i| {
                black_box(
                    big.cache_get(&format!("big{}", i % 4))
                        .expect("get")
                        .expect("hit"),
                );
            }),
        );
        drop(big);
        r.insert(
            "open",
            median_each_us(5, |_| drop(black_box(disk::<Value>(dir, "values")))),
        );
        Ok(r)
    }

    fn prune(&mut self, _: usize, _: &Path) -> Result<Option<f64>> {
        Ok(None)
    }
}

pub struct Cacache;

impl System for Cacache {
    fn name(&self) -> String {
        "cacache".into()
    }

    fn run(&mut self, n: usize, dir: &Path) -> Result<Results> {
        let mut r = Results::new();
        let values: Vec<Vec<u8>> = (0..n as u64)
            .map(|i| serde_json::to_vec(&value(i)).expect("json"))
            .collect();
        r.insert(
            "set",
            median_us(n, |i| {
                cacache::write_sync(dir, format!("user{i}"), &values[i]).expect("write");
            }),
        );
        let get = |i: usize| {
            let bytes = cacache::read_sync(dir, format!("user{i}")).expect("read");
            black_box(serde_json::from_slice::<Value>(&bytes).expect("decode"));
        };
        r.insert("get cold", median_us(n, get));
        r.insert("get warm", median_us(n, get));
        let text = large();
        r.insert(
            "1MiB set",
            median_each_us(20, |i| {
                cacache::write_sync(dir, format!("big{}", i % 4), text.as_bytes()).expect("write");
            }),
        );
        r.insert(
            "1MiB get",
            median_each_us(20, |i| {
                black_box(cacache::read_sync(dir, format!("big{}", i % 4)).expect("read"));
            }),
        );
        Ok(r)
    }

    fn prune(&mut self, _: usize, _: &Path) -> Result<Option<f64>> {
        Ok(None)
    }
}
