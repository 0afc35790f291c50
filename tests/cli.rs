//! Placeholder: filled by the cli work.
