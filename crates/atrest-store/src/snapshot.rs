//! Consistent snapshots for backups, taken while writes go on.
//!
//! [`Store::snapshot`] holds the writer (so no batch, checkpoint, rotation or collection drop is half done)
//! only while it lists the store's files, notes each one's length and opens it. The backup then reads through
//! those open handles with writes running again: sealed segments are never written again, the active segment
//! only grows past the noted length, and a file the store replaces or removes later (an old index file after a
//! checkpoint, old segments after a rekey, the manifest and keyring on their atomic replace) stays readable
//! through its handle until the snapshot is dropped. The files noted are exactly what recovery after a crash
//! at that moment would find, with no torn tail, so the copy opens like a cleanly stopped store.

use crate::error::{Result, StoreError};
use crate::files::{FileKind, classify, is_store_file};
use crate::storage::StorageFile;
use crate::store::Store;
use std::sync::Arc;

/// One file of a snapshot: its name, the bytes that belong to the snapshot, and an open handle to read them.
pub struct SnapshotFile {
    /// The file's name in the store's directory.
    pub name: String,
    /// How many bytes of it belong to the snapshot.
    pub len: u64,
    /// An open handle (reads stay valid after the store replaces or removes the file).
    pub file: Arc<dyn StorageFile>,
}

impl std::fmt::Debug for SnapshotFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFile").field("name", &self.name).field("len", &self.len).finish_non_exhaustive()
    }
}

impl Store {
    /// Takes a consistent snapshot of the store's files; writes pause only while the files are listed and
    /// opened. See the module documentation for why the copy is consistent.
    pub fn snapshot(&self) -> Result<Vec<SnapshotFile>> {
        let inner = &*self.inner;
        let _m = inner.maint_shared();
        inner.check_poison()?;
        // The writer lock keeps commits and checkpoints out, the manifest lock keeps merges from installing:
        // the manifest and the runs it names do not change while the files are listed and opened.
        let _writer = inner.lock_writer();
        let _manifest = inner.manifest_lock.lock().unwrap_or_else(|p| p.into_inner());
        let named: std::collections::BTreeSet<u64> =
            inner.read_state().colls.values().flat_map(|c| c.lsm.all_runs().map(|r| r.meta.id)).collect();
        let storage = &*inner.storage;
        let names = storage.list().map_err(StoreError::io("listing", storage.describe("")))?;
        let mut out = Vec::new();
        // Runs being written by a merge, or retired and not yet removed, are not part of the store.
        let wanted = |n: &str| match classify(n) {
            FileKind::Run(id) => named.contains(&id),
            _ => is_store_file(n),
        };
        for name in names.into_iter().filter(|n| wanted(n)) {
            let io = |op| StoreError::io(op, storage.describe(&name));
            let file: Arc<dyn StorageFile> = Arc::from(storage.open(&name, false).map_err(io("opening"))?);
            let len = file.len().map_err(io("reading the length of"))?;
            out.push(SnapshotFile { name, len, file });
        }
        Ok(out)
    }
}
