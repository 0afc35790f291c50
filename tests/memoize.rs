//! Placeholder: filled by the memoize work.
