//! The record of a location's totals kept with the location, and the changes a bucket has not
//! yet added to it.

use std::time::Duration;

use super::Usage;

/// The record of a location's totals and when they were last counted from a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) usage: Usage,
    /// Seconds since the epoch of the last count from a listing.
    pub(super) counted_at: u64,
}

const MAGIC: &[u8; 8] = b"BCBUDGT1";

/// The length of an encoded record: the magic and three words.
const LEN: usize = 32;

/// How far ahead of this process's clock a record's `counted_at` may be (clocks of hosts
/// sharing a network directory differ a little) before the record is known to be wrong.
pub(crate) const FUTURE_TOLERANCE: Duration = Duration::from_secs(60);

impl Record {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.usage.bytes.to_le_bytes());
        out.extend_from_slice(&self.usage.entries.to_le_bytes());
        out.extend_from_slice(&self.counted_at.to_le_bytes());
        out
    }

    /// The record in `bytes`, if they are one in the only format there is.
    pub(super) fn decode(bytes: &[u8]) -> Option<Record> {
        if bytes.len() != LEN {
            return None;
        }
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let word = |i: usize| u64::from_le_bytes(rest[i * 8..i * 8 + 8].try_into().unwrap());
        Some(Record {
            usage: Usage::new(word(1), word(0)),
            counted_at: word(2),
        })
    }

    /// Whether this record can be right at `now` (seconds since the epoch): counted no later
    /// than now (give or take `FUTURE_TOLERANCE`), and bytes only with entries.
    pub(super) fn is_possible(&self, now: u64) -> bool {
        self.counted_at <= now.saturating_add(FUTURE_TOLERANCE.as_secs())
            && !(self.usage.entries == 0 && self.usage.bytes > 0)
    }

    /// Whether this record was counted less than `every` before `now`.
    pub(super) fn is_fresh(&self, now: u64, every: Duration) -> bool {
        now.saturating_sub(self.counted_at) < every.as_secs()
    }
}

/// What a write or a removal changed.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// A write of `new` bytes over an entry of `old` bytes (`None`: a new entry).
    Wrote {
        /// The size of the entry replaced (`None`: a new entry).
        old: Option<u64>,
        /// The size written.
        new: u64,
    },
    /// An entry of this many bytes was removed.
    Removed(u64),
}

/// Changes made by this bucket and not yet added to the record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Pending {
    pub(super) added: Usage,
    pub(super) removed: Usage,
}

impl Pending {
    pub(super) fn add(&mut self, change: Change) {
        match change {
            Change::Wrote { old, new } => {
                self.added.entries += 1;
                self.added.bytes = self.added.bytes.saturating_add(new);
                if let Some(old) = old {
                    self.removed.entries += 1;
                    self.removed.bytes = self.removed.bytes.saturating_add(old);
                }
            }
            Change::Removed(size) => {
                self.removed.entries += 1;
                self.removed.bytes = self.removed.bytes.saturating_add(size);
            }
        }
    }

    /// Both sets of changes.
    pub(super) fn merge(&mut self, other: Pending) {
        self.added.entries += other.added.entries;
        self.added.bytes = self.added.bytes.saturating_add(other.added.bytes);
        self.removed.entries += other.removed.entries;
        self.removed.bytes = self.removed.bytes.saturating_add(other.removed.bytes);
    }

    /// `usage` with these changes.
    pub(super) fn applied_to(&self, usage: Usage) -> Usage {
        Usage::new(
            (usage.entries.saturating_add(self.added.entries)).saturating_sub(self.removed.entries),
            (usage.bytes.saturating_add(self.added.bytes)).saturating_sub(self.removed.bytes),
        )
    }

    /// How much these changes grow the location.
    pub(super) fn growth(&self) -> Usage {
        Usage::new(
            self.added.entries.saturating_sub(self.removed.entries),
            self.added.bytes.saturating_sub(self.removed.bytes),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_no_record() {
        let r = Record {
            usage: Usage::new(3, 4096),
            counted_at: 1_700_000_000,
        };
        assert_eq!(Record::decode(&r.encode()), Some(r));
        assert_eq!(Record::decode(b"BCBUDGT1short"), None);
        assert_eq!(Record::decode(b"something else entirely, 32 bytes"), None);
        let mut longer = r.encode();
        longer.push(0);
        assert_eq!(Record::decode(&longer), None, "a size a record cannot have");
    }

    #[test]
    fn a_record_counted_in_the_future_or_with_bytes_but_no_entries_cannot_be_right() {
        let now = 1_700_000_000;
        let at = |counted_at, entries, bytes| Record {
            usage: Usage::new(entries, bytes),
            counted_at,
        };
        assert!(at(now, 3, 100).is_possible(now));
        assert!(
            at(now + 30, 3, 100).is_possible(now),
            "within the tolerance"
        );
        assert!(!at(now + 3600, 3, 100).is_possible(now));
        assert!(!at(u64::MAX, 3, 100).is_possible(now));
        assert!(!at(now, 0, 100).is_possible(now));
        assert!(at(now, 2, 0).is_possible(now), "empty entries exist");
    }
}
