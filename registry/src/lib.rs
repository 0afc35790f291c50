//! Backends and keymakers selectable by name.
//!
//! Crates register with `inventory` ([`BackendRegistration`], [`KeyMakerRegistration`]);
//! plugins and programs register at run time ([`register_backend_instance`],
//! [`register_backend_factory`]). Every backend is validated when it enters the registry
//! ([`validate_backend`]); a refused backend is logged and remembered, and a
//! lookup of its name reports why it was refused.
//!
//! Core names no format, no store and no crate: which crates are built in and which backend,
//! keymaker and store a bucket uses by default is declared by the distribution (the
//! `bucketcache` facade crate) as a [`Distribution`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once, OnceLock, RwLock};

use bucketcache_traits::registration::Pending;

use bucketcache_traits::backend::Backend;
use bucketcache_traits::keymaker::KeyMaker;
use bucketcache_traits::store::StoreRegistration;
use bucketcache_traits::validate::validate_backend;
use bucketcache_traits::{Error, Result};

pub mod stores;

pub use bucketcache_traits::backend_crate::{factory, BackendCrate};

pub use bucketcache_traits::registration::{
    options, BackendFactory, BackendOptions, BackendRegistration, KeyMakerFactory,
    KeyMakerRegistration,
};

/// What a distribution of bucketcache (the `bucketcache` facade crate, or a program that bundles
/// its own set of crates on top of core) declares: which crates are its own, which backend,
/// keymaker and store a bucket uses when none is named, and the stores it always offers.
///
/// Submitted with `inventory::submit!` (so that it holds before the first lookup) and, for
/// platforms where static constructors do not run, with [`declare_distribution`]. A program has
/// one distribution: declaring the same one again is a no-op, declaring another is an error.
///
/// ```
/// use bucketcache_registry::{self as registry, Distribution};
/// static MINE: Distribution = Distribution {
///     built_in_crates: &["bucketcache-json", "bucketcache-keymakers"],
///     default_backend: "json",
///     default_keymaker: "default",
///     default_store: "fs",
///     stores: &[bucketcache_fs::REGISTRATION],
/// };
/// registry::declare_distribution(&MINE).unwrap();
/// registry::declare_distribution(&MINE).unwrap();
/// assert_eq!(registry::default_backend().unwrap(), "json");
/// assert_eq!(registry::default_store().unwrap(), "fs");
/// assert!(registry::stores::stores().contains(&"fs".to_owned()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Distribution {
    /// Crates (their `CARGO_PKG_NAME`) whose backends are listed as [`Origin::BuiltIn`].
    pub built_in_crates: &'static [&'static str],
    /// The backend a bucket uses when none is named.
    pub default_backend: &'static str,
    /// The keymaker a bucket uses when none is named (unless it is Python-compatible, which
    /// uses `bucketcache_core::PYTHON_KEYMAKER`).
    pub default_keymaker: &'static str,
    /// The store a bucket uses when none is named (`fs` in `bucketcache`).
    pub default_store: &'static str,
    /// Stores registered with the distribution, whether or not the linker kept their own
    /// `inventory` submissions (the default store at least).
    pub stores: &'static [StoreRegistration],
}

/// Two declarations are the same when they say the same (the stores by name and origin: a
/// registration holds a function, compared by name instead).
impl PartialEq for Distribution {
    fn eq(&self, other: &Self) -> bool {
        let stores = |d: &Self| d.stores.iter().map(|s| (s.name, s.origin));
        self.built_in_crates == other.built_in_crates
            && self.default_backend == other.default_backend
            && self.default_keymaker == other.default_keymaker
            && self.default_store == other.default_store
            && stores(self).eq(stores(other))
    }
}

impl Eq for Distribution {}

inventory::collect!(Distribution);

/// The plugin host linked into the program: what `plugins = [...]` in a
/// `BucketConfig` (bucketcache-core) calls. Core holds no `unsafe` and no `libloading`: the
/// crate `bucketcache-plugin-host` submits this (the `bucketcache` facade links it).
///
/// ```
/// let e = bucketcache_registry::load_plugin("/no/such/plugin.so".as_ref()).unwrap_err();
/// assert!(e.to_string().contains("/no/such/plugin.so"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PluginHost {
    /// Loads the plugin library at a path and registers its backend.
    pub load: fn(&std::path::Path) -> Result<()>,
}

inventory::collect!(PluginHost);

