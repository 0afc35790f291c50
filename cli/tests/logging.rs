//! Log verbosity on stderr and colours.

use predicates::prelude::*;

use crate::common::*;

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
