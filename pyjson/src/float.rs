//! Python's `float.__repr__`: the shortest digits that read back as the same double (from
//! `ryu`), laid out as Python lays them out (`1e+16`, `1e-05`, `100.0`, `-0.0`).

use std::fmt::{self, Write as _};

use crate::Error;

/// A fixed buffer for number text, so numbers are formatted without allocating.
pub(crate) struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    pub(crate) fn new() -> Self {
        StackBuf {
            buf: [0; 64],
            len: 0,
        }
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn push(&mut self, bytes: &[u8]) -> fmt::Result {
        let end = self.len + bytes.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes())
    }
}

/// Writes `v` as Python's `float.__repr__` (or `NaN`/`Infinity`/`-Infinity`, as `json` does).
pub(crate) fn format_float(out: &mut StackBuf, v: f64, allow_nan: bool) -> Result<(), Error> {
    let too_long = |_| Error::Custom("float text too long".into());
    if !v.is_finite() {
        if !allow_nan {
            return Err(Error::NonFinite(v));
        }
        let text: &[u8] = if v.is_nan() {
            b"NaN"
        } else if v > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        };
        return out.push(text).map_err(too_long);
    }
    // ryu gives the shortest round-trip digits, as Python's repr does; only the layout differs
    // (ryu writes e.g. "1e16", "0.0001", "1.2345e-7", "-0.0"). Extract the significant digits
    // and the exponent, then lay them out as Python does.
    let mut ryu_buf = ryu::Buffer::new();
    let text = ryu_buf.format_finite(v).as_bytes();
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let exp10: i32 = std::str::from_utf8(text.get(e_at + 1..).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mantissa = &text[..e_at];
    let int_len = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    let mut digits = [0u8; 32];
    let mut n = 0;
    // Where the decimal point sits after the first significant digit's position is counted.
    let mut point = int_len as i32 + exp10;
    for &b in mantissa {
        if b == b'.' {
            continue;
        }
        if n == 0 && b == b'0' {
            point -= 1; // a leading zero
            continue;
        }
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    if n == 0 {
        // Zero (either sign).
        digits[0] = b'0';
        n = 1;
        point = 1;
    }
    let digits = &digits[..n];
    let exp = point - 1;
    if negative {
        out.push(b"-").map_err(too_long)?;
    }
    if !(-4..16).contains(&exp) {
        out.push(&digits[..1]).map_err(too_long)?;
        if digits.len() > 1 {
            out.push(b".").map_err(too_long)?;
            out.push(&digits[1..]).map_err(too_long)?;
        }
        let sign = if exp < 0 { '-' } else { '+' };
        write!(out, "e{sign}{:02}", exp.unsigned_abs()).map_err(too_long)?;
        return Ok(());
    }
    if point <= 0 {
        out.push(b"0.").map_err(too_long)?;
        for _ in 0..-point {
            out.push(b"0").map_err(too_long)?;
        }
        out.push(digits).map_err(too_long)?;
    } else {
        let point = point as usize;
        if point >= digits.len() {
            out.push(digits).map_err(too_long)?;
            for _ in digits.len()..point {
                out.push(b"0").map_err(too_long)?;
            }
            out.push(b".0").map_err(too_long)?;
        } else {
            out.push(&digits[..point]).map_err(too_long)?;
            out.push(b".").map_err(too_long)?;
            out.push(&digits[point..]).map_err(too_long)?;
        }
    }
    Ok(())
}
