//! The checks of the store itself: reads, writes, `remove`, `remove_if`, `list`, `touch`, read
//! limits, names, many keys, concurrency and a second instance.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bucketcache_core::backend::HEAD_LEN;
use bucketcache_core::registry;
use bucketcache_core::store::{Fetched, Kind, ReadLimits};

use super::{is_tagged, name, names, read, tagged, Context, Make, ANY};

pub(super) fn missing_names(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(1, "json");
    ensure!(
        matches!(store.read(&n, &ANY).or_say("read")?, Fetched::Missing),
        "reading a missing name is not Fetched::Missing"
    );
    ensure!(
        !store.remove(&n).or_say("remove")?,
        "removing a missing name says it removed something"
    );
    let called = AtomicBool::new(false);
    let removed = store
        .remove_if(&n, &|_| {
            called.store(true, Ordering::SeqCst);
            true
        })
        .or_say("remove_if")?;
    ensure!(
        removed.is_none(),
        "remove_if of a missing name removed {removed:?}"
    );
    ensure!(
        !called.load(Ordering::SeqCst),
        "remove_if called the condition for a missing name"
    );
    store.touch(&n).or_say("touching a missing name")?;
    ensure!(
        read(&*store, &n)?.is_none(),
        "touching a missing name created it"
    );
    let listed = names(&*store)?;
    ensure!(
        listed.is_empty(),
        "a new store lists {:?}",
        listed.keys().collect::<Vec<_>>()
    );
    Ok(())
}

pub(super) fn exact_bytes_and_sizes(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..1usize << 20).map(|i| (i * 7 % 251) as u8).collect();
    let cases: [(&str, &[u8]); 5] = [
        ("empty", b""),
        ("one byte", b"\0"),
        ("every byte value", &all_bytes),
        ("a head's length", &all_bytes[..HEAD_LEN]),
        ("1 MiB", &big),
    ];
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let n = name(i, "bin");
        store.write(&n, bytes).or_say(&format!("write {what}"))?;
        let back = read(&*store, &n)?;
        ensure!(
            back.as_deref() == Some(*bytes),
            "{what}: read back {:?} bytes, wrote {}",
            back.map(|b| b.len()),
            bytes.len()
        );
    }
    let listed = names(&*store)?;
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let size = listed.get(&name(i, "bin")).map(|(size, _)| *size);
        ensure!(
            size == Some(bytes.len() as u64),
            "{what}: listed with size {size:?}, not {}",
            bytes.len()
        );
    }
    Ok(())
}

pub(super) fn replace(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(7, "json");
    for bytes in [&b"a long first value"[..], b"short", b"", b"again longer"] {
        store.write(&n, bytes).or_say("write")?;
        let back = read(&*store, &n)?;
        ensure!(
            back.as_deref() == Some(bytes),
            "after replacing with {:?} read {:?}",
            String::from_utf8_lossy(bytes),
            back.map(|b| String::from_utf8_lossy(&b).into_owned())
        );
    }
    ensure!(
        names(&*store)?.len() == 1,
        "replacing made more than one name"
    );
    Ok(())
}

pub(super) fn remove(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let (a, b) = (name(1, "json"), name(2, "json"));
    store.write(&a, b"a").or_say("write")?;
    store.write(&b, b"b").or_say("write")?;
    ensure!(
        store.remove(&a).or_say("remove")?,
        "remove of an entry said false"
    );
    ensure!(read(&*store, &a)?.is_none(), "a removed entry still reads");
    ensure!(
        !store.remove(&a).or_say("remove again")?,
        "a second remove said true"
    );
    ensure!(
        read(&*store, &b)?.as_deref() == Some(&b"b"[..]),
        "removing one entry touched another"
    );
    let listed = names(&*store)?;
    ensure!(
        listed.keys().eq([&b]),
        "after a remove, list gives {:?}",
        listed.keys().collect::<Vec<_>>()
    );
    Ok(())
}

pub(super) fn remove_if(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(3, "msgpack");
    store.write(&n, b"old").or_say("write")?;
    store.write(&n, b"current").or_say("write")?;
    let seen = std::sync::Mutex::new(Vec::new());
    let kept = store
        .remove_if(&n, &|bytes| {
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(bytes.to_vec());
            false
        })
        .or_say("remove_if")?;
    ensure!(kept.is_none(), "a false condition removed {kept:?}");
    let seen = seen.into_inner().unwrap_or_else(|p| p.into_inner());
    ensure!(
        seen == [b"current".to_vec()],
        "the condition was shown {:?}, not the current bytes once",
        seen.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
    );
    ensure!(read(&*store, &n)?.is_some(), "a false condition removed it");
    let removed = store
        .remove_if(&n, &|bytes| bytes == b"current")
        .or_say("remove_if")?;
    ensure!(
        removed == Some(7),
        "a true condition answered {removed:?}, not Some(7)"
    );
    ensure!(read(&*store, &n)?.is_none(), "remove_if left the entry");
    Ok(())
}

