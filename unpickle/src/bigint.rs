//! Python ints that do not fit 128 bits: kept as written, turned into decimal text on demand.

use crate::error::PickleError;

/// Largest integer (in bytes of two's complement) handed out as decimal text. Python itself
/// refuses to print ints of more than 4300 digits by default; this is about 19 700 digits.
pub const MAX_DECIMAL_BYTES: usize = 8192;

/// An integer too large for `i128`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BigInt {
    /// Little-endian two's complement (`LONG1`/`LONG4`).
    TwosComplement(Vec<u8>),
    /// Canonical decimal text: optional `-`, digits without leading zeros (`LONG`, `INT`).
    Decimal(String),
}

/// Reads little-endian two's complement bytes as `i128` when they fit.
pub fn le_to_i128(bytes: &[u8]) -> Option<i128> {
    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0 };
    // Bytes beyond 16 must be pure sign extension.
    if bytes.len() > 16 {
        let (low, high) = bytes.split_at(16);
        if high.iter().any(|&b| b != fill) || (low[15] & 0x80 != 0) != negative {
            return None;
        }
        return le_to_i128(low);
    }
    let mut buf = [fill; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    Some(i128::from_le_bytes(buf))
}

impl BigInt {
    /// The value as `u128`, if it is non-negative and fits.
    pub fn to_u128(&self) -> Option<u128> {
        match self {
            BigInt::TwosComplement(b) => {
                let negative = b.last().is_some_and(|x| x & 0x80 != 0);
                if negative || b.iter().skip(16).any(|&x| x != 0) {
                    return None;
                }
                let mut buf = [0u8; 16];
                let n = b.len().min(16);
                buf[..n].copy_from_slice(&b[..n]);
                Some(u128::from_le_bytes(buf))
            }
            BigInt::Decimal(d) => d.parse().ok(),
        }
    }

    /// The value as decimal text, as Python's `str(int)`.
    pub fn to_decimal(&self) -> Result<String, PickleError> {
        let bytes = match self {
            BigInt::Decimal(d) => return Ok(d.clone()),
            BigInt::TwosComplement(b) => b,
        };
        if bytes.len() > MAX_DECIMAL_BYTES {
            return Err(PickleError::Value(format!(
                "integer of {} bytes is too large to hand out",
                bytes.len()
            )));
        }
        let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
        let mut mag = bytes.to_vec();
        if negative {
            // Two's complement negation: invert and add one.
            let mut carry = true;
            for b in mag.iter_mut() {
                let (v, c) = (!*b).overflowing_add(u8::from(carry));
                *b = v;
                carry = c;
            }
        }
        // Little-endian u32 limbs, divided repeatedly by 10^9.
        let mut limbs: Vec<u32> = mag
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect();
        let mut chunks = Vec::new();
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        while !limbs.is_empty() {
            let mut rem: u64 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = rem << 32 | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        match chunks.split_last() {
            None => out.push('0'),
            Some((first, rest)) => {
                out.push_str(&first.to_string());
                for c in rest.iter().rev() {
                    out.push_str(&format!("{c:09}"));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_fit_i128() {
        assert_eq!(le_to_i128(&[]), Some(0));
        assert_eq!(le_to_i128(&[0xff]), Some(-1));
        assert_eq!(le_to_i128(&[0x00, 0x80]), Some(-32768));
        let mut b = vec![0u8; 16];
        b.push(1);
        assert_eq!(le_to_i128(&b), None);
        let mut neg = vec![0xffu8; 20];
        neg[0] = 0xfe;
        assert_eq!(le_to_i128(&neg), Some(-2));
    }

    #[test]
    fn big_values_print_as_python_does() {
        // 2**128 and -(2**128)
        let mut b = vec![0u8; 16];
        b.push(1);
        let big = BigInt::TwosComplement(b);
        assert_eq!(
            big.to_decimal().unwrap(),
            "340282366920938463463374607431768211456"
        );
        let mut n = vec![0u8; 16];
        n.push(0xff);
        assert_eq!(
            BigInt::TwosComplement(n).to_decimal().unwrap(),
            "-340282366920938463463374607431768211456"
        );
        assert_eq!(big.to_u128(), None);
    }

    #[test]
    fn huge_values_are_refused_not_computed() {
        let b = BigInt::TwosComplement(vec![1; MAX_DECIMAL_BYTES + 1]);
        assert!(b.to_decimal().is_err());
    }
}
