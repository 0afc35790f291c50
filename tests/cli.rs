//! The `bucketcache` binary, driven as a user would (`assert_cmd`), on directories written by
//! the library and on copies of the files written by Python BucketCache 0.12.1.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;
use bucketcache::{Bucket, ManualClock};
use predicates::prelude::*;
use serde_json::Value;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/python-bucketcache-0.12.1"
);

/// The binary, isolated from the caller's environment.
fn bc() -> Command {
    let mut cmd = Command::cargo_bin("bucketcache").unwrap();
    cmd.env_remove("BUCKETCACHE_PLUGIN_PATH")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

/// A copy of a fixture directory (reading may delete expired files: never touch the original).
fn fixture(sub: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(Path::new(FIXTURES).join(sub)).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

/// A json bucket with two live entries and one that expired in 2000, written by the library.
fn library_dir() -> (tempfile::TempDir, PathBuf) {
    bucketcache::install_default_backends().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let live = Bucket::builder(&dir).backend("json").open().unwrap();
    live.set("alpha", &1).unwrap();
    live.set(
        &("user", 7),
        &"a longer value, so that this file is the largest",
    )
    .unwrap();
    let past = ManualClock::new("2000-01-01T00:00:00".parse().unwrap());
    let old = Bucket::builder(&dir)
        .backend("json")
        .lifetime(Duration::from_secs(3600))
        .clock(Arc::new(past))
        .open()
        .unwrap();
    old.set("stale", &true).unwrap();
    (tmp, dir)
}

// ---- ls ----

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
    fs::write(dir.join("0123456789abcdef.msgpack"), b"\x81\xa5value").unwrap();
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

// ---- get / set / rm ----

#[test]
fn set_then_get_round_trips_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new-cache");
    bc().arg("set")
        .arg(&dir)
        .args([
            r#"{"q": "weather", "day": 3}"#,
            r#"{"temp": 21.5, "tags": ["sun", null]}"#,
        ])
        .assert()
        .success()
        .stdout("");
    assert!(dir.is_dir(), "set creates the directory");
    bc().arg("get")
        .arg(&dir)
        .arg(r#"{"day": 3, "q": "weather"}"#)
        .assert()
        .success()
        .stdout("{\"tags\":[\"sun\",null],\"temp\":21.5}\n");
    bc().args(["get", "--pretty"])
        .arg(&dir)
        .arg(r#"{"day": 3, "q": "weather"}"#)
        .assert()
        .success()
        .stdout("{\n  \"tags\": [\n    \"sun\",\n    null\n  ],\n  \"temp\": 21.5\n}\n");
    bc().arg("get")
        .arg(&dir)
        .args(["--backend", "json"])
        .arg(r#"{"day": 3, "q": "weather"}"#)
        .assert()
        .code(1)
        .stdout("");
}

#[test]
fn get_of_a_missing_key_exits_1() {
    let (_tmp, dir) = library_dir();
    bc().args(["get", "--backend", "json"])
        .arg(&dir)
        .arg("\"nope\"")
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("no live entry"));
    bc().args(["-q", "get", "--backend", "json"])
        .arg(&dir)
        .arg("\"nope\"")
        .assert()
        .code(1)
        .stderr("");
}

#[test]
fn rm_removes_and_then_reports_a_miss() {
    let (_tmp, dir) = library_dir();
    let before = files_in(&dir).len();
    bc().args(["rm", "--backend", "json"])
        .arg(&dir)
        .arg("\"alpha\"")
        .assert()
        .success();
    assert_eq!(files_in(&dir).len(), before - 1);
    bc().args(["rm", "--backend", "json"])
        .arg(&dir)
        .arg("\"alpha\"")
        .assert()
        .code(1);
    bc().args(["get", "--backend", "json"])
        .arg(&dir)
        .arg("\"alpha\"")
        .assert()
        .code(1);
}

#[test]
fn keys_given_as_json_name_the_same_files_as_rust_keys() {
    let (_tmp, dir) = library_dir();
    // Written from Rust with a tuple key, read from the shell with the JSON array.
    bc().args(["get", "--backend", "json"])
        .arg(&dir)
        .arg(r#"["user", 7]"#)
        .assert()
        .success()
        .stdout("\"a longer value, so that this file is the largest\"\n");
    // Written from the shell with a JSON object, read from Rust with maps in any order.
    bc().args(["set", "--backend", "json"])
        .arg(&dir)
        .args([r#"{"b": 1, "a": [1, 2.5]}"#, "[1, 2, 3]"])
        .assert()
        .success();
    let bucket = Bucket::builder(&dir).backend("json").open().unwrap();
    let mut map: HashMap<&str, Value> = HashMap::new();
    map.insert("a", serde_json::json!([1, 2.5]));
    map.insert("b", serde_json::json!(1));
    assert_eq!(bucket.get::<_, Vec<u8>>(&map).unwrap(), Some(vec![1, 2, 3]));
    let sorted: BTreeMap<&str, Value> = map.into_iter().collect();
    assert_eq!(
        bucket.get::<_, Vec<u8>>(&sorted).unwrap(),
        Some(vec![1, 2, 3])
    );
    // Integers and floats keep their kind: 1 and 1.0 are different keys in Rust and Python.
    bc().args(["set", "--backend", "json"])
        .arg(&dir)
        .args(["1.0", "\"float\""])
        .assert()
        .success();
    assert_eq!(
        bucket.get::<_, String>(&1.0f64).unwrap().as_deref(),
        Some("float")
    );
    assert_eq!(bucket.get::<_, String>(&1u8).unwrap(), None);
}

#[test]
fn set_with_a_lifetime_writes_an_expiration() {
    let tmp = tempfile::tempdir().unwrap();
    let before = chrono::Utc::now().naive_utc();
    bc().args(["set", "--lifetime", "1h30m"])
        .arg(tmp.path())
        .args(["\"k\"", "\"v\""])
        .assert()
        .success();
    let rows = json_lines(&stdout_of(bc().args(["ls", "--json"]).arg(tmp.path())));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["backend"], "msgpack",
        "msgpack is the default backend"
    );
    let e = bucketcache::time::parse_expiration(rows[0]["expiration"].as_str().unwrap()).unwrap();
    let ahead = (e - before).num_seconds();
    assert!((5390..=5460).contains(&ahead), "{ahead}");
    bc().args(["set", "--lifetime", "soon"])
        .arg(tmp.path())
        .args(["\"k\"", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid lifetime"));
}

#[test]
fn python_naming_reads_and_writes_the_originals_files() {
    let json = fixture("json/plain");
    let get = |dir: &Path, backend: &str, key: &str| {
        let out = stdout_of(
            bc().args(["get", "--python", "--backend", backend])
                .arg(dir)
                .arg(key),
        );
        serde_json::from_slice::<Value>(&out).unwrap()
    };
    assert_eq!(get(json.path(), "json", "\"my key\""), "this");
    assert_eq!(get(json.path(), "json", "42"), 42);
    assert_eq!(
        get(json.path(), "json", r#"{"b": 1, "a": [1, 2]}"#),
        serde_json::json!({"x": 1, "y": [true, false], "z": null})
    );
    let msgpack = fixture("msgpack/plain");
    assert_eq!(
        get(msgpack.path(), "msgpack", "[1, \"a\"]"),
        serde_json::json!([1, 2.5, "three", null])
    );
    // A map with an integer key, which JSON cannot hold: shown as Python's json.dumps shows it.
    assert_eq!(
        get(msgpack.path(), "msgpack", "\"value:int_key_dict\""),
        serde_json::json!({"1": "a"})
    );
    // Without --python the names differ: a miss.
    bc().args(["get", "--backend", "json"])
        .arg(json.path())
        .arg("\"my key\"")
        .assert()
        .code(1);

    let tmp = tempfile::tempdir().unwrap();
    bc().args(["set", "--python", "--backend", "json"])
        .arg(tmp.path())
        .args(["\"my key\"", "\"this\""])
        .assert()
        .success();
    assert_eq!(
        files_in(tmp.path()),
        ["2b745d77f85c3dbffddea7dfa4d43a67.json"]
    );
}

#[test]
fn invalid_json_says_where_it_failed() {
    let tmp = tempfile::tempdir().unwrap();
    bc().arg("get")
        .arg(tmp.path())
        .arg("{\"a\": [1, 2}")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with("error: KEY is not valid JSON"))
        .stderr(predicate::str::contains("line 1 column 12"));
    bc().arg("set")
        .arg(tmp.path())
        .args(["\"k\"", "bare words"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("VALUE is not valid JSON"));
    assert!(files_in(tmp.path()).is_empty());
    bc().arg("set")
        .arg(tmp.path())
        .args(["[18446744073709551616]", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not fit in 64 bits"));
}

#[test]
fn an_unknown_backend_lists_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["ls", "--backend", "yaml"],
        vec!["get", "--backend", "yaml"],
        vec!["prune", "--backend", "yaml"],
    ] {
        let mut cmd = bc();
        cmd.args(&args).arg(tmp.path());
        if args[0] == "get" {
            cmd.arg("\"k\"");
        }
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains("unknown backend \"yaml\""))
            .stderr(predicate::str::contains("json"))
            .stderr(predicate::str::contains("msgpack"));
    }
}

// ---- prune ----

#[test]
fn prune_dry_run_lists_and_deletes_nothing() {
    let dir = fixture("json/expired");
    let before = files_in(dir.path());
    let out = String::from_utf8(stdout_of(
        bc().args(["prune", "--backend", "json", "--dry-run"])
            .arg(dir.path()),
    ))
    .unwrap();
    assert!(out.contains("json: would remove 16 file(s)"), "{out}");
    for name in &before {
        assert!(out.contains(name.as_str()), "{name} listed in\n{out}");
    }
    assert_eq!(files_in(dir.path()), before, "a dry run deletes nothing");

    let out = String::from_utf8(stdout_of(
        bc().args(["prune", "--backend", "json"]).arg(dir.path()),
    ))
    .unwrap();
    assert!(out.contains("json: removed 16 file(s)"), "{out}");
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn prune_counts_match_the_dry_run_and_keep_live_and_corrupt_files() {
    let (_tmp, dir) = library_dir();
    fs::write(dir.join("feedface.json"), b"{\"value\": 1, \"expir").unwrap();
    let mp = Bucket::builder(&dir)
        .backend("msgpack")
        .lifetime(Duration::from_secs(60))
        .clock(Arc::new(ManualClock::new(
            "2001-01-01T00:00:00".parse().unwrap(),
        )))
        .open()
        .unwrap();
    mp.set("old", &1).unwrap();
    // A temporary file of a writer that died (pid above Linux's pid_max).
    fs::write(dir.join(".abc.json.4194304.0.tmp"), b"{").unwrap();

    let dry = json_lines(&stdout_of(
        bc().args(["prune", "--all-backends", "--dry-run", "--json"])
            .arg(&dir),
    ));
    let before = files_in(&dir);
    let real = json_lines(&stdout_of(
        bc().args(["prune", "--all-backends", "--json"]).arg(&dir),
    ));
    for (d, r) in dry.iter().zip(&real) {
        assert_eq!(d["backend"], r["backend"]);
        assert_eq!(
            (d["files"].clone(), d["bytes"].clone()),
            (r["files"].clone(), r["bytes"].clone())
        );
        assert_eq!(d["dry_run"], true);
        assert_eq!(r["dry_run"], false);
    }
    let json = dry.iter().find(|r| r["backend"] == "json").unwrap();
    let expected_json_files = if cfg!(target_os = "linux") { 2 } else { 1 };
    assert_eq!(json["files"], expected_json_files, "{json}");
    let msgpack = dry.iter().find(|r| r["backend"] == "msgpack").unwrap();
    assert_eq!(msgpack["files"], 1);
    assert_eq!(msgpack["removed"][0]["reason"], "expired");
    let after = files_in(&dir);
    assert_eq!(
        after.len(),
        before.len() - 2 - usize::from(cfg!(target_os = "linux"))
    );
    assert!(
        after.contains(&"feedface.json".to_owned()),
        "corrupt files are left alone"
    );
}

#[test]
fn prune_with_a_lifetime_applies_the_lifetime_changed_rule() {
    let (_tmp, dir) = library_dir();
    let dry = json_lines(&stdout_of(
        bc().args([
            "prune",
            "--backend",
            "json",
            "--lifetime",
            "1h",
            "--dry-run",
            "--json",
        ])
        .arg(&dir),
    ));
    assert_eq!(dry[0]["files"], 3, "{dry:?}");
    let reasons: Vec<&str> = dry[0]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == "lifetime changed").count(),
        2
    );
    assert_eq!(reasons.iter().filter(|r| **r == "expired").count(), 1);
    assert_eq!(files_in(&dir).len(), 3);
    let real = json_lines(&stdout_of(
        bc().args(["prune", "--backend", "json", "--lifetime", "1h", "--json"])
            .arg(&dir),
    ));
    assert_eq!(real[0]["files"], 3);
    assert!(files_in(&dir).is_empty());
}

#[test]
fn prune_defaults_to_the_msgpack_backend() {
    let dir = fixture("json/expired");
    let out = String::from_utf8(stdout_of(bc().arg("prune").arg(dir.path()))).unwrap();
    assert!(out.contains("msgpack: removed 0 file(s)"), "{out}");
    assert_eq!(files_in(dir.path()).len(), 16);
    bc().args(["prune", "--backend", "json", "--all-backends"])
        .arg(dir.path())
        .assert()
        .code(2);
}

// ---- verify ----

#[test]
fn verify_finds_the_corrupt_fixtures() {
    for backend in ["json", "msgpack"] {
        let dir = fixture(&format!("{backend}/corrupt"));
        let out = bc()
            .arg("verify")
            .arg(dir.path())
            .assert()
            .code(1)
            .get_output()
            .clone();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 16, "{text}");
        assert!(text.lines().all(|l| l.starts_with("corrupt ")), "{text}");
        assert!(
            text.contains("cannot decode"),
            "the reason is given:\n{text}"
        );
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("16 corrupt"), "{err}");

        let rows = json_lines(
            &bc()
                .args(["verify", "--json"])
                .arg(dir.path())
                .assert()
                .code(1)
                .get_output()
                .stdout,
        );
        assert_eq!(rows.len(), 16);
        assert!(rows
            .iter()
            .all(|r| r["backend"] == backend && r["deleted"] == false));
        assert!(rows
            .iter()
            .all(|r| !r["error"].as_str().unwrap().is_empty()));
        assert_eq!(
            files_in(dir.path()).len(),
            16,
            "verify alone deletes nothing"
        );

        bc().args(["verify", "--delete-corrupt"])
            .arg(dir.path())
            .assert()
            .code(1);
        assert!(files_in(dir.path()).is_empty());
        bc().arg("verify").arg(dir.path()).assert().success();
    }
}

#[test]
fn verify_passes_on_healthy_directories() {
    for sub in [
        "json/plain",
        "msgpack/plain",
        "json/expired",
        "msgpack/lifetime0",
    ] {
        let dir = fixture(sub);
        bc().arg("verify")
            .arg(dir.path())
            .assert()
            .success()
            .stdout("")
            .stderr(predicate::str::contains("16 entries"));
    }
    let (_tmp, dir) = library_dir();
    bc().args(["-q", "verify"])
        .arg(&dir)
        .assert()
        .success()
        .stderr("");
}

// ---- backends, plugins, logging ----

#[test]
fn backends_lists_the_built_in_formats() {
    let rows = json_lines(&stdout_of(bc().args(["backends", "--json"])));
    let json = rows.iter().find(|r| r["name"] == "json").unwrap();
    assert_eq!(json["extension"], "json");
    assert_eq!(json["binary"], false);
    assert_eq!(json["origin"], "built-in");
    assert_eq!(json["source"], "bucketcache-json");
    assert_eq!(json["python_class"], "JSONBackend");
    let msgpack = rows.iter().find(|r| r["name"] == "msgpack").unwrap();
    assert_eq!(msgpack["binary"], true);
    assert_eq!(msgpack["python_class"], "MessagePackBackend");

    let text = String::from_utf8(stdout_of(bc().arg("backends"))).unwrap();
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("msgpack") && l.contains("binary")),
        "{text}"
    );
}

#[test]
fn a_plugin_that_cannot_be_loaded_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("libnothing.so");
    bc().args(["backends", "--plugin"])
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("error: plugin "))
        .stderr(predicate::str::contains("libnothing.so"));
    bc().arg("backends")
        .env("BUCKETCACHE_PLUGIN_PATH", &missing)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("libnothing.so"));
    // A directory in the variable contributes its libraries; an empty one none.
    bc().arg("backends")
        .env("BUCKETCACHE_PLUGIN_PATH", tmp.path())
        .assert()
        .success();
}

