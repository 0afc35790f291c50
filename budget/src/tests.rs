//! Unit tests of the budget's rules: the unrecorded allowance, the record's lock.

use super::*;

#[test]
fn the_unrecorded_allowance_is_exact_and_at_least_one_entry() {
    let entries = |n| Usage::new(n, 0);
    // 1% of 10 entries is a tenth of one (10 / 100 * 1 truncated to 0 took the lock on
    // every set): one entry may wait, a second may not.
    assert!(!past_allowance(entries(1), None, Some(10)));
    assert!(past_allowance(entries(2), None, Some(10)));
    // 1% of 250 is 2.5: two wait, three do not.
    assert!(!past_allowance(entries(2), None, Some(250)));
    assert!(past_allowance(entries(3), None, Some(250)));
    // Bytes: exactly 1%, without truncation (1% of 150 is 1.5 bytes).
    assert!(!past_allowance(Usage::new(0, 1), Some(150), None));
    assert!(past_allowance(Usage::new(0, 2), Some(150), None));
    assert!(!past_allowance(Usage::new(0, 655), Some(65_536), None));
    assert!(past_allowance(Usage::new(0, 656), Some(65_536), None));
    // No overflow near the top.
    assert!(!past_allowance(
        Usage::new(u64::MAX / 200, u64::MAX / 200),
        Some(u64::MAX),
        Some(u64::MAX)
    ));
    assert_eq!(
        share(u64::MAX, LOW_WATER_PERCENT),
        (u128::from(u64::MAX) * 90 / 100) as u64
    );
    assert_eq!(share(10, LOW_WATER_PERCENT), 9);
}

/// Counts the lock acquisitions of a budget of `max` entries written with `sets` new
/// entries by one writer: the update rule and eviction to the low-water mark, simulated.
fn locks_taken(max: u64, sets: u64) -> u64 {
    let (mut recorded, mut pending, mut locks) = (0u64, 0u64, 0u64);
    let low = share(max, LOW_WATER_PERCENT);
    for _ in 0..sets {
        pending += 1;
        let view = recorded + pending;
        if view > max || past_allowance(Usage::new(pending, 0), None, Some(max)) {
            locks += 1;
            recorded = if view > max { low } else { view };
            pending = 0;
        }
    }
    locks
}

#[test]
fn a_small_budget_does_not_take_the_lock_on_every_set() {
    assert_eq!(
        locks_taken(10, 1000),
        500,
        "every other set, as eviction needs"
    );
    assert!(locks_taken(50, 1000) <= 500);
    assert!(locks_taken(10_000, 1000) <= 10, "once per 1% of the budget");
}
