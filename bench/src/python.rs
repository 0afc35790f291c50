//! The Python systems (the original BucketCache 0.12.1 with the project's shim, and
//! `diskcache`), measured by `bench/python_bench.py` in a virtualenv under `target/bench-venv`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::Results;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv_python() -> Result<PathBuf> {
    let venv = repo().join("target/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("python3 is not available")?
            .success();
        if !ok {
            bail!("python3 -m venv failed");
        }
    }
    let ready = Command::new(&python)
        .args(["-c", "import diskcache, msgpack, bucketcache"])
        .env("PYTHONPATH", repo().join("tests/python"))
        .output()?;
    if !ready.status.success() {
        let ok = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "bucketcache==0.12.1",
                "msgpack",
                "diskcache",
            ])
            .status()?
            .success();
        if !ok {
            bail!("pip install bucketcache==0.12.1 msgpack diskcache failed (no network?)");
        }
    }
    Ok(python)
}

/// Runs the Python systems at size `n` in `dir`.
pub fn run(n: usize, dir: &Path) -> Result<Vec<(String, Results)>> {
    let python = venv_python()?;
    std::fs::create_dir_all(dir)?;
    eprintln!("n={n}: Python systems");
    let out = Command::new(python)
        .arg(repo().join("bench/python_bench.py"))
        .args(["--n", &n.to_string(), "--dir"])
        .arg(dir)
        .env("PYTHONPATH", repo().join("tests/python"))
        .output()?;
    if !out.status.success() {
        bail!(
            "python_bench.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let parsed: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>> =
        serde_json::from_slice(&out.stdout).context("python_bench.py output")?;
    Ok(parsed
        .into_iter()
        .map(|(system, results)| {
            let results = results
                .into_iter()
                .filter_map(|(w, v)| {
                    crate::WORKLOADS
                        .iter()
                        .chain(&["prune"])
                        .find(|k| **k == w)
                        .map(|k| (*k, v))
                })
                .collect();
            (system, results)
        })
        .collect())
}
