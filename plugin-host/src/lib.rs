//! The plugin host: backends loaded at run time from shared libraries.
//!
//! A plugin is a `cdylib` (or any shared library) exporting one function,
//! [`abi::ENTRY_SYMBOL`] (`bucketcache_plugin_table`), that returns a pointer to an
//! [`abi::PluginTable`]. Values cross the boundary as MessagePack bytes, never as Rust types, and
//! each side frees its own memory. Plugin authors use the `bucketcache-plugin-sdk` crate, whose
//! `export_backend!` macro writes the table; the C header `bucketcache_plugin.h` of that crate
//! describes it for other languages.
//!
//! Loading is always explicit: [`load`](fn@load) a file, [`load_dir`] a directory, or
//! [`load_from_env`] the files and directories named by `BUCKETCACHE_PLUGIN_PATH`;
//! `plugins = [...]` in a `BucketConfig` (crate bucketcache-config) calls [`load`](fn@load). Nothing
//! is searched for: a relative path is relative to the working directory because the caller gave
//! it, never because the host looked there. A loaded library is never unloaded, and loading the
//! same file twice is a no-op.
//!
//! Every check the host makes is a typed error naming the file and the reason: the symbol is
//! missing, the ABI version or table size differ, a field is malformed, the name is taken
//! ([`Error::DuplicateName`](bucketcache_core::Error::DuplicateName)) or the backend fails the runtime
//! validation ([`Error::BackendRefused`](bucketcache_core::Error::BackendRefused), see [`bucketcache_core::validate`]).
//!
//! ```
//! let err = bucketcache_plugin_host::load("/no/such/plugin.so").unwrap_err();
//! assert!(err.to_string().contains("/no/such/plugin.so"));
//! ```

pub mod abi;
mod hosted;
mod load;

pub use load::{
    backend_from_table, load, load_dir, load_from_env, load_path_list, LIBRARY_EXTENSIONS,
    PLUGIN_PATH_ENV,
};

#[cfg(test)]
mod tests;

/// What `plugins = [...]` in a `BucketConfig` calls: core knows the host only through this
/// registration, so that core holds no `unsafe` and no `libloading`.
fn load_for_config(path: &std::path::Path) -> bucketcache_core::Result<()> {
    load(path).map(|_| ())
}

bucketcache_core::inventory::submit! {
    bucketcache_core::registry::PluginHost { load: load_for_config }
}
