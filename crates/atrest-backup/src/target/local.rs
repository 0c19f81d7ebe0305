//! A local directory as a backup target, written by this crate rather than through `object_store`, so that
//! what it creates is private, a killed backup's leftovers can be found, and one process at a time writes.
//!
//! - Every object is written to a temporary file beside it (`.tmp-<name>-<random>`, mode 0600), synced, renamed
//!   into place and the directory synced: an object is whole or absent, and durable when `put` returns.
//!   Directories are created 0700. Like `init`'s files, nothing here is readable by group or others.
//! - A backup killed in the middle of a `put` leaves its temporary file. [`LocalDir::remove_temporaries`]
//!   deletes those (and the `<name>#<digits>` files that `object_store`'s local store left in targets written
//!   by earlier builds); callers run it while holding the target's lock, when no other writer can be mid-put.
//! - [`LocalDir::lock`] takes an exclusive advisory lock on `TARGET/lock` (released by the OS when the process
//!   dies, so a killed backup never leaves the target locked).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{BackupError, Result};

/// Prefix of the temporary file an object is written to before it is renamed into place.
const TEMP_PREFIX: &str = ".tmp-";
/// The lock file at the target's root.
pub const LOCK_NAME: &str = "lock";

/// A directory holding a target's objects.
#[derive(Debug)]
pub(crate) struct LocalDir {
    root: PathBuf,
}

/// An exclusive lock on a local target, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock(#[allow(dead_code)] File);

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io { op, path, source }
}

/// Whether `file_name` is a temporary file: ours, or `object_store`'s `<name>#<digits>`.
fn is_temporary(file_name: &str) -> bool {
    file_name.starts_with(TEMP_PREFIX)
        || file_name.rsplit_once('#').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Creates `dir` and its missing parents with mode 0700 (existing ones keep their mode).
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

impl LocalDir {
    /// The directory `root`, created (0700) if missing.
    pub(crate) fn create(root: &Path) -> std::io::Result<LocalDir> {
        create_private_dir(root)?;
        Ok(LocalDir { root: std::path::absolute(root)? })
    }

    /// Where the target is.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> PathBuf {
        name.split('/').fold(self.root.clone(), |p, part| p.join(part))
    }

    /// Writes `bytes` as object `name` (replacing it) through a private temporary file.
    pub(crate) fn put(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.stage(name, bytes)?.publish()
    }

    /// Writes `bytes` as object `name` unless it exists; returns whether it was written.
    pub(crate) fn put_new(&self, name: &str, bytes: &[u8]) -> Result<bool> {
        self.stage(name, bytes)?.publish_new()
    }

    /// Writes and syncs the temporary file of object `name`; nothing is visible until it is published.
    pub(crate) fn stage(&self, name: &str, bytes: &[u8]) -> Result<Staged> {
        let dest = self.path(name);
        let dir = dest.parent().unwrap_or(&self.root).to_owned();
        create_private_dir(&dir).map_err(io("creating", &dir))?;
        let file_name = dest.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).map_err(|e| BackupError::Random(e.to_string()))?;
        let temp = dir.join(format!("{TEMP_PREFIX}{file_name}-{}", hex::encode(r)));
        let mut f =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp).map_err(io("creating", &temp))?;
        let written = f.write_all(bytes).and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io("writing", &temp)(e));
        }
        Ok(Staged { temp, dest, dir })
    }

    /// Reads object `name`, or `None` if it does not exist.
    pub(crate) fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &path)(e)),
        }
    }

    /// Deletes object `name`; a missing object is not an error.
    pub(crate) fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("deleting", &path)(e)),
        }
    }

    /// The objects in folder `dir` (flat), temporary files excepted: (name relative to the target, size).
    pub(crate) fn list(&self, dir: &str) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for (file_name, path) in self.entries(dir)? {
            if is_temporary(&file_name) {
                continue;
            }
            let meta = std::fs::metadata(&path).map_err(io("inspecting", &path))?;
            if meta.is_file() {
                out.push((format!("{dir}/{file_name}"), meta.len()));
            }
        }
        Ok(out)
    }

    fn entries(&self, dir: &str) -> Result<Vec<(String, PathBuf)>> {
        let path = self.path(dir);
        let listing = match std::fs::read_dir(&path) {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("listing", &path)(e)),
        };
        let mut out = Vec::new();
        for entry in listing {
            let entry = entry.map_err(io("listing", &path))?;
            if let Some(name) = entry.file_name().to_str() {
                out.push((name.to_owned(), entry.path()));
            }
        }
        Ok(out)
    }

    /// Deletes the temporary files in the folders `dirs`; returns how many. Only safe under [`LocalDir::lock`].
    pub(crate) fn remove_temporaries(&self, dirs: &[&str]) -> Result<usize> {
        let mut removed = 0;
        for dir in dirs {
            for (file_name, path) in self.entries(dir)? {
                if is_temporary(&file_name) {
                    match std::fs::remove_file(&path) {
                        Ok(()) => removed += 1,
                        Err(e) if e.kind() == ErrorKind::NotFound => {}
                        Err(e) => return Err(io("deleting", &path)(e)),
                    }
                }
            }
        }
        Ok(removed)
    }

    /// Takes the target's exclusive lock without waiting; `None` when another process (or another `Target`
    /// of this process) holds it.
    pub(crate) fn lock(&self) -> Result<Option<DirLock>> {
        let path = self.root.join(LOCK_NAME);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io("opening", &path))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(DirLock(f))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io("locking", &path)(e)),
        }
    }
}

