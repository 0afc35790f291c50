//! SDK for bucketcache backend plugins: the C ABI table, the export macro and a conformance kit.
//!
//! A backend plugin is a shared library (`crate-type = ["cdylib"]`) that teaches bucketcache a
//! new file format. Write a type implementing [`PluginBackend`], export it with
//! [`export_backend!`], test it with [`conformance::check`], and users load the library by path
//! (`bucketcache::plugins::load`), from a `BucketConfig` (`plugins = ["..."]`) or through
//! `BUCKETCACHE_PLUGIN_PATH`. See the crate's README for a whole walk-through.
//!
//! Values never cross the library boundary as Rust types: the host hands the plugin the value as
//! MessagePack bytes, the SDK turns them into a [`Value`] tree, and the plugin's [`Envelope`]
//! comes back the same way. So the plugin and the program may use different compilers, serde
//! versions and allocators. The table itself is described in [`abi`] and, for other languages,
//! in `include/bucketcache_plugin.h`.
//!
//! ```
//! use bucketcache_plugin_sdk::{Envelope, PluginBackend};
//!
//! /// Envelopes as pretty JSON.
//! #[derive(Default)]
//! struct PrettyJson;
//!
//! impl PluginBackend for PrettyJson {
//!     const NAME: &'static str = "pretty-json";
//!     const EXTENSION: &'static str = "json";
//!     const BINARY: bool = false;
//!
//!     fn encode(&self, envelope: &Envelope) -> Result<Vec<u8>, String> {
//!         serde_json::to_vec_pretty(envelope).map_err(|e| e.to_string())
//!     }
//!     fn decode(&self, bytes: &[u8]) -> Result<Envelope, String> {
//!         serde_json::from_slice(bytes).map_err(|e| e.to_string())
//!     }
//! }
//!
//! // In a cdylib crate: bucketcache_plugin_sdk::export_backend!(PrettyJson);
//! bucketcache_plugin_sdk::conformance::check(PrettyJson).unwrap();
//! ```
#![warn(missing_docs)]

use std::ffi::{c_void, CString};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};

pub use bucketcache_core::time::{format_expiration, parse_expiration, Expiration};
pub use bucketcache_plugin_host::abi;
/// The `rmpv` crate, for working with [`Value`] (reading and writing it as MessagePack).
pub use rmpv;
/// A self-describing value: what the program stored, as a tree (nil, booleans, integers up to
/// 64 bits, floats, strings, binary, arrays and maps with any keys).
pub use rmpv::Value;

use abi::{Buffer, ExpirationC, PluginTable};

pub mod conformance;

/// A cache file's content: the stored value and when it expires.
///
/// It serializes as the original BucketCache's envelope, a map
/// `{"value": ..., "expiration_date": "2100-01-01T00:00:00.123456" | null}`, with the
/// expiration as Python's `isoformat()` text, so most formats need nothing but
/// `serde::Serialize`/`Deserialize` on it.
///
/// ```
/// use bucketcache_plugin_sdk::{parse_expiration, Envelope, Value};
/// let e = Envelope { value: Value::from("hi"), expiration: parse_expiration("2100-01-01T00:00:00") };
/// let json = serde_json::to_string(&e).unwrap();
/// assert_eq!(json, r#"{"value":"hi","expiration_date":"2100-01-01T00:00:00"}"#);
/// assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), e);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The stored value.
    pub value: Value,
    /// When the entry expires (naive UTC), or `None` if it never does.
    pub expiration: Option<Expiration>,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    value: &'a Value,
    expiration_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeIn {
    value: Value,
    expiration_date: Option<String>,
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EnvelopeOut {
            value: &self.value,
            expiration_date: self.expiration.as_ref().map(format_expiration),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = EnvelopeIn::deserialize(d)?;
        let expiration = match raw.expiration_date {
            None => None,
            Some(text) => Some(parse_expiration(&text).ok_or_else(|| {
                serde::de::Error::custom(format!("invalid expiration_date {text:?}"))
            })?),
        };
        Ok(Envelope {
            value: raw.value,
            expiration,
        })
    }
}

