//! The Redis floor: the `redis` crate's raw `SET`/`GET` of the bytes bucketcache (msgpack)
//! writes, on the same server as `bucketcache msgpack redis` (a `redis-server` started by
//! `bucketcache_redis::testing`, shared by the run).

use std::hint::black_box;
use std::path::Path;

use anyhow::Result;
use bucketcache_redis::redis::{self, Commands};
use bucketcache_redis::testing::RedisServer;

use crate::{floor, large, System};

/// The run's server (started on first use), or why there is none.
pub fn server() -> Option<&'static RedisServer> {
    RedisServer::shared("the comparison harness")
}

/// The name of the row every Redis-backed bucketcache row is compared with.
pub const NAME: &str = "redis-rs raw SET/GET";

pub struct RawRedis {
    server: &'static RedisServer,
    conn: Option<redis::Connection>,
    prefix: String,
    workload: String,
    payload: Vec<u8>,
    big: Vec<u8>,
}

impl RawRedis {
    pub fn new(server: &'static RedisServer) -> Self {
        RawRedis {
            server,
            conn: None,
            prefix: String::new(),
            workload: String::new(),
            payload: floor::payload(),
            big: large().into_bytes(),
        }
    }

    fn conn(&mut self) -> &mut redis::Connection {
        self.conn.as_mut().expect("begun")
    }
}

impl System for RawRedis {
    fn name(&self) -> String {
        NAME.into()
    }

    fn supports(&self, workload: &str) -> bool {
        matches!(
            workload,
            "set" | "get cold" | "get warm" | "1MiB set" | "1MiB get" | "open"
        )
    }

    fn begin(&mut self, workload: &str, dir: &Path, _: usize) -> Result<()> {
        // Keys under the directory's name, as the store's namespace is.
        self.prefix = dir.display().to_string();
        self.workload = workload.to_owned();
        if self.conn.is_none() {
            self.conn = Some(self.server.connection());
        }
        Ok(())
    }

    fn op(&mut self, i: usize) {
        let key = format!("{}:{}", self.prefix, floor::name(i));
        let big = format!("{}:big{}", self.prefix, i % 4);
        match self.workload.as_str() {
            "set" => {
                let payload = std::mem::take(&mut self.payload);
                let () = self.conn().set(&key, &payload).expect("SET");
                self.payload = payload;
            }
            "get cold" | "get warm" => {
                let v: Vec<u8> = self.conn().get(&key).expect("GET");
                black_box(v);
            }
            "1MiB set" => {
                let payload = std::mem::take(&mut self.big);
                let () = self.conn().set(&big, &payload).expect("SET");
                self.big = payload;
            }
            "1MiB get" => {
                let v: Vec<u8> = self.conn().get(&big).expect("GET");
                black_box(v);
            }
            "open" => drop(black_box(self.server.connection())),
            other => unreachable!("{other}"),
        }
    }

    fn prune(&mut self, _: usize, _: &Path) -> Result<Option<f64>> {
        Ok(None)
    }
}
