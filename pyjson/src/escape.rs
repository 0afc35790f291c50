//! JSON strings quoted and escaped exactly as Python's `json` does: the short escapes it knows
//! (`\n`, `\"`, ...), `\u00XX` for other control characters and, with `ensure_ascii`, `\uXXXX`
//! in lowercase hex (surrogate pairs beyond the BMP) for DEL and every non-ASCII character.

use std::io::{self, Write};

/// Bytes that need an escape: 1 = always, 2 = only with `ensure_ascii` (DEL and non-ASCII).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if i < 0x20 || i == b'"' as usize || i == b'\\' as usize {
            1
        } else if i >= 0x7f {
            2
        } else {
            0
        };
        i += 1;
    }
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_u_escape<W: Write>(out: &mut W, unit: u16) -> io::Result<()> {
    out.write_all(&[
        b'\\',
        b'u',
        HEX[(unit >> 12) as usize & 0xf],
        HEX[(unit >> 8) as usize & 0xf],
        HEX[(unit >> 4) as usize & 0xf],
        HEX[unit as usize & 0xf],
    ])
}

/// Writes `s` quoted and escaped as Python's `json` does.
pub(crate) fn write_quoted<W: Write>(out: &mut W, s: &str, ensure_ascii: bool) -> io::Result<()> {
    out.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let limit = if ensure_ascii { 2 } else { 1 };
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let class = ESCAPE[b as usize];
        if class == 0 || class > limit {
            i += 1;
            continue;
        }
        if start < i {
            out.write_all(&bytes[start..i])?;
        }
        if b < 0x80 {
            match b {
                b'"' => out.write_all(b"\\\"")?,
                b'\\' => out.write_all(b"\\\\")?,
                b'\n' => out.write_all(b"\\n")?,
                b'\r' => out.write_all(b"\\r")?,
                b'\t' => out.write_all(b"\\t")?,
                0x08 => out.write_all(b"\\b")?,
                0x0c => out.write_all(b"\\f")?,
                _ => write_u_escape(out, u16::from(b))?,
            }
            i += 1;
        } else {
            // `i` is at a char boundary: every byte before it was consumed whole.
            let c = s[i..].chars().next().unwrap_or('\u{fffd}');
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write_u_escape(out, *unit)?;
            }
            i += c.len_utf8();
        }
        start = i;
    }
    if start < bytes.len() {
        out.write_all(&bytes[start..])?;
    }
    out.write_all(b"\"")
}
