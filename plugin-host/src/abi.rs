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
//! What the host checks before using anything a plugin hands it: the table pointer (null,
//! misaligned), its version and size, its flags, that its three functions and its name and
//! extension strings are not null (a table with a null function is refused while loading, naming
//! the file), and every buffer a call answers: a null pointer with a nonzero length, or a length
//! over [`MAX_BUFFER_LEN`], makes that call a failure (a miss for reads, an error for writes),
//! never a read through the pointer or an allocation of that size. What the host cannot check is
//! that a non-null pointer really points to as many bytes as it claims, or what the plugin's own
//! code does: a plugin that crashes or calls `abort()` takes the process down.
//!
//! Threading rules: `encode`, `decode` and `free` may be called from several threads at once.

use std::ffi::{c_char, c_void};

use bucketcache_core::time::Expiration;

/// The ABI version this host speaks and the SDK writes.
pub const ABI_VERSION: u32 = 1;

/// The longest buffer a plugin may answer (an encoded file, a decoded value or a message): 1 GiB.
/// A longer answer is a [`BackendError::Failure`](bucketcache_core::BackendError::Failure): the host neither
/// reads it nor allocates room for it (the buffer is still handed back to `free`).
pub const MAX_BUFFER_LEN: usize = 1 << 30;

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
                micros: e.timestamp_micros(),
                present: 1,
                reserved: 0,
            },
        }
    }

    /// Converts back; an out-of-range date or a `present` other than 0/1 is an error.
    pub fn to_expiration(self) -> Result<Option<Expiration>, String> {
        match self.present {
            0 => Ok(None),
            1 => Expiration::from_timestamp_micros(self.micros)
                .map(Some)
                .ok_or_else(|| format!("expiration {} µs is out of range", self.micros)),
            p => Err(format!("expiration flag is {p}, must be 0 or 1")),
        }
    }
}

/// The table a plugin exports, ABI version 1.
///
/// The strings are NUL-terminated UTF-8 and live as long as the library. The functions are
/// `Option`s only so that the host can read a table whose function pointers are null (C allows
/// them; a Rust `fn` pointer cannot be null) and refuse it: every one of them must be set.
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
    /// Encodes an envelope (required: a null pointer is refused at load).
    pub encode: Option<EncodeFn>,
    /// Decodes an envelope (required: a null pointer is refused at load).
    pub decode: Option<DecodeFn>,
    /// Frees a buffer the plugin returned (required: a null pointer is refused at load).
    pub free: Option<FreeFn>,
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
