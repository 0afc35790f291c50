//! Property tests: arbitrary and mutated input never panics; values round-trip.

use super::fixtures::Pictured;
use super::malformed::hostile;
use super::*;
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let b = backend();
        let _ = b.decode(&bytes).map(|d| d.expiration);
        let _ = dec::<IgnoredAny>(&bytes);
        let _ = dec::<Value>(&bytes);
    }

    #[test]
    fn arbitrary_values_inside_a_valid_envelope_never_panic(
        value in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let bytes = hostile(&value);
        let b = backend();
        if b.decode(&bytes).map(|d| d.expiration).is_ok() {
            // A structurally valid value is exactly one object.
            prop_assert!(dec::<IgnoredAny>(&bytes).is_ok());
        }
        let _ = dec::<Pictured>(&bytes);
        let _ = dec::<Vec<Shape>>(&bytes);
    }

    /// Where rmp_serde agrees with Python (no f32, no i128, no enums), the bytes are equal.
    #[test]
    fn value_bytes_agree_with_rmp_serde(
        ints in proptest::collection::vec(any::<i64>(), 0..20),
        uints in proptest::collection::btree_map(".{0,40}", any::<u64>(), 0..20),
        f in any::<f64>(), s in ".{0,300}", flag in any::<Option<bool>>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let value = (ints, uints, f, s, flag, serde_bytes::ByteBuf::from(bytes));
        let theirs = rmp_serde::to_vec_named(&value).unwrap();
        prop_assert_eq!(value_bytes(&backend(), &value), theirs);
    }

    #[test]
    fn mutated_files_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>(), insert in any::<bool>()) {
        let b = backend();
        let value = (record(), vec![Shape::Rect(1, 2), Shape::Named { label: "n".into() }]);
        let e = parse_expiration("2100-01-01T00:00:00.5").unwrap();
        let mut bytes = (&b as &dyn Backend).encode(&value, Some(e)).unwrap();
        let i = at.index(bytes.len());
        if insert { bytes.insert(i, byte) } else { bytes[i] = byte }
        if b.decode(&bytes).map(|d| d.expiration).is_ok() {
            prop_assert!(dec::<IgnoredAny>(&bytes).is_ok());
        }
        let _ = dec::<Pictured>(&bytes);
        let _ = dec::<(Person, Vec<Shape>)>(&bytes);
    }

    #[test]
    fn encoded_values_round_trip(
        n in any::<i64>(), u in any::<u64>(), f in any::<f64>().prop_filter("nan", |f| !f.is_nan()),
        s in ".{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let b = backend();
        let value = (n, u, f, s, serde_bytes::ByteBuf::from(bytes));
        let out = enc(&b, &value).unwrap();
        prop_assert_eq!(b.decode(&out).map(|d| d.expiration).unwrap(), None);
        let back: (i64, u64, f64, String, serde_bytes::ByteBuf) = dec(&out).unwrap();
        prop_assert_eq!(back, value);
    }
}