pub(super) fn list(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let mut expected = BTreeMap::new();
    for i in 0..20 {
        let n = name(i, if i % 2 == 0 { "json" } else { "pickle" });
        let bytes = vec![b'x'; i * 3];
        store.write(&n, &bytes).or_say("write")?;
        expected.insert(n, (bytes.len() as u64, Kind::File));
    }
    store.remove(&name(4, "json")).or_say("remove")?;
    expected.remove(&name(4, "json"));
    let listed = names(&*store)?;
    ensure!(
        listed == expected,
        "list gives {listed:?}, expected {expected:?} (a store's own files and temporaries are not listed)"
    );
    let stale = store.stale_temporaries().or_say("stale_temporaries")?;
    ensure!(
        stale.is_empty(),
        "after successful writes, stale temporaries: {stale:?}"
    );
    Ok(())
}

pub(super) fn read_limits(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(5, "json");
    let bytes: Vec<u8> = (0..100u8).collect();
    store.write(&n, &bytes).or_say("write")?;
    let small = ReadLimits {
        max_bytes: 99,
        may_begin: &|_| true,
    };
    let got = store.read(&n, &small).or_say("read")?;
    ensure!(
        matches!(got, Fetched::TooLarge(100)),
        "100 bytes with max_bytes 99 gave {got:?}, not TooLarge(100)"
    );
    let exact = ReadLimits {
        max_bytes: 100,
        may_begin: &|_| true,
    };
    let got = store.read(&n, &exact).or_say("read")?;
    ensure!(
        matches!(&got, Fetched::Bytes(b) if *b == bytes),
        "100 bytes with max_bytes 100 gave {got:?}"
    );
    let heads = std::sync::Mutex::new(Vec::new());
    let refuse = |h: &[u8]| {
        heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(h.to_vec());
        false
    };
    let picky = ReadLimits {
        max_bytes: 1000,
        may_begin: &refuse,
    };
    let got = store.read(&n, &picky).or_say("read")?;
    ensure!(
        matches!(got, Fetched::Rejected),
        "a refused head gave {got:?}, not Rejected"
    );
    let shown = heads.into_inner().unwrap_or_else(|p| p.into_inner());
    ensure!(
        shown.len() == 1 && shown[0] == bytes[..HEAD_LEN],
        "the head shown was {shown:?}, not the first {HEAD_LEN} bytes"
    );
    let short = name(6, "json");
    store.write(&short, b"{}").or_say("write")?;
    let got = store
        .read(
            &short,
            &ReadLimits {
                max_bytes: 10,
                may_begin: &|h| h == b"{}",
            },
        )
        .or_say("read")?;
    ensure!(
        matches!(&got, Fetched::Bytes(b) if b == b"{}"),
        "a 2-byte entry's head is the whole entry: got {got:?}"
    );
    Ok(())
}

pub(super) fn names_with_every_extension(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let mut extensions: BTreeSet<String> = registry::backends()
        .into_iter()
        .map(|b| b.extension)
        .collect();
    extensions.extend(["json", "msgpack", "pickle", "bin", "cbor", "x"].map(String::from));
    let mut written = BTreeSet::new();
    for (i, ext) in extensions.iter().enumerate() {
        for n in [name(i, ext), format!("{i:032x}.{ext}")] {
            store
                .write(&n, n.as_bytes())
                .or_say(&format!("write {n}"))?;
            ensure!(
                read(&*store, &n)?.as_deref() == Some(n.as_bytes()),
                "{n} does not read back"
            );
            written.insert(n);
        }
    }
    let listed: BTreeSet<String> = names(&*store)?.into_keys().collect();
    ensure!(
        listed == written,
        "list differs from what was written: missing {:?}, extra {:?}",
        written.difference(&listed).collect::<Vec<_>>(),
        listed.difference(&written).collect::<Vec<_>>()
    );
    Ok(())
}

