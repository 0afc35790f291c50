//! SDK for bucketcache backend plugins: the C ABI table, the export macro and a conformance kit.
