//! JSON backend for bucketcache, byte-compatible with Python BucketCache's JSONBackend.
