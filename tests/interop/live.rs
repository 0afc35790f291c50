//! Live tests against the original, installed in a virtualenv: Rust reads what Python wrote,
//! Python reads what Rust wrote, both write identical files, and expirations hold across sides.

use std::process::Command;
use std::time::Duration;

use bucketcache::time::format_expiration;
use serde_json::{json, Value};

use super::py::{hex, int, Format, Py};
use super::{dir_contents, file_name, fixtures, py_bucket, python, repo, run_checked, BACKENDS};

/// Keys and values for every backend: non-ASCII, floats in exponent form, big ints, nested maps,
/// lists and tuples, None/bool, empty containers; keys of every JSON-expressible kind.
pub(super) fn spread(backend: &str) -> Vec<(Py, Py)> {
    let mut items = vec![
        (Py::s("ascii"), Py::s("plain text")),
        (
            Py::s("unicode ключ ☃ 😀"),
            Py::s("värde ☃ 😀 \u{7f} \n\t\"\\/ ünï"),
        ),
        (int(0), Py::Float(1e16)),
        (int(-7), Py::Float(1e-5)),
        (Py::Float(1.5), Py::Float(-0.0)),
        (Py::Float(1e16), Py::Float(5e-324)),
        (Py::Float(1e-5), int(1 << 40)),
        (Py::Float(-0.0), int(i64::MAX.into())),
        (int(1 << 40), Py::Float(1.2345678901234568e17)),
        (Py::Bool(true), Py::None),
        (Py::Bool(false), Py::Bool(true)),
        (Py::None, Py::Bool(false)),
        (Py::s(""), Py::s("")),
        (
            Py::List(vec![int(1), Py::s("a")]),
            Py::List(vec![
                int(1),
                Py::Float(2.5),
                Py::s("three"),
                Py::None,
                Py::Bool(true),
            ]),
        ),
        (
            Py::dict(vec![("b", int(1)), ("a", Py::List(vec![int(1), int(2)]))]),
            Py::dict(vec![
                (
                    "list",
                    Py::List(vec![Py::List(vec![
                        int(1),
                        Py::List(vec![int(2), Py::List(vec![int(3)])]),
                    ])]),
                ),
                ("empty", Py::Dict(vec![])),
                ("emptylist", Py::List(vec![])),
                (
                    "ünï",
                    Py::dict(vec![("x", Py::Float(-1.5e-10)), ("y", Py::Float(2.5e300))]),
                ),
            ]),
        ),
        (
            Py::List(vec![
                Py::List(vec![int(1), int(2)]),
                Py::List(vec![Py::s("x"), Py::List(vec![Py::None, Py::Bool(true)])]),
                Py::Float(3.5),
            ]),
            Py::Tuple(vec![int(1), Py::s("two"), Py::Float(3.0)]),
        ),
        (
            Py::dict(vec![
                ("z", Py::dict(vec![("é", int(1)), ("a", Py::None)])),
                ("ключ", Py::Float(0.1)),
            ]),
            Py::List(vec![
                Py::List(vec![]),
                Py::Dict(vec![]),
                Py::s(""),
                Py::Tuple(vec![]),
            ]),
        ),
        (
            Py::s("ints"),
            Py::List(
                [
                    0,
                    127,
                    128,
                    255,
                    256,
                    65535,
                    65536,
                    (1 << 31) - 1,
                    1 << 31,
                    (1 << 32) - 1,
                    1 << 32,
                ]
                .into_iter()
                .map(int)
                .collect(),
            ),
        ),
        (
            Py::s("negative ints"),
            Py::List(
                [
                    -1,
                    -32,
                    -33,
                    -128,
                    -129,
                    -32768,
                    -32769,
                    -(1 << 31),
                    -(1 << 31) - 1,
                    i64::MIN.into(),
                ]
                .into_iter()
                .map(int)
                .collect(),
            ),
        ),
        (
            Py::s("floats"),
            Py::List(
                [
                    0.0, 0.1, 1.0, 1e15, 0.0001, 1.5e-10, 2.5e300, -1e-300, 123456.789,
                ]
                .into_iter()
                .map(Py::Float)
                .collect(),
            ),
        ),
        (Py::s("tuple"), Py::Tuple(vec![int(1), int(2)])),
        (Py::s("single tuple"), Py::Tuple(vec![Py::s("only")])),
        // A tuple key hashes as the list it prints as (a different one from the list key above).
        (Py::Tuple(vec![Py::s("user"), int(7)]), Py::s("tuple key")),
        (
            Py::s("non-finite"),
            Py::List(vec![
                Py::Float(f64::NAN),
                Py::Float(f64::INFINITY),
                Py::Float(f64::NEG_INFINITY),
            ]),
        ),
    ];
    if backend != "json" {
        // Python's json cannot hold bytes; pickle and msgpack can.
        items.push((
            Py::s("bytes"),
            Py::List(vec![
                Py::Bytes(vec![]),
                Py::Bytes(b"\x00\xff abc \x80".to_vec()),
            ]),
        ));
    }
    match backend {
        "pickle" => {
            items.push((Py::s("u64 max"), int(u64::MAX.into())));
            items.push((
                Py::s("big ints"),
                Py::List(vec![
                    int(1 << 64),
                    int(1 << 100),
                    int(-(1 << 100)),
                    int(i128::MAX),
                ]),
            ));
            items.push((
                Py::s("int keys"),
                Py::Dict(vec![(int(1), Py::s("a")), (int(-2), Py::s("b"))]),
            ));
        }
        "msgpack" => {
            items.push((Py::s("u64 max"), int(u64::MAX.into())));
            items.push((
                Py::s("int keys"),
                Py::Dict(vec![(int(1), Py::s("a")), (int(-2), Py::s("b"))]),
            ));
        }
        _ => {
            items.push((Py::s("u64 max"), int(u64::MAX.into())));
            items.push((
                Py::s("int keys become strings"),
                Py::Dict(vec![(int(1), Py::s("a"))]),
            ));
        }
    }
    items
}

