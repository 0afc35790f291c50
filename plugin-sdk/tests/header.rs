//! Checks `include/bucketcache_plugin.h` against the Rust definitions of the ABI: the same
//! constants, the same fields in the same order, and the same offsets and sizes.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};

use bucketcache_plugin_sdk::abi::{self, Buffer, ExpirationC, PluginTable};

const HEADER: &str = include_str!("../include/bucketcache_plugin.h");

/// (C struct, field, Rust offset) for every field, in declaration order.
fn rust_fields() -> Vec<(&'static str, &'static str, usize)> {
    macro_rules! fields {
        ($c:literal, $t:ty, [$($f:ident),*]) => {
            vec![$(($c, stringify!($f), offset_of!($t, $f))),*]
        };
    }
    let mut v = fields!("BucketcacheBuffer", Buffer, [ptr, len, cap]);
    v.extend(fields!(
        "BucketcacheExpiration",
        ExpirationC,
        [micros, present, reserved]
    ));
    v.extend(fields!(
        "BucketcachePluginTable",
        PluginTable,
        [
            abi_version,
            struct_size,
            binary,
            reserved,
            name,
            file_extension,
            python_class_name,
            context,
            encode,
            decode,
            free
        ]
    ));
    v
}

fn rust_sizes() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("BucketcacheBuffer", size_of::<Buffer>()),
        ("BucketcacheExpiration", size_of::<ExpirationC>()),
        ("BucketcachePluginTable", size_of::<PluginTable>()),
    ])
}

fn strip_comment(line: &str) -> &str {
    line.split("/*").next().unwrap_or("").trim()
}

/// Field names of every `typedef struct Name { ... } Name;` in the header, in order.
fn header_fields() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in HEADER.lines().map(strip_comment) {
        if let Some(rest) = line.strip_prefix("typedef struct ") {
            if let Some(name) = rest.strip_suffix(" {") {
                current = Some(name.to_owned());
                continue;
            }
        }
        if line.starts_with('}') {
            current = None;
            continue;
        }
        if let Some(s) = &current {
            if let Some(decl) = line.strip_suffix(';') {
                let field = decl.rsplit([' ', '*']).next().unwrap().to_owned();
                out.push((s.clone(), field));
            }
        }
    }
    out
}

/// `BUCKETCACHE_STATIC_ASSERT(offsetof(S, f) == N` and `...(sizeof(S) == N` lines.
fn header_asserts() -> (BTreeMap<(String, String), usize>, BTreeMap<String, usize>) {
    let mut offsets = BTreeMap::new();
    let mut sizes = BTreeMap::new();
    for line in HEADER.lines() {
        let Some(rest) = line.strip_prefix("BUCKETCACHE_STATIC_ASSERT(") else {
            continue;
        };
        let (expr, _) = rest.split_once(", \"layout\"").unwrap();
        let (lhs, n) = expr.split_once(" == ").unwrap();
        let n: usize = n.parse().unwrap();
        if let Some(args) = lhs.strip_prefix("offsetof(") {
            let (s, f) = args.trim_end_matches(')').split_once(", ").unwrap();
            offsets.insert((s.to_owned(), f.to_owned()), n);
        } else if let Some(s) = lhs.strip_prefix("sizeof(") {
            sizes.insert(s.trim_end_matches(')').to_owned(), n);
        } else {
            panic!("unexpected assertion {line}");
        }
    }
    (offsets, sizes)
}

#[test]
fn header_declares_the_same_fields_in_the_same_order() {
    let rust: Vec<(String, String)> = rust_fields()
        .into_iter()
        .map(|(s, f, _)| (s.to_owned(), f.to_owned()))
        .collect();
    assert_eq!(header_fields(), rust);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn header_offsets_and_sizes_match_the_rust_layout() {
    let (offsets, sizes) = header_asserts();
    let rust_offsets: BTreeMap<(String, String), usize> = rust_fields()
        .into_iter()
        .map(|(s, f, o)| ((s.to_owned(), f.to_owned()), o))
        .collect();
    assert_eq!(offsets, rust_offsets);
    let rust_sizes: BTreeMap<String, usize> = rust_sizes()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(sizes, rust_sizes);
}

#[test]
fn header_constants_match_the_rust_constants() {
    let define = |name: &str| {
        HEADER
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .map(|v| strip_comment(v).to_owned())
            .unwrap_or_else(|| panic!("{name} is not defined"))
    };
    assert_eq!(
        define("BUCKETCACHE_PLUGIN_ABI_VERSION"),
        format!("{}u", abi::ABI_VERSION)
    );
    assert_eq!(
        define("BUCKETCACHE_PLUGIN_ENTRY_SYMBOL"),
        format!("{:?}", abi::ENTRY_SYMBOL)
    );
    assert_eq!(define("BUCKETCACHE_STATUS_OK"), abi::STATUS_OK.to_string());
    assert_eq!(
        define("BUCKETCACHE_STATUS_ERROR"),
        abi::STATUS_ERROR.to_string()
    );
    assert_eq!(
        define("BUCKETCACHE_STATUS_PANIC"),
        abi::STATUS_PANIC.to_string()
    );
    assert!(HEADER.contains(&format!(
        "const BucketcachePluginTable *{}(void);",
        abi::ENTRY_SYMBOL
    )));
}