/// A written, synced temporary file that is not yet an object. Dropping it without publishing leaves the file
/// behind exactly as a process killed at that moment would.
#[derive(Debug)]
pub(crate) struct Staged {
    temp: PathBuf,
    dest: PathBuf,
    dir: PathBuf,
}

impl Staged {
    /// Renames it into place, replacing any object of that name, and syncs the directory.
    fn publish(self) -> Result<()> {
        let renamed = std::fs::rename(&self.temp, &self.dest);
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&self.temp);
            return Err(io("renaming into place", &self.dest)(e));
        }
        self.sync_dir()
    }

    /// Links it into place unless an object of that name exists (then nothing changes); returns whether it was.
    fn publish_new(self) -> Result<bool> {
        let linked = std::fs::hard_link(&self.temp, &self.dest);
        let _ = std::fs::remove_file(&self.temp);
        match linked {
            Ok(()) => self.sync_dir().map(|()| true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("linking into place", &self.dest)(e)),
        }
    }

    fn sync_dir(&self) -> Result<()> {
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io("syncing", &self.dir))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn objects_and_directories_are_private() {
        let t = tempfile::tempdir().unwrap();
        let d = LocalDir::create(&t.path().join("target")).unwrap();
        d.put("objects/ab", b"x").unwrap();
        assert_eq!(mode(&t.path().join("target")), 0o700);
        assert_eq!(mode(&t.path().join("target/objects")), 0o700);
        assert_eq!(mode(&t.path().join("target/objects/ab")), 0o600);
        assert!(d.put_new("store-id", b"1").unwrap());
        assert!(!d.put_new("store-id", b"2").unwrap());
        assert_eq!(d.get("store-id").unwrap().unwrap(), b"1");
        assert_eq!(mode(&t.path().join("target/store-id")), 0o600);
        assert_eq!(d.list("objects").unwrap(), [("objects/ab".to_owned(), 1)]);
    }

    #[test]
    fn an_interrupted_put_leaves_a_temporary_that_is_unlisted_and_removed_under_the_lock() {
        let t = tempfile::tempdir().unwrap();
        let d = LocalDir::create(t.path()).unwrap();
        d.put("objects/kept", b"k").unwrap();
        // Interrupted between writing and renaming, as a killed process would be.
        let staged = d.stage("objects/cd", &[7; 4096]).unwrap();
        assert!(staged.temp.is_file());
        std::mem::forget(staged);
        // What `object_store`'s local store left behind in earlier builds.
        std::fs::write(t.path().join("objects").join(format!("{}#1", "ef".repeat(32))), [1; 10]).unwrap();
        std::fs::write(t.path().join("backups-not-scanned#1"), [1]).unwrap();
        assert_eq!(d.list("objects").unwrap(), [("objects/kept".to_owned(), 1)]);
        assert_eq!(std::fs::read_dir(t.path().join("objects")).unwrap().count(), 3);

        let lock = d.lock().unwrap().expect("free");
        assert!(d.lock().unwrap().is_none(), "a second holder is refused");
        assert_eq!(d.remove_temporaries(&["objects", "backups"]).unwrap(), 2);
        drop(lock);
        assert!(d.lock().unwrap().is_some(), "released on drop");
        let left: Vec<_> =
            std::fs::read_dir(t.path().join("objects")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["kept"]);
        assert!(t.path().join("backups-not-scanned#1").exists(), "only the object folders are cleaned");
    }

    #[test]
    fn temporary_names() {
        assert!(is_temporary(".tmp-abc-0011"));
        assert!(is_temporary("abc#1") && is_temporary("abc#12"));
        assert!(!is_temporary("abc#") && !is_temporary("abc#x1") && !is_temporary("abc"));
    }
}
