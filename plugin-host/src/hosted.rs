//! The wrapper that implements [`Backend`] over a plugin table.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::abi::{self, Buffer, DecodeFn, EncodeFn, ExpirationC, FreeFn, MAX_BUFFER_LEN};
use bucketcache_core::backend::{Backend, BackendError, Decoded, ValueLocation};
use bucketcache_core::time::Expiration;

/// A backend living in a plugin library, called through its table.
pub(super) struct HostedPlugin {
    /// The table's opaque context, handed back to every function.
    pub(super) context: *const std::ffi::c_void,
    /// The table's functions, checked non-null when the table was read.
    pub(super) encode: EncodeFn,
    pub(super) decode: DecodeFn,
    pub(super) free: FreeFn,
    pub(super) name: String,
    pub(super) extension: String,
    pub(super) python_class_name: Option<String>,
    pub(super) binary: bool,
    pub(super) path: PathBuf,
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
    /// Hands a buffer back to the plugin's `free`.
    fn release(&self, buffer: Buffer) {
        // SAFETY: the plugin wrote this buffer into an out-parameter; the ABI makes the host
        // return every such buffer exactly once, and this is the one time.
        unsafe { (self.free)(self.context, buffer) };
    }

    /// Copies a plugin buffer out and hands it back to the plugin's `free`. A null pointer with
    /// a nonzero length, or a length over [`MAX_BUFFER_LEN`], is refused before anything is read
    /// or allocated.
    fn take(&self, buffer: Buffer) -> std::result::Result<Vec<u8>, String> {
        if buffer.ptr.is_null() {
            return match buffer.len {
                0 => Ok(Vec::new()),
                n => Err(format!("returned a null buffer of {n} bytes (garbage)")),
            };
        }
        if buffer.len > MAX_BUFFER_LEN {
            self.release(buffer);
            return Err(format!(
                "returned a buffer of {} bytes, over the limit of {MAX_BUFFER_LEN} bytes per \
                 answer",
                buffer.len
            ));
        }
        let bytes = if buffer.len == 0 {
            Vec::new()
        } else {
            // SAFETY: the pointer is non-null and the length within MAX_BUFFER_LEN (so within
            // isize::MAX); the ABI says a non-null buffer holds `len` initialised bytes owned by
            // the plugin until it is passed to `free`, which happens right after this copy.
            unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec()
        };
        self.release(buffer);
        Ok(bytes)
    }

    fn outcome(&self, status: i32, buffer: Buffer) -> Outcome {
        let bytes = match self.take(buffer) {
            Ok(b) => b,
            Err(e) => return Outcome::Failure(format!("plugin {}: {e}", self.path.display())),
        };
        // A message is shown to people: its first kilobyte is plenty.
        let message = || {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]);
            if bytes.len() > 1024 {
                format!("{text}… ({} bytes)", bytes.len())
            } else {
                text.into_owned()
            }
        };
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
            (self.decode)(
                self.context,
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

// SAFETY: the table (context and functions) is immutable and the ABI requires its functions to
// be callable from any thread with its context.
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
    ) -> std::result::Result<Option<ValueLocation>, BackendError> {
        let mut msgpack = Vec::with_capacity(128);
        let mut ser = rmp_serde::Serializer::new(&mut msgpack).with_struct_map();
        erased_serde::serialize(value, &mut ser).map_err(BackendError::encode)?;
        let expiration = ExpirationC::from_expiration(expiration);
        let mut buffer = Buffer::EMPTY;
        // SAFETY: the inputs are valid for the call; the out-parameter is a valid, initialised
        // local; the function and context come from a table checked by `backend_from_table`.
        let status = unsafe {
            (self.encode)(
                self.context,
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
            ValueLocation::OwnedMessagePack(value.into()),
        ))
    }
}
