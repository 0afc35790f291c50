//! Encoding rules: integer, float, string and container encodings, structs, enums, expirations.

use super::*;

#[test]
fn integers_take_the_smallest_encoding() {
    let b = backend();
    let cases: &[(i64, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7f]),
        (128, &[0xcc, 0x80]),
        (255, &[0xcc, 0xff]),
        (256, &[0xcd, 0x01, 0x00]),
        (65535, &[0xcd, 0xff, 0xff]),
        (65536, &[0xce, 0, 1, 0, 0]),
        (1 << 32, &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
        (-1, &[0xff]),
        (-32, &[0xe0]),
        (-33, &[0xd0, 0xdf]),
        (-128, &[0xd0, 0x80]),
        (-129, &[0xd1, 0xff, 0x7f]),
        (-32768, &[0xd1, 0x80, 0x00]),
        (-32769, &[0xd2, 0xff, 0xff, 0x7f, 0xff]),
        (-(1 << 31), &[0xd2, 0x80, 0, 0, 0]),
        (
            -(1 << 31) - 1,
            &[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
        ),
    ];
    for (n, want) in cases {
        assert_eq!(value_bytes(&b, n), *want, "{n}");
        assert_eq!(value_bytes(&b, &i128::from(*n)), *want, "{n} as i128");
        assert_eq!(dec::<i64>(&enc(&b, n).unwrap()).unwrap(), *n);
    }
    // Signed Rust types still use the uint family for non-negative values, as Python does.
    assert_eq!(value_bytes(&b, &200i16), [0xcc, 200]);
    assert_eq!(
        value_bytes(&b, &u64::MAX),
        [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(value_bytes(&b, &u128::from(u64::MAX)).len(), 9);
}

#[test]
fn integers_beyond_64_bits_cannot_be_encoded() {
    let b = backend();
    for err in [
        enc(&b, &(u128::from(u64::MAX) + 1)).unwrap_err(),
        enc(&b, &(i128::from(i64::MIN) - 1)).unwrap_err(),
    ] {
        assert!(matches!(err, BackendError::Encode(_)), "{err}");
    }
}

#[test]
fn a_failed_dump_leaves_the_buffer_as_it_was() {
    let mut out = b"before".to_vec();
    let r = backend().dump(&vec![1u128, u128::MAX], None, &mut out);
    assert!(r.is_err());
    assert_eq!(out, b"before");
}

#[test]
fn floats_are_float64_unless_single_float_is_asked() {
    let b = backend();
    assert_eq!(
        value_bytes(&b, &1.5f32),
        [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(value_bytes(&b, &1.5f64)[0], 0xcb);
    let single = MsgpackBackend::new(MsgpackConfig::default().use_single_float(true)).unwrap();
    assert_eq!(value_bytes(&single, &1.5f64), [0xca, 0x3f, 0xc0, 0, 0]);
    assert_eq!(dec::<f64>(&enc(&single, &1.5f64).unwrap()).unwrap(), 1.5);
    // As Python: a finite float beyond float32's range is an error, infinity is not.
    assert!(matches!(enc(&single, &1e300), Err(BackendError::Encode(_))));
    assert_eq!(
        value_bytes(&single, &f64::INFINITY),
        [0xca, 0x7f, 0x80, 0, 0]
    );
}

#[test]
fn strings_and_bytes_use_the_str_and_bin_families() {
    let b = backend();
    let s31 = "x".repeat(31);
    let s40 = "x".repeat(40);
    let s300 = "x".repeat(300);
    let s70k = "x".repeat(70_000);
    assert_eq!(value_bytes(&b, &s31)[0], 0xbf);
    assert_eq!(value_bytes(&b, &s40)[..2], [0xd9, 40]);
    assert_eq!(value_bytes(&b, &s300)[..3], [0xda, 0x01, 0x2c]);
    assert_eq!(value_bytes(&b, &s70k)[..5], [0xdb, 0, 1, 0x11, 0x70]);
    assert_eq!(value_bytes(&b, &'é'), [0xa2, 0xc3, 0xa9]);
    let bytes = serde_bytes::Bytes::new(&[1, 2, 3]);
    assert_eq!(value_bytes(&b, bytes), [0xc4, 3, 1, 2, 3]);
    assert_eq!(
        value_bytes(&b, serde_bytes::Bytes::new(&[0; 300]))[..3],
        [0xc5, 1, 0x2c]
    );
    let back: serde_bytes::ByteBuf = dec(&enc(&b, bytes).unwrap()).unwrap();
    assert_eq!(back.as_ref(), [1, 2, 3]);
    let back: String = dec(&enc(&b, &s300).unwrap()).unwrap();
    assert_eq!(back, s300);
}

#[test]
fn without_bin_type_bytes_are_raw_strings_and_str8_is_not_used() {
    let raw = MsgpackBackend::new(MsgpackConfig::default().use_bin_type(false)).unwrap();
    let s40 = "x".repeat(40);
    assert_eq!(value_bytes(&raw, &s40)[..3], [0xda, 0, 40]);
    assert_eq!(
        value_bytes(&raw, serde_bytes::Bytes::new(&[1, 2])),
        [0xa2, 1, 2]
    );
    let back: serde_bytes::ByteBuf =
        dec(&enc(&raw, serde_bytes::Bytes::new(b"ab")).unwrap()).unwrap();
    assert_eq!(back.as_ref(), b"ab");
}

#[test]
fn structs_are_maps_in_declaration_order() {
    let b = backend();
    let p = Person {
        name: "Ada".into(),
        age: 36,
        email: None,
        tags: vec!["x".into()],
    };
    let bytes = value_bytes(&b, &p);
    let mut want = vec![0x83, 0xa4];
    want.extend_from_slice(b"name\xa3Ada\xa3age\x24\xa4tags\x91\xa1x");
    assert_eq!(bytes, want);
    assert_eq!(dec::<Person>(&enc(&b, &p).unwrap()).unwrap(), p);
}

/// A map that does not say its length up front.
struct Unsized(usize);

impl Serialize for Unsized {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for i in 0..self.0 {
            m.serialize_entry(&i, &(i % 3 == 0))?;
        }
        m.end()
    }
}

#[test]
fn maps_of_unknown_length_get_the_smallest_header() {
    let b = backend();
    assert_eq!(value_bytes(&b, &Unsized(0)), [0x80]);
    assert_eq!(
        value_bytes(&b, &Unsized(3)),
        [0x83, 0, 0xc3, 1, 0xc2, 2, 0xc2]
    );
    let big = value_bytes(&b, &[Unsized(20)]);
    assert_eq!(big[..4], [0x91, 0xde, 0, 20]);
    let back: Vec<BTreeMap<u32, bool>> = dec(&enc(&b, &[Unsized(20)]).unwrap()).unwrap();
    assert_eq!(back[0].len(), 20);
    assert!(back[0][&18]);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Marker;

#[test]
fn types_with_a_compact_form_round_trip() {
    // The writer and rmp_serde's reader agree that msgpack is not human readable.
    let b = backend();
    let addrs: Vec<std::net::IpAddr> = vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let back: Vec<std::net::IpAddr> = dec(&enc(&b, &addrs).unwrap()).unwrap();
    assert_eq!(back, addrs);
    let d = Duration::new(5, 7);
    assert_eq!(dec::<Duration>(&enc(&b, &d).unwrap()).unwrap(), d);
}

#[test]
fn enums_options_and_unit_round_trip() {
    let b = backend();
    assert_eq!(value_bytes(&b, &Shape::Empty), b"\xa5Empty");
    assert_eq!(
        value_bytes(&b, &Shape::Rect(1, 2)),
        b"\x81\xa4Rect\x92\x01\x02"
    );
    let shapes = vec![
        Shape::Empty,
        Shape::Circle(0.5),
        Shape::Rect(3, 4),
        Shape::Named { label: "n".into() },
    ];
    assert_eq!(
        dec::<Vec<Shape>>(&enc(&b, &shapes).unwrap()).unwrap(),
        shapes
    );
    assert_eq!(value_bytes(&b, &None::<u8>), [0xc0]);
    assert_eq!(value_bytes(&b, &()), [0xc0]);
    assert_eq!(value_bytes(&b, &Marker), [0xc0]);
    assert_eq!(dec::<Marker>(&enc(&b, &Marker).unwrap()).unwrap(), Marker);
    assert_eq!(
        dec::<Option<u8>>(&enc(&b, &Some(3u8)).unwrap()).unwrap(),
        Some(3)
    );
    let m = HashMap::from([(-5i64, "neg".to_string()), (7, "pos".into())]);
    assert_eq!(
        dec::<HashMap<i64, String>>(&enc(&b, &m).unwrap()).unwrap(),
        m
    );
}

#[test]
fn expirations_are_written_as_python_isoformat() {
    let b = backend();
    let e = parse_expiration("2100-01-01T00:00:00.123456").unwrap();
    let bytes = (&b as &dyn Backend).encode("this", Some(e)).unwrap();
    assert!(bytes.ends_with(b"\xba2100-01-01T00:00:00.123456"));
    assert_eq!(b.decode(&bytes).map(|d| d.expiration).unwrap(), Some(e));
    let e0 = parse_expiration("2100-01-01T00:00:00").unwrap();
    let bytes = (&b as &dyn Backend).encode("this", Some(e0)).unwrap();
    assert!(bytes.ends_with(b"\xb32100-01-01T00:00:00"));
}
