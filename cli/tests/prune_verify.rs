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

/// A json bucket of ten entries of the same size, `k0` used most recently and `k9` least, and
/// a msgpack entry used in between; plus a foreign file.
fn budget_dir() -> (tempfile::TempDir, std::path::PathBuf, Bucket) {
    bucketcache::install_default_backends().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let b = Bucket::builder(&dir).backend("json").open().unwrap();
    let base = std::time::SystemTime::now() - Duration::from_secs(3600);
    let age = |path: std::path::PathBuf, millis: u64| {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(base + Duration::from_millis(millis))
            .unwrap();
    };
    for i in 0..10u64 {
        let key = format!("k{i}");
        b.set(&key, &"x".repeat(100)).unwrap();
        age(b.path_for_key(&key).unwrap(), (100 - i) * 1000);
    }
    let mp = Bucket::builder(&dir).backend("msgpack").open().unwrap();
    mp.set("m", &1).unwrap();
    age(mp.path_for_key("m").unwrap(), 95_500); // between k5 and k4
    fs::write(dir.join("notes.txt"), "not an entry").unwrap();
    (tmp, dir, b)
}

#[test]
fn prune_to_a_budget_removes_the_least_recently_used_of_every_backend_and_the_dry_run_agrees() {
    let (_tmp, dir, b) = budget_dir();
    let entry = fs::metadata(b.path_for_key("k0").unwrap()).unwrap().len();
    let args = ["prune", "--json", "--max-entries", "5"];
    let dry = json_lines(&stdout_of(bc().args(args).arg("--dry-run").arg(&dir)));
    let budget = dry.last().unwrap();
    assert_eq!(budget["budget"]["max_entries"], 5);
    assert_eq!(
        (budget["files"].clone(), budget["entries_left"].clone()),
        (6.into(), 5.into())
    );
    let removed: Vec<&str> = budget["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    let name = |k: &str| {
        b.path_for_key(k)
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let expected: Vec<String> = ["k9", "k8", "k7", "k6", "k5"]
        .iter()
        .map(|k| name(k))
        .collect();
    assert_eq!(
        removed[..5],
        expected.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    assert!(
        removed[5].ends_with(".msgpack"),
        "every backend's entries count: {removed:?}"
    );
    assert_eq!(budget["removed"][0]["backend"], "json");
    assert_eq!(
        budget["bytes"],
        5 * entry + fs::metadata(dir.join(removed[5])).unwrap().len()
    );

    let before = files_in(&dir);
    let real = json_lines(&stdout_of(bc().args(args).arg(&dir)));
    assert_eq!(real.last().unwrap()["files"], 6);
    assert_eq!(real.last().unwrap()["entries_left"], 5);
    assert_eq!(files_in(&dir).len(), before.len() - 6);
    for k in ["k0", "k1", "k2", "k3", "k4"] {
        assert!(b.path_for_key(k).unwrap().exists(), "{k}");
    }
    assert!(
        dir.join("notes.txt").exists(),
        "a foreign file is never removed"
    );
}

#[test]
fn prune_to_a_budget_in_human_bytes_and_a_malformed_size_is_refused() {
    let (_tmp, dir, b) = budget_dir();
    let entry = fs::metadata(b.path_for_key("k0").unwrap()).unwrap().len();
    let out = String::from_utf8(stdout_of(
        bc().args(["prune", "--backend", "json", "--max-bytes"])
            .arg(format!("{}B", 3 * entry))
            .arg(&dir),
    ))
    .unwrap();
    assert!(out.contains("over budget, least recently used"), "{out}");
    assert!(out.contains("budget of"), "{out}");
    let left: Vec<_> = files_in(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(left.len(), 3, "{out}");
    bc().args(["prune", "--max-bytes", "3 furlongs"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"3 furlongs\" is not a size"));
}

#[test]
fn stats_shows_the_use_of_a_budget() {
    let (_tmp, dir, b) = budget_dir();
    let entry = fs::metadata(b.path_for_key("k0").unwrap()).unwrap().len();
    let lines = json_lines(&stdout_of(
        bc().args([
            "stats",
            "--json",
            "--max-bytes",
            "1KiB",
            "--max-entries",
            "20",
        ])
        .arg(&dir),
    ));
    let budget = lines.last().unwrap();
    assert_eq!(budget["entries"], 11);
    assert!(budget["bytes"].as_u64().unwrap() > 10 * entry);
    assert_eq!(budget["over"], true);
    assert_eq!(budget["entries_percent"], 55.0);
    let text = String::from_utf8(stdout_of(
        bc().args(["stats", "--max-entries", "20"]).arg(&dir),
    ))
    .unwrap();
    assert!(text.contains("11 of 20 entries (55.0%)"), "{text}");
    assert!(text.contains("within budget"), "{text}");
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
