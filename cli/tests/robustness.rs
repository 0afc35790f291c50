//! Issue #11: files that are not entries (foreign files, links, FIFOs) are listed and never
//! deleted; an entry that cannot be read is reported and skipped, not the end of the command;
//! an error is one line.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

/// Long enough for a slow machine, short enough that a command stuck on a FIFO fails the test.
const PATIENCE: Duration = Duration::from_secs(20);

fn run(cmd: &mut Command) -> &mut Command {
    cmd.timeout(PATIENCE)
}

/// `<64 hex digits>.<ext>`: named like an entry of the default keymaker.
fn entry_name(byte: &str, ext: &str) -> String {
    format!("{}.{ext}", byte.repeat(32))
}

/// The library's directory (three json entries, one expired), plus a corrupt json entry and
/// foreign names: `package.json`, `data.msgpack`, a link named like an entry pointing to a file
/// outside, a FIFO named like an entry and a directory named like one.
struct Mixed {
    _tmp: tempfile::TempDir,
    _outside: tempfile::TempDir,
    dir: PathBuf,
    corrupt: String,
    foreign: Vec<String>,
    target: PathBuf,
}

const TARGET_BYTES: &[u8] = b"{\"value\": 1, \"expir";

fn mixed() -> Mixed {
    let (tmp, dir) = library_dir();
    let corrupt = entry_name("c0", "json");
    fs::write(dir.join(&corrupt), b"{\"value\": [1, 2").unwrap();
    fs::write(
        dir.join("package.json"),
        b"{\"name\": \"not a cache entry\"}",
    )
    .unwrap();
    fs::write(dir.join("data.msgpack"), b"\x81\xa5value\x01").unwrap();
    // A link to a file that looks like a corrupt entry: following it would delete the target.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.json");
    fs::write(&target, TARGET_BYTES).unwrap();
    let link = entry_name("11", "json");
    std::os::unix::fs::symlink(&target, dir.join(&link)).unwrap();
    // A FIFO: opening it for reading without O_NONBLOCK waits for a writer forever.
    let fifo = entry_name("22", "msgpack");
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join(&fifo))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let sub = entry_name("33", "json");
    fs::create_dir(dir.join(&sub)).unwrap();
    let mut foreign = vec![
        "package.json".to_owned(),
        "data.msgpack".to_owned(),
        link,
        fifo,
        sub,
    ];
    foreign.sort();
    Mixed {
        _tmp: tmp,
        _outside: outside,
        dir,
        corrupt,
        foreign,
        target,
    }
}

fn rows_by_file(rows: &[Value]) -> std::collections::BTreeMap<String, &Value> {
    rows.iter()
        .map(|r| (r["file"].as_str().unwrap().to_owned(), r))
        .collect()
}

fn assert_foreign_intact(m: &Mixed) {
    for name in &m.foreign {
        assert!(
            fs::symlink_metadata(m.dir.join(name)).is_ok(),
            "{name} is still there"
        );
    }
    assert_eq!(
        fs::read(&m.target).unwrap(),
        TARGET_BYTES,
        "the link's target is untouched"
    );
}

#[test]
fn foreign_files_are_listed_as_foreign_with_the_reason() {
    let m = mixed();
    let rows = json_lines(&stdout_of(run(bc().args(["ls", "--json"]).arg(&m.dir))));
    let by_file = rows_by_file(&rows);
    assert_eq!(rows.len(), 4 + m.foreign.len(), "{rows:#?}");
    for name in &m.foreign {
        let row = by_file.get(name).unwrap_or_else(|| panic!("{name} listed"));
        assert_eq!(row["state"], "foreign", "{row}");
        assert!(row["backend"].is_null(), "{row}");
        assert!(
            !row["error"].as_str().unwrap_or_default().is_empty(),
            "the reason: {row}"
        );
    }
    let link = &by_file[&entry_name("11", "json")];
    assert!(link["error"].as_str().unwrap().contains("link"), "{link}");
    assert_eq!(by_file[&m.corrupt]["state"], "corrupt");
    assert_eq!(by_file[&m.corrupt]["backend"], "json");
    // Entries first, foreign files last.
    let states: Vec<&str> = rows.iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert!(states[..4].iter().all(|s| *s != "foreign"), "{states:?}");

    let text = String::from_utf8(stdout_of(run(bc().arg("ls").arg(&m.dir)))).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("package.json"))
        .unwrap();
    assert!(line.contains("foreign ("), "{text}");

    // With --backend, only the foreign files with that backend's extension.
    let rows = json_lines(&stdout_of(run(bc()
        .args(["ls", "--json", "--backend", "msgpack"])
        .arg(&m.dir))));
    let files: Vec<&str> = rows.iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        [entry_name("22", "msgpack").as_str(), "data.msgpack"]
    );
    assert_foreign_intact(&m);
}

