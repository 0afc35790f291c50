//! Placeholder: filled by the reliability work.
