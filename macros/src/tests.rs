//! Unit tests of the macro's expansion and its compile-time checks.

use super::*;

fn expand_str(attr: &str, item: &str) -> Result<String, String> {
    expand(attr.parse().unwrap(), item.parse().unwrap())
        .map(|t| t.to_string())
        .map_err(|e| e.to_string())
}

#[test]
fn missing_bucket_is_an_error() {
    let e = expand_str("method", "fn f(&self) -> u8 { 1 }").unwrap_err();
    assert!(e.contains("missing `bucket"), "{e}");
}

#[test]
fn unknown_option_is_an_error() {
    let e = expand_str("bucket = B, lifetime = 3", "fn f() -> u8 { 1 }").unwrap_err();
    assert!(e.contains("unknown option"), "{e}");
}

#[test]
fn repeated_option_is_an_error() {
    let e = expand_str("bucket = B, bucket = C", "fn f() -> u8 { 1 }").unwrap_err();
    assert!(e.contains("twice"), "{e}");
}

#[test]
fn ignore_and_nocache_must_name_arguments() {
    let e = expand_str("bucket = B, ignore(c)", "fn f(a: u8) -> u8 { a }").unwrap_err();
    assert!(e.contains("`c` is not an argument"), "{e}");
    let e = expand_str("bucket = B, nocache = r", "fn f(a: u8) -> u8 { a }").unwrap_err();
    assert!(e.contains("`r` is not an argument"), "{e}");
}

#[test]
fn nocache_argument_must_be_bool() {
    let e = expand_str("bucket = B, nocache = r", "fn f(r: u8) -> u8 { r }").unwrap_err();
    assert!(e.contains("must be a `bool`"), "{e}");
}

#[test]
fn method_and_receiver_go_together() {
    let e = expand_str("bucket = B, method", "fn f(a: u8) -> u8 { a }").unwrap_err();
    assert!(e.contains("no receiver"), "{e}");
    let e = expand_str("bucket = B", "fn f(&self) -> u8 { 1 }").unwrap_err();
    assert!(e.contains("add `method`"), "{e}");
    let e = expand_str("bucket = B, method", "fn f(&mut self) -> u8 { 1 }").unwrap_err();
    assert!(e.contains("takes `&self`"), "{e}");
    let e = expand_str("bucket = B, method", "fn f(self) -> u8 { 1 }").unwrap_err();
    assert!(e.contains("takes `&self`"), "{e}");
}

#[test]
fn mutable_references_are_refused_even_nested() {
    let e = expand_str("bucket = B", "fn f(a: &mut u8) -> u8 { *a }").unwrap_err();
    assert!(e.contains("`&mut`"), "{e}");
    let e = expand_str("bucket = B", "fn f(a: Option<&mut u8>) -> u8 { 1 }").unwrap_err();
    assert!(e.contains("`&mut`"), "{e}");
}

#[test]
fn patterns_and_impl_trait_are_refused() {
    let e = expand_str("bucket = B", "fn f((a, b): (u8, u8)) -> u8 { a }").unwrap_err();
    assert!(e.contains("plain `name: Type`"), "{e}");
    let e = expand_str("bucket = B", "fn f(a: impl Into<u8>) -> u8 { 1 }").unwrap_err();
    assert!(e.contains("`impl Trait` arguments"), "{e}");
    let e = expand_str("bucket = B", "fn f(a: u8) -> impl Copy { a }").unwrap_err();
    assert!(e.contains("`impl Trait` return"), "{e}");
    let e = expand_str("bucket = B", "const fn f(a: u8) -> u8 { a }").unwrap_err();
    assert!(e.contains("const fn"), "{e}");
}

#[test]
fn background_is_for_free_functions() {
    let e = expand_str("bucket = B, method, background", "fn f(&self) -> u8 { 1 }").unwrap_err();
    assert!(e.contains("`&self` cannot go there"), "{e}");
    let out = expand_str("bucket = B, background", "async fn f(a: u8) -> u8 { a }").unwrap();
    assert!(out.contains("refresh_in_background"), "{out}");
    let out = expand_str("bucket = B", "async fn f(a: u8) -> u8 { a }").unwrap();
    assert!(
        !out.contains("in_background") && out.contains("lookup_fresh_async"),
        "{out}"
    );
    let out = expand_str("bucket = B, background", "fn f(a: u8) -> u8 { a }").unwrap();
    assert!(out.contains("in_background"), "{out}");
    let out = expand_str("bucket = B", "fn f(a: u8) -> u8 { a }").unwrap();
    assert!(
        !out.contains("in_background") && out.contains("lookup_fresh"),
        "{out}"
    );
}