/// A file format, written by a plugin author. The SDK turns it into the C table with
/// [`export_backend!`].
///
/// Rules the host enforces when it loads the plugin (and [`conformance::check`] checks first):
/// the name is lowercase `[a-z0-9_-]+`, the extension `[A-Za-z0-9]+` (not `tmp`), the Python
/// class name (if any) a Python identifier; `encode` is deterministic; `decode(encode(e)) == e`
/// for every envelope; `decode` of any other input (garbage, every truncation of a valid file)
/// is an `Err`, never a panic. Both methods may be called from several threads at once.
pub trait PluginBackend: Send + Sync + 'static {
    /// The registry name users select the backend by, e.g. `"cbor"`.
    const NAME: &'static str;
    /// The file extension without the dot, e.g. `"cbor"`.
    const EXTENSION: &'static str;
    /// Whether files are binary (`true`) or text.
    const BINARY: bool;
    /// The Python class name if Python BucketCache can read the files too.
    const PYTHON_CLASS_NAME: Option<&'static str> = None;

    /// Encodes an envelope into a file's bytes.
    fn encode(&self, envelope: &Envelope) -> Result<Vec<u8>, String>;
    /// Decodes a file's bytes; every malformed or truncated input must be an `Err`.
    fn decode(&self, bytes: &[u8]) -> Result<Envelope, String>;
}

/// Builds the C table for a backend instance. [`export_backend!`] calls this once; the
/// conformance kit calls it to test a backend through the same path the host uses.
pub fn build_table<B: PluginBackend>(backend: &'static B) -> PluginTable {
    PluginTable {
        abi_version: abi::ABI_VERSION,
        struct_size: std::mem::size_of::<PluginTable>() as u32,
        binary: u32::from(B::BINARY),
        reserved: 0,
        name: leak_c_str(B::NAME),
        file_extension: leak_c_str(B::EXTENSION),
        python_class_name: B::PYTHON_CLASS_NAME.map_or(std::ptr::null(), leak_c_str),
        context: backend as *const B as *const c_void,
        encode: Some(encode_entry::<B>),
        decode: Some(decode_entry::<B>),
        free: Some(free_entry),
    }
}

/// A NUL-terminated copy that lives as long as the library. A string with an inner NUL becomes
/// empty, which the host refuses with a clear message.
fn leak_c_str(s: &str) -> *const std::ffi::c_char {
    let c = CString::new(s).unwrap_or_default();
    Box::leak(c.into_boxed_c_str()).as_ptr()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into())
}

/// Hands a vector to the host as a [`Buffer`]; [`free_entry`] takes it back.
fn into_buffer(v: Vec<u8>) -> Buffer {
    let mut v = ManuallyDrop::new(v);
    Buffer {
        ptr: v.as_mut_ptr(),
        len: v.len(),
        cap: v.capacity(),
    }
}

/// Writes a call's outcome to the out buffer and returns its status. A panic never leaves the
/// `extern "C"` function: it becomes [`abi::STATUS_PANIC`] with the panic message.
fn finish(result: std::thread::Result<Result<Vec<u8>, String>>, out: *mut Buffer) -> i32 {
    let (status, bytes) = match result {
        Ok(Ok(bytes)) => (abi::STATUS_OK, bytes),
        Ok(Err(message)) => (abi::STATUS_ERROR, message.into_bytes()),
        Err(p) => (abi::STATUS_PANIC, panic_message(&*p).into_bytes()),
    };
    if out.is_null() {
        return abi::STATUS_PANIC;
    }
    // SAFETY: `out` is non-null and the ABI makes it point to a writable Buffer for this call.
    unsafe { out.write(into_buffer(bytes)) };
    status
}

/// Borrows the host's input bytes.
///
/// # Safety
/// `ptr` must be null with `len == 0`, or point to `len` readable bytes for the call's duration.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], String> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err("null input pointer".into());
    }
    // SAFETY: non-null, and the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The table's `encode` for backend `B` (see [`abi::EncodeFn`]).
