//! `#[cached(version = auto)]` across builds: a program built again with a changed function body
//! recomputes; built again with only a comment changed, it hits.
//!
//! The program is a small crate outside the workspace, built with cargo (offline, with the
//! workspace's lock file) into its own target directory under `target/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAM: &str = r#"use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;

use bucketcache::Bucket;

static CACHE: LazyLock<Bucket> = LazyLock::new(|| {
    let dir = std::env::args().nth(1).expect("cache dir");
    Bucket::builder(dir).backend("json").open().expect("open")
});
static COMPUTED: AtomicU32 = AtomicU32::new(0);

#[bucketcache::cached(bucket = CACHE, version = auto)]
fn answer(n: u64) -> u64 {
    COMPUTED.fetch_add(1, Ordering::SeqCst);
    /*COMMENT*/
    n + /*BODY*/1
}

fn main() {
    let v = answer(41);
    println!("value={v} computed={}", COMPUTED.load(Ordering::SeqCst));
}
"#;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes the program with `body` as the added constant and `comment` as a comment, builds it and
/// runs it on `cache`; returns its output line.
fn build_and_run(app: &Path, body: &str, comment: &str, cache: &Path) -> String {
    let source = PROGRAM
        .replace("/*BODY*/1", body)
        .replace("/*COMMENT*/", comment);
    fs::write(app.join("src/main.rs"), source).unwrap();
    let target = workspace().join("target/version-auto");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(app)
        .output()
        .expect("cargo");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let ran = Command::new(target.join("debug/version-auto-app"))
        .arg(cache)
        .output()
        .expect("run");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    String::from_utf8_lossy(&ran.stdout).trim().to_owned()
}

#[test]
fn a_changed_body_recomputes_and_a_changed_comment_hits() {
    let scratch = tempfile::tempdir().unwrap();
    let app = scratch.path().join("app");
    fs::create_dir_all(app.join("src")).unwrap();
    fs::write(
        app.join("Cargo.toml"),
        format!(
            "[package]\nname = \"version-auto-app\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\nbucketcache = {{ path = {:?} }}\n\n[workspace]\n",
            workspace().display().to_string()
        ),
    )
    .unwrap();
    fs::copy(workspace().join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    let cache = scratch.path().join("cache");

    assert_eq!(build_and_run(&app, "1", "", &cache), "value=42 computed=1");
    assert_eq!(
        build_and_run(&app, "1", "", &cache),
        "value=42 computed=0",
        "the same build hits"
    );
    assert_eq!(
        build_and_run(&app, "1", "// only a comment changed", &cache),
        "value=42 computed=0",
        "comments do not count"
    );
    assert_eq!(
        build_and_run(&app, "2", "", &cache),
        "value=43 computed=1",
        "a changed body never returns its old results"
    );
}
