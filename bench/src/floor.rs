//! The file-system floor: what one file per key costs with nothing on top.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::{large, value, System};

/// Raw `write` of a temp file + `rename`, `fs::read`, `read` + `unlink`, of the bytes bucketcache
/// (msgpack) writes for the same value. Its `budget set` writes a new name and unlinks an old one
/// (what a set over a full budget must do at least); its `cli ls` lists the directory and reads
/// every file (what listing entries with their expiration must do at least).
pub struct Floor {
    dir: PathBuf,
    workload: String,
    n: usize,
    payload: Vec<u8>,
    big: Vec<u8>,
}

impl Default for Floor {
    fn default() -> Self {
        Floor {
            dir: PathBuf::new(),
            workload: String::new(),
            n: 0,
            payload: payload(),
            big: large().into_bytes(),
        }
    }
}

pub fn name(i: usize) -> String {
    format!("{:064x}.bin", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The msgpack envelope of the value, as bucketcache writes it.
pub fn payload() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = bucketcache::Bucket::open(dir.path()).expect("bucket");
    b.set("k", &value(1)).expect("set");
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

    fn supports(&self, _: &str) -> bool {
        true
    }

    fn begin(&mut self, workload: &str, dir: &Path, n: usize) -> Result<()> {
        self.dir = dir.to_owned();
        self.n = n;
        self.workload = workload.to_owned();
        Ok(())
    }

    fn op(&mut self, i: usize) {
        let dir = &self.dir;
        match self.workload.as_str() {
            "set" => write_rename(dir, &name(i), &self.payload),
            "1MiB set" => write_rename(dir, &format!("big{}", i % 4), &self.big),
            "1MiB get" => {
                black_box(fs::read(dir.join(format!("big{}", i % 4))).expect("read"));
            }
            "open" => {
                black_box(fs::read_dir(dir).expect("dir").count());
            }
            "budget set" => {
                write_rename(dir, &name(self.n + i), &self.payload);
                fs::remove_file(dir.join(name(i))).expect("unlink");
            }
            "cli ls" => {
                for e in fs::read_dir(dir).expect("dir") {
                    black_box(fs::read(e.expect("entry").path()).expect("read"));
                }
            }
            _ => {
                black_box(fs::read(dir.join(name(i))).expect("read"));
            }
        }
    }

    fn prune(&mut self, _: usize, dir: &Path) -> Result<Option<f64>> {
        let started = std::time::Instant::now();
        let mut files = 0;
        for e in fs::read_dir(dir)? {
            let path = e?.path();
            black_box(fs::read(&path)?);
            fs::remove_file(&path)?;
            files += 1;
        }
        Ok(Some(
            started.elapsed().as_secs_f64() * 1e6 / files.max(1) as f64,
        ))
    }
}