/// The example CBOR plugin, built with cargo (in the target directory the plugin tests use, so
/// the library is built once) and copied into `dir`.
fn cbor_plugin(dir: &Path) -> PathBuf {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-tests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "bucketcache-plugin-cbor",
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success());
    let built = target
        .join("debug")
        .join(format!("{DLL_PREFIX}bucketcache_plugin_cbor{DLL_SUFFIX}"));
    let to = dir.join(format!("{DLL_PREFIX}cbor{DLL_SUFFIX}"));
    fs::copy(built, &to).unwrap();
    to
}

#[test]
fn plugins_add_backends_to_every_command() {
    let libs = tempfile::tempdir().unwrap();
    let plugin = cbor_plugin(libs.path());
    let cache = tempfile::tempdir().unwrap();

    let rows = json_lines(&stdout_of(
        bc().args(["backends", "--json", "--plugin"]).arg(&plugin),
    ));
    let cbor = rows.iter().find(|r| r["name"] == "cbor").unwrap();
    assert_eq!(cbor["origin"], "plugin");
    assert_eq!(cbor["source"], plugin.display().to_string());
    assert_eq!(cbor["extension"], "cbor");
    assert!(cbor["python_class"].is_null());

    bc().arg("--plugin")
        .arg(&plugin)
        .args(["set", "--backend", "cbor"])
        .arg(cache.path())
        .args(["\"k\"", r#"{"a": [1, 2.5]}"#])
        .assert()
        .success();
    // The variable may name the library or its directory.
    for var in [plugin.as_os_str(), libs.path().as_os_str()] {
        bc().args(["get", "--backend", "cbor"])
            .arg(cache.path())
            .arg("\"k\"")
            .env("BUCKETCACHE_PLUGIN_PATH", var)
            .assert()
            .success()
            .stdout("{\"a\":[1,2.5]}\n");
    }
    let rows = json_lines(&stdout_of(
        bc().args(["ls", "--json"])
            .arg(cache.path())
            .env("BUCKETCACHE_PLUGIN_PATH", &plugin),
    ));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (&rows[0]["backend"], &rows[0]["state"]),
        (&"cbor".into(), &"ok".into())
    );
    bc().arg("verify")
        .arg(cache.path())
        .env("BUCKETCACHE_PLUGIN_PATH", &plugin)
        .assert()
        .success();
    // Without the plugin its files are not read, and the user is told why.
    bc().arg("ls")
        .arg(cache.path())
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("no backend reads .cbor files"));
}

#[test]
fn verbose_logs_and_quiet_silences() {
    let tmp = tempfile::tempdir().unwrap();
    bc().args(["-v", "set"])
        .arg(tmp.path())
        .args(["\"k\"", "1"])
        .assert()
        .success()
        .stderr(predicate::str::contains("stored"));
    bc().args(["set"])
        .arg(tmp.path())
        .args(["\"k\"", "1"])
        .assert()
        .success()
        .stderr("");
    bc().args(["-q", "-v", "ls"])
        .arg(tmp.path())
        .assert()
        .code(2);
}

#[test]
fn colour_is_used_only_when_asked() {
    let dir = fixture("json/expired");
    let plain = stdout_of(bc().args(["ls"]).arg(dir.path()));
    assert!(!plain.contains(&0x1b), "no escape codes when piped");
    let coloured = stdout_of(bc().args(["ls", "--color", "always"]).arg(dir.path()));
    assert!(String::from_utf8(coloured)
        .unwrap()
        .contains("\x1b[33mexpired"));
    bc().args(["ls", "--color", "sometimes"])
        .arg(dir.path())
        .assert()
        .code(2);
}
