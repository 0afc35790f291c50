//! Placeholder: filled by the keymakers work.
