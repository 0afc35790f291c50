//! Plugins: shared libraries loaded at run time (the CBOR example and broken fixtures, built by
//! the tests themselves), a third-party crate registered through `inventory`, and the runtime
//! validation every backend must pass (the original's `check_concrete`), one test per rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use bucketcache::registry::{self, Origin};
use bucketcache::validate::validate_backend;
use bucketcache::{
    plugins, Backend, BackendError, Bucket, BucketConfig, Decoded, Error, Expiration,
    ValueLocation, ValueTree, ValueVisitor,
};
use serde::{Deserialize, Serialize};

/// The plugin libraries, built once per test process.
struct Built {
    cbor: PathBuf,
    /// The fixture plugin by defect (`faulty` is the build without features).
    fixtures: BTreeMap<&'static str, PathBuf>,
}

const DEFECTS: [&str; 10] = [
    "wrong-abi",
    "wrong-size",
    "missing-symbol",
    "bad-extension",
    "panicking-encode",
    "null-encode",
    "null-decode",
    "null-free",
    "null-name",
    "lying-lengths",
];

/// Builds the plugin crates with cargo into a target directory of their own (so the build does
/// not wait on the lock of the build running these tests), and copies each library to a path
/// of its own: one crate serves every defect, one feature at a time.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-tests");
        let out = target.join("libs");
        cargo_build(
            &target,
            &[
                "-p",
                "bucketcache-plugin-cbor",
                "-p",
                "bucketcache-broken-plugin",
            ],
        );
        let cbor = install(
            &target,
            "bucketcache_plugin_cbor",
            &out.join("cbor"),
            "cbor",
        );
        let mut fixtures = BTreeMap::new();
        fixtures.insert(
            "faulty",
            install(
                &target,
                "bucketcache_broken_plugin",
                &out.join("faulty"),
                "faulty",
            ),
        );
        for defect in DEFECTS {
            cargo_build(
                &target,
                &["-p", "bucketcache-broken-plugin", "--features", defect],
            );
            let name = defect.replace('-', "_");
            fixtures.insert(
                defect,
                install(
                    &target,
                    "bucketcache_broken_plugin",
                    &out.join(defect),
                    &name,
                ),
            );
        }
        Built { cbor, fixtures }
    })
}

fn cargo_build(target: &Path, args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        // Only loaded, never debugged: skipping debug info and incremental state makes this
        // from-scratch build of the plugins' dependencies markedly cheaper on CI.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_INCREMENTAL", "0")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build {args:?} failed");
}

/// Copies a freshly built library to `dir/<prefix><name><suffix>`. Written under a temporary
/// name and renamed, so a library another test process has mapped is never overwritten in place.
fn install(target: &Path, crate_lib: &str, dir: &Path, name: &str) -> PathBuf {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    let from = target
        .join("debug")
        .join(format!("{DLL_PREFIX}{crate_lib}{DLL_SUFFIX}"));
    std::fs::create_dir_all(dir).unwrap();
    let to = dir.join(format!("{DLL_PREFIX}{name}{DLL_SUFFIX}"));
    let tmp = dir.join(format!("{name}.{}.partial", std::process::id()));
    std::fs::copy(&from, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    std::fs::rename(&tmp, &to).unwrap();
    to
}

/// The fixture plugin built with the feature `name` (`faulty`: without features).
pub(crate) fn fixture(name: &str) -> &'static Path {
    &built().fixtures[name]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Doc {
    title: String,
    pages: Vec<u32>,
    meta: BTreeMap<String, Option<f64>>,
    blob: Vec<u8>,
}

fn doc() -> Doc {
    Doc {
        title: "Plugins ☃".into(),
        pages: vec![1, 2, 65_536],
        meta: BTreeMap::from([("ratio".into(), Some(0.25)), ("none".into(), None)]),
        blob: vec![0, 255],
    }
}

// --- the CBOR example plugin -------------------------------------------------------------

#[test]
fn cbor_plugin_loads_by_path_and_stores_values() {
    let info = plugins::load(&built().cbor).unwrap();
    assert_eq!(info.name, "cbor");
    assert_eq!(info.extension, "cbor");
    assert!(info.binary);
    assert!(
        matches!(info.origin, Origin::Plugin(ref p) if p.ends_with(built().cbor.file_name().unwrap()))
    );

    let dir = tempfile::tempdir().unwrap();
    let bucket = Bucket::builder(dir.path()).backend("cbor").open().unwrap();
    bucket.set(&("doc", 1), &doc()).unwrap();
    let file = bucket.path_for_key(&("doc", 1)).unwrap();
    assert_eq!(file.extension().unwrap(), "cbor");

    // A fresh bucket reads the file from disk, through the plugin.
    let again = Bucket::builder(dir.path()).backend("cbor").open().unwrap();
    assert_eq!(again.get::<Doc>(&("doc", 1)).unwrap(), Some(doc()));
}

#[test]
fn the_loaded_cbor_library_passes_the_conformance_kit() {
    plugins::load(&built().cbor).unwrap();
    let backend = registry::backend("cbor", &serde_json::Value::Null).unwrap();
    bucketcache_plugin_sdk::conformance::check_backend(backend).unwrap();
}

#[test]
fn loading_the_same_file_twice_is_a_no_op() {
    let first = plugins::load(&built().cbor).unwrap();
    let second = plugins::load(&built().cbor).unwrap();
    assert_eq!(first.name, second.name);
    assert_eq!(first.origin, second.origin);
    assert_eq!(
        registry::backends()
            .iter()
            .filter(|b| b.name == "cbor")
            .count(),
        1
    );
}

#[test]
fn cbor_plugin_is_selected_by_name_from_a_toml_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cache.toml");
    std::fs::write(
        &config,
        format!(
            "path = \"cache\"\nbackend = \"cbor\"\nlifetime = \"1h\"\nplugins = [{:?}]\n",
            built().cbor.display().to_string()
        ),
    )
    .unwrap();
    let cfg = BucketConfig::from_file(&config).unwrap();
    let bucket = Bucket::from_config(&cfg).unwrap();
    assert_eq!(bucket.backend().name(), "cbor");
    bucket.set("k", &doc()).unwrap();
    let (value, expiration) = bucket.get_with_expiration::<Doc>("k").unwrap().unwrap();
    assert_eq!(value, doc());
    assert!(expiration.is_some());
    assert!(dir.path().join("cache").is_dir());
}