#[test]
fn stats_does_not_count_foreign_files_as_entries() {
    let m = mixed();
    let rows = json_lines(&stdout_of(run(bc().args(["stats", "--json"]).arg(&m.dir))));
    let json = rows.iter().find(|r| r["backend"] == "json").unwrap();
    assert_eq!(json["entries"], 4, "{json}");
    assert_eq!(
        (json["ok"].as_u64(), json["corrupt"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(json["unreadable"], 0);
    assert!(
        !rows.iter().any(|r| r["backend"] == "msgpack"),
        "data.msgpack and the FIFO are no msgpack entries: {rows:?}"
    );
    let foreign = rows.iter().find(|r| r.get("foreign").is_some()).unwrap();
    assert_eq!(foreign["foreign"], m.foreign.len());
    let text = String::from_utf8(stdout_of(run(bc().arg("stats").arg(&m.dir)))).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("foreign: {} file(s)", m.foreign.len()))),
        "{text}"
    );
}

#[test]
fn verify_delete_corrupt_deletes_corrupt_entries_and_nothing_else() {
    let m = mixed();
    let before = files_in(&m.dir);
    let out = run(bc().args(["verify", "--json"]).arg(&m.dir))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = json_lines(&out.stdout);
    let files: Vec<&str> = rows.iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(files, [m.corrupt.as_str()], "only the corrupt entry");

    let out = run(bc().args(["verify", "--delete-corrupt"]).arg(&m.dir))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("[deleted]"), "{text}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("{} foreign file(s) left alone", m.foreign.len())),
        "{err}"
    );
    let after = files_in(&m.dir);
    let gone: Vec<&String> = before.iter().filter(|f| !after.contains(f)).collect();
    assert_eq!(
        gone,
        [&m.corrupt],
        "nothing but the corrupt entry is deleted"
    );
    assert_foreign_intact(&m);
    run(bc().arg("verify").arg(&m.dir)).assert().success();
}

#[test]
fn prune_leaves_foreign_files_alone_and_does_not_hang() {
    let m = mixed();
    let out = String::from_utf8(stdout_of(run(bc()
        .args(["prune", "--all-backends", "--lifetime", "1h"])
        .arg(&m.dir))))
    .unwrap();
    assert!(out.contains("json: removed 3 file(s)"), "{out}");
    assert!(out.contains("msgpack: removed 0 file(s)"), "{out}");
    assert_foreign_intact(&m);
    assert!(
        m.dir.join(&m.corrupt).exists(),
        "corrupt entries are not pruned"
    );
}

// ---- unreadable entries ----

