//! Test fixture: a plugin whose defect is chosen by a cargo feature (one at a time).
//!
//! Without features it is a valid plugin named `faulty` that misbehaves at run time on request:
//! its `encode` panics on the value `"panic"` and its `decode` panics on a file holding
//! `"panic-on-load"`. The features make the host refuse it at load time:
//! `wrong-abi` (ABI version 2), `wrong-size` (a table size that does not match),
//! `missing-symbol` (no entry point), `bad-extension` (`c.bor`), `panicking-encode` (panics on
//! every encode, so it fails the probe), `null-encode`, `null-decode`, `null-free` and
//! `null-name` (a table with that pointer null). `lying-lengths` builds a valid plugin named
//! `liar` whose answers lie about their length for some inputs (see `liar`).

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
    } else if cfg!(feature = "lying-lengths") {
        "liar"
    } else if cfg!(any(
        feature = "null-encode",
        feature = "null-decode",
        feature = "null-free",
        feature = "null-name"
    )) {
        "broken-null"
    } else {
        "faulty"
    };
    // One extension per variant: an extension belongs to one backend in a registry, and the
    // tests load several variants into one process in any order.
    const EXTENSION: &'static str = if cfg!(feature = "bad-extension") {
        "c.bor"
    } else if cfg!(feature = "lying-lengths") {
        "liar"
    } else if cfg!(feature = "wrong-abi") {
        "fxabi"
    } else if cfg!(feature = "wrong-size") {
        "fxsize"
    } else if cfg!(feature = "panicking-encode") {
        "fxenc"
    } else if cfg!(any(
        feature = "null-encode",
        feature = "null-decode",
        feature = "null-free",
        feature = "null-name"
    )) {
        "fxnull"
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
    feature = "missing-symbol",
    feature = "null-encode",
    feature = "null-decode",
    feature = "null-free",
    feature = "null-name",
    feature = "lying-lengths"
)))]
bucketcache_plugin_sdk::export_backend!(Fixture);

/// An entry point announcing a table of another ABI version or size, or with a null pointer.
#[cfg(any(
    feature = "wrong-abi",
    feature = "wrong-size",
    feature = "null-encode",
    feature = "null-decode",
    feature = "null-free",
    feature = "null-name"
))]
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
        } else if cfg!(feature = "wrong-size") {
            PluginTable {
                struct_size: table.struct_size + 8,
                ..table
            }
        } else if cfg!(feature = "null-encode") {
            PluginTable {
                encode: None,
                ..table
            }
        } else if cfg!(feature = "null-decode") {
            PluginTable {
                decode: None,
                ..table
            }
        } else if cfg!(feature = "null-free") {
            PluginTable {
                free: None,
                ..table
            }
        } else {
            PluginTable {
                name: std::ptr::null(),
                ..table
            }
        }
    })
}

/// A plugin whose answers lie about their length: for a value (encode) or a file (decode)
/// holding the text `huge-answer` it answers a buffer of 2^40 bytes over 16 real ones, for
/// `null-answer` a null pointer claiming 7 bytes. Everything else goes to the SDK's functions, so
/// the plugin passes the host's validation and loads.
#[cfg(feature = "lying-lengths")]
pub mod liar {
    use std::ffi::c_void;
    use std::sync::OnceLock;

    use bucketcache_plugin_sdk::abi::{Buffer, ExpirationC, PluginTable, STATUS_OK};

    use super::Fixture;

    /// Marks the lies in `cap`, so that `free` knows them from the SDK's own buffers.
    const LIE: usize = usize::MAX;

    /// The 16 bytes a huge answer really points to (the host must never read past them).
    static REAL: [u8; 16] = [0; 16];

    fn sdk() -> &'static PluginTable {
        static SDK: OnceLock<PluginTable> = OnceLock::new();
        SDK.get_or_init(|| bucketcache_plugin_sdk::build_table(Box::leak(Box::new(Fixture))))
    }

    fn lie_for(input: &[u8]) -> Option<Buffer> {
        let holds = |word: &[u8]| input.windows(word.len()).any(|w| w == word);
        if holds(b"huge-answer") {
            Some(Buffer {
                ptr: REAL.as_ptr().cast_mut(),
                len: 1 << 40,
                cap: LIE,
            })
        } else if holds(b"null-answer") {
            Some(Buffer {
                ptr: std::ptr::null_mut(),
                len: 7,
                cap: LIE,
            })
        } else {
            None
        }
    }

    /// Borrows the host's input (`len` bytes at `ptr`, or none).
    ///
    /// # Safety
    /// As the ABI: `ptr` points to `len` readable bytes for the call, or `len` is 0.
    unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
        if ptr.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: the host passes `len` readable bytes, valid for the call.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    unsafe extern "C" fn encode(
        context: *const c_void,
        value: *const u8,
        value_len: usize,
        expiration: *const ExpirationC,
        out: *mut Buffer,
    ) -> i32 {
        // SAFETY: the host's value buffer, valid for the call.
        if let Some(lie) = lie_for(unsafe { input(value, value_len) }) {
            // SAFETY: the host passes a valid, writable out-parameter.
            unsafe { out.write(lie) };
            return STATUS_OK;
        }
        let encode = sdk().encode.expect("the SDK sets encode");
        // SAFETY: the host's arguments, passed on unchanged to the SDK's own function.
        unsafe { encode(context, value, value_len, expiration, out) }
    }

    unsafe extern "C" fn decode(
        context: *const c_void,
        bytes: *const u8,
        len: usize,
        value_out: *mut Buffer,
        expiration_out: *mut ExpirationC,
    ) -> i32 {
        // SAFETY: the host's file bytes, valid for the call.
        if let Some(lie) = lie_for(unsafe { input(bytes, len) }) {
            // SAFETY: the host passes valid, writable out-parameters.
            unsafe {
                value_out.write(lie);
                expiration_out.write(ExpirationC::NONE);
            }
            return STATUS_OK;
        }
        let decode = sdk().decode.expect("the SDK sets decode");
        // SAFETY: the host's arguments, passed on unchanged to the SDK's own function.
        unsafe { decode(context, bytes, len, value_out, expiration_out) }
    }

    unsafe extern "C" fn free(context: *const c_void, buffer: Buffer) {
        if buffer.cap == LIE {
            return; // nothing was allocated for a lie
        }
        let free = sdk().free.expect("the SDK sets free");
        // SAFETY: a buffer the SDK's functions made, handed back once by the host.
        unsafe { free(context, buffer) }
    }

    /// The entry point: the SDK's table with the lying functions.
    #[no_mangle]
    pub extern "C" fn bucketcache_plugin_table() -> *const PluginTable {
        static TABLE: OnceLock<PluginTable> = OnceLock::new();
        TABLE.get_or_init(|| PluginTable {
            encode: Some(encode),
            decode: Some(decode),
            free: Some(free),
            ..*sdk()
        })
    }
}

/// Something exported, but not the plugin entry point.
#[cfg(feature = "missing-symbol")]
#[no_mangle]
pub extern "C" fn not_a_bucketcache_plugin() -> u32 {
    42
}
