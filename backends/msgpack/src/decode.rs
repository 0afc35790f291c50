//! Reading the envelope without building the value: a bounded structural scan.
//!
//! The envelope is a map of exactly two entries, `"value"` and `"expiration_date"`, in any order
//! (Python 2 wrote them in hash order), followed by nothing: Python's `unpack` raises `ExtraData`
//! on trailing bytes. The value is skipped over structurally to find its byte span; the scan uses
//! no recursion, allocates at most one small stack of counters (bounded by [`MAX_DEPTH`]) and
//! refuses a declared length as soon as it exceeds the bytes left, so hostile headers
//! (`dd ffffffff`) cost nothing.
//!
//! Python 2's BucketCache wrote every `str` as bin (`c4`), the envelope keys and the expiration
//! included. Python 3's reads those files as a miss (`KeyError('value')`); this reader accepts
//! bin keys and a bin expiration instead, because the files are otherwise valid and their values
//! decode fine (a bin holding UTF-8 deserializes into a `String`).

use crate::MAX_DEPTH;

/// The parts of a structurally valid envelope.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    /// The encoded value, exactly one msgpack object.
    pub(crate) value: &'a [u8],
    /// The raw expiration: `None` for nil, else the bytes of the str (or bin).
    pub(crate) expiration: Option<&'a [u8]>,
}

type Result<T> = std::result::Result<T, String>;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(format!(
                "truncated: {n} bytes needed at offset {}, {} left",
                self.pos,
                self.left()
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// Reads a str or bin object and returns its bytes; `what` names it in errors.
    fn text(&mut self, what: &str) -> Result<&'a [u8]> {
        let at = self.pos;
        let marker = self.u8()?;
        let len = match marker {
            0xa0..=0xbf => u64::from(marker & 0x1f),
            0xd9 | 0xc4 => self.be(1)?,
            0xda | 0xc5 => self.be(2)?,
            0xdb | 0xc6 => self.be(4)?,
            _ => {
                return Err(format!(
                    "{what} at offset {at} is not a string (marker 0x{marker:02x})"
                ))
            }
        };
        self.take(usize::try_from(len).map_err(|_| "length overflows".to_string())?)
    }

    /// Reads one object's header and skips its payload. Returns the number of objects that
    /// follow as its contents (elements, or keys plus values for a map); 0 for a scalar.
    fn item(&mut self) -> Result<u64> {
        let at = self.pos;
        let marker = self.u8()?;
        let payload: u64 = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
            0x80..=0x8f => return Ok(2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => return Ok(u64::from(marker & 0x0f)),
            0xa0..=0xbf => u64::from(marker & 0x1f),
            0xc1 => return Err(format!("invalid marker 0xc1 at offset {at}")),
            0xc4 | 0xd9 => self.be(1)?,
            0xc5 | 0xda => self.be(2)?,
            0xc6 | 0xdb => self.be(4)?,
            0xc7 => self.be(1)? + 1,
            0xc8 => self.be(2)? + 1,
            0xc9 => self.be(4)? + 1,
            0xca => 4,
            0xcb => 8,
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xce | 0xd2 => 4,
            0xcf | 0xd3 => 8,
            0xd4 => 2,
            0xd5 => 3,
            0xd6 => 5,
            0xd7 => 9,
            0xd8 => 17,
            0xdc => return self.be(2),
            0xdd => return self.be(4),
            0xde => return Ok(2 * self.be(2)?),
            0xdf => return Ok(2 * self.be(4)?),
        };
        self.take(usize::try_from(payload).map_err(|_| "length overflows".to_string())?)?;
        Ok(0)
    }

    /// Skips exactly one object (with everything nested in it) and returns its bytes.
    fn skip_value(&mut self) -> Result<&'a [u8]> {
        let start = self.pos;
        // Objects still expected by each open container, innermost last.
        let mut open: Vec<u64> = Vec::new();
        loop {
            let at = self.pos;
            let contents = self.item()?;
            if contents > 0 {
                // Every object takes at least one byte: a longer declaration is a lie.
                if contents > self.left() as u64 {
                    return Err(format!(
                        "container at offset {at} declares {contents} objects but only {} bytes are left",
                        self.left()
                    ));
                }
                if open.len() >= MAX_DEPTH {
                    return Err(format!(
                        "value nests deeper than {MAX_DEPTH} levels (offset {at})"
                    ));
                }
                open.push(contents);
                continue;
            }
            // One object is complete; close every container it completes.
            loop {
                match open.last_mut() {
                    None => return Ok(&self.bytes[start..self.pos]),
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        open.pop();
                    }
                }
            }
        }
    }
}

/// Checks the whole envelope and returns its parts.
pub(crate) fn envelope(bytes: &[u8]) -> Result<Envelope<'_>> {
    let mut r = Reader { bytes, pos: 0 };
    let marker = r.u8().map_err(|_| "empty input".to_string())?;
    let entries = match marker {
        0x80..=0x8f => u64::from(marker & 0x0f),
        0xde => r.be(2)?,
        0xdf => r.be(4)?,
        _ => return Err(format!("not a map (marker 0x{marker:02x})")),
    };
    if entries != 2 {
        return Err(format!(
            "the envelope has {entries} entries; expected value and expiration_date"
        ));
    }
    let mut value = None;
    let mut expiration = None;
    for _ in 0..2 {
        let key = r.text("an envelope key")?;
        match key {
            b"value" if value.is_none() => value = Some(r.skip_value()?),
            b"expiration_date" if expiration.is_none() => {
                expiration = Some(if r.bytes.get(r.pos) == Some(&0xc0) {
                    r.pos += 1;
                    None
                } else {
                    Some(r.text("expiration_date")?)
                });
            }
            _ => {
                return Err(format!(
                    "unexpected envelope key {:?}",
                    String::from_utf8_lossy(key)
                ))
            }
        }
    }
    if r.left() > 0 {
        return Err(format!(
            "{} trailing bytes after the envelope (Python: ExtraData)",
            r.left()
        ));
    }
    match (value, expiration) {
        (Some(value), Some(expiration)) => Ok(Envelope { value, expiration }),
        // Two distinct keys were read, each at most once, so both are present.
        _ => Err("the envelope lacks value or expiration_date".into()),
    }
}
