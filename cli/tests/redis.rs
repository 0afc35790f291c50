//! Every command on a Redis namespace (`--store redis://…`), against a real `redis-server`
//! started by `bucketcache_redis::testing`, as on a directory.

use std::time::Duration;

use bucketcache::Bucket;
use bucketcache_redis::redis;
use bucketcache_redis::testing::RedisServer;
use predicates::prelude::*;

use crate::common::*;

#[test]
fn every_command_works_on_a_redis_namespace_as_on_a_directory() {
    let Some(server) =
        RedisServer::start_or_skip("every_command_works_on_a_redis_namespace_as_on_a_directory")
    else {
        return;
    };
    let url = server.url();
    let on = |cmd: &str| {
        let mut c = bc();
        c.args([cmd, "--store", &url, "myapp"]);
        c
    };
    on("set").args(["\"a\"", "[1, 2]"]).assert().success();
    on("set")
        .args(["\"old\"", "1", "--lifetime", "1h"])
        .assert()
        .success();
    on("get").arg("\"a\"").assert().success().stdout("[1,2]\n");
    // The same entry through the library: the namespace is the bucket's path.
    bucketcache::install_default_backends().unwrap();
    let b = Bucket::builder("myapp").store(url.as_str()).open().unwrap();
    assert_eq!(b.get::<Vec<i32>>("a").unwrap(), Some(vec![1, 2]));
    b.set("from-rust", &"x").unwrap();
    let mut con = server.connection();
    redis::cmd("SET")
        .arg("myapp:notes")
        .arg("not an entry")
        .exec(&mut con)
        .unwrap();
    redis::cmd("SET")
        .arg("other:notes")
        .arg("another namespace")
        .exec(&mut con)
        .unwrap();

    let listed = json_lines(&stdout_of(on("ls").arg("--json")));
    let states: Vec<(&str, &str)> = listed
        .iter()
        .map(|l| (l["file"].as_str().unwrap(), l["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 4, "{states:?}");
    assert_eq!(states[3], ("notes", "foreign"));
    assert!(states[..3].iter().all(|s| s.1 == "ok"), "{states:?}");
    on("stats")
        .assert()
        .success()
        .stdout(predicate::str::contains("msgpack"));
    on("verify").assert().success();

    // An entry written with a lifetime: `prune --lifetime` applies the lifetime-changed rule.
    on("prune")
        .args(["--dry-run", "--lifetime", "1m", "--json"])
        .assert()
        .success();
    let pruned = json_lines(&stdout_of(on("prune").args(["--lifetime", "1m", "--json"])));
    assert_eq!(pruned[0]["files"], 3, "{pruned:?}");
    on("get").arg("\"a\"").assert().code(1);
    on("set").args(["\"a\"", "5"]).assert().success();
    on("rm").arg("\"a\"").assert().success();
    on("rm").arg("\"a\"").assert().code(1);
    let exists: i64 = redis::cmd("EXISTS")
        .arg("myapp:notes")
        .arg("other:notes")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        exists, 2,
        "foreign keys and other namespaces are never touched"
    );
}

#[test]
fn a_server_that_is_down_is_a_one_line_error() {
    let Some(server) = RedisServer::start_or_skip("a_server_that_is_down_is_a_one_line_error")
    else {
        return;
    };
    let url = server.url();
    server.stop();
    let started = std::time::Instant::now();
    let out = bc()
        .args(["ls", "--store", &url, "myapp"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(started.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is unavailable"), "{stderr}");
}

#[test]
fn redis_is_said_plainly_keys_of_other_types_by_their_type_errors_by_key_and_server() {
    let Some(server) = RedisServer::start_or_skip(
        "redis_is_said_plainly_keys_of_other_types_by_their_type_errors_by_key_and_server",
    ) else {
        return;
    };
    let url = server.url();
    let on = |cmd: &str| {
        let mut c = bc();
        c.args([cmd, "--store", &url, "plain"]);
        c
    };
    let mut con = server.connection();
    let list = format!("{}.json", "ab".repeat(32));
    redis::cmd("RPUSH")
        .arg(format!("plain:{list}"))
        .arg("x")
        .exec(&mut con)
        .unwrap();
    let rows = json_lines(&stdout_of(on("ls").arg("--json")));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "foreign");
    assert_eq!(rows[0]["error"], "a Redis list, not an entry");
    // A refused write names the Redis key and the server, not a file.
    for (name, value) in [("maxmemory-policy", "noeviction"), ("maxmemory", "1")] {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .exec(&mut con)
            .unwrap();
    }
    let out = on("set").args(["\"k\"", "1"]).assert().code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&url) && stderr.contains("key plain:") && !stderr.contains("plain/"),
        "{stderr}"
    );
}
