//! The file-system floor: what one file per key costs with nothing on top.

use std::fs;
use std::hint::black_box;
use std::path::Path;

use anyhow::Result;

use crate::timing::{median_each_us, median_us};
use crate::{large, value, Results, System};

/// Raw `write` of a temp file + `rename`, `fs::read`, `read` + `unlink`, of the bytes bucketcache
/// (msgpack) writes for the same value.
#[derive(Default)]
pub struct Floor;

fn name(i: usize) -> String {
    format!("{:064x}.bin", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn payload(i: usize) -> Vec<u8> {
    // The msgpack envelope of the value, as bucketcache writes it.
    let dir = tempfile::tempdir().expect("tempdir");
    let b = bucketcache::Bucket::open(dir.path()).expect("bucket");
    b.set("k", &value(i as u64)).expect("set");
    fs::read(b.path_for_key("k").expect("path")).expect("read")
}

fn write_rename(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes).expect("write");
    fs::rename(&tmp, dir.join(name)).expect("rename");
}

impl System for Floor {
    fn name(&self) -> String {
        "floor (write+rename / read)".into()
    }

    fn run(&mut self, n: usize, dir: &Path) -> Result<Results> {
        let bytes = payload(1);
        let mut r = Results::new();
        r.insert("set", median_us(n, |i| write_rename(dir, &name(i), &bytes)));
        let read = |i: usize| {
            black_box(fs::read(dir.join(name(i))).expect("read"));
        };
        r.insert("get cold", median_us(n, read));
        r.insert("get warm", median_us(n, read));
        r.insert("memo hit cold", median_us(n, read));
        r.insert("memo hit warm", median_us(n, read));
        let big = large().into_bytes();
        r.insert(
            "1MiB set",
            median_each_us(20, |i| write_rename(dir, &format!("big{}", i % 4), &big)),
        );
        r.insert(
            "1MiB get",
            median_each_us(20, |i| {
                black_box(fs::read(dir.join(format!("big{}", i % 4))).expect("read"));
            }),
        );
        r.insert(
            "open",
            median_each_us(5, |_| {
                black_box(fs::read_dir(dir).expect("dir").count());
            }),
        );
        Ok(r)
    }

    fn prune(&mut self, n: usize, dir: &Path) -> Result<Option<f64>> {
        let started = std::time::Instant::now();
        for i in 0..n {
            let path = dir.join(name(i));
            black_box(fs::read(&path)?);
            fs::remove_file(&path)?;
        }
        Ok(Some(started.elapsed().as_secs_f64() * 1e6 / n as f64))
    }
}
