//! Issue #20 (5): no command dies by a signal on a damaged LMDB store: it reports the damage,
//! naming the data file, and exits non-zero (LMDB, which may crash on damaged pages, is walked
//! in a child process).

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bucketcache::Bucket;

use crate::common::*;

/// An LMDB cache of 400 json entries (many leaf pages).
fn lmdb_cache() -> (tempfile::TempDir, PathBuf) {
    bucketcache::install_default_backends().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let b = Bucket::builder(&dir)
        .store("lmdb")
        .backend("json")
        .open()
        .unwrap();
    for i in 0..400 {
        b.set(&format!("k{i}"), &format!("value number {i}, padded"))
            .unwrap();
    }
    (tmp, dir)
}

const P_BRANCH: u16 = 0x01;
const P_LEAF: u16 = 0x02;

/// Overwrites the start of the node table of every page of `kind` (LMDB's page header: pgno u64,
/// pad u16, flags u16, lower u16, upper u16, then the node offsets) with `fill`. Returns how
/// many pages were damaged.
fn damage(data: &Path, kind: u16, fill: u8) -> usize {
    let mut bytes = fs::read(data).unwrap();
    // The page size is in the first meta page (`mm_dbs[FREE_DBI].md_pad`).
    let psize = u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize;
    assert!(psize.is_power_of_two() && psize >= 512, "page size {psize}");
    let mut damaged = 0;
    for page in 2..bytes.len() / psize {
        let at = page * psize;
        if u16::from_le_bytes([bytes[at + 10], bytes[at + 11]]) == kind {
            bytes[at + 16..at + 80].fill(fill);
            damaged += 1;
        }
    }
    fs::write(data, bytes).unwrap();
    damaged
}

/// Every command, on `dir`.
fn every_command(dir: &Path) -> Vec<Vec<String>> {
    let d = dir.to_str().unwrap().to_owned();
    let key = "\"k7\"".to_owned();
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    vec![
        [s(&["ls"]), vec![d.clone()]].concat(),
        [s(&["ls", "--json"]), vec![d.clone()]].concat(),
        [s(&["stats"]), vec![d.clone()]].concat(),
        [s(&["verify"]), vec![d.clone()]].concat(),
        [s(&["prune", "--dry-run"]), vec![d.clone()]].concat(),
        [s(&["prune", "--backend", "json"]), vec![d.clone()]].concat(),
        [
            s(&["get", "--backend", "json"]),
            vec![d.clone(), key.clone()],
        ]
        .concat(),
        [
            s(&["rm", "--backend", "json"]),
            vec![d.clone(), key.clone()],
        ]
        .concat(),
        [
            s(&["set", "--backend", "json"]),
            vec![d.clone(), key.clone(), "1".into()],
        ]
        .concat(),
        [s(&["verify", "--delete-corrupt"]), vec![d.clone()]].concat(),
    ]
}

fn check_every_command_reports_the_damage(dir: &Path) {
    let file = dir.join("data.mdb");
    for args in every_command(dir) {
        let out = bc()
            .args(&args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            None,
            "{args:?} died by a signal: {stderr}"
        );
        if args[0] == "set" {
            // A write may not meet the damaged pages: only never a signal.
            continue;
        }
        if args[0] == "get" || args[0] == "rm" {
            // One key: LMDB may find no such key in a damaged page (a miss, status 1).
            assert!(
                out.status.code().is_some_and(|c| c != 0),
                "{args:?}: {stderr}"
            );
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&file.display().to_string()),
            "{args:?} names the file: {stderr}"
        );
        assert!(!stderr.contains("core dumped"), "{stderr}");
    }
}

#[test]
fn a_damaged_lmdb_store_that_crashes_lmdb_is_an_error_naming_the_file_not_a_signal() {
    let (_tmp, dir) = lmdb_cache();
    // Node offsets pointing far outside their page: LMDB reads out of its map.
    assert!(damage(&dir.join("data.mdb"), P_LEAF, 0xab) > 0);
    check_every_command_reports_the_damage(&dir);
    // Said as damage: LMDB crashed its reader (the child process), not the command — or,
    // depending on which pages the damage hits (the store's accounting databases share the
    // file since they were added), LMDB reports the page it cannot find.
    let out = bc().arg("ls").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let data = dir.join("data.mdb").display().to_string();
    assert!(
        stderr.contains("data.mdb is damaged: LMDB could not walk it")
            || (stderr.contains(&format!("cannot list {data}"))
                && stderr.contains("MDB_PAGE_NOTFOUND")),
        "{stderr}"
    );
}

#[test]
fn a_damaged_lmdb_store_that_lmdb_reports_is_an_error_naming_the_file() {
    let (_tmp, dir) = lmdb_cache();
    // Branch pages whose node offsets are garbage: LMDB finds no page (MDB_PAGE_NOTFOUND) or
    // crashes; either way the command says so.
    assert!(damage(&dir.join("data.mdb"), P_BRANCH, 0xab) > 0);
    check_every_command_reports_the_damage(&dir);
}
