#![warn(missing_docs)]
//! Looking at a store entry by entry: what tools (the CLI, `prune`) need, with the cache's rules
//! written once.
//!
//! An [`Inspector`] lists a store, tells entries from foreign names, reads and decodes each entry
//! once, and judges it with [`verdict`]. [`Inspector::prune_plan`] is what
//! `Bucket::prune` deletes and what a dry run shows; [`Inspector::execute`]
//! deletes an entry only if the store, read again at that moment, still holds an expired one.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketcache_traits::backend::Backend;
use bucketcache_traits::rules::{verdict, Verdict};
use bucketcache_traits::store::{Fetched, Kind, Listed, ReadLimits, Store};
use bucketcache_traits::time::{Clock, Expiration, SystemClock};
use bucketcache_traits::validate::shielded;
use bucketcache_traits::{Error, Result, Usage};

mod one_pass;

/// Orders `entries` for eviction: least recently used first (unknown use first), then by name.
pub fn eviction_order(entries: &mut [Listed]) {
    entries.sort_by(|a, b| {
        let used = |l: &Listed| l.used.unwrap_or(UNIX_EPOCH);
        used(a).cmp(&used(b)).then_with(|| a.name.cmp(&b.name))
    });
}

/// How many of `entries` (in eviction order, totalling `usage`) go, first to last, to bring
/// the location within `max_bytes` and `max_entries`.
pub fn victims(
    entries: &[Listed],
    mut usage: Usage,
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
) -> usize {
    let mut n = 0;
    for e in entries {
        if !usage.is_over(max_bytes, max_entries) {
            break;
        }
        usage.remove(e.size);
        n += 1;
    }
    n
}

pub use bucketcache_traits::store::DEFAULT_MAX_ENTRY_BYTES;

/// What `Bucket::prune` (or [`Inspector::execute`]) removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// Number of files removed (expired entries and temporary files of dead writers).
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Entries that could not be read or removed (reported, then skipped).
    pub skipped: usize,
}

/// The state of a name in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// An entry that decodes and has not expired.
    Ok,
    /// An entry whose expiration has passed.
    Expired,
    /// An entry written under another lifetime (see [`Verdict::LifetimeChanged`]).
    LifetimeChanged,
    /// An entry's name whose content does not decode (corrupt, truncated, or its first bytes
    /// cannot begin an entry): the reason.
    Corrupt(String),
    /// An entry larger than the inspector's `max_entry_bytes`: not read, so not judged — never
    /// "corrupt", never deleted as such. The reason gives its size and the limit.
    TooLarge(String),
    /// An entry's name that could not be read (permissions, I/O): the reason.
    Unreadable(String),
    /// Not an entry: a name that is not `<digest>.<extension>` of a registered keymaker and
    /// backend, or something else than a regular file. Never deleted.
    Foreign(String),
}

impl State {
    /// A short word for the state: `ok`, `expired`, `lifetime-changed`, `corrupt`,
    /// `unreadable`, `too-large`, `foreign`.
    pub fn word(&self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Expired => "expired",
            State::LifetimeChanged => "lifetime-changed",
            State::Corrupt(_) => "corrupt",
            State::Unreadable(_) => "unreadable",
            State::TooLarge(_) => "too-large",
            State::Foreign(_) => "foreign",
        }
    }

    /// Why the entry is corrupt, unreadable, too large or foreign.
    pub fn reason(&self) -> Option<&str> {
        match self {
            State::Corrupt(r) | State::Unreadable(r) | State::TooLarge(r) | State::Foreign(r) => {
                Some(r)
            }
            _ => None,
        }
    }
}

/// One name of the store, judged.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Item {
    /// The name in the store.
    pub name: String,
    /// The backend whose entry it is (`None` for a foreign name).
    pub backend: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// What it is in the store.
    pub kind: Kind,
    /// The entry's expiration, when it decodes.
    pub expiration: Option<Expiration>,
    /// Its state.
    pub state: State,
}

