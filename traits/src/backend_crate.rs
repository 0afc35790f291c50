//! The one shape of a backend crate: constants, a config struct, `new(config)`, and one macro that
//! makes the registry factory, the `inventory` entry and `register()` from them.
//!
//! Every backend crate (the built-in json, msgpack and pickle, the bincode example, a
//! third-party format) looks the same, so knowing one means knowing all:
//!
//! ```
//! use bucketcache_traits::registration::BackendCrate;
//! use bucketcache_traits::{Backend, BackendError, Decoded, Expiration, ValueLocation};
//!
//! /// Options: a struct refusing unknown fields.
//! #[derive(Debug, Clone, Default, serde::Deserialize)]
//! #[serde(deny_unknown_fields, default)]
//! #[non_exhaustive]
//! pub struct LinesConfig {}
//!
//! #[derive(Debug)]
//! pub struct Lines;
//!
//! impl BackendCrate for Lines {
//!     const NAME: &'static str = "lines";
//!     const EXTENSION: &'static str = "lines";
//!     const PYTHON_CLASS_NAME: Option<&'static str> = None;
//!     type Config = LinesConfig;
//!     fn new(_: LinesConfig) -> bucketcache_traits::Result<Self> { Ok(Lines) }
//! }
//!
//! impl Backend for Lines {
//!     fn name(&self) -> &str { Self::NAME }
//!     fn file_extension(&self) -> &str { Self::EXTENSION }
//!     fn is_binary(&self) -> bool { false }
//!     fn dump(&self, value: &dyn erased_serde::Serialize, expiration: Option<Expiration>,
//!             out: &mut Vec<u8>) -> Result<Option<ValueLocation>, BackendError> {
//!         let e = expiration.map(|e| bucketcache_traits::time::format_expiration(&e));
//!         serde_json::to_writer(&mut *out, &e).map_err(BackendError::encode)?;
//!         out.push(b'\n');
//!         serde_json::to_writer(&mut *out, value).map_err(BackendError::encode)?;
//!         Ok(None)
//!     }
//!     fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
//!         let newline = bytes.iter().position(|b| *b == b'\n')
//!             .ok_or_else(|| BackendError::decode("one line only"))?;
//!         let e: Option<String> = serde_json::from_slice(&bytes[..newline])
//!             .map_err(BackendError::decode)?;
//!         let expiration = match e {
//!             None => None,
//!             Some(t) => Some(bucketcache_traits::time::parse_expiration(&t)
//!                 .ok_or_else(|| BackendError::decode("bad expiration"))?),
//!         };
//!         serde_json::from_slice::<serde::de::IgnoredAny>(&bytes[newline + 1..])
//!             .map_err(BackendError::decode)?;
//!         Ok(Decoded::new(expiration, ValueLocation::Json(newline + 1..bytes.len())))
//!     }
//! }
//!
//! // The factory, the `inventory` entry and `pub fn register()`:
//! bucketcache_traits::backend_crate!(Lines);
//!
//! register().unwrap(); // taken by the registry of bucketcache-core when it is first used
//! let b = bucketcache_traits::registration::factory::<Lines>(&serde_json::Value::Null).unwrap();
//! assert_eq!(b.file_extension(), "lines");
//! ```

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::backend::Backend;
use crate::error::Result;
use crate::registration::{options, BackendOptions};

/// What a backend crate declares (see the [module docs](mod@crate::backend_crate)).
pub trait BackendCrate: Backend + Sized + 'static {
    /// The registry name, lowercase `[a-z0-9_-]+`.
    const NAME: &'static str;
    /// The file extension without the dot.
    const EXTENSION: &'static str;
    /// The Python BucketCache class name, for formats shared with Python.
    const PYTHON_CLASS_NAME: Option<&'static str>;
    /// The options (`[backend_options.<name>]` in a config): `Default` gives the defaults, and
    /// unknown options must be refused (`#[serde(deny_unknown_fields)]`).
    type Config: DeserializeOwned + Default;
    /// The backend with these options; options out of range are a [`crate::Error::Config`].
    fn new(config: Self::Config) -> Result<Self>;
}

/// The registry factory of a [`BackendCrate`]: options → config → `new`.
pub fn factory<B: BackendCrate>(opts: &BackendOptions) -> Result<Arc<dyn Backend>> {
    let config = options::<B::Config>(B::NAME, opts)?;
    Ok(Arc::new(B::new(config)?))
}

/// Registers a [`BackendCrate`] type: submits it to `inventory` (so `backend("name")` finds it
/// in any program that links the crate) and defines `pub fn register()` for platforms where
/// `inventory` constructors do not run (harmless to call more than once).
#[macro_export]
macro_rules! backend_crate {
    ($backend:ty) => {
        $crate::inventory::submit! {
            $crate::registration::BackendRegistration {
                name: <$backend as $crate::registration::BackendCrate>::NAME,
                origin: env!("CARGO_PKG_NAME"),
                factory: $crate::registration::factory::<$backend>,
            }
        }

        /// Registers this crate's backend explicitly, for platforms where `inventory`
        /// constructors do not run. Harmless to call more than once.
        pub fn register() -> $crate::Result<()> {
            $crate::registration::register_backend_factory(
                <$backend as $crate::registration::BackendCrate>::NAME,
                env!("CARGO_PKG_NAME"),
                $crate::registration::factory::<$backend>,
            )
        }
    };
}
