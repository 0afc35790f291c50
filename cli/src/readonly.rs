//! A store a read command cannot change: what `get` hands its bucket, so that a read deletes no
//! expired entry, touches no file's time and writes nothing.

use std::io;
use std::path::Path;
use std::sync::Arc;

use bucketcache::store::{Fetched, Listed, ReadLimits, Store};

/// Forwards reads to `inner`; every change is declined (a removal of an expired entry or a use
/// recorded for eviction is simply not made, a write is an error).
#[derive(Debug)]
pub struct ReadOnly(pub Arc<dyn Store>);

fn refused(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("a read command does not {what}"),
    )
}

impl Store for ReadOnly {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn location(&self) -> &Path {
        self.0.location()
    }
    fn entry_path(&self, name: &str) -> std::path::PathBuf {
        self.0.entry_path(name)
    }
    fn is_plain_directory(&self) -> bool {
        self.0.is_plain_directory()
    }
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        self.0.read(name, limits)
    }
    fn max_value_bytes(&self) -> Option<u64> {
        self.0.max_value_bytes()
    }
    fn write(&self, _name: &str, _bytes: &[u8]) -> io::Result<()> {
        Err(refused("write"))
    }
    fn remove(&self, _name: &str) -> io::Result<bool> {
        Ok(false)
    }
    fn remove_if(
        &self,
        _name: &str,
        _condition: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<Option<u64>> {
        Ok(None)
    }
    fn list(&self) -> io::Result<Vec<Listed>> {
        self.0.list()
    }
    fn touch(&self, _name: &str) -> io::Result<()> {
        Ok(())
    }
    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        self.0.stat(name)
    }
    fn remove_if_unchanged(&self, _listed: &Listed) -> io::Result<Option<u64>> {
        Ok(None)
    }
    fn update_budget_record(
        &self,
        _wait: std::time::Duration,
        _update: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> io::Result<bool> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bucketcache::store::FsStore;

    #[test]
    fn a_read_only_store_reads_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsStore::new(dir.path(), false);
        fs.write("a.json", b"{}").unwrap();
        let ro = ReadOnly(Arc::new(FsStore::new(dir.path(), false)));
        let limits = ReadLimits {
            max_bytes: 1 << 20,
            may_begin: &|_| true,
        };
        assert!(matches!(ro.read("a.json", &limits).unwrap(), Fetched::Bytes(b) if b == b"{}"));
        assert!(ro.write("b.json", b"{}").is_err());
        assert!(!ro.remove("a.json").unwrap());
        assert_eq!(ro.remove_if("a.json", &|_| true).unwrap(), None);
        assert_eq!(fs.list().unwrap().len(), 1, "nothing written or removed");
    }
}
