//! How backend, keymaker and store crates register by name, without depending on the bucket
//! engine: the entries they submit through `inventory` ([`BackendRegistration`],
//! [`KeyMakerRegistration`], [`StoreRegistration`]) and the explicit calls for platforms where
//! `inventory` constructors do not run ([`register_backend_factory`], [`register_keymaker`],
//! [`register_store`]).
//!
//! The registry itself (the names in use, validation, the plugin host) lives in
//! bucketcache-core. An explicit registration made before core's registry is first used waits
//! here and is applied (validated, checked for duplicates) when it is; after that, the calls go
//! straight to the registry and report its answer.

use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;

use crate::backend::Backend;
pub use crate::backend_crate::{factory, BackendCrate};
use crate::error::{Error, Result};
use crate::keymaker::KeyMaker;
pub use crate::store::{StoreFactory, StoreOptions, StoreRegistration};

/// Options given to a backend factory: `null` for the defaults, or a JSON object (converted from
/// TOML when the configuration is TOML).
pub type BackendOptions = serde_json::Value;

/// Builds a backend from its options.
pub type BackendFactory = fn(&BackendOptions) -> Result<Arc<dyn Backend>>;

/// Builds a keymaker.
pub type KeyMakerFactory = fn() -> Arc<dyn KeyMaker>;

/// A backend crate's entry in the registry, submitted with `inventory::submit!`.
///
/// ```
/// # use std::sync::Arc;
/// # use bucketcache_traits::registration::{BackendRegistration, BackendOptions};
/// # use bucketcache_traits::{Backend, Result};
/// # fn factory(_: &BackendOptions) -> Result<Arc<dyn Backend>> {
/// #     Err(bucketcache_traits::Error::Config("this example registers no real format".into()))
/// # }
/// inventory::submit! {
///     BackendRegistration { name: "myformat", origin: env!("CARGO_PKG_NAME"), factory }
/// }
/// ```
#[derive(Debug)]
pub struct BackendRegistration {
    /// The registry name, equal to the backend's `name()`.
    pub name: &'static str,
    /// The crate that submits it (`env!("CARGO_PKG_NAME")`).
    pub origin: &'static str,
    /// Builds the backend from options.
    pub factory: BackendFactory,
}

inventory::collect!(BackendRegistration);

/// A keymaker crate's entry in the registry, submitted with `inventory::submit!`.
#[derive(Debug)]
pub struct KeyMakerRegistration {
    /// The registry name, equal to the keymaker's `name()`.
    pub name: &'static str,
    /// The crate that submits it.
    pub origin: &'static str,
    /// Builds the keymaker.
    pub factory: KeyMakerFactory,
}

inventory::collect!(KeyMakerRegistration);

/// Reads a backend's typed options from [`BackendOptions`]; `null` gives `T::default()`. Unknown
/// option names are refused (the config struct must use `#[serde(deny_unknown_fields)]`), and the
/// error names the backend and the option.
///
/// ```
/// #[derive(Default, serde::Deserialize)]
/// #[serde(deny_unknown_fields, default)]
/// struct Opts { indent: Option<usize> }
/// let bad = serde_json::json!({"indnet": 2});
/// let err = bucketcache_traits::registration::options::<Opts>("json", &bad).err().unwrap();
/// assert!(err.to_string().contains("indnet"));
/// ```
pub fn options<T: DeserializeOwned + Default>(
    backend: &str,
    options: &BackendOptions,
) -> Result<T> {
    if options.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(options.clone())
        .map_err(|e| Error::Config(format!("options of backend {backend:?}: {e}")))
}

/// An explicit registration, as made before the registry was there to take it.
#[doc(hidden)]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pending {
    /// [`register_backend_factory`].
    Backend {
        /// The name.
        name: String,
        /// The crate.
        origin: String,
        /// The factory.
        factory: BackendFactory,
    },
    /// [`register_keymaker`].
    KeyMaker {
        /// The name.
        name: String,
        /// The crate.
        origin: String,
        /// The factory.
        factory: KeyMakerFactory,
    },
    /// [`register_store`].
    Store {
        /// The name.
        name: String,
        /// The URL schemes.
        schemes: Vec<String>,
        /// The crate.
        origin: String,
        /// The factory.
        factory: StoreFactory,
    },
}

/// Where explicit registrations go once the registry is there: bucketcache-core installs it.
#[doc(hidden)]
pub type Registrar = fn(Pending) -> Result<()>;

static REGISTRAR: OnceLock<Registrar> = OnceLock::new();
static PENDING: Mutex<Vec<Pending>> = Mutex::new(Vec::new());

/// Installs the registry's entry point (done once by bucketcache-core) and returns the
/// registrations made before it, for the registry to apply.
#[doc(hidden)]
pub fn install_registrar(registrar: Registrar) -> Vec<Pending> {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    let _ = REGISTRAR.set(registrar);
    std::mem::take(&mut *pending)
}

fn submit(registration: Pending) -> Result<()> {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    match REGISTRAR.get() {
        Some(registrar) => {
            drop(pending);
            registrar(registration)
        }
        None => {
            pending.push(registration);
            Ok(())
        }
    }
}

/// Registers a backend factory under `name` (the registry validates its default
/// configuration). Registering the same name again from the same origin is a no-op; another
/// origin is refused.
pub fn register_backend_factory(name: &str, origin: &str, factory: BackendFactory) -> Result<()> {
    submit(Pending::Backend {
        name: name.to_owned(),
        origin: origin.to_owned(),
        factory,
    })
}

/// Registers a keymaker under `name`. Registering the same name again from the same origin is
/// a no-op; another origin is refused.
pub fn register_keymaker(name: &str, origin: &str, factory: KeyMakerFactory) -> Result<()> {
    submit(Pending::KeyMaker {
        name: name.to_owned(),
        origin: origin.to_owned(),
        factory,
    })
}

/// Registers a store (for platforms where `inventory` does not run, or a program's own store).
/// The same origin registering a name twice is harmless; another origin is refused.
pub fn register_store(
    name: &str,
    schemes: &[&str],
    origin: &str,
    factory: StoreFactory,
) -> Result<()> {
    submit(Pending::Store {
        name: name.to_owned(),
        schemes: schemes.iter().map(|s| s.to_string()).collect(),
        origin: origin.to_owned(),
        factory,
    })
}
