//! The key's text, `json.dumps(key, sort_keys=True)` as the original's `DefaultKeyMaker` writes
//! it, built in Rust for the keys most programs use: `str`, `int`, `bool`, `None`, `float`, and
//! lists, tuples and `str`-keyed dicts of them (exact types only). Anything else — a subclass
//! (an `IntEnum`, a `str` subclass), an object the original encodes through its `__dict__`, a
//! dict with keys of other types, a string with a lone surrogate, nesting deeper than
//! [`MAX_DEPTH`] — is not written here: the caller then asks the Python encoder, so the text
//! (and the file name made from it) is the original's in every case.
//!
//! The format is the C encoder's with `ensure_ascii=True`, `sort_keys=True` and the default
//! separators: `"` and `\` escaped, `\n \r \t \b \f` by name, every other character below
//! U+0020 or above U+007E as `\u` and four lowercase hex digits (astral characters as a UTF-16
//! surrogate pair); lists and tuples as `[a, b]`; dicts as `{"k": v, "l": w}`, keys in code point
//! order (which is the byte order of their UTF-8).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Deeper keys are left to the Python encoder (which also detects cycles).
const MAX_DEPTH: usize = 32;

/// The text of `key`, or `None` when the key is not one this module writes.
pub(crate) fn text(key: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(64);
    Ok(write_value(key, &mut out, 0)?.then_some(out))
}

fn write_value(v: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<bool> {
    if depth > MAX_DEPTH {
        return Ok(false);
    }
    if let Ok(s) = v.downcast_exact::<PyString>() {
        return write_str(s, out);
    }
    if v.is_none() {
        out.extend_from_slice(b"null");
        return Ok(true);
    }
    if let Ok(b) = v.downcast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        return Ok(true);
    }
    if v.downcast_exact::<PyInt>().is_ok() {
        match v.extract::<i64>() {
            Ok(i) => out.extend_from_slice(i.to_string().as_bytes()),
            // Beyond 64 bits: `int.__repr__`, which is what the encoder writes.
            Err(_) => out.extend_from_slice(v.repr()?.to_cow()?.as_bytes()),
        }
        return Ok(true);
    }
    if let Ok(f) = v.downcast_exact::<PyFloat>() {
        // The encoder writes `float.__repr__`, and the names `allow_nan` gives the others.
        let x = f.value();
        if x.is_nan() {
            out.extend_from_slice(b"NaN");
        } else if x.is_infinite() {
            out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
        } else {
            out.extend_from_slice(v.repr()?.to_cow()?.as_bytes());
        }
        return Ok(true);
    }
    if let Ok(t) = v.downcast_exact::<PyTuple>() {
        return write_items(t.iter(), out, depth);
    }
    if let Ok(l) = v.downcast_exact::<PyList>() {
        return write_items(l.iter(), out, depth);
    }
    if let Ok(d) = v.downcast_exact::<PyDict>() {
        return write_dict(d, out, depth);
    }
    Ok(false)
}

fn write_items<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> PyResult<bool> {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        if !write_value(&item, out, depth + 1)? {
            return Ok(false);
        }
    }
    out.push(b']');
    Ok(true)
}

fn write_dict(d: &Bound<'_, PyDict>, out: &mut Vec<u8>, depth: usize) -> PyResult<bool> {
    let mut entries = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let Ok(k) = k.downcast_exact::<PyString>() else {
            return Ok(false); // other key types are converted and sorted by Python's rules
        };
        let Ok(text) = k.to_cow() else {
            return Ok(false); // a lone surrogate: the encoder escapes it, UTF-8 cannot hold it
        };
        entries.push((text.into_owned(), v));
    }
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        escape(k, out);
        out.extend_from_slice(b": ");
        if !write_value(v, out, depth + 1)? {
            return Ok(false);
        }
    }
    out.push(b'}');
    Ok(true)
}

fn write_str(s: &Bound<'_, PyString>, out: &mut Vec<u8>) -> PyResult<bool> {
    match s.to_cow() {
        Ok(text) => {
            escape(&text, out);
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

/// `"` + the text, escaped as `ensure_ascii=True` does + `"`.
fn escape(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let unit = |out: &mut Vec<u8>, u: u16| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[usize::from((u >> shift) & 0xf)]);
        }
    };
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    unit(out, *u);
                }
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::escape;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_is_escaped_as_ensure_ascii_does() {
        assert_eq!(escaped("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(escaped("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(escaped("\u{1}\u{1f}\u{7f}"), r#""\u0001\u001f\u007f""#);
        assert_eq!(escaped("é☃"), r#""\u00e9\u2603""#);
        assert_eq!(escaped("😀"), r#""\ud83d\ude00""#);
        assert_eq!(escaped(" ~"), r#"" ~""#);
    }
}
