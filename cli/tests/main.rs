//! The `bucketcache` binary, driven as a user would (`assert_cmd`), on directories written by
//! the library and on copies of the files written by Python BucketCache 0.12.1 (one test binary).

mod common;

mod keys_and_values;
mod listing;
mod logging;
mod plugins;
mod prune_verify;
mod redis;
mod robustness;
mod stores;