/// Loads a plugin library through the linked [`PluginHost`].
///
/// # Errors
/// [`Error::Plugin`] naming the file when no host is linked, or whatever the host refuses.
pub fn load_plugin(path: &std::path::Path) -> Result<()> {
    match inventory::iter::<PluginHost>.into_iter().next() {
        Some(host) => (host.load)(path),
        None => Err(Error::Plugin {
            path: path.to_owned(),
            reason: "no plugin host is linked into this program (link the crate \
                     bucketcache-plugin-host; the bucketcache facade does)"
                .into(),
        }),
    }
}

/// Where a backend comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A crate the [`Distribution`] lists as its own.
    BuiltIn(String),
    /// A third-party crate linked into the program.
    Crate(String),
    /// A plugin library loaded at run time.
    Plugin(PathBuf),
    /// An instance registered by the program itself.
    Program,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn(c) => write!(f, "built in ({c})"),
            Origin::Crate(c) => write!(f, "crate {c}"),
            Origin::Plugin(p) => write!(f, "plugin {}", p.display()),
            Origin::Program => f.write_str("the program"),
        }
    }
}

/// What the registry knows about a backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackendInfo {
    /// Registry name.
    pub name: String,
    /// File extension.
    pub extension: String,
    /// Binary or text files.
    pub binary: bool,
    /// The Python class name used for Python-compatible naming.
    pub python_class_name: Option<String>,
    /// Where it comes from.
    pub origin: Origin,
}

impl BackendInfo {
    /// What the registry says about `backend` from `origin` (name, extension, Python class).
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// use bucketcache_registry::{BackendInfo, Origin};
    /// # bucketcache::install_default_backends()?;
    /// let json = bucketcache_registry::backend("json", &Default::default())?;
    /// let info = BackendInfo::describe(&*json, Origin::Program);
    /// assert_eq!(info.extension, "json");
    /// # Ok(()) }
    /// ```
    pub fn describe(backend: &dyn Backend, origin: Origin) -> BackendInfo {
        BackendInfo {
            name: backend.name().to_owned(),
            extension: backend.file_extension().to_owned(),
            binary: backend.is_binary(),
            python_class_name: backend.python_class_name().map(str::to_owned),
            origin,
        }
    }
}

#[derive(Clone)]
enum Factory {
    Fn(BackendFactory),
    Instance(Arc<dyn Backend>),
}

struct BackendEntry {
    info: BackendInfo,
    factory: Factory,
}

struct KeyMakerEntry {
    origin: String,
    factory: fn() -> Arc<dyn KeyMaker>,
}

#[derive(Default)]
struct Registry {
    backends: BTreeMap<String, BackendEntry>,
    keymakers: BTreeMap<String, KeyMakerEntry>,
    refused: Vec<String>,
    distribution: Option<&'static Distribution>,
}

fn global() -> &'static RwLock<Registry> {
    ensure_registrar();
    static GLOBAL: OnceLock<RwLock<Registry>> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let mut reg = Registry::default();
        // First, so that the backends below get their origin right.
        for d in inventory::iter::<Distribution> {
            if let Err(e) = reg.declare(d) {
                tracing::error!("{e}");
                reg.refused.push(e.to_string());
            }
        }
        for r in inventory::iter::<BackendRegistration> {
            let origin = reg.origin_of(r.origin);
            if let Err(e) = reg.add_factory(r.name, origin, r.factory) {
                tracing::error!("{e}");
                reg.refused.push(e.to_string());
            }
        }
        for r in inventory::iter::<KeyMakerRegistration> {
            if let Err(e) = reg.add_keymaker(r.name, r.origin, r.factory) {
                tracing::error!("{e}");
                reg.refused.push(e.to_string());
            }
        }
        RwLock::new(reg)
    })
}

/// Installs this registry as where the explicit registrations of crates that depend on
/// bucketcache-traits only go (`register()` of a backend, keymaker or store crate), and applies
/// those made before it was used. Called before every use of a registry.
fn ensure_registrar() {
    static ONCE: Once = Once::new();
    static EARLY: Mutex<Vec<Pending>> = Mutex::new(Vec::new());
    ONCE.call_once(|| {
        let early = bucketcache_traits::registration::install_registrar(apply);
        *EARLY.lock().unwrap_or_else(|p| p.into_inner()) = early;
    });
    let early = std::mem::take(&mut *EARLY.lock().unwrap_or_else(|p| p.into_inner()));
    for registration in early {
        let what = format!("{registration:?}");
        let backend = matches!(registration, Pending::Backend { .. });
        if let Err(e) = apply(registration) {
            // Made before any registry was there to answer: kept like a refused `inventory`
            // submission (a lookup of the name says why).
            tracing::warn!(registration = %what, error = %e, "an explicit registration was refused");
            if backend {
                write().refused.push(e.to_string());
            }
        }
    }
}

