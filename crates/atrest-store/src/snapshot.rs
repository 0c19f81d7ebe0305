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
use crate::manifest::{FORMAT_FILE, MANIFEST_FILE};
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

/// Whether `name` is one of the store's own files: the format file, the manifest, the keyring (when the keys
/// are a keyring in the data directory), segments and index files. Temporary files are not.
fn is_store_file(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(".atr"))
            .is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    name == FORMAT_FILE || name == MANIFEST_FILE || name == "keyring" || numbered("seg-") || numbered("idx-")
}

impl Store {
    /// Takes a consistent snapshot of the store's files; writes pause only while the files are listed and
    /// opened. See the module documentation for why the copy is consistent.
    pub fn snapshot(&self) -> Result<Vec<SnapshotFile>> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let storage = &*self.storage;
        let names = storage.list().map_err(StoreError::io("listing", storage.describe("")))?;
        let mut out = Vec::new();
        for name in names.into_iter().filter(|n| is_store_file(n)) {
            let io = |op| StoreError::io(op, storage.describe(&name));
            let file: Arc<dyn StorageFile> = Arc::from(storage.open(&name, false).map_err(io("opening"))?);
            let len = file.len().map_err(io("reading the length of"))?;
            out.push(SnapshotFile { name, len, file });
        }
        Ok(out)
    }
}
