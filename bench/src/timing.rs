//! The median of a workload's samples (each sample is one batch's mean µs/op): robust to the
//! noise of a shared machine.

pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

/// The mean of the samples: for `budget set`, whose eviction runs in batches (a tenth of the
/// budget in one `set`), so that the median batch would not see it; all batches have the same
/// size, so this is the mean per operation, eviction amortized.
pub fn mean(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.iter().sum::<f64>() / samples.len() as f64
}
