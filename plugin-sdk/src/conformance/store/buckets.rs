//! The checks through a [`Bucket`] opened with `.store_instance(..)`: every linked backend,
//! expiry, `prune`, deferred writes, memoization and the inspector.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bucketcache_core::registry::{self, Origin};
use bucketcache_core::store::Store;
use bucketcache_core::{inspect::State, Bucket, ManualClock};

use super::{names, read, Context, Make};

/// The backends of linked crates.
fn linked_backends() -> Result<Vec<String>, String> {
    let names: Vec<String> = registry::backends()
        .into_iter()
        .filter(|b| matches!(b.origin, Origin::BuiltIn(_) | Origin::Crate(_)))
        .map(|b| b.name)
        .collect();
    ensure!(
        !names.is_empty(),
        "no backend is registered: link `bucketcache` (or register backends) before the kit runs"
    );
    Ok(names)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        "2030-01-01T12:00:00.250000".parse().unwrap_or_default(),
    ))
}

fn bucket(
    store: &Arc<dyn Store>,
    backend: &str,
    clock: &Arc<ManualClock>,
    lifetime: Option<Duration>,
) -> Result<Bucket, String> {
    let mut b = Bucket::builder(store.location())
        .store_instance(store.clone())
        .backend(backend)
        .clock(clock.clone());
    if let Some(l) = lifetime {
        b = b.lifetime(l);
    }
    b.open().or_say(&format!("open a {backend} bucket"))
}

type Sample = (
    String,
    i64,
    Vec<f64>,
    bool,
    Option<String>,
    BTreeMap<String, u32>,
);

fn sample(i: i64) -> Sample {
    (
        format!("h\u{e9}llo {i}"),
        -i * 1_000_003,
        vec![0.5, -2.25, i as f64],
        i % 2 == 0,
        (i % 3 == 0).then(|| "some".to_owned()),
        BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), i as u32)]),
    )
}

pub(super) fn every_backend_round_trips(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backends = linked_backends()?;
    for backend in &backends {
        let b = bucket(&store, backend, &clock, None)?;
        for i in 0..10 {
            b.set(&("key", i), &sample(i)).or_say("set")?;
        }
        for i in 0..10 {
            let got: Option<Sample> = b.get(&("key", i)).or_say("get")?;
            ensure!(got == Some(sample(i)), "{backend}: key {i} reads {got:?}");
        }
        ensure!(
            b.contains(&("key", 3)).or_say("contains")?,
            "{backend}: contains is false"
        );
        ensure!(
            b.remove(&("key", 3)).or_say("remove")?,
            "{backend}: remove is false"
        );
        ensure!(
            b.get::<Sample>(&("key", 3)).or_say("get")?.is_none(),
            "{backend}: a removed key reads"
        );
    }
    // Cold: new buckets on a new instance of the store read what the others wrote.
    let again = make(dir);
    for backend in &backends {
        let b = bucket(&again, backend, &clock, None)?;
        for i in [0, 5, 9] {
            let got: Option<Sample> = b.get(&("key", i)).or_say("get")?;
            ensure!(
                got == Some(sample(i)),
                "{backend}: a new bucket reads key {i} as {got:?}"
            );
        }
        ensure!(
            b.get::<Sample>(&("key", 3)).or_say("get")?.is_none(),
            "{backend}: a new bucket reads a removed key"
        );
    }
    let entries = names(&*again)?.len();
    ensure!(
        entries == backends.len() * 9,
        "{entries} names listed for {} backends × 9 entries",
        backends.len()
    );
    Ok(())
}

