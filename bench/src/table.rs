//! The results table: median µs/op, and the ratio to the file-system floor for the same workload.

use std::collections::BTreeMap;

use crate::{Results, WORKLOADS};

const FLOOR: &str = "floor (write+rename / read)";

pub fn print(n: usize, all: &BTreeMap<String, Results>) {
    let floor = all.get(FLOOR).cloned().unwrap_or_default();
    let workloads: Vec<&str> = WORKLOADS.iter().copied().chain(["prune"]).collect();
    println!("\n### N = {n}: median µs/op (× floor)\n");
    print!("| system |");
    for w in &workloads {
        print!(" {w} |");
    }
    println!();
    print!("|---|");
    for _ in &workloads {
        print!("---:|");
    }
    println!();
    let mut names: Vec<&String> = all.keys().collect();
    names.sort_by_key(|name| {
        (
            name.as_str() != FLOOR,
            !name.starts_with("bucketcache"),
            name.to_string(),
        )
    });
    for name in names {
        print!("| {name} |");
        for w in &workloads {
            match all[name].get(w) {
                Some(v) if name == FLOOR => print!(" {} |", fmt(*v)),
                Some(v) => match floor.get(w) {
                    Some(f) if *f > 0.0 => print!(" {} ({:.2}×) |", fmt(*v), v / f),
                    _ => print!(" {} |", fmt(*v)),
                },
                None => print!(" – |"),
            }
        }
        println!();
    }
}

fn fmt(us: f64) -> String {
    if us >= 100.0 {
        format!("{us:.0}")
    } else if us >= 10.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.2}")
    }
}
