//! Unit tests: the text of every kind of value, checked against CPython's `json.dumps`.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde::Serialize;

use super::*;

fn py(v: &(impl Serialize + ?Sized)) -> String {
    to_string(v, &PyJsonOptions::default()).unwrap()
}

fn sorted(v: &(impl Serialize + ?Sized)) -> String {
    to_string(v, &PyJsonOptions::sorted()).unwrap()
}

#[test]
fn floats_follow_python_repr_table() {
    let table: [(f64, &str); 16] = [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (1.2345678901234568e+17, "1.2345678901234568e+17"),
        (0.0001, "0.0001"),
        (1e-05, "1e-05"),
        (1.5e-10, "1.5e-10"),
        (2.5e+300, "2.5e+300"),
        (5e-324, "5e-324"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (f64::NAN, "NaN"),
        (-1.5e-10, "-1.5e-10"),
    ];
    for (v, want) in table {
        assert_eq!(py(&v), want, "{v:?}");
    }
}

#[test]
fn more_floats_match_python() {
    // Values checked against CPython's repr().
    let table: [(f64, &str); 10] = [
        (3.25159, "3.25159"),
        (123456789012345.6, "123456789012345.6"),
        (9999999999999998.0, "9999999999999998.0"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2.2250738585072014e-308, "2.2250738585072014e-308"),
        (0.00012, "0.00012"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (-2.5e-5, "-2.5e-05"),
        (1e100, "1e+100"),
    ];
    for (v, want) in table {
        assert_eq!(py(&v), want, "{v:?}");
    }
}

/// The layout code must agree with an independent derivation from Rust's shortest `{:e}`.
#[test]
fn floats_agree_with_std_shortest_digits() {
    fn reference(v: f64) -> String {
        let sci = format!("{v:e}");
        let (mant, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        let (sign, mant) = mant.strip_prefix('-').map_or(("", mant), |m| ("-", m));
        let digits: String = mant.chars().filter(|c| *c != '.').collect();
        if !(-4..16).contains(&exp) {
            let (first, rest) = digits.split_at(1);
            let dot = if rest.is_empty() {
                String::new()
            } else {
                format!(".{rest}")
            };
            let esign = if exp < 0 { '-' } else { '+' };
            return format!("{sign}{first}{dot}e{esign}{:02}", exp.abs());
        }
        let point = exp + 1;
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!(
                "{sign}{digits}{}.0",
                "0".repeat(point as usize - digits.len())
            )
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{sign}{a}.{b}")
        }
    }
    // A deterministic spread of bit patterns: every exponent, varied mantissas.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = f64::from_bits(x);
        if v.is_finite() {
            let (ours, std) = (py(&v), reference(v));
            // std and Python may round a tie differently in the last digit (Python rounds
            // half to even, as ryu does); both are then shortest and round-trip.
            if ours != std {
                assert_eq!(ours.len(), std.len(), "{v:e}");
                assert_eq!(ours.parse::<f64>().unwrap(), v, "{v:e}");
            }
        }
    }
    for p in -30..30 {
        let v = 10f64.powi(p);
        assert_eq!(py(&v), reference(v));
        assert_eq!(py(&(v * 1.5)), reference(v * 1.5));
    }
}

#[test]
fn floats_match_python_repr_for_random_bit_patterns() {
    // python3: repr(struct.unpack('<d', struct.pack('<Q', bits))[0])
    let table: [(u64, &str); 13] = [
        (0xf2a74de452e6b438, "-1.989032661366619e+244"),
        (0x6513270e269e0d37, "7.761117632285041e+178"),
        (0x0c5c7fd0a6a3a450, "3.980498358697587e-249"),
        (0xd23f0824128b2f33, "-1.5432835417340557e+88"),
        (0x1818e811892f902b, "1.3647584518757569e-192"),
        (0x9531985d5d9dc9f8, "-1.3701135617873088e-206"),
        (0xe8e25d940ed90475, "-1.7160537630466207e+197"),
        (0x36f675cc81e74ef5, "6.294675241195386e-44"),
        (0x1600a35a099950d8, "1.0613447212142254e-202"),
        (0x6b0d549b6f03675a, "4.708325160387546e+207"),
        (0x3d9c172411e20b8f, "6.387016158513563e-12"),
        (0x8d116ece1738f7d9, "-9.973130378568733e-246"),
        // An exact tie (…562.25): Python rounds half to even.
        (0x43179085685d83c9, "1658206780088562.2"),
    ];
    for (bits, want) in table {
        assert_eq!(py(&f64::from_bits(bits)), want);
    }
}

#[test]
fn f32_is_widened_to_f64() {
    assert_eq!(py(&0.1f32), "0.10000000149011612");
    assert_eq!(py(&1.5f32), "1.5");
}

#[test]
fn non_finite_floats_are_refused_without_allow_nan() {
    let opts = PyJsonOptions::default().allow_nan(false);
    assert!(matches!(
        to_string(&f64::NAN, &opts),
        Err(Error::NonFinite(_))
    ));
    assert!(matches!(
        to_string(&BTreeMap::from([(1, f64::INFINITY)]), &opts),
        Err(Error::NonFinite(_))
    ));
    assert_eq!(to_string(&1.5, &opts).unwrap(), "1.5");
}

#[test]
fn integers_format_like_display() {
    let mut samples: Vec<i128> = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, -1, -10, -100];
    for p in 0..39 {
        let x = 10i128.pow(p);
        samples.extend([x - 1, x, x + 1, -x, -x + 1, -x - 1]);
    }
    samples.extend([
        i64::MAX.into(),
        i64::MIN.into(),
        u64::MAX.into(),
        i128::MAX,
        i128::MIN,
    ]);
    for v in samples {
        assert_eq!(py(&v), v.to_string());
        assert_eq!(sorted(&BTreeMap::from([(v, 0)])), format!("{{\"{v}\": 0}}"));
    }
    for v in [0u128, u64::MAX.into(), u128::from(u64::MAX) + 1, u128::MAX] {
        assert_eq!(py(&v), v.to_string());
    }
}

