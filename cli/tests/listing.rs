//! `ls` and `stats`: listing and summarising cache directories, and their errors.

use std::fs;

use bucketcache::Bucket;
use predicates::prelude::*;

use crate::common::*;

#[test]
fn ls_shows_one_row_per_entry_with_its_state() {
    let (_tmp, dir) = library_dir();
    let out = stdout_of(bc().arg("ls").arg(&dir));
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header and three rows:\n{text}");
    assert!(
        lines[0].starts_with("FILE") && lines[0].contains("STATE"),
        "{text}"
    );
    assert_eq!(text.matches(" ok").count(), 2, "{text}");
    assert!(text.contains("2000-01-01T01:00:00"), "{text}");
    assert!(text.contains("expired"), "{text}");
    assert!(text.contains("never"), "{text}");
}

#[test]
fn ls_json_has_stable_fields() {
    let (_tmp, dir) = library_dir();
    let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(&dir)));
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "backend",
                "error",
                "expiration",
                "expiration_local",
                "file",
                "size",
                "state"
            ]
        );
        assert_eq!(row["backend"], "json");
        assert!(row["file"].as_str().unwrap().ends_with(".json"));
        assert_eq!(
            row["size"].as_u64().unwrap(),
            fs::metadata(dir.join(row["file"].as_str().unwrap()))
                .unwrap()
                .len()
        );
    }
    let expired: Vec<_> = rows.iter().filter(|r| r["state"] == "expired").collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["expiration"], "2000-01-01T01:00:00");
    assert!(expired[0]["expiration_local"].is_string());
    assert!(rows
        .iter()
        .filter(|r| r["state"] == "ok")
        .all(|r| r["expiration"].is_null() && r["error"].is_null()));
}

#[test]
fn ls_sorts_by_size_and_by_expiry() {
    let (_tmp, dir) = library_dir();
    let rows = json_lines(&stdout_of(
        bc().args(["ls", "--json", "--sort", "size"]).arg(&dir),
    ));
    let sizes: Vec<u64> = rows.iter().map(|r| r["size"].as_u64().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    let rows = json_lines(&stdout_of(
        bc().args(["ls", "--json", "--sort", "expiry"]).arg(&dir),
    ));
    assert_eq!(rows[0]["state"], "expired", "the dated entry comes first");
    assert!(
        rows[2]["expiration"].is_null(),
        "never-expiring entries come last"
    );
}

#[test]
fn ls_filters_by_backend() {
    let (_tmp, dir) = library_dir();
    let msgpack = Bucket::builder(&dir).backend("msgpack").open().unwrap();
    msgpack.set("m", &[1, 2, 3]).unwrap();
    let all = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(&dir)));
    assert_eq!(all.len(), 4);
    let only = json_lines(&stdout_of(
        bc().args(["ls", "--json", "--backend", "msgpack"])
            .arg(&dir),
    ));
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["backend"], "msgpack");
    assert!(only[0]["file"].as_str().unwrap().ends_with(".msgpack"));
}

#[test]
fn ls_reads_the_originals_files_and_their_expirations() {
    for backend in ["json", "msgpack"] {
        let dir = fixture(&format!("{backend}/lifetime"));
        let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(dir.path())));
        assert_eq!(rows.len(), 16, "{backend}");
        for r in &rows {
            assert_eq!(r["state"], "ok", "{backend}: {r}");
            assert_eq!(r["expiration"], "2100-01-01T00:00:00.123456");
        }
        let dir = fixture(&format!("{backend}/expired"));
        let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(dir.path())));
        assert!(rows.iter().all(|r| r["state"] == "expired"), "{backend}");
        assert_eq!(files_in(dir.path()).len(), 16, "ls deletes nothing");
    }
}

