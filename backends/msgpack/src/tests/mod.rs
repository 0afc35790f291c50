//! Unit tests of the msgpack backend: byte-identity with the original's fixtures, reading them,
//! options, encoding rules and hostile input.

mod encoding;
mod fixtures;
mod malformed;
mod options;
mod props;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bucketcache_core::time::parse_expiration;
use bucketcache_core::{Backend, BackendError};
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;

fn backend() -> MsgpackBackend {
    MsgpackBackend::default()
}

fn enc<V: Serialize + ?Sized>(b: &MsgpackBackend, v: &V) -> Result<Vec<u8>, BackendError> {
    (b as &dyn Backend).encode(v, None)
}

/// The encoding of `v` alone (without the envelope around it).
fn value_bytes<V: Serialize + ?Sized>(b: &MsgpackBackend, v: &V) -> Vec<u8> {
    let whole = enc(b, v).unwrap();
    let env = decode::envelope(&whole).unwrap();
    env.value.to_vec()
}

fn dec<V: de::DeserializeOwned>(bytes: &[u8]) -> Result<V, BackendError> {
    (&backend() as &dyn Backend).decode_value(bytes)
}

// Values shared by the encoding, malformed-input and property tests.

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Person {
    name: String,
    age: u8,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    email: Option<String>,
    tags: Vec<String>,
}

fn record() -> Person {
    Person {
        name: "Grace".into(),
        age: 85,
        email: Some("g@example.com".into()),
        tags: vec!["navy".into(); 3],
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(u32, u32),
    Named { label: String },
}