#[test]
fn integers_of_any_size_are_written_in_full() {
    assert_eq!(py(&u128::MAX), "340282366920938463463374607431768211455");
    assert_eq!(py(&i128::MIN), "-170141183460469231731687303715884105728");
    assert_eq!(py(&-7i8), "-7");
    assert_eq!(py(&(1u64 << 40)), "1099511627776");
}

#[test]
fn nested_example_is_sorted_like_python() {
    let v: serde_json::Value =
        serde_json::from_str(r#"{"z":1,"a":{"c":2,"b":[{"y":1,"x":2}]}}"#).unwrap();
    assert_eq!(
        sorted(&v),
        r#"{"a": {"b": [{"x": 2, "y": 1}], "c": 2}, "z": 1}"#
    );
}

#[test]
fn unsorted_maps_keep_insertion_order() {
    #[derive(Serialize)]
    struct S {
        z: u8,
        a: u8,
    }
    assert_eq!(py(&S { z: 1, a: 2 }), r#"{"z": 1, "a": 2}"#);
    assert_eq!(sorted(&S { z: 1, a: 2 }), r#"{"a": 2, "z": 1}"#);
}

#[test]
fn strings_are_escaped_like_python_with_ensure_ascii() {
    assert_eq!(
        py("unicode ключ ☃"),
        r#""unicode \u043a\u043b\u044e\u0447 \u2603""#
    );
    assert_eq!(py("😀"), r#""\ud83d\ude00""#);
    assert_eq!(py("\u{7f}"), r#""\u007f""#);
    assert_eq!(
        py("\"\\\n\r\t\u{8}\u{c}\u{1}\u{1f}/"),
        r#""\"\\\n\r\t\b\f\u0001\u001f/""#
    );
    assert_eq!(py(""), r#""""#);
}

#[test]
fn without_ensure_ascii_utf8_is_written_as_is() {
    let opts = PyJsonOptions::default().ensure_ascii(false);
    assert_eq!(
        to_string("värde ☃ 😀 \u{7f}\n", &opts).unwrap(),
        "\"värde ☃ 😀 \u{7f}\\n\""
    );
}

#[test]
fn map_keys_are_coerced_to_strings_like_python() {
    assert_eq!(sorted(&BTreeMap::from([(1, 2)])), r#"{"1": 2}"#);
    assert_eq!(sorted(&BTreeMap::from([(true, 2)])), r#"{"true": 2}"#);
    assert_eq!(sorted(&BTreeMap::from([(None::<u8>, 2)])), r#"{"null": 2}"#);
    assert_eq!(
        py(&vec![(1.5f64, 1)].into_iter().collect::<Map>()),
        r#"{"1.5": 1}"#
    );
    assert_eq!(py(&HashMap::from([('é', 1)])), r#"{"\u00e9": 1}"#);
    assert_eq!(
        sorted(&BTreeMap::from([(1, 2)])),
        sorted(&BTreeMap::from([("1", 2)]))
    );
}

/// A map in insertion order, for tests.
#[derive(Debug)]
struct Map(Vec<(f64, i32)>);
impl FromIterator<(f64, i32)> for Map {
    fn from_iter<I: IntoIterator<Item = (f64, i32)>>(iter: I) -> Self {
        Map(iter.into_iter().collect())
    }
}
impl Serialize for Map {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[test]
fn numeric_keys_sort_numerically_as_in_python() {
    // sorted([10, 9, -1]) == [-1, 9, 10], not the string order.
    let m = HashMap::from([(10, "a"), (9, "b"), (-1, "c")]);
    assert_eq!(sorted(&m), r#"{"-1": "c", "9": "b", "10": "a"}"#);
    let m: Map = vec![(2.5, 1), (f64::NAN, 2), (-1e20, 3), (2.0, 4)]
        .into_iter()
        .collect();
    assert_eq!(sorted(&m), r#"{"-1e+20": 3, "2.0": 4, "2.5": 1, "NaN": 2}"#);
}

#[test]
fn string_keys_sort_by_code_point() {
    let m = HashMap::from([("é", 1), ("z", 2), ("Z", 3), ("😀", 4), ("\u{ffff}", 5)]);
    assert_eq!(
        sorted(&m),
        r#"{"Z": 3, "z": 2, "\u00e9": 1, "\uffff": 5, "\ud83d\ude00": 4}"#
    );
}

#[test]
fn mixed_key_kinds_cannot_be_sorted() {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum K {
        S(&'static str),
        I(i32),
    }
    let v = [(K::S("a"), 1), (K::I(1), 2)];
    let mut out = Vec::new();
    let plain = PyJsonOptions::default();
    let mut ser = PySerializer::new(&mut out, &plain);
    // Unsorted, Python writes them as they come.
    serde::Serializer::collect_map(&mut ser, v.iter().map(|(k, v)| (k, v))).unwrap();
    assert_eq!(out, br#"{"a": 1, "1": 2}"#);
    let opts = PyJsonOptions::sorted();
    let mut ser = PySerializer::new(Vec::new(), &opts);
    let err = serde::Serializer::collect_map(&mut ser, v.iter().map(|(k, v)| (k, v)));
    assert!(matches!(err, Err(Error::MixedKeys("str", "number"))));
}

#[test]
fn composite_and_bytes_keys_are_errors() {
    let m = BTreeMap::from([(vec![1], 1)]);
    assert!(matches!(
        to_string(&m, &PyJsonOptions::default()),
        Err(Error::KeyType("list"))
    ));
    assert!(matches!(
        to_string(&m, &PyJsonOptions::sorted()),
        Err(Error::KeyType("list"))
    ));
}

#[test]
fn bytes_follow_the_policy() {
    struct B;
    impl Serialize for B {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b"ab")
        }
    }
    assert!(matches!(
        to_string(&B, &PyJsonOptions::default()),
        Err(Error::Bytes)
    ));
    assert_eq!(sorted(&B), "[97, 98]");
    assert_eq!(sorted(&B), sorted(&vec![97u8, 98]));
}

#[test]
fn tuples_lists_unit_and_options() {
    assert_eq!(py(&(1, "a")), r#"[1, "a"]"#);
    assert_eq!(py(&(1, "a")), py(&serde_json::json!([1, "a"])));
    assert_eq!(py(&()), "null");
    assert_eq!(py(&None::<u8>), "null");
    assert_eq!(py(&Some(true)), "true");
    assert_eq!(py(&Vec::<u8>::new()), "[]");
    assert_eq!(py(&BTreeMap::<u8, u8>::new()), "{}");
    assert_eq!(sorted(&BTreeMap::<u8, u8>::new()), "{}");
    assert_eq!(py(&[[1, 2], [3, 4]]), "[[1, 2], [3, 4]]");
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
enum E {
    Unit,
    New(u8),
    Tup(u8, u8),
    Rec { z: u8, a: u8 },
}

#[test]
fn enums_are_externally_tagged() {
    assert_eq!(py(&E::Unit), r#""Unit""#);
    assert_eq!(py(&E::New(1)), r#"{"New": 1}"#);
    assert_eq!(py(&E::Tup(1, 2)), r#"{"Tup": [1, 2]}"#);
    assert_eq!(py(&E::Rec { z: 1, a: 2 }), r#"{"Rec": {"z": 1, "a": 2}}"#);
    assert_eq!(
        sorted(&E::Rec { z: 1, a: 2 }),
        r#"{"Rec": {"a": 2, "z": 1}}"#
    );
    assert_eq!(sorted(&BTreeMap::from([(E::Unit, 1)])), r#"{"Unit": 1}"#);
}

#[test]
fn indent_matches_python() {
    // json.dumps({"b": [1, {}], "a": {"x": []}}, indent=2, sort_keys=True)
    let v = serde_json::json!({"b": [1, {}], "a": {"x": []}});
    let opts = PyJsonOptions::sorted().indent(Some(2));
    assert_eq!(
        to_string(&v, &opts).unwrap(),
        "{\n  \"a\": {\n    \"x\": []\n  },\n  \"b\": [\n    1,\n    {}\n  ]\n}"
    );
    // indent=0 still breaks lines.
    let opts = PyJsonOptions::default().indent(Some(0));
    assert_eq!(to_string(&[1, 2], &opts).unwrap(), "[\n1,\n2\n]");
    let opts = PyJsonOptions::default().indent(Some(1));
    assert_eq!(
        to_string(&E::Tup(1, 2), &opts).unwrap(),
        "{\n \"Tup\": [\n  1,\n  2\n ]\n}"
    );
    assert_eq!(to_string(&E::New(1), &opts).unwrap(), "{\n \"New\": 1\n}");
    let opts = PyJsonOptions::sorted().indent(Some(1));
    assert_eq!(
        to_string(&E::Rec { z: 1, a: 2 }, &opts).unwrap(),
        "{\n \"Rec\": {\n  \"a\": 2,\n  \"z\": 1\n }\n}"
    );
}

#[test]
fn deep_indent_beyond_the_space_table() {
    let opts = PyJsonOptions::default().indent(Some(70));
    assert_eq!(
        to_string(&[1], &opts).unwrap(),
        format!("[\n{}1\n]", " ".repeat(70))
    );
}

#[test]
fn streaming_into_a_writer_equals_to_vec() {
    struct Chunks(Vec<Vec<u8>>);
    impl Write for Chunks {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let v = serde_json::json!({"z": [1, 2.5, "x"], "a": {"c": null, "b": true}});
    let mut chunks = Chunks(Vec::new());
    to_writer(&mut chunks, &v, &PyJsonOptions::sorted()).unwrap();
    assert!(chunks.0.len() > 1);
    assert_eq!(
        chunks.0.concat(),
        to_vec(&v, &PyJsonOptions::sorted()).unwrap()
    );
}

#[test]
fn writer_errors_are_reported() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    assert!(matches!(
        to_writer(Broken, &[1], &PyJsonOptions::default()),
        Err(Error::Io(_))
    ));
}
