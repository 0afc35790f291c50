//! Loading plugin libraries: the plugin path variable, `libloading`, and the checks of a
//! table's version, size and fields before it is wrapped as a backend.

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::abi::{self, PluginTable};
use crate::hosted::HostedPlugin;
use bucketcache_core::backend::Backend;
use bucketcache_core::registry::{register_backend_instance, BackendInfo, Origin};
use bucketcache_core::{Error, Result};

/// The environment variable listing plugin files and directories, separated like `PATH`
/// (`:` on Unix, `;` on Windows).
pub const PLUGIN_PATH_ENV: &str = "BUCKETCACHE_PLUGIN_PATH";

/// File extensions [`load_dir`] treats as plugin libraries.
pub const LIBRARY_EXTENSIONS: [&str; 3] = ["so", "dylib", "dll"];

fn loaded() -> &'static Mutex<BTreeMap<PathBuf, BackendInfo>> {
    static LOADED: OnceLock<Mutex<BTreeMap<PathBuf, BackendInfo>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

fn refuse(path: &Path, reason: impl Into<String>) -> Error {
    Error::Plugin {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Loads the plugin library at `path` and registers its backend; returns what the registry now
/// knows about it. Loading a file that is already loaded returns the same information and does
/// nothing else.
///
/// # Errors
/// [`Error::Plugin`] if the file does not exist, is not a loadable library, lacks the
/// entry point or has an incompatible or malformed table; [`Error::DuplicateName`] if its name is
/// taken; [`Error::BackendRefused`] if it fails the runtime validation. All name the file.
pub fn load(path: impl AsRef<Path>) -> Result<BackendInfo> {
    let given = path.as_ref();
    // Checking for a file first means the loader is never asked to search for a bare name.
    if !given.is_file() {
        return Err(refuse(given, "no such file"));
    }
    let canonical = given
        .canonicalize()
        .map_err(|e| refuse(given, format!("cannot resolve the path: {e}")))?;
    let mut done = loaded().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(info) = done.get(&canonical) {
        return Ok(info.clone());
    }
    tracing::debug!(plugin = %canonical.display(), "loading plugin");
    // SAFETY: loading a library runs its initialisers. The caller named this file explicitly as
    // a bucketcache plugin, which is the trust decision; the path is absolute so nothing is
    // searched.
    let library = unsafe { libloading::Library::new(&canonical) }
        .map_err(|e| refuse(given, format!("cannot be loaded as a library: {e}")))?;
    // The library is never unloaded: backends hand out pointers into it, and unloading Rust
    // libraries that used thread-locals (the panic machinery does) is unsound on some platforms.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    let mut symbol = abi::ENTRY_SYMBOL.as_bytes().to_vec();
    symbol.push(0);
    // SAFETY: the symbol's type is fixed by the ABI (`EntryFn`); a library that exports the
    // name with another type breaks the plugin contract it claims by exporting it.
    let entry: libloading::Symbol<'static, abi::EntryFn> = unsafe { library.get(&symbol) }
        .map_err(|e| {
            refuse(
                given,
                format!(
                    "missing symbol `{}`: not a bucketcache plugin ({e})",
                    abi::ENTRY_SYMBOL
                ),
            )
        })?;
    // SAFETY: calling the entry point as the ABI defines it: no arguments, returns a pointer.
    let table = unsafe { entry() };
    // SAFETY: the pointer comes from the plugin's entry point, which the ABI requires to return
    // null or a table that lives as long as the library (forever, since it is leaked above).
    let backend = unsafe { backend_from_table(table, given) }?;
    let origin = Origin::Plugin(canonical.clone());
    register_backend_instance(backend.clone(), origin.clone())?;
    let info = BackendInfo::describe(&*backend, origin);
    tracing::info!(plugin = %canonical.display(), backend = %info.name, "plugin loaded");
    done.insert(canonical, info.clone());
    Ok(info)
}

/// Loads every `*.so`, `*.dylib` and `*.dll` file directly in `dir`, in name order.
///
/// Every file is tried; if any fails, the first failure is returned (the others stay loaded).
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<BackendInfo>> {
    let dir = dir.as_ref();
    let entries = std::fs::read_dir(dir).map_err(|e| refuse(dir, format!("cannot list: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| refuse(dir, format!("cannot list: {e}")))?
            .path();
        let is_library = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| LIBRARY_EXTENSIONS.contains(&e));
        if is_library && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    load_all(files.iter().map(|f| load(f).map(|i| vec![i])))
}

fn load_all(results: impl Iterator<Item = Result<Vec<BackendInfo>>>) -> Result<Vec<BackendInfo>> {
    let mut infos = Vec::new();
    let mut first_error = None;
    for r in results {
        match r {
            Ok(i) => infos.extend(i),
            Err(e) => {
                tracing::error!("{e}");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(infos),
    }
}

/// Loads the plugins named by `BUCKETCACHE_PLUGIN_PATH`: each entry is a library file or a
/// directory (see [`load_dir`]). Empty entries are skipped: they do not mean the working
/// directory. An unset or empty variable loads nothing.
pub fn load_from_env() -> Result<Vec<BackendInfo>> {
    match std::env::var_os(PLUGIN_PATH_ENV) {
        None => Ok(Vec::new()),
        Some(value) => load_path_list(&value),
    }
}

/// Loads the plugins named by a list in `PATH` syntax, as [`load_from_env`] does with the
/// variable's value: each entry is a library file or a directory; empty entries are skipped.
/// Every entry is tried; the first failure is returned.
pub fn load_path_list(value: &std::ffi::OsStr) -> Result<Vec<BackendInfo>> {
    let entries: Vec<PathBuf> = std::env::split_paths(value)
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    load_all(entries.iter().map(|p| {
        if p.is_dir() {
            load_dir(p)
        } else {
            load(p).map(|i| vec![i])
        }
    }))
}

/// Wraps a plugin table as a backend after checking its version, size and fields — a null or
/// misaligned table, a null function or a null name or extension is refused — (not the runtime
/// validation: the registry does that). `origin` names the plugin in error messages.
///
/// This is how [`load`] wraps a library, and how the SDK's conformance kit tests a backend
/// through exactly the path the host uses.
///
/// # Safety
/// `table` must be null or point to memory that starts with an [`abi::TableHeader`] and, if the
/// header announces this ABI version and size, to a [`PluginTable`] that lives forever whose
/// strings and functions obey the contract documented in [`abi`].
pub unsafe fn backend_from_table(
    table: *const PluginTable,
    origin: &Path,
) -> Result<Arc<dyn Backend>> {
    if table.is_null() {
        return Err(refuse(
            origin,
            "the entry point returned no table (the plugin failed to initialise)",
        ));
    }
    if (table as usize) % std::mem::align_of::<PluginTable>() != 0 {
        return Err(refuse(
            origin,
            format!(
                "the entry point returned a misaligned table pointer ({table:p}; the table needs \
                 {}-byte alignment)",
                std::mem::align_of::<PluginTable>()
            ),
        ));
    }
    // SAFETY: the caller guarantees the pointer starts with a header, whatever the version.
    let header = unsafe { *(table as *const abi::TableHeader) };
    if header.abi_version != abi::ABI_VERSION {
        return Err(refuse(
            origin,
            format!(
                "ABI version {}, this host speaks {}",
                header.abi_version,
                abi::ABI_VERSION
            ),
        ));
    }
    let expected = std::mem::size_of::<PluginTable>();
    if header.struct_size as usize != expected {
        return Err(refuse(
            origin,
            format!(
                "table size mismatch: the plugin's table is {} bytes, ABI version {} has {expected}",
                header.struct_size,
                abi::ABI_VERSION
            ),
        ));
    }
    // SAFETY: version and size match, so the caller guarantees a whole, immortal table; every
    // bit pattern of its fields is a valid value (the functions are `Option`s, so a null one is
    // `None`, not undefined behaviour).
    let table: &'static PluginTable = unsafe { &*table };
    if table.reserved != 0 {
        return Err(refuse(origin, "the table's reserved field is not 0"));
    }
    let missing: Vec<&str> = [
        ("encode", table.encode.is_none()),
        ("decode", table.decode.is_none()),
        ("free", table.free.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, null)| null.then_some(name))
    .collect();
    let (Some(encode), Some(decode), Some(free)) = (table.encode, table.decode, table.free) else {
        return Err(refuse(
            origin,
            format!(
                "the table's {} function pointer{} null",
                missing.join(", "),
                if missing.len() == 1 { " is" } else { "s are" }
            ),
        ));
    };
    let binary = match table.binary {
        0 => false,
        1 => true,
        b => {
            return Err(refuse(
                origin,
                format!("binary flag is {b}, must be 0 or 1"),
            ))
        }
    };
    // SAFETY: the ABI requires these to be null or NUL-terminated strings that live forever.
    let name = unsafe { table_str(table.name) }.map_err(|e| refuse(origin, format!("name {e}")))?;
    // SAFETY: as above.
    let extension = unsafe { table_str(table.file_extension) }
        .map_err(|e| refuse(origin, format!("file extension {e}")))?;
    let python_class_name = if table.python_class_name.is_null() {
        None
    } else {
        // SAFETY: as above.
        Some(
            unsafe { table_str(table.python_class_name) }
                .map_err(|e| refuse(origin, format!("Python class name {e}")))?,
        )
    };
    if name.is_empty() || extension.is_empty() {
        return Err(refuse(origin, "name and file extension must not be empty"));
    }
    if !extension.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse(
            origin,
            format!("invalid file extension {extension:?}: it must match [A-Za-z0-9]+"),
        ));
    }
    Ok(Arc::new(HostedPlugin {
        context: table.context,
        encode,
        decode,
        free,
        name,
        extension,
        python_class_name,
        binary,
        path: origin.to_owned(),
    }))
}

/// Reads a NUL-terminated UTF-8 string of the table.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string that lives forever.
unsafe fn table_str(p: *const c_char) -> std::result::Result<String, String> {
    if p.is_null() {
        return Err("is a null pointer".into());
    }
    // SAFETY: non-null, and the caller guarantees NUL termination.
    let s = unsafe { CStr::from_ptr(p) };
    if s.to_bytes().len() > 256 {
        return Err("is longer than 256 bytes".into());
    }
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| "is not UTF-8".into())
}
