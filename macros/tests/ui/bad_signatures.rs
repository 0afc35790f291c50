use bucketcache::Bucket;

#[bucketcache::cached(bucket = b, ignore(b))]
fn mutable_argument(b: &Bucket, v: &mut Vec<u8>) -> usize {
    v.push(1);
    v.len()
}

#[bucketcache::cached(bucket = b, ignore(b))]
fn pattern_argument(b: &Bucket, (x, y): (u8, u8)) -> u8 {
    x + y
}

#[bucketcache::cached(bucket = b, ignore(b))]
fn impl_trait_argument(b: &Bucket, x: impl Into<u8>) -> u8 {
    x.into()
}

#[bucketcache::cached(bucket = b, ignore(b), method)]
fn method_without_receiver(b: &Bucket) -> u8 {
    1
}

struct S {
    bucket: Bucket,
}

impl S {
    #[bucketcache::cached(bucket = self.bucket)]
    fn receiver_without_method(&self) -> u8 {
        1
    }

    #[bucketcache::cached(bucket = self.bucket, method)]
    fn mutable_receiver(&mut self) -> u8 {
        1
    }
}

fn main() {}
