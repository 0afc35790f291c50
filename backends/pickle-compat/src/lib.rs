//! Python pickle backend for bucketcache: reads and writes the files of Python BucketCache's PickleBackend, never running code.
