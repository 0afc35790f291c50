//! `#[cached]` on one-expression bodies compiles under `#![deny(warnings)]` (declared with
//! `#[deny(warnings)]` in `mod.rs`).

use std::sync::LazyLock;

use bucketcache::Bucket;

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
static BUCKET: LazyLock<Bucket> =
    LazyLock::new(|| Bucket::builder(DIR.path()).backend("json").open().unwrap());

// One-line bodies, as in the README: rustc lints braces only around a one-line block, so
// rustfmt must not spread them.
#[rustfmt::skip]
#[bucketcache::cached(bucket = BUCKET)]
fn mul(a: i64, b: i64) -> i64 { a * b }

#[rustfmt::skip]
#[bucketcache::cached(bucket = BUCKET, ignore(_verbose), nocache = refresh)]
fn mul_ignoring(a: i64, b: i64, _verbose: bool, refresh: bool) -> i64 { a * b }

#[rustfmt::skip]
#[bucketcache::cached(bucket = BUCKET)]
async fn add(a: i64, b: i64) -> i64 { a + b }

#[rustfmt::skip]
#[bucketcache::cached(bucket = BUCKET)]
fn checked(a: i64) -> Result<i64, String> { a.checked_mul(2).ok_or_else(|| "overflow".to_owned()) }

#[test]
fn cached_one_expression_bodies_compile_under_deny_warnings() {
    assert_eq!(mul(6, 7), 42);
    assert_eq!(mul(6, 7), 42);
    assert_eq!(mul_ignoring(6, 7, true, false), 42);
    assert_eq!(checked(21), Ok(42));
    assert_eq!(crate::common::block_on(add(40, 2)), 42);
}
