//! Foreign files and extension ownership.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use bucketcache::backends::json::JsonBackend;
use bucketcache::inspect::State;
use bucketcache::registry::{self, Origin};
use bucketcache::{Backend, BackendError, Bucket, Decoded, Error, Expiration, ValueLocation};

use super::{hour_bucket, states, BACKENDS};
use crate::common::clock;

#[test]
fn foreign_files_are_listed_as_foreign_and_never_pruned() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let b = hour_bucket(dir.path(), backend, &clock);
        b.set("k", &1).unwrap();
        // Each foreign name holds an expired entry's bytes: judged as an entry, it would go.
        let expired = fs::read(b.path_for_key("k").unwrap()).unwrap();
        let digest = b.hash_for_key("k").unwrap();
        let ext = b.backend().file_extension().to_owned();
        let foreign = [
            "package.json".to_owned(),
            "data.msgpack".to_owned(),
            "data.pickle".to_owned(),
            format!("{}.{ext}", &digest[..63]),
            format!("{digest}0.{ext}"),
            format!("{}.{ext}", digest.to_uppercase()),
            format!("{digest}.txt"),
            format!("{digest}.{ext}.bak"),
            "README".to_owned(),
        ];
        for name in &foreign {
            fs::write(dir.path().join(name), &expired).unwrap();
        }
        clock.advance(Duration::from_secs(2 * 3600));
        let listed = states(&b);
        for name in &foreign {
            assert!(
                matches!(listed.get(name), Some(State::Foreign(_))),
                "{backend}: {name}: {listed:?}"
            );
        }
        let pruned = b.prune().unwrap();
        assert_eq!(pruned.files, 1, "{backend}: only the expired entry");
        for name in &foreign {
            assert_eq!(fs::read(dir.path().join(name)).unwrap(), expired, "{name}");
        }
    }
}

/// The JSON backend under another name: a second claimant of the `.json` extension.
#[derive(Debug)]
struct JsonTwin;

impl Backend for JsonTwin {
    fn name(&self) -> &str {
        "json-twin"
    }
    fn file_extension(&self) -> &str {
        "json"
    }
    fn is_binary(&self) -> bool {
        false
    }
    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<Option<ValueLocation>, BackendError> {
        JsonBackend::default().dump(value, expiration, out)
    }
    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
        JsonBackend::default().decode(bytes)
    }
}

fn json_twin_factory(_: &serde_json::Value) -> bucketcache::Result<Arc<dyn Backend>> {
    Ok(Arc::new(JsonTwin))
}

#[test]
fn a_second_backend_claiming_an_extension_is_refused_naming_both() {
    bucketcache::install_default_backends().unwrap();
    let check = |err: Error| {
        assert!(matches!(err, Error::BackendRefused { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("\"json-twin\""), "{message}");
        assert!(
            message.contains("its extension .json already belongs to backend \"json\""),
            "{message}"
        );
    };
    check(registry::register_backend_instance(Arc::new(JsonTwin), Origin::Program).unwrap_err());
    check(
        registry::register_backend_factory("json-twin", "a-third-party-crate", json_twin_factory)
            .unwrap_err(),
    );
    assert!(registry::backends().iter().all(|b| b.name != "json-twin"));
    let dir = tempfile::tempdir().unwrap();
    check(
        Bucket::builder(dir.path())
            .backend_instance(Arc::new(JsonTwin))
            .open()
            .unwrap_err(),
    );
}
