//! Integration tests of the whole workspace, through the public API (one test binary).

mod common;

mod bucket;
mod budgets;
mod formats;
mod freshness;
mod hardening;
mod interop;
mod keymakers;
mod memoize;
mod pickle;
mod plugins;
mod redis;
mod reliability;
mod single_flight;
mod stores;
mod version_auto;
