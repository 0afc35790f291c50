//! Placeholder: filled by the pickle work.