/// Why a [`PrunePlan`] removes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The entry has expired.
    Expired,
    /// The entry was written under another lifetime.
    LifetimeChanged,
    /// A temporary file of a writer that died.
    DeadWriterTemporary,
    /// The location is over a budget and this entry is among the least recently used.
    OverBudget,
}

impl Reason {
    /// How the CLI words it.
    pub fn words(self) -> &'static str {
        match self {
            Reason::Expired => "expired",
            Reason::LifetimeChanged => "lifetime changed",
            Reason::DeadWriterTemporary => "temporary file of a dead writer",
            Reason::OverBudget => "over budget, least recently used",
        }
    }
}

/// One removal of a [`PrunePlan`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Removal {
    /// The name in the store.
    pub name: String,
    /// The backend whose entry (or temporary file) it is.
    pub backend: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// The entry's expiration.
    pub expiration: Option<Expiration>,
    /// Why it goes.
    pub reason: Reason,
    /// When it was last used, as the listing said (over-budget removals).
    pub used: Option<SystemTime>,
}

/// What a prune would remove; [`Inspector::execute`] removes it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PrunePlan {
    /// The removals, entries first (by name), then temporary files.
    pub removals: Vec<Removal>,
    /// Entries that could not be read, with the reason (skipped).
    pub unreadable: Vec<(String, String)>,
}

/// Why a name of this kind is not an entry.
fn not_an_entry(kind: Kind) -> String {
    match kind {
        Kind::Record(_) => format!("a {kind}, not an entry"),
        _ => format!("a {kind}, not a regular file"),
    }
}

/// Looks at a store entry by entry, for one or several backends.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use bucketcache_core::{inspect::State, Bucket};
/// let dir = tempfile::tempdir().unwrap();
/// let b = Bucket::builder(dir.path()).backend("json").open()?;
/// b.set("k", &1)?;
/// std::fs::write(dir.path().join("package.json"), "{}").unwrap();
/// let items = b.inspector().items()?;
/// assert_eq!(items.len(), 2);
/// assert!(items.iter().any(|i| i.state == State::Ok));
/// assert!(items.iter().any(|i| matches!(i.state, State::Foreign(_))));
/// assert_eq!(b.prune()?.files, 0); // the foreign file is never deleted
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Inspector {
    store: Arc<dyn Store>,
    backends: Vec<Arc<dyn Backend>>,
    lifetime: Option<Duration>,
    clock: Arc<dyn Clock>,
    max_entry_bytes: u64,
    digest_lengths: BTreeSet<usize>,
    extensions: BTreeSet<String>,
}

impl Inspector {
    /// Looks at the entries of `backends` in `store`. Entry names are recognised by the digest
    /// lengths of the registered keymakers and the extensions of the registered backends.
    pub fn new(store: Arc<dyn Store>, backends: Vec<Arc<dyn Backend>>) -> Self {
        let mut extensions: BTreeSet<String> = bucketcache_registry::backends()
            .into_iter()
            .map(|b| b.extension)
            .collect();
        extensions.extend(backends.iter().map(|b| b.file_extension().to_owned()));
        Inspector {
            store,
            backends,
            lifetime: None,
            clock: Arc::new(SystemClock),
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            digest_lengths: bucketcache_registry::digest_lengths(),
            extensions,
        }
    }

