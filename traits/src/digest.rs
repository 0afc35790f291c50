//! [`Digest`]: the name of a key's entry, held inline so the hot path never allocates it.

use std::fmt;
use std::ops::Deref;

use crate::keymaker::KeyError;
use crate::validate::check_digest;

/// The most hex characters a digest may have (a 512-bit hash).
pub const MAX_DIGEST_LEN: usize = 128;

/// A key's digest: 32 to 128 lowercase hex digits, held as packed digits (`Copy`, 65 bytes,
/// no heap).
///
/// A hash's output is kept as it came ([`from_bytes`](Self::from_bytes)); its hex text is
/// written only where a name is made of it ([`text`](Self::text), on the stack, or
/// [`Display`](fmt::Display)).
///
/// ```
/// use bucketcache_traits::Digest;
/// let d = Digest::from_bytes(&[0xab; 16]);
/// assert_eq!(&*d.text(), "abababababababababababababababab");
/// let copy = d; // Copy: no allocation, no clone
/// assert_eq!(copy, d);
/// assert!(Digest::from_hex("not hex").is_err());
/// assert_eq!(Digest::from_hex(&d.text()).unwrap(), d);
/// assert_eq!(d.to_string().len(), d.len());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    /// Hex digits (the packed array's unused tail stays zero, so the derived `Eq` and `Hash`
    /// are those of the text).
    len: u8,
    packed: [u8; MAX_DIGEST_LEN / 2],
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Digest {
    /// The digest whose text is `hex`, refused unless it is 32 to 128 lowercase hex digits
    /// (a keymaker's digest becomes a file name: it must never name a path).
    pub fn from_hex(hex: &str) -> Result<Digest, KeyError> {
        check_digest(hex).map_err(KeyError::Unsupported)?;
        let mut out = Digest {
            len: hex.len() as u8,
            packed: [0; MAX_DIGEST_LEN / 2],
        };
        for (i, b) in hex.bytes().enumerate() {
            // Checked above: `0-9a-f` only.
            let nibble = if b <= b'9' { b - b'0' } else { b - b'a' + 10 };
            out.packed[i / 2] |= if i % 2 == 0 { nibble << 4 } else { nibble };
        }
        Ok(out)
    }

    /// The digest of a hash's output (16 to 64 bytes: 32 to 128 hex digits).
    ///
    /// # Panics
    /// If `bytes` is shorter than 16 or longer than 64 bytes: a hash's output length is a
    /// constant of the keymaker, so this is a bug in it, not bad input.
    pub fn from_bytes(bytes: &[u8]) -> Digest {
        assert!(
            (16..=MAX_DIGEST_LEN / 2).contains(&bytes.len()),
            "a digest is made of 16 to 64 bytes, got {}",
            bytes.len()
        );
        let mut out = Digest {
            len: (bytes.len() * 2) as u8,
            packed: [0; MAX_DIGEST_LEN / 2],
        };
        out.packed[..bytes.len()].copy_from_slice(bytes);
        out
    }

    /// How many hex digits it has (64 for SHA-256, 32 for MD5).
    #[allow(clippy::len_without_is_empty)] // never empty: 32 digits at least
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Its hex text, written on the stack.
    #[inline]
    pub fn text(&self) -> DigestText {
        let mut out = DigestText {
            len: self.len,
            hex: [0; MAX_DIGEST_LEN],
        };
        let used = usize::from(self.len).div_ceil(2);
        for (pair, &b) in out.hex.chunks_exact_mut(2).zip(&self.packed[..used]) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        out
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        *self.text() == *other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        *self.text() == **other
    }
}

impl PartialEq<String> for Digest {
    fn eq(&self, other: &String) -> bool {
        *self.text() == **other
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.text().as_str().to_owned()
    }
}

/// A [`Digest`]'s hex text, on the stack: it reads as a `&str` (`Deref<Target = str>`).
///
/// ```
/// let d = bucketcache_traits::Digest::from_bytes(&[1; 16]);
/// let name = format!("{}.json", &*d.text());
/// assert_eq!(name, format!("{}.json", "01".repeat(16)));
/// ```
#[derive(Clone, Copy)]
pub struct DigestText {
    len: u8,
    hex: [u8; MAX_DIGEST_LEN],
}

impl DigestText {
    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // Written from `HEX` only (ASCII): never fails.
        std::str::from_utf8(&self.hex[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Deref for DigestText {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for DigestText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for DigestText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DigestText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn digest_text_is_the_lowercase_hex_of_its_bytes() {
        let d = Digest::from_bytes(&[0x00, 0x0f, 0xf0, 0xff].repeat(8));
        assert_eq!(d.text().as_str(), "000ff0ff".repeat(8));
        assert_eq!(d.len(), 64);
    }

    #[test]
    fn from_hex_gives_back_the_same_text_odd_lengths_included() {
        for hex in [
            "0123456789abcdef".repeat(2),
            "f".repeat(33),
            "a1".repeat(64),
        ] {
            let d = Digest::from_hex(&hex).unwrap();
            assert_eq!(d.text().as_str(), hex);
            assert_eq!(d, hex);
        }
        assert_ne!(
            Digest::from_hex(&"0".repeat(32)).unwrap(),
            Digest::from_hex(&"0".repeat(33)).unwrap()
        );
    }

    #[test]
    fn from_hex_refuses_what_could_name_a_path() {
        for bad in [
            "../etc/passwd",
            &"A".repeat(32),
            &"a".repeat(31),
            &"a".repeat(129),
        ] {
            assert!(Digest::from_hex(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn equal_texts_are_equal_digests_whichever_way_they_were_made() {
        let bytes = Digest::from_bytes(&[7; 32]);
        let text = Digest::from_hex(&"07".repeat(32)).unwrap();
        assert_eq!(bytes, text);
        assert_eq!(
            HashSet::from([bytes]).len(),
            HashSet::from([bytes, text]).len()
        );
    }

    #[test]
    #[should_panic(expected = "16 to 64 bytes")]
    fn a_hash_output_of_the_wrong_length_is_a_bug() {
        Digest::from_bytes(&[1; 8]);
    }
}
