//! The plugin host: backends loaded at run time from shared libraries.

use std::path::Path;

use crate::error::{Error, Result};
use crate::registry::BackendInfo;

/// Loads the plugin library at `path` and registers its backend.
pub fn load(path: impl AsRef<Path>) -> Result<BackendInfo> {
    Err(Error::Plugin {
        path: path.as_ref().to_owned(),
        reason: "plugin loading is not available in this build".into(),
    })
}
