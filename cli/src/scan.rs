//! Reading a cache directory: which backends the tool uses, and the state of each name in it.
//!
//! The rules of the cache (what is an entry, what has expired, what `prune` removes) are the
//! library's, written once in [`bucketcache::inspect::Inspector`]; this module only opens the
//! directory without creating it, picks the backends, runs an inspector over them and, for the
//! commands that check whole values, decodes each entry's value too.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{anyhow, Result};
use bucketcache::inspect::{Inspector, Item, State};
use bucketcache::registry::{self, BackendInfo};
use bucketcache::store::{Fetched, Listed, ReadLimits, Store};
use bucketcache::validate::shielded;
use bucketcache::{Backend, Expiration};

pub use super::location::{existing_dir, lmdb_file, open_location, Location};
use super::output::Out;
use super::value::AnyValue;

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

/// An inspector over `store` for the `backends`, judging with `lifetime`.
pub fn inspector(
    store: &Arc<Recorder>,
    backends: &[Selected],
    lifetime: Option<Duration>,
) -> Inspector {
    let limit = store.max_entry_bytes;
    let store: Arc<dyn Store> = store.clone();
    Inspector::new(store, backends.iter().map(|s| s.backend.clone()).collect())
        .lifetime(lifetime)
        .max_entry_bytes(limit)
}

/// Turns the library's error for a store that cannot be listed into one line naming it (an
/// LMDB store by its data file).
pub fn list_error(store: &Recorder, e: bucketcache::Error) -> anyhow::Error {
    let dir = store.dir();
    let what = if store.name() == bucketcache::lmdb::NAME {
        lmdb_file(dir)
    } else {
        dir.to_owned()
    };
    match e {
        bucketcache::Error::Io { source, .. } => {
            anyhow!("cannot list {}: {}", what.display(), io_reason(&source))
        }
        other => other.into(),
    }
}

/// An I/O error's text, with the text of the store error inside it (LMDB's own words).
pub fn io_reason(e: &io::Error) -> String {
    match e.get_ref() {
        Some(inner) => {
            let mut text = inner.to_string();
            let mut source = inner.source();
            while let Some(s) = source {
                let more = s.to_string();
                if !text.contains(&more) {
                    text.push_str(": ");
                    text.push_str(&more);
                }
                source = s.source();
            }
            text
        }
        None => e.to_string(),
    }
}

/// A store (the directory's [`FsStore`], or its LMDB store) that can keep a copy of the last entry it read: the
/// inspector reads and judges each entry once, and the value check then decodes the very bytes
/// whose envelope was judged (one read per file, no second look at a file that may have changed).
#[derive(Debug)]
pub struct Recorder {
    inner: Arc<dyn Store>,
    kept: Mutex<Kept>,
    /// The largest entry read and judged; larger ones are "too large", never "corrupt".
    pub max_entry_bytes: u64,
}

/// What a [`Recorder`] keeps.
#[derive(Debug, Default)]
struct Kept {
    /// Whether to keep a copy of each entry read.
    on: bool,
    /// The name and bytes of the last entry read while on.
    last: Option<(String, Vec<u8>)>,
}

