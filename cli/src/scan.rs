//! Reading a cache directory: which backends own which files, and the state of each entry.
//!
//! The library answers per key; these tools need per file. Everything here goes through the
//! public API: [`FsStorage::list`] to find files, [`Backend::load_expiration`] for the
//! envelope and [`decode_value`](bucketcache::Backend) to check the value.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use bucketcache::registry::{self, BackendInfo};
use bucketcache::store::{FsStorage, Storage};
use bucketcache::validate::shielded;
use bucketcache::{Backend, Expiration};

use super::output::Out;
use super::value::AnyValue;

/// Checks that `dir` is an existing directory, without creating anything.
pub fn existing_dir(dir: &Path) -> Result<PathBuf> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(dir.to_owned()),
        Ok(_) => bail!(
            "{} is not a directory (give the cache directory, not a file in it)",
            dir.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("cache directory {} does not exist", dir.display())
        }
        Err(e) => bail!("cannot use cache directory {}: {e}", dir.display()),
    }
}

/// A registered backend, built with its default options.
#[derive(Debug, Clone)]
pub struct Selected {
    pub info: BackendInfo,
    pub backend: Arc<dyn Backend>,
}

/// The backend named `name`; an unknown name is an error listing the known ones.
pub fn backend_named(name: &str) -> Result<Selected> {
    let backend = registry::backend(name, &serde_json::Value::Null)?;
    let info = registry::backends()
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| anyhow!("backend {name:?} is not in the registry"))?;
    Ok(Selected { info, backend })
}

/// `--backend NAME` when given, else every registered backend (one per file extension: when two
/// claim the same extension, the first by name reads the files and the other is skipped, so no
/// file is counted twice).
pub fn select_backends(name: Option<&str>) -> Result<Vec<Selected>> {
    if let Some(name) = name {
        return Ok(vec![backend_named(name)?]);
    }
    let mut by_extension: BTreeMap<String, Selected> = BTreeMap::new();
    for info in registry::backends() {
        if let Some(first) = by_extension.get(&info.extension) {
            tracing::warn!(
                "backends {:?} and {:?} both use the extension .{}; reading those files as {:?}",
                first.info.name,
                info.name,
                info.extension,
                first.info.name
            );
            continue;
        }
        match registry::backend(&info.name, &serde_json::Value::Null) {
            Ok(backend) => {
                by_extension.insert(info.extension.clone(), Selected { info, backend });
            }
            Err(e) => tracing::warn!("skipping backend {:?}: {e}", info.name),
        }
    }
    let mut out: Vec<Selected> = by_extension.into_values().collect();
    out.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    Ok(out)
}

/// Warns about cache-looking files no selected backend reads (e.g. those of a plugin that was not
/// loaded), so that an empty listing is not mistaken for an empty cache.
pub fn warn_about_unread_files(dir: &Path, backends: &[Selected]) -> Result<()> {
    let mut unread: BTreeMap<String, usize> = BTreeMap::new();
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        if stem.is_empty()
            || name.starts_with('.')
            || backends.iter().any(|b| b.info.extension == ext)
            || !entry.file_type().is_ok_and(|t| t.is_file())
        {
            continue;
        }
        *unread.entry(ext.to_owned()).or_default() += 1;
    }
    for (ext, n) in unread {
        tracing::warn!(
            "{n} file(s) skipped: no backend reads .{ext} files (load its plugin with --plugin or {})",
            super::PLUGIN_PATH_VAR
        );
    }
    Ok(())
}

/// The health of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Decodes and has not expired.
    Ok,
    /// Decodes but its expiration has passed.
    Expired,
    /// Cannot be decoded by its backend.
    Corrupt,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Expired => "expired",
            State::Corrupt => "corrupt",
        }
    }
}

/// One cache file and what its backend makes of it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File name in the directory.
    pub file: String,
    /// The backend owning the file's extension.
    pub backend: String,
    /// Size in bytes.
    pub size: u64,
    /// The envelope's expiration (`None`: never expires, or the envelope is unreadable).
    pub expiration: Option<Expiration>,
    /// The envelope was read (its expiration is known), even if the value may not decode.
    pub envelope_ok: bool,
    /// The expiration has passed (the library's rule for a bucket without lifetime).
    pub expired: bool,
    /// Why the entry cannot be decoded.
    pub error: Option<String>,
}

