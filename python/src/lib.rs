//! `bucketcache._native`: the Rust half of the Python package `bucketcache`.
//!
//! The Python half (`python/pysrc/bucketcache`) keeps the original's API and object model; this
//! module does what touches the cache's storage, through the Rust core: naming (the md5 digest),
//! the store (`fs`, `lmdb`, `redis://…`: atomic writes, reads, removal, listing), the
//! cross-process lock of single flight, and the disk budget. Every call that does I/O releases
//! the GIL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bucketcache::budget::Usage;
use bucketcache::rules::verdict;
use bucketcache::serde_json;
use bucketcache::store::{open_store, Fetched, Kind, Lease as CoreLease, Locked, StoreOptions};
use bucketcache::time::parse_expiration;
use bucketcache::{Inspector, Store};
use md5::{Digest, Md5};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

mod key_json;

/// The entry size limit when none is given: the Rust core's (256 MiB).
const DEFAULT_MAX_ENTRY_BYTES: u64 = 256 << 20;

fn os_error(e: std::io::Error) -> PyErr {
    PyOSError::new_err((e.raw_os_error().unwrap_or(0), e.to_string()))
}

/// A core error as Python sees it: a file-system failure is an `OSError` (of the subclass its
/// errno selects, e.g. `FileExistsError`), anything else (an unknown store, bad options) a
/// `ValueError`.
fn core_error(e: bucketcache::Error) -> PyErr {
    let mut cause = std::error::Error::source(&e);
    let mut errno = None;
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            errno = io.raw_os_error();
            break;
        }
        cause = c.source();
    }
    match errno {
        Some(errno) => PyOSError::new_err((errno, e.to_string())),
        None => PyValueError::new_err(e.to_string()),
    }
}

/// What a get's lookup returns to Python: `(digest, cached, data, size, state)` — the entry's
/// digest, the object found in the memory dict, else the entry's bytes (with their size and, when
/// the expiration date was cut out of a pickle, its 10-byte state).
type Looked<'py> = (
    Bound<'py, PyString>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyBytes>>,
    usize,
    Option<Bound<'py, PyBytes>>,
);

/// `md5(prefix + key).hexdigest()`: the original's file stem for a key whose keymaker bytes are
/// `key`, under the backend class named `prefix`.
#[pyfunction]
fn digest(py: Python<'_>, prefix: &[u8], key: &[u8]) -> String {
    if key.len() > 1 << 16 {
        py.allow_threads(|| md5_hex(prefix, key))
    } else {
        md5_hex(prefix, key)
    }
}

/// `md5(prefix + key)` as lowercase hex: every name this module makes.
fn md5_hex(prefix: &[u8], key: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(prefix);
    h.update(key);
    hex::encode(h.finalize())
}

/// Where a pickle envelope's expiration date is, when it is the stream's last item.
struct ExpirationCut {
    start: usize,
    end: usize,
    state: [u8; 10],
}