#[test]
fn ls_and_verify_read_the_originals_pickle_files() {
    let dir = fixture("pickle/lifetime");
    let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(dir.path())));
    assert_eq!(rows.len(), 16);
    assert!(rows
        .iter()
        .all(|r| r["backend"] == "pickle" && r["state"] == "ok"));
    assert!(rows
        .iter()
        .all(|r| r["expiration"] == "2100-01-01T00:00:00.123456"));
    bc().arg("verify").arg(dir.path()).assert().success();
    let out = stdout_of(
        bc().args(["get", "--python", "--backend", "pickle"])
            .arg(dir.path())
            .arg("\"value:int_key_dict\""),
    );
    assert_eq!(out, b"{\"1\":\"a\"}\n");

    let corrupt = fixture("pickle/corrupt");
    let rows = json_lines(
        &bc()
            .args(["verify", "--json"])
            .arg(corrupt.path())
            .assert()
            .code(1)
            .get_output()
            .stdout,
    );
    assert_eq!(rows.len(), 16);
    assert!(rows.iter().all(|r| r["backend"] == "pickle"));
}

#[test]
fn a_closed_pipe_ends_the_listing_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    bucketcache::install_default_backends().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bucket = Bucket::builder(tmp.path()).backend("json").open().unwrap();
    // Enough rows to fill the pipe's buffer, so that the writer sees the reader leave.
    for i in 0..1500 {
        bucket.set(&i, &i).unwrap();
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bucketcache"))
        .arg("ls")
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("FILE"));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn ls_of_a_missing_directory_is_an_error_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-cache");
    for cmd in ["ls", "stats", "verify", "prune"] {
        bc().arg(cmd)
            .arg(&missing)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with("error: cache directory "))
            .stderr(predicate::str::contains("does not exist"));
    }
    bc().args(["get"])
        .arg(&missing)
        .arg("\"k\"")
        .assert()
        .code(2);
    bc().args(["rm"])
        .arg(&missing)
        .arg("\"k\"")
        .assert()
        .code(2);
    assert!(!missing.exists());
}

#[test]
fn a_file_given_as_the_directory_is_an_error() {
    let dir = fixture("json/plain");
    let file = dir.path().join("2b745d77f85c3dbffddea7dfa4d43a67.json");
    bc().arg("ls")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a directory"));
    bc().args(["set"])
        .arg(&file)
        .args(["\"k\"", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a directory"));
}

// ---- stats ----

#[test]
fn stats_summarises_each_backend() {
    let (_tmp, dir) = library_dir();
    let msgpack = Bucket::builder(&dir).backend("msgpack").open().unwrap();
    msgpack.set("m", &[1, 2, 3]).unwrap();
    // Named like an entry (64 hex digits), so counted as a corrupt one.
    fs::write(
        dir.join(format!("{}.msgpack", "0a".repeat(32))),
        b"\x81\xa5value",
    )
    .unwrap();
    let rows = json_lines(&stdout_of(bc().args(["stats", "--json"]).arg(&dir)));
    assert_eq!(rows.len(), 2, "{rows:?}");
    let json = rows.iter().find(|r| r["backend"] == "json").unwrap();
    assert_eq!(json["entries"], 3);
    assert_eq!(
        (json["ok"].as_u64(), json["expired"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(json["corrupt"], 0);
    assert_eq!(json["never_expire"], 2);
    assert_eq!(json["oldest_expiration"], "2000-01-01T01:00:00");
    assert_eq!(json["newest_expiration"], "2000-01-01T01:00:00");
    let listed = json_lines(&stdout_of(
        bc().args(["ls", "--json", "--backend", "json"]).arg(&dir),
    ));
    let bytes: u64 = listed.iter().map(|r| r["size"].as_u64().unwrap()).sum();
    assert_eq!(json["bytes"].as_u64(), Some(bytes));
    let mp = rows.iter().find(|r| r["backend"] == "msgpack").unwrap();
    assert_eq!(
        (mp["entries"].as_u64(), mp["corrupt"].as_u64()),
        (Some(2), Some(1))
    );

    let text = String::from_utf8(stdout_of(bc().arg("stats").arg(&dir))).unwrap();
    assert!(text.starts_with("BACKEND"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("total")), "{text}");
}
