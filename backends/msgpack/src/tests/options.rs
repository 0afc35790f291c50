//! Runtime validation, the registry and options.

use super::*;
use bucketcache_core::registry;

fn factory(
    options: &serde_json::Value,
) -> bucketcache_core::Result<std::sync::Arc<dyn bucketcache_core::Backend>> {
    registry::factory::<MsgpackBackend>(options)
}

#[test]
fn the_backend_passes_runtime_validation() {
    bucketcache_core::validate::validate_backend(&backend(), "test").unwrap();
    let raw = MsgpackBackend::new(
        MsgpackConfig::default()
            .use_single_float(true)
            .use_bin_type(false),
    )
    .unwrap();
    bucketcache_core::validate::validate_backend(&raw, "test").unwrap();
}

#[test]
fn registry_builds_it_by_name_with_options() {
    register().unwrap();
    register().unwrap();
    let b = registry::backend(NAME, &json!({"use_single_float": true})).unwrap();
    assert_eq!(b.encode(&1.5f64, None).unwrap()[7], 0xca);
    let info = registry::backends()
        .into_iter()
        .find(|b| b.name == NAME)
        .unwrap();
    assert_eq!(
        info.python_class_name.as_deref(),
        Some("MessagePackBackend")
    );
    assert!(info.binary);
}

#[test]
fn unknown_options_are_refused_by_name() {
    let err = factory(&json!({"use_singel_float": true})).unwrap_err();
    assert!(err.to_string().contains("use_singel_float"), "{err}");
    assert!(factory(&json!({"use_bin_type": "yes"})).is_err());
    assert!(factory(&json!({})).is_ok());
}
