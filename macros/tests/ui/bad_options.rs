use bucketcache::Bucket;

#[bucketcache::cached(ignore(a))]
fn missing_bucket(a: u8) -> u8 {
    a
}

#[bucketcache::cached(bucket = b, lifetime = 3)]
fn unknown_option(b: &Bucket) -> u8 {
    1
}

#[bucketcache::cached(bucket = b, ignore(b, verbos))]
fn ignore_names_no_argument(b: &Bucket, verbose: bool) -> bool {
    verbose
}

#[bucketcache::cached(bucket = b, ignore(b), nocache = refresh)]
fn nocache_names_no_argument(b: &Bucket, reload: bool) -> bool {
    reload
}

#[bucketcache::cached(bucket = b, ignore(b), nocache = refresh)]
fn nocache_is_not_bool(b: &Bucket, refresh: u8) -> u8 {
    refresh
}

fn main() {}

// Keeps the import used although every function above fails to expand.
fn _uses(_: &Bucket) {}