pub(super) fn many_keys(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    const N: usize = 2000;
    for i in 0..N {
        let n = name(i, "msgpack");
        store
            .write(&n, &tagged(&n, i, 40 + i % 300))
            .or_say("write")?;
    }
    let listed = names(&*store)?;
    ensure!(
        listed.len() == N,
        "{N} keys written, {} listed",
        listed.len()
    );
    for i in (0..N).step_by(97) {
        let n = name(i, "msgpack");
        let back = read(&*store, &n)?.unwrap_or_default();
        ensure!(is_tagged(&n, &back), "key {i} reads a wrong value");
        ensure!(
            listed.get(&n).map(|l| l.0) == Some(back.len() as u64),
            "key {i} is listed with a wrong size"
        );
    }
    Ok(())
}

pub(super) fn touch(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(9, "json");
    store.write(&n, b"value").or_say("write")?;
    store.touch(&n).or_say("touch")?;
    ensure!(
        read(&*store, &n)?.as_deref() == Some(&b"value"[..]),
        "touch changed the entry"
    );
    Ok(())
}

pub(super) fn concurrent_writers(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    const THREADS: usize = 4;
    const WRITES: usize = 250;
    const KEYS: usize = 20;
    let errors = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = &store;
            let errors = &errors;
            s.spawn(move || {
                for seq in 0..WRITES {
                    let k = (seq * 7 + t) % KEYS;
                    let n = name(k, "json");
                    let tag = t * WRITES + seq;
                    let result = if seq % 5 == 4 {
                        store.remove(&n).map(drop)
                    } else {
                        store.write(&n, &tagged(&n, tag, 50 + (tag * 13) % 3000))
                    };
                    if let Err(e) = result {
                        errors
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(e.to_string());
                        return;
                    }
                    if let Ok(Fetched::Bytes(b)) = store.read(&n, &ANY) {
                        if !is_tagged(&n, &b) {
                            errors
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("{n} read a mixed or foreign value"));
                            return;
                        }
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    ensure!(errors.is_empty(), "{errors:?}");
    for (n, _) in names(&*store)? {
        let back = read(&*store, &n)?.unwrap_or_default();
        ensure!(is_tagged(&n, &back), "{n} holds a mixed or foreign value");
    }
    let stale = store.stale_temporaries().or_say("stale_temporaries")?;
    ensure!(stale.is_empty(), "writers left temporaries: {stale:?}");
    Ok(())
}

pub(super) fn atomic_replacement(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let store = make(dir);
    let n = name(11, "msgpack");
    let a = tagged(&n, 1, 200_000);
    let b = tagged(&n, 2, 70_000);
    store.write(&n, &a).or_say("write")?;
    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let outcome = std::thread::scope(|s| {
        let reader = s.spawn(|| -> Result<(), String> {
            while !done.load(Ordering::SeqCst) {
                let got = read(&*store, &n)?;
                reads.fetch_add(1, Ordering::Relaxed);
                match got {
                    Some(bytes) if bytes == a || bytes == b => {}
                    Some(bytes) => {
                        return Err(format!("a reader saw {} bytes, neither value", bytes.len()))
                    }
                    None => return Err("a reader saw the entry missing during a replace".into()),
                }
            }
            Ok(())
        });
        let mut written = Ok(());
        // Writes go on until the reader has read many times (and at least 200 writes).
        let mut i = 0;
        while i < 200 || (reads.load(Ordering::Relaxed) < 200 && i < 20_000) {
            let value = if i % 2 == 0 { &b } else { &a };
            if let Err(e) = store.write(&n, value) {
                written = Err(format!("write: {e}"));
                break;
            }
            i += 1;
        }
        done.store(true, Ordering::SeqCst);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err("the reader panicked".into()));
        written.and(read)
    });
    outcome
}

pub(super) fn second_instance(make: Make<'_>, dir: &Path) -> Result<(), String> {
    let n = name(12, "json");
    {
        let first = make(dir);
        first.write(&n, b"persisted").or_say("write")?;
        let second = make(dir);
        ensure!(
            read(&*second, &n)?.as_deref() == Some(&b"persisted"[..]),
            "a second instance open at the same time does not see the write"
        );
        second.write(&n, b"from the second").or_say("write")?;
        ensure!(
            read(&*first, &n)?.as_deref() == Some(&b"from the second"[..]),
            "the first instance does not see the second's write"
        );
    }
    let later = make(dir);
    ensure!(
        read(&*later, &n)?.as_deref() == Some(&b"from the second"[..]),
        "an instance opened after the others were dropped does not see their writes"
    );
    Ok(())
}
