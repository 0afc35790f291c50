//! Integration tests of the whole workspace, through the public API (one test binary).

mod common;

#[cfg(feature = "async")]
mod async_bucket;
#[cfg(feature = "async")]
mod async_flight;
mod bucket;
mod budget_rules;
mod budgets;
mod correctness;
mod formats;
mod freshness;
mod hardening;
mod interop;
mod keymakers;
mod memoize;
mod old_names;
mod pickle;
mod plugins;
mod redis;
mod reliability;
mod single_flight;
mod stores;
mod third_party_store;
mod version_auto;