impl Entry {
    pub fn state(&self) -> State {
        if self.error.is_some() {
            State::Corrupt
        } else if self.expired {
            State::Expired
        } else {
            State::Ok
        }
    }
}

/// How much of each file to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The envelope only: enough for expiry (what `prune` needs).
    Envelope,
    /// The envelope and the whole value.
    Value,
}

/// Every entry of `backends` in `dir`, in directory order per backend. Files that vanish while
/// scanning are skipped; other read errors stop the scan.
pub fn scan(
    dir: &Path,
    backends: &[Selected],
    now: Expiration,
    depth: Depth,
    out: &Out,
    what: &'static str,
) -> Result<Vec<Entry>> {
    let storage = FsStorage::new(dir, false);
    let mut listed = Vec::new();
    for sel in backends {
        let files = storage
            .list(&sel.info.extension)
            .with_context(|| format!("cannot list {}", dir.display()))?;
        listed.push((sel, files));
    }
    let total = listed.iter().map(|(_, f)| f.len() as u64).sum();
    let bar = out.progress_bar(total, what);
    let mut entries = Vec::with_capacity(total as usize);
    for (sel, files) in listed {
        for file in files {
            bar.inc(1);
            let bytes = match storage.read(&file.name) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(anyhow!(
                        "cannot read {}: {e}",
                        dir.join(&file.name).display()
                    ));
                }
            };
            entries.push(classify(sel, file.name, bytes, now, depth));
        }
    }
    bar.finish_and_clear();
    // Directory order differs between runs and machines; reports should not.
    entries.sort_by(|a, b| (&a.backend, &a.file).cmp(&(&b.backend, &b.file)));
    Ok(entries)
}

/// Decodes one file. A backend that panics is reported like one that refuses the bytes: the
/// entry is corrupt, the tool goes on.
fn classify(sel: &Selected, file: String, bytes: Vec<u8>, now: Expiration, depth: Depth) -> Entry {
    let backend = &*sel.backend;
    let mut entry = Entry {
        file,
        backend: sel.info.name.clone(),
        size: bytes.len() as u64,
        expiration: None,
        envelope_ok: false,
        expired: false,
        error: None,
    };
    match shielded(|| backend.load_expiration(&bytes)) {
        Ok(expiration) => {
            entry.expiration = expiration;
            entry.envelope_ok = true;
            entry.expired = expiration.is_some_and(|e| now > e);
        }
        Err(e) => {
            entry.error = Some(e.to_string());
            return entry;
        }
    }
    if depth == Depth::Value {
        if let Err(e) = shielded(|| backend.decode_value::<AnyValue>(&bytes)) {
            entry.error = Some(e.to_string());
        }
    }
    entry
}

/// A temporary file left behind by a writer that died: what `prune` also removes.
#[derive(Debug, Clone)]
pub struct StaleTemp {
    pub file: String,
    pub size: u64,
}

/// The temporary files of `extension` that the library's `prune` would remove, without removing
/// them (the library's own rules: `bucketcache::store::stale_temp_files`).
pub fn stale_temp_files(dir: &Path, extension: &str) -> Result<Vec<StaleTemp>> {
    let stale = bucketcache::store::stale_temp_files(dir, extension)
        .with_context(|| format!("cannot list {}", dir.display()))?;
    Ok(stale
        .into_iter()
        .map(|f| StaleTemp {
            file: f.name,
            size: f.size,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_of_dead_writers_are_listed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        // pid 4194304 is above Linux's pid_max, so it is never alive.
        fs::write(dir.path().join(".a.json.4194304.0.tmp"), b"{").unwrap();
        let own = format!(".b.json.{}.0.tmp", std::process::id());
        fs::write(dir.path().join(&own), b"{").unwrap();
        let stale = stale_temp_files(dir.path(), "json").unwrap();
        let names: Vec<_> = stale.iter().map(|s| s.file.as_str()).collect();
        if cfg!(target_os = "linux") {
            assert_eq!(names, [".a.json.4194304.0.tmp"]);
        }
        assert!(dir.path().join(".a.json.4194304.0.tmp").exists());
    }

    #[test]
    fn a_file_is_not_a_cache_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        let err = existing_dir(&file).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
        let err = existing_dir(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
