//! Issue #20 (11): read commands create and change nothing; a `data.mdb` that is not an LMDB
//! store is a foreign file and the commands work on the file entries beside it; a directory
//! holding both a file cache and an LMDB store says which one a command works on.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bucketcache::{Bucket, ManualClock};
use predicates::prelude::*;

use crate::common::*;

/// Every name of `dir` with its size, modification time and content.
type Snapshot = BTreeMap<String, (u64, SystemTime, Vec<u8>)>;

fn snapshot(dir: &Path) -> Snapshot {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = fs::symlink_metadata(e.path()).unwrap();
            let bytes = if meta.is_file() {
                fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (
                e.file_name().into_string().unwrap(),
                (meta.len(), meta.modified().unwrap(), bytes),
            )
        })
        .collect()
}

/// Runs every read command on `dir` (`extra` options first), keys "alpha" and "stale".
fn run_read_commands(dir: &Path, extra: &[&str]) {
    for cmd in [
        &["ls"][..],
        &["ls", "--json"],
        &["stats"],
        &["verify"],
        &["prune", "--dry-run", "--all-backends"],
    ] {
        let out = bc().args(cmd).args(extra).arg(dir).output().unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{cmd:?}: {out:?}");
    }
    for key in ["\"alpha\"", "\"stale\"", "\"absent\""] {
        let out = bc()
            .args(["get", "--backend", "json"])
            .args(extra)
            .arg(dir)
            .arg(key)
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| c < 2),
            "get {key}: {out:?}"
        );
    }
}

#[test]
fn read_commands_create_and_change_nothing_in_a_file_cache() {
    let (_tmp, dir) = library_dir();
    let before = snapshot(&dir);
    run_read_commands(&dir, &[]);
    // `get` of the expired entry did not delete it, nothing was created or touched.
    assert_eq!(snapshot(&dir), before);
}

/// An LMDB cache like `library_dir`'s: two live json entries and one that expired in 2000.
fn lmdb_dir() -> (tempfile::TempDir, PathBuf) {
    bucketcache::install_default_backends().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let live = Bucket::builder(&dir)
        .store("lmdb")
        .backend("json")
        .open()
        .unwrap();
    live.set("alpha", &1).unwrap();
    live.set(&("user", 7), &"a longer value").unwrap();
    let past = ManualClock::new("2000-01-01T00:00:00".parse().unwrap());
    let old = Bucket::builder(&dir)
        .store("lmdb")
        .backend("json")
        .lifetime(Duration::from_secs(3600))
        .clock(Arc::new(past))
        .open()
        .unwrap();
    old.set("stale", &true).unwrap();
    (tmp, dir)
}

#[test]
fn read_commands_create_and_change_nothing_in_an_lmdb_cache() {
    let (_tmp, dir) = lmdb_dir();
    // As a copied cache: only data.mdb. No lock.mdb, no resize lock may appear.
    fs::remove_file(dir.join("lock.mdb")).unwrap();
    let _ = fs::remove_file(dir.join(".bucketcache-lmdb.lock"));
    let before = snapshot(&dir);
    assert_eq!(before.keys().collect::<Vec<_>>(), ["data.mdb"]);
    run_read_commands(&dir, &[]);
    run_read_commands(&dir, &["--store", "lmdb"]);
    assert_eq!(
        snapshot(&dir),
        before,
        "no file created, data.mdb unchanged"
    );
    let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(&dir)));
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().any(|r| r["state"] == "expired"), "{rows:?}");
}

#[test]
fn read_commands_on_an_lmdb_cache_with_its_lock_file_create_nothing_and_leave_data_mdb_as_it_was() {
    let (_tmp, dir) = lmdb_dir();
    let _ = fs::remove_file(dir.join(".bucketcache-lmdb.lock"));
    let data = || {
        let meta = fs::metadata(dir.join("data.mdb")).unwrap();
        (
            meta.modified().unwrap(),
            fs::read(dir.join("data.mdb")).unwrap(),
        )
    };
    let before = data();
    run_read_commands(&dir, &[]);
    assert_eq!(files_in(&dir), ["data.mdb", "lock.mdb"], "nothing created");
    assert!(data() == before, "data.mdb: same bytes, same time");
}

#[test]
fn a_foreign_data_mdb_is_listed_as_foreign_and_the_file_entries_beside_it_work() {
    let (_tmp, dir) = library_dir();
    fs::write(dir.join("data.mdb"), b"my own database, not LMDB").unwrap();
    let out = bc().args(["ls", "--json"]).arg(&dir).assert().success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("data.mdb is not an LMDB store") && stderr.contains("foreign"),
        "{stderr}"
    );
    let rows = json_lines(&out.get_output().stdout);
    let state = |file: &str| {
        rows.iter()
            .find(|r| r["file"] == file)
            .map(|r| r["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state("data.mdb").as_deref(), Some("foreign"), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r["state"] == "ok").count(), 2);
    bc().args(["get", "--backend", "json"])
        .arg(&dir)
        .arg("\"alpha\"")
        .assert()
        .success()
        .stdout("1\n");
    bc().arg("stats").arg(&dir).assert().success();
    bc().arg("verify")
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("checked 3 entries"));
    bc().args(["prune", "--backend", "json"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("removed 1 file"));
    bc().args(["set", "--backend", "json"])
        .arg(&dir)
        .args(["\"new\"", "2"])
        .assert()
        .success();
    bc().args(["rm", "--backend", "json"])
        .arg(&dir)
        .arg("\"new\"")
        .assert()
        .success();
    assert_eq!(
        fs::read(dir.join("data.mdb")).unwrap(),
        b"my own database, not LMDB",
        "never written"
    );
    assert!(!dir.join("lock.mdb").exists());
    // Named explicitly, it is an error naming the file.
    bc().args(["ls", "--store", "lmdb"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("data.mdb"));
}

#[test]
fn a_directory_with_both_stores_says_which_one_and_store_chooses() {
    let (_tmp, dir) = lmdb_dir();
    bucketcache::install_default_backends().unwrap();
    let files = Bucket::builder(&dir)
        .store("fs")
        .backend("json")
        .open()
        .unwrap();
    files.set("in a file", &1).unwrap();
    let out = bc().args(["ls", "--json"]).arg(&dir).assert().success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("holds both an LMDB store and 1 cache file(s): working on the LMDB store"),
        "{stderr}"
    );
    assert_eq!(
        json_lines(&out.get_output().stdout).len(),
        3,
        "the LMDB entries"
    );
    let out = bc()
        .args(["ls", "--json", "--store", "fs"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "--store fs works on the files beside it",
        ));
    let rows = json_lines(&out.get_output().stdout);
    assert_eq!(
        rows.iter().filter(|r| r["state"] == "ok").count(),
        1,
        "{rows:?}"
    );
    bc().args(["get", "--backend", "json", "--store", "fs"])
        .arg(&dir)
        .arg("\"in a file\"")
        .assert()
        .success()
        .stdout("1\n");
    bc().args(["get", "--backend", "json"])
        .arg(&dir)
        .arg("\"in a file\"")
        .assert()
        .code(1);
}
