//! A file is deleted as expired only on the evidence of that file.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bucketcache::inspect::State;
use bucketcache::store::FsStore;
use bucketcache::{Expiration, ManualClock};

use super::{hour_bucket, name_of, states, Unreadable, BACKENDS};
use crate::common::{builder, clock, files_in};

#[test]
fn a_stale_memory_never_deletes_another_processs_fresh_entry() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let start: Expiration = "2030-01-01T12:00:00".parse().unwrap();
        let (clock_a, clock_b) = (Arc::new(ManualClock::new(start)), clock());
        let two_seconds = |clock: &Arc<ManualClock>| {
            builder(dir.path(), backend, clock)
                .lifetime(Duration::from_secs(2))
                .open()
                .unwrap()
        };
        let (a, b) = (two_seconds(&clock_a), two_seconds(&clock_b));
        let keys = ["read by get", "read by contains", "pruned"];
        for k in keys {
            a.set(k, &"from A").unwrap(); // expires at start + 2 s, in A's memory
        }
        clock_b.set(start + Duration::from_millis(1500));
        for k in keys {
            b.set(k, &"from B").unwrap(); // expires at start + 3.5 s, on disk
        }
        clock_a.set(start + Duration::from_millis(2500));
        let files = keys.map(|k| a.path_for_key(k).unwrap());

        // A's copies have expired: a miss, and B's files stay.
        assert_eq!(a.get::<String>(keys[0]).unwrap(), None, "{backend}");
        assert!(
            files[0].exists(),
            "{backend}: A's get deleted B's fresh file"
        );
        assert!(!a.contains(keys[1]).unwrap(), "{backend}");
        assert!(
            files[1].exists(),
            "{backend}: A's contains deleted B's fresh file"
        );
        assert_eq!(a.prune().unwrap().files, 0, "{backend}");
        assert!(
            files.iter().all(|f| f.exists()),
            "{backend}: A's prune deleted B's fresh files"
        );
        // The third stale copy is still in A's memory: one more miss, which deletes nothing.
        assert_eq!(a.get::<String>(keys[2]).unwrap(), None, "{backend}");
        assert!(files[2].exists(), "{backend}");
        // Having dropped its stale copies, A reads what is on disk: B's entries.
        for k in keys {
            assert_eq!(a.get::<String>(k).unwrap().as_deref(), Some("from B"));
        }
        clock_b.set(start + Duration::from_millis(2500));
        assert_eq!(
            two_seconds(&clock_b)
                .get::<String>(keys[2])
                .unwrap()
                .as_deref(),
            Some("from B"),
            "{backend}"
        );
        // Once the file itself has expired, A deletes it.
        clock_a.set(start + Duration::from_secs(4));
        assert_eq!(a.prune().unwrap().files, 3, "{backend}");
        assert!(files.iter().all(|f| !f.exists()), "{backend}");
    }
}

#[test]
fn prune_counts_an_entry_it_cannot_read_as_skipped_and_goes_on() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let writer = hour_bucket(dir.path(), backend, &clock);
        for k in ["a", "b", "c"] {
            writer.set(k, &k).unwrap();
        }
        let locked = name_of(&writer.path_for_key("b").unwrap());
        let store = Arc::new(Unreadable {
            inner: FsStore::new(dir.path(), false),
            unreadable: HashSet::from([locked.clone()]),
        });
        let b = builder(dir.path(), backend, &clock)
            .lifetime(Duration::from_secs(3600))
            .store_instance(store)
            .open()
            .unwrap();
        clock.advance(Duration::from_secs(2 * 3600));
        let listed = states(&b);
        assert!(
            matches!(&listed[&locked], State::Unreadable(why) if why.contains("Permission denied")),
            "{backend}: {listed:?}"
        );
        let pruned = b.prune().unwrap();
        assert_eq!((pruned.files, pruned.skipped), (2, 1), "{backend}");
        assert_eq!(files_in(dir.path()), [locked], "{backend}");
    }
}