/// Finds, in a protocol-2 pickle as the original writes it, the naive `datetime` stored under
/// the key `expiration_date` as the last item of the top-level dict: the opcodes
/// `GLOBAL datetime datetime`, `GLOBAL _codecs encode`, `BINUNICODE <state>`,
/// `BINUNICODE latin1`, `TUPLE2`, `REDUCE`, `TUPLE1`, `REDUCE` (each optionally memoized), right
/// after `BINUNICODE expiration_date` and right before the final `SETITEMS`/`SETITEM` and
/// `STOP`. Returns its byte range and the datetime's 10-byte state (the `latin1` encoding of
/// the text), or `None` for any other shape (the caller then unpickles the bytes as they are).
///
/// Nothing after the range refers to the memo entries it defines (only `SETITEMS`/`SETITEM`
/// and `STOP` follow), so the stream with the range replaced by `NONE` loads to the same dict
/// with `None` in place of the date, which the caller builds from `state` as `REDUCE` would.
fn split_expiration(data: &[u8]) -> Option<ExpirationCut> {
    const GLOBAL_DATETIME: &[u8] = b"cdatetime\ndatetime\n";
    const GLOBAL_ENCODE: &[u8] = b"c_codecs\nencode\n";
    const LATIN1: &[u8] = b"X\x06\x00\x00\x00latin1";
    const KEY: &[u8] = b"X\x0f\x00\x00\x00expiration_date";
    if data.len() < 64 || data[..2] != [0x80, 2] {
        return None;
    }
    let tail = &data[data.len() - 2..];
    if tail != b"u." && tail != b"s." {
        return None;
    }
    let start = data
        .windows(GLOBAL_DATETIME.len())
        .rposition(|w| w == GLOBAL_DATETIME)?;
    // The key right before: `BINUNICODE expiration_date`, optionally memoized.
    let before = &data[..start];
    let key_ok = before.ends_with(KEY)
        || (before.len() >= 2
            && before[before.len() - 2] == b'q'
            && before[..before.len() - 2].ends_with(KEY))
        || (before.len() >= 5
            && before[before.len() - 5] == b'r'
            && before[..before.len() - 5].ends_with(KEY));
    if !key_ok {
        return None;
    }
    let mut pos = start + GLOBAL_DATETIME.len();
    let skip_put = |pos: &mut usize| match data.get(*pos) {
        Some(b'q') => *pos += 2,
        Some(b'r') => *pos += 5,
        _ => {}
    };
    let expect = |pos: &mut usize, what: &[u8]| -> Option<()> {
        if data.get(*pos..*pos + what.len())? == what {
            *pos += what.len();
            Some(())
        } else {
            None
        }
    };
    skip_put(&mut pos);
    expect(&mut pos, GLOBAL_ENCODE)?;
    skip_put(&mut pos);
    expect(&mut pos, b"X")?;
    let len = u32::from_le_bytes(data.get(pos..pos + 4)?.try_into().ok()?) as usize;
    pos += 4;
    let text = std::str::from_utf8(data.get(pos..pos.checked_add(len)?)?).ok()?;
    pos += len;
    let mut state = [0u8; 10];
    let mut n = 0;
    for c in text.chars() {
        let b = u8::try_from(u32::from(c)).ok()?;
        *state.get_mut(n)? = b;
        n += 1;
    }
    // datetime(bytes) reads a state only of 10 bytes with a month of 1..=12.
    if n != 10 || !(1..=12).contains(&(state[2] & 0x7f)) {
        return None;
    }
    skip_put(&mut pos);
    expect(&mut pos, LATIN1)?;
    skip_put(&mut pos);
    expect(&mut pos, &[0x86])?;
    skip_put(&mut pos);
    expect(&mut pos, b"R")?;
    skip_put(&mut pos);
    expect(&mut pos, &[0x85])?;
    skip_put(&mut pos);
    expect(&mut pos, b"R")?;
    skip_put(&mut pos);
    (pos == data.len() - 2).then_some(ExpirationCut {
        start,
        end: pos,
        state,
    })
}

/// A disk budget: the location's usage as this process last counted it, plus its own writes.
struct Budget {
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
    usage: Mutex<Option<Usage>>,
}

/// One store, opened by name or URL, shared by the buckets of a Python process that use it.
#[pyclass(module = "bucketcache._native", frozen)]
struct NativeStore {
    store: Arc<dyn Store>,
    max_entry_bytes: u64,
    budget: Option<Budget>,
    store_evictions: AtomicU64,
}

fn listed_size(store: &dyn Store, name: &str) -> Option<u64> {
    match store.stat(name) {
        Ok(Some(l)) if l.kind == Kind::File => Some(l.size),
        _ => None,
    }
}

impl NativeStore {
    fn inspector(&self) -> PyResult<Inspector> {
        let backends = ["pickle", "json", "msgpack"]
            .iter()
            .filter_map(|n| {
                bucketcache::registry::backend(n, &bucketcache::registry::BackendOptions::Null).ok()
            })
            .collect();
        Ok(Inspector::new(self.store.clone(), backends).max_entry_bytes(self.max_entry_bytes))
    }