impl Recorder {
    /// Wraps `inner`, not recording; entries over `max_entry_bytes` are not read.
    pub fn new(inner: Arc<dyn Store>, max_entry_bytes: u64) -> Self {
        Recorder {
            inner,
            kept: Mutex::default(),
            max_entry_bytes,
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts (or stops) keeping a copy of each entry read.
    fn record(&self, on: bool) {
        *self.kept() = Kept { on, last: None };
    }

    /// The bytes last read for `name`, if they were recorded.
    fn take(&self, name: &str) -> Option<Vec<u8>> {
        match self.kept().last.take() {
            Some((n, bytes)) if n == name => Some(bytes),
            _ => None,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.inner.location()
    }
}

impl Store for Recorder {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn location(&self) -> &Path {
        self.inner.location()
    }
    fn entry_path(&self, name: &str) -> PathBuf {
        self.inner.entry_path(name)
    }
    fn is_plain_directory(&self) -> bool {
        self.inner.is_plain_directory()
    }
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        let fetched = self.inner.read(name, limits)?;
        if let Fetched::Bytes(bytes) = &fetched {
            let mut kept = self.kept();
            if kept.on {
                kept.last = Some((name.to_owned(), bytes.clone()));
            }
        }
        Ok(fetched)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.inner.write(name, bytes)
    }
    fn write_expiring(
        &self,
        name: &str,
        bytes: &[u8],
        expires: Option<std::time::SystemTime>,
    ) -> io::Result<()> {
        self.inner.write_expiring(name, bytes, expires)
    }
    fn max_value_bytes(&self) -> Option<u64> {
        self.inner.max_value_bytes()
    }
    fn try_lock(&self, digest: &str) -> io::Result<bucketcache::store::Locked> {
        self.inner.try_lock(digest)
    }
    fn remove(&self, name: &str) -> io::Result<bool> {
        self.inner.remove(name)
    }
    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        self.inner.remove_if(name, condition)
    }
    fn list(&self) -> io::Result<Vec<Listed>> {
        self.inner.list()
    }
    fn stale_temporaries(&self) -> io::Result<Vec<Listed>> {
        self.inner.stale_temporaries()
    }
    fn remove_temporary(&self, name: &str) -> io::Result<bool> {
        self.inner.remove_temporary(name)
    }
    fn touch(&self, name: &str) -> io::Result<()> {
        self.inner.touch(name)
    }
    fn supports_recency(&self) -> bool {
        self.inner.supports_recency()
    }
    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        self.inner.stat(name)
    }
    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        self.inner.remove_if_unchanged(listed)
    }
    fn update_budget_record(
        &self,
        wait: Duration,
        update: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> io::Result<bool> {
        self.inner.update_budget_record(wait, update)
    }
    fn check_guarantees(&self, budget: bool, single_flight: bool) -> Vec<bucketcache::Degradation> {
        self.inner.check_guarantees(budget, single_flight)
    }
}

/// One name of the directory and what the tool makes of it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File name in the directory.
    pub file: String,
    /// The backend whose entry it is (`None`: a foreign file).
    pub backend: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// The envelope's expiration (`None`: never expires, or the envelope is not known).
    pub expiration: Option<Expiration>,
    /// The envelope was decoded (its expiration is known), even if the value may not decode.
    pub envelope_ok: bool,
    /// The library's verdict, or `Corrupt` when the value does not decode.
    pub state: State,
}

impl Entry {
    /// Why the entry is corrupt or unreadable, or the file foreign.
    pub fn error(&self) -> Option<&str> {
        self.state.reason()
    }

    /// Whether it is an entry of a backend (not a foreign file).
    pub fn is_entry(&self) -> bool {
        !matches!(self.state, State::Foreign(_))
    }

    fn from_item(item: Item) -> Self {
        let envelope_ok = matches!(
            item.state,
            State::Ok | State::Expired | State::LifetimeChanged
        );
        Entry {
            file: item.name,
            backend: item.backend,
            size: item.size,
            expiration: item.expiration,
            envelope_ok,
            state: item.state,
        }
    }
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Entries and foreign files, by backend then file name (foreign files last).
    pub entries: Vec<Entry>,
    /// How many entries could not be read (each reported with a warning, then skipped).
    pub unreadable: usize,
}

impl Scan {
    /// Whether something was skipped: the command then exits with status 1.
    pub fn skipped_any(&self) -> bool {
        self.unreadable > 0
    }
}