#[test]
fn results_are_detected_by_their_last_segment() {
    assert!(looks_like_result(&syn::parse_quote!(Result<u8, E>)));
    assert!(looks_like_result(&syn::parse_quote!(std::io::Result<u8>)));
    assert!(looks_like_result(&syn::parse_quote!(anyhow::Result<u8>)));
    assert!(!looks_like_result(&syn::parse_quote!(Option<u8>)));
    assert!(!looks_like_result(&syn::parse_quote!((u8, Result<u8, E>))));
}

#[test]
fn result_returns_cache_the_ok_type() {
    let out = expand_str("bucket = B", "fn f(a: u8) -> Result<u8, E> { Ok(a) }").unwrap();
    assert!(out.contains("IsResult > :: Ok"), "{out}");
    let out = expand_str(
        "bucket = B, no_result",
        "fn f(a: u8) -> Result<u8, E> { Ok(a) }",
    )
    .unwrap();
    assert!(!out.contains("IsResult"), "{out}");
}

#[test]
fn ignored_and_nocache_arguments_stay_out_of_the_key() {
    let out = expand_str(
        "bucket = B, ignore(v), nocache = r",
        "fn f(a: u8, v: bool, r: bool) -> u8 { a }",
    )
    .unwrap();
    let key = &out[out.find("args : & [").unwrap()..];
    let key = &key[..key.find(']').unwrap()];
    assert!(key.contains("\"a\""), "{key}");
    assert!(!key.contains("\"v\"") && !key.contains("\"r\""), "{key}");
}

#[test]
fn signature_docs_and_visibility_are_kept() {
    let out = expand_str(
        "bucket = B",
        "/// Doc.\n#[inline] pub(crate) fn f<T: Copy>(a: T) -> u8 where T: Clone { 1 }",
    )
    .unwrap();
    assert!(out.starts_with("# [doc = \" Doc.\"] # [inline] pub (crate) fn f < T : Copy > (a : T) -> u8 where T : Clone"), "{out}");
}

fn function_const(out: &str) -> String {
    let at = out.find("__BC_FUNCTION : & str =").unwrap();
    out[at..at + out[at..].find(';').unwrap()].to_owned()
}

#[test]
fn version_auto_changes_with_the_code_not_with_comments_or_formatting() {
    let v = |item: &str| function_const(&expand_str("bucket = B, version = auto", item).unwrap());
    let base = v("fn f(a: u8) -> u8 { a + 1 }");
    assert!(base.contains("\"@"), "{base}");
    assert_eq!(
        base,
        v("fn f(a: u8) -> u8 {\n    // a comment\n    a   +   1\n}")
    );
    assert_eq!(
        base,
        v("/// Docs do not count.\nfn f(a: u8) -> u8 { a + 1 }")
    );
    assert_ne!(base, v("fn f(a: u8) -> u8 { a + 2 }"));
    assert_ne!(base, v("fn f(a: u16) -> u16 { a + 1 }"));
}

#[test]
fn version_auto_sees_the_names_a_function_uses_not_what_they_hold() {
    // The documented limit: the fingerprint is the function's own tokens. A constant, a
    // helper or a macro it uses is seen by its name only — renaming it changes the version,
    // changing its value or body (elsewhere) cannot.
    let v = |item: &str| function_const(&expand_str("bucket = B, version = auto", item).unwrap());
    let uses = v("fn f(a: u64) -> u64 { helper(a) * RATE + m!(a) }");
    assert_eq!(uses, v("fn f(a: u64) -> u64 { helper(a)*RATE + m!(a) }"));
    assert_ne!(uses, v("fn f(a: u64) -> u64 { helper2(a) * RATE + m!(a) }"));
    assert_ne!(
        uses,
        v("fn f(a: u64) -> u64 { helper(a) * RATE_V2 + m!(a) }")
    );
    // A version given by hand replaces the fingerprint: bumping it is a new key.
    let hand = |v: &str| {
        function_const(
            &expand_str(
                &format!("bucket = B, version = \"{v}\""),
                "fn f(a: u64) -> u64 { helper(a) * RATE }",
            )
            .unwrap(),
        )
    };
    assert_ne!(hand("rate-20"), hand("rate-25"));
}

#[test]
fn a_given_version_enters_the_key_and_none_leaves_it_as_it_was() {
    let given =
        function_const(&expand_str("bucket = B, version = \"2\"", "fn f() -> u8 { 1 }").unwrap());
    assert!(given.contains("\"@2\""), "{given}");
    let none = function_const(&expand_str("bucket = B", "fn f() -> u8 { 1 }").unwrap());
    assert!(!none.contains('@'), "{none}");
    let e = expand_str("bucket = B, version = latest", "fn f() -> u8 { 1 }").unwrap_err();
    assert!(e.contains("`version` is `auto`"), "{e}");
}
