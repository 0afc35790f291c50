//! Per-operation timing: operations run in small batches, each batch's mean is one sample, and
//! the median sample is reported (robust to the noise of a shared machine).

use std::time::Instant;

use crate::Results;

const BATCH: usize = 16;

/// Runs `op(i)` for i in 0..n and returns the median batch mean in µs.
pub fn median_us(n: usize, mut op: impl FnMut(usize)) -> f64 {
    let mut samples = Vec::with_capacity(n / BATCH + 1);
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let started = Instant::now();
        for j in i..end {
            op(j);
        }
        samples.push(started.elapsed().as_secs_f64() * 1e6 / (end - i) as f64);
        i = end;
    }
    median(&mut samples)
}

/// Runs `op(i)` once per i in 0..n, each timed alone (for slow operations).
pub fn median_each_us(n: usize, mut op: impl FnMut(usize)) -> f64 {
    let mut samples: Vec<f64> = (0..n)
        .map(|i| {
            let started = Instant::now();
            op(i);
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    median(&mut samples)
}

pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

/// The per-workload median over rounds.
pub fn median_of_runs(runs: &[Results]) -> Results {
    let mut out = Results::new();
    for w in crate::WORKLOADS {
        let mut v: Vec<f64> = runs.iter().filter_map(|r| r.get(w).copied()).collect();
        if !v.is_empty() {
            out.insert(w, median(&mut v));
        }
    }
    out
}