/// Makes `file` unreadable; `false` when it still can be read (running as root), so the caller
/// skips what needs an unreadable file.
fn make_unreadable(file: &Path) -> bool {
    fs::set_permissions(file, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(file).is_ok() {
        eprintln!(
            "skipped: {} is still readable (running as root?)",
            file.display()
        );
        return false;
    }
    true
}

/// The library's directory with a second expired entry that cannot be read.
fn with_unreadable() -> Option<(tempfile::TempDir, PathBuf, String)> {
    let (tmp, dir) = library_dir();
    let stale = files_in(&dir)
        .into_iter()
        .find(|f| {
            fs::read_to_string(dir.join(f))
                .unwrap()
                .contains("2000-01-01")
        })
        .unwrap();
    let locked = entry_name("d0", "json");
    fs::copy(dir.join(&stale), dir.join(&locked)).unwrap();
    make_unreadable(&dir.join(&locked)).then_some((tmp, dir, locked))
}

#[test]
fn an_unreadable_entry_is_reported_and_skipped_and_the_rest_goes_on() {
    let Some((_tmp, dir, locked)) = with_unreadable() else {
        return;
    };
    let warned =
        || predicate::str::contains(locked.as_str()).and(predicate::str::contains("cannot read"));

    let out = run(bc().args(["ls", "--json"]).arg(&dir))
        .assert()
        .code(1)
        .stderr(warned())
        .get_output()
        .clone();
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 4, "every entry is listed: {rows:?}");
    let row = rows_by_file(&rows)[&locked];
    assert_eq!(row["state"], "unreadable");
    assert!(
        row["error"].as_str().unwrap().contains("ermission"),
        "{row}"
    );
    run(bc().arg("ls").arg(&dir))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unreadable"));

    let out = run(bc().args(["stats", "--json"]).arg(&dir))
        .assert()
        .code(1)
        .stderr(warned())
        .get_output()
        .clone();
    let rows = json_lines(&out.stdout);
    assert_eq!(rows[0]["entries"], 4);
    assert_eq!(rows[0]["unreadable"], 1);
    assert_eq!(rows[0]["ok"], 2);

    run(bc().arg("verify").arg(&dir))
        .assert()
        .code(1)
        .stdout("")
        .stderr(warned())
        .stderr(predicate::str::contains("1 unreadable"));

    // prune removes the readable expired entry, skips the other, and says so.
    let out = run(bc()
        .args(["prune", "--backend", "json", "--json"])
        .arg(&dir))
    .assert()
    .code(1)
    .stderr(predicate::str::contains(locked.as_str()))
    .get_output()
    .clone();
    let rows = json_lines(&out.stdout);
    assert_eq!(
        (rows[0]["files"].as_u64(), rows[0]["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(files_in(&dir).len(), 3, "{:?}", files_in(&dir));
    assert!(dir.join(&locked).exists());
}

// ---- errors ----

/// Standard error holds exactly one line, `error: …`, and `needle` appears in it once.
fn one_error_line(stderr: &[u8], needle: &str) {
    let err = String::from_utf8(stderr.to_vec()).unwrap();
    assert_eq!(err.lines().count(), 1, "one line:\n{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.matches(needle).count(), 1, "{needle:?} once in {err}");
}

#[test]
fn an_io_error_is_one_line_without_repeated_causes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, b"").unwrap();
    // A cache directory that cannot be created: its parent is a file.
    let out = run(bc().arg("set").arg(file.join("cache")).args(["\"k\"", "1"]))
        .assert()
        .code(2)
        .stdout("")
        .get_output()
        .clone();
    one_error_line(&out.stderr, "Not a directory");
}

#[test]
fn an_unlistable_directory_is_one_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read_dir(&dir).is_ok() {
        eprintln!(
            "skipped: {} is still listable (running as root?)",
            dir.display()
        );
        return;
    }
    for cmd in ["ls", "stats", "verify", "prune"] {
        let out = run(bc().arg(cmd).arg(&dir))
            .assert()
            .code(2)
            .stdout("")
            .get_output()
            .clone();
        one_error_line(&out.stderr, "ermission denied");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: cannot list "), "{cmd}: {err}");
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn get_of_an_unreadable_entry_is_one_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    bc().arg("set")
        .arg(tmp.path())
        .args(["--backend", "json", "\"k\"", "1"])
        .assert()
        .success();
    let file = tmp.path().join(&files_in(tmp.path())[0]);
    if !make_unreadable(&file) {
        return;
    }
    let out = run(bc()
        .args(["get", "--backend", "json"])
        .arg(tmp.path())
        .arg("\"k\""))
    .assert()
    .code(2)
    .stdout("")
    .get_output()
    .clone();
    one_error_line(&out.stderr, "ermission denied");
}
