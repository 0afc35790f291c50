//! Placeholder: filled by the bucket work.
