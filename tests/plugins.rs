//! Placeholder: filled by the plugins work.
