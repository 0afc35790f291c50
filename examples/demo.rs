//! The bucketcache demo: a slow call memoized across two runs of this program.
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! The program runs itself twice. The first run computes a slow "weather report" (one second
//! each) and stores it in two buckets sharing one directory: a MessagePack bucket with a one-hour
//! lifetime and a JSON bucket without one. The second run — a new process — finds every report
//! on disk and prints them instantly. Pass `--fresh` to start from an empty cache.

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bucketcache::Bucket;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    city: String,
    celsius: f64,
    summary: String,
}

/// Stands in for an HTTP call or a query: slow, and always the same answer for the same city.
fn slow_weather_report(city: &str) -> Report {
    sleep(Duration::from_secs(1));
    let celsius = city.bytes().map(f64::from).sum::<f64>() % 30.0;
    Report {
        city: city.to_owned(),
        celsius,
        summary: if celsius > 15.0 { "mild" } else { "chilly" }.to_owned(),
    }
}

fn main() -> Result<()> {
    let dir = std::env::temp_dir().join("bucketcache-demo");
    let run = std::env::var("BUCKETCACHE_DEMO_RUN").unwrap_or_else(|_| "1".into());
    if run == "1" && std::env::args().any(|a| a == "--fresh") {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "== run {run} (process {}), cache in {}",
        std::process::id(),
        dir.display()
    );

    // MessagePack (the default backend), entries live for one hour.
    let reports = Bucket::builder(&dir).hours(1).open()?;
    // JSON in the same directory, no lifetime: files never expire and Python can read them.
    let log = Bucket::builder(&dir).backend("json").open()?;

    for city in ["Oslo", "Lisbon", "Nairobi"] {
        let started = Instant::now();
        let key = ("weather", city);
        let report: Report = match reports.get(&key)? {
            Some(report) => report,
            None => {
                let report = slow_weather_report(city);
                reports.set(&key, &report)?;
                report
            }
        };
        let looked_up: u32 = log.get(&("lookups", city))?.unwrap_or(0) + 1;
        log.set(&("lookups", city), &looked_up)?;
        println!(
            "{:<8} {:>5.1} °C {:<7} lookup #{looked_up}  in {:>8.2?}",
            report.city,
            report.celsius,
            report.summary,
            started.elapsed()
        );
    }

    if run == "1" {
        println!("\nrunning the program again; every report now comes from disk:\n");
        let status = Command::new(std::env::current_exe()?)
            .env("BUCKETCACHE_DEMO_RUN", "2")
            .status()
            .context("re-running the demo")?;
        anyhow::ensure!(status.success(), "the second run failed: {status}");
        let pruned = reports.prune()?;
        println!(
            "\nprune: {} expired files removed ({} bytes); entries expire one hour after they were written",
            pruned.files, pruned.bytes
        );
    }
    Ok(())
}