///
/// # Safety
/// `context` must be the `&'static B` that `build_table::<B>` stored in the table; `value` must
/// point to `value_len` readable bytes (or `value_len` be 0); `expiration` must be null or point
/// to a valid [`ExpirationC`]; `out` must point to a writable [`Buffer`]. All for the call only.
unsafe extern "C" fn encode_entry<B: PluginBackend>(
    context: *const c_void,
    value: *const u8,
    value_len: usize,
    expiration: *const ExpirationC,
    out: *mut Buffer,
) -> i32 {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `context` is the `&'static B` that `build_table::<B>` stored in the table.
        let backend = unsafe { &*(context as *const B) };
        // SAFETY: the host passes its MessagePack buffer, valid for the call.
        let mut bytes = unsafe { input(value, value_len) }?;
        if expiration.is_null() {
            return Err("null expiration pointer".to_owned());
        }
        // SAFETY: non-null; the host passes a valid ExpirationC for the call.
        let expiration = unsafe { *expiration }.to_expiration()?;
        let value = rmpv::decode::read_value(&mut bytes)
            .map_err(|e| format!("the host's value is not MessagePack: {e}"))?;
        if !bytes.is_empty() {
            return Err("trailing bytes after the host's value".to_owned());
        }
        backend.encode(&Envelope { value, expiration })
    }));
    finish(result, out)
}

/// The table's `decode` for backend `B` (see [`abi::DecodeFn`]).
///
/// # Safety
/// `context` must be the `&'static B` that `build_table::<B>` stored in the table; `bytes` must
/// point to `len` readable bytes (or `len` be 0); `value_out` must point to a writable
/// [`Buffer`] and `expiration_out` be null or point to a writable [`ExpirationC`]. All for the
/// call only.
unsafe extern "C" fn decode_entry<B: PluginBackend>(
    context: *const c_void,
    bytes: *const u8,
    len: usize,
    value_out: *mut Buffer,
    expiration_out: *mut ExpirationC,
) -> i32 {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `context` is the `&'static B` that `build_table::<B>` stored in the table.
        let backend = unsafe { &*(context as *const B) };
        // SAFETY: the host passes the file's bytes, valid for the call.
        let bytes = unsafe { input(bytes, len) }?;
        let envelope = backend.decode(bytes)?;
        let mut value = Vec::with_capacity(bytes.len());
        rmpv::encode::write_value(&mut value, &envelope.value).map_err(|e| e.to_string())?;
        if expiration_out.is_null() {
            return Err("null expiration pointer".to_owned());
        }
        // SAFETY: non-null; the host passes a writable ExpirationC for the call.
        unsafe { expiration_out.write(ExpirationC::from_expiration(envelope.expiration)) };
        Ok(value)
    }));
    finish(result, value_out)
}

/// The table's `free` (see [`abi::FreeFn`]).
///
/// # Safety
/// `buffer` must be null or a buffer this plugin returned through an out-parameter and not yet
/// freed: each buffer is freed once, by this function.
unsafe extern "C" fn free_entry(_context: *const c_void, buffer: Buffer) {
    if buffer.ptr.is_null() {
        return;
    }
    // SAFETY: every non-null buffer the host returns was made by `into_buffer` from a Vec<u8>
    // with exactly this pointer, length and capacity, and is returned once. Dropping a Vec
    // cannot panic.
    drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Builds the exported table, or null if the backend's constructor panics (a panic must not
    /// cross the entry point either).
    pub fn init_table<B: PluginBackend>(init: impl FnOnce() -> B) -> Option<PluginTable> {
        catch_unwind(AssertUnwindSafe(|| {
            build_table::<B>(Box::leak(Box::new(init())))
        }))
        .ok()
    }
}