    /// The bytes of entry `name` (see `read`), read with the GIL released; a read touches the
    /// entry when a disk budget keeps least-recently-used order.
    fn fetch<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let limits_max = self.max_entry_bytes;
        let store = &self.store;
        let fetched = py
            .allow_threads(|| {
                let head = |_: &[u8]| true;
                let limits = bucketcache::store::ReadLimits {
                    max_bytes: limits_max,
                    may_begin: &head,
                };
                let fetched = store.read(name, &limits);
                if self.budget.is_some() {
                    if let Ok(Fetched::Bytes(_)) = &fetched {
                        let _ = store.touch(name);
                    }
                }
                fetched
            })
            .map_err(os_error)?;
        Ok(match fetched {
            Fetched::Bytes(b) => Some(PyBytes::new(py, &b)),
            _ => None,
        })
    }

    /// Counts a write of `size` bytes over an entry that held `old` bytes (`None`: new), and
    /// evicts the least recently used entries down to 90% of the budget when it is exceeded.
    fn account(&self, budget: &Budget, old: Option<u64>, size: u64) -> PyResult<()> {
        let mut usage = budget.usage.lock().unwrap_or_else(|p| p.into_inner());
        let current = match *usage {
            Some(u) => u,
            None => self.inspector()?.usage().map_err(core_error)?,
        };
        let mut now = match old {
            Some(old) => Usage::new(current.entries, current.bytes.saturating_sub(old) + size),
            None => Usage::new(current.entries + 1, current.bytes + size),
        };
        if now.is_over(budget.max_bytes, budget.max_entries) {
            // Count again from a listing (other processes write here too), then shrink.
            let inspector = self.inspector()?;
            let target_bytes = budget.max_bytes.map(|m| m - m / 10);
            let target_entries = budget.max_entries.map(|m| m - m / 10);
            let plan = inspector
                .shrink_plan(target_bytes, target_entries)
                .map_err(core_error)?;
            let pruned = inspector.execute(&plan);
            self.store_evictions
                .fetch_add(pruned.files as u64, Ordering::Relaxed);
            now = inspector.usage().map_err(core_error)?;
        }
        *usage = Some(now);
        Ok(())
    }
}