/// Where the explicit registrations of bucketcache-traits go.
fn apply(registration: Pending) -> Result<()> {
    match registration {
        Pending::Backend {
            name,
            origin,
            factory,
        } => register_backend_factory(&name, &origin, factory),
        Pending::KeyMaker {
            name,
            origin,
            factory,
        } => register_keymaker(&name, &origin, factory),
        Pending::Store {
            name,
            schemes,
            origin,
            factory,
        } => {
            let schemes: Vec<&str> = schemes.iter().map(String::as_str).collect();
            stores::register_store(&name, &schemes, &origin, factory)
        }
        _ => Ok(()),
    }
}

fn read() -> std::sync::RwLockReadGuard<'static, Registry> {
    global().read().unwrap_or_else(|p| p.into_inner())
}

fn write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    global().write().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    fn declare(&mut self, d: &'static Distribution) -> Result<()> {
        match self.distribution {
            Some(existing) if existing == d => return Ok(()),
            Some(existing) => {
                return Err(Error::Config(format!(
                    "a second distribution is declared ({d:?}); this program's is {existing:?}"
                )))
            }
            None => self.distribution = Some(d),
        }
        // Backends registered before the declaration (it may come late, without `inventory`)
        // are relabelled, so that their origin does not depend on the order of the calls.
        for e in self.backends.values_mut() {
            if let Origin::Crate(c) = &e.info.origin {
                if d.built_in_crates.contains(&c.as_str()) {
                    e.info.origin = Origin::BuiltIn(c.clone());
                }
            }
        }
        Ok(())
    }

    /// The origin of a backend submitted by the crate `name`.
    fn origin_of(&self, name: &str) -> Origin {
        if self
            .distribution
            .is_some_and(|d| d.built_in_crates.contains(&name))
        {
            Origin::BuiltIn(name.to_owned())
        } else {
            Origin::Crate(name.to_owned())
        }
    }

    fn check_free(&self, name: &str, origin: &Origin) -> Result<bool> {
        match self.backends.get(name) {
            None => Ok(true),
            // The same crate registering twice (inventory plus install_default_backends) is fine.
            Some(e) if e.info.origin == *origin && !matches!(origin, Origin::Plugin(_)) => {
                Ok(false)
            }
            Some(e) => Err(Error::DuplicateName {
                kind: "backend",
                name: name.to_owned(),
                origin: origin.to_string(),
                existing: e.info.origin.to_string(),
            }),
        }
    }

    fn add_factory(&mut self, name: &str, origin: Origin, factory: BackendFactory) -> Result<()> {
        if !self.check_free(name, &origin)? {
            return Ok(());
        }
        let backend = factory(&serde_json::Value::Null).map_err(|e| Error::BackendRefused {
            name: name.to_owned(),
            origin: origin.to_string(),
            rule: format!("its default configuration does not build: {e}"),
        })?;
        let info = self.admit(name, &origin, &*backend)?;
        self.backends.insert(
            name.to_owned(),
            BackendEntry {
                info,
                factory: Factory::Fn(factory),
            },
        );
        Ok(())
    }

    fn add_instance(&mut self, backend: Arc<dyn Backend>, origin: Origin) -> Result<()> {
        let name = backend.name().to_owned();
        if !self.check_free(&name, &origin)? {
            return Ok(());
        }
        let info = self.admit(&name, &origin, &*backend)?;
        self.backends.insert(
            name,
            BackendEntry {
                info,
                factory: Factory::Instance(backend),
            },
        );
        Ok(())
    }

    fn admit(&self, name: &str, origin: &Origin, backend: &dyn Backend) -> Result<BackendInfo> {
        if backend.name() != name {
            return Err(Error::BackendRefused {
                name: name.to_owned(),
                origin: origin.to_string(),
                rule: format!(
                    "it is registered as {name:?} but calls itself {:?}",
                    backend.name()
                ),
            });
        }
        // An extension belongs to one backend: two formats writing one file name would read and
        // delete each other's entries.
        let ext = backend.file_extension();
        if let Some(owner) = self
            .backends
            .values()
            .find(|e| e.info.extension == ext && e.info.name != name)
        {
            return Err(Error::BackendRefused {
                name: name.to_owned(),
                origin: origin.to_string(),
                rule: format!(
                    "its extension .{ext} already belongs to backend {:?} from {}",
                    owner.info.name, owner.info.origin
                ),
            });
        }
        validate_backend(backend, &origin.to_string())?;
        Ok(BackendInfo {
            name: name.to_owned(),
            extension: backend.file_extension().to_owned(),
            binary: backend.is_binary(),
            python_class_name: backend.python_class_name().map(str::to_owned),
            origin: origin.clone(),
        })
    }

    fn add_keymaker(
        &mut self,
        name: &str,
        origin: &str,
        factory: fn() -> Arc<dyn KeyMaker>,
    ) -> Result<()> {
        if let Some(e) = self.keymakers.get(name) {
            if e.origin == origin {
                return Ok(());
            }
            return Err(Error::DuplicateName {
                kind: "keymaker",
                name: name.to_owned(),
                origin: origin.to_owned(),
                existing: e.origin.clone(),
            });
        }
        self.keymakers.insert(
            name.to_owned(),
            KeyMakerEntry {
                origin: origin.to_owned(),
                factory,
            },
        );
        Ok(())
    }

    fn known_backends(&self) -> String {
        let mut known = self.backends.keys().cloned().collect::<Vec<_>>().join(", ");
        if known.is_empty() {
            known.push_str("(none)");
        }
        for r in &self.refused {
            known.push_str(&format!("; refused: {r}"));
        }
        known
    }
}

