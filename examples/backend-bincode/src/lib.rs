//! An example third-party bucketcache backend: entries encoded with `bincode` 2, linked into the
//! program and registered through `inventory`.
//!
//! A program selects it by name only: add the crate to `Cargo.toml`, then
//! `Bucket::builder(dir).backend("bincode")` (or `backend = "bincode"` in a `BucketConfig`).
//! Where static constructors do not run, call [`register`] once instead.
//!
//! bincode is not self-describing, so values must be read back as the type they were written
//! as (a `get` with another type is an error, a miss for the bucket).
//!
//! File layout: the magic `BCB2`, a flag byte (1 if there is an expiration), the expiration as
//! little-endian `i64` naive-UTC microseconds since the epoch, the value's length as
//! little-endian `u64`, then the value in bincode's standard configuration. The length makes
//! every truncated file detectable without knowing the value's type.

use std::sync::Arc;

use bucketcache_core::registry::BackendCrate;
use bucketcache_core::{
    Backend, BackendError, Decoded, Expiration, Result, ValueLocation, ValueTree, ValueVisitor,
};

/// The registry name.
pub const NAME: &str = "bincode";

/// The file extension (without the dot).
pub const EXTENSION: &str = "bincode";

const MAGIC: &[u8; 4] = b"BCB2";
const HEADER_LEN: usize = 4 + 1 + 8 + 8;

/// The bincode backend. It takes no options.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bincode;

/// Options: none (unknown ones are refused).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BincodeConfig {}

impl BackendCrate for Bincode {
    const NAME: &'static str = NAME;
    const EXTENSION: &'static str = EXTENSION;
    const PYTHON_CLASS_NAME: Option<&'static str> = None;
    type Config = BincodeConfig;
    fn new(_: BincodeConfig) -> Result<Self> {
        Ok(Bincode)
    }
}

// The factory, the `inventory` entry and `pub fn register()`.
bucketcache_core::backend_crate!(Bincode);

impl Bincode {
    /// Checks the header and returns the expiration and the value's bytes.
    fn split(bytes: &[u8]) -> std::result::Result<(Option<Expiration>, &[u8]), BackendError> {
        if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
            return Err(BackendError::decode("not a bincode cache file"));
        }
        let micros = i64::from_le_bytes(bytes[5..13].try_into().expect("8 bytes"));
        let expiration = match bytes[4] {
            0 => None,
            1 => Some(
                Expiration::from_timestamp_micros(micros)
                    .ok_or_else(|| BackendError::decode("expiration out of range"))?,
            ),
            f => return Err(BackendError::decode(format!("bad expiration flag {f}"))),
        };
        let len = u64::from_le_bytes(bytes[13..21].try_into().expect("8 bytes"));
        let value = &bytes[HEADER_LEN..];
        if value.len() as u64 != len {
            return Err(BackendError::decode(format!(
                "value is {} bytes, header says {len} (truncated?)",
                value.len()
            )));
        }
        Ok((expiration, value))
    }
}

impl Backend for Bincode {
    fn name(&self) -> &str {
        NAME
    }

    fn file_extension(&self) -> &str {
        EXTENSION
    }

    fn is_binary(&self) -> bool {
        true
    }

    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> std::result::Result<Option<ValueLocation>, BackendError> {
        let encoded = bincode::serde::encode_to_vec(value, bincode::config::standard())
            .map_err(BackendError::encode)?;
        out.extend_from_slice(MAGIC);
        out.push(u8::from(expiration.is_some()));
        let micros = expiration.map_or(0, |e| e.timestamp_micros());
        out.extend_from_slice(&micros.to_le_bytes());
        out.extend_from_slice(&(encoded.len() as u64).to_le_bytes());
        out.extend_from_slice(&encoded);
        Ok(Some(ValueLocation::Tree(Arc::new(BincodeValue(
            encoded.into(),
        )))))
    }

    fn decode(&self, bytes: &[u8]) -> std::result::Result<Decoded, BackendError> {
        let (expiration, value) = Self::split(bytes)?;
        Ok(Decoded::new(
            expiration,
            ValueLocation::Tree(Arc::new(BincodeValue(value.into()))),
        ))
    }

    fn may_begin_entry(&self, head: &[u8]) -> bool {
        MAGIC.starts_with(&head[..head.len().min(4)])
    }
}

/// A value's bincode bytes: bincode is not self-describing, so the value is decoded when the
/// caller names its type.
#[derive(Debug)]
struct BincodeValue(Arc<[u8]>);

impl ValueTree for BincodeValue {
    fn visit(&self, visit: &mut ValueVisitor<'_>) -> std::result::Result<(), erased_serde::Error> {
        let mut decoder = bincode::serde::BorrowedSerdeDecoder::from_slice(
            &self.0,
            bincode::config::standard(),
            (),
        );
        let mut de = <dyn erased_serde::Deserializer>::erase(decoder.as_deserializer());
        let visited = visit(&mut de);
        drop(de);
        visited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bincode_passes_the_host_validation() {
        bucketcache_core::validate::validate_backend(&Bincode, "test").unwrap();
    }

    #[test]
    fn a_value_round_trips_with_its_expiration() {
        let e = bucketcache_core::time::parse_expiration("2100-01-01T00:00:00.5");
        let b: &dyn Backend = &Bincode;
        let bytes = b.encode(&("x", vec![1u16, 2]), e).unwrap();
        assert_eq!(b.decode(&bytes).unwrap().expiration, e);
        let v: (String, Vec<u16>) = b.decode_value(&bytes).unwrap();
        assert_eq!(v, ("x".to_owned(), vec![1, 2]));
    }

    #[test]
    fn it_is_selectable_by_name_through_inventory() {
        let b = bucketcache_core::registry::backend(NAME, &serde_json::Value::Null).unwrap();
        assert_eq!(b.file_extension(), "bincode");
    }

    #[test]
    fn unknown_options_are_refused() {
        let err = bucketcache_core::registry::backend(NAME, &serde_json::json!({"fast": true}))
            .unwrap_err();
        assert!(err.to_string().contains("fast"), "{err}");
    }
}
