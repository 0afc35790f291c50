//! A bucketcache backend plugin storing entries as CBOR (RFC 8949), built as a shared library.
//!
//! Build it with `cargo build -p bucketcache-plugin-cbor` and load
//! `target/debug/libbucketcache_plugin_cbor.so` (`.dylib` on macOS, `.dll` on Windows):
//!
//! ```toml
//! path = "cache"
//! backend = "cbor"
//! plugins = ["target/debug/libbucketcache_plugin_cbor.so"]
//! ```

use bucketcache_plugin_sdk::{export_backend, Envelope, PluginBackend};

/// The envelope `{"value": ..., "expiration_date": ...}` as one CBOR map.
#[derive(Debug, Default)]
pub struct Cbor;

impl PluginBackend for Cbor {
    const NAME: &'static str = "cbor";
    const EXTENSION: &'static str = "cbor";
    const BINARY: bool = true;

    fn encode(&self, envelope: &Envelope) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        ciborium::into_writer(envelope, &mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn decode(&self, mut bytes: &[u8]) -> Result<Envelope, String> {
        let envelope = ciborium::from_reader(&mut bytes).map_err(|e| e.to_string())?;
        // One envelope per file: anything after it means the file is not ours.
        if !bytes.is_empty() {
            return Err(format!("{} bytes after the envelope", bytes.len()));
        }
        Ok(envelope)
    }
}

export_backend!(Cbor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_passes_the_conformance_kit() {
        bucketcache_plugin_sdk::conformance::check(Cbor).unwrap();
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let e = Envelope {
            value: 1.into(),
            expiration: None,
        };
        let mut bytes = Cbor.encode(&e).unwrap();
        assert_eq!(Cbor.decode(&bytes).unwrap(), e);
        bytes.push(0);
        assert!(Cbor.decode(&bytes).is_err());
    }
}
