//! Plugins: every pointer and length that crosses the ABI is checked.

use std::fs;

use bucketcache::{plugins, BackendError, Bucket, Error};

use crate::plugins::fixture;

#[test]
fn a_plugin_table_with_a_null_function_or_name_is_refused_while_loading() {
    for (defect, reason) in [
        ("null-encode", "the table's encode function pointer is null"),
        ("null-decode", "the table's decode function pointer is null"),
        ("null-free", "the table's free function pointer is null"),
        ("null-name", "name is a null pointer"),
    ] {
        let path = fixture(defect);
        let err = plugins::load(path).unwrap_err();
        assert!(matches!(err, Error::Plugin { .. }), "{defect}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!("plugin {}: {reason}", path.display()),
            "{defect}"
        );
    }
}

#[test]
fn plugin_answers_claiming_huge_lengths_or_null_bytes_are_failures_not_aborts() {
    let info = plugins::load(fixture("lying-lengths")).unwrap();
    assert_eq!(info.name, "liar");
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).backend("liar").open().unwrap();
    b.set("k", &"an honest value").unwrap();
    assert_eq!(
        b.get::<String>("k").unwrap().as_deref(),
        Some("an honest value")
    );
    let lies = [
        (
            "huge-answer",
            "a buffer of 1099511627776 bytes, over the limit of 1073741824",
        ),
        ("null-answer", "a null buffer of 7 bytes"),
    ];
    for (word, why) in lies {
        // encode answers the lie: `set` fails and writes nothing.
        let err = b.set(word, &word).unwrap_err();
        assert!(
            matches!(&err, Error::Encode { source: BackendError::Failure(m), .. } if m.contains(why)),
            "{word}: {err}"
        );
        assert!(!b.path_for_key(word).unwrap().exists(), "{word}");
        // decode answers the lie for a file holding the word: a miss, and a failure to decode.
        let file = b.path_for_key(&("file", word)).unwrap();
        let bytes = [b"FX".as_slice(), word.as_bytes()].concat();
        fs::write(&file, &bytes).unwrap();
        let fresh = Bucket::builder(dir.path()).backend("liar").open().unwrap();
        assert_eq!(
            fresh.get::<String>(&("file", word)).unwrap(),
            None,
            "{word}"
        );
        let err = fresh.backend().decode(&bytes).unwrap_err();
        assert!(
            matches!(&err, BackendError::Failure(m) if m.contains(why)),
            "{word}: {err}"
        );
        assert!(
            file.exists(),
            "{word}: a file the plugin cannot read is kept"
        );
    }
}
