//! One cache shared by many processes (standing in for machines) through Redis, against a real
//! `redis-server` started by `bucketcache_redis::testing` (skipped loudly when none can be had,
//! failing under `CI=true`).
//!
//! Child processes are this test binary run again with `BUCKETCACHE_REDIS_CHILD` set: the test
//! `redis::child_entry_point` then plays the child's role (and does nothing in a normal run).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use bucketcache::{Bucket, BucketConfig};
use bucketcache_redis::redis;
use bucketcache_redis::testing::RedisServer;

const CHILD_ENV: &str = "BUCKETCACHE_REDIS_CHILD";
const URL_ENV: &str = "BUCKETCACHE_REDIS_URL";
const NS_ENV: &str = "BUCKETCACHE_REDIS_NS";

fn setup() {
    bucketcache::install_default_backends().unwrap();
    bucketcache_redis::register().unwrap();
}

/// Starts this test binary as a child playing `role` on the namespace `ns` of `server`.
fn spawn_child(role: &str, server: &RedisServer, ns: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "redis::child_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, role)
        .env(URL_ENV, server.url())
        .env(NS_ENV, ns)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child")
}

/// What a child printed as its answer.
fn answer_of(role: &str, child: Child) -> String {
    let out = child.wait_with_output().expect("wait for the child");
    assert!(
        out.status.success(),
        "child {role} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("CHILD:"))
        .unwrap_or_else(|| panic!("no answer from child {role}: {stdout}"))
        .to_owned()
}

/// Runs a child to its end and returns its answer.
fn child(role: &str, server: &RedisServer, ns: &str) -> String {
    answer_of(role, spawn_child(role, server, ns))
}

/// The bucket of a child: the namespace and server its parent gave.
static SHARED: LazyLock<Bucket> = LazyLock::new(|| {
    setup();
    Bucket::builder(std::env::var(NS_ENV).expect("namespace"))
        .backend("json")
        .store(std::env::var(URL_ENV).expect("url"))
        .open()
        .expect("open the shared bucket")
});

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[bucketcache::cached(bucket = SHARED)]
fn expensive_square(x: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[bucketcache::cached(bucket = SHARED)]
fn slow_cube(x: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(400)); // long enough to overlap
    x * x * x
}

/// The entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry_point() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let answer = match role.as_str() {
        "set" => {
            SHARED
                .set("greeting", &format!("hello from {}", std::process::id()))
                .unwrap();
            "done".to_owned()
        }
        "get" => format!("{:?}", SHARED.get::<String>("greeting").unwrap()),
        "memo" => {
            let value = expensive_square(12);
            format!("{value} computed {}", CALLS.load(Ordering::SeqCst))
        }
        "slow-memo" => {
            let value = slow_cube(5);
            format!("{value} computed {}", CALLS.load(Ordering::SeqCst))
        }
        other => panic!("unknown child role {other}"),
    };
    println!("\nCHILD:{answer}"); // after libtest's "test … " on the same line
}

#[test]
fn a_value_set_in_one_process_is_read_in_another() {
    let Some(server) = RedisServer::shared("a_value_set_in_one_process_is_read_in_another") else {
        return;
    };
    let ns = format!("procs-{}", std::process::id());
    assert_eq!(child("get", server, &ns), "None");
    assert_eq!(child("set", server, &ns), "done");
    let got = child("get", server, &ns);
    assert!(got.starts_with("Some(\"hello from "), "{got}");
    setup();
    let here = Bucket::builder(&ns)
        .backend("json")
        .store(server.url())
        .open()
        .unwrap();
    assert_eq!(
        format!("{:?}", here.get::<String>("greeting").unwrap()),
        got
    );
}

#[test]
fn cached_on_a_redis_bucket_computes_once_across_two_processes() {
    let Some(server) =
        RedisServer::shared("cached_on_a_redis_bucket_computes_once_across_two_processes")
    else {
        return;
    };
    let ns = format!("memo-{}", std::process::id());
    assert_eq!(child("memo", server, &ns), "144 computed 1");
    assert_eq!(
        child("memo", server, &ns),
        "144 computed 0",
        "a hit in Redis"
    );
}

#[test]
fn a_configured_bucket_lives_in_redis_with_its_near_cache_beside_the_config() {
    let Some(server) = RedisServer::shared(
        "a_configured_bucket_lives_in_redis_with_its_near_cache_beside_the_config",
    ) else {
        return;
    };
    setup();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.toml");
    let ns = format!("cfg-{}", std::process::id());
    std::fs::write(
        &file,
        format!(
            r#"
path = "{ns}"
store = "{}"
backend = "json"
lifetime = "1h"
fail_open = true
near_cache = "near"
near_ttl = "60s"
[store_options]
connect_timeout_ms = 500
command_timeout_ms = 500
"#,
            server.url()
        ),
    )
    .unwrap();
    let config = BucketConfig::from_file(&file).unwrap();
    assert_eq!(
        config.path,
        Path::new(&ns),
        "a namespace is not a file name"
    );
    assert_eq!(
        config.near_cache.as_deref(),
        Some(&*dir.path().join("near"))
    );
    let b = Bucket::from_config(&config).unwrap();
    b.set("k", &"v").unwrap();
    let name = b
        .path_for_key("k")
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{ns}:{name}"))
        .query(&mut server.connection())
        .unwrap();
    assert!(ttl > 3_500_000, "{ttl}");
    assert!(dir.path().join("near").join(&name).is_file());
    let unknown = BucketConfig::from_toml_str(&format!(
        "path = \"x\"\nstore = \"{}\"\n[store_options]\nconect_timeout_ms = 1",
        server.url()
    ))
    .unwrap();
    let err = Bucket::from_config(&unknown).unwrap_err().to_string();
    assert!(err.contains("conect_timeout_ms"), "{err}");
}

#[test]
fn cached_on_a_redis_bucket_computes_once_for_processes_missing_at_once() {
    let Some(server) =
        RedisServer::shared("cached_on_a_redis_bucket_computes_once_for_processes_missing_at_once")
    else {
        return;
    };
    let ns = format!("flight-{}", std::process::id());
    let children: Vec<Child> = (0..4)
        .map(|_| spawn_child("slow-memo", server, &ns))
        .collect();
    let answers: Vec<String> = children
        .into_iter()
        .map(|c| answer_of("slow-memo", c))
        .collect();
    let computed = answers
        .iter()
        .filter(|a| a.as_str() == "125 computed 1")
        .count();
    assert_eq!(computed, 1, "{answers:?}");
    assert!(
        answers.iter().all(|a| a.starts_with("125 computed ")),
        "{answers:?}"
    );
}
