//! The results table: median µs/op, and the ratio to the file-system floor for the same workload
//! (for the Redis store's row, to the raw `SET`/`GET` on the same server); and the scaling table
//! across N.

use std::collections::BTreeMap;

use crate::{Results, WORKLOADS};

const FLOOR: &str = "floor (write+rename / read)";

/// The row a system's ratio is to.
fn baseline(name: &str) -> &'static str {
    if name.starts_with("bucketcache") && name.ends_with(" redis") {
        crate::redis_raw::NAME
    } else {
        FLOOR
    }
}

pub fn print(n: usize, all: &BTreeMap<String, Results>) {
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
        let floor = all.get(baseline(name)).cloned().unwrap_or_default();
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
    if all.contains_key(crate::redis_raw::NAME) {
        println!(
            "\n(`bucketcache msgpack redis`: × `{}` on the same server.)",
            crate::redis_raw::NAME
        );
    }
}

/// How each operation's cost grows with N, per local store (and the floor): µs per operation
/// (`open`: per open; `cli ls`: per entry listed, N + the 4 large entries) at each N, and the
/// growth of that cost from the smallest to the largest N. A per-operation cost that grows with
/// N is work that grows faster than the entry count.
pub fn scaling(all: &[(usize, BTreeMap<String, Results>)]) {
    if all.len() < 2 {
        return;
    }
    let ops = ["open", "set", "get cold", "prune", "budget set", "cli ls"];
    let rows = [FLOOR, "bucketcache msgpack", "bucketcache msgpack lmdb"];
    println!("\n### Scaling: µs per operation at each N (`cli ls`: per entry), growth smallest → largest N\n");
    print!("| system | operation |");
    for (n, _) in all {
        print!(" N = {n} |");
    }
    println!(" growth |");
    print!("|---|---|");
    for _ in all {
        print!("---:|");
    }
    println!("---:|");
    for row in rows {
        for op in ops {
            let per_n: Vec<Option<f64>> = all
                .iter()
                .map(|(n, r)| {
                    let v = r.get(row)?.get(op).copied()?;
                    Some(if op == "cli ls" {
                        v / (n + 4) as f64
                    } else {
                        v
                    })
                })
                .collect();
            if per_n.iter().all(Option::is_none) {
                continue;
            }
            print!("| {row} | {op} |");
            for v in &per_n {
                match v {
                    Some(v) => print!(" {} |", fmt(*v)),
                    None => print!(" – |"),
                }
            }
            match (
                per_n.first().copied().flatten(),
                per_n.last().copied().flatten(),
            ) {
                (Some(a), Some(b)) if a > 0.0 => println!(" {:.2}× |", b / a),
                _ => println!(" – |"),
            }
        }
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

/// The targets of issue 23 that this harness measures, against the same run's figures.
pub fn targets(n: usize, all: &BTreeMap<String, Results>) {
    let get = |row: &str, op: &str| all.get(row).and_then(|r| r.get(op)).copied();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let floor = |op: &str| get(FLOOR, op);
    let ours = |backend: &str, op: &str| get(&format!("bucketcache {backend}"), op);
    let redb = "cached 4.1 RedbCache";
    let lmdb = "bucketcache msgpack lmdb";
    let rows: Vec<(String, Option<f64>, f64, &str)> = vec![
        (
            "fs cold get msgpack, × fs::read".into(),
            ratio(ours("msgpack", "get cold"), floor("get cold")),
            1.15,
            "×",
        ),
        (
            "fs cold get json, × fs::read".into(),
            ratio(ours("json", "get cold"), floor("get cold")),
            1.2,
            "×",
        ),
        (
            "fs cold get pickle, × fs::read".into(),
            ratio(ours("pickle", "get cold"), floor("get cold")),
            1.4,
            "×",
        ),
        (
            format!("warm get msgpack, {n} keys resident (µs)"),
            ours("msgpack", "get warm"),
            0.5,
            "µs",
        ),
        (
            "1 MiB get msgpack, × fs::read".into(),
            ratio(ours("msgpack", "1MiB get"), floor("1MiB get")),
            1.3,
            "×",
        ),
        (
            "1 MiB get json, × fs::read".into(),
            ratio(ours("json", "1MiB get"), floor("1MiB get")),
            2.0,
            "×",
        ),
        (
            "LMDB cold get, × redb's".into(),
            ratio(get(lmdb, "get cold"), get(redb, "get cold")),
            1.0,
            "×",
        ),
        (
            "LMDB 1 MiB get, × redb's".into(),
            ratio(get(lmdb, "1MiB get"), get(redb, "1MiB get")),
            1.0,
            "×",
        ),
        (
            "prune msgpack, × read+unlink".into(),
            ratio(ours("msgpack", "prune"), floor("prune")),
            1.3,
            "×",
        ),
        (
            "budgeted set msgpack, × unbudgeted set".into(),
            ratio(ours("msgpack", "budget set"), ours("msgpack", "set")),
            1.3,
            "×",
        ),
    ];
    println!("\n### N = {n}: the targets of issue 23 in this run\n");
    println!("| target | measured | limit | |\n|---|---:|---:|---|");
    for (what, v, limit, unit) in rows {
        match v {
            Some(v) => println!(
                "| {what} | {v:.2}{unit} | {limit}{unit} | {} |",
                if v <= limit { "met" } else { "**not met**" }
            ),
            None => println!("| {what} | – | {limit}{unit} | not measured |"),
        }
    }
}
