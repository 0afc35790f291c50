use std::path::Path;

use super::*;
use crate::abi::{self, ExpirationC, PluginTable};
use bucketcache_core::backend::{Backend, BackendError};
use bucketcache_core::Error;

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

    use crate::abi::{self, Buffer, ExpirationC, PluginTable};

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
            // 2^40 bytes claimed over 5 real ones (`cap` 0: nothing for `free` to release).
            b"huge" => (
                abi::STATUS_OK,
                Buffer {
                    ptr: b"valid".as_ptr().cast_mut(),
                    len: 1 << 40,
                    cap: 0,
                },
                0,
            ),
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
        if !b.ptr.is_null() && b.cap != 0 {
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
        encode: Some(encode),
        decode: Some(decode),
        free: Some(free),
    };
}

#[test]
fn a_plugin_answering_garbage_gives_errors_not_values() {
    // SAFETY: the table above follows the ABI (its answers are wrong, not unsafe).
    let b = unsafe { backend_from_table(&garbage_plugin::TABLE, Path::new("garbage.so")) }.unwrap();
    assert_eq!(b.name(), "garbage");
    for (input, expected) in [
        (&b"bad-msgpack"[..], "not MessagePack"),
        (b"null", "null buffer of 5 bytes"),
        (b"bad-flag", "expiration flag is 9"),
        (
            b"huge",
            "1099511627776 bytes, over the limit of 1073741824 bytes",
        ),
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
    // The one decode checks the value too: garbage never reaches a deserializer.
    assert!(matches!(err, BackendError::Failure(_)), "{err:?}");
    // And the validation refuses it (the probe does not round-trip).
    assert!(bucketcache_core::validate::validate_backend(&*b, "garbage.so").is_err());
}

#[test]
fn expiration_crosses_the_abi_to_the_microsecond() {
    let e = bucketcache_core::time::parse_expiration("2100-01-01T00:00:00.123456");
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

/// The garbage table with one field changed.
fn table_with(change: impl FnOnce(&mut PluginTable)) -> &'static PluginTable {
    let mut table = garbage_plugin::TABLE;
    change(&mut table);
    Box::leak(Box::new(table))
}

#[test]
fn a_table_with_a_null_function_or_string_is_refused_naming_it() {
    type Change = fn(&mut PluginTable);
    let cases: [(Change, &str); 6] = [
        (
            |t| t.encode = None,
            "the table's encode function pointer is null",
        ),
        (
            |t| t.decode = None,
            "the table's decode function pointer is null",
        ),
        (
            |t| t.free = None,
            "the table's free function pointer is null",
        ),
        (
            |t| {
                t.encode = None;
                t.free = None;
            },
            "the table's encode, free function pointers are null",
        ),
        (|t| t.name = std::ptr::null(), "name is a null pointer"),
        (
            |t| t.file_extension = std::ptr::null(),
            "file extension is a null pointer",
        ),
    ];
    for (change, expected) in cases {
        let table = table_with(change);
        // SAFETY: a whole table that lives forever; its null fields are what is under test.
        let err = unsafe { backend_from_table(table, Path::new("nulls.so")) }.unwrap_err();
        assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("plugin nulls.so: {expected}"));
    }
}

#[test]
fn a_misaligned_table_pointer_is_refused() {
    // Words are 8-byte aligned, so one byte in is never aligned for the table.
    let words = [0u64; 2 * std::mem::size_of::<PluginTable>() / 8];
    let misaligned = (words.as_ptr() as *const u8).wrapping_add(1) as *const PluginTable;
    // SAFETY: the pointer is refused before anything is read through it.
    let err = unsafe { backend_from_table(misaligned, Path::new("odd.so")) }.unwrap_err();
    assert!(err.to_string().contains("misaligned"), "{err}");
}
