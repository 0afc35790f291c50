//! The directory scan over random mixes: nothing but expired entries is ever deleted. Random
//! directories (Unix only: FIFOs and links).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bucketcache::inspect::State;
use bucketcache::store::FsStore;
use bucketcache::{Clock, ManualClock};
use proptest::prelude::*;

use super::{hour_bucket, mkfifo, name_of, states, within, Unreadable};
use crate::common::{builder, clock, files_in};

/// One thing put in a cache directory.
#[derive(Debug, Clone, Copy)]
enum Thing {
    /// An entry written just now.
    Live,
    /// An entry whose expiration has passed.
    Expired,
    /// An entry's name holding bytes that do not decode (a truncated expired entry, garbage,
    /// nothing): never deleted, whatever it once was.
    Corrupt(u8),
    /// An expired or live entry that the store cannot read (another user's file).
    Unreadable { expired: bool },
    /// A name that is not an entry's (`package.json`, a digest one digit short, ...), holding an
    /// expired entry's bytes.
    Foreign(u8),
    /// An expired entry of another backend: not this bucket's to judge.
    OtherBackend,
    /// A symbolic link named like an entry, to an expired entry outside the directory.
    Link,
    /// A FIFO named like an entry.
    Fifo,
    /// A directory named like an entry.
    Directory,
}

fn thing() -> impl Strategy<Value = Thing> {
    prop_oneof![
        Just(Thing::Live),
        Just(Thing::Expired),
        (0u8..3).prop_map(Thing::Corrupt),
        any::<bool>().prop_map(|expired| Thing::Unreadable { expired }),
        (0u8..6).prop_map(Thing::Foreign),
        Just(Thing::OtherBackend),
        Just(Thing::Link),
        Just(Thing::Fifo),
        Just(Thing::Directory),
    ]
}

/// What a name should look like after `prune`: gone, or exactly as it was.
#[derive(Debug, PartialEq)]
enum After {
    Gone,
    Bytes(Vec<u8>),
    Link(PathBuf),
    Fifo,
    Directory,
}

fn after(path: &Path) -> After {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return After::Gone;
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        After::Link(fs::read_link(path).unwrap())
    } else if kind.is_dir() {
        After::Directory
    } else if kind.is_file() {
        After::Bytes(fs::read(path).unwrap())
    } else {
        After::Fifo
    }
}

fn scan_and_prune(backend: &str, things: &[Thing]) -> Result<(), TestCaseError> {
    let other = if backend == "msgpack" {
        "json"
    } else {
        "msgpack"
    };
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let clock = clock();
    let past = Arc::new(ManualClock::new(clock.now() - chrono::TimeDelta::hours(2)));
    let old = hour_bucket(dir.path(), backend, &past);
    let old_other = hour_bucket(dir.path(), other, &past);
    let old_outside = hour_bucket(outside.path(), backend, &past);
    let now = hour_bucket(dir.path(), backend, &clock);

    let mut unreadable = HashSet::new();
    let mut expected: BTreeMap<String, (After, &'static str)> = BTreeMap::new();
    let (mut expired_files, mut unreadable_entries) = (0, 0);
    for (i, thing) in things.iter().enumerate() {
        let key = format!("key {i}");
        let path = now.path_for_key(&key).unwrap();
        let name = name_of(&path);
        let state = match *thing {
            Thing::Live => {
                now.set(&key, &i).unwrap();
                "ok"
            }
            Thing::Expired => {
                old.set(&key, &i).unwrap();
                expired_files += 1;
                expected.insert(name, (After::Gone, "expired"));
                continue;
            }
            Thing::Corrupt(flavour) => {
                old.set(&key, &"an expired value, cut short").unwrap();
                let whole = fs::read(&path).unwrap();
                let bytes = match flavour {
                    0 => whole[..whole.len() / 2].to_vec(),
                    1 => b"\x00 garbage \xff".to_vec(),
                    _ => Vec::new(),
                };
                fs::write(&path, bytes).unwrap();
                "corrupt"
            }
            Thing::Unreadable { expired } => {
                let by = if expired { &old } else { &now };
                by.set(&key, &i).unwrap();
                unreadable.insert(name.clone());
                unreadable_entries += 1;
                "unreadable"
            }
            Thing::Foreign(which) => {
                old.set(&key, &i).unwrap();
                let digest = now.hash_for_key(&key).unwrap();
                let ext = now.backend().file_extension().to_owned();
                let foreign = match which {
                    0 => format!("package-{i}.json"),
                    1 => format!("data-{i}.msgpack"),
                    2 => format!("{}.{ext}", &digest[..digest.len() - 1]),
                    3 => format!("{digest}{i:x}.{ext}"),
                    4 => format!("{}.{ext}", digest.to_uppercase()),
                    _ => format!("{digest}.{ext}.{i}"),
                };
                fs::rename(&path, dir.path().join(&foreign)).unwrap();
                let bytes = fs::read(dir.path().join(&foreign)).unwrap();
                expected.insert(foreign, (After::Bytes(bytes), "foreign"));
                continue;
            }
            Thing::OtherBackend => {
                old_other.set(&key, &i).unwrap();
                let path = old_other.path_for_key(&key).unwrap();
                let bytes = fs::read(&path).unwrap();
                expected.insert(name_of(&path), (After::Bytes(bytes), "unlisted"));
                continue;
            }
            Thing::Link => {
                old_outside.set(&key, &i).unwrap();
                let target = old_outside.path_for_key(&key).unwrap();
                std::os::unix::fs::symlink(&target, &path).unwrap();
                "foreign"
            }
            Thing::Fifo => {
                mkfifo(&path);
                "foreign"
            }
            Thing::Directory => {
                fs::create_dir(&path).unwrap();
                "foreign"
            }
        };
        expected.insert(name, (after(&path), state));
    }
    let outside_before: Vec<_> = files_in(outside.path())
        .into_iter()
        .map(|n| (after(&outside.path().join(&n)), n))
        .collect();

    let store = Arc::new(Unreadable {
        inner: FsStore::new(dir.path(), false),
        unreadable,
    });
    let b = builder(dir.path(), backend, &clock)
        .lifetime(Duration::from_secs(3600))
        .store_instance(store)
        .open()
        .unwrap();
    let scan = within("a scan", {
        let b = b.clone();
        move || (states(&b), b.prune().unwrap(), states(&b))
    });
    let (before, pruned, after_prune) = scan;

    for (name, (_, state)) in &expected {
        let listed = before.get(name).map(State::word).unwrap_or("unlisted");
        prop_assert_eq!(listed, *state, "{} before the prune", name);
    }
    prop_assert_eq!(pruned.files, expired_files);
    prop_assert_eq!(pruned.skipped, unreadable_entries);
    for (name, (what, _)) in &expected {
        prop_assert_eq!(
            &after(&dir.path().join(name)),
            what,
            "{} after the prune",
            name
        );
        if *what == After::Gone {
            prop_assert!(!after_prune.contains_key(name));
        }
    }
    prop_assert_eq!(
        files_in(dir.path()).len(),
        expected.values().filter(|(a, _)| *a != After::Gone).count()
    );
    for (was, name) in outside_before {
        prop_assert_eq!(after(&outside.path().join(&name)), was, "{} outside", name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn prune_and_the_scan_delete_nothing_but_expired_entries(
        backend in prop::sample::select(vec!["json", "msgpack", "pickle"]),
        things in prop::collection::vec(thing(), 1..14),
    ) {
        scan_and_prune(backend, &things)?;
    }
}