#[test]
fn a_plugin_path_list_loads_files_and_directories() {
    let cbor_dir = built().cbor.parent().unwrap().to_owned();
    let list = std::env::join_paths([cbor_dir, fixture("faulty").to_owned()]).unwrap();
    let infos = plugins::load_path_list(&list).unwrap();
    let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["cbor", "faulty"]);
}

#[test]
fn plugin_path_variable_loads_what_it_names_and_nothing_from_the_working_directory() {
    // The environment and the working directory belong to the whole process, so the loading
    // runs in a child process: this test binary, running only the ignored test below, started
    // in the directory that holds the CBOR plugin, with an empty entry in the variable.
    let list = std::env::join_paths([Path::new(""), fixture("faulty").parent().unwrap()]).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "plugins::load_from_env_in_a_child_process"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(plugins::PLUGIN_PATH_ENV, list)
        .current_dir(built().cbor.parent().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("loaded from the environment: [faulty]"),
        "{stdout}"
    );
    assert!(stdout.contains("cbor known: false"), "{stdout}");
}

#[test]
#[ignore = "run by plugin_path_variable_loads_what_it_names_and_nothing_from_the_working_directory"]
fn load_from_env_in_a_child_process() {
    let infos = plugins::load_from_env().unwrap();
    let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    println!("loaded from the environment: [{}]", names.join(", "));
    let known = registry::backends().iter().any(|b| b.name == "cbor");
    println!("cbor known: {known}");
}

// --- refusals, one per reason -------------------------------------------------------------

fn refusal(defect: &str) -> (Error, String) {
    let path = fixture(defect);
    let err = plugins::load(path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "the message must name the file: {message}"
    );
    (err, message)
}

#[test]
fn wrong_abi_version_is_refused() {
    let (err, message) = refusal("wrong-abi");
    assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
    assert!(
        message.ends_with(": ABI version 2, this host speaks 1"),
        "{message}"
    );
    assert!(registry::backend("broken-abi", &serde_json::Value::Null).is_err());
}

#[test]
fn table_size_mismatch_is_refused() {
    let (err, message) = refusal("wrong-size");
    assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
    assert!(message.contains("table size mismatch"), "{message}");
    assert!(
        message.contains("is 80 bytes, ABI version 1 has 72"),
        "{message}"
    );
}

#[test]
fn missing_entry_symbol_is_refused() {
    let (err, message) = refusal("missing-symbol");
    assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
    assert!(
        message.contains("missing symbol `bucketcache_plugin_table`: not a bucketcache plugin"),
        "{message}"
    );
}