pub(super) fn expiry(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, Some(Duration::from_secs(60)))?;
    b.set("soon", &1).or_say("set")?;
    let file = b.path_for_key("soon").or_say("path_for_key")?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    clock.advance(Duration::from_secs(59));
    ensure!(
        b.get::<i32>("soon").or_say("get")? == Some(1),
        "an entry expired before its lifetime"
    );
    clock.advance(Duration::from_secs(2));
    let fresh = bucket(&store, backend, &clock, Some(Duration::from_secs(60)))?;
    ensure!(
        fresh.get::<i32>("soon").or_say("get")?.is_none(),
        "an expired entry reads as a value"
    );
    ensure!(
        read(&*store, &name)?.is_none(),
        "an expired entry was not deleted on read"
    );
    b.set("later", &2).or_say("set")?;
    ensure!(
        b.get::<i32>("later").or_say("get")? == Some(2),
        "a new entry after expiry does not read"
    );
    Ok(())
}

pub(super) fn prune(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, Some(Duration::from_secs(60)))?;
    for i in 0..3 {
        b.set(&("old", i), &i).or_say("set")?;
    }
    clock.advance(Duration::from_secs(120));
    b.set("fresh", &"kept").or_say("set")?;
    store
        .write("package.json", b"{}")
        .or_say("write a foreign name")?;
    let plan = b.inspector().prune_plan().or_say("prune_plan")?;
    ensure!(
        plan.removals.len() == 3,
        "the prune plan removes {} names, not 3",
        plan.removals.len()
    );
    let pruned = b.prune().or_say("prune")?;
    ensure!(
        pruned.files == 3,
        "prune removed {} entries, not 3",
        pruned.files
    );
    ensure!(
        b.get::<String>("fresh").or_say("get")?.as_deref() == Some("kept"),
        "prune removed a live entry"
    );
    ensure!(
        read(&*store, "package.json")?.is_some(),
        "prune removed a foreign name"
    );
    ensure!(
        names(&*store)?.len() == 2,
        "after prune: {:?}",
        names(&*store)?.keys().collect::<Vec<_>>()
    );
    Ok(())
}

pub(super) fn deferred_writes(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, None)?;
    let d = b.deferred();
    for i in 0..50 {
        d.set("counter", &i).or_say("deferred set")?;
    }
    ensure!(
        names(&*store)?.is_empty(),
        "a deferred write reached the store before sync"
    );
    d.sync().or_say("sync")?;
    ensure!(d.unsynced() == 0, "entries still pending after sync");
    let fresh = bucket(&make(dir), backend, &clock, None)?;
    ensure!(
        fresh.get::<i32>("counter").or_say("get")? == Some(49),
        "a new bucket does not read the synced value"
    );
    Ok(())
}

pub(super) fn memoization(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, None)?;
    let calls = AtomicUsize::new(0);
    let compute = || {
        calls.fetch_add(1, Ordering::SeqCst);
        vec![7u32; 7]
    };
    let first: Vec<u32> = b
        .get_or_insert_with(&("square", 7), compute)
        .or_say("memoize")?;
    let second: Vec<u32> = b
        .get_or_insert_with(&("square", 7), compute)
        .or_say("memoize")?;
    let fresh = bucket(&make(dir), backend, &clock, None)?;
    let third: Vec<u32> = fresh
        .get_or_insert_with(&("square", 7), compute)
        .or_say("memoize")?;
    ensure!(
        first == vec![7; 7] && second == first && third == first,
        "memoized values differ"
    );
    let calls = calls.load(Ordering::SeqCst);
    ensure!(calls == 1, "computed {calls} times, not once");
    Ok(())
}

pub(super) fn inspector(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let clock = clock();
    let backend = &linked_backends()?[0];
    let b = bucket(&store, backend, &clock, None)?;
    for i in 0..5 {
        b.set(&i, &i).or_say("set")?;
    }
    store.write("notes.txt", b"hello").or_say("write")?;
    let items = b.inspector().items().or_say("items")?;
    let ok = items.iter().filter(|i| i.state == State::Ok).count();
    let foreign = items
        .iter()
        .filter(|i| matches!(i.state, State::Foreign(_)))
        .count();
    ensure!(
        ok == 5 && foreign == 1 && items.len() == 6,
        "the inspector sees {ok} entries and {foreign} foreign names in {} items",
        items.len()
    );
    Ok(())
}
