//! Backend-level tests: validation, envelope rules, round trips.

use std::collections::BTreeMap;

use bucketcache_core::time::parse_expiration;
use bucketcache_core::validate::validate_backend;

use super::*;

fn backend() -> PickleBackend {
    PickleBackend::default()
}

fn dynb(b: &PickleBackend) -> &dyn Backend {
    b
}

#[test]
fn backend_passes_runtime_validation() {
    validate_backend(&backend(), "test").unwrap();
    validate_backend(
        &PickleBackend::new(PickleConfig::protocol(3)).unwrap(),
        "test",
    )
    .unwrap();
}

#[test]
fn lifetime_entry_matches_the_original_hexdump() {
    let exp = parse_expiration("2100-01-01T00:00:00.123456");
    let bytes = dynb(&backend()).encode("this", exp).unwrap();
    let expected: &[u8] = b"\x80\x02}q\x00(X\x05\x00\x00\x00valueq\x01X\x04\x00\x00\x00thisq\x02\
X\x0f\x00\x00\x00expiration_dateq\x03cdatetime\ndatetime\nq\x04c_codecs\nencode\nq\x05\
X\x0b\x00\x00\x00\x084\x01\x01\x00\x00\x00\x01\xc3\xa2@q\x06X\x06\x00\x00\x00latin1q\x07\
\x86q\x08Rq\t\x85q\nRq\x0bu.";
    assert_eq!(bytes, expected);
    assert_eq!(bytes.len(), 135);
}

#[test]
fn protocol_3_output_loads_back() {
    let b = PickleBackend::new(PickleConfig::protocol(3)).unwrap();
    let exp = parse_expiration("2100-01-01T00:00:00.123456");
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct V {
        #[serde(with = "serde_bytes_like")]
        raw: Vec<u8>,
        n: i128,
    }
    mod serde_bytes_like {
        pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            serde::Deserialize::deserialize(d)
        }
    }
    let v = V {
        raw: vec![0, 200, 255],
        n: -(1 << 100),
    };
    let bytes = dynb(&b).encode(&v, exp).unwrap();
    assert_eq!(&bytes[..2], b"\x80\x03");
    assert!(
        bytes.windows(2).any(|w| w == b"C\x0a"),
        "raw datetime state"
    );
    assert_eq!(dynb(&b).decode(&bytes).map(|d| d.expiration).unwrap(), exp);
    assert_eq!(dynb(&b).decode_value::<V>(&bytes).unwrap(), v);
}

#[test]
fn values_round_trip_through_serde_json() {
    let v = serde_json::json!({"a": [1, -2, 3.5, null, true, "x"], "b": {"c": []}});
    let bytes = dynb(&backend()).encode(&v, None).unwrap();
    let back: serde_json::Value = dynb(&backend()).decode_value(&bytes).unwrap();
    assert_eq!(back, v);
}

#[test]
fn int_keys_stay_ints_and_read_as_text_for_json() {
    let v = BTreeMap::from([(1i64, "a"), (-5, "b")]);
    let bytes = dynb(&backend()).encode(&v, None).unwrap();
    let back: BTreeMap<i64, String> = dynb(&backend()).decode_value(&bytes).unwrap();
    assert_eq!(back.get(&-5).map(String::as_str), Some("b"));
    let json: serde_json::Value = dynb(&backend()).decode_value(&bytes).unwrap();
    assert_eq!(json, serde_json::json!({"1": "a", "-5": "b"}));
}

#[test]
fn envelope_with_extra_or_missing_key_is_a_decode_error() {
    // {'value': 1, 'expiration_date': None, 'x': 2}
    let extra = b"\x80\x02}(X\x05\x00\x00\x00valueK\x01X\x0f\x00\x00\x00expiration_dateNX\x01\x00\x00\x00xK\x02u.";
    assert!(dynb(&backend())
        .decode(extra)
        .map(|d| d.expiration)
        .is_err());
    let missing = b"\x80\x02}X\x05\x00\x00\x00valueK\x01s.";
    assert!(dynb(&backend())
        .decode(missing)
        .map(|d| d.expiration)
        .is_err());
    let not_dict = b"\x80\x02K\x01.";
    assert!(dynb(&backend())
        .decode(not_dict)
        .map(|d| d.expiration)
        .is_err());
}

#[test]
fn expiration_must_be_none_or_a_datetime() {
    let int_exp = b"\x80\x02}(X\x05\x00\x00\x00valueK\x01X\x0f\x00\x00\x00expiration_dateK\x05u.";
    assert!(dynb(&backend())
        .decode(int_exp)
        .map(|d| d.expiration)
        .is_err());
    // datetime(state, tzinfo) with a non-None tzinfo (here a set, the only other thing buildable).
    let aware = b"\x80\x03}(X\x05\x00\x00\x00valueK\x01X\x0f\x00\x00\x00expiration_date\
cdatetime\ndatetime\nC\x0a\x084\x01\x01\x00\x00\x00\x00\x00\x00c__builtin__\nset\n)R\x86Ru.";
    let e = dynb(&backend())
        .decode(aware)
        .map(|d| d.expiration)
        .unwrap_err();
    assert!(e.to_string().contains("time zone"), "{e}");
}

#[test]
fn datetime_values_hand_out_isoformat() {
    let v = b"\x80\x03}(X\x05\x00\x00\x00valuecdatetime\ndatetime\nC\x0a\x084\x01\x01\x00\x00\x00\x01\xe2\x40\x85RX\x0f\x00\x00\x00expiration_dateNu.";
    let s: String = dynb(&backend()).decode_value(v).unwrap();
    assert_eq!(s, "2100-01-01T00:00:00.123456");
}

#[test]
fn wrong_type_is_reported_as_such() {
    let bytes = dynb(&backend()).encode("text", None).unwrap();
    let e = dynb(&backend()).decode_value::<u32>(&bytes).unwrap_err();
    assert!(matches!(e, BackendError::WrongType(_)), "{e}");
}

#[test]
fn enums_round_trip() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    enum E {
        Unit,
        New(u8),
        Tup(u8, String),
        Rec { a: bool },
    }
    let v = vec![
        E::Unit,
        E::New(3),
        E::Tup(1, "x".into()),
        E::Rec { a: true },
    ];
    let bytes = dynb(&backend()).encode(&v, None).unwrap();
    assert_eq!(dynb(&backend()).decode_value::<Vec<E>>(&bytes).unwrap(), v);
}

#[test]
fn big_ints_round_trip_and_hand_out_as_text_beyond_u64() {
    let v: (u128, i128, u64, i64) = (u128::MAX, i128::MIN, u64::MAX, i64::MIN);
    let bytes = dynb(&backend()).encode(&v, None).unwrap();
    assert_eq!(
        dynb(&backend())
            .decode_value::<(u128, i128, u64, i64)>(&bytes)
            .unwrap(),
        v
    );
    let json: serde_json::Value = dynb(&backend()).decode_value(&bytes).unwrap();
    assert_eq!(json[0], serde_json::json!(u128::MAX.to_string()));
    assert_eq!(json[2], serde_json::json!(u64::MAX));
}

#[test]
fn options_other_than_protocol_are_refused() {
    use bucketcache_core::registry::{self, factory};
    let e = registry::options::<PickleConfig>(NAME, &serde_json::json!({"encoding": "latin1"}));
    assert!(e.is_err());
    assert!(factory::<PickleBackend>(&serde_json::json!({"protocol": 1})).is_err());
    assert!(factory::<PickleBackend>(&serde_json::json!({"protocol": 3})).is_ok());
}
