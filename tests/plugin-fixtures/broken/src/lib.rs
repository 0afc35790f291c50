//! Test fixture: a plugin whose defect is chosen by a cargo feature (one at a time).
//!
//! Without features it is a valid plugin named `faulty` that misbehaves at run time on request:
//! its `encode` panics on the value `"panic"` and its `decode` panics on a file holding
//! `"panic-on-load"`. The features make the host refuse it at load time:
//! `wrong-abi` (ABI version 2), `wrong-size` (a table size that does not match),
//! `missing-symbol` (no entry point), `bad-extension` (`c.bor`), `panicking-encode` (panics on
//! every encode, so it fails the probe).

use bucketcache_plugin_sdk::rmpv::{decode::read_value, encode::write_value};
use bucketcache_plugin_sdk::{Envelope, PluginBackend, Value};

/// The fixture backend.
#[derive(Default)]
pub struct Fixture;

const MAGIC: &[u8] = b"FX";

impl PluginBackend for Fixture {
    const NAME: &'static str = if cfg!(feature = "wrong-abi") {
        "broken-abi"
    } else if cfg!(feature = "wrong-size") {
        "broken-size"
    } else if cfg!(feature = "bad-extension") {
        "broken-extension"
    } else if cfg!(feature = "panicking-encode") {
        "broken-encode"
    } else {
        "faulty"
    };
    const EXTENSION: &'static str = if cfg!(feature = "bad-extension") {
        "c.bor"
    } else {
        "fx"
    };
    const BINARY: bool = true;

    fn encode(&self, envelope: &Envelope) -> Result<Vec<u8>, String> {
        if cfg!(feature = "panicking-encode") || envelope.value.as_str() == Some("panic") {
            panic!("the fixture's encode panics on purpose");
        }
        let micros = envelope
            .expiration
            .map_or(Value::Nil, |e| Value::from(e.and_utc().timestamp_micros()));
        let mut out = MAGIC.to_vec();
        write_value(
            &mut out,
            &Value::Array(vec![envelope.value.clone(), micros]),
        )
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Envelope, String> {
        let mut rest = bytes.strip_prefix(MAGIC).ok_or("not a fixture file")?;
        let item = read_value(&mut rest).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err("trailing bytes".into());
        }
        let Value::Array(mut parts) = item else {
            return Err("not an array".into());
        };
        if parts.len() != 2 {
            return Err("wrong length".into());
        }
        let micros = parts.pop().expect("two parts");
        let value = parts.pop().expect("two parts");
        if value.as_str() == Some("panic-on-load") {
            panic!("the fixture's decode panics on purpose");
        }
        let expiration = match micros {
            Value::Nil => None,
            m => {
                let m = m.as_i64().ok_or("bad expiration")?;
                let epoch = bucketcache_plugin_sdk::parse_expiration("1970-01-01").expect("date");
                let m = u64::try_from(m).map_err(|_| "expiration before 1970")?;
                Some(epoch + std::time::Duration::from_micros(m))
            }
        };
        Ok(Envelope { value, expiration })
    }
}

#[cfg(not(any(
    feature = "wrong-abi",
    feature = "wrong-size",
    feature = "missing-symbol"
)))]
bucketcache_plugin_sdk::export_backend!(Fixture);

/// An entry point announcing a table of another ABI version or size.
#[cfg(any(feature = "wrong-abi", feature = "wrong-size"))]
#[no_mangle]
pub extern "C" fn bucketcache_plugin_table() -> *const bucketcache_plugin_sdk::abi::PluginTable {
    use bucketcache_plugin_sdk::abi::PluginTable;
    static TABLE: std::sync::OnceLock<PluginTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let table = bucketcache_plugin_sdk::build_table(Box::leak(Box::new(Fixture)));
        if cfg!(feature = "wrong-abi") {
            PluginTable {
                abi_version: 2,
                ..table
            }
        } else {
            PluginTable {
                struct_size: table.struct_size + 8,
                ..table
            }
        }
    })
}

/// Something exported, but not the plugin entry point.
#[cfg(feature = "missing-symbol")]
#[no_mangle]
pub extern "C" fn not_a_bucketcache_plugin() -> u32 {
    42
}