#[test]
fn invalid_file_extension_is_refused() {
    let (err, message) = refusal("bad-extension");
    assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
    assert!(
        message.contains("invalid file extension \"c.bor\": it must match [A-Za-z0-9]+"),
        "{message}"
    );
}

#[test]
fn a_plugin_failing_the_probe_is_refused() {
    let (err, message) = refusal("panicking-encode");
    assert!(matches!(err, Error::BackendRefused { .. }), "{err:?}");
    assert!(message.contains("\"broken-encode\""), "{message}");
    assert!(
        message.contains("panicked: the fixture's encode panics on purpose"),
        "{message}"
    );
    // Refused means not registered.
    let lookup = registry::backend("broken-encode", &serde_json::Value::Null).unwrap_err();
    assert!(matches!(lookup, Error::UnknownBackend { .. }));
}

#[test]
fn a_second_library_claiming_a_taken_name_is_refused() {
    plugins::load(&built().cbor).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(built().cbor.file_name().unwrap());
    std::fs::copy(&built().cbor, &copy).unwrap();
    let err = plugins::load(&copy).unwrap_err();
    assert!(matches!(err, Error::DuplicateName { .. }), "{err:?}");
    let message = err.to_string();
    let canonical = copy.canonicalize().unwrap();
    assert!(
        message.contains(&canonical.display().to_string()),
        "{message}"
    );
    assert!(message.contains("backend name \"cbor\""), "{message}");
    assert!(message.contains("already registered"), "{message}");
}

#[test]
fn nothing_is_searched_for_a_bare_library_name() {
    let name = built().cbor.file_name().unwrap();
    let err = plugins::load(name).unwrap_err();
    assert!(err.to_string().ends_with(": no such file"), "{err}");
}

// --- faults at run time -------------------------------------------------------------------

#[test]
fn a_plugin_that_panics_at_run_time_gives_an_error_and_the_process_continues() {
    plugins::load(fixture("faulty")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bucket = Bucket::builder(dir.path())
        .backend("faulty")
        .open()
        .unwrap();

    // encode panics inside the plugin: an error for this call, nothing written.
    let err = bucket.set("a", "panic").unwrap_err();
    assert!(matches!(err, Error::Encode { .. }), "{err:?}");
    assert!(err.to_string().contains("panicked"), "{err}");
    assert!(!bucket.path_for_key("a").unwrap().exists());

    // decode panics inside the plugin: a miss, from memory and from disk.
    bucket.set("b", "panic-on-load").unwrap();
    assert_eq!(bucket.get::<String>("b").unwrap(), None);
    let fresh = Bucket::builder(dir.path())
        .backend("faulty")
        .open()
        .unwrap();
    assert_eq!(fresh.get::<String>("b").unwrap(), None);

    // The plugin and the process carry on.
    bucket.set("c", "fine").unwrap();
    assert_eq!(fresh.get::<String>("c").unwrap().as_deref(), Some("fine"));
}

// --- a third-party crate registered through inventory -------------------------------------

#[test]
fn bincode_crate_is_selected_by_name_only() {
    // Only the registry name is used. Rust leaves an unreferenced dependency out of the link
    // entirely (so its `inventory` entry would never exist); the `use ... as _` below is the one
    // line a program needs besides `Cargo.toml`, and it names no API of the crate.
    use bucketcache_bincode_example as _;
    let dir = tempfile::tempdir().unwrap();
    let bucket = Bucket::builder(dir.path())
        .backend("bincode")
        .open()
        .unwrap();
    bucket.set("doc", &doc()).unwrap();
    let fresh = Bucket::builder(dir.path())
        .backend("bincode")
        .open()
        .unwrap();
    assert_eq!(fresh.get::<Doc>("doc").unwrap(), Some(doc()));
    let info = registry::backends()
        .into_iter()
        .find(|b| b.name == "bincode")
        .unwrap();
    assert_eq!(
        info.origin,
        Origin::Crate("bucketcache-bincode-example".into())
    );
}

// --- the runtime validation, rule by rule (the original's check_concrete) -----------------

/// What a fake backend gets wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Defect {
    None,
    NamePanics,
    UppercaseName,
    EmptyName,
    LongName,
    ExtensionPanics,
    DottedExtension,
    EmptyExtension,
    LongExtension,
    TmpExtension,
    ClassNamePanics,
    ClassNameNotIdentifier,
    DumpFails,
    DumpPanics,
    NotDeterministic,
    OwnFileDoesNotLoad,
    DropsMicroseconds,
    ValueDoesNotDecode,
    LossyValue,
    AcceptsGarbage,
    AcceptsTruncated,
    DecodePanics,
    MisplacedValue,
}

