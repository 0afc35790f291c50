//! [`Capabilities`]: what a store supports beyond the required methods, as OpenDAL's
//! `Operator::info().full_capability()` describes a service.

/// What a [`Store`](super::Store) supports beyond its required methods. A field that is `false`
/// means the store leaves that method to the trait's default (which works, more slowly or
/// without the guarantee); `true` means the store implements it itself.
///
/// A store builds it from the default and sets what it has (the struct is `#[non_exhaustive]`:
/// new capabilities may be added, and are `false` for stores that do not know them):
///
/// ```
/// use bucketcache_traits::store::Capabilities;
/// let mut c = Capabilities::default();
/// c.stat = true;
/// c.conditional_remove = true;
/// c.max_value_bytes = Some(512 << 20);
/// assert!(c.stat && !c.usage);
/// assert_eq!(c.to_string(), "stat, conditional remove, max value 536870912 bytes");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`touch`](super::Store::touch) records uses that [`list`](super::Store::list) reports
    /// (`supports_recency`): a disk budget evicts the least recently *used* entries.
    pub recency: bool,
    /// [`stat`](super::Store::stat) looks up one name without listing the store.
    pub stat: bool,
    /// [`remove_if_unchanged`](super::Store::remove_if_unchanged) checks and removes in one
    /// step of the store (no window between the look and the removal).
    pub conditional_remove: bool,
    /// [`usage`](super::Store::usage): the store keeps its own count of entries and bytes,
    /// current with every write.
    pub usage: bool,
    /// [`eviction_candidates`](super::Store::eviction_candidates): the store keeps a recency
    /// index, so eviction needs no listing.
    pub eviction_candidates: bool,
    /// [`update_budget_record`](super::Store::update_budget_record): a disk budget's record
    /// shared by every process using the location.
    pub budget_record: bool,
    /// [`write_expiring`](super::Store::write_expiring) makes the store drop an entry by itself
    /// at its expiration (Redis `PXAT`).
    pub expiry: bool,
    /// [`try_lock`](super::Store::try_lock) gives cross-process locks (single flight across
    /// processes).
    pub locks: bool,
    /// [`async_ops`](super::Store::async_ops): native async reads and writes.
    pub async_ops: bool,
    /// A directory of plain files named as Python BucketCache names them
    /// ([`is_plain_directory`](super::Store::is_plain_directory)).
    pub plain_directory: bool,
    /// The largest value the store accepts, when it has a limit of its own
    /// ([`max_value_bytes`](super::Store::max_value_bytes)).
    pub max_value_bytes: Option<u64>,
}

impl std::fmt::Display for Capabilities {
    /// The capabilities a store has, comma separated (`none` for none).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flags = [
            (self.recency, "recency"),
            (self.stat, "stat"),
            (self.conditional_remove, "conditional remove"),
            (self.usage, "usage"),
            (self.eviction_candidates, "eviction candidates"),
            (self.budget_record, "budget record"),
            (self.expiry, "expiry"),
            (self.locks, "locks"),
            (self.async_ops, "async"),
            (self.plain_directory, "plain directory"),
        ];
        let mut parts: Vec<String> = flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| (*name).to_owned())
            .collect();
        if let Some(max) = self.max_value_bytes {
            parts.push(format!("max value {max} bytes"));
        }
        if parts.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&parts.join(", "))
    }
}
