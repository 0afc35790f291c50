//! Integration tests of the whole workspace, through the public API (one test binary).

mod common;

mod bucket;
mod budgets;
mod formats;
mod interop;
mod keymakers;
mod memoize;
mod pickle;
mod plugins;
mod reliability;
