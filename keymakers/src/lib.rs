//! Keymakers for bucketcache: canonical-JSON digests (SHA-256, streaming) and Python BucketCache-compatible naming.