/// What `ls`, `stats` and `verify` begin with: the store at `location`, the backends (`--backend`
/// or every one), and the scan of the store — with the warning about files no selected backend
/// reads when every backend was selected.
pub fn scan_location(
    location: &Location,
    backend: Option<&str>,
    out: &Out,
    what: &'static str,
) -> Result<(Arc<Recorder>, Vec<Selected>, Scan)> {
    let store = open_location(location)?;
    let backends = select_backends(backend)?;
    let found = scan(&store, &backends, backend.is_some(), out, what)?;
    if backend.is_none() {
        warn_about_unread_files(&found.entries);
    }
    Ok((store, backends, found))
}

/// Every entry of `backends` in the store, its envelope and its value decoded, and the foreign
/// files (only those with a selected backend's extension when `only_selected`). Entries that
/// cannot be read are reported on stderr and kept with the state `unreadable`; the scan goes on.
pub fn scan(
    store: &Arc<Recorder>,
    backends: &[Selected],
    only_selected: bool,
    out: &Out,
    what: &'static str,
) -> Result<Scan> {
    let dir = store.dir().to_owned();
    let inspector = inspector(store, backends, None);
    // Counting the names first costs one more listing: only for a progress bar on a terminal.
    let bar = if out.progress {
        let total = store.list().map_or(0, |l| l.len() as u64);
        out.progress_bar(total, what)
    } else {
        out.progress_bar(0, what)
    };
    let mut found = Scan::default();
    store.record(true);
    let result = inspector.each_item(&mut |item| {
        bar.inc(1);
        if only_selected && item.backend.is_none() && !has_extension_of(&item.name, backends) {
            return;
        }
        let mut entry = Entry::from_item(item);
        if entry.envelope_ok {
            check_value(store, backends, &mut entry);
        }
        if let State::Unreadable(why) = &entry.state {
            tracing::warn!(
                "cannot read {}: {why} (skipped)",
                dir.join(&entry.file).display()
            );
            found.unreadable += 1;
        }
        found.entries.push(entry);
    });
    store.record(false);
    bar.finish_and_clear();
    result.map_err(|e| list_error(store, e))?;
    found
        .entries
        .sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    Ok(found)
}

/// Entries by backend then name, foreign files last.
pub fn order_key(e: &Entry) -> (bool, Option<&str>, &str) {
    (e.backend.is_none(), e.backend.as_deref(), &e.file)
}

/// Whether `name` ends with the extension of one of `backends`.
fn has_extension_of(name: &str, backends: &[Selected]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| backends.iter().any(|b| b.info.extension == ext))
}

/// Decodes the value of an entry whose envelope decoded, on the bytes the inspector read. A
/// backend that panics is reported like one that refuses the bytes: the entry is corrupt.
fn check_value(store: &Recorder, backends: &[Selected], entry: &mut Entry) {
    let Some(bytes) = store.take(&entry.file) else {
        return;
    };
    let Some(sel) = backends
        .iter()
        .find(|s| Some(s.backend.name()) == entry.backend.as_deref())
    else {
        return;
    };
    if let Err(e) = value_of(&*sel.backend, &bytes) {
        entry.state = State::Corrupt(e.to_string());
    }
}

/// The entry's value, decoded as any value (the check of `verify`).
pub fn value_of(
    backend: &dyn Backend,
    bytes: &[u8],
) -> std::result::Result<AnyValue, bucketcache::BackendError> {
    shielded(|| backend.decode(bytes)?.value::<AnyValue>(bytes))
}

