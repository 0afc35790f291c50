//! Malformed envelopes, truncations, huge lengths and deep nesting.

use super::*;

/// An envelope with these raw parts.
fn envelope(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const VALUE: &[u8] = b"\xa5value";
const EXP: &[u8] = b"\xafexpiration_date";

#[test]
fn envelope_keys_may_come_in_any_order_and_any_width() {
    let b = backend();
    let swapped = envelope(&[b"\x82", EXP, b"\xc0", VALUE, b"\x01"]);
    assert_eq!(b.decode(&swapped).map(|d| d.expiration).unwrap(), None);
    assert_eq!(dec::<u8>(&swapped).unwrap(), 1);
    let wide = envelope(&[b"\xde\x00\x02\xd9\x05value\x01", EXP, b"\xc0"]);
    assert_eq!(dec::<u8>(&wide).unwrap(), 1);
}

#[test]
fn malformed_envelopes_are_decode_errors() {
    let b = backend();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not a map", b"\x92\x01\xc0".to_vec()),
        ("one entry", envelope(&[b"\x81", VALUE, b"\x01"])),
        (
            "three entries",
            envelope(&[b"\x83", VALUE, b"\x01", EXP, b"\xc0", b"\xa1x\x01"]),
        ),
        (
            "duplicate key",
            envelope(&[b"\x82", VALUE, b"\x01", VALUE, b"\x01"]),
        ),
        (
            "foreign key",
            envelope(&[b"\x82", VALUE, b"\x01", b"\xa4date\xc0"]),
        ),
        ("int key", envelope(&[b"\x82", VALUE, b"\x01", b"\x01\xc0"])),
        (
            "trailing bytes",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xc0\x00"]),
        ),
        (
            "int expiration",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\x01"]),
        ),
        (
            "empty expiration",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xa0"]),
        ),
        (
            "tz-aware",
            envelope(&[
                b"\x82",
                VALUE,
                b"\x01",
                EXP,
                b"\xb92100-01-01T00:00:00+01:00",
            ]),
        ),
        (
            "garbage date",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xa8tomorrow"]),
        ),
        (
            "invalid utf-8 date",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xa2\xff\xfe"]),
        ),
        (
            "reserved marker",
            envelope(&[b"\x82", VALUE, b"\xc1", EXP, b"\xc0"]),
        ),
    ];
    for (what, bytes) in bad {
        assert!(
            matches!(
                b.decode(&bytes).map(|d| d.expiration),
                Err(BackendError::Decode(_))
            ),
            "{what}"
        );
    }
}

#[test]
fn every_truncation_is_an_error() {
    let b = backend();
    let value = (
        Person {
            name: "Grace".into(),
            age: 85,
            email: Some("g@example.com".into()),
            tags: vec!["navy".into(); 3],
        },
        serde_bytes::ByteBuf::from(vec![7u8; 40]),
        vec![1.5f64, -2.0],
        Shape::Named {
            label: "x".repeat(300),
        },
        u64::MAX,
        i64::MIN,
    );
    let e = parse_expiration("2100-01-01T00:00:00.5").unwrap();
    let whole = (&b as &dyn Backend).encode(&value, Some(e)).unwrap();
    assert_eq!(b.decode(&whole).map(|d| d.expiration).unwrap(), Some(e));
    for cut in 0..whole.len() {
        assert!(
            b.decode(&whole[..cut]).map(|d| d.expiration).is_err(),
            "prefix of {cut}"
        );
        assert!(dec::<IgnoredAny>(&whole[..cut]).is_err(), "prefix of {cut}");
    }
}

/// `value` (raw bytes) as the value of an otherwise valid envelope.
pub(super) fn hostile(value: &[u8]) -> Vec<u8> {
    envelope(&[b"\x82", VALUE, value, EXP, b"\xc0"])
}

#[test]
fn huge_declared_lengths_fail_fast_without_allocating() {
    let b = backend();
    let started = Instant::now();
    for value in [
        &b"\xdd\xff\xff\xff\xff"[..],
        b"\xdf\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff",
        b"\xc9\xff\xff\xff\xff\x01",
        b"\xdc\xff\xff\x01",
        b"\x9f\x01",
    ] {
        let bytes = hostile(value);
        assert!(b.decode(&bytes).map(|d| d.expiration).is_err(), "{value:?}");
        assert!(dec::<Value>(&bytes).is_err(), "{value:?}");
        assert!(dec::<Vec<u8>>(&bytes).is_err(), "{value:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut v = vec![0x91; depth];
    v.push(0x01);
    v
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let b = backend();
    let started = Instant::now();
    let deep = hostile(&nested_arrays(100_000));
    assert!(matches!(
        b.decode(&deep).map(|d| d.expiration),
        Err(BackendError::Decode(_))
    ));
    assert!(dec::<Value>(&deep).is_err());
    assert!(hostile(&nested_arrays(MAX_DEPTH + 1)).len() > MAX_DEPTH);
    assert!(b.decode(&hostile(&nested_arrays(MAX_DEPTH + 1))).is_err());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn nesting_up_to_the_limit_round_trips() {
    let b = backend();
    let ok = hostile(&nested_arrays(MAX_DEPTH));
    assert_eq!(b.decode(&ok).map(|d| d.expiration).unwrap(), None);
    // Decode on a thread with a known stack: serde recursion is the value's own.
    let v = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || dec::<IgnoredAny>(&ok).is_ok())
        .unwrap()
        .join()
        .unwrap();
    assert!(v);
}

/// `n` nested one-element arrays around a `1`, or around an enum variant when `variant` is set.
struct Deep(usize, bool);

impl Serialize for Deep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(1))?;
        if self.0 > 1 {
            seq.serialize_element(&Deep(self.0 - 1, self.1))?;
        } else if self.1 {
            seq.serialize_element(&Shape::Circle(1.0))?;
        } else {
            seq.serialize_element(&1u8)?;
        }
        seq.end()
    }
}

#[test]
fn values_deeper_than_the_limit_are_not_written() {
    let b = backend();
    let at_limit = enc(&b, &Deep(MAX_DEPTH, false)).unwrap();
    assert_eq!(b.decode(&at_limit).map(|d| d.expiration).unwrap(), None);
    assert!(matches!(
        enc(&b, &Deep(MAX_DEPTH + 1, false)),
        Err(BackendError::Encode(_))
    ));
    // An enum variant's `{name: data}` wrapper counts as a level, when written and when read.
    let at_limit = enc(&b, &Deep(MAX_DEPTH - 1, true)).unwrap();
    assert_eq!(b.decode(&at_limit).map(|d| d.expiration).unwrap(), None);
    assert!(enc(&b, &Deep(MAX_DEPTH, true)).is_err());
}