/// Builds the backend registered as `name` with `options` (`null` for its defaults).
///
/// ```
/// use bucketcache_registry as registry;
/// let err = registry::backend("no-such-format", &serde_json::Value::Null).unwrap_err();
/// assert!(err.to_string().contains("unknown backend \"no-such-format\""));
/// ```
pub fn backend(name: &str, options: &BackendOptions) -> Result<Arc<dyn Backend>> {
    let factory = {
        let reg = read();
        match reg.backends.get(name) {
            Some(e) => e.factory.clone(),
            None => {
                return Err(Error::UnknownBackend {
                    name: name.to_owned(),
                    known: reg.known_backends(),
                })
            }
        }
    };
    match factory {
        Factory::Fn(f) => f(options),
        Factory::Instance(b) => {
            if options.is_null() || options.as_object().is_some_and(|o| o.is_empty()) {
                Ok(b)
            } else {
                Err(Error::Config(format!(
                    "backend {name:?} takes no options, got {options}"
                )))
            }
        }
    }
}

/// Every registered backend, sorted by name.
pub fn backends() -> Vec<BackendInfo> {
    read().backends.values().map(|e| e.info.clone()).collect()
}

/// The reasons backends submitted through `inventory` were refused.
pub fn refused() -> Vec<String> {
    read().refused.clone()
}

/// Registers a backend factory under `name` (validating its default configuration). Registering
/// the same name again from the same origin is a no-op.
pub fn register_backend_factory(name: &str, origin: &str, factory: BackendFactory) -> Result<()> {
    let mut reg = write();
    let origin = reg.origin_of(origin);
    reg.add_factory(name, origin, factory)
}

/// Registers a ready-made backend (e.g. one loaded from a plugin), after validating it.
pub fn register_backend_instance(backend: Arc<dyn Backend>, origin: Origin) -> Result<()> {
    write().add_instance(backend, origin)
}

/// Declares the program's [`Distribution`] (also done through `inventory`); calling it again
/// with the same one is harmless.
pub fn declare_distribution(distribution: &'static Distribution) -> Result<()> {
    write().declare(distribution)?;
    // After the registry's lock is released: the stores' table reads the declarations too.
    for r in distribution.stores {
        stores::register_store(r.name, r.schemes, r.origin, r.factory)?;
    }
    Ok(())
}

/// The backend a bucket uses when none is named, as the [`Distribution`] declares it.
pub fn default_backend() -> Result<&'static str> {
    read()
        .distribution
        .map(|d| d.default_backend)
        .ok_or_else(|| no_default("backend"))
}

