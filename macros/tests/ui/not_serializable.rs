use bucketcache::Bucket;

struct Opaque;

// An argument in the key must be `Serialize` (or be ignored).
#[bucketcache::cached(bucket = b, ignore(b))]
fn argument_not_serializable(b: &Bucket, o: Opaque) -> u8 {
    let _ = o;
    1
}

fn main() {}
