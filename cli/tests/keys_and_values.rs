//! `get`, `set` and `rm`: keys and values given as JSON, Rust and Python file naming.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bucketcache::Bucket;
use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

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
    assert_eq!(bucket.get::<Vec<u8>>(&map).unwrap(), Some(vec![1, 2, 3]));
    let sorted: BTreeMap<&str, Value> = map.into_iter().collect();
    assert_eq!(bucket.get::<Vec<u8>>(&sorted).unwrap(), Some(vec![1, 2, 3]));
    // Integers and floats keep their kind: 1 and 1.0 are different keys in Rust and Python.
    bc().args(["set", "--backend", "json"])
        .arg(&dir)
        .args(["1.0", "\"float\""])
        .assert()
        .success();
    assert_eq!(
        bucket.get::<String>(&1.0f64).unwrap().as_deref(),
        Some("float")
    );
    assert_eq!(bucket.get::<String>(&1u8).unwrap(), None);
}

#[test]
fn set_with_a_lifetime_writes_an_expiration() {
    let tmp = tempfile::tempdir().unwrap();
    let before: bucketcache::Expiration = chrono::Utc::now().naive_utc().into();
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
