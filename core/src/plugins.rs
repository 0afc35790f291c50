//! The plugin host: backends loaded at run time from shared libraries.
//!
//! A plugin is a `cdylib` (or any shared library) exporting one function,
//! [`abi::ENTRY_SYMBOL`] (`bucketcache_plugin_table`), that returns a pointer to an
//! [`abi::PluginTable`]. Values cross the boundary as MessagePack bytes, never as Rust types, and
//! each side frees its own memory. Plugin authors use the `bucketcache-plugin-sdk` crate, whose
//! `export_backend!` macro writes the table; the C header `bucketcache_plugin.h` of that crate
//! describes it for other languages.
//!
//! Loading is always explicit: [`load`] a file, [`load_dir`] a directory, or [`load_from_env`]
//! the files and directories named by `BUCKETCACHE_PLUGIN_PATH`; `plugins = [...]` in a
//! [`BucketConfig`](crate::BucketConfig) calls [`load`]. Nothing is searched for: a relative path
//! is relative to the working directory because the caller gave it, never because the host
//! looked there. A loaded library is never unloaded, and loading the same file twice is a no-op.
//!
//! Every check the host makes is a typed error naming the file and the reason: the symbol is
//! missing, the ABI version or table size differ, a field is malformed, the name is taken
//! ([`Error::DuplicateName`]) or the backend fails the runtime validation
//! ([`Error::BackendRefused`], see [`crate::validate`]).
//!
//! ```
//! let err = bucketcache_core::plugins::load("/no/such/plugin.so").unwrap_err();
//! assert!(err.to_string().contains("/no/such/plugin.so"));
//! ```

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;

use crate::backend::{Backend, BackendError, Decoded, StoredValue};
use crate::error::{Error, Result};
use crate::registry::{register_backend_instance, BackendInfo, Origin};
use crate::time::Expiration;

pub mod abi {
    //! The C ABI between the host and a plugin, version [`ABI_VERSION`].
    //!
    //! Layout rules: every type is `#[repr(C)]` with no implicit padding on 64-bit targets, and
    //! the first two fields of [`PluginTable`] (`abi_version`, `struct_size`) stay first in every
    //! future version so that a host can always read them and refuse politely.
    //!
    //! Memory rules: the host's input buffers are borrowed for the duration of one call. Every
    //! [`Buffer`] a plugin writes into an out-parameter (a result or an error message) is owned
    //! by the plugin and is handed back to its `free` function exactly once by the host.
    //!
    //! Threading rules: `encode`, `decode` and `free` may be called from several threads at once.

    use std::ffi::{c_char, c_void};

    use crate::time::Expiration;

    /// The ABI version this host speaks and the SDK writes.
    pub const ABI_VERSION: u32 = 1;

    /// The name of the function a plugin exports: `const PluginTable *bucketcache_plugin_table(void)`.
    /// It must return the same pointer every time (or null if the plugin cannot initialise).
    pub const ENTRY_SYMBOL: &str = "bucketcache_plugin_table";

    /// Status returned by `encode`/`decode`: success, the out buffer holds the result.
    pub const STATUS_OK: i32 = 0;
    /// Status: the input cannot be encoded/decoded; the out buffer holds a UTF-8 message.
    pub const STATUS_ERROR: i32 = 1;
    /// Status: the plugin caught a panic (or an internal fault); the out buffer holds a UTF-8
    /// message.
    pub const STATUS_PANIC: i32 = 2;

    /// The entry point's type.
    pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

    /// `encode(context, value, value_len, expiration, out)`: encodes the envelope whose value is
    /// the MessagePack item `value[..value_len]` and whose expiration is `*expiration` into a
    /// file's bytes, written to `*out`. Returns a `STATUS_*` code.
    pub type EncodeFn = unsafe extern "C" fn(
        context: *const c_void,
        value: *const u8,
        value_len: usize,
        expiration: *const ExpirationC,
        out: *mut Buffer,
    ) -> i32;

    /// `decode(context, bytes, len, value_out, expiration_out)`: decodes a file's bytes; on
    /// success `*value_out` holds the value as one MessagePack item and `*expiration_out` the
    /// expiration. On failure `*value_out` holds the message. Returns a `STATUS_*` code. Every
    /// malformed or truncated input must be a failure.
    pub type DecodeFn = unsafe extern "C" fn(
        context: *const c_void,
        bytes: *const u8,
        len: usize,
        value_out: *mut Buffer,
        expiration_out: *mut ExpirationC,
    ) -> i32;

