//! What a backup copies: a frozen set of files, each with the length to copy and a way to read it.
//!
//! The live store produces one with `Store::snapshot` (see `crate::store`), holding its writer for the moment
//! it takes to list the files, note their lengths and open them; the copy then reads through those open
//! handles while writes go on. Sealed segments are never written again, the active segment only grows past
//! the noted length, and files the store removes or replaces later stay readable through the handles.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Positional reads of one file.
pub trait ReadAt: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
    ///
    /// # Errors
    /// The OS error.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }
}

/// One file of a snapshot.
pub struct SnapshotFile {
    /// Its name in the data directory.
    pub name: String,
    /// How many bytes of it belong to the snapshot.
    pub len: u64,
    /// Where to read them.
    pub reader: Box<dyn ReadAt>,
}

impl std::fmt::Debug for SnapshotFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFile").field("name", &self.name).field("len", &self.len).finish_non_exhaustive()
    }
}

/// A consistent set of files to back up.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The files, in any order.
    pub files: Vec<SnapshotFile>,
}

impl Snapshot {
    /// Every regular file of `dir` as it is now. Consistent only if nothing writes to `dir` meanwhile (a
    /// closed store); a live store gives its own snapshot.
    ///
    /// # Errors
    /// [`crate::BackupError::Io`] naming the file.
    pub fn of_quiet_dir(dir: &Path) -> crate::Result<Snapshot> {
        let io_err = |op, path: &Path| {
            let path = path.to_owned();
            move |source| crate::BackupError::Io { op, path, source }
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err("listing", dir))? {
            let entry = entry.map_err(io_err("listing", dir))?;
            let path = entry.path();
            if !entry.file_type().map_err(io_err("inspecting", &path))?.is_file() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            let file = File::open(&path).map_err(io_err("opening", &path))?;
            let len = file.metadata().map_err(io_err("inspecting", &path))?.len();
            files.push(SnapshotFile { name, len, reader: Box::new(file) });
        }
        Ok(Snapshot { files })
    }
}