/// A JSON backend, `[expiration, value]`, with one defect.
#[derive(Debug)]
struct Fake(Defect, std::sync::atomic::AtomicU32);

impl Fake {
    fn new(defect: Defect) -> Fake {
        Fake(defect, std::sync::atomic::AtomicU32::new(0))
    }
}

impl Backend for Fake {
    fn name(&self) -> &str {
        match self.0 {
            Defect::NamePanics => panic!("no name"),
            Defect::UppercaseName => "Fake",
            Defect::EmptyName => "",
            Defect::LongName => {
                "a-name-that-is-far-too-long-for-any-registry-to-accept-as-a-backend"
            }
            _ => "fake",
        }
    }

    fn file_extension(&self) -> &str {
        match self.0 {
            Defect::ExtensionPanics => panic!("no extension"),
            Defect::DottedExtension => "fa.ke",
            Defect::EmptyExtension => "",
            Defect::LongExtension => "abcdefghijklmnopq",
            Defect::TmpExtension => "TMP",
            _ => "fake",
        }
    }

    fn is_binary(&self) -> bool {
        false
    }

    fn python_class_name(&self) -> Option<&str> {
        match self.0 {
            Defect::ClassNamePanics => panic!("no class"),
            Defect::ClassNameNotIdentifier => Some("1Fake-Backend"),
            _ => Some("FakeBackend"),
        }
    }

    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<Option<ValueLocation>, BackendError> {
        match self.0 {
            Defect::DumpFails => return Err(BackendError::encode("cannot")),
            Defect::DumpPanics => panic!("dump exploded"),
            _ => {}
        }
        let mut expiration = expiration.map(|e| bucketcache::time::format_expiration(&e));
        if self.0 == Defect::DropsMicroseconds {
            expiration = expiration.map(|e| e[..19].to_owned());
        }
        serde_json::to_writer(&mut *out, &(expiration, value)).map_err(BackendError::encode)?;
        if self.0 == Defect::NotDeterministic {
            let n = self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.extend_from_slice(" ".repeat(n as usize % 2).as_bytes());
        }
        if self.0 == Defect::MisplacedValue {
            // Claims the whole file is the value.
            return Ok(Some(ValueLocation::Json(0..out.len())));
        }
        Ok(None)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
        match self.0 {
            Defect::OwnFileDoesNotLoad => return Err(BackendError::decode("never")),
            Defect::AcceptsGarbage if bytes.first() != Some(&b'[') => {
                return Ok(Decoded::new(
                    None,
                    ValueLocation::Tree(Arc::new(JsonTree(serde_json::Value::Null))),
                ))
            }
            Defect::AcceptsTruncated
                if bytes.first() == Some(&b'[')
                    && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() =>
            {
                return Ok(Decoded::new(
                    None,
                    ValueLocation::Tree(Arc::new(JsonTree(serde_json::Value::Null))),
                ))
            }
            Defect::DecodePanics if bytes.first() != Some(&b'[') => panic!("decode exploded"),
            _ => {}
        }
        let (e, mut value): (Option<String>, serde_json::Value) =
            serde_json::from_slice(bytes).map_err(BackendError::decode)?;
        let expiration = e
            .map(|e| {
                bucketcache::time::parse_expiration(&e)
                    .ok_or_else(|| BackendError::decode("bad date"))
            })
            .transpose()?;
        match self.0 {
            Defect::ValueDoesNotDecode => value = serde_json::Value::Bool(true),
            Defect::LossyValue => {
                if let Some(text) = value.get_mut("text") {
                    *text = "lost".into();
                }
            }
            _ => {}
        }
        Ok(Decoded::new(
            expiration,
            ValueLocation::Tree(Arc::new(JsonTree(value))),
        ))
    }
}

/// A decoded JSON value, handed out as a deserializer.
#[derive(Debug)]
struct JsonTree(serde_json::Value);

impl ValueTree for JsonTree {
    fn visit(&self, visit: &mut ValueVisitor<'_>) -> Result<(), erased_serde::Error> {
        visit(&mut <dyn erased_serde::Deserializer>::erase(self.0.clone()))
    }
}

