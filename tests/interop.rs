//! Placeholder: filled by the interop work.