    /// `free(context, buffer)`: releases a buffer the plugin wrote into an out-parameter.
    pub type FreeFn = unsafe extern "C" fn(context: *const c_void, buffer: Buffer);

    /// A byte buffer allocated by the plugin. `cap` is the plugin's own bookkeeping (a Rust
    /// plugin stores its `Vec` capacity there); the host only passes it back to `free`.
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct Buffer {
        /// Start of the bytes; may be null when `len` is 0.
        pub ptr: *mut u8,
        /// Number of bytes.
        pub len: usize,
        /// Plugin-private (allocation capacity for Rust plugins).
        pub cap: usize,
    }

    impl Buffer {
        /// An empty buffer (null pointer, no bytes): the initial value of every out-parameter.
        pub const EMPTY: Buffer = Buffer {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        };
    }

    /// An optional expiration: naive UTC microseconds since 1970-01-01T00:00:00.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ExpirationC {
        /// Microseconds since the Unix epoch, naive UTC; meaningful only if `present` is 1.
        pub micros: i64,
        /// 1 if there is an expiration, 0 if the entry never expires.
        pub present: u32,
        /// Must be 0.
        pub reserved: u32,
    }

    impl ExpirationC {
        /// No expiration.
        pub const NONE: ExpirationC = ExpirationC {
            micros: 0,
            present: 0,
            reserved: 0,
        };

        /// Converts an expiration for the ABI (sub-microsecond precision is dropped).
        pub fn from_expiration(e: Option<Expiration>) -> ExpirationC {
            match e {
                None => ExpirationC::NONE,
                Some(e) => ExpirationC {
                    micros: e.and_utc().timestamp_micros(),
                    present: 1,
                    reserved: 0,
                },
            }
        }

        /// Converts back; an out-of-range date or a `present` other than 0/1 is an error.
        pub fn to_expiration(self) -> Result<Option<Expiration>, String> {
            match self.present {
                0 => Ok(None),
                1 => chrono::DateTime::from_timestamp_micros(self.micros)
                    .map(|d| Some(d.naive_utc()))
                    .ok_or_else(|| format!("expiration {} µs is out of range", self.micros)),
                p => Err(format!("expiration flag is {p}, must be 0 or 1")),
            }
        }
    }

    /// The table a plugin exports, ABI version 1.
    ///
    /// The strings are NUL-terminated UTF-8 and live as long as the library.
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct PluginTable {
        /// [`ABI_VERSION`] the plugin was built for. Always the first field.
        pub abi_version: u32,
        /// `sizeof(PluginTable)` as the plugin sees it. Always the second field.
        pub struct_size: u32,
        /// 1 if the files are binary, 0 if they are text.
        pub binary: u32,
        /// Must be 0.
        pub reserved: u32,
        /// The registry name, lowercase `[a-z0-9_-]+`.
        pub name: *const c_char,
        /// The file extension without the dot, `[A-Za-z0-9]+`.
        pub file_extension: *const c_char,
        /// The Python class name for Python-compatible file naming, or null.
        pub python_class_name: *const c_char,
        /// Opaque pointer handed back to every function (a Rust plugin's backend instance).
        pub context: *const c_void,
        /// Encodes an envelope.
        pub encode: EncodeFn,
        /// Decodes an envelope.
        pub decode: DecodeFn,
        /// Frees a buffer the plugin returned.
        pub free: FreeFn,
    }

    // SAFETY: a table is immutable once built; its strings are read-only and live as long as the
    // library, and the ABI requires its functions to be callable from any thread with `context`.
    unsafe impl Sync for PluginTable {}
    // SAFETY: as above; moving the table between threads moves only pointers to shared data.
    unsafe impl Send for PluginTable {}

    /// The leading fields every version of the table starts with.
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct TableHeader {
        /// The plugin's ABI version.
        pub abi_version: u32,
        /// The plugin's table size.
        pub struct_size: u32,
    }
}

use abi::{Buffer, ExpirationC, PluginTable};

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
    let info = BackendInfo {
        name: backend.name().to_owned(),
        extension: backend.file_extension().to_owned(),
        binary: backend.is_binary(),
        python_class_name: backend.python_class_name().map(str::to_owned),
        origin,
    };
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

