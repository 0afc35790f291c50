//! Unit tests of the eviction order and of what a budget evicts.

use super::*;

fn listed(name: &str, size: u64, secs: u64) -> Listed {
    Listed::new(
        name.into(),
        size,
        Kind::File,
        Some(UNIX_EPOCH + Duration::from_secs(secs)),
    )
}

#[test]
fn the_least_recently_used_go_first_then_by_name() {
    let mut entries = vec![
        listed("c", 1, 30),
        listed("b", 1, 10),
        listed("a", 1, 10),
        Listed::new("u".into(), 1, Kind::File, None),
    ];
    eviction_order(&mut entries);
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["u", "a", "b", "c"]);
}

#[test]
fn victims_bring_both_limits_within() {
    let entries: Vec<_> = (0..10).map(|i| listed(&i.to_string(), 100, i)).collect();
    let usage = Usage::new(10, 1000);
    assert_eq!(victims(&entries, usage, Some(1000), None), 0);
    assert_eq!(victims(&entries, usage, Some(750), None), 3);
    assert_eq!(victims(&entries, usage, None, Some(4)), 6);
    assert_eq!(victims(&entries, usage, Some(750), Some(4)), 6);
    assert_eq!(victims(&entries, usage, Some(0), None), 10);
}
