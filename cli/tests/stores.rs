//! Every command on an LMDB cache: recognised by itself (or `--store lmdb`), its own files never
//! listed as entries.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bucketcache::store::{open_store, StoreOptions};
use bucketcache::{Bucket, ManualClock};
use predicates::prelude::*;

use crate::common::*;

/// An LMDB cache with two live json entries and one that expired in 2000, written by the library.
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

/// The files of `dir`, without the LMDB store's resize lock (a helper file, never listed).
fn files(dir: &Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|f| f != ".bucketcache-lmdb.lock")
        .collect()
}

#[test]
fn ls_recognises_an_lmdb_cache_and_lists_entries_not_its_files() {
    let (_tmp, dir) = lmdb_dir();
    let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(&dir)));
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r["backend"] == "json"), "{rows:?}");
    let states: Vec<&str> = rows.iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(
        states.iter().filter(|s| **s == "ok").count(),
        2,
        "{states:?}"
    );
    assert!(states.contains(&"expired"), "{states:?}");
    let text = String::from_utf8(stdout_of(bc().arg("ls").arg(&dir))).unwrap();
    assert!(
        !text.contains("data.mdb") && !text.contains("lock.mdb"),
        "{text}"
    );
    let named =
        String::from_utf8(stdout_of(bc().args(["ls", "--store", "lmdb"]).arg(&dir))).unwrap();
    assert_eq!(named, text, "--store lmdb lists the same");
    assert_eq!(files(&dir), ["data.mdb", "lock.mdb"]);
}

#[test]
fn stats_and_verify_read_an_lmdb_cache() {
    let (_tmp, dir) = lmdb_dir();
    let rows = json_lines(&stdout_of(bc().args(["stats", "--json"]).arg(&dir)));
    let json = rows.iter().find(|r| r["backend"] == "json").unwrap();
    assert_eq!(json["entries"], 3, "{json}");
    assert_eq!(json["expired"], 1, "{json}");
    assert!(
        rows.iter().all(|r| r.get("foreign").is_none()),
        "no foreign files: {rows:?}"
    );
    bc().arg("verify")
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("checked 3 entries"));
}

#[test]
fn get_set_and_rm_work_on_an_lmdb_cache_without_being_told() {
    let (_tmp, dir) = lmdb_dir();
    bc().args(["get", "--backend", "json"])
        .arg(&dir)
        .arg("\"alpha\"")
        .assert()
        .success()
        .stdout("1\n");
    bc().args(["set", "--backend", "json"])
        .arg(&dir)
        .args(["\"beta\"", "{\"b\": [1, 2]}"])
        .assert()
        .success();
    assert_eq!(files(&dir), ["data.mdb", "lock.mdb"], "set wrote into LMDB");
    bc().args(["get", "--backend", "json"])
        .arg(&dir)
        .arg("\"beta\"")
        .assert()
        .success()
        .stdout("{\"b\":[1,2]}\n");
    let b = Bucket::builder(&dir)
        .store("lmdb")
        .backend("json")
        .open()
        .unwrap();
    assert_eq!(
        b.get::<serde_json::Value>("beta").unwrap(),
        Some(serde_json::json!({"b": [1, 2]})),
        "the library reads what the CLI wrote"
    );
    bc().args(["rm", "--backend", "json"])
        .arg(&dir)
        .arg("\"beta\"")
        .assert()
        .success();
    bc().args(["rm", "--backend", "json"])
        .arg(&dir)
        .arg("\"beta\"")
        .assert()
        .code(1);
}

#[test]
fn set_with_store_lmdb_creates_an_lmdb_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new");
    bc().args(["set", "--store", "lmdb"])
        .arg(&dir)
        .args(["\"k\"", "42"])
        .assert()
        .success();
    assert_eq!(files(&dir), ["data.mdb", "lock.mdb"]);
    bc().arg("get")
        .arg(&dir)
        .arg("\"k\"")
        .assert()
        .success()
        .stdout("42\n");
}

#[test]
fn prune_removes_expired_entries_from_an_lmdb_cache() {
    let (_tmp, dir) = lmdb_dir();
    bc().args(["prune", "--backend", "json", "--dry-run"])
        .arg(&dir)
        .assert()
        .success();
    assert_eq!(
        json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(&dir))).len(),
        3
    );
    bc().args(["prune", "--backend", "json"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("removed 1 file"));
    let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(&dir)));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["state"] == "ok"), "{rows:?}");
}

#[test]
fn verify_finds_and_deletes_a_corrupt_lmdb_entry() {
    let (_tmp, dir) = lmdb_dir();
    let store = open_store("lmdb", StoreOptions::new(&dir)).unwrap();
    let name = format!("{}.json", "ab".repeat(32));
    store.write(&name, b"{\"value\": [1, 2").unwrap();
    bc().arg("verify")
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(&name));
    bc().args(["verify", "--delete-corrupt"])
        .arg(&dir)
        .assert()
        .code(1);
    bc().arg("verify").arg(&dir).assert().success();
    assert!(store.list().unwrap().iter().all(|l| l.name != name));
}

#[test]
fn a_directory_without_an_lmdb_cache_is_an_error_for_store_lmdb_and_gains_no_files() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["ls", "--store", "lmdb"][..],
        &["stats", "--store", "lmdb"],
        &["verify", "--store", "lmdb"],
        &["prune", "--store", "lmdb"],
    ] {
        bc().args(args)
            .arg(tmp.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("holds no LMDB cache"));
    }
    bc().args(["get", "--store", "lmdb"])
        .arg(tmp.path())
        .arg("\"k\"")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds no LMDB cache"));
    assert!(files(tmp.path()).is_empty());
}

#[test]
fn store_fs_on_an_lmdb_cache_warns_and_shows_its_files_as_foreign() {
    let (_tmp, dir) = lmdb_dir();
    let out = bc()
        .args(["ls", "--json", "--store", "fs"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("holds an LMDB cache"));
    let rows = json_lines(&out.get_output().stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["state"] == "foreign"), "{rows:?}");
}

#[test]
fn an_unknown_store_is_an_error_listing_the_known_ones() {
    let (_tmp, dir) = lmdb_dir();
    bc().args(["ls", "--store", "nosuch"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown store \"nosuch\"")
                .and(predicate::str::contains("lmdb")),
        );
}
