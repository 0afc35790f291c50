//! Hostile and corrupt input: always an error (or a value), quickly, never a panic, never code.

use std::time::{Duration, Instant};

use bucketcache_core::Backend;
use bucketcache_pickle::PickleBackend;
use proptest::prelude::*;
use serde_json::Value as Json;

const HEAD: &[u8] = b"\x80\x02}q\x00(X\x05\x00\x00\x00valueq\x01";
const TAIL: &[u8] = b"X\x0f\x00\x00\x00expiration_dateq\x02Nu.";

/// Wraps a value's opcodes in the original's envelope.
fn envelope(value: &[u8]) -> Vec<u8> {
    [HEAD, value, TAIL].concat()
}

fn backend() -> PickleBackend {
    PickleBackend::default()
}

/// Loads both ways; returns whether the envelope loaded, and checks it was quick.
fn load(bytes: &[u8]) -> bool {
    let p = backend();
    let b: &dyn Backend = &p;
    let start = Instant::now();
    let exp = b.decode(bytes).map(|d| d.expiration);
    let value = b.decode_value::<Json>(bytes);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(exp.is_ok(), value.is_ok() || exp.is_ok());
    exp.is_ok()
}

fn err_text(bytes: &[u8]) -> String {
    let p = backend();
    let b: &dyn Backend = &p;
    b.decode(bytes)
        .map(|d| d.expiration)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_valid_envelope_loads() {
    assert!(load(&envelope(b"K\x01")));
}

#[test]
fn os_system_global_is_refused_and_never_run() {
    let v = envelope(b"cos\nsystem\nX\x0b\x00\x00\x00touch /tmp/x\x85R");
    assert!(!load(&v));
    assert!(err_text(&v).contains("os.system"));
    let v = envelope(b"cbuiltins\neval\nX\x01\x00\x00\x001\x85R");
    assert!(err_text(&v).contains("builtins.eval"));
    let v = envelope(b"\x8c\x02os\x8c\x06system\x93X\x01\x00\x00\x00x\x85R");
    assert!(!load(&v));
}

#[test]
fn hundred_thousand_marks_are_an_error() {
    let mut v = vec![b'('; 100_000];
    v.extend_from_slice(b"N.");
    assert!(!load(&v));
    let mut v = HEAD.to_vec();
    v.extend(std::iter::repeat(b'(').take(100_000));
    assert!(!load(&v));
}

#[test]
fn hundred_thousand_nested_lists_are_an_error_without_stack_overflow() {
    let mut value = vec![b']'; 100_000];
    value.extend(std::iter::repeat(b'a').take(99_999));
    let e = err_text(&envelope(&value));
    assert!(e.contains("nested deeper"), "{e}");
    // Nested tuples and dicts too.
    let mut value = vec![b'N'];
    value.extend(std::iter::repeat(0x85).take(100_000));
    assert!(err_text(&envelope(&value)).contains("nested deeper"));
}

#[test]
fn moderate_nesting_loads_and_hands_out() {
    // 150 levels: deeper than any real cache value, within the limit.
    let mut value = vec![b']'; 150];
    value.extend(std::iter::repeat(b'a').take(149));
    let bytes = envelope(&value);
    let p = backend();
    let b: &dyn Backend = &p;
    let v: Json = b.decode_value(&bytes).unwrap();
    let mut depth = 0;
    let mut cur = &v;
    while let Some(inner) = cur.as_array() {
        depth += 1;
        match inner.first() {
            Some(x) => cur = x,
            None => break,
        }
    }
    assert_eq!(depth, 150);
}

#[test]
fn huge_declared_lengths_with_tiny_input_are_errors() {
    for v in [
        &b"\x8b\xff\xff\xff\x7f\x01\x02"[..],       // LONG4, 2 GiB
        b"X\xff\xff\xff\xffabc",                    // BINUNICODE, 4 GiB
        b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7fabc", // BINUNICODE8
        b"\x8e\xff\xff\xff\xff\xff\xff\xff\xffabc", // BINBYTES8
        b"B\xff\xff\xff\xffabc",                    // BINBYTES
        b"T\xff\xff\xff\x7fabc",                    // BINSTRING
        b"\x95\xff\xff\xff\xff\xff\xff\xff\xff",    // FRAME
        b"\x96\x00\x00\x00\x00\x00\x00\x00\x80",    // BYTEARRAY8
    ] {
        assert!(!load(&envelope(v)), "{v:?}");
        assert!(!load(v));
    }
}

#[test]
fn billion_laughs_through_the_memo_is_an_error() {
    // L0 = []; Lk = [L(k-1)] * 10, nine times: 10**9 leaves if expanded.
    let mut value = b"]q\x030".to_vec();
    for k in 0..9u8 {
        value.extend_from_slice(b"](");
        for _ in 0..10 {
            value.extend_from_slice(&[b'h', 3 + k]);
        }
        value.extend_from_slice(&[b'e', b'q', 4 + k]);
        if k < 8 {
            value.push(b'0'); // POP: only the last list stays as the value
        }
    }
    let e = err_text(&envelope(&value));
    assert!(e.contains("expands"), "{e}");
}

#[test]
fn shared_references_load_as_copies() {
    // x = [1]; [x, x]
    let value = b"](]q\x03K\x01ah\x03e";
    let p = backend();
    let b: &dyn Backend = &p;
    let v: Json = b.decode_value(&envelope(value)).unwrap();
    assert_eq!(v, serde_json::json!([[1], [1]]));
}

#[test]
fn memo_abuse_is_an_error() {
    assert!(err_text(&envelope(b"h\x07")).contains("memo"));
    assert!(err_text(&envelope(b"j\xff\xff\xff\xff")).contains("memo"));
    // A big string fetched 200 000 times: cheap to hold (shared), refused when expanded.
    let mut value = b"X\x00\x00\x10\x00".to_vec();
    value.extend(std::iter::repeat(b'x').take(1 << 20));
    value.extend_from_slice(b"q\x030](");
    for _ in 0..200_000 {
        value.extend_from_slice(b"h\x03");
    }
    value.push(b'e');
    assert!(!load(&envelope(&value)));
}

#[test]
fn set_of_a_shared_list_many_times_is_bounded() {
    // x = list(range(1000)); then 30k times set(x): 30 million copies if unbounded.
    let mut value = b"]q\x03(".to_vec();
    for i in 0..1000u16 {
        value.push(b'M');
        value.extend_from_slice(&i.to_le_bytes());
    }
    value.extend_from_slice(b"e](");
    for _ in 0..30_000 {
        value.extend_from_slice(b"c__builtin__\nset\nh\x03\x85R");
    }
    value.push(b'e');
    assert!(!load(&envelope(&value)));
}

#[test]
fn empty_and_truncated_input_are_errors() {
    assert!(!load(b""));
    let whole = envelope(b"K\x01");
    for cut in 0..whole.len() {
        assert!(!load(&whole[..cut]), "prefix of {cut} bytes");
    }
}

fn fixture_files() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/python-bucketcache-0.12.1/pickle/lifetime");
    let mut files: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    files.sort();
    files
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        load(&bytes);
        let mut with_proto = vec![0x80, 2];
        with_proto.extend_from_slice(&bytes);
        load(&with_proto);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..16,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let files = fixture_files();
        let mut f = files[which % files.len()].clone();
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        load(&f);
        let n = cut.index(f.len() + 1);
        load(&f[..n]);
    }
}

/// Found by `cargo fuzz run pickle_decode` (fuzz/README.md): a few hundred bytes of shared tuples
/// that decoded into a tree of millions of nodes (0.6 to 1.2 GB). Now refused up front.
#[test]
fn shared_tuples_that_expand_to_millions_of_nodes_are_refused_quickly() {
    for (file, bytes) in [
        (
            "envelope-shared-tuples-2pow22.pickle",
            &include_bytes!("data/hostile/envelope-shared-tuples-2pow22.pickle")[..],
        ),
        (
            "oom-shared-tuples-expansion.bin",
            &include_bytes!("data/hostile/oom-shared-tuples-expansion.bin")[..],
        ),
    ] {
        let start = Instant::now();
        let p = backend();
        let b: &dyn Backend = &p;
        assert!(b.decode_value::<Json>(bytes).is_err(), "{file}");
        assert!(
            bucketcache_pickle::from_slice::<Json>(bytes).is_err(),
            "{file}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{file}: {:?}",
            start.elapsed()
        );
    }
}
