//! Issue #20 (2): an entry over the size limit is "too large", a state of its own: never judged
//! corrupt, never deleted by `verify --delete-corrupt`; every command takes the bucket's limits
//! (`--max-entry-bytes`, and the keys of a configuration file given with `--config`).

use std::fs;
use std::path::Path;

use bucketcache::Bucket;
use predicates::prelude::*;

use crate::common::*;

/// A json bucket in `dir` (of `store`) holding one valid entry of about 5 KB under "big".
fn big_entry(dir: &Path, store: &str) -> String {
    bucketcache::install_default_backends().unwrap();
    let b = Bucket::builder(dir)
        .store(store)
        .backend("json")
        .open()
        .unwrap();
    b.set("big", &"x".repeat(5000)).unwrap();
    b.set("small", &1).unwrap();
    b.path_for_key("big")
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn state_of(dir: &Path, extra: &[&str], file: &str) -> String {
    let rows = json_lines(
        &bc()
            .args(["ls", "--json"])
            .args(extra)
            .arg(dir)
            .output()
            .unwrap()
            .stdout,
    );
    let row = rows.iter().find(|r| r["file"] == file).unwrap();
    row["state"].as_str().unwrap().to_owned()
}

#[test]
fn verify_delete_corrupt_never_deletes_an_entry_too_large_to_read() {
    for store in ["fs", "lmdb"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let big = big_entry(&dir, store);
        bc().args(["verify", "--delete-corrupt", "--max-entry-bytes", "1KiB"])
            .arg(&dir)
            .assert()
            .code(1)
            .stderr(
                predicate::str::contains("1 too large to read")
                    .and(predicate::str::contains("0 corrupt")),
            );
        bucketcache::install_default_backends().unwrap();
        let b = Bucket::builder(&dir)
            .store(store)
            .backend("json")
            .open()
            .unwrap();
        assert_eq!(
            b.get::<String>("big").unwrap(),
            Some("x".repeat(5000)),
            "{store}: the valid entry over the limit is kept"
        );
        drop(b);
        // With a limit above it, it is read, judged, and found valid.
        bc().args(["verify", "--delete-corrupt", "--max-entry-bytes", "1MiB"])
            .arg(&dir)
            .assert()
            .success()
            .stderr(predicate::str::contains("2 ok, 0 expired, 0 corrupt"));
        assert_eq!(state_of(&dir, &[], &big), "ok", "{store}");
    }
}

#[test]
fn an_entry_over_the_limit_is_too_large_in_ls_and_stats_not_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let big = big_entry(&dir, "fs");
    assert_eq!(
        state_of(&dir, &["--max-entry-bytes", "4096"], &big),
        "too-large"
    );
    let rows = json_lines(&stdout_of(
        bc().args(["stats", "--json", "--max-entry-bytes", "4096"])
            .arg(&dir),
    ));
    let json = rows.iter().find(|r| r["backend"] == "json").unwrap();
    assert_eq!(json["too_large"], 1, "{json}");
    assert_eq!(json["corrupt"], 0, "{json}");
    assert_eq!(json["ok"], 1, "{json}");
    // A sparse file over the default limit (256 MiB), named like an entry: too large, kept.
    let huge = format!("{}.json", "ab".repeat(32));
    fs::File::create(dir.join(&huge))
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    assert_eq!(state_of(&dir, &[], &huge), "too-large");
    bc().args(["verify", "--delete-corrupt"])
        .arg(&dir)
        .assert()
        .code(1);
    assert_eq!(fs::metadata(dir.join(&huge)).unwrap().len(), 300 << 20);
}

#[test]
fn the_configuration_file_gives_every_command_its_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let big = big_entry(&dir, "lmdb");
    let config = tmp.path().join("bucket.toml");
    fs::write(
        &config,
        "path = \"c\"\nstore = \"lmdb\"\nbackend = \"json\"\nmax_entry_bytes = \"1KiB\"\n",
    )
    .unwrap();
    let with = |cmd: &str| {
        let mut c = bc();
        c.args([cmd, "--config"]).arg(&config).arg(&dir);
        c
    };
    // max_entry_bytes: the big entry is too large for ls, verify (kept) and get (a miss).
    let rows = json_lines(&stdout_of(with("ls").arg("--json")));
    let row = rows.iter().find(|r| r["file"] == big.as_str()).unwrap();
    assert_eq!(row["state"], "too-large", "{rows:?}");
    with("verify")
        .arg("--delete-corrupt")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("1 too large to read"));
    // backend = json without --backend; the limit applies to get as to the bucket.
    with("get")
        .arg("\"small\"")
        .assert()
        .success()
        .stdout("1\n");
    with("get").arg("\"big\"").assert().code(1);
    // The option overrides the file.
    with("get")
        .args(["--max-entry-bytes", "1MiB", "\"big\""])
        .assert()
        .success();
    // set: the file's limit refuses a larger value; its store is LMDB.
    with("set")
        .args(["\"other\"", &format!("\"{}\"", "y".repeat(2000))])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("max_entry_bytes"));
    with("set").args(["\"k\"", "7"]).assert().success();
    with("get").arg("\"k\"").assert().success().stdout("7\n");
    assert!(!dir.join(format!("{}.json", "0".repeat(64))).exists());
    assert!(
        files_in(&dir).iter().all(|f| !f.ends_with(".json")),
        "written into LMDB, as the file says: {:?}",
        files_in(&dir)
    );
    // An unknown key in the file is an error naming the file.
    let bad = tmp.path().join("bad.toml");
    fs::write(&bad, "path = \"c\"\nmax_entry_byte = 1\n").unwrap();
    bc().args(["ls", "--config"])
        .arg(&bad)
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml"));
}
