//! The store's only door to the disk. Everything the store writes goes through [`Storage`], so tests can
//! swap in [`FaultStorage`], which loses unsynced writes on a simulated crash and fails the N-th write or sync
//! on request (the model is redb's `CrashBackend`).

mod fault;
mod fs;

use std::io;

pub use fault::{FaultPlan, FaultStorage};
pub use fs::FsStorage;

/// A flat directory of files addressed by name.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Opens `name` for reading and writing, creating it empty if `create` and it does not exist.
    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>>;
    /// Opens a log file for appending whole aligned pages (the real file system uses `O_DIRECT` for its
    /// writes where it can); reads through the handle behave as for [`Storage::open`].
    fn open_log(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        self.open(name, create)
    }
    /// Whether `name` exists.
    fn exists(&self, name: &str) -> io::Result<bool>;
    /// The names of all files.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Atomically replaces `to` by `from`. Durable only after [`Storage::sync_dir`].
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Removes `name`; durable only after [`Storage::sync_dir`].
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Makes creations, renames and removals durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// Where this storage lives, for error messages.
    fn describe(&self, name: &str) -> String;
    /// Takes the directory's owner lock without waiting, recording `holder` (who we are, for the error a
    /// second opener gets). The lock lasts until the returned guard is dropped or the process ends,
    /// however it ends.
    fn try_lock(&self, holder: &str) -> io::Result<LockAttempt>;
}

/// The outcome of [`Storage::try_lock`].
#[derive(Debug)]
pub enum LockAttempt {
    /// The lock is ours until the guard is dropped.
    Acquired(Box<dyn OwnerLock>),
    /// Another owner holds it; what it recorded about itself (empty if it had not written that yet).
    Held(String),
}

/// A held owner lock; dropping it releases the lock.
pub trait OwnerLock: Send + Sync + std::fmt::Debug {}

/// One open file.
pub trait StorageFile: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// The file's length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes written data (and the length) durable: `fdatasync`.
    fn sync_data(&self) -> io::Result<()>;
}

/// Reads exactly `buf.len()` bytes at `offset`, or reports how many were there.
pub(crate) fn read_exact_at(file: &dyn StorageFile, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}
