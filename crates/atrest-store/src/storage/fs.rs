//! The real file system.

use super::{LockAttempt, OwnerLock, Storage, StorageFile};
use crate::files::LOCK_FILE;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Files in one directory of the real file system.
#[derive(Debug, Clone)]
pub struct FsStorage {
    dir: PathBuf,
}

impl FsStorage {
    /// Storage in `dir`, which must exist.
    pub fn new(dir: impl Into<PathBuf>) -> FsStorage {
        FsStorage { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A file: reads (and unaligned writes) through the page cache; aligned writes of a log opened with
/// [`Storage::open_log`] through an `O_DIRECT` handle, which skips a copy into the page cache and lets large
/// writes reach the device at its sequential rate.
struct FsFile {
    file: File,
    direct: Option<File>,
}

/// `O_DIRECT` for the architectures whose value is known here (it differs between them); 0 elsewhere.
#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86")))]
const O_DIRECT: i32 = 0o40000;
#[cfg(all(target_os = "linux", any(target_arch = "aarch64", target_arch = "arm")))]
const O_DIRECT: i32 = 0o200000;
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64", target_arch = "arm")
)))]
const O_DIRECT: i32 = 0;

/// Alignment `O_DIRECT` writes get here: buffer address, length and offset.
const DIRECT_ALIGN: usize = 4096;

impl Storage for FsStorage {
    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        // Sealed or not, the store's files are nobody else's business.
        let f = OpenOptions::new().read(true).write(true).create(create).mode(0o600).open(self.dir.join(name))?;
        Ok(Box::new(FsFile { file: f, direct: None }))
    }
    fn open_log(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = OpenOptions::new().read(true).write(true).create(create).mode(0o600).open(self.dir.join(name))?;
        // File systems without O_DIRECT (tmpfs) refuse it; then every write goes through the page cache.
        let direct = match O_DIRECT {
            0 => None,
            flag => OpenOptions::new().write(true).custom_flags(flag).open(self.dir.join(name)).ok(),
        };
        Ok(Box::new(FsFile { file: f, direct }))
    }
    fn exists(&self, name: &str) -> io::Result<bool> {
        self.dir.join(name).try_exists()
    }
    fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            if e.file_type()?.is_file()
                && let Some(n) = e.file_name().to_str()
            {
                out.push(n.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.dir.join(from), self.dir.join(to))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        match std::fs::remove_file(self.dir.join(name)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
    fn describe(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
    fn try_lock(&self, holder: &str) -> io::Result<LockAttempt> {
        use rustix::fs::{FlockOperation, flock};
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(LOCK_FILE);
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path)?;
        // flock belongs to this open file description: it goes away when the descriptor is closed or the
        // process dies (SIGKILL included), and a second open in the same process conflicts like another process.
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut who = String::new();
                let _ = file.read_to_string(&mut who);
                return Ok(LockAttempt::Held(who.trim().to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(holder.as_bytes())?;
        Ok(LockAttempt::Acquired(Box::new(FsLock { _file: file })))
    }
}

/// The held lock: the open, flocked lock file.
#[derive(Debug)]
struct FsLock {
    _file: File,
}

impl OwnerLock for FsLock {}

impl StorageFile for FsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        loop {
            match self.file.read_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if let Some(direct) = &self.direct
            && (buf.as_ptr() as usize).is_multiple_of(DIRECT_ALIGN)
            && buf.len().is_multiple_of(DIRECT_ALIGN)
            && offset.is_multiple_of(DIRECT_ALIGN as u64)
        {
            match direct.write_all_at(buf, offset) {
                // Some file systems accept the flag at open but not the write; fall back to the page cache.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {}
                r => return r,
            }
        }
        self.file.write_all_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        // fdatasync covers the O_DIRECT handle's writes too: it flushes the device cache and the file size
        // for the inode, whichever descriptor wrote.
        self.file.sync_data()
    }
}
