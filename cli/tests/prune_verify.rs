//! `prune` and `verify`: cleaning and checking cache directories.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use bucketcache::{Bucket, ManualClock};
use predicates::prelude::*;

use crate::common::*;

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
    let corrupt = format!("{}.json", "fe".repeat(32));
    fs::write(dir.join(&corrupt), b"{\"value\": 1, \"expir").unwrap();
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
    assert!(after.contains(&corrupt), "corrupt files are left alone");
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
            text.lines().all(|l| l
                .split_once(&format!("({backend}): "))
                .is_some_and(|(_, why)| !why.trim().is_empty())),
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
