//! Depth limits of writers and readers, lifetimes, option bounds, lifetime units and the empty
//! path.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use bucketcache::backends::json::{JsonBackend, JsonConfig};
use bucketcache::lifetime::parse_lifetime;
use bucketcache::time::latest_expiration;
use bucketcache::{BackendError, Bucket, BucketConfig, Clock, Error, ManualClock};

use crate::common::{builder, clock};

// What `set` accepts, `get` returns: the depth limits of writers and readers agree.

/// `depth` arrays around a number.
fn nested_arrays(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!(1), |v, _| serde_json::json!([v]))
}

/// `depth` objects around a number.
fn nested_objects(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!(1), |v, _| serde_json::json!({ "a": v }))
}

#[test]
fn each_backend_round_trips_values_at_its_depth_limit_and_refuses_deeper_ones_at_set() {
    assert_eq!(bucketcache::backends::json::MAX_DEPTH, 127);
    assert_eq!(bucketcache::backends::msgpack::MAX_DEPTH, 512);
    assert_eq!(bucketcache::backends::pickle::MAX_DEPTH, 199);
    let limits = [
        ("json", serde_json::Value::Null, 127),
        (
            "json",
            serde_json::json!({"sort_keys": true, "indent": 1}),
            127,
        ),
        ("msgpack", serde_json::Value::Null, 512),
        ("pickle", serde_json::Value::Null, 199),
    ];
    for (backend, options, max) in limits {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let open = || {
            builder(dir.path(), backend, &clock)
                .backend_options(options.clone())
                .open()
                .unwrap()
        };
        let b = open();
        for (shape, make) in [
            ("arrays", nested_arrays as fn(usize) -> serde_json::Value),
            ("objects", nested_objects),
        ] {
            let at_limit = make(max);
            b.set(&(shape, max), &at_limit).unwrap();
            // Read back by a bucket that has only the file.
            assert_eq!(
                open().get::<serde_json::Value>(&(shape, max)).unwrap(),
                Some(at_limit),
                "{backend} {options}: {shape} nested {max} deep"
            );
            let err = b.set(&(shape, max + 1), &make(max + 1)).unwrap_err();
            assert!(
                matches!(&err, Error::Encode { source: BackendError::Encode(why), .. }
                    if why.contains(&max.to_string())),
                "{backend} {options}: {shape}: {err}"
            );
            assert!(
                !b.path_for_key(&(shape, max + 1)).unwrap().exists(),
                "{backend}: nothing written"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lifetimes: expirations stay within year 9999; a unit appears once.

#[test]
fn lifetimes_past_year_9999_are_refused_when_the_bucket_opens() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock(); // 2030
    let refused = |b: bucketcache::BucketBuilder| {
        let err = b.open().unwrap_err();
        assert!(matches!(err, Error::InvalidLifetime(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("9999-12-31T23:59:59.999999"), "{message}");
        assert!(message.contains("Python"), "{message}");
    };
    refused(builder(dir.path(), "json", &clock).lifetime(Duration::MAX));
    refused(builder(dir.path(), "json", &clock).days(u64::MAX));
    refused(builder(dir.path(), "json", &clock).weeks(1_000_000));
    let config = BucketConfig::from_toml_str(&format!(
        "path = {:?}\nbackend = \"pickle\"\nlifetime = \"99999999999d\"",
        dir.path().display().to_string()
    ))
    .unwrap();
    refused(config.builder().unwrap().clock(clock.clone()));
    refused(config.builder().unwrap()); // the system clock

    // The limit is now + lifetime, by the bucket's clock.
    let now = clock.now();
    let room = (latest_expiration() - now).to_std().unwrap();
    for backend in ["json", "msgpack", "pickle"] {
        let b = builder(dir.path(), backend, &clock)
            .lifetime(room)
            .open()
            .unwrap();
        b.set("far", &1).unwrap();
        let (_, expiration) = b.get_with_expiration::<u8>("far").unwrap().unwrap();
        assert_eq!(expiration, Some(latest_expiration()), "{backend}");
        refused(builder(dir.path(), backend, &clock).lifetime(room + Duration::from_micros(1)));
    }
    let late = Arc::new(ManualClock::new("9999-06-01T00:00:00".parse().unwrap()));
    refused(builder(dir.path(), "json", &late).days(365));
    builder(dir.path(), "json", &late).days(200).open().unwrap();
}

#[test]
fn a_unit_given_twice_in_a_lifetime_is_refused() {
    for text in [
        "1h 1h",
        "1h1h",
        "1h 30m 2h",
        "1h 30hours",
        "2d 1day",
        "1s 500ms 1s",
    ] {
        let err = parse_lifetime(text).unwrap_err();
        assert!(matches!(err, Error::InvalidLifetime(_)), "{text}: {err:?}");
        assert!(err.to_string().contains("given twice"), "{text}: {err}");
        assert!(
            BucketConfig::from_toml_str(&format!("path = \"c\"\nlifetime = {text:?}")).is_err(),
            "{text}"
        );
    }
    assert!(parse_lifetime("1 h").is_err());
    assert_eq!(
        parse_lifetime("1w 2d 3h 4m 5s").unwrap(),
        Duration::from_secs((((9 * 24 + 3) * 60 + 4) * 60) + 5)
    );
    // Components that overflow a Duration between them are an error, not a panic.
    assert!(parse_lifetime("29000000000000w 200000000000000d").is_err());
}

// ---------------------------------------------------------------------------------------------
// Options and paths.

#[test]
fn numeric_backend_options_out_of_range_are_refused_naming_the_option_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let open = |backend: &str, options: serde_json::Value| {
        Bucket::builder(dir.path())
            .backend(backend)
            .backend_options(options)
            .open()
    };
    for indent in [65, 100_000_000] {
        let err = open("json", serde_json::json!({ "indent": indent })).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(
            err.to_string().contains(&format!(
                "indent = {indent} is out of range: it must be 0 to 64"
            )),
            "{err}"
        );
    }
    let b = open("json", serde_json::json!({ "indent": 64 })).unwrap();
    b.set("k", &serde_json::json!([[1, 2], [3]])).unwrap();
    assert!(fs::metadata(b.path_for_key("k").unwrap()).unwrap().len() < 4096);
    for bad in [
        serde_json::json!({ "indent": -1 }),
        serde_json::json!({ "indent": 1.5 }),
    ] {
        assert!(matches!(open("json", bad), Err(Error::Config(_))));
    }
    // From a configuration file, as the issue reported it.
    let config = BucketConfig::from_toml_str(&format!(
        "path = {:?}\nbackend = \"json\"\n[backend_options.json]\nindent = 100000000",
        dir.path().display().to_string()
    ))
    .unwrap();
    let err = Bucket::from_config(&config).unwrap_err();
    assert!(err.to_string().contains("indent = 100000000"), "{err}");
    // Nor can a backend instance be built with such options.
    let err = JsonBackend::new(JsonConfig::default().indent(Some(100_000_000))).unwrap_err();
    assert!(err.to_string().contains("indent"), "{err}");
    // pickle's one numeric option is its protocol; msgpack has none (its options are flags).
    for protocol in [0, 4, 200] {
        let err = open("pickle", serde_json::json!({ "protocol": protocol })).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("pickle protocol {protocol} is not supported")),
            "{err}"
        );
    }
    assert!(matches!(
        open("pickle", serde_json::json!({ "protocol": 100_000 })),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        open("msgpack", serde_json::json!({ "use_single_float": 100 })),
        Err(Error::Config(_))
    ));
}

#[test]
fn an_empty_path_is_a_config_error_not_the_config_files_folder() {
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in [
        ("cache.toml", "path = \"\"\nbackend = \"json\"\n"),
        ("cache.json", r#"{"path": "", "backend": "json"}"#),
    ] {
        let file = dir.path().join(file);
        fs::write(&file, text).unwrap();
        let err = BucketConfig::from_file(&file).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("path is empty"), "{err}");
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
    }
    let config = BucketConfig::from_toml_str("path = \"\"").unwrap();
    assert!(matches!(
        Bucket::from_config(&config),
        Err(Error::Config(_))
    ));
    let err = Bucket::builder("").backend("json").open().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("empty"), "{err}");
    // "." is how a configuration names its own folder.
    let file = dir.path().join("here.toml");
    fs::write(&file, "path = \".\"\nbackend = \"json\"\n").unwrap();
    let b = Bucket::from_config(&BucketConfig::from_file(&file).unwrap()).unwrap();
    assert_eq!(b.path(), dir.path().canonicalize().unwrap());
}