#[pymethods]
impl NativeStore {
    /// Opens the store `store` (`"fs"`, `"lmdb"` or a `redis://` URL) at `path`.
    #[new]
    #[allow(clippy::too_many_arguments)] // the keyword arguments of the Python constructor
    #[pyo3(signature = (path, store="fs", store_options=None, max_entry_bytes=None, durable=false, max_bytes=None, max_entries=None))]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        store: &str,
        store_options: Option<&str>,
        max_entry_bytes: Option<u64>,
        durable: bool,
        max_bytes: Option<u64>,
        max_entries: Option<u64>,
    ) -> PyResult<Self> {
        bucketcache::install_default_backends().map_err(core_error)?;
        let options = match store_options {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| PyValueError::new_err(format!("store_options: {e}")))?,
            None => serde_json::Value::Null,
        };
        let max_entry_bytes = max_entry_bytes.unwrap_or(DEFAULT_MAX_ENTRY_BYTES);
        let opts = StoreOptions::new(path)
            .durable(durable)
            .max_entry_bytes(max_entry_bytes)
            .options(options);
        let spec = store.to_owned();
        let store = py
            .allow_threads(move || open_store(&spec, opts))
            .map_err(core_error)?;
        let budget = (max_bytes.is_some() || max_entries.is_some()).then(|| Budget {
            max_bytes,
            max_entries,
            usage: Mutex::new(None),
        });
        Ok(NativeStore {
            store,
            max_entry_bytes,
            budget,
            store_evictions: AtomicU64::new(0),
        })
    }

    /// The store's registry name (`fs`, `lmdb`, `redis`).
    #[getter]
    fn name(&self) -> String {
        self.store.name().to_owned()
    }

    /// Whether this is a directory of plain files (shareable with the original).
    #[getter]
    fn is_plain_directory(&self) -> bool {
        self.store.is_plain_directory()
    }

    /// The bytes of entry `name`, or `None` when there is no readable entry by that name (also
    /// for a directory, link or special file, and for one over the entry size limit).
    fn read<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.fetch(py, name)
    }

    /// A get's naming, memory lookup and read in one call: the digest `md5(prefix + key)` as
    /// hex text (`digest`), then `cache[digest]` when `cache` holds it (no read), else the bytes
    /// of entry `digest + suffix` (`suffix`: UTF-8 bytes; read as `read` reads). Returns a
    /// [`Looked`]: `cached` is the object found in `cache` or `None`; `data` is `None` when the
    /// object came from `cache` or when the store has no readable entry.
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        cache: &Bound<'py, PyDict>,
        prefix: &[u8],
        key: &[u8],
        suffix: &[u8],
    ) -> PyResult<Looked<'py>> {
        let mut name = md5_hex(prefix, key);
        let digest = PyString::new(py, &name);
        if let Some(obj) = cache.get_item(&digest)? {
            return Ok((digest, Some(obj), None, 0, None));
        }
        name.push_str(
            std::str::from_utf8(suffix).map_err(|e| PyValueError::new_err(e.to_string()))?,
        );
        let Some(data) = self.fetch(py, &name)? else {
            return Ok((digest, None, None, 0, None));
        };
        let bytes = data.as_bytes();
        let size = bytes.len();
        if let Some(cut) = split_expiration(bytes) {
            let mut rest = Vec::with_capacity(size - (cut.end - cut.start) + 1);
            rest.extend_from_slice(&bytes[..cut.start]);
            rest.push(b'N');
            rest.extend_from_slice(&bytes[cut.end..]);
            let state = PyBytes::new(py, &cut.state);
            return Ok((
                digest,
                None,
                Some(PyBytes::new(py, &rest)),
                size,
                Some(state),
            ));
        }
        Ok((digest, None, Some(data), size, None))
    }

    /// [`lookup`](Self::lookup) of the key object `key`, its text made in Rust (key_json.rs);
    /// `None` when the key is one the Python encoder must write (the caller then calls
    /// `lookup` with that text).
    fn lookup_key<'py>(
        &self,
        py: Python<'py>,
        cache: &Bound<'py, PyDict>,
        prefix: &[u8],
        key: &Bound<'py, PyAny>,
        suffix: &[u8],
    ) -> PyResult<Option<Looked<'py>>> {
        match key_json::text(key)? {
            Some(text) => self.lookup(py, cache, prefix, &text, suffix).map(Some),
            None => Ok(None),
        }
    }

    /// Replaces entry `name` with `data`, atomically; `expires` (seconds since the epoch) lets
    /// a store that drops data by itself (Redis) drop it then.
    #[pyo3(signature = (name, data, expires=None))]
    fn write(&self, py: Python<'_>, name: &str, data: &[u8], expires: Option<f64>) -> PyResult<()> {
        if data.len() as u64 > self.max_entry_bytes {
            return Err(PyValueError::new_err(format!(
                "entry of {} bytes over the limit of {} bytes (max_entry_bytes)",
                data.len(),
                self.max_entry_bytes
            )));
        }
        let expires = expires.and_then(|s| {
            Duration::try_from_secs_f64(s)
                .ok()
                .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
        });
        py.allow_threads(|| {
            let old = self
                .budget
                .as_ref()
                .map(|_| listed_size(self.store.as_ref(), name));
            self.store
                .write_expiring(name, data, expires)
                .map_err(os_error)?;
            if let (Some(budget), Some(old)) = (&self.budget, old) {
                self.account(budget, old, data.len() as u64)?;
            }
            Ok(())
        })
    }

    /// Removes entry `name`; `False` when there was none.
    fn remove(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        py.allow_threads(|| {
            let size = self
                .budget
                .as_ref()
                .and_then(|_| listed_size(self.store.as_ref(), name));
            let removed = self.store.remove(name).map_err(os_error)?;
            if let (true, Some(budget), Some(size)) = (removed, &self.budget, size) {
                let mut usage = budget.usage.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(u) = usage.as_mut() {
                    *u = Usage::new(u.entries.saturating_sub(1), u.bytes.saturating_sub(size));
                }
            }
            Ok(removed)
        })
    }

    /// Removes entry `name` as expired, only on the evidence of what the store holds now (the
    /// Rust core's rule: another process may have written a fresh entry since it was read). The
    /// entry is decoded with the built-in `backend` (`pickle`, `json`, `msgpack`) and judged
    /// with `rules::verdict` at `now` (naive UTC ISO text, the Python side's clock) and
    /// `lifetime` (seconds). When that backend cannot decode it (a value only Python's pickle
    /// represents, a backend written in Python), it goes if its bytes are still `loaded` (what
    /// the caller read), or, without `loaded`, as the original removed it. Returns whether it
    /// was removed.
    #[pyo3(signature = (name, backend, now, lifetime=None, loaded=None))]
    fn remove_expired(
        &self,
        py: Python<'_>,
        name: &str,
        backend: Option<&str>,
        now: &str,
        lifetime: Option<f64>,
        loaded: Option<&[u8]>,
    ) -> PyResult<bool> {
        let now = parse_expiration(now)
            .ok_or_else(|| PyValueError::new_err(format!("not a naive ISO time: {now:?}")))?;
        let lifetime = lifetime.and_then(|s| Duration::try_from_secs_f64(s).ok());
        let backend = backend.and_then(|b| {
            bucketcache::registry::backend(b, &bucketcache::registry::BackendOptions::Null).ok()
        });
        py.allow_threads(|| {
            let expired = |bytes: &[u8]| match backend.as_ref().and_then(|b| b.decode(bytes).ok()) {
                Some(decoded) => verdict(decoded.expiration, lifetime, now).is_expired(),
                None => loaded.is_none_or(|l| l == bytes),
            };
            let removed = self.store.remove_if(name, &expired).map_err(os_error)?;
            if let (Some(size), Some(budget)) = (removed, &self.budget) {
                let mut usage = budget.usage.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(u) = usage.as_mut() {
                    *u = Usage::new(u.entries.saturating_sub(1), u.bytes.saturating_sub(size));
                }
            }
            Ok(removed.is_some())
        })
    }

    /// `(name, size)` of every regular file named `*.<extension>` (helper and temporary names
    /// excluded), as the original's `glob('*.<ext>')` saw them.
    fn list(&self, py: Python<'_>, extension: &str) -> PyResult<Vec<(String, u64)>> {
        let suffix = format!(".{extension}");
        py.allow_threads(|| {
            Ok(self
                .store
                .list()
                .map_err(os_error)?
                .into_iter()
                .filter(|l| l.kind == Kind::File && l.name.ends_with(&suffix))
                .map(|l| (l.name, l.size))
                .collect())
        })
    }

    /// Takes the cross-process lock of entry `digest`, waiting at most `timeout` seconds.
    /// Returns a `Lease` (release it, or use it as a context manager), or `None` when the store
    /// has no locks or the wait timed out.
    fn lock(&self, py: Python<'_>, digest: &str, timeout: f64) -> PyResult<Option<Lease>> {
        let deadline =
            Instant::now() + Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        py.allow_threads(|| {
            let mut pause = Duration::from_millis(1);
            loop {
                match self.store.try_lock(digest).map_err(os_error)? {
                    Locked::Acquired(lease) => {
                        return Ok(Some(Lease {
                            inner: Mutex::new(Some(lease)),
                        }))
                    }
                    Locked::Unsupported => return Ok(None),
                    _ => {}
                }
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(25));
            }
        })
    }

    /// Brings the location within `max_bytes` / `max_entries` now (least recently used first);
    /// returns `(bytes, files)` removed.
    #[pyo3(signature = (max_bytes=None, max_entries=None))]
    fn shrink_to(
        &self,
        py: Python<'_>,
        max_bytes: Option<u64>,
        max_entries: Option<u64>,
    ) -> PyResult<(u64, u64)> {
        py.allow_threads(|| {
            let inspector = self.inspector()?;
            let plan = inspector
                .shrink_plan(max_bytes, max_entries)
                .map_err(core_error)?;
            let pruned = inspector.execute(&plan);
            self.store_evictions
                .fetch_add(pruned.files as u64, Ordering::Relaxed);
            if let Some(budget) = &self.budget {
                *budget.usage.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            Ok((pruned.bytes, pruned.files as u64))
        })
    }

    /// The store's counters: `store_evictions`, and with a disk budget `store_bytes` and
    /// `store_entries` as last counted (else `None`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item(
            "store_evictions",
            self.store_evictions.load(Ordering::Relaxed),
        )?;
        let usage = self
            .budget
            .as_ref()
            .and_then(|b| *b.usage.lock().unwrap_or_else(|p| p.into_inner()));
        d.set_item("store_bytes", usage.map(|u| u.bytes))?;
        d.set_item("store_entries", usage.map(|u| u.entries))?;
        Ok(d)
    }
}

