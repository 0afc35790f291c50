//! Placeholder: filled by the common work.
