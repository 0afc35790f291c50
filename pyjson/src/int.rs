//! Decimal integers of up to 128 bits (Python's `int` has no limit, but serde stops there).

/// Room for any 128-bit integer with its sign.
pub(crate) const INT_BUF: usize = 40;

/// "00" to "99", for writing two digits at a time.
static DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Decimal text of an integer, without `fmt` (it is on the hot path of every key).
pub(crate) fn format_int(buf: &mut [u8; INT_BUF], negative: bool, magnitude: u128) -> &[u8] {
    let mut i = INT_BUF;
    if let Ok(mut n) = u64::try_from(magnitude) {
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            i -= 2;
            buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            i -= 2;
            buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            i -= 1;
            buf[i] = b'0' + n as u8;
        }
    } else {
        let mut n = magnitude;
        while n > 0 {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}
