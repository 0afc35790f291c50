//! The LMDB store under crashes and a full disk.

use super::*;

fn open(dir: &Path) -> Bucket {
    Bucket::builder(dir)
        .store("lmdb")
        .store_options(serde_json::json!({"map_size": 65536}))
        .backend("msgpack")
        .open()
        .unwrap()
}

/// Writes large values forever, saying so after each.
pub fn crasher(dir: &Path) {
    let b = open(dir);
    let mut rng = Rng(u64::from(std::process::id()) * 7919);
    loop {
        let key = rng.below(10) as u32;
        b.set(&("large", key), &large(key, rng.next())).unwrap();
        println!("wrote");
    }
}

/// SIGKILLed after a random number of writes (so in the middle of a later one, most of the
/// time: a write of 16-64 KiB takes longer than the parent's reading of a line).
#[test]
fn a_writer_killed_twenty_times_mid_write_leaves_entries_absent_or_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    for _ in 0..20 {
        let mut c = child("lmdb-crasher", dir.path(), &[]).spawn().unwrap();
        let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
        let writes = 1 + rng.below(30);
        let mut line = String::new();
        for _ in 0..writes {
            line.clear();
            if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
                let status = c.wait();
                let mut err = String::new();
                std::io::Read::read_to_string(&mut c.stderr.take().unwrap(), &mut err).ok();
                panic!("the crasher exited early: {status:?}\n{err}");
            }
        }
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
    }
    let b = open(dir.path());
    let mut present = 0;
    for key in 0..10u32 {
        if let Some(v) = b.get::<Large>(&("large", key)).unwrap() {
            let expected = large(v.key, v.seed);
            assert_eq!(v.key, key);
            assert!(v.bytes == expected.bytes, "entry {key} is not intact");
            present += 1;
        }
    }
    assert!(present > 0, "no entry survived: the test exercised nothing");
    for item in b.inspector().items().unwrap() {
        assert!(item.state.reason().is_none(), "{item:?}");
    }
    b.set("after", &"the crashes").unwrap();
    assert_eq!(
        b.get::<String>("after").unwrap().as_deref(),
        Some("the crashes")
    );
}

/// Runs under `ulimit -f` with SIGXFSZ ignored: making the data file larger (to grow the
/// map) fails with EFBIG, as on a full disk.
pub fn file_size_limited(dir: &Path) {
    let b = open(dir);
    b.set("k", &"small and fine").unwrap();
    let huge = "y".repeat(1 << 20);
    let err = b.set("k", &huge).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(
        b.get::<String>("k").unwrap().as_deref(),
        Some("small and fine")
    );
    b.unload("k");
    assert_eq!(
        b.get::<String>("k").unwrap().as_deref(),
        Some("small and fine"),
        "the store still holds the old value"
    );
    b.set("k2", &"a small write still works").unwrap();
    println!("lmdb-file-size-limited child passed");
}

#[test]
fn a_full_disk_fails_the_set_and_keeps_the_old_value() {
    if !Path::new("/bin/sh").exists() {
        eprintln!("SKIPPED: no /bin/sh to set a file size limit");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    super::run_file_size_limited("lmdb-file-size-limited", 256, dir.path());
    // Another process opens the environment and reads the old value.
    let b = open(dir.path());
    assert_eq!(
        b.get::<String>("k").unwrap().as_deref(),
        Some("small and fine")
    );
}