/// The clock both sides stand at; with a lifetime the expiration is this plus one hour.
pub(super) const LIVE_NOW: &str = "2030-06-15T12:34:56.789012";

fn read_format(backend: &str) -> Format {
    if backend == "json" {
        Format::Json
    } else {
        Format::Lists
    }
}

fn rust_reads_what_python_wrote(test: &str, backend: &str, lifetime: Option<Duration>) {
    let Some(py) = python(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let items = spread(backend);
    let written = py.set(tmp.path(), backend, lifetime, LIVE_NOW, &items);
    let b = py_bucket(tmp.path(), backend, lifetime, LIVE_NOW);
    let format = read_format(backend);
    for ((key, value), w) in items.iter().zip(&written) {
        assert_eq!(file_name(&b, key), w["file"], "file name of {key:?}");
        if let Py::List(ints) = value {
            if ints.iter().any(|i| matches!(i, Py::Int(i) if i64::try_from(*i).is_err() && u64::try_from(*i).is_err())) {
                // Ints beyond 64 bits: a self-describing reader (`deserialize_any`) gets them as
                // decimal text from the pickle backend; asked for i128 it gets the numbers.
                let got: Vec<i128> = b.get(key).unwrap().expect("big ints");
                let want: Vec<Py> = got.into_iter().map(Py::Int).collect();
                assert_eq!(&want, ints, "{backend} {key:?}");
                continue;
            }
        }
        let (got, expiration) = b
            .get_with_expiration::<Py>(key)
            .unwrap()
            .unwrap_or_else(|| panic!("{backend}: miss on {key:?}"));
        assert_eq!(
            got.normalized(format),
            value.normalized(format),
            "{backend} {key:?}"
        );
        let want = lifetime.map(|_| "2030-06-15T13:34:56.789012".to_owned());
        assert_eq!(expiration.map(|e| format_expiration(&e)), want, "{key:?}");
    }
}

fn python_reads_what_rust_wrote(test: &str, backend: &str, lifetime: Option<Duration>) {
    let Some(py) = python(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let items = spread(backend);
    let b = py_bucket(tmp.path(), backend, lifetime, LIVE_NOW);
    for (k, v) in &items {
        b.set(k, v)
            .unwrap_or_else(|e| panic!("{backend}: set {k:?} = {v:?}: {e}"));
    }
    let keys: Vec<&Py> = items.iter().map(|(k, _)| k).collect();
    let read = py.get(tmp.path(), backend, lifetime, LIVE_NOW, &keys);
    // Python sees pickle tuples as tuples; JSON and msgpack have only lists.
    let format = match backend {
        "pickle" => Format::Exact,
        "json" => Format::Json,
        _ => Format::Lists,
    };
    for ((key, value), r) in items.iter().zip(&read) {
        assert_eq!(r["file"], file_name(&b, key), "file name of {key:?}");
        assert_eq!(r["ok"], true, "{backend}: Python missed {key:?}: {r}");
        let got = Py::from_tagged(&r["value"]);
        assert_eq!(
            got.normalized(format),
            value.normalized(format),
            "{backend} {key:?}"
        );
    }
}

fn rust_and_python_write_identical_files(test: &str, backend: &str, lifetime: Option<Duration>) {
    let Some(py) = python(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (py_dir, rs_dir) = (tmp.path().join("python"), tmp.path().join("rust"));
    let items = spread(backend);
    py.set(&py_dir, backend, lifetime, LIVE_NOW, &items);
    let b = py_bucket(&rs_dir, backend, lifetime, LIVE_NOW);
    for (k, v) in &items {
        b.set(k, v).unwrap();
    }
    let (p, r) = (dir_contents(&py_dir), dir_contents(&rs_dir));
    assert_eq!(p.keys().collect::<Vec<_>>(), r.keys().collect::<Vec<_>>());
    let differing: Vec<String> = p
        .iter()
        .filter(|(name, bytes)| r[*name] != **bytes)
        .map(|(name, bytes)| format!("{name}:\n python {}\n rust   {}", hex(bytes), hex(&r[name])))
        .collect();
    assert!(differing.is_empty(), "{backend}: {}", differing.join("\n"));
    assert_eq!(p.len(), items.len());
}

macro_rules! live_matrix {
    ($($backend:literal => $plain:ident, $with_lifetime:ident;)*) => {
        $(
            mod $plain {
                #[test]
                fn rust_reads_what_python_wrote() {
                    super::rust_reads_what_python_wrote(concat!(module_path!(), "::rust_reads_what_python_wrote"), $backend, None);
                }
                #[test]
                fn python_reads_what_rust_wrote() {
                    super::python_reads_what_rust_wrote(concat!(module_path!(), "::python_reads_what_rust_wrote"), $backend, None);
                }
                #[test]
                fn rust_and_python_write_identical_files() {
                    super::rust_and_python_write_identical_files(concat!(module_path!(), "::rust_and_python_write_identical_files"), $backend, None);
                }
            }
            mod $with_lifetime {
                use std::time::Duration;
                const HOUR: Option<Duration> = Some(Duration::from_secs(3600));
                #[test]
                fn rust_reads_what_python_wrote() {
                    super::rust_reads_what_python_wrote(concat!(module_path!(), "::rust_reads_what_python_wrote"), $backend, HOUR);
                }
                #[test]
                fn python_reads_what_rust_wrote() {
                    super::python_reads_what_rust_wrote(concat!(module_path!(), "::python_reads_what_rust_wrote"), $backend, HOUR);
                }
                #[test]
                fn rust_and_python_write_identical_files() {
                    super::rust_and_python_write_identical_files(concat!(module_path!(), "::rust_and_python_write_identical_files"), $backend, HOUR);
                }
            }
        )*
    };
}

live_matrix! {
    "pickle" => live_pickle, live_pickle_lifetime;
    "json" => live_json, live_json_lifetime;
    "msgpack" => live_msgpack, live_msgpack_lifetime;
}

#[test]
fn live_entries_expire_for_the_other_side_and_are_deleted() {
    let Some(py) = python("interop::live_entries_expire_for_the_other_side_and_are_deleted") else {
        return;
    };
    let hour = Some(Duration::from_secs(3600));
    let later = "2030-06-15T13:34:56.789013"; // one microsecond after the expiration
    for backend in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let (key, value) = (Py::s("expiring ☃"), Py::List(vec![int(1), Py::s("x")]));
        // Rust writes, Python reads too late: a miss, and Python deletes the file.
        let b = py_bucket(tmp.path(), backend, hour, LIVE_NOW);
        b.set(&key, &value).unwrap();
        let r = &py.get(tmp.path(), backend, None, later, &[&key])[0];
        assert_eq!(r["ok"], false, "{backend}: {r}");
        assert_eq!(r["exists_after"], false, "{backend}: {r}");
        // Python writes, Rust reads too late: a miss, and Rust deletes the file.
        py.set(
            tmp.path(),
            backend,
            hour,
            LIVE_NOW,
            &[(key.clone(), value.clone())],
        );
        let path = b.path_for_key(&key).unwrap();
        assert!(path.exists());
        let late = py_bucket(tmp.path(), backend, None, later);
        assert_eq!(late.get::<Py>(&key).unwrap(), None, "{backend}");
        assert!(!path.exists(), "{backend}: Rust deletes the expired file");
    }
}

#[test]
fn readers_with_a_lifetime_drop_entries_written_without_one_on_both_sides() {
    // The original's "lifetime changed" rule: a reader with a lifetime deletes entries that have
    // no expiration (or a later one than now + lifetime), whoever wrote them.
    let Some(py) =
        python("interop::readers_with_a_lifetime_drop_entries_written_without_one_on_both_sides")
    else {
        return;
    };
    let hour = Some(Duration::from_secs(3600));
    for backend in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let (key, value) = (Py::s("forever"), Py::s("value"));
        let b = py_bucket(tmp.path(), backend, None, LIVE_NOW);
        b.set(&key, &value).unwrap();
        let r = &py.get(tmp.path(), backend, hour, LIVE_NOW, &[&key])[0];
        assert_eq!(
            (&r["ok"], &r["exists_after"]),
            (&json!(false), &json!(false)),
            "{backend}: {r}"
        );

        py.set(
            tmp.path(),
            backend,
            None,
            LIVE_NOW,
            &[(key.clone(), value.clone())],
        );
        let path = b.path_for_key(&key).unwrap();
        assert!(path.exists(), "{backend}");
        let with_lifetime = py_bucket(tmp.path(), backend, hour, LIVE_NOW);
        assert_eq!(with_lifetime.get::<Py>(&key).unwrap(), None, "{backend}");
        assert!(!path.exists(), "{backend}: Rust deletes it too");
    }
}

#[test]
fn python_shim_lets_the_original_rewrite_its_own_fixtures() {
    let Some(py) = python("interop::python_shim_lets_the_original_rewrite_its_own_fixtures") else {
        return;
    };
    for p5 in ["0", "1"] {
        let out = run_checked(
            Command::new(&py.python)
                .arg(repo().join("tests/python/check_shim.py"))
                .arg(fixtures("python-bucketcache-0.12.1"))
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("BC_COMPAT_P5", p5),
        )
        .unwrap_or_else(|e| panic!("check_shim.py with BC_COMPAT_P5={p5}: {e}"));
        let report: Value = serde_json::from_str(&out).expect("JSON report");
        assert_eq!(report["failures"], json!([]), "BC_COMPAT_P5={p5}");
        assert_eq!(report["checked"], 254);
    }
}
