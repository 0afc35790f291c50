//! Misuse of `#[cached]` is a compile error with a clear message at the right place.

#[test]
fn misuse_is_a_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