/// Exports a [`PluginBackend`] as this library's plugin entry point,
/// `bucketcache_plugin_table`. One backend per library.
///
/// `export_backend!(MyBackend)` builds the instance with `Default`;
/// `export_backend!(MyBackend, MyBackend::new(..))` with an expression. The instance lives as
/// long as the program.
///
/// ```
/// use bucketcache_plugin_sdk::{export_backend, Envelope, PluginBackend};
///
/// #[derive(Default)]
/// struct Json;
/// impl PluginBackend for Json {
///     const NAME: &'static str = "json-plugin";
///     const EXTENSION: &'static str = "json";
///     const BINARY: bool = false;
///     fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
///         serde_json::to_vec(e).map_err(|e| e.to_string())
///     }
///     fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
///         serde_json::from_slice(b).map_err(|e| e.to_string())
///     }
/// }
///
/// export_backend!(Json);
///
/// // The generated entry point, as the host sees it: always the same table.
/// let table = bucketcache_plugin_table();
/// assert!(!table.is_null());
/// assert_eq!(table, bucketcache_plugin_table());
/// ```
#[macro_export]
macro_rules! export_backend {
    ($ty:ty) => {
        $crate::export_backend!($ty, <$ty as ::core::default::Default>::default());
    };
    ($ty:ty, $init:expr) => {
        /// The bucketcache plugin entry point, generated by `export_backend!`.
        #[no_mangle]
        pub extern "C" fn bucketcache_plugin_table() -> *const $crate::abi::PluginTable {
            static TABLE: ::std::sync::OnceLock<::core::option::Option<$crate::abi::PluginTable>> =
                ::std::sync::OnceLock::new();
            match TABLE.get_or_init(|| $crate::__private::init_table::<$ty>(|| $init)) {
                ::core::option::Option::Some(table) => table,
                ::core::option::Option::None => ::core::ptr::null(),
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_without_expiration_writes_null() {
        let e = Envelope {
            value: Value::Array(vec![Value::from(1), Value::Nil]),
            expiration: None,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"value":[1,null],"expiration_date":null}"#);
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), e);
    }

    #[test]
    fn envelope_with_a_bad_date_is_refused() {
        let err = serde_json::from_str::<Envelope>(r#"{"value":1,"expiration_date":"soon"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn envelope_with_an_unknown_field_is_refused() {
        assert!(serde_json::from_str::<Envelope>(
            r#"{"value":1,"expiration_date":null,"extra":2}"#
        )
        .is_err());
    }

    struct Panicky;
    impl PluginBackend for Panicky {
        const NAME: &'static str = "panicky";
        const EXTENSION: &'static str = "p";
        const BINARY: bool = true;
        fn encode(&self, _: &Envelope) -> Result<Vec<u8>, String> {
            panic!("encode exploded")
        }
        fn decode(&self, _: &[u8]) -> Result<Envelope, String> {
            Err("never valid".into())
        }
    }

    #[test]
    fn a_panic_in_encode_becomes_a_panic_status_with_its_message() {
        let table = build_table(Box::leak(Box::new(Panicky)));
        let mut value = Vec::new();
        rmpv::encode::write_value(&mut value, &Value::from(1)).unwrap();
        let mut out = Buffer::EMPTY;
        // SAFETY: valid inputs and out-parameters, as the ABI requires.
        let status = unsafe {
            (table.encode.expect("build_table sets encode"))(
                table.context,
                value.as_ptr(),
                value.len(),
                &ExpirationC::NONE,
                &mut out,
            )
        };
        assert_eq!(status, abi::STATUS_PANIC);
        // SAFETY: the buffer was just written by the plugin and holds `len` bytes.
        let msg = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
        assert_eq!(msg, b"encode exploded");
        // SAFETY: returned once to the plugin that made it.
        unsafe { (table.free.expect("build_table sets free"))(table.context, out) };
    }

    #[test]
    fn a_decode_error_is_an_error_status_with_its_message() {
        let table = build_table(Box::leak(Box::new(Panicky)));
        let mut out = Buffer::EMPTY;
        let mut exp = ExpirationC::NONE;
        let decode = table.decode.expect("build_table sets decode");
        // SAFETY: valid inputs and out-parameters, as the ABI requires.
        let status = unsafe { decode(table.context, b"x".as_ptr(), 1, &mut out, &mut exp) };
        assert_eq!(status, abi::STATUS_ERROR);
        // SAFETY: the buffer was just written by the plugin and holds `len` bytes.
        let msg = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
        assert_eq!(msg, b"never valid");
        // SAFETY: returned once to the plugin that made it.
        unsafe { (table.free.expect("build_table sets free"))(table.context, out) };
    }

    #[test]
    fn table_fields_come_from_the_trait() {
        let table = build_table(Box::leak(Box::new(Panicky)));
        assert_eq!(table.abi_version, abi::ABI_VERSION);
        assert_eq!(
            table.struct_size as usize,
            std::mem::size_of::<PluginTable>()
        );
        assert_eq!(table.binary, 1);
        assert!(table.python_class_name.is_null());
        // SAFETY: build_table stores NUL-terminated strings that are never freed.
        let name = unsafe { std::ffi::CStr::from_ptr(table.name) };
        assert_eq!(name.to_str().unwrap(), "panicky");
    }
}