fn broken_rule(defect: Defect) -> String {
    let err = validate_backend(&Fake::new(defect), "the test").unwrap_err();
    assert!(matches!(err, Error::BackendRefused { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("from the test refused"), "{message}");
    message
}

macro_rules! rule_tests {
    ($($test:ident: $defect:ident => $expected:literal;)*) => {$(
        #[test]
        fn $test() {
            let message = broken_rule(Defect::$defect);
            assert!(message.contains($expected), "expected {:?} in: {message}", $expected);
        }
    )*};
}

rule_tests! {
    validation_refuses_a_name_that_panics: NamePanics => "name() panicked: no name";
    validation_refuses_an_uppercase_name: UppercaseName => "name must match [a-z0-9_-]+";
    validation_refuses_an_empty_name: EmptyName => "name must match [a-z0-9_-]+ (1 to 64 characters), got \"\"";
    validation_refuses_a_name_over_64_characters: LongName => "(1 to 64 characters)";
    validation_refuses_an_extension_that_panics: ExtensionPanics => "file_extension() panicked";
    validation_refuses_an_extension_with_a_dot: DottedExtension => "file extension must match [A-Za-z0-9]+";
    validation_refuses_an_empty_extension: EmptyExtension => "got \"\"";
    validation_refuses_an_extension_over_16_characters: LongExtension => "(1 to 16 characters, no dot)";
    validation_refuses_the_reserved_tmp_extension: TmpExtension => "\"tmp\" is reserved";
    validation_refuses_a_python_class_name_that_panics: ClassNamePanics => "python_class_name() panicked";
    validation_refuses_a_python_class_name_that_is_not_an_identifier: ClassNameNotIdentifier => "must be a Python identifier";
    validation_refuses_a_probe_that_does_not_encode: DumpFails => "does not encode: cannot encode: cannot";
    validation_refuses_a_dump_that_panics: DumpPanics => "dump panicked: dump exploded";
    validation_refuses_a_dump_that_is_not_deterministic: NotDeterministic => "dump is not deterministic";
    validation_refuses_a_backend_that_cannot_decode_its_own_file: OwnFileDoesNotLoad => "does not decode: cannot decode: never";
    validation_refuses_an_expiration_that_loses_microseconds: DropsMicroseconds => "expiration does not round-trip";
    validation_refuses_a_probe_value_that_does_not_decode: ValueDoesNotDecode => "probe value does not decode";
    validation_refuses_a_probe_value_that_changes: LossyValue => "probe value does not round-trip";
    validation_refuses_garbage_that_loads: AcceptsGarbage => "loads as a valid file; it must be an error";
    validation_refuses_a_truncated_file_that_loads: AcceptsTruncated => "a truncated file";
    validation_refuses_decode_panicking_on_garbage: DecodePanics => "decode on empty input (0 bytes) panicked";
    validation_refuses_a_dump_that_misplaces_the_value: MisplacedValue => "the value is not where dump says it put it";
}

#[test]
fn the_fake_backend_without_defect_passes_validation() {
    // Guards the rule tests: each fails for its own defect, not for a broken base.
    validate_backend(&Fake::new(Defect::None), "the test").unwrap();
}

#[test]
fn registry_refuses_a_backend_registered_under_another_name() {
    fn factory(_: &registry::BackendOptions) -> bucketcache::Result<std::sync::Arc<dyn Backend>> {
        Ok(std::sync::Arc::new(Fake::new(Defect::None)))
    }
    let err = registry::register_backend_factory("not-fake", "a-test-crate", factory).unwrap_err();
    assert!(
        err.to_string()
            .contains("registered as \"not-fake\" but calls itself \"fake\""),
        "{err}"
    );
}

#[test]
fn registry_refuses_a_factory_whose_default_configuration_fails() {
    fn factory(_: &registry::BackendOptions) -> bucketcache::Result<std::sync::Arc<dyn Backend>> {
        Err(Error::Config("needs a key".into()))
    }
    let err =
        registry::register_backend_factory("needs-config", "a-test-crate", factory).unwrap_err();
    assert!(
        err.to_string()
            .contains("its default configuration does not build"),
        "{err}"
    );
}

#[test]
fn registry_refuses_a_second_backend_with_a_taken_name() {
    fn factory(_: &registry::BackendOptions) -> bucketcache::Result<std::sync::Arc<dyn Backend>> {
        Ok(std::sync::Arc::new(Fake::new(Defect::None)))
    }
    // The first registration may come from another test of this process; either way the name
    // is then held by "first-crate", and another crate cannot take it.
    registry::register_backend_factory("fake", "first-crate", factory).unwrap();
    let err = registry::register_backend_factory("fake", "second-crate", factory).unwrap_err();
    assert!(matches!(err, Error::DuplicateName { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("already registered by crate first-crate"),
        "{err}"
    );
}
