//! An expensive function, memoized on disk: the first run computes, the second run (a new
//! process) answers from the cache at once.
//!
//! ```text
//! cargo run --release --example memoize             # computes: about a second
//! cargo run --release --example memoize             # instant: read from the cache
//! cargo run --release --example memoize -- --refresh  # recomputes and overwrites
//! ```
//!
//! The cache lives in `$TMPDIR/bucketcache-memoize-demo` (or the directory in
//! `BUCKETCACHE_DEMO_DIR`).

use std::sync::LazyLock;
use std::time::Instant;

use bucketcache::{Bucket, CachedCallInfo};

static BUCKET: LazyLock<Bucket> = LazyLock::new(|| {
    let dir = std::env::var_os("BUCKETCACHE_DEMO_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join("bucketcache-memoize-demo"));
    Bucket::builder(dir)
        .backend("json")
        .days(7)
        .open()
        .expect("the demo cache directory can be created")
});

fn report_hit(info: &CachedCallInfo<u64>) {
    let args = bucketcache::serde_json::Value::Object(info.callargs.clone());
    let expires = info.expiration.map(|e| e.to_string());
    println!(
        "  (cache hit for {args}, expires {})",
        expires.as_deref().unwrap_or("never")
    );
}

/// Counts the primes below `limit`, slowly, on purpose.
#[bucketcache::cached(bucket = BUCKET, nocache = refresh, callback = report_hit)]
fn count_primes(limit: u64, refresh: bool) -> u64 {
    (2..limit)
        .filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

fn main() -> anyhow::Result<()> {
    let refresh = std::env::args().any(|a| a == "--refresh");
    println!("cache: {}", BUCKET.path().display());
    for limit in [2_000_000, 3_000_000] {
        let started = Instant::now();
        let n = count_primes(limit, refresh);
        println!("primes below {limit}: {n}  ({:.3?})", started.elapsed());
    }
    Ok(())
}