/// Wraps a plugin table as a backend after checking its version, size and fields (not the
/// runtime validation: the registry does that). `origin` names the plugin in error messages.
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
    // SAFETY: version and size match, so the caller guarantees a whole, immortal table.
    let table: &'static PluginTable = unsafe { &*table };
    if table.reserved != 0 {
        return Err(refuse(origin, "the table's reserved field is not 0"));
    }
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
        table,
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

/// A backend living in a plugin library, called through its table.
struct HostedPlugin {
    table: &'static PluginTable,
    name: String,
    extension: String,
    python_class_name: Option<String>,
    binary: bool,
    path: PathBuf,
}

impl fmt::Debug for HostedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostedPlugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What a plugin call produced.
enum Outcome {
    Ok(Vec<u8>),
    Error(String),
    Failure(String),
}

impl HostedPlugin {
    /// Copies a plugin buffer out and hands it back to the plugin's `free`.
    fn take(&self, buffer: Buffer) -> std::result::Result<Vec<u8>, String> {
        if buffer.len == 0 {
            if !buffer.ptr.is_null() {
                // SAFETY: the plugin wrote this buffer; the ABI makes the host return it once.
                unsafe { (self.table.free)(self.table.context, buffer) };
            }
            return Ok(Vec::new());
        }
        if buffer.ptr.is_null() {
            return Err(format!(
                "returned a null buffer of {} bytes (garbage)",
                buffer.len
            ));
        }
        // SAFETY: the ABI says a non-null buffer holds `len` initialised bytes owned by the
        // plugin until it is passed to `free`, which happens right after this copy.
        let bytes = unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec();
        // SAFETY: returned to the plugin exactly once, as the ABI requires.
        unsafe { (self.table.free)(self.table.context, buffer) };
        Ok(bytes)
    }

    fn outcome(&self, status: i32, buffer: Buffer) -> Outcome {
        let bytes = match self.take(buffer) {
            Ok(b) => b,
            Err(e) => return Outcome::Failure(format!("plugin {}: {e}", self.path.display())),
        };
        let message = || String::from_utf8_lossy(&bytes).into_owned();
        match status {
            abi::STATUS_OK => Outcome::Ok(bytes),
            abi::STATUS_ERROR => Outcome::Error(message()),
            abi::STATUS_PANIC => Outcome::Failure(format!(
                "plugin {} panicked: {}",
                self.path.display(),
                message()
            )),
            s => Outcome::Failure(format!(
                "plugin {} returned unknown status {s}: {}",
                self.path.display(),
                message()
            )),
        }
    }

    /// Decodes a file into (MessagePack value, expiration): the one call across the boundary.
    fn decode_raw(
        &self,
        bytes: &[u8],
    ) -> std::result::Result<(Vec<u8>, Option<Expiration>), BackendError> {
        let mut value = Buffer::EMPTY;
        let mut expiration = ExpirationC::NONE;
        // SAFETY: the input slice is valid for the call; the out-parameters are valid, initialised
        // locals; the function and context come from a table checked by `backend_from_table`.
        let status = unsafe {
            (self.table.decode)(
                self.table.context,
                bytes.as_ptr(),
                bytes.len(),
                &mut value,
                &mut expiration,
            )
        };
        match self.outcome(status, value) {
            Outcome::Ok(v) => {
                let expiration = expiration.to_expiration().map_err(|e| {
                    BackendError::Failure(format!("plugin {}: {e}", self.path.display()))
                })?;
                Ok((v, expiration))
            }
            Outcome::Error(e) => Err(BackendError::Decode(e)),
            Outcome::Failure(e) => Err(BackendError::Failure(e)),
        }
    }
}

// SAFETY: the table is immutable and the ABI requires its functions to be thread-safe.
unsafe impl Send for HostedPlugin {}
// SAFETY: as above.
unsafe impl Sync for HostedPlugin {}

