//! Whatever the writer writes, the reader reads back to the same Rust value.

use std::collections::BTreeMap;

use bucketcache_core::time::parse_expiration;
use bucketcache_core::Backend;
use bucketcache_pickle::{from_slice, to_vec, PickleBackend, PickleConfig};
use proptest::prelude::*;

/// One element of the nested proptest value.
type Row = (i32, String, Option<bool>, BTreeMap<i16, String>);

fn backends() -> [PickleBackend; 2] {
    [
        PickleBackend::default(),
        PickleBackend::new(PickleConfig::protocol(3)).unwrap(),
    ]
}

#[test]
fn batched_lists_and_dicts_round_trip() {
    for n in [0usize, 1, 2, 999, 1000, 1001, 2000, 2500] {
        let list: Vec<u32> = (0..n as u32).collect();
        let dict: BTreeMap<String, u32> = (0..n as u32).map(|i| (i.to_string(), i)).collect();
        for p in backends() {
            let b: &dyn Backend = &p;
            let bytes = b.encode(&(&list, &dict), None).unwrap();
            let back: (Vec<u32>, BTreeMap<String, u32>) = b.decode_value(&bytes).unwrap();
            assert_eq!(back, (list.clone(), dict.clone()), "n = {n}");
        }
    }
}

#[test]
fn long_tuples_and_memo_ids_past_255_round_trip() {
    let v: Vec<(u8, String, u8, u8, u8)> = (0..300u16)
        .map(|i| ((i % 256) as u8, format!("s{i}"), 1, 2, 3))
        .collect();
    let bytes = to_vec(&v, 2).unwrap();
    assert_eq!(
        from_slice::<Vec<(u8, String, u8, u8, u8)>>(&bytes).unwrap(),
        v
    );
}

proptest! {
    #[test]
    fn integers_round_trip(a in any::<i128>(), b in any::<u128>(), c in any::<i64>(), d in any::<u64>()) {
        for p in 2..=3 {
            let bytes = to_vec(&(a, b, c, d), p).unwrap();
            prop_assert_eq!(from_slice::<(i128, u128, i64, u64)>(&bytes).unwrap(), (a, b, c, d));
        }
    }

    #[test]
    fn text_floats_and_bytes_round_trip(
        s in any::<String>(),
        f in any::<f64>().prop_filter("NaN never equals itself", |f| !f.is_nan()),
        raw in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        for p in backends() {
            let b: &dyn Backend = &p;
            let exp = parse_expiration("2100-01-01T00:00:00.123456");
            let bytes = b.encode(&(&s, f, serde_bytes_like(&raw)), exp).unwrap();
            prop_assert_eq!(b.decode(&bytes).map(|d| d.expiration).unwrap(), exp);
            let back: (String, f64, Vec<u8>) = b.decode_value(&bytes).unwrap();
            prop_assert_eq!(&back.0, &s);
            prop_assert_eq!(back.1.to_bits(), f.to_bits());
            prop_assert_eq!(&back.2, &raw);
        }
    }

    #[test]
    fn nested_values_round_trip(
        v in proptest::collection::vec(
            (any::<i32>(), ".{0,8}", proptest::option::of(any::<bool>()),
             proptest::collection::btree_map(any::<i16>(), ".{0,4}", 0..4)),
            0..20),
    ) {
        let bytes = to_vec(&v, 2).unwrap();
        let back: Vec<Row> = from_slice(&bytes).unwrap();
        prop_assert_eq!(back, v);
    }
}

/// Serializes a byte slice as `bytes` (what `serde_bytes` does).
fn serde_bytes_like(raw: &[u8]) -> Bytes<'_> {
    Bytes(raw)
}

struct Bytes<'a>(&'a [u8]);

impl serde::Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}
