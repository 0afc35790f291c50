//! The median of a workload's samples (each sample is one batch's mean µs/op): robust to the
//! noise of a shared machine.

pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}
