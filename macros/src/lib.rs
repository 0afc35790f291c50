//! The `#[cached]` attribute macro of bucketcache, re-exported as `bucketcache::cached`.
//!
//! The documentation, with examples, is on [`cached`].
#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Error, Expr, FnArg, Ident, ItemFn, Pat, Path, ReturnType, Token, Type, TypeImplTrait};

/// Memoizes a function or method in a bucketcache `Bucket`: a call whose arguments were seen
/// before (in this process or an earlier one) returns the stored value without running the body.
///
/// ```
/// use std::sync::LazyLock;
/// use bucketcache::Bucket;
///
/// static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
/// static BUCKET: LazyLock<Bucket> =
///     LazyLock::new(|| Bucket::builder(DIR.path()).backend("json").open().unwrap());
///
/// /// Slow on a miss, a file read on a hit.
/// #[bucketcache::cached(bucket = BUCKET)]
/// fn fetch(a: u32, b: &str) -> String {
///     format!("{b}{a}")
/// }
///
/// assert_eq!(fetch(1, "x"), "x1"); // computed and stored
/// assert_eq!(fetch(1, "x"), "x1"); // read back
/// ```
///
/// # Options
///
/// `#[cached(bucket = EXPR, ignore(arg, ..), nocache = arg, callback = path, method, result,
/// no_result, version = auto | "v2", crate = path)]`
///
/// - `bucket = EXPR` (required): where entries live. `EXPR` is evaluated on each call and may be
///   anything that dereferences (through `&`, `LazyLock`, `Arc`, …) to a `Bucket`, a
///   `DeferredWriteBucket`, or another `MemoCache`. In a method it may use `self`
///   (`bucket = self.cache`); it may also name an argument (`fn f(b: &Bucket, ..)` with
///   `bucket = b, ignore(b)`). It must name a place that lives through the call (a static, a
///   field, an argument), not a temporary such as a lock guard.
/// - `ignore(a, b)`: leave these arguments out of the key (they need not be `Serialize`).
/// - `nocache = refresh`: names a `bool` argument; when it is `true` the body runs and its value
///   overwrites the entry (the cache is not read). It is never part of the key.
/// - `callback = path`: on cache hits only, `path(&CachedCallInfo)` is called, or
///   `path(&self, &CachedCallInfo)` with `method`. `callargs` holds every argument by name as
///   JSON (ignored and `nocache` ones too; an argument that is not `Serialize` is `null`).
/// - `method`: for `&self` methods. The receiver's state is part of the key (`Self: Serialize`;
///   mark fields such as the bucket itself `#[serde(skip)]`), so instances with equal state share
///   entries and a changed state is a new entry.
/// - `result` / `no_result`: a return type whose last path segment is `Result` (`Result<T, E>`,
///   `io::Result<T>`, `anyhow::Result<T>`) caches only `Ok` values, as `T`; an `Err` is returned
///   and not stored, and the next call runs the body again. `no_result` caches the whole value
///   instead; `result` forces `Ok`-only caching for an alias not named `…Result`.
/// - `version = auto`: a fingerprint of the function's code (its signature and body as tokens:
///   comments and formatting do not count) enters the key, so a changed function never returns
///   results of its old code. `version = "2"` (any string or integer) sets it by hand. Without
///   `version` the key holds no version, as before: entries survive edits that do not change the
///   result (a renamed local, a log line), and existing caches stay valid; opt in where stale
///   results would be wrong. The closure API takes a version as part of the key you give it.
///   See [What `version = auto` does not see](#what-version--auto-does-not-see).
/// - `crate = path`: where the bucketcache facade is (default `::bucketcache`).
///
/// # What `version = auto` does not see
///
/// A macro sees only the tokens of the function it is written on. The fingerprint of
/// `version = auto` is made of exactly these tokens — the signature and the body as written,
/// comments and formatting left out — and of nothing they refer to. So an edit **outside** the
/// function does not change the fingerprint, and the old results are still returned:
///
/// - **constants and statics** the body uses (`const RATE: f64 = 0.2;` changed to `0.25`);
/// - **helper functions and methods** it calls, in this crate or another (`round2(x)` whose body
///   changed), and trait implementations it relies on (`Display`, `Serialize`, `Ord`, …);
/// - **macros** it invokes (`my_macro!(..)` whose definition changed: the call's tokens are the
///   same), and `include_str!`/`include_bytes!` files whose content changed;
/// - **types** whose definition or serialized shape changed (a field added to a struct the
///   function returns is a different encoding, but the same tokens);
/// - **dependencies**: a new version of a crate the function calls, and the compiler, the
///   target, features and `cfg` settings;
/// - **outside inputs**: environment variables, files, the clock, the network.
///
/// When one of these changes what the function returns, bump the version by hand: give
/// `version` a value and change it with each such edit (a literal replaces the fingerprint).
///
/// ```
/// # use std::sync::LazyLock;
/// # use bucketcache::Bucket;
/// # static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
/// # static BUCKET: LazyLock<Bucket> =
/// #     LazyLock::new(|| Bucket::builder(DIR.path()).backend("json").open().unwrap());
/// /// The tax rate, used by `price_with_tax`: `version = auto` would not see it change.
/// const RATE_PERCENT: u64 = 25; // was 20 when version was "rate-20"
///
/// fn round_cents(c: u64) -> u64 {
///     c / 5 * 5
/// }
///
/// // Bumped by hand when RATE_PERCENT or round_cents changed: "rate-20" → "rate-25".
/// #[bucketcache::cached(bucket = BUCKET, version = "rate-25")]
/// fn price_with_tax(cents: u64) -> u64 {
///     round_cents(cents * (100 + RATE_PERCENT) / 100)
/// }
///
/// assert_eq!(price_with_tax(1000), 1250);
/// ```
///
/// `version = auto` is right for a self-contained function whose body is what changes; for one
/// that depends on shared constants or helpers, a hand-kept version names what it depends on.
/// - `background`: a refresh of an entry (expired within the bucket's
///   `stale_while_revalidate` window, or due for its `refresh_ahead`) runs the body on the
///   bucket's pool of background threads, with clones of the arguments, while the call returns
///   the current value at once. The arguments must be `Clone + Send + 'static` (owned values,
///   not references) and the value `Send + 'static`; not for methods. On an `async fn` the
///   body runs as a task on the caller's tokio runtime (feature `async`; outside a runtime, or
///   without the feature, in the caller), cancelled past the bucket's `single_flight_timeout`.
///   Without it, the one caller that takes a refresh runs the body itself (the others get the
///   stale value).
/// - `crate = path`: where the bucketcache facade is (default `::bucketcache`).
///
/// # Freshness
///
/// A function — sync or `async fn` — memoized in a bucket built with `stale_while_revalidate`,
/// `stale_if_error` or `refresh_ahead` follows them (see `docs/freshness.md`): an expired value within the window
/// is returned at once while one caller (across processes) refreshes it; an `Err` of a function
/// returning `Result` is answered with the expired value within `stale_if_error`. The options
/// are the bucket's: functions that need other windows use another bucket.
///
/// # The key
///
/// A sequence `["<module_path!()>::<name>", {arg name: value, ..}]`, or for methods
/// `["<module_path!()>::<name>", type_name::<Self>(), <receiver>, {..}]`. The function part is a
/// compile-time constant, and the arguments are serialized by reference straight into the
/// keymaker, without copies. Two functions with equal arguments therefore never share an entry
/// (the original keyed by bare function name). A generic function shares entries across its
/// instantiations when their arguments serialize alike.
///
/// # Errors and fallbacks
///
/// If the cache itself fails (the key cannot be serialized by the keymaker, the directory cannot
/// be read), the failure is logged at warn level and the body runs uncached: memoization never
/// turns a working function into a failing one. A value that cannot be stored is returned all the
/// same (logged at warn level).
///
/// # Concurrency
///
/// Within a process, concurrent calls with the same key (threads or tasks) run the body once:
/// the first caller computes while the others wait and then read its value ("single flight"); if
/// the body fails or panics, the next waiter computes. Across processes there is no lock: two
/// processes may both compute a missing entry, and the last file renamed wins (each file is
/// written to a temporary name and renamed, so it is always whole).
///
/// # `async fn`
///
/// An `async fn` works the same; a caller waiting for another task's computation of the same key
/// awaits it without blocking its thread. With the facade's feature `async`, nothing blocks the
/// executor: a memory hit answers inline, each store read or write is one hop to tokio's blocking
/// pool (native async on Redis), waits for other processes park the task, and a dropped future
/// releases its flight and its lock (see `bucketcache::AsyncBucket` and docs/async.md); `bucket`
/// may then also be an `AsyncBucket`, and the cached type must be `Send + 'static`. Without the
/// feature, the cache lookup and store are ordinary (short, blocking) file operations, like
/// `Bucket::get`, done inside the future.
///
/// # Compile-time checks
///
/// Misuse is a compile error pointing at the culprit: a missing `bucket`, an unknown option, an
/// `ignore`/`nocache` name that is not an argument, a `nocache` argument that is not `bool`,
/// `method` without `&self` or `&self` without `method`, `&mut` arguments or receivers (the
/// original raised at run time when a function changed its arguments; here it cannot), argument
/// patterns other than plain names, `impl Trait` arguments or return types, `const fn`.
#[proc_macro_attribute]
pub fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// A fingerprint of a function's code: its signature and body as tokens, so comments and
/// formatting do not count (attributes, doc comments included, are left out). FNV-1a, 64 bits:
/// stable across compilers and runs, which a std hasher is not.
fn fingerprint(func: &ItemFn) -> String {
    let sig = &func.sig;
    let block = &func.block;
    let text = quote!(#sig #block).to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The parsed attribute options.
struct Options {
    bucket: Option<Expr>,
    ignore: Vec<Ident>,
    nocache: Option<Ident>,
    callback: Option<Path>,
    method: Option<Span>,
    result: Option<bool>,
    krate: Option<Path>,
    version: Option<Version>,
    background: Option<Span>,
}

/// `version = auto` or `version = "2"`.
enum Version {
    /// A fingerprint of the function's tokens.
    Auto,
    /// Given by hand.
    Given(String),
}

fn parse_options(attr: TokenStream2) -> syn::Result<Options> {
    let mut o = Options {
        bucket: None,
        ignore: Vec::new(),
        nocache: None,
        callback: None,
        method: None,
        result: None,
        krate: None,
        version: None,
        background: None,
    };
    let parser = syn::meta::parser(|meta| {
        let once = |set: bool| {
            if set {
                Err(meta.error("this option is given twice"))
            } else {
                Ok(())
            }
        };
        if meta.path.is_ident("bucket") {
            once(o.bucket.is_some())?;
            o.bucket = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("ignore") {
            once(!o.ignore.is_empty())?;
            let content;
            syn::parenthesized!(content in meta.input);
            let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
            if names.is_empty() {
                return Err(meta.error("`ignore(..)` needs at least one argument name"));
            }
            o.ignore = names.into_iter().collect();
        } else if meta.path.is_ident("nocache") {
            once(o.nocache.is_some())?;
            o.nocache = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("callback") {
            once(o.callback.is_some())?;
            o.callback = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("method") {
            once(o.method.is_some())?;
            o.method = Some(meta.path.span());
        } else if meta.path.is_ident("result") || meta.path.is_ident("no_result") {
            once(o.result.is_some())?;
            o.result = Some(meta.path.is_ident("result"));
        } else if meta.path.is_ident("version") {
            once(o.version.is_some())?;
            let value = meta.value()?;
            o.version = Some(if value.peek(syn::Lit) {
                match value.parse::<syn::Lit>()? {
                    syn::Lit::Str(s) => Version::Given(s.value()),
                    syn::Lit::Int(i) => Version::Given(i.base10_digits().to_owned()),
                    other => {
                        return Err(Error::new(
                            other.span(),
                            "`version` is `auto`, a string or an integer",
                        ))
                    }
                }
            } else {
                let ident: Ident = value.parse()?;
                if ident != "auto" {
                    return Err(Error::new(
                        ident.span(),
                        "`version` is `auto`, a string or an integer",
                    ));
                }
                Version::Auto
            });
        } else if meta.path.is_ident("background") {
            once(o.background.is_some())?;
            o.background = Some(meta.path.span());
        } else if meta.path.is_ident("crate") {
            once(o.krate.is_some())?;
            o.krate = Some(meta.value()?.call(Path::parse_mod_style)?);
        } else {
            return Err(meta.error(
                "unknown option; expected one of: bucket, ignore, nocache, callback, method, \
                 result, no_result, version, background, crate",
            ));
        }
        Ok(())
    });
    parser.parse2(attr)?;
    Ok(o)
}

/// Finds `impl Trait` anywhere inside a type (its tokens, for an error spanning all of it).
#[derive(Default)]
struct FindImplTrait(Option<TokenStream2>);

impl<'ast> Visit<'ast> for FindImplTrait {
    fn visit_type_impl_trait(&mut self, t: &'ast TypeImplTrait) {
        self.0.get_or_insert_with(|| t.to_token_stream());
    }
}

fn impl_trait_in(ty: &Type) -> Option<TokenStream2> {
    let mut v = FindImplTrait::default();
    v.visit_type(ty);
    v.0
}

/// Finds `&mut` anywhere inside a type (`&mut T`, `Option<&mut T>`, …).
#[derive(Default)]
struct FindMutRef(Option<TokenStream2>);

impl<'ast> Visit<'ast> for FindMutRef {
    fn visit_type_reference(&mut self, t: &'ast syn::TypeReference) {
        if t.mutability.is_some() {
            self.0.get_or_insert_with(|| t.to_token_stream());
        }
        syn::visit::visit_type_reference(self, t);
    }
}

fn mut_ref_in(ty: &Type) -> Option<TokenStream2> {
    let mut v = FindMutRef::default();
    v.visit_type(ty);
    v.0
}

/// Whether the return type's last path segment is `Result`.
fn looks_like_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        Type::Paren(p) => looks_like_result(&p.elem),
        Type::Group(g) => looks_like_result(&g.elem),
        _ => false,
    }
}

fn is_bool(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.qself.is_none() && p.path.is_ident("bool"),
        Type::Paren(p) => is_bool(&p.elem),
        Type::Group(g) => is_bool(&g.elem),
        _ => false,
    }
}

fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let options = parse_options(attr)?;
    let func: ItemFn = syn::parse2(item)?;
    let sig = &func.sig;

    let Some(bucket) = &options.bucket else {
        return Err(Error::new(
            Span::call_site(),
            "missing `bucket = EXPR`: where should the results be stored?",
        ));
    };
    if let Some(c) = &sig.constness {
        return Err(Error::new_spanned(c, "a `const fn` cannot be memoized"));
    }
    if let Some(v) = &sig.variadic {
        return Err(Error::new_spanned(
            v,
            "variadic functions cannot be memoized",
        ));
    }

    // The arguments, checked.
    let mut receiver = None;
    let mut args: Vec<(&Ident, &Type)> = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                if r.reference.is_none() || r.mutability.is_some() || r.colon_token.is_some() {
                    return Err(Error::new_spanned(
                        r,
                        "a memoized method takes `&self`: its state is part of the key and must \
                         not change",
                    ));
                }
                receiver = Some(r);
            }
            FnArg::Typed(t) => {
                let Pat::Ident(p) = &*t.pat else {
                    return Err(Error::new_spanned(
                        &t.pat,
                        "memoized functions take plain `name: Type` arguments: the names are \
                         part of the key",
                    ));
                };
                if p.by_ref.is_some() || p.subpat.is_some() {
                    return Err(Error::new_spanned(
                        &t.pat,
                        "memoized functions take plain `name: Type` arguments",
                    ));
                }
                if let Some(tokens) = mut_ref_in(&t.ty) {
                    return Err(Error::new_spanned(
                        tokens,
                        "a memoized function cannot take `&mut` arguments: a cached call would \
                         skip the mutation",
                    ));
                }
                if let Some(tokens) = impl_trait_in(&t.ty) {
                    return Err(Error::new_spanned(
                        tokens,
                        "`impl Trait` arguments cannot be memoized; use a concrete or generic \
                         type",
                    ));
                }
                args.push((&p.ident, &t.ty));
            }
        }
    }
    match (options.method, receiver) {
        (Some(span), None) => {
            return Err(Error::new(
                span,
                "`method` needs a `&self` method; this function has no receiver",
            ))
        }
        (None, Some(r)) => {
            return Err(Error::new_spanned(
                r,
                "a method's state is part of its key: add `method` to the options (and make \
                 `Self: Serialize`)",
            ))
        }
        _ => {}
    }
    let is_method = receiver.is_some();
    if let Some(span) = options.background {
        if is_method {
            return Err(Error::new(
                span,
                "`background` refreshes run a free function on another thread: a method's \
                 `&self` cannot go there",
            ));
        }
    }

    for name in &options.ignore {
        if !args.iter().any(|(a, _)| *a == name) {
            return Err(Error::new_spanned(
                name,
                format!("`ignore`: `{name}` is not an argument of this function"),
            ));
        }
    }
    if let Some(name) = &options.nocache {
        match args.iter().find(|(a, _)| *a == name) {
            None => {
                return Err(Error::new_spanned(
                    name,
                    format!("`nocache`: `{name}` is not an argument of this function"),
                ))
            }
            Some((_, ty)) if !is_bool(ty) => {
                return Err(Error::new_spanned(
                    ty,
                    "the `nocache` argument must be a `bool`",
                ))
            }
            Some(_) => {}
        }
    }

    let ret: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            if let Some(tokens) = impl_trait_in(ty) {
                return Err(Error::new_spanned(
                    tokens,
                    "an `impl Trait` return value cannot be cached: the cache must deserialize \
                     a concrete type",
                ));
            }
            (**ty).clone()
        }
    };
    let is_result = options.result.unwrap_or_else(|| looks_like_result(&ret));

    let krate = options
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::bucketcache));
    let private = quote!(#krate::__private);
    let name = &sig.ident;
    let name_str = name.to_string();

    // The key: every argument except the ignored and nocache ones, by reference.
    let key_args = args.iter().filter(|(a, _)| {
        !options.ignore.iter().any(|i| i == *a) && options.nocache.as_ref() != Some(*a)
    });
    // Spanned on the argument's type, so that "not `Serialize`" points at it.
    let key_args = key_args.map(|(a, ty)| {
        let s = a.to_string();
        quote_spanned!(ty.span()=> (#s, &#a as &dyn #private::ErasedSerialize))
    });
    let receiver_key = if is_method {
        quote!(::core::option::Option::Some((
            ::core::any::type_name::<Self>(),
            &self as &dyn #private::ErasedSerialize,
        )))
    } else {
        quote!(::core::option::Option::None)
    };
    let refresh = match &options.nocache {
        Some(n) => quote!(#n),
        None => quote!(false),
    };

    let cached_ty = if is_result {
        quote!(<#ret as #private::IsResult>::Ok)
    } else {
        ret.to_token_stream()
    };
    let hit_value = if is_result {
        quote!(::core::result::Result::Ok(__bc_value))
    } else {
        quote!(__bc_value)
    };

    let callback = options.callback.as_ref().map(|cb| {
        let entries = args.iter().map(|(a, _)| {
            let s = a.to_string();
            quote!(__bc_callargs.insert(
                ::std::string::String::from(#s),
                (&#private::JsonArg(&#a)).__bc_json(),
            );)
        });
        let call = if is_method {
            quote_spanned!(cb.span()=> #cb(self, &__bc_info))
        } else {
            quote_spanned!(cb.span()=> #cb(&__bc_info))
        };
        quote! {
            {
                #[allow(unused_imports)]
                use #private::{JsonOpaque as _, JsonSerialize as _};
                let mut __bc_callargs = #private::serde_json::Map::new();
                #(#entries)*
                let __bc_info = #krate::CachedCallInfo {
                    callargs: __bc_callargs,
                    return_value: &__bc_value,
                    expiration: __bc_expiration,
                };
                #call;
            }
        }
    });

    let is_async = sig.asyncness.is_some();
    // Calls look up with the bucket's freshness options (stale-while-revalidate, stale-if-error,
    // refresh ahead); an `async fn` does so without blocking its executor (feature `async`: a
    // memory hit inline, the decision in one blocking-pool hop) and awaits another caller's
    // computation of a missing entry.
    let (lookup, fresh) = if is_async {
        (
            quote!(#private::lookup_fresh_async::<_, #cached_ty>(__bc_store, &__bc_digest, __bc_refresh).await),
            quote!(#private::AsyncFresh),
        )
    } else {
        (
            quote!(#krate::MemoCache::lookup_fresh::<#cached_ty>(__bc_store, &__bc_digest, __bc_refresh)),
            quote!(#krate::Fresh),
        )
    };
    let (hit_pattern, compute_pattern) = (
        quote!(#fresh::Hit {
            value: __bc_value,
            expiration: __bc_expiration,
            ..
        }),
        quote!(#fresh::Compute(__bc_ticket)),
    );
    let finish_call = |value: TokenStream2| {
        if is_async {
            quote!(let _ = #private::finish_fresh(__bc_ticket, __bc_store, #value).await;)
        } else {
            quote!(let _ = __bc_ticket.finish(__bc_store, #value);)
        }
    };
    let body = &func.block;
    // The original body runs as a closure (or async block) so that its `return`s and `?`s keep
    // their meaning; it is created only after the key was hashed, since it takes the arguments.
    let run_body = if is_async {
        quote!(async move {
            let __bc_out: #ret = #body;
            __bc_out
        }
        .await)
    } else {
        // The body is the closure's block itself: wrapping it in braces of our own made rustc
        // lint a one-line body (`{ a * b }`) as `unused_braces`, failing `-D warnings` builds.
        quote!((move || -> #ret #body)())
    };
    let finish = if is_result {
        let call = finish_call(quote!(__bc_ok));
        // Within `stale_if_error`, an expired value answers instead of the `Err`; otherwise the
        // computation dropped unfinished lets the next caller compute.
        let failed = if is_async {
            quote!(__bc_ticket.fail_async(__bc_store).await)
        } else {
            quote!(__bc_ticket.fail(__bc_store))
        };
        let fail = quote! {
            if let ::core::option::Option::Some(__bc_stale) = #failed {
                return ::core::result::Result::Ok(__bc_stale.value);
            }
        };
        quote! {
            if let ::core::option::Option::Some(__bc_ticket) = __bc_ticket {
                match &__bc_result {
                    ::core::result::Result::Ok(__bc_ok) => {
                        #call
                    }
                    ::core::result::Result::Err(_) => {
                        #fail
                    }
                }
            }
        }
    } else {
        let call = finish_call(quote!(&__bc_result));
        quote! {
            if let ::core::option::Option::Some(__bc_ticket) = __bc_ticket {
                #call
            }
        }
    };

    // `background`: a refresh runs the body on the bucket's pool with clones of the arguments,
    // while this call answers with the current value.
    let background = options.background.map(|span| {
        let names: Vec<&Ident> = args.iter().map(|(a, _)| *a).collect();
        let types: Vec<&Type> = args.iter().map(|(_, t)| *t).collect();
        let owned_body = match (is_async, is_result) {
            (false, true) => quote!((move || -> #ret #body)()),
            (false, false) => quote!(::core::result::Result::Ok::<#ret, ::core::convert::Infallible>(
                (move || -> #ret #body)()
            )),
            (true, true) => quote!({
                let __bc_out: #ret = #body;
                __bc_out
            }),
            (true, false) => quote!(::core::result::Result::Ok::<#ret, ::core::convert::Infallible>(
                async move {
                    let __bc_out: #ret = #body;
                    __bc_out
                }
                .await
            )),
        };
        // A sync body runs on the bucket's pool; an `async fn`'s as a task on the caller's
        // runtime.
        let (job, hand_over) = if is_async {
            (
                quote!(async move {
                    #[allow(unused_variables)]
                    let (#(#names,)*) = __bc_args;
                    #owned_body
                }),
                quote!(#private::refresh_in_background(__bc_c, __bc_store, __bc_job)),
            )
        } else {
            (
                quote!(move || {
                    #[allow(unused_variables)]
                    let (#(#names,)*) = __bc_args;
                    #[allow(clippy::redundant_closure_call)]
                    #owned_body
                }),
                quote!(__bc_c.in_background(#krate::MemoCache::bucket(__bc_store), __bc_job)),
            )
        };
        quote_spanned! {span=>
            let __bc_ticket = match __bc_ticket {
                ::core::option::Option::Some(__bc_c) if __bc_c.is_refresh() => {
                    let __bc_args: (#(#types,)*) = (#(::core::clone::Clone::clone(&#names),)*);
                    let __bc_job = #job;
                    match #hand_over {
                        ::core::result::Result::Ok(__bc_served) => {
                            let __bc_value = __bc_served.value;
                            let __bc_expiration = __bc_served.expiration;
                            let _ = &__bc_expiration;
                            #callback
                            return #hit_value;
                        }
                        ::core::result::Result::Err(__bc_back) => ::core::option::Option::Some(__bc_back.0),
                    }
                }
                __bc_other => __bc_other,
            };
        }
    });

    let attrs = &func.attrs;
    let vis = &func.vis;
    let function_const = format_ident!("__BC_FUNCTION");
    // The version enters the function's part of the key, so entries of another version are
    // never read; without `version` the key is what it always was.
    let version_suffix = match &options.version {
        None => quote!(),
        Some(Version::Given(v)) => {
            let v = format!("@{v}");
            quote!(, #v)
        }
        Some(Version::Auto) => {
            let v = format!("@{}", fingerprint(&func));
            quote!(, #v)
        }
    };
    let expanded = quote! {
        #(#attrs)*
        #vis #sig {
            #[allow(unused_imports)]
            use #private::AsMemoCache as _;
            const #function_const: &str = ::core::concat!(::core::module_path!(), "::", #name_str #version_suffix);
            let __bc_store = (&(#bucket)).__bc_memo_store();
            let __bc_refresh: bool = #refresh;
            // In a block: the key's `&dyn` references must not live across an `.await`.
            let __bc_digest = #private::digest(
                __bc_store,
                &#private::CallKey {
                    function: #function_const,
                    receiver: #receiver_key,
                    args: &[#(#key_args),*],
                },
            );
            let __bc_ticket = match __bc_digest {
                ::core::result::Result::Ok(__bc_digest) => match #lookup {
                    ::core::result::Result::Ok(#hit_pattern) => {
                        let _ = &__bc_expiration;
                        #callback
                        return #hit_value;
                    }
                    ::core::result::Result::Ok(#compute_pattern) => {
                        ::core::option::Option::Some(__bc_ticket)
                    }
                    ::core::result::Result::Err(__bc_error) => {
                        #private::uncached(#function_const, &__bc_error);
                        ::core::option::Option::None
                    }
                },
                ::core::result::Result::Err(__bc_error) => {
                    #private::uncached(#function_const, &__bc_error);
                    ::core::option::Option::None
                }
            };
            #background
            #[allow(clippy::redundant_closure_call)]
            let __bc_result: #ret = #run_body;
            #finish
            __bc_result
        }
    };
    Ok(expanded)
}

#[cfg(test)]
mod tests;
