//! The `bucketcache` binary, driven as a user would (`assert_cmd`), on directories written by
//! the library and on copies of the files written by Python BucketCache 0.12.1 (one test binary).

mod common;

mod damaged_lmdb;
mod keys_and_values;
mod limits;
mod listing;
mod logging;
mod plugins;
mod prune_verify;
mod read_only;
mod redis;
mod robustness;
mod stores;