impl Backend for HostedPlugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn file_extension(&self) -> &str {
        &self.extension
    }

    fn is_binary(&self) -> bool {
        self.binary
    }

    fn python_class_name(&self) -> Option<&str> {
        self.python_class_name.as_deref()
    }

    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> std::result::Result<Option<StoredValue>, BackendError> {
        let mut msgpack = Vec::with_capacity(128);
        let mut ser = rmp_serde::Serializer::new(&mut msgpack).with_struct_map();
        erased_serde::serialize(value, &mut ser).map_err(BackendError::encode)?;
        let expiration = ExpirationC::from_expiration(expiration);
        let mut buffer = Buffer::EMPTY;
        // SAFETY: the inputs are valid for the call; the out-parameter is a valid, initialised
        // local; the function and context come from a table checked by `backend_from_table`.
        let status = unsafe {
            (self.table.encode)(
                self.table.context,
                msgpack.as_ptr(),
                msgpack.len(),
                &expiration,
                &mut buffer,
            )
        };
        match self.outcome(status, buffer) {
            Outcome::Ok(bytes) => {
                out.extend_from_slice(&bytes);
                // What the plugin reads back is its own business: decoded once, on first read.
                Ok(None)
            }
            Outcome::Error(e) => Err(BackendError::Encode(e)),
            Outcome::Failure(e) => Err(BackendError::Failure(e)),
        }
    }

    fn decode(&self, bytes: &[u8]) -> std::result::Result<Decoded, BackendError> {
        let (value, expiration) = self.decode_raw(bytes)?;
        // A plugin that answers with something other than one whole MessagePack item is broken;
        // finding out here makes the entry a miss instead of a surprise later.
        let mut rest: &[u8] = &value;
        let mut de = rmp_serde::Deserializer::new(&mut rest);
        serde::de::IgnoredAny::deserialize(&mut de).map_err(|e| {
            BackendError::Failure(format!(
                "plugin {} returned a value that is not MessagePack: {e}",
                self.path.display()
            ))
        })?;
        if !rest.is_empty() {
            return Err(BackendError::Failure(format!(
                "plugin {} returned {} bytes after the value",
                self.path.display(),
                rest.len()
            )));
        }
        Ok(Decoded::new(
            expiration,
            StoredValue::OwnedMessagePack(value.into()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_refused_naming_it() {
        let err = load("/definitely/not/here.so").unwrap_err();
        assert!(matches!(err, Error::Plugin { .. }));
        assert_eq!(
            err.to_string(),
            "plugin /definitely/not/here.so: no such file"
        );
    }

    #[test]
    fn a_file_that_is_not_a_library_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("fake.so");
        std::fs::write(&f, b"not an ELF file").unwrap();
        let err = load(&f).unwrap_err().to_string();
        assert!(err.contains("fake.so"), "{err}");
        assert!(err.contains("cannot be loaded as a library"), "{err}");
    }

    #[test]
    fn bare_name_is_not_searched_for() {
        // libc exists in the system library path; a bare name must not find it there.
        let err = load("libc.so.6").unwrap_err().to_string();
        assert!(err.contains("no such file"), "{err}");
    }

    #[test]
    fn load_dir_skips_non_libraries_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        assert!(load_dir(dir.path()).unwrap().is_empty());
        std::fs::write(dir.path().join("bad.so"), b"junk").unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.so"), "{err}");
    }

    #[test]
    fn empty_entries_of_the_plugin_path_are_not_the_working_directory() {
        let infos = load_path_list(std::ffi::OsStr::new("::")).unwrap();
        assert!(infos.is_empty());
    }

    #[test]
    fn null_table_is_refused() {
        // SAFETY: a null pointer is allowed by the function's contract.
        let err = unsafe { backend_from_table(std::ptr::null(), Path::new("x.so")) }.unwrap_err();
        assert!(err.to_string().contains("returned no table"), "{err}");
    }

    #[test]
    fn wrong_abi_version_is_refused_before_reading_the_rest() {
        let header = abi::TableHeader {
            abi_version: 2,
            struct_size: 8,
        };
        // SAFETY: the header is all the function reads when the version differs.
        let err = unsafe {
            backend_from_table(
                &header as *const abi::TableHeader as *const PluginTable,
                Path::new("v2.so"),
            )
        }
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugin v2.so: ABI version 2, this host speaks 1"
        );
    }

    #[test]
    fn wrong_table_size_is_refused() {
        let header = abi::TableHeader {
            abi_version: 1,
            struct_size: 12,
        };
        // SAFETY: the header is all the function reads when the size differs.
        let err = unsafe {
            backend_from_table(
                &header as *const abi::TableHeader as *const PluginTable,
                Path::new("small.so"),
            )
        }
        .unwrap_err();
        assert!(err.to_string().contains("table size mismatch"), "{err}");
    }

    /// A hand-written plugin whose `decode` answers "success" with garbage: the byte 0xc1 (never
    /// valid MessagePack) for input `b"bad-msgpack"`, a null buffer claiming 5 bytes for
    /// `b"null"`, an invalid expiration flag for `b"bad-flag"`, and an unknown status otherwise.
    mod garbage_plugin {
        use std::ffi::c_void;

        use super::abi::{self, Buffer, ExpirationC, PluginTable};

        fn into_buffer(v: Vec<u8>) -> Buffer {
            let mut v = std::mem::ManuallyDrop::new(v);
            Buffer {
                ptr: v.as_mut_ptr(),
                len: v.len(),
                cap: v.capacity(),
            }
        }

        unsafe extern "C" fn encode(
            _: *const c_void,
            _: *const u8,
            _: usize,
            _: *const ExpirationC,
            out: *mut Buffer,
        ) -> i32 {
            // SAFETY: the host passes a valid out-parameter.
            unsafe { out.write(into_buffer(b"file".to_vec())) };
            abi::STATUS_OK
        }

        unsafe extern "C" fn decode(
            _: *const c_void,
            bytes: *const u8,
            len: usize,
            out: *mut Buffer,
            expiration: *mut ExpirationC,
        ) -> i32 {
            // SAFETY: the host passes `len` readable bytes and valid out-parameters.
            let input = unsafe { std::slice::from_raw_parts(bytes, len) };
            let (status, buffer, flag) = match input {
                b"bad-msgpack" => (abi::STATUS_OK, into_buffer(vec![0xc1]), 0),
                b"null" => (
                    abi::STATUS_OK,
                    Buffer {
                        ptr: std::ptr::null_mut(),
                        len: 5,
                        cap: 0,
                    },
                    0,
                ),
                b"bad-flag" => (abi::STATUS_OK, into_buffer(vec![0xc0]), 9),
                _ => (77, into_buffer(b"what".to_vec()), 0),
            };
            // SAFETY: as above.
            unsafe {
                out.write(buffer);
                expiration.write(ExpirationC {
                    present: flag,
                    ..ExpirationC::NONE
                });
            }
            status
        }

        unsafe extern "C" fn free(_: *const c_void, b: Buffer) {
            if !b.ptr.is_null() {
                // SAFETY: every non-null buffer was made by `into_buffer`.
                drop(unsafe { Vec::from_raw_parts(b.ptr, b.len, b.cap) });
            }
        }

        pub static TABLE: PluginTable = PluginTable {
            abi_version: abi::ABI_VERSION,
            struct_size: std::mem::size_of::<PluginTable>() as u32,
            binary: 1,
            reserved: 0,
            name: c"garbage".as_ptr(),
            file_extension: c"gb".as_ptr(),
            python_class_name: std::ptr::null(),
            context: std::ptr::null(),
            encode,
            decode,
            free,
        };
    }

    #[test]
    fn a_plugin_answering_garbage_gives_errors_not_values() {
        // SAFETY: the table above follows the ABI (its answers are wrong, not unsafe).
        let b =
            unsafe { backend_from_table(&garbage_plugin::TABLE, Path::new("garbage.so")) }.unwrap();
        assert_eq!(b.name(), "garbage");
        for (input, expected) in [
            (&b"bad-msgpack"[..], "not MessagePack"),
            (b"null", "null buffer of 5 bytes"),
            (b"bad-flag", "expiration flag is 9"),
            (b"other", "unknown status 77: what"),
        ] {
            let err = b.decode(input).unwrap_err();
            assert!(matches!(err, BackendError::Failure(_)), "{err:?}");
            assert!(err.to_string().contains(expected), "{err}");
            assert!(err.to_string().contains("garbage.so"), "{err}");
        }
        let err = (&*b as &dyn Backend)
            .decode_value::<u32>(b"bad-msgpack")
            .unwrap_err();
        assert!(matches!(err, BackendError::WrongType(_)), "{err:?}");
        // And the validation refuses it (the probe does not round-trip).
        assert!(crate::validate::validate_backend(&*b, "garbage.so").is_err());
    }

    #[test]
    fn expiration_crosses_the_abi_to_the_microsecond() {
        let e = crate::time::parse_expiration("2100-01-01T00:00:00.123456");
        let c = ExpirationC::from_expiration(e);
        assert_eq!(c.present, 1);
        assert_eq!(c.to_expiration().unwrap(), e);
        assert_eq!(ExpirationC::NONE.to_expiration().unwrap(), None);
        let bad = ExpirationC {
            present: 7,
            ..ExpirationC::NONE
        };
        assert!(bad.to_expiration().is_err());
    }
}
