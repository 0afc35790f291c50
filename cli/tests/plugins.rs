//! `backends` and plugin libraries, given with `--plugin` or `BUCKETCACHE_PLUGIN_PATH`.

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::common::*;

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

/// The example CBOR plugin, built with cargo (in the target directory the library's plugin tests
/// use, so the library is built once) and copied into `dir`.
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
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
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
    // Without the plugin its files are not read (listed as foreign), and the user is told why.
    let rows = json_lines(
        &bc()
            .args(["ls", "--json"])
            .arg(cache.path())
            .assert()
            .success()
            .stderr(predicate::str::contains("no backend reads .cbor files"))
            .get_output()
            .stdout,
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "foreign");
    assert!(rows[0]["backend"].is_null());
    assert!(
        rows[0]["error"].as_str().unwrap().contains(".cbor"),
        "{}",
        rows[0]
    );
}