    /// Judges entries with this lifetime (the "lifetime changed" rule); default none.
    pub fn lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.lifetime = lifetime.filter(|l| !l.is_zero());
        self
    }

    /// Judges expiry at this clock's time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Entries larger than this are [`State::TooLarge`], not read (default
    /// [`DEFAULT_MAX_ENTRY_BYTES`]).
    pub fn max_entry_bytes(mut self, max: u64) -> Self {
        self.max_entry_bytes = max;
        self
    }

    /// The store looked at.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The backend reading `name`, if `name` is an entry name of an inspected backend.
    /// `Err(reason)` when the name is foreign; `Ok(None)` when it is another registered backend's.
    fn owner(&self, name: &str) -> std::result::Result<Option<&Arc<dyn Backend>>, String> {
        let Some((digest, ext)) = name.split_once('.') else {
            return Err("not named <digest>.<extension>".into());
        };
        let hex = digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex || !self.digest_lengths.contains(&digest.len()) {
            return Err(format!(
                "not named by a keymaker's digest ({} hex digits)",
                self.digest_lengths
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if !self.extensions.contains(ext) {
            return Err(format!("no registered backend uses the extension .{ext}"));
        }
        Ok(self.backends.iter().find(|b| b.file_extension() == ext))
    }

    /// Every name of the store that is an entry of an inspected backend or foreign, judged and
    /// sorted by name. Reading each entry once; an unreadable one is a state, not an error.
    pub fn items(&self) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        self.each_item(&mut |item| out.push(item))?;
        Ok(out)
    }

    /// Like [`items`](Self::items), one at a time (e.g. for a progress bar).
    pub fn each_item(&self, visit: &mut dyn FnMut(Item)) -> Result<()> {
        let mut listed = self
            .store
            .list()
            .map_err(|e| Error::io(self.store.location(), e))?;
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        let now = self.clock.now();
        for l in listed {
            if let Some(item) = self.judge(l, now) {
                visit(item);
            }
        }
        Ok(())
    }

    fn judge(&self, l: Listed, now: Expiration) -> Option<Item> {
        let foreign = |reason: String, l: Listed| Item {
            name: l.name,
            backend: None,
            size: l.size,
            kind: l.kind,
            expiration: None,
            state: State::Foreign(reason),
        };
        let backend = match self.owner(&l.name) {
            Err(reason) => return Some(foreign(reason, l)),
            Ok(None) => return None,
            Ok(Some(b)) => b.clone(),
        };
        if l.kind != Kind::File {
            return Some(foreign(not_an_entry(l.kind), l));
        }
        let head = |h: &[u8]| shielded(|| Ok(backend.may_begin_entry(h))).unwrap_or(false);
        let limits = ReadLimits {
            max_bytes: self.max_entry_bytes,
            may_begin: &head,
        };
        let mut item = Item {
            name: l.name,
            backend: Some(backend.name().to_owned()),
            size: l.size,
            kind: l.kind,
            expiration: None,
            state: State::Ok,
        };
        item.state = match self.store.read(&item.name, &limits) {
            Ok(Fetched::Bytes(bytes)) => {
                item.size = bytes.len() as u64;
                match shielded(|| backend.decode(&bytes)) {
                    Ok(d) => {
                        item.expiration = d.expiration;
                        match verdict(d.expiration, self.lifetime, now) {
                            Verdict::Live => State::Ok,
                            Verdict::Expired => State::Expired,
                            Verdict::LifetimeChanged => State::LifetimeChanged,
                            _ => State::Expired, // a verdict of a later release: not live
                        }
                    }
                    Err(e) => State::Corrupt(e.to_string()),
                }
            }
            Ok(Fetched::Missing) => return None, // removed while listing
            Ok(Fetched::NotAFile(kind)) => {
                item.kind = kind;
                State::Foreign(not_an_entry(kind))
            }
            Ok(Fetched::TooLarge(size)) => {
                item.size = size;
                State::TooLarge(format!(
                    "{size} bytes, over the limit of {} bytes per entry (max_entry_bytes): not read",
                    self.max_entry_bytes
                ))
            }
            Ok(_) => {
                // Rejected: its first bytes cannot begin an entry of this format.
                State::Corrupt(format!("does not begin like a {} entry", backend.name()))
            }
            Err(e) => State::Unreadable(e.to_string()),
        };
        Some(item)
    }

    /// What a prune removes: expired and lifetime-changed entries of the inspected backends,
    /// and temporary files of dead writers. Nothing is deleted.
    pub fn prune_plan(&self) -> Result<PrunePlan> {
        let mut plan = PrunePlan::default();
        self.each_item(&mut |item| {
            let reason = match item.state {
                State::Expired => Reason::Expired,
                State::LifetimeChanged => Reason::LifetimeChanged,
                State::Unreadable(why) => {
                    tracing::warn!(file = %item.name, error = %why, "prune skips an entry it cannot read");
                    plan.unreadable.push((item.name, why));
                    return;
                }
                _ => return,
            };
            plan.removals.push(Removal {
                name: item.name,
                backend: item.backend,
                size: item.size,
                expiration: item.expiration,
                reason,
                used: None,
            });
        })?;
        plan.removals.extend(self.temporaries_plan()?.removals);
        Ok(plan)
    }

    /// The temporary files of dead writers of the inspected backends, as removals.
    fn temporaries_plan(&self) -> Result<PrunePlan> {
        let mut plan = PrunePlan::default();
        let temps = self
            .store
            .stale_temporaries()
            .map_err(|e| Error::io(self.store.location(), e))?;
        for t in temps {
            // `.<digest>.<ext>.<pid>.<n>.tmp`: only our backends' temporary files.
            let owner = self
                .backends
                .iter()
                .find(|b| t.name.contains(&format!(".{}.", b.file_extension())));
            if let Some(b) = owner {
                plan.removals.push(Removal {
                    name: t.name,
                    backend: Some(b.name().to_owned()),
                    size: t.size,
                    expiration: None,
                    reason: Reason::DeadWriterTemporary,
                    used: None,
                });
            }
        }
        Ok(plan)
    }

    /// The entries a disk budget counts — regular files named as entries of any registered
    /// backend, whatever the inspected backends — in eviction order (least recently used
    /// first). Nothing is read but the listing.
    pub fn budget_entries(&self) -> Result<Vec<Listed>> {
        let mut entries: Vec<_> = self
            .store
            .list()
            .map_err(|e| Error::io(self.store.location(), e))?
            .into_iter()
            .filter(|l| l.kind == Kind::File && self.owner(&l.name).is_ok())
            .collect();
        eviction_order(&mut entries);
        Ok(entries)
    }

    /// What a disk budget sees in the store: its entries (of every registered backend) and
    /// their bytes, from a listing.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
    /// b.set("k", &"v")?;
    /// std::fs::write(dir.path().join("notes.txt"), "not an entry").unwrap();
    /// let usage = b.inspector().usage()?;
    /// assert_eq!(usage.entries, 1);
    /// assert_eq!(usage.bytes, std::fs::metadata(b.path_for_key("k")?).unwrap().len());
    /// # Ok(()) }
    /// ```
    pub fn usage(&self) -> Result<Usage> {
        Ok(self
            .budget_entries()?
            .iter()
            .fold(Usage::default(), |u, e| {
                Usage::new(u.entries + 1, u.bytes + e.size)
            }))
    }

    /// What shrinking the store to `max_bytes` and `max_entries` (`None`: no limit) removes:
    /// the least recently used entries (of every registered backend) until both hold — the
    /// rule of a disk budget (see `bucketcache_core::budget`). Nothing is deleted; foreign files,
    /// helper and temporary files are never in the plan.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
    /// for i in 0..5 {
    ///     b.set(&i, &i)?;
    /// }
    /// let plan = b.inspector().shrink_plan(None, Some(2))?;
    /// assert_eq!(plan.removals.len(), 3);
    /// assert_eq!(b.inspector().usage()?.entries, 5); // nothing deleted
    /// # Ok(()) }
    /// ```
    pub fn shrink_plan(
        &self,
        max_bytes: Option<u64>,
        max_entries: Option<u64>,
    ) -> Result<PrunePlan> {
        self.shrink_plan_after(&PrunePlan::default(), max_bytes, max_entries)
    }

    /// Like [`shrink_plan`](Self::shrink_plan), counting the removals of an `earlier` plan
    /// (e.g. a [`prune_plan`](Self::prune_plan)) as done: the plan returned holds only the
    /// further removals needed.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use std::{sync::Arc, time::Duration};
    /// use bucketcache_core::{Bucket, ManualClock};
    /// let dir = tempfile::tempdir().unwrap();
    /// let past = Arc::new(ManualClock::new("2000-01-01T00:00:00".parse().unwrap()));
    /// let old = Bucket::builder(dir.path()).backend("json").clock(past)
    ///     .lifetime(Duration::from_secs(60)).open()?;
    /// old.set("expired long ago", &0)?;
    /// let b = Bucket::builder(dir.path()).backend("json").lifetime(Duration::from_secs(60)).open()?;
    /// for i in 0..4 {
    ///     b.set(&i, &i)?;
    /// }
    /// let inspector = b.inspector();
    /// let pruned = inspector.prune_plan()?; // the expired entry
    /// let shrink = inspector.shrink_plan_after(&pruned, None, Some(3))?;
    /// assert_eq!((pruned.removals.len(), shrink.removals.len()), (1, 1));
    /// # Ok(()) }
    /// ```
    pub fn shrink_plan_after(
        &self,
        earlier: &PrunePlan,
        max_bytes: Option<u64>,
        max_entries: Option<u64>,
    ) -> Result<PrunePlan> {
        let gone: HashSet<&str> = earlier.removals.iter().map(|r| r.name.as_str()).collect();
        let mut entries = self.budget_entries()?;
        entries.retain(|e| !gone.contains(e.name.as_str()));
        let usage = entries.iter().fold(Usage::default(), |u, e| {
            Usage::new(u.entries + 1, u.bytes + e.size)
        });
        let n = victims(&entries, usage, max_bytes, max_entries);
        let by_extension: std::collections::HashMap<String, String> =
            bucketcache_registry::backends()
                .into_iter()
                .map(|b| (b.extension, b.name))
                .collect();
        let removals = entries
            .into_iter()
            .take(n)
            .map(|e| {
                let backend = e.name.split_once('.').and_then(|(_, ext)| {
                    self.backends
                        .iter()
                        .find(|b| b.file_extension() == ext)
                        .map(|b| b.name().to_owned())
                        .or_else(|| by_extension.get(ext).cloned())
                });
                Removal {
                    name: e.name,
                    backend,
                    size: e.size,
                    expiration: None,
                    reason: Reason::OverBudget,
                    used: e.used,
                }
            })
            .collect();
        Ok(PrunePlan {
            removals,
            unreadable: Vec::new(),
        })
    }

    /// Carries out `plan`: an entry is removed only if the store, read again now, still holds an
    /// expired entry (another process may have written a fresh one since the plan was made);
    /// an over-budget entry only if it has not been used or rewritten since it was listed.
    pub fn execute(&self, plan: &PrunePlan) -> Pruned {
        let mut pruned = Pruned {
            skipped: plan.unreadable.len(),
            ..Pruned::default()
        };
        let now = self.clock.now();
        for r in &plan.removals {
            let removed = match r.reason {
                Reason::DeadWriterTemporary => self
                    .store
                    .remove_temporary(&r.name)
                    .map(|done| done.then_some(r.size)),
                Reason::OverBudget => {
                    let listed = Listed::new(r.name.clone(), r.size, Kind::File, r.used);
                    self.store.remove_if_unchanged(&listed)
                }
                _ => {
                    let Some(backend) = r
                        .backend
                        .as_deref()
                        .and_then(|n| self.backends.iter().find(|b| b.name() == n))
                    else {
                        continue;
                    };
                    let still_expired = |bytes: &[u8]| {
                        shielded(|| backend.decode(bytes))
                            .is_ok_and(|d| verdict(d.expiration, self.lifetime, now).is_expired())
                    };
                    self.store.remove_if(&r.name, &still_expired)
                }
            };
            match removed {
                Ok(Some(size)) => {
                    tracing::debug!(file = %r.name, reason = r.reason.words(), "pruned");
                    pruned.files += 1;
                    pruned.bytes += size;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(file = %r.name, error = %e, "cannot remove");
                    pruned.skipped += 1;
                }
            }
        }
        pruned
    }
}

#[cfg(test)]
mod tests;