/// The store a bucket uses when none is named, as the [`Distribution`] declares it.
pub fn default_store() -> Result<&'static str> {
    read()
        .distribution
        .map(|d| d.default_store)
        .ok_or_else(|| no_default("store"))
}

/// The keymaker a bucket uses when none is named, as the [`Distribution`] declares it.
pub fn default_keymaker() -> Result<&'static str> {
    read()
        .distribution
        .map(|d| d.default_keymaker)
        .ok_or_else(|| no_default("keymaker"))
}

fn no_default(kind: &str) -> Error {
    Error::Config(format!(
        "no {kind} is named and no default is declared: name one, or link a distribution such \
         as the `bucketcache` crate (registry::Distribution)"
    ))
}

/// Builds the keymaker registered as `name`.
pub fn keymaker(name: &str) -> Result<Arc<dyn KeyMaker>> {
    let reg = read();
    match reg.keymakers.get(name) {
        Some(e) => Ok((e.factory)()),
        None => {
            let known = reg.keymakers.keys().cloned().collect::<Vec<_>>().join(", ");
            Err(Error::UnknownKeyMaker {
                name: name.to_owned(),
                known: if known.is_empty() {
                    "(none)".into()
                } else {
                    known
                },
            })
        }
    }
}

/// The crate that registered the keymaker `name`.
pub fn keymaker_origin(name: &str) -> Option<String> {
    read().keymakers.get(name).map(|e| e.origin.clone())
}

/// Names of every registered keymaker.
pub fn keymakers() -> Vec<String> {
    read().keymakers.keys().cloned().collect()
}

/// Registers a keymaker factory under `name`.
pub fn register_keymaker(
    name: &str,
    origin: &str,
    factory: fn() -> Arc<dyn KeyMaker>,
) -> Result<()> {
    write().add_keymaker(name, origin, factory)
}

/// The digest lengths (hex digits) of every registered keymaker: what tells an entry's name from
/// a foreign one. `{32, 64}` with the built-in keymakers.
pub fn digest_lengths() -> std::collections::BTreeSet<usize> {
    let factories: Vec<_> = read().keymakers.values().map(|e| e.factory).collect();
    factories.into_iter().map(|f| f().digest_len()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    static OURS: Distribution = Distribution {
        built_in_crates: &["ours"],
        default_backend: "fmt",
        default_keymaker: "km",
        default_store: "place",
        stores: &[],
    };

    fn refusing(_: &BackendOptions) -> Result<Arc<dyn Backend>> {
        Err(Error::Config("not built in these tests".into()))
    }

    fn entry(name: &str, origin: Origin) -> BackendEntry {
        BackendEntry {
            info: BackendInfo {
                name: name.to_owned(),
                extension: name.to_owned(),
                binary: false,
                python_class_name: None,
                origin,
            },
            factory: Factory::Fn(refusing),
        }
    }

    #[test]
    fn built_in_is_what_the_distribution_says_even_when_it_comes_late() {
        let mut reg = Registry::default();
        assert_eq!(reg.origin_of("ours"), Origin::Crate("ours".into()));
        // Registered before the declaration, as without `inventory`.
        reg.backends
            .insert("a".into(), entry("a", Origin::Crate("ours".into())));
        reg.backends
            .insert("b".into(), entry("b", Origin::Crate("theirs".into())));
        reg.declare(&OURS).unwrap();
        assert_eq!(
            reg.backends["a"].info.origin,
            Origin::BuiltIn("ours".into())
        );
        assert_eq!(
            reg.backends["b"].info.origin,
            Origin::Crate("theirs".into())
        );
        assert_eq!(reg.origin_of("ours"), Origin::BuiltIn("ours".into()));
        assert_eq!(reg.origin_of("theirs"), Origin::Crate("theirs".into()));
    }

    #[test]
    fn one_distribution_per_program() {
        static OTHER: Distribution = Distribution {
            built_in_crates: &["ours"],
            default_backend: "other",
            default_keymaker: "km",
            default_store: "place",
            stores: &[],
        };
        let mut reg = Registry::default();
        reg.declare(&OURS).unwrap();
        // The same declaration again (inventory, then the explicit call) is fine.
        let copy: &'static Distribution = Box::leak(Box::new(OURS));
        reg.declare(copy).unwrap();
        let err = reg.declare(&OTHER).unwrap_err().to_string();
        assert!(err.contains("a second distribution"), "{err}");
        assert_eq!(reg.distribution.map(|d| d.default_backend), Some("fmt"));
    }
}