/// Warns about cache-looking files that no registered backend reads (e.g. those of a plugin
/// that was not loaded), so that a listing of foreign files is not mistaken for an empty cache.
pub fn warn_about_unread_files(entries: &[Entry]) {
    let digest_lengths = registry::digest_lengths();
    let mut unread: BTreeMap<&str, usize> = BTreeMap::new();
    for e in entries {
        if e.is_entry() {
            continue;
        }
        let Some((stem, ext)) = e.file.rsplit_once('.') else {
            continue;
        };
        let digest_like =
            digest_lengths.contains(&stem.len()) && stem.bytes().all(|b| b.is_ascii_hexdigit());
        let known = registry::backends().iter().any(|b| b.extension == ext);
        if digest_like && !known {
            *unread.entry(ext).or_default() += 1;
        }
    }
    for (ext, n) in unread {
        tracing::warn!(
            "{n} file(s) not read: no backend reads .{ext} files (load its plugin with --plugin or {})",
            super::PLUGIN_PATH_VAR
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::open_dir;
    use bucketcache::inspect::DEFAULT_MAX_ENTRY_BYTES;
    use bucketcache::store::FsStore;
    use std::fs;

    #[test]
    fn a_file_is_not_a_cache_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        let err = existing_dir(&file).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
        let err = open_dir(&dir.path().join("nope"), &Location::new(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        assert!(!dir.path().join("nope").exists(), "nothing is created");
    }

    /// A file store whose read of one name fails, as with a file the user may not read (which
    /// `chmod 000` cannot make when the tests run as root).
    #[derive(Debug)]
    struct Failing {
        inner: FsStore,
        fail: String,
    }

    impl Store for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn location(&self) -> &Path {
            self.inner.location()
        }
        fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
            if name == self.fail {
                return Err(io::ErrorKind::PermissionDenied.into());
            }
            self.inner.read(name, limits)
        }
        fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            self.inner.write(name, bytes)
        }
        fn remove(&self, name: &str) -> io::Result<bool> {
            self.inner.remove(name)
        }
        fn remove_if(
            &self,
            name: &str,
            condition: &dyn Fn(&[u8]) -> bool,
        ) -> io::Result<Option<u64>> {
            self.inner.remove_if(name, condition)
        }
        fn list(&self) -> io::Result<Vec<Listed>> {
            self.inner.list()
        }
    }

    #[test]
    fn an_unreadable_entry_is_counted_and_the_scan_goes_on() {
        bucketcache::install_default_backends().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bucket = bucketcache::Bucket::builder(dir.path())
            .backend("json")
            .open()
            .unwrap();
        for k in ["a", "b", "c"] {
            bucket.set(k, &1).unwrap();
        }
        fs::write(dir.path().join("package.json"), b"{}").unwrap();
        let fail = bucket
            .path_for_key("b")
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let store = Arc::new(Recorder::new(
            Arc::new(Failing {
                inner: FsStore::new(dir.path(), false),
                fail: fail.clone(),
            }),
            DEFAULT_MAX_ENTRY_BYTES,
        ));
        let quiet = Out {
            color: false,
            progress: false,
            quiet: true,
        };
        let found = scan(&store, &select_backends(None).unwrap(), false, &quiet, "t").unwrap();
        assert_eq!(found.unreadable, 1);
        assert!(found.skipped_any());
        let states: Vec<(&str, &str)> = found
            .entries
            .iter()
            .map(|e| (e.file.as_str(), e.state.word()))
            .collect();
        assert_eq!(states.len(), 4, "{states:?}");
        assert_eq!(
            states.iter().filter(|s| s.1 == "ok").count(),
            2,
            "{states:?}"
        );
        assert!(
            states.contains(&(fail.as_str(), "unreadable")),
            "{states:?}"
        );
        assert_eq!(states[3], ("package.json", "foreign"), "foreign files last");
    }

    #[test]
    fn the_recorder_keeps_only_the_last_entry_while_recording() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_dir(dir.path(), &Location::new(dir.path())).unwrap();
        store.write("a.json", b"{}").unwrap();
        let limits = ReadLimits {
            max_bytes: 1 << 20,
            may_begin: &|_| true,
        };
        store.read("a.json", &limits).unwrap();
        assert_eq!(store.take("a.json"), None, "not recording");
        store.record(true);
        store.read("a.json", &limits).unwrap();
        assert_eq!(store.take("b.json"), None, "another name");
        store.read("a.json", &limits).unwrap();
        assert_eq!(store.take("a.json").as_deref(), Some(&b"{}"[..]));
        assert_eq!(store.take("a.json"), None, "taken once");
    }
}