/// A held cross-process lock; released by `release()`, at the end of a `with` block, or when
/// collected.
#[pyclass(module = "bucketcache._native", frozen)]
struct Lease {
    inner: Mutex<Option<Box<dyn CoreLease>>>,
}

#[pymethods]
impl Lease {
    /// Releases the lock (idempotent).
    fn release(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.release();
        false
    }
}

/// The key's text as `json.dumps(key, sort_keys=True)` writes it, made in Rust, or `None` for a
/// key this module leaves to the Python encoder (see key_json.rs).
#[pyfunction]
fn key_text<'py>(
    py: Python<'py>,
    key: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    Ok(key_json::text(key)?.map(|text| PyBytes::new(py, &text)))
}

/// [`digest`] of the key's text made in Rust, or `None` when the Python encoder must make it.
#[pyfunction]
fn key_digest(prefix: &[u8], key: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    Ok(key_json::text(key)?.map(|text| md5_hex(prefix, &text)))
}

/// The names of the stores this build knows (`fs`, `lmdb`, `redis`, …).
#[pyfunction]
fn stores() -> Vec<String> {
    bucketcache::store::stores()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(digest, m)?)?;
    m.add_function(wrap_pyfunction!(stores, m)?)?;
    m.add_function(wrap_pyfunction!(key_text, m)?)?;
    m.add_function(wrap_pyfunction!(key_digest, m)?)?;
    m.add_class::<NativeStore>()?;
    m.add_class::<Lease>()?;
    Ok(())
}
