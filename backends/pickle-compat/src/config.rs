//! The pickle backend's configuration: the original's `PickleConfig`, where it means something
//! in Rust.

use serde::{Deserialize, Serialize};

/// Options of the `pickle` backend.
///
/// The original's `PickleConfig(protocol=2, fix_imports=True, encoding='ASCII', errors='strict')`:
/// only `protocol` changes what is written, and only protocols 2 (the default, byte-identical to
/// the original) and 3 (raw `bytes` opcodes, still readable by every Python 3) are offered.
/// Reading always accepts protocols 0 to 5, and decodes Python 2 `str` as strict ASCII, as the
/// original does.
///
/// ```
/// use bucketcache_pickle::PickleConfig;
/// let c: PickleConfig = serde_json::from_value(serde_json::json!({"protocol": 3})).unwrap();
/// assert_eq!(c.protocol, 3);
/// assert_eq!(PickleConfig::default().protocol, 2);
/// assert!(serde_json::from_value::<PickleConfig>(serde_json::json!({"protocl": 3})).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PickleConfig {
    /// The pickle protocol written: 2 (default, what the original writes) or 3.
    pub protocol: u8,
}

impl Default for PickleConfig {
    fn default() -> Self {
        PickleConfig::protocol(2)
    }
}

impl PickleConfig {
    /// The options with this protocol (checked by [`validate`](Self::validate)).
    pub fn protocol(protocol: u8) -> Self {
        PickleConfig { protocol }
    }

    /// Checks the options; a protocol other than 2 or 3 is refused with the reason.
    ///
    /// ```
    /// use bucketcache_pickle::PickleConfig;
    /// assert!(PickleConfig::protocol(4).validate().unwrap_err().contains("protocol 4"));
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        match self.protocol {
            2 | 3 => Ok(()),
            p => Err(format!(
                "pickle protocol {p} is not supported for writing: use 2 (what Python \
                 BucketCache writes, the default) or 3"
            )),
        }
    }
}
